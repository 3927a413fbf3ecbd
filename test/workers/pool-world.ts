/**
 * Gateways with plugins in a pool of media worker threads, for the worker tests: makePoolGateway() for
 * any plugins, and makeWorld(): AudioBridge and EchoTest, the AudioBridge jcfg with rooms 7 and 8 (dealt
 * round-robin, one per worker with two workers) plus `extraJcfg`.
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
import { AUDIOBRIDGE_PACKAGE } from '../../src/plugins/audiobridge/plugin.js';
import { PLUGIN_CATALOG } from '../../src/plugins/catalog.js';
import { PooledPlugin } from '../../src/workers/pooled-plugin.js';
import { WorkerPool } from '../../src/workers/pool.js';
import { quietLog, RecordingClient } from '../media/peer/helpers.js';
import { waitFor, type AbWorld } from '../plugins/audiobridge/net.js';

export type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> }; sender?: number };
export const ECHO = 'janus.plugin.echotest';

export interface PoolGatewayOptions {
  /** Worker threads in the pool. */
  size: number;
  /** Packages of the plugins run in the pool (each gets its PooledPlugin), from the catalog. */
  plugins: string[];
  /** The configs folder (the plugins' jcfg files already written there). */
  dir: string;
  tune?: (c: ReturnType<typeof defaultJanusConfig>) => void;
  /** How long message() waits for a request's event. */
  eventTimeoutMs?: number;
  /** Before the gateway starts (main.ts's order: it starts the pool before the plugins' init). */
  beforeStart?: (pool: WorkerPool, pooled: Map<string, PooledPlugin>) => void;
  /** WorkerPoolOptions.replyDeadlineMs. */
  replyDeadlineMs?: number;
}

/**
 * The worker tests' common world: Gateway -> RoutingMediaPlane -> WorkerPool, each plugin in the pool
 * (on 127.0.0.1, ephemeral ports), a recording Janus API client, and the helpers every test uses.
 */
export async function makePoolGateway(o: PoolGatewayOptions) {
  const { dir } = o;
  const config = defaultJanusConfig(dir);
  config.media.rtp_port_range = null;
  config.nat.ice_enforce_list = ['127.0.0.1'];
  o.tune?.(config);
  const stun = config.nat.stun_server ? { stunServer: config.nat.stun_server, stunPort: config.nat.stun_port } : {};
  const candidates = await LocalCandidates.create({ enforceList: config.nat.ice_enforce_list, ...stun, ...(config.media.ipv6 ? { ipv6: true } : {}) });
  const plane = await WebRtcMediaPlane.create({ config, candidates, log: quietLog });
  const settings = () => ({ noMediaTimer: 1, slowlinkThreshold: 0, minNackQueue: 500, nackOptimizations: false });
  const pool = new WorkerPool({ size: o.size, plane, config, settings, log: quietLog, logLevel: () => 0, ...(o.replyDeadlineMs !== undefined ? { replyDeadlineMs: o.replyDeadlineMs } : {}) });
  const routed = new RoutingMediaPlane(plane);
  const pooled = new Map<string, PooledPlugin>();
  for (const pkg of o.plugins) {
    const e = PLUGIN_CATALOG.find((x) => x.info.package === pkg);
    if (!e) throw new Error(`no plugin ${pkg}`);
    const pp = new PooledPlugin({ describe: e.info, module: e.module, exportName: e.exportName, pool });
    routed.route(pkg, pp.media);
    pooled.set(pkg, pp);
  }
  o.beforeStart?.(pool, pooled);
  const gw = new Gateway({ config, plugins: [...pooled.values()], mediaPlane: routed, pluginConfig: (pkg) => Jcfg.load(join(dir, `${pkg}.jcfg`)), watchdogIntervalMs: 60_000, log: quietLog });
  await gw.start();
  const client = new RecordingClient();
  let n = 0;
  const req = (body: JanusMessage): Promise<JanusMessage> => gw.handle({ transaction: `p${++n}`, ...body }, client);
  const attach = async (plugin = o.plugins[0]!) => {
    const session = ((await req({ janus: 'create' })).data as { id: number }).id;
    const handle = ((await req({ janus: 'attach', session_id: session, plugin })).data as { id: number }).id;
    return { session, handle };
  };
  const message = async (session: number, handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<Ev> => {
    const transaction = `m${++n}`;
    const ack = await gw.handle({ janus: 'message', session_id: session, handle_id: handle, transaction, body, ...(jsep ? { jsep } : {}) }, client);
    if (ack.janus !== 'ack') return ack as Ev;
    return waitFor(`the event for ${JSON.stringify(body)}`, () => (client.events as Ev[]).find((e) => e.transaction === transaction), o.eventTimeoutMs ?? 15_000);
  };
  const handleInfo = async (session: number, handle: number) =>
    ((await gw.admin.handle({ janus: 'handle_info', transaction: 'hi', session_id: session, handle_id: handle })) as JanusMessage & { info?: { plugin_specific?: Record<string, unknown> & { portunus?: { worker?: number } } } }).info;
  const workerOf = async (session: number, handle: number): Promise<number> => (await handleInfo(session, handle))?.plugin_specific?.portunus?.worker as number;
  return { dir, plane, pool, pooled, routed, gw, client, req, attach, message, handleInfo, workerOf };
}

export async function makeWorld(size: number, extraJcfg = '', tune?: (c: ReturnType<typeof defaultJanusConfig>) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'pool-'));
  // Two jcfg rooms: dealt round-robin, one per worker.
  writeFileSync(join(dir, `${AUDIOBRIDGE_PACKAGE}.jcfg`), `general: {\n}\nroom-7: {\n\tsampling_rate = 48000\n}\nroom-8: {\n\tsampling_rate = 48000\n}\n${extraJcfg}`);
  const g = await makePoolGateway({ size, plugins: [AUDIOBRIDGE_PACKAGE, ECHO], dir, ...(tune ? { tune } : {}) });
  const w = { gw: g.gw, plane: g.plane, client: g.client, req: g.req, attach: g.attach, message: g.message, stop: () => g.gw.stop() } as unknown as AbWorld;
  return { ...g, ab: g.pooled.get(AUDIOBRIDGE_PACKAGE)!, echo: g.pooled.get(ECHO)!, w };
}
