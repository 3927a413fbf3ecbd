/**
 * A VideoRoom inside the media worker pool, in-process, for the worker tests: Gateway ->
 * RoutingMediaPlane -> WorkerPool (2 worker threads) with room {ROOM} from a jcfg, a recording Janus
 * API client, and the helpers those tests share.
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
import { buildAnswer, type AnswerOptions } from '../../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../../src/media/sdp/jsep.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { WORKER_CAPABLE } from '../../src/plugins/index.js';
import { VideoRoomPlugin } from '../../src/plugins/videoroom/plugin.js';
import { PooledPlugin } from '../../src/workers/pooled-plugin.js';
import { WorkerPool } from '../../src/workers/pool.js';
import { quietLog, RecordingClient, waitFor, type ClientPeer } from '../media/peer/helpers.js';

export type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> } };
export const VR = 'janus.plugin.videoroom';
export const ROOM = 1234;

/** `prefix` names the temporary configs folder. */
export async function makeVideoRoomWorld(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, `${VR}.jcfg`), `general: {\n}\nroom-${ROOM}: {\n\tdescription = "webinar"\n\tpublishers = 2\n\tfir_freq = 0\n\tvideocodec = "vp8"\n}\n`);
  const config = defaultJanusConfig(dir);
  config.media.rtp_port_range = null;
  config.nat.ice_enforce_list = ['127.0.0.1'];
  const candidates = await LocalCandidates.create({ enforceList: config.nat.ice_enforce_list });
  const plane = await WebRtcMediaPlane.create({ config, candidates, log: quietLog });
  const settings = () => ({ noMediaTimer: 1, slowlinkThreshold: 0, minNackQueue: 500, nackOptimizations: false });
  const pool = new WorkerPool({ size: 2, plane, config, settings, log: quietLog, logLevel: () => 0 });
  const vr = new PooledPlugin({ describe: new VideoRoomPlugin(), module: WORKER_CAPABLE[VR]!.module, exportName: 'VideoRoomPlugin', pool });
  const routed = new RoutingMediaPlane(plane);
  routed.route(VR, vr.media);
  const gw = new Gateway({ config, plugins: [vr], mediaPlane: routed, pluginConfig: (pkg) => Jcfg.load(join(dir, `${pkg}.jcfg`)), watchdogIntervalMs: 60_000, log: quietLog });
  await gw.start();
  const client = new RecordingClient();
  let n = 0;
  const req = (body: JanusMessage): Promise<JanusMessage> => gw.handle({ transaction: `p${++n}`, ...body }, client);
  const attach = async () => {
    const session = ((await req({ janus: 'create' })).data as { id: number }).id;
    const handle = ((await req({ janus: 'attach', session_id: session, plugin: VR })).data as { id: number }).id;
    return { session, handle };
  };
  const message = async (session: number, handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<Ev> => {
    const transaction = `m${++n}`;
    const ack = await gw.handle({ janus: 'message', session_id: session, handle_id: handle, transaction, body, ...(jsep ? { jsep } : {}) }, client);
    if (ack.janus !== 'ack') return ack as Ev;
    return waitFor(`the event for ${JSON.stringify(body)}`, () => (client.events as Ev[]).find((e) => e.transaction === transaction), 8000);
  };
  const workerOf = async (session: number, handle: number): Promise<number> => {
    const info = (await gw.admin.handle({ janus: 'handle_info', transaction: 'hi', session_id: session, handle_id: handle })) as JanusMessage & { info?: { plugin_specific?: { portunus?: { worker?: number } } } };
    return info.info?.plugin_specific?.portunus?.worker as number;
  };
  return { dir, pool, vr, gw, client, attach, message, workerOf };
}

/** The client answers a subscriber offer: recvonly opus/VP8. */
export function answerOffer(c: ClientPeer, offerSdp: string): string {
  const offer = parseSdp(offerSdp);
  c.peer.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
  const { description } = buildAnswer(offer, (m): AnswerOptions => {
    if (m.kind === 'audio') return { codecs: ['opus'], direction: 'recvonly', simulcast: false, rtx: false };
    if (m.kind === 'video') return { codecs: ['vp8'], direction: 'recvonly', simulcast: false, rtx: false };
    return {};
  });
  return c.peer.setLocalDescription(writeSdp(description), 'answer');
}
