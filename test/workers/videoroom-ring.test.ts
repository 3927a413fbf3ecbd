/**
 * One VideoRoom larger than a worker (issue 12), in-process: Gateway -> RoutingMediaPlane ->
 * WorkerPool (2 worker threads) with VideoRoom in both, real SRTP/UDP clients on 127.0.0.1.
 *
 * The room sits on worker 0 (its jcfg room), the publisher with it; two subscribers are placed on
 * worker 1 (their packets cross through the SharedArrayBuffer ring), one on worker 0. What must hold:
 * every subscriber gets the publisher's packets decrypted and in order; a remote subscriber's
 * simulcast switch works (substream event, then the other layer's packets); a PLI from a remote
 * subscriber reaches the publisher; the publisher's unpublish reaches the remote subscribers (an
 * `updated` offer without the stream); and a dead subscriber worker is forgotten by the room's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { rtpHeaderLength } from '../../src/media/rtp/header.js';
import { buildOffer, EXT, extmapsFor } from '../../src/media/sdp/negotiate.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { applyAnswer, makeClient, rtpPacket, sleep, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import { answerOffer, countPlis, makeVideoRoomWorld, ROOM, type Ev } from './videoroom-world.js';

/** Subscribers' simulcast fallback (µs): longer than any stall of a loaded test machine. */
const FALLBACK_US = 60_000_000;

/** The publisher's simulcast SSRCs, low to high (SSRC-group simulcast). */
const SIM = [0x1111, 0x2222, 0x3333];

/** A publisher offer: opus + VP8 with three simulcast SSRCs (a=ssrc-group:SIM), sendonly. */
function publisherOffer(c: ClientPeer): string {
  const d = buildOffer([
    { kind: 'audio', mid: '0', direction: 'sendonly', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid]) },
    { kind: 'video', mid: '1', direction: 'sendonly', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) },
  ]);
  const v = d.media[1]!;
  v.ssrcs = SIM.map((ssrc) => ({ ssrc, attribute: 'cname', value: 'pub' }));
  v.ssrcGroups = [{ semantics: 'SIM', ssrcs: [...SIM] }];
  return c.peer.setLocalDescription(writeSdp(d), 'offer');
}

/** VP8 payload: descriptor (S=1), frame tag key/delta; then [layer, counter] so the receiver can tell where it came from. */
function vp8(key: boolean, layer: number, counter: number): Buffer {
  const b = Buffer.alloc(200, 0x55);
  b[0] = 0x10;
  b[1] = key ? 0x10 : 0x11;
  b[2] = 0x02;
  b[3] = 0x00;
  b[4] = 0x9d;
  b[5] = 0x01;
  b[6] = 0x2a;
  b.writeUInt16LE(320, 7);
  b.writeUInt16LE(240, 9);
  b[100] = layer;
  b.writeUInt32BE(counter, 101);
  return b;
}

test('VideoRoom across workers: remote subscribers get the media in order, switch simulcast layers, their PLIs reach the publisher, unpublish and a dead worker are cleaned up', { timeout: 150_000 }, async () => {
  const { dir, pool, vr, gw, client, attach, message, workerOf } = await makeVideoRoomWorld('vr-ring-');
  const clients: ClientPeer[] = [];
  let sending = false;
  try {
    const rw = vr.rooms.get(String(ROOM))!;
    assert.ok(rw, 'the jcfg room is placed');
    const other = pool.workers.find((w) => w !== rw)!;

    // Publisher: joins (room's worker), publishes VP8 simulcast, PeerConnection up.
    const pc = await makeClient();
    clients.push(pc);
    const plis = countPlis(pc);
    const ph = await attach();
    const joined = await message(ph.session, ph.handle, { request: 'join', ptype: 'publisher', room: ROOM, display: 'speaker' });
    assert.equal(joined.plugindata?.data['videoroom'], 'joined', JSON.stringify(joined));
    const pubId = joined.plugindata?.data['id'] as number;
    const conf = await message(ph.session, ph.handle, { request: 'configure', audio: true, video: true }, { type: 'offer', sdp: publisherOffer(pc) });
    assert.ok(conf.jsep, JSON.stringify(conf));
    applyAnswer(pc, conf.jsep.sdp);
    await waitFor('publisher DTLS up', () => pc.up, 8000);
    assert.equal(await workerOf(ph.session, ph.handle), rw.index);
    // Subscribe once the server's side is up too (the feed is active from the plugin's setupMedia on).
    await waitFor('the publisher webrtcup', () => (client.events as Ev[]).some((e) => e.janus === 'webrtcup' && (e as { sender?: number }).sender === ph.handle), 15_000);

    // Subscribers: two forced onto the other worker, one on the room's.
    const placeOn: number[] = [other.index, other.index, rw.index];
    let next = 0;
    vr.subscriberPlacement = () => pool.workers[placeOn[next++]!] ?? null;
    const subs: Array<{ session: number; handle: number; c: ClientPeer; worker: number }> = [];
    for (let i = 0; i < placeOn.length; i++) {
      const c = await makeClient();
      clients.push(c);
      const h = await attach();
      // A long simulcast `fallback` (µs): on a loaded machine the sender (this thread) or a worker can
      // stall past the default 250 ms, and the subscriber would drop to a lower layer (and ask for
      // keyframes) on its own, which the layer and PLI checks below would take for a fault.
      const att = await message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId, mid: '1', fallback: FALLBACK_US }] });
      assert.equal(att.plugindata?.data['videoroom'], 'attached', JSON.stringify(att));
      assert.ok(att.jsep, 'attached carries an offer');
      const started = await message(h.session, h.handle, { request: 'start', room: ROOM }, { type: 'answer', sdp: answerOffer(c, att.jsep.sdp) });
      assert.equal(started.plugindata?.data['started'], 'ok', JSON.stringify(started));
      await waitFor(`subscriber ${i} DTLS up`, () => c.up, 8000);
      subs.push({ ...h, c, worker: await workerOf(h.session, h.handle) });
    }
    vr.subscriberPlacement = null;
    assert.deepEqual(subs.map((s) => s.worker), placeOn, 'subscribers sit where they were placed');
    // Admin `list_rooms` (Portunus) shows the room's owner and the worker its remote subscribers sit on.
    const lr = (await gw.admin.handle({ janus: 'list_rooms', transaction: 'lr', plugin: 'janus.plugin.videoroom' })) as { janus: string; rooms?: Array<{ plugin: string; room: unknown; worker: number; workers: number[] }> };
    assert.equal(lr.janus, 'success', JSON.stringify(lr));
    const placed = lr.rooms?.find((r) => r.room === ROOM);
    assert.deepEqual(placed, { plugin: 'janus.plugin.videoroom', room: ROOM, worker: rw.index, workers: [rw.index, other.index] }, JSON.stringify(lr));
    const bad = (await gw.admin.handle({ janus: 'list_rooms', transaction: 'lr2', plugin: 'janus.plugin.nosuch' })) as { janus: string; error?: { code: number } };
    assert.equal(bad.error?.code, 460, JSON.stringify(bad));

    // The publisher sends its three layers (keyframe first on each), ~100 packets/s per layer.
    // Our client Peer sends one SSRC per m-line: the other two layers' SSRCs are declared to its RTP
    // session by hand (a browser's simulcast encoder does this itself).
    const internals = pc.peer as unknown as { byMid: Map<string, { localSsrc: number }>; session: { addLocalStream(c: Record<string, unknown>): number } };
    const line = internals.byMid.get('1')!;
    for (const [l, ssrc] of SIM.entries()) if (ssrc !== line.localSsrc) internals.session.addLocalStream({ mid: `sim${l}`, kind: 'video', ssrc, clockRate: 90000, nack: false });
    const seq = [1000, 2000, 3000];
    let counter = 0;
    const sendLayer = (layer: number, key: boolean): void => {
      line.localSsrc = SIM[layer]!;
      const s = seq[layer]!++;
      pc.peer.sendRtp('1', rtpPacket(96, s, s * 3000, SIM[layer]!, vp8(key, layer, counter)), 12 + 200);
    };
    sending = true;
    const pump = (async () => {
      let tick = 0;
      while (sending) {
        counter++;
        for (let l = 0; l < 3; l++) sendLayer(l, tick % 50 === 0);
        tick++;
        await sleep(10);
      }
    })();

    const layerOf = (b: Buffer): number => b[rtpHeaderLength(b, b.length) + 100]!;
    const counterOf = (b: Buffer): number => b.readUInt32BE(rtpHeaderLength(b, b.length) + 101);
    await waitFor('every subscriber receives layer 2', () => subs.every((s) => s.c.rtp.filter((p) => p.stream.kind === 'video' && layerOf(p.bytes) === 2).length >= 50), 15_000).catch((err: Error) => {
      throw new Error(`${err.message}: received ${JSON.stringify(subs.map((s) => [s.c.rtp.length, s.c.rtp.slice(-1).map((p) => layerOf(p.bytes))]))}`);
    });
    for (const [i, s] of subs.entries()) {
      const all = s.c.rtp.filter((p) => p.stream.kind === 'video');
      // It may start on a lower layer whose keyframe came first; once on the top one it stays there.
      const video = all.slice(all.findIndex((p) => layerOf(p.bytes) === 2));
      assert.ok(video.every((p) => layerOf(p.bytes) === 2), `subscriber ${i} went back from the top layer`);
      // Decrypted (our payload bytes are there) and in order: the rewritten sequence numbers and our
      // counters both go up by one.
      for (let k = 1; k < video.length; k++) {
        const a = video[k - 1]!.bytes;
        const b = video[k]!.bytes;
        assert.equal((a.readUInt16BE(2) + 1) & 0xffff, b.readUInt16BE(2), `subscriber ${i}: sequence gap at ${k}`);
        assert.equal(counterOf(a) + 1, counterOf(b), `subscriber ${i}: payload out of order at ${k}`);
      }
    }

    // Simulcast: remote subscriber 0 switches to layer 0, the others stay on 2.
    const r0 = subs[0]!;
    const before0 = r0.c.rtp.length;
    const evFrom = client.events.length;
    const cfg = await message(r0.session, r0.handle, { request: 'configure', substream: 0 });
    assert.equal(cfg.plugindata?.data['configured'], 'ok', JSON.stringify(cfg));
    await waitFor('the substream event for the remote subscriber', () => (client.events.slice(evFrom) as Ev[]).find((e) => (e as { sender?: number }).sender === r0.handle && e.plugindata?.data['substream'] === 0), 8000);
    await waitFor('layer 0 packets at the remote subscriber', () => r0.c.rtp.slice(before0).filter((p) => layerOf(p.bytes) === 0).length >= 30, 8000);
    const after = r0.c.rtp.slice(before0);
    const firstLow = after.findIndex((p) => layerOf(p.bytes) === 0);
    assert.ok(after.slice(firstLow).every((p) => layerOf(p.bytes) === 0), 'after the switch only layer 0');
    const s1From = subs[1]!.c.rtp.length;
    await sleep(300);
    assert.ok(subs[1]!.c.rtp.slice(s1From).every((p) => layerOf(p.bytes) === 2), 'the other remote subscriber stays on layer 2');

    // PLI from a remote subscriber reaches the publisher (rate limit: 500 ms per stream).
    await sleep(800);
    const plisBefore = plis.n;
    // A PLI as a browser sends it (our client Peer only asks for keyframes of streams it tracks as
    // its own, so the compound is written and protected by hand): media SSRC = the m-line's SSRC.
    const remote = subs[1]!;
    const mediaSsrc = remote.c.rtp.filter((p) => p.stream.kind === 'video').at(-1)!.bytes.readUInt32BE(8);
    const pli = Buffer.alloc(12);
    pli[0] = 0x81;
    pli[1] = 206;
    pli.writeUInt16BE(2, 2);
    pli.writeUInt32BE(0x5eed, 4);
    pli.writeUInt32BE(mediaSsrc, 8);
    (remote.c.peer as unknown as { sendRtcpCompound(b: Buffer, n: number): void }).sendRtcpCompound(pli, 12);
    await waitFor('the remote subscriber\'s PLI at the publisher', () => plis.n > plisBefore, 5000);

    // Unpublish: remote subscribers get an `updated` offer whose stream is gone.
    sending = false;
    await pump;
    const evUnpub = client.events.length;
    const un = await message(ph.session, ph.handle, { request: 'unpublish' });
    assert.equal(un.plugindata?.data['unpublished'], 'ok', JSON.stringify(un));
    for (const s of subs.slice(0, 2)) {
      const upd = await waitFor('updated for a remote subscriber', () => (client.events.slice(evUnpub) as Ev[]).find((e) => (e as { sender?: number }).sender === s.handle && e.plugindata?.data['videoroom'] === 'updated'), 8000);
      const streams = upd.plugindata?.data['streams'] as Array<{ active: boolean }>;
      assert.ok(streams.every((x) => x.active === false), JSON.stringify(upd.plugindata?.data));
    }

    // The subscriber worker dies: its subscribers are hung up, the room's worker keeps going.
    const hupFrom = client.events.length;
    other.exitForTests(3);
    await waitFor('remote subscribers hung up', () => client.events.slice(hupFrom).filter((e) => e.janus === 'hangup').length >= 2, 8000);
    const local = subs[2]!;
    const info = await gw.admin.handle({ janus: 'handle_info', transaction: 'hi2', session_id: local.session, handle_id: local.handle });
    assert.equal((info as { janus: string }).janus, 'success');
    await waitFor('the worker restarted', () => other.restarts === 1 && !other.exited && other.mediaMetrics !== null, 30_000);
  } finally {
    sending = false;
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => pool.workers.every((x) => x.exited), 3000);
});

type World = Awaited<ReturnType<typeof makeVideoRoomWorld>>;

async function publisher(w: World, clients: ClientPeer[], room: number) {
  const pc = await makeClient();
  clients.push(pc);
  const ph = await w.attach();
  const joined = await w.message(ph.session, ph.handle, { request: 'join', ptype: 'publisher', room, display: 'speaker' });
  const pubId = joined.plugindata?.data['id'] as number;
  const conf = await w.message(ph.session, ph.handle, { request: 'configure', audio: true, video: true }, { type: 'offer', sdp: publisherOffer(pc) });
  assert.ok(conf.jsep, JSON.stringify(conf));
  applyAnswer(pc, conf.jsep.sdp);
  await waitFor('publisher DTLS up', () => pc.up, 8000);
  // Announced once the server's side of its PeerConnection is up too.
  for (let i = 0; i < 50; i++) {
    const l = await w.message(ph.session, ph.handle, { request: 'listparticipants', room });
    if ((l.plugindata?.data['participants'] as Array<{ id: number; publisher: boolean }> | undefined)?.some((p) => p.id === pubId && p.publisher)) break;
    await sleep(100);
  }
  return { ...ph, pc, pubId };
}

async function subscriber(w: World, clients: ClientPeer[], room: number, pubId: number, on: number) {
  const c = await makeClient();
  clients.push(c);
  const h = await w.attach();
  w.vr.subscriberPlacement = () => w.pool.workers[on] ?? null;
  const att = await w.message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room, streams: [{ feed: pubId, mid: '1' }] });
  w.vr.subscriberPlacement = null;
  assert.equal(att.plugindata?.data['videoroom'], 'attached', JSON.stringify(att));
  const started = await w.message(h.session, h.handle, { request: 'start' }, { type: 'answer', sdp: answerOffer(c, att.jsep!.sdp) });
  assert.equal(started.plugindata?.data['started'], 'ok', JSON.stringify(started));
  await waitFor('subscriber DTLS up', () => c.up, 8000);
  assert.equal(await w.workerOf(h.session, h.handle), on);
  return { ...h, c };
}

test('VideoRoom across workers: a destroyed room and a dead room worker reach the remote subscribers', { timeout: 120_000 }, async () => {
  const w = await makeVideoRoomWorld('vr-ring-');
  const clients: ClientPeer[] = [];
  try {
    const rw = w.vr.rooms.get(String(ROOM))!;
    const other = w.pool.workers.find((x) => x !== rw)!;
    // An API room on the same worker as the jcfg one, destroyed with a remote subscriber in it.
    const admin = await w.attach();
    w.vr.subscriberPlacement = null;
    const created = await w.message(admin.session, admin.handle, { request: 'create', room: 77, publishers: 2, fir_freq: 0 });
    assert.equal(created.plugindata?.data['videoroom'], 'created', JSON.stringify(created));
    const r77 = w.vr.rooms.get('77')!;
    const far = w.pool.workers.find((x) => x !== r77)!;
    const p77 = await publisher(w, clients, 77);
    const s77 = await subscriber(w, clients, 77, p77.pubId, far.index);
    const from = w.client.events.length;
    const destroyed = await w.message(admin.session, admin.handle, { request: 'destroy', room: 77 });
    assert.equal(destroyed.plugindata?.data['videoroom'], 'destroyed', JSON.stringify(destroyed));
    await waitFor('`destroyed` at the remote subscriber', () => (w.client.events.slice(from) as Ev[]).find((e) => (e as { sender?: number }).sender === s77.handle && e.plugindata?.data['videoroom'] === 'destroyed'), 8000);
    await waitFor('its PeerConnection hung up', () => w.client.events.slice(from).find((e) => e.janus === 'hangup' && (e as { sender?: number }).sender === s77.handle), 8000);

    // The jcfg room: its worker dies; the remote subscriber loses the stream (an `updated` offer without it).
    const pub = await publisher(w, clients, ROOM);
    const sub = await subscriber(w, clients, ROOM, pub.pubId, other.index);
    const before = w.client.events.length;
    rw.exitForTests(5);
    const upd = await waitFor('`updated` at the remote subscriber', () => (w.client.events.slice(before) as Ev[]).find((e) => (e as { sender?: number }).sender === sub.handle && e.plugindata?.data['videoroom'] === 'updated'), 8000);
    const streams = upd.plugindata?.data['streams'] as Array<{ active: boolean }>;
    assert.ok(streams.every((x) => x.active === false), JSON.stringify(upd.plugindata?.data));
    // Its own PeerConnection (on the living worker) is not hung up.
    await sleep(500);
    assert.equal(w.client.events.slice(before).filter((e) => e.janus === 'hangup' && (e as { sender?: number }).sender === sub.handle).length, 0);
    await waitFor('the room worker restarted', () => rw.restarts === 1 && !rw.exited && rw.mediaMetrics !== null, 30_000);
  } finally {
    for (const c of clients) c.close();
    await w.gw.stop();
    rmSync(w.dir, { recursive: true, force: true });
  }
});
