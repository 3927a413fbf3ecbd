/**
 * A Gateway with AudioBridge and EchoTest in a pool of media worker threads, for the pool tests: the
 * plugin's jcfg has rooms 7 and 8 (dealt round-robin, one per worker with two workers) plus `extraJcfg`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultJanusConfig } from '../../src/config/schema.js';
import { Jcfg } from '../../src/config/jcfg.js';
import { Gateway } from '../../src/core/gateway.js';
import type { JanusMessage } from '../../src/core/messages.js';
import { LocalCandidates } from '../../src/media/candidates.js';
import { WebRtcMediaPlane } from '../../src/media/plane.js';
import { RoutingMediaPlane } from '../../src/media/routing-plane.js';
import { AudioBridgePlugin, AUDIOBRIDGE_PACKAGE } from '../../src/plugins/audiobridge/plugin.js';
import { EchoTestPlugin } from '../../src/plugins/echotest/plugin.js';
import { WORKER_CAPABLE } from '../../src/plugins/index.js';
import { PooledPlugin } from '../../src/workers/pooled-plugin.js';
import { WorkerPool } from '../../src/workers/pool.js';
import { quietLog, RecordingClient } from '../media/peer/helpers.js';
import { waitFor, type AbWorld } from '../plugins/audiobridge/net.js';

export type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> }; sender?: number };
export const ECHO = 'janus.plugin.echotest';

export async function makeWorld(size: number, extraJcfg = '', tune?: (c: ReturnType<typeof defaultJanusConfig>) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'pool-'));
  // Two jcfg rooms: dealt round-robin, one per worker.
  writeFileSync(join(dir, `${AUDIOBRIDGE_PACKAGE}.jcfg`), `general: {\n}\nroom-7: {\n\tsampling_rate = 48000\n}\nroom-8: {\n\tsampling_rate = 48000\n}\n${extraJcfg}`);
  const config = defaultJanusConfig(dir);
  config.media.rtp_port_range = null;
  config.nat.ice_enforce_list = ['127.0.0.1'];
  tune?.(config);
  const stun = config.nat.stun_server ? { stunServer: config.nat.stun_server, stunPort: config.nat.stun_port } : {};
  const candidates = await LocalCandidates.create({ enforceList: config.nat.ice_enforce_list, ...stun, ...(config.media.ipv6 ? { ipv6: true } : {}) });
  const plane = await WebRtcMediaPlane.create({ config, candidates, log: quietLog });
  const settings = () => ({ noMediaTimer: 1, slowlinkThreshold: 0, minNackQueue: 500, nackOptimizations: false });
  const pool = new WorkerPool({ size, plane, config, settings, log: quietLog, logLevel: () => 0 });
  const ab = new PooledPlugin({ describe: new AudioBridgePlugin({ log: quietLog }), module: WORKER_CAPABLE[AUDIOBRIDGE_PACKAGE]!.module, exportName: 'AudioBridgePlugin', pool });
  const echo = new PooledPlugin({ describe: new EchoTestPlugin(), module: WORKER_CAPABLE[ECHO]!.module, exportName: 'EchoTestPlugin', pool });
  const routed = new RoutingMediaPlane(plane);
  routed.route(AUDIOBRIDGE_PACKAGE, ab.media);
  routed.route(ECHO, echo.media);
  const gw = new Gateway({ config, plugins: [ab, echo], mediaPlane: routed, pluginConfig: (pkg) => Jcfg.load(join(dir, `${pkg}.jcfg`)), watchdogIntervalMs: 60_000, log: quietLog });
  await gw.start();
  const client = new RecordingClient();
  let n = 0;
  const req = (body: JanusMessage): Promise<JanusMessage> => gw.handle({ transaction: `p${++n}`, ...body }, client);
  const attach = async (plugin = AUDIOBRIDGE_PACKAGE) => {
    const session = ((await req({ janus: 'create' })).data as { id: number }).id;
    const handle = ((await req({ janus: 'attach', session_id: session, plugin })).data as { id: number }).id;
    return { session, handle };
  };
  const message = async (session: number, handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<Ev> => {
    const transaction = `m${++n}`;
    const ack = await gw.handle({ janus: 'message', session_id: session, handle_id: handle, transaction, body, ...(jsep ? { jsep } : {}) }, client);
    if (ack.janus !== 'ack') return ack as Ev;
    return waitFor(`the event for ${JSON.stringify(body)}`, () => (client.events as Ev[]).find((e) => e.transaction === transaction), 15_000);
  };
  const w = { gw, plane, client, req, attach, message, stop: () => gw.stop() } as unknown as AbWorld;
  const workerOf = async (session: number, handle: number): Promise<number> => {
    const info = (await gw.admin.handle({ janus: 'handle_info', transaction: 'hi', session_id: session, handle_id: handle })) as JanusMessage & { info?: { plugin_specific?: { portunus?: { worker?: number } } } };
    return info.info?.plugin_specific?.portunus?.worker as number;
  };
  return { dir, pool, ab, echo, gw, routed, client, w, attach, message, workerOf };
}

