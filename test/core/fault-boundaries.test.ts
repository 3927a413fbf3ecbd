/**
 * Fault boundaries (issue 11): a throw injected at each entry from the network or a timer closes only
 * the PeerConnection, handle or room it belongs to (hangup event with a reason), is counted by boundary
 * in portunus_faults_total, and never reaches the process: the other PeerConnections keep echoing
 * media the whole time and the gateway still answers `info` and sets up new PeerConnections.
 *
 * One gateway, as in production: EchoTest on the main thread, AudioBridge in its media worker, a sample
 * event handler posting to a local HTTP collector. Clients are our own PeerConnections over real UDP.
 * Faults are injected through the test seams (core/fault.ts faultInjection, WorkerPlugin.injectFault)
 * or by replacing one method on one server-side object (packet paths have no seam, so production pays
 * nothing for this test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultJanusConfig, defaultSampleEvhConfig } from '../../src/config/schema.js';
import { Jcfg } from '../../src/config/jcfg.js';
import { faultCount, faultCounts, faultInjection, type FaultBoundary } from '../../src/core/fault.js';
import { Gateway } from '../../src/core/gateway.js';
import type { JanusMessage } from '../../src/core/messages.js';
import type { PluginSession } from '../../src/core/plugin.js';
import { EventBus } from '../../src/events/bus.js';
import { SampleEventHandler } from '../../src/events/sampleevh.js';
import { LocalCandidates } from '../../src/media/candidates.js';
import type { Peer } from '../../src/media/peer.js';
import { WebRtcMediaPlane } from '../../src/media/plane.js';
import { RoutingMediaPlane } from '../../src/media/routing-plane.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { AudioBridgePlugin, AUDIOBRIDGE_PACKAGE } from '../../src/plugins/audiobridge/plugin.js';
import { EchoTestPlugin } from '../../src/plugins/echotest/plugin.js';
import { VideoRoomPlugin } from '../../src/plugins/videoroom/plugin.js';
import { extractRemoteTransport } from '../../src/media/sdp/jsep.js';
import { buildAnswer } from '../../src/media/sdp/negotiate.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { WORKER_CAPABLE } from '../../src/plugins/index.js';
import { WorkerPlugin } from '../../src/workers/worker-plugin.js';
import { httpCollector } from '../events/collector.js';
import { applyAnswer, clientOffer, makeClient, quietLog, RecordingClient, rtpPacket, sleep, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import { audioOffer } from '../plugins/audiobridge/net.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> }; reason?: string };

interface Party {
  name: string;
  c: ClientPeer;
  s: number;
  h: number;
  /** Sends an RTP packet every tick while true. */
  sending: boolean;
  seq: number;
}

test('a throw at each fault boundary closes only its owner; the others keep their media, the gateway keeps serving', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'faults-'));
  writeFileSync(join(dir, 'janus.plugin.videoroom.jcfg'), 'general: {\n}\nroom-1234: {\n\tdescription = "faults"\n\tpublishers = 6\n}\n');
  writeFileSync(join(dir, `${AUDIOBRIDGE_PACKAGE}.jcfg`), 'general: {\n}\nroom-7: {\n\tsampling_rate = 16000\n}\nroom-8: {\n\tsampling_rate = 16000\n}\n');
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
  const echo = new EchoTestPlugin();
  const col = await httpCollector();
  const evh = new SampleEventHandler({ ...defaultSampleEvhConfig(), enabled: true, json: 'compact', grouping: false, backend: col.url }, { log: quietLog });
  const gw = new Gateway({
    config,
    plugins: [echo, new VideoRoomPlugin(), wp],
    mediaPlane: routed,
    events: new EventBus('faults', [evh], quietLog),
    pluginConfig: (pkg) => Jcfg.load(join(dir, `${pkg}.jcfg`)),
    watchdogIntervalMs: 60_000,
    log: quietLog,
  });
  await gw.start();
  const metrics = createMetrics({ gateway: gw, media: routed, defaultMetrics: false });
  const client = new RecordingClient();
  let n = 0;
  const req = (body: JanusMessage): Promise<Ev> => gw.handle({ transaction: `f${++n}`, ...body }, client) as Promise<Ev>;
  const events = client.events as Ev[];
  const parties: Party[] = [];

  // Every 20 ms each sending party sends one RTP packet (audio, mid 0); EchoTest echoes it back.
  const pacer = setInterval(() => {
    for (const p of parties) {
      if (!p.sending || !p.c.up) continue;
      p.seq = (p.seq + 1) & 0xffff;
      const pkt = rtpPacket(111, p.seq, p.seq * 960, 0x1000 + p.h % 1000, Buffer.from('media'));
      p.c.peer.sendRtp('0', pkt, pkt.length);
    }
  }, 20);

  const session = async (): Promise<number> => ((await req({ janus: 'create' })).data as { id: number }).id;
  const attach = async (s: number, plugin: string): Promise<number> => ((await req({ janus: 'attach', session_id: s, plugin })).data as { id: number }).id;
  const eventFor = (tx: string, ms = 8000): Promise<Ev> => waitFor(`event ${tx}`, () => events.find((e) => e.transaction === tx), ms);

  /** An EchoTest PeerConnection; `beforeOffer` runs once the handle id is known (to arm a fault for it). */
  const echoParty = async (name: string, opts: { beforeOffer?: (h: number) => void; waitUp?: boolean } = {}): Promise<Party> => {
    const c = await makeClient();
    const s = await session();
    const h = await attach(s, 'janus.plugin.echotest');
    opts.beforeOffer?.(h);
    const tx = `offer-${name}`;
    await gw.handle({ janus: 'message', session_id: s, handle_id: h, transaction: tx, body: { audio: true, video: true }, jsep: { type: 'offer', sdp: clientOffer(c) } }, client);
    const ev = await eventFor(tx);
    assert.ok(ev.jsep, `${name}: answer ${JSON.stringify(ev)}`);
    applyAnswer(c, ev.jsep.sdp);
    const p: Party = { name, c, s, h, sending: true, seq: 0 };
    parties.push(p);
    if (opts.waitUp !== false) {
      await waitFor(`${name}: webrtcup`, () => events.find((e) => e.janus === 'webrtcup' && e.sender === h), 10_000);
      await waitFor(`${name}: echo`, () => c.rtp.length > 0, 8000);
    }
    return p;
  };

  /** An AudioBridge participant of `room` (in the worker). */
  const abParty = async (name: string, room: number): Promise<Party> => {
    const c = await makeClient();
    const s = await session();
    const h = await attach(s, AUDIOBRIDGE_PACKAGE);
    const joinTx = `join-${name}`;
    await gw.handle({ janus: 'message', session_id: s, handle_id: h, transaction: joinTx, body: { request: 'join', room, display: name } }, client);
    assert.equal((await eventFor(joinTx)).plugindata?.data.audiobridge, 'joined');
    const confTx = `conf-${name}`;
    await gw.handle({ janus: 'message', session_id: s, handle_id: h, transaction: confTx, body: { request: 'configure', muted: false }, jsep: { type: 'offer', sdp: audioOffer(c) } }, client);
    const conf = await eventFor(confTx);
    assert.ok(conf.jsep, `${name}: answer`);
    applyAnswer(c, conf.jsep.sdp);
    await waitFor(`${name}: DTLS up`, () => c.up, 10_000);
    await waitFor(`${name}: mix frames`, () => c.rtp.length > 5, 8000);
    const p: Party = { name, c, s, h, sending: false, seq: 0 };
    parties.push(p);
    return p;
  };

  /** A VideoRoom publisher (sends audio RTP) and a subscriber to it (receives it): media through the SFU. */
  const videoRoomPair = async (): Promise<{ pub: Party; sub: Party }> => {
    const vr = 'janus.plugin.videoroom';
    const pc = await makeClient();
    const ps = await session();
    const ph = await attach(ps, vr);
    await gw.handle({ janus: 'message', session_id: ps, handle_id: ph, transaction: 'vr-join', body: { request: 'join', ptype: 'publisher', room: 1234, id: 77, display: 'pub' } }, client);
    assert.equal((await eventFor('vr-join')).plugindata?.data.videoroom, 'joined');
    await gw.handle({ janus: 'message', session_id: ps, handle_id: ph, transaction: 'vr-pub', body: { request: 'publish' }, jsep: { type: 'offer', sdp: clientOffer(pc) } }, client);
    const pubAnswer = await eventFor('vr-pub');
    assert.ok(pubAnswer.jsep, `publish answer ${JSON.stringify(pubAnswer)}`);
    applyAnswer(pc, pubAnswer.jsep.sdp);
    await waitFor('publisher webrtcup', () => events.find((e) => e.janus === 'webrtcup' && e.sender === ph), 10_000);
    const pub: Party = { name: 'vr-pub', c: pc, s: ps, h: ph, sending: true, seq: 0 };
    parties.push(pub);

    const sc = await makeClient();
    const ss = await session();
    const sh = await attach(ss, vr);
    await gw.handle({ janus: 'message', session_id: ss, handle_id: sh, transaction: 'vr-sub', body: { request: 'join', ptype: 'subscriber', room: 1234, streams: [{ feed: 77 }] } }, client);
    const attached = await eventFor('vr-sub');
    assert.ok(attached.jsep, `subscriber offer ${JSON.stringify(attached)}`);
    const offer = parseSdp(attached.jsep.sdp);
    sc.peer.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
    const answer = sc.peer.setLocalDescription(
      writeSdp(buildAnswer(offer, (m) => (m.kind === 'audio' ? { codecs: ['opus'], direction: 'recvonly' } : m.kind === 'video' ? { codecs: ['vp8'], direction: 'recvonly' } : {})).description),
      'answer',
    );
    await gw.handle({ janus: 'message', session_id: ss, handle_id: sh, transaction: 'vr-start', body: { request: 'start' }, jsep: { type: 'answer', sdp: answer } }, client);
    await eventFor('vr-start');
    await waitFor('subscriber webrtcup', () => events.find((e) => e.janus === 'webrtcup' && e.sender === sh), 10_000);
    await waitFor('subscriber receives the publisher', () => sc.rtp.length > 5, 8000).catch((e) => {
      const st = (h: number) => JSON.stringify(plane.peerOf(h)?.rtpStats(), (_k, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 1500);
      throw new Error(`${String(e)}\npub ${st(ph)}\nsub ${st(sh)}\nanswer ${answer}\nclient sub stats ${JSON.stringify(sc.peer.rtpStats()).slice(0, 800)}`);
    });
    const sub: Party = { name: 'vr-sub', c: sc, s: ss, h: sh, sending: false, seq: 0 };
    parties.push(sub);
    return { pub, sub };
  };

  const serverPeer = (p: Party): Record<string, unknown> => {
    const peer = plane.peerOf(p.h);
    assert.ok(peer, `${p.name}: server PeerConnection`);
    return peer as unknown as Record<string, unknown>;
  };

  const hangupOf = (p: Party, ms = 10_000): Promise<Ev> => waitFor(`${p.name}: hangup`, () => events.find((e) => e.janus === 'hangup' && e.sender === p.h), ms);

  /** The bystanders' media keeps flowing: every one of them receives more packets within 3 s. */
  const bystanders: Party[] = [];
  /** Parties that receive nothing themselves (a publisher) but must not be hung up either. */
  const extraAlive: Party[] = [];
  const assertFlowing = async (after: string): Promise<void> => {
    const before = bystanders.map((b) => b.c.rtp.length);
    await waitFor(`media still flowing after ${after}: ${bystanders.map((b, i) => `${b.name} ${b.c.rtp.length - before[i]!}`).join(', ')}`, () => bystanders.every((b, i) => b.c.rtp.length >= before[i]! + 20), 5000);
    for (const b of [...bystanders, ...extraAlive]) assert.equal(events.find((e) => e.janus === 'hangup' && e.sender === b.h), undefined, `${b.name} was not hung up`);
  };

  const expectFault = async (boundary: FaultBoundary, before: number): Promise<void> => {
    await waitFor(`a ${boundary} fault counted`, () => faultCounts()[boundary] > before, 5000);
  };

  const finish: Array<() => unknown> = [];
  try {
    // Bystanders: two EchoTest PeerConnections and one AudioBridge participant (room 8, in the worker).
    // and a VideoRoom publisher -> subscriber (the subscriber's packet count is what must keep growing).
    const vrPair = await videoRoomPair();
    extraAlive.push(vrPair.pub);
    bystanders.push(await echoParty('echo-A'), await echoParty('echo-B'), await abParty('ab-room8', 8), vrPair.sub);
    await assertFlowing('setup');

    const results: string[] = [];
    const scenario = async (name: string, boundary: FaultBoundary, run: (before: number) => Promise<void>): Promise<void> => {
      const before = faultCounts()[boundary];
      await run(before);
      await expectFault(boundary, before);
      await assertFlowing(name);
      results.push(`${name}: ${boundary} ${before} -> ${faultCounts()[boundary]}`);
    };

    // 1. Socket 'message' -> SRTP -> RTP session throws (a bug on the receive path): after a few, hung up.
    await scenario('socket message / RTP session', 'socket', async () => {
      const v = await echoParty('v-rtp');
      const session = serverPeer(v).session as { onRtp: () => number };
      session.onRtp = () => {
        throw new Error('injected: RtpSession.onRtp');
      };
      assert.equal((await hangupOf(v)).reason, 'Internal error (rtp)');
      v.sending = false;
    });

    // 2. The PeerConnection's timer (ICE first) throws: hung up at once.
    await scenario('ICE timer', 'peer_timer', async () => {
      const v = await echoParty('v-ice-timer');
      const agent = serverPeer(v).agent as { handleTimeout: () => void };
      agent.handleTimeout = () => {
        throw new Error('injected: IceAgent.handleTimeout');
      };
      assert.equal((await hangupOf(v)).reason, 'Internal error (ice timer)');
      v.sending = false;
    });

    // 3. A send to an address nothing can be sent to (what the port-0 candidate did): socket.send throws.
    await scenario('send to port 0', 'send', async () => {
      const v = await echoParty('v-send');
      // Media now goes to port 0 over the peer's UDP socket (its private setPath, as ICE selecting such a pair would).
      const peer = serverPeer(v);
      (peer.setPath as (socketId: number, to: { address: string; port: number }) => void).call(peer, 0, { address: '127.0.0.1', port: 0 });
      assert.equal((await hangupOf(v)).reason, 'Internal error (send)');
      v.sending = false;
    });

    // 4. DTLS: the handshake-done callback throws (the endpoint would swallow it): hung up, never up.
    await scenario('DTLS connected', 'dtls', async () => {
      let target = 0;
      const v = await echoParty('v-dtls', {
        waitUp: false,
        beforeOffer: (h) => {
          target = h;
          faultInjection.armed = 'dtls';
          faultInjection.target = h;
        },
      });
      try {
        assert.equal((await hangupOf(v)).reason, 'Internal error (dtls)');
        assert.equal(events.find((e) => e.janus === 'webrtcup' && e.sender === target), undefined, 'no webrtcup');
      } finally {
        faultInjection.armed = null;
      }
      v.sending = false;
    });

    // 5. SCTP: a data channel message's handler throws: hung up.
    await scenario('SCTP message', 'sctp', async () => {
      const v = await echoParty('v-sctp');
      faultInjection.armed = 'sctp';
      faultInjection.target = v.h;
      try {
        await waitFor('v-sctp: channel open', () => v.c.ready.length > 0 || v.c.peer.isUp, 5000);
        for (let i = 0; i < 20 && !events.find((e) => e.janus === 'hangup' && e.sender === v.h); i++) {
          v.c.peer.sendData('chat', `hello ${i}`);
          await sleep(100);
        }
        assert.equal((await hangupOf(v)).reason, 'Internal error (sctp)');
      } finally {
        faultInjection.armed = null;
      }
      v.sending = false;
    });

    // 6. The plugin's incomingRtp throws for one handle: that handle is hung up, the plugin serves the rest.
    await scenario('plugin incomingRtp', 'plugin_media', async () => {
      const v = await echoParty('v-plugin-rtp');
      const original = echo.incomingRtp.bind(echo);
      echo.incomingRtp = (ps: PluginSession, ...rest: [never, Buffer, number]) => {
        if (ps.handleId === v.h) throw new Error('injected: EchoTest.incomingRtp');
        original(ps, ...rest);
      };
      finish.push(() => (echo.incomingRtp = original));
      assert.equal((await hangupOf(v)).reason, 'Plugin error (incomingRtp)');
      v.sending = false;
    });

    // 7. The plugin's handleMessage throws: that request gets the plugin error, the handle and its media stay.
    await scenario('plugin handleMessage', 'plugin_hook', async () => {
      const v = await echoParty('v-message');
      faultInjection.armed = 'handleMessage';
      faultInjection.target = v.h;
      let reply: Ev;
      try {
        reply = await req({ janus: 'message', session_id: v.s, handle_id: v.h, body: { audio: true } });
      } finally {
        faultInjection.armed = null;
      }
      assert.equal(reply.janus, 'error', JSON.stringify(reply));
      assert.equal((reply as { error?: { code: number } }).error?.code, 462);
      const again = await req({ janus: 'message', session_id: v.s, handle_id: v.h, body: { audio: true } });
      assert.equal(again.janus, 'ack', 'the handle still takes requests');
      const n0 = v.c.rtp.length;
      await waitFor('v-message: still echoed', () => v.c.rtp.length > n0 + 10, 3000);
      assert.equal(events.find((e) => e.janus === 'hangup' && e.sender === v.h), undefined, 'not hung up');
      v.sending = false;
    });

    // 8. A room's timer (AudioBridge mixer in the worker) throws: that room is closed, room 8 keeps mixing.
    await scenario('AudioBridge room clock', 'plugin_timer', async () => {
      const v = await abParty('v-room7', 7);
      wp.injectFault('plugin_timer', 7);
      try {
        const destroyed = await waitFor('room 7 destroyed event', () => events.find((e) => e.sender === v.h && e.plugindata?.data.audiobridge === 'destroyed'), 5000);
        assert.equal(destroyed.plugindata?.data.room, 7);
        assert.equal((await hangupOf(v)).reason, 'Room error');
      } finally {
        wp.injectFault(null, null);
      }
      const list = await req({ janus: 'message', session_id: v.s, handle_id: v.h, body: { request: 'exists', room: 8 } });
      assert.equal(list.plugindata?.data.exists, true, 'room 8 still there');
    });

    // 9. A message to the worker for one handle throws there: that handle is hung up.
    await scenario('worker message', 'worker', async () => {
      const v = await abParty('v-worker', 8);
      wp.injectFault('worker', v.h);
      try {
        await req({ janus: 'trickle', session_id: v.s, handle_id: v.h, candidate: { completed: true } });
        assert.equal((await hangupOf(v)).reason, 'Internal error (worker)');
      } finally {
        wp.injectFault(null, null);
      }
    });

    // 10. An event-handler backend's delivery throws: that batch is lost (counted), the next ones go out.
    await scenario('event handler', 'event_handler', async (before) => {
      faultInjection.armed = 'event_handler';
      faultInjection.target = null;
      try {
        await session();
        await waitFor('an event handler fault', () => faultCount('event_handler') > before, 5000);
      } finally {
        faultInjection.armed = null;
      }
      const s = await session();
      await col.waitFor((evs) => evs.some((e) => e.session_id === s && (e.event as { name?: string }).name === 'created'), 5000);
    });

    // The gateway still serves: info, and a new PeerConnection that echoes.
    const info = await req({ janus: 'info' });
    assert.equal(info.janus, 'server_info');
    const late = await echoParty('late');
    bystanders.push(late);
    await assertFlowing('the end');
    // Everything was caught at its boundary, none by the last line (none installed here: it would have
    // been the test process's own uncaughtException), and /metrics shows the counts.
    assert.equal(faultCounts().process, 0);
    const text = await metrics.scrape();
    for (const b of ['socket', 'peer_timer', 'send', 'dtls', 'sctp', 'plugin_media', 'plugin_hook', 'plugin_timer', 'worker', 'event_handler'] as const) {
      const m = new RegExp(`portunus_faults_total\\{boundary="${b}"\\} (\\d+)`).exec(text);
      assert.ok(m && Number(m[1]) >= 1, `portunus_faults_total{boundary="${b}"} in\n${text.split('\n').filter((l) => l.includes('faults')).join('\n')}`);
    }
    assert.match(text, /portunus_faults_total\{boundary="process"\} 0/);
    // The victims' server-side PeerConnections are gone, the bystanders' are not.
    for (const p of parties) {
      const alive = plane.peerOf(p.h) !== undefined;
      if (p.name === 'ab-room8' || p.name === 'v-room7' || p.name === 'v-worker') continue; // PeerConnections in the worker
      if (p.name.startsWith('v-') && p.name !== 'v-message') assert.ok(!alive, `${p.name}: its PeerConnection is closed`);
      else assert.ok(alive, `${p.name}: its PeerConnection is alive`);
    }
    process.stdout.write(`# ${results.join('\n# ')}\n`);
  } finally {
    clearInterval(pacer);
    faultInjection.armed = null;
    for (const f of finish) f();
    for (const p of parties) p.c.close();
    await gw.stop();
    await evh.close();
    await col.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Type-only use: keeps the Peer import honest if the private fields used above are renamed.
export type { Peer };
