/**
 * A plugin in a media worker, in-process: Gateway -> RoutingMediaPlane -> WorkerPlugin -> worker thread
 * (AudioBridge and its PeerConnections), with our own WebRTC clients over real SRTP/UDP on 127.0.0.1.
 *
 * What must hold: the Janus API behaves as with the plugin on the main thread (join, configure with
 * JSEP, events); media crosses the worker (A hears B's tone); the Admin API's handle_info carries the
 * worker's plugin and media parts; /metrics counts the worker's rooms and PeerConnections; a worker
 * that dies hangs its PeerConnections up, is replaced, and the same handles can join again; shutdown
 * ends the thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { defaultJanusConfig } from '../../src/config/schema.js';
import { Jcfg } from '../../src/config/jcfg.js';
import { Gateway } from '../../src/core/gateway.js';
import type { JanusMessage } from '../../src/core/messages.js';
import { LocalCandidates } from '../../src/media/candidates.js';
import { WebRtcMediaPlane } from '../../src/media/plane.js';
import { RoutingMediaPlane } from '../../src/media/routing-plane.js';
import { AudioBridgePlugin, AUDIOBRIDGE_PACKAGE } from '../../src/plugins/audiobridge/plugin.js';
import { WORKER_CAPABLE } from '../../src/plugins/index.js';
import { WorkerPlugin } from '../../src/workers/worker-plugin.js';
import { quietLog, RecordingClient, type ClientPeer } from '../media/peer/helpers.js';
import { hearsSoon, joinParticipant, sleep, ToneSender, waitFor, type AbWorld } from '../plugins/audiobridge/net.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> } };

async function makeWorld(): Promise<{ w: AbWorld; wp: WorkerPlugin; routed: RoutingMediaPlane; gw: Gateway; client: RecordingClient; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'wp-'));
  writeFileSync(join(dir, `${AUDIOBRIDGE_PACKAGE}.jcfg`), `general: {\n}\nroom-7: {\n\tsampling_rate = 48000\n}\n`);
  const config = defaultJanusConfig(dir);
  config.media.rtp_port_range = null;
  config.nat.ice_enforce_list = ['127.0.0.1'];
  const candidates = await LocalCandidates.create({ enforceList: config.nat.ice_enforce_list });
  const plane = await WebRtcMediaPlane.create({ config, candidates, log: quietLog });
  const spec = WORKER_CAPABLE[AUDIOBRIDGE_PACKAGE]!;
  const settings = () => ({ noMediaTimer: 1, slowlinkThreshold: 0, minNackQueue: 500, nackOptimizations: false });
  const wp = new WorkerPlugin({ describe: new AudioBridgePlugin({ log: quietLog }), module: spec.module, exportName: spec.exportName, plane, config, settings, log: quietLog, logLevel: () => 0 });
  const routed = new RoutingMediaPlane(plane);
  routed.route(AUDIOBRIDGE_PACKAGE, wp.media);
  const gw = new Gateway({ config, plugins: [wp], mediaPlane: routed, pluginConfig: (pkg) => Jcfg.load(join(dir, `${pkg}.jcfg`)), watchdogIntervalMs: 60_000, log: quietLog });
  await gw.start();
  const client = new RecordingClient();
  let n = 0;
  const req = (body: JanusMessage): Promise<JanusMessage> => gw.handle({ transaction: `w${++n}`, ...body }, client);
  const w = {
    gw,
    plane,
    client,
    req,
    async attach() {
      const session = ((await req({ janus: 'create' })).data as { id: number }).id;
      const handle = ((await req({ janus: 'attach', session_id: session, plugin: AUDIOBRIDGE_PACKAGE })).data as { id: number }).id;
      return { session, handle };
    },
    async message(session: number, handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }) {
      const transaction = `m${++n}`;
      const ack = await gw.handle({ janus: 'message', session_id: session, handle_id: handle, transaction, body, ...(jsep ? { jsep } : {}) }, client);
      if (ack.janus !== 'ack') return ack as Ev;
      return waitFor(`the event for ${JSON.stringify(body)}`, () => (client.events as Ev[]).find((e) => e.transaction === transaction), 15_000);
    },
    async stop() {
      await gw.stop();
    },
  } as unknown as AbWorld;
  return { w, wp, routed, gw, client, dir };
}

test('AudioBridge through a media worker: API, media, Admin handle_info, metrics, worker crash and restart, shutdown', { timeout: 90_000 }, async () => {
  const { w, wp, routed, gw, client, dir } = await makeWorld();
  const clients: ClientPeer[] = [];
  let sender: ToneSender | null = null;
  try {
    // Requests answered by the worker's plugin.
    const { session, handle } = await w.attach();
    const exists = (await w.req({ janus: 'message', session_id: session, handle_id: handle, body: { request: 'exists', room: 7 } })) as Ev;
    assert.equal(exists.plugindata?.data['exists'], true);
    const missing = (await w.req({ janus: 'message', session_id: session, handle_id: handle, body: { request: 'exists', room: 8 } })) as Ev;
    assert.equal(missing.plugindata?.data['exists'], false);

    // Media through the worker: A hears B's 660 Hz.
    const a = await joinParticipant(w, 7, 'A');
    const b = await joinParticipant(w, 7, 'B');
    clients.push(a.client, b.client);
    assert.equal(gw.handles.size, 3);
    sender = new ToneSender(b, 660);
    sender.start();
    // Until A hears it (a loaded machine may take seconds to get the mix going), not a fixed 1.5 s.
    const tone = await hearsSoon(a, 660);
    assert.ok(tone > 1000, `A does not hear B's tone (amplitude ${tone.toFixed(0)})`);

    // Admin handle_info: plugin part and media part both come from the worker.
    const info = (await gw.admin.handle({ janus: 'handle_info', transaction: 'hi', session_id: a.session, handle_id: a.handle })) as JanusMessage & { info?: Record<string, unknown> };
    assert.equal(info.janus, 'success', JSON.stringify(info));
    const ps = info.info?.['plugin_specific'] as Record<string, unknown>;
    assert.equal(ps['state'], 'inroom');
    assert.equal(ps['room'], 7);
    const webrtc = info.info?.['webrtc'] as { ice?: { state?: string }; media?: Record<string, { type: string; stats: { out: { packets: number } } }> } | undefined;
    assert.equal(webrtc?.ice?.state, 'ready', `no live ICE in handle_info: ${JSON.stringify(info.info).slice(0, 300)}`);
    assert.ok((webrtc?.media?.['0']?.stats.out.packets ?? 0) > 0, `no mixed audio out in handle_info's media: ${JSON.stringify(webrtc?.media)}`);
    // Times from the worker are on the main thread's clock (Janus's monotonic µs): agent created after the handle.
    assert.ok((info.info?.['agent-created'] as number) >= (info.info?.['created'] as number), `agent-created ${String(info.info?.['agent-created'])} < created ${String(info.info?.['created'])}`);

    // Metrics: the worker's rooms, participants and PeerConnections.
    await waitFor('the worker reports 2 connected PeerConnections', () => routed.metrics().peerConnections['connected'] === 2, 15_000);
    assert.equal(wp.metrics().participants, 2);
    assert.ok(routed.metrics().audio.packetsOut > 0);

    // The worker dies: A's and B's PeerConnections are hung up, a new worker takes over, A joins again.
    sender.stop();
    sender = null;
    const before = client.events.length;
    wp.workers[0]!.exitForTests(1);
    await waitFor('hangup events for A and B', () => client.events.slice(before).filter((e) => e.janus === 'hangup').length >= 2, 15_000);
    await waitFor('a new worker', () => wp.restarts === 1 && wp.workers[0]!.exited === false, 30_000);
    await sleep(300);
    const again = await w.message(a.session, a.handle, { request: 'join', room: 7, display: 'A again' });
    assert.equal(again.plugindata?.data['audiobridge'], 'joined', JSON.stringify(again));
    const list = (await w.req({ janus: 'message', session_id: session, handle_id: handle, body: { request: 'listparticipants', room: 7 } })) as Ev;
    assert.deepEqual((list.plugindata?.data['participants'] as Array<{ display: string }>).map((p) => p.display), ['A again']);
  } finally {
    sender?.stop();
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  // Shutdown ended the thread.
  const worker = wp.workers[0]!.worker!;
  await waitFor('the worker thread ended', () => wp.workers[0]!.exited, 15_000);
  assert.equal(worker.threadId, -1);
});
