/**
 * Webinar across media workers (issue 12): 1 publisher x S subscribers in one VideoRoom, in-process
 * (Gateway + worker pool, real SRTP/UDP clients on 127.0.0.1), the subscribers spread over the
 * workers (`subscribers_spread_at`, default 0 here: every subscriber to the least loaded worker), so
 * those not on the room's worker get the packets through the ring.
 *
 * Reports the placement, join-to-first-packet time (join request sent -> first RTP decrypted at the
 * client: signalling, ICE, DTLS, first forwarded packet) and loss per subscriber over a steady window.
 * The clients run in the same process as the server: on a small machine they cost more than the
 * server does, so read the numbers as an upper bound.
 *
 *   node dist/bench/webinar.js [--subscribers 300] [--pps 30] [--seconds 10] [--workers 2] [--spread-at 0] [--parallel 10]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultJanusConfig } from '../src/config/schema.js';
import { Jcfg } from '../src/config/jcfg.js';
import { Gateway } from '../src/core/gateway.js';
import type { JanusMessage } from '../src/core/messages.js';
import { LocalCandidates } from '../src/media/candidates.js';
import { WebRtcMediaPlane } from '../src/media/plane.js';
import { RoutingMediaPlane } from '../src/media/routing-plane.js';
import { rtpHeaderLength } from '../src/media/rtp/header.js';
import { buildAnswer, buildOffer, EXT, extmapsFor, type AnswerOptions } from '../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../src/media/sdp/jsep.js';
import { parseSdp } from '../src/media/sdp/parse.js';
import { writeSdp } from '../src/media/sdp/write.js';
import { WORKER_CAPABLE } from '../src/plugins/index.js';
import { VideoRoomPlugin } from '../src/plugins/videoroom/plugin.js';
import { PooledPlugin } from '../src/workers/pooled-plugin.js';
import { WorkerPool } from '../src/workers/pool.js';
import { applyAnswer, makeClient, quietLog, RecordingClient, rtpPacket, sleep, waitFor, type ClientPeer } from '../test/media/peer/helpers.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '300' },
    pps: { type: 'string', default: '30' },
    seconds: { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    'spread-at': { type: 'string', default: '0' },
    parallel: { type: 'string', default: '10' },
  },
});
const S = Number(values.subscribers);
const PPS = Number(values.pps);
const SECONDS = Number(values.seconds);
const WORKERS = Number(values.workers);
const PARALLEL = Number(values.parallel);
const VR = 'janus.plugin.videoroom';
const ROOM = 1234;

type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> } };

function vp8(key: boolean, counter: number): Buffer {
  const b = Buffer.alloc(1000, 0x55);
  b[0] = 0x10;
  b[1] = key ? 0x10 : 0x11;
  b[2] = 0x02;
  b[3] = 0x00;
  b[4] = 0x9d;
  b[5] = 0x01;
  b[6] = 0x2a;
  b.writeUInt16LE(320, 7);
  b.writeUInt16LE(240, 9);
  b.writeUInt32BE(counter, 100);
  return b;
}

function answerOffer(c: ClientPeer, offerSdp: string): string {
  const offer = parseSdp(offerSdp);
  c.peer.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
  const { description } = buildAnswer(offer, (m): AnswerOptions => (m.kind === 'video' ? { codecs: ['vp8'], direction: 'recvonly', simulcast: false, rtx: false } : {}));
  return c.peer.setLocalDescription(writeSdp(description), 'answer');
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'webinar-'));
  writeFileSync(join(dir, `${VR}.jcfg`), `general: {\n\tsubscribers_spread_at = ${Number(values['spread-at'])}\n}\nroom-${ROOM}: {\n\tdescription = "webinar"\n\tfir_freq = 0\n\tvideocodec = "vp8"\n}\n`);
  const config = defaultJanusConfig(dir);
  config.media.rtp_port_range = null;
  // Joining hundreds takes longer than a session's 60 s without keepalives.
  config.general.session_timeout = 0;
  config.nat.ice_enforce_list = ['127.0.0.1'];
  const candidates = await LocalCandidates.create({ enforceList: config.nat.ice_enforce_list });
  const plane = await WebRtcMediaPlane.create({ config, candidates, log: quietLog });
  const settings = () => ({ noMediaTimer: 1, slowlinkThreshold: 0, minNackQueue: 500, nackOptimizations: false });
  const pool = new WorkerPool({ size: WORKERS, plane, config, settings, log: quietLog, logLevel: () => 0 });
  const vr = new PooledPlugin({ describe: new VideoRoomPlugin(), module: WORKER_CAPABLE[VR]!.module, exportName: 'VideoRoomPlugin', pool });
  const routed = new RoutingMediaPlane(plane);
  routed.route(VR, vr.media);
  const gw = new Gateway({ config, plugins: [vr], mediaPlane: routed, pluginConfig: (pkg) => Jcfg.load(join(dir, `${pkg}.jcfg`)), watchdogIntervalMs: 60_000, log: quietLog });
  await gw.start();
  const client = new RecordingClient();
  let n = 0;
  const waiting = new Map<string, (e: Ev) => void>();
  // Events by transaction without scanning the whole list for each (hundreds of handles).
  client.sendEvent = (_id: number, m: JanusMessage) => {
    const t = (m as Ev).transaction;
    if (typeof t === 'string' && (m as Ev).janus === 'event') waiting.get(t)?.(m as Ev);
  };
  const req = (body: JanusMessage): Promise<JanusMessage> => gw.handle({ transaction: `p${++n}`, ...body }, client);
  const attach = async () => {
    const session = ((await req({ janus: 'create' })).data as { id: number }).id;
    const handle = ((await req({ janus: 'attach', session_id: session, plugin: VR })).data as { id: number }).id;
    return { session, handle };
  };
  const message = async (session: number, handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<Ev> => {
    const transaction = `m${++n}`;
    const ev = new Promise<Ev>((resolve) => waiting.set(transaction, resolve));
    const ack = await gw.handle({ janus: 'message', session_id: session, handle_id: handle, transaction, body, ...(jsep ? { jsep } : {}) }, client);
    if (ack.janus !== 'ack') return ack as Ev;
    const e = await Promise.race([ev, sleep(60_000).then(() => null)]);
    waiting.delete(transaction);
    if (e === null) throw new Error(`no answer to ${JSON.stringify(body)}`);
    return e;
  };
  const clients: ClientPeer[] = [];
  let sending = true;
  try {
    // Publisher: VP8 only, PPS packets/s, a keyframe every second.
    const pc = await makeClient();
    clients.push(pc);
    const ph = await attach();
    const joined = await message(ph.session, ph.handle, { request: 'join', ptype: 'publisher', room: ROOM });
    const pubId = joined.plugindata?.data['id'] as number;
    const offer = buildOffer([{ kind: 'video', mid: '0', direction: 'sendonly', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) }]);
    const conf = await message(ph.session, ph.handle, { request: 'configure', video: true }, { type: 'offer', sdp: pc.peer.setLocalDescription(writeSdp(offer), 'offer') });
    applyAnswer(pc, conf.jsep!.sdp);
    await waitFor('publisher up', () => pc.up, 10_000);
    // Subscribers come once the room announced the publisher (as clients do, on its `publishers` event).
    for (let i = 0; i < 100; i++) {
      const l = await message(ph.session, ph.handle, { request: 'listparticipants', room: ROOM });
      if ((l.plugindata?.data['participants'] as Array<{ id: number; publisher: boolean }> | undefined)?.some((p) => p.id === pubId && p.publisher)) break;
      await sleep(100);
    }
    let counter = 0;
    const pump = (async () => {
      const t0 = performance.now();
      while (sending) {
        const due = Math.floor(((performance.now() - t0) / 1000) * PPS);
        while (counter < due) {
          counter++;
          pc.peer.sendRtp('0', rtpPacket(96, counter, counter * 3000, 1, vp8(counter % PPS === 1, counter)), 12 + 1000);
        }
        await sleep(5);
      }
    })();

    // Subscribers, PARALLEL joins at a time.
    const subs: Array<{ c: ClientPeer; joinAt: number; firstAt: number; worker: number }> = [];
    const t0 = performance.now();
    // First packets are noticed within 5 ms while the others still join.
    const poll = setInterval(() => {
      const now = performance.now();
      for (const s of subs) if (Number.isNaN(s.firstAt) && s.c.rtp.length > 0) s.firstAt = now;
    }, 5);
    for (let i = 0; i < S; i += PARALLEL) {
      await Promise.all(
        Array.from({ length: Math.min(PARALLEL, S - i) }, async () => {
          const c = await makeClient();
          clients.push(c);
          const h = await attach();
          const s = { c, joinAt: performance.now(), firstAt: NaN, worker: -1 };
          subs.push(s);
          const att = await message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId }] });
          if (!att.jsep) {
            const l = await message(ph.session, ph.handle, { request: 'listparticipants', room: ROOM });
            throw new Error(`join #${subs.length} on worker ${vr.pool.boundWorker(h.handle)?.index}: ${JSON.stringify(att.plugindata?.data)}; listparticipants: ${JSON.stringify(l.plugindata?.data ?? l)}, publisher hung up: ${pc.closedReason}, worker restarts ${JSON.stringify(pool.workers.map((w) => w.restarts))}`);
          }
          await message(h.session, h.handle, { request: 'start' }, { type: 'answer', sdp: answerOffer(c, att.jsep.sdp) });
          s.worker = vr.pool.boundWorker(h.handle)?.index ?? -1;
        }),
      );
    }
    const joinSecs = (performance.now() - t0) / 1000;
    // First packets.
    await waitFor('every subscriber got a packet', () => subs.every((s) => !Number.isNaN(s.firstAt)), 60_000).catch(() => undefined);
    clearInterval(poll);
    const firsts = subs.filter((s) => !Number.isNaN(s.firstAt)).map((s) => s.firstAt - s.joinAt);

    // Steady window: packets counted by counter.
    await sleep(1000);
    const from = counter + 1;
    const marks = subs.map((s) => s.c.rtp.length);
    // Server side: video packets each worker sent per second over the window, from its 1 s metrics
    // reports (timed by when they arrive): what left the server, whatever the clients kept up with.
    const reports = pool.workers.map(() => [] as Array<{ at: number; out: number }>);
    const seenMetrics = pool.workers.map((w) => w.mediaMetrics);
    const watch = setInterval(() => {
      for (const [i, w] of pool.workers.entries()) {
        if (w.mediaMetrics !== seenMetrics[i] && w.mediaMetrics !== null) {
          seenMetrics[i] = w.mediaMetrics;
          reports[i]!.push({ at: performance.now(), out: w.mediaMetrics.video.packetsOut });
        }
      }
    }, 10);
    await sleep(SECONDS * 1000);
    clearInterval(watch);
    const to = counter;
    await sleep(500);
    const losses = subs.map((s, i) => {
      const seen = new Set<number>();
      for (const p of s.c.rtp.slice(marks[i])) {
        const c = p.bytes.readUInt32BE(rtpHeaderLength(p.bytes, p.bytes.length) + 100);
        if (c >= from && c <= to) seen.add(c);
      }
      return 1 - seen.size / (to - from + 1);
    });
    const perWorker = new Map<number, number>();
    for (const s of subs) perWorker.set(s.worker, (perWorker.get(s.worker) ?? 0) + 1);
    const roomWorker = vr.rooms.get(String(ROOM))?.index;
    const lossOf = (w: number | null) => {
      const xs = losses.filter((_, i) => w === null || (w === roomWorker ? subs[i]!.worker === w : subs[i]!.worker !== roomWorker));
      return xs.length ? `${((xs.reduce((a, b) => a + b, 0) / xs.length) * 100).toFixed(2)} % mean, ${(Math.max(...xs) * 100).toFixed(2)} % max` : 'n/a';
    };
    console.log(`webinar: 1 publisher x ${S} subscribers, ${PPS} packets/s of 1000-byte VP8, ${WORKERS} workers, room on worker ${roomWorker}`);
    console.log(`placement (worker: subscribers): ${JSON.stringify(Object.fromEntries([...perWorker].sort()))}; joins took ${joinSecs.toFixed(1)} s (${PARALLEL} at a time)`);
    console.log(`join-to-first-packet: median ${pct(firsts, 50).toFixed(0)} ms, p95 ${pct(firsts, 95).toFixed(0)} ms, max ${Math.max(...firsts).toFixed(0)} ms (${firsts.length}/${S} got packets)`);
    console.log(`loss over ${SECONDS} s (${to - from + 1} packets each): all ${lossOf(null)}; on the room's worker ${lossOf(roomWorker ?? 0)}; across the ring ${lossOf(-2)}`);
    const sent = pool.workers.map((w, i) => {
      const r = reports[i]!;
      const on = subs.filter((s) => s.worker === w.index).length;
      if (r.length < 2 || on === 0) return `worker ${w.index}: n/a`;
      const rate = ((r.at(-1)!.out - r[0]!.out) / (r.at(-1)!.at - r[0]!.at)) * 1000;
      return `worker ${w.index}: ${rate.toFixed(0)}/s of ${on * PPS}/s expected (${((rate / (on * PPS)) * 100).toFixed(1)} %)`;
    });
    console.log(`video packets sent by the server: ${sent.join('; ')}`);
    const reasons = new Map<string, number>();
    for (const s of subs) if (s.c.closedReason !== null) reasons.set(s.c.closedReason, (reasons.get(s.c.closedReason) ?? 0) + 1);
    console.log(`publisher closed: ${pc.closedReason ?? 'no'}; subscribers closed: ${JSON.stringify(Object.fromEntries(reasons))}`);
    console.log(`worker load: ${JSON.stringify(pool.workers.map((w) => ({ worker: w.index, peers: w.load.peers, pps: w.load.packetsPerSec, lagMaxMs: Math.round(w.load.loopLagMaxMs) })))}`);
  } finally {
    sending = false;
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
