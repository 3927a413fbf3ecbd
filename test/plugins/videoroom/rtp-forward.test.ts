/**
 * VideoRoom RTP forwarders: `rtp_forward` / `stop_rtp_forward` / `listforwarders` through the plugin,
 * with the forwarded packets received on real UDP sockets on 127.0.0.1. Most tests feed publisher RTP
 * straight into the plugin (deterministic packets and clock); the last one publishes from our own
 * WebRTC client over real UDP (ICE, DTLS, SRTP) through the gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { SrtpContext } from '../../../src/media/srtp/context.js';
import { AES_CM_128_HMAC_SHA1_80 } from '../../../src/media/srtp/profiles.js';
import { VideoRoomPlugin } from '../../../src/plugins/videoroom/plugin.js';
import type { JanusMessage } from '../../../src/core/messages.js';
import { CHROME_OFFER_SIMULCAST } from './fixtures.js';
import { Harness, vrError, type Data, type TestSession } from './harness.js';
import { info, MEDIA_ROOMS, publish, rtpPacket, vp8Payload } from './media-helpers.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket as plainRtp, waitFor } from '../../media/peer/helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A UDP receiver on 127.0.0.1 that keeps every datagram. */
class Receiver {
  readonly packets: Buffer[] = [];
  private constructor(readonly socket: Socket) {
    socket.on('message', (m: Buffer) => this.packets.push(m));
  }
  static async open(): Promise<Receiver> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new Receiver(s);
  }
  get port(): number {
    return (this.socket.address() as AddressInfo).port;
  }
  async waitCount(n: number, what: string): Promise<Buffer[]> {
    return waitFor(what, () => (this.packets.length >= n ? this.packets : undefined), 3000);
  }
  close(): void {
    this.socket.close();
  }
}

const seq = (b: Buffer): number => b.readUInt16BE(2);
const ts = (b: Buffer): number => b.readUInt32BE(4);
const ssrc = (b: Buffer): number => b.readUInt32BE(8);
const pt = (b: Buffer): number => b[1]! & 0x7f;

async function published(h: Harness, id = 'alice', opts: { offer?: string } = {}): Promise<TestSession> {
  const s = h.attach();
  await publish(h, s, '9999', id, opts);
  return s;
}

const AUDIO = info('0', 'audio', 0x1111);
const VIDEO = info('1', 'video', 0x2222);

test('rtp_forward: audio and video to UDP with requested SSRC/PT, continuous seq, same payload; keyframe asked; stop stops it', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const ra = await Receiver.open();
  const rv = await Receiver.open();
  try {
    const s = await published(h);
    h.host.clear();
    const admin = h.attach();
    const r = await h.sync(admin, {
      request: 'rtp_forward', room: '9999', secret: 'secret', publisher_id: 'alice', host: '127.0.0.1',
      streams: [{ mid: '0', port: ra.port, ssrc: 0xabcdef, pt: 100 }, { mid: '1', port: rv.port }],
    });
    assert.equal(r.videoroom, 'rtp_forward');
    assert.equal(r.room, '9999');
    assert.equal(r.publisher_id, 'alice');
    const fw = r.forwarders as Data[];
    assert.equal(fw.length, 2);
    assert.deepEqual({ ...fw[0], stream_id: 0 }, { stream_id: 0, host: '127.0.0.1', port: ra.port, type: 'audio', pt: 100, ssrc: 0xabcdef });
    assert.deepEqual({ ...fw[1], stream_id: 0 }, { stream_id: 0, host: '127.0.0.1', port: rv.port, type: 'video' });
    assert.ok(typeof fw[0]!.stream_id === 'number' && fw[0]!.stream_id !== fw[1]!.stream_id);
    assert.deepEqual(h.host.plisTo(s), ['1'], 'a video forwarder starts with a keyframe request');

    const payloads: Buffer[] = [];
    for (let i = 0; i < 5; i++) {
      const p = Buffer.from(`opus-${i}`);
      payloads.push(p);
      h.rtp(s, AUDIO, rtpPacket({ pt: 111, seq: 65533 + i, ts: 1000 + 960 * i, ssrc: 0x1111, payload: p }));
      h.rtp(s, VIDEO, rtpPacket({ pt: 96, seq: 300 + i, ts: 9000 * i, ssrc: 0x2222, payload: vp8Payload({ pictureId: i, keyframe: i === 0 }) }));
    }
    const audio = await ra.waitCount(5, 'five forwarded audio packets');
    assert.deepEqual(audio.map(seq), [65533, 65534, 65535, 0, 1], "the publisher's own sequence numbers, wrap included");
    assert.deepEqual(audio.map(ssrc), [0xabcdef, 0xabcdef, 0xabcdef, 0xabcdef, 0xabcdef]);
    assert.deepEqual(audio.map(pt), [100, 100, 100, 100, 100]);
    assert.deepEqual(audio.map(ts), [1000, 1960, 2920, 3880, 4840]);
    assert.deepEqual(audio.map((b) => b.subarray(12)), payloads, 'payload as published');
    const video = await rv.waitCount(5, 'five forwarded video packets');
    assert.deepEqual(video.map(ssrc), [0x2222, 0x2222, 0x2222, 0x2222, 0x2222], 'SSRC and PT kept when not asked');
    assert.deepEqual(video.map(pt), [96, 96, 96, 96, 96]);
    assert.deepEqual(video.map(seq), [300, 301, 302, 303, 304]);

    const stop = await h.sync(admin, { request: 'stop_rtp_forward', room: '9999', secret: 'secret', publisher_id: 'alice', stream_id: fw[0]!.stream_id });
    assert.deepEqual(stop, { videoroom: 'stop_rtp_forward', room: '9999', publisher_id: 'alice', stream_id: fw[0]!.stream_id });
    h.rtp(s, AUDIO, rtpPacket({ pt: 111, seq: 2, ts: 5800, ssrc: 0x1111 }));
    h.rtp(s, VIDEO, rtpPacket({ pt: 96, seq: 305, ts: 45000, ssrc: 0x2222, payload: vp8Payload({ pictureId: 5, keyframe: false }) }));
    await rv.waitCount(6, 'video still forwarded');
    await sleep(50);
    assert.equal(ra.packets.length, 5, 'the stopped audio forwarder sends nothing more');
    assert.deepEqual(await h.sync(admin, { request: 'stop_rtp_forward', room: '9999', secret: 'secret', publisher_id: 'alice', stream_id: fw[0]!.stream_id }),
      vrError(428, `No such stream (${String(fw[0]!.stream_id)})`));
  } finally {
    ra.close();
    rv.close();
    await h.plugin.destroy();
  }
});

test('listforwarders shape; forwarders die with unpublish, leave and room destroy', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const rx = await Receiver.open();
  try {
    const alice = await published(h, 'alice');
    const bob = await published(h, 'bob');
    const admin = h.attach();
    const fwd = (who: string, extra: Data = {}) => h.sync(admin, { request: 'rtp_forward', room: '9999', secret: 'secret', publisher_id: who, host: '127.0.0.1', streams: [{ mid: '1', port: rx.port, rtcp_port: 9, ...extra }] });
    const a = ((await fwd('alice', { ssrc: 42 })).forwarders as Data[])[0]!;
    const b = ((await fwd('bob')).forwarders as Data[])[0]!;
    assert.ok(typeof a.local_rtcp_port === 'number' && a.local_rtcp_port > 0, 'rtcp_port opens a local RTCP port');
    assert.equal(a.remote_rtcp_port, 9);
    const list = await h.sync(admin, { request: 'listforwarders', room: '9999', secret: 'secret' });
    assert.deepEqual(list, {
      videoroom: 'forwarders',
      room: '9999',
      publishers: [
        { publisher_id: 'alice', display: 'alice', forwarders: [{ stream_id: a.stream_id, host: '127.0.0.1', port: rx.port, type: 'video', local_rtcp_port: a.local_rtcp_port, remote_rtcp_port: 9, ssrc: 42 }] },
        { publisher_id: 'bob', display: 'bob', forwarders: [b] },
      ],
    });
    assert.deepEqual(await h.sync(admin, { request: 'listforwarders', room: '9999' }), vrError(429, 'Missing mandatory element (secret)'));
    assert.deepEqual(await h.sync(admin, { request: 'listforwarders', room: '9999', secret: 'x' }), vrError(433, 'Unauthorized (wrong secret)'));

    // unpublish: alice's forwarder goes; her packets reach nobody.
    const un = await h.async(alice, { request: 'unpublish' });
    assert.equal(un.unpublished, 'ok');
    let l = await h.sync(admin, { request: 'listforwarders', room: '9999', secret: 'secret' });
    assert.deepEqual((l.publishers as Data[]).map((p) => p.publisher_id), ['bob']);
    // leave: bob's goes too.
    await h.async(bob, { request: 'leave' });
    l = await h.sync(admin, { request: 'listforwarders', room: '9999', secret: 'secret' });
    assert.deepEqual(l.publishers, []);
    h.rtp(bob, VIDEO, rtpPacket({ pt: 96, seq: 1, ts: 1, ssrc: 0x2222, payload: vp8Payload({ pictureId: 1, keyframe: true }) }));

    // room destroy: a new publisher's forwarder is gone with the room.
    const carol = await published(h, 'carol');
    await fwd('carol');
    h.rtp(carol, VIDEO, rtpPacket({ pt: 96, seq: 7, ts: 1, ssrc: 0x2222, payload: vp8Payload({ pictureId: 1, keyframe: true }) }));
    await rx.waitCount(1, 'carol forwarded');
    const before = rx.packets.length;
    await h.sync(admin, { request: 'destroy', room: '9999', secret: 'secret' });
    h.rtp(carol, VIDEO, rtpPacket({ pt: 96, seq: 8, ts: 2, ssrc: 0x2222, payload: vp8Payload({ pictureId: 2, keyframe: false }) }));
    await sleep(50);
    assert.equal(rx.packets.length, before, 'nothing forwarded after the room went');
    assert.equal(before, 1, 'only carol forwarded: alice (unpublished) and bob (left) never did');
  } finally {
    rx.close();
    await h.plugin.destroy();
  }
});

test('rtp_forward errors and auth: lock_rtp_forward with admin_key, room secret, validation order', async () => {
  const h = await Harness.start(MEDIA_ROOMS.replace('string_ids = true', 'string_ids = true\n  admin_key = "ak"\n  lock_rtp_forward = true'));
  try {
    await published(h);
    const admin = h.attach();
    const base: Data = { request: 'rtp_forward', room: '9999', publisher_id: 'alice', host: '127.0.0.1', streams: [{ mid: '0', port: 5000 }] };
    const q = (extra: Data, drop: string[] = []): Promise<Data> => {
      const b: Data = { ...base, ...extra };
      for (const k of drop) delete b[k];
      return h.sync(admin, b);
    };
    assert.deepEqual(await q({}, ['host']), vrError(429, 'Missing mandatory element (host)'));
    assert.deepEqual(await q({ host: 5 }), vrError(430, 'Invalid element type (host should be a string)'));
    assert.deepEqual(await q({ srtp_suite: -1 }), vrError(430, 'Invalid element type (srtp_suite should be a positive integer)'));
    assert.deepEqual(await q({}, ['room']), vrError(429, 'Missing mandatory element (room)'));
    assert.deepEqual(await q({}, ['publisher_id']), vrError(429, 'Missing mandatory element (publisher_id)'));
    assert.deepEqual(await q({ publisher_id: 7 }), vrError(430, 'Invalid element type (publisher_id should be a string)'));
    assert.deepEqual(await q({}), vrError(429, 'Missing mandatory element (admin_key)'));
    assert.deepEqual(await q({ admin_key: 'no' }), vrError(433, 'Unauthorized (wrong admin_key)'));
    const ok: Data = { admin_key: 'ak' };
    assert.deepEqual(await q({ ...ok, host_family: 'ipx' }), vrError(430, 'Unsupported protocol family (ipx)'));
    assert.deepEqual(await q({ ...ok, host: 'no.such.host.invalid' }), vrError(430, 'Could not resolve address (no.such.host.invalid)...'));
    assert.deepEqual(await q({ ...ok, host_family: 'ipv6' }), vrError(430, 'Could not resolve address (127.0.0.1)...'));
    assert.deepEqual(await q({ ...ok, streams: [{ port: 5000 }] }), vrError(429, 'Missing mandatory element (mid)'));
    assert.deepEqual(await q({ ...ok, streams: [7] }), vrError(429, 'Missing mandatory element (mid)'));
    assert.deepEqual(await q({ ...ok, streams: [{ mid: '0' }] }), vrError(429, 'Missing mandatory element (port)'));
    assert.deepEqual(await q({ ...ok, streams: [{ mid: '0', port: 5000, ssrc: 'x' }] }), vrError(430, 'Invalid element type (ssrc should be a positive integer)'));
    assert.deepEqual(await q({ ...ok, srtp_suite: 40, srtp_crypto: 'abc' }), vrError(430, 'Invalid SRTP suite (40)'));
    assert.deepEqual(await q({ ...ok, room: 'nope' }), vrError(426, 'No such room (nope)'));
    assert.deepEqual(await q(ok), vrError(429, 'Missing mandatory element (secret)'));
    assert.deepEqual(await q({ ...ok, secret: 'bad' }), vrError(433, 'Unauthorized (wrong secret)'));
    assert.deepEqual(await q({ ...ok, secret: 'secret', publisher_id: 'zed' }), vrError(428, 'No such feed (zed)'));
    // Unknown mids and unusable SRTP keys are skipped, as Janus does: success with fewer forwarders.
    const skipped = await q({ ...ok, secret: 'secret', srtp_suite: 80, srtp_crypto: 'c2hvcnQ=', streams: [{ mid: '9', port: 5000 }, { mid: '0', port: 5000 }] });
    assert.deepEqual(skipped, { videoroom: 'rtp_forward', room: '9999', publisher_id: 'alice', forwarders: [] });
    // stop_rtp_forward: the same lock.
    const stop: Data = { request: 'stop_rtp_forward', room: '9999', publisher_id: 'alice', stream_id: 1 };
    assert.deepEqual(await h.sync(admin, { ...stop, stream_id: undefined }), vrError(429, 'Missing mandatory element (stream_id)'));
    assert.deepEqual(await h.sync(admin, stop), vrError(429, 'Missing mandatory element (admin_key)'));
    assert.deepEqual(await h.sync(admin, { ...stop, admin_key: 'ak', secret: 'secret', publisher_id: 'zed' }), vrError(428, 'No such feed (zed)'));
    assert.deepEqual(await h.sync(admin, { ...stop, admin_key: 'ak', secret: 'secret' }), vrError(428, 'No such stream (1)'));
  } finally {
    await h.plugin.destroy();
  }
});

test('rtp_forward: legacy flat form, SRTP forwarder decryptable with the key', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const ra = await Receiver.open();
  const rv = await Receiver.open();
  const rs = await Receiver.open();
  try {
    const s = await published(h);
    const admin = h.attach();
    const legacy = await h.sync(admin, { request: 'rtp_forward', room: '9999', secret: 'secret', publisher_id: 'alice', host: '127.0.0.1', audio_port: ra.port, audio_pt: 101, video_port: rv.port });
    const rsd = legacy.rtp_stream as Data;
    assert.deepEqual(Object.keys(rsd), ['audio_stream_id', 'audio', 'video_stream_id', 'video', 'warning', 'host']);
    assert.equal(rsd.audio, ra.port);
    assert.equal(rsd.warning, 'deprecated_api');
    assert.equal(legacy.forwarders, undefined);

    const key = Buffer.alloc(30);
    for (let i = 0; i < 30; i++) key[i] = i * 7;
    const sr = await h.sync(admin, { request: 'rtp_forward', room: '9999', secret: 'secret', publisher_id: 'alice', host: '127.0.0.1', srtp_suite: 80, srtp_crypto: key.toString('base64'), streams: [{ mid: '0', port: rs.port }] });
    assert.equal((sr.forwarders as Data[])[0]!.srtp, true);

    const payload = Buffer.from('some opus bytes');
    h.rtp(s, AUDIO, rtpPacket({ pt: 111, seq: 10, ts: 960, ssrc: 0x1111, payload }));
    const [plain] = await ra.waitCount(1, 'legacy audio');
    assert.equal(pt(plain!), 101);
    const [prot] = await rs.waitCount(1, 'SRTP audio');
    assert.equal(prot!.length, plain!.length + 10, 'an 80-bit tag appended');
    assert.notDeepEqual(prot!.subarray(12, 12 + payload.length), payload, 'payload encrypted');
    const rx = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key.subarray(0, 16), key.subarray(16, 30));
    const copy = Buffer.from(prot!);
    const n = rx.unprotectRtp(copy, copy.length);
    assert.ok(n > 0, `unprotect failed (${n})`);
    assert.deepEqual(copy.subarray(12, n), payload);
  } finally {
    ra.close();
    rv.close();
    rs.close();
    await h.plugin.destroy();
  }
});

test('simulcast publisher: substream forwarders (port_2/port_3) get one layer each; simulcast:true follows the best layer at keyframes', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const r0 = await Receiver.open();
  const r2 = await Receiver.open();
  const rsim = await Receiver.open();
  try {
    const s = await published(h, 'alice', { offer: CHROME_OFFER_SIMULCAST });
    const admin = h.attach();
    const r = await h.sync(admin, {
      request: 'rtp_forward', room: '9999', secret: 'secret', publisher_id: 'alice', host: '127.0.0.1',
      streams: [{ mid: '1', port: r0.port, port_3: r2.port, ssrc_3: 333 }, { mid: '1', port: rsim.port, simulcast: true, ssrc: 777 }],
    });
    const fw = r.forwarders as Data[];
    assert.deepEqual(fw.map((f) => [f.port, f.substream, f.ssrc]), [[r0.port, undefined, undefined], [r2.port, 2, 333], [rsim.port, undefined, 777]]);
    // rids h/m/l: l is layer 0, h layer 2.
    const L = [info('1', 'video', 100, { rid: 'l' }), info('1', 'video', 200, { rid: 'm' }), info('1', 'video', 300, { rid: 'h' })];
    const send = (layer: number, n: number, key: boolean): void => {
      h.rtp(s, L[layer]!, rtpPacket({ pt: 96, seq: 1000 * layer + n, ts: 3000 * n, ssrc: 100 * (layer + 1), payload: vp8Payload({ pictureId: n, keyframe: key }) }));
    };
    // Only the low layer at first: the simulcast forwarder takes it at its keyframe.
    send(0, 1, true);
    send(0, 2, false);
    h.time += 20;
    // The high layer appears: the simulcast forwarder stays on low until high's keyframe.
    send(2, 1, false);
    send(0, 3, false);
    send(2, 2, true);
    send(0, 4, false);
    send(2, 3, false);
    await r0.waitCount(4, 'layer 0 forwarder');
    await r2.waitCount(3, 'layer 2 forwarder');
    const sim = await rsim.waitCount(5, 'simulcast forwarder');
    await sleep(30);
    assert.deepEqual(r0.packets.map(ssrc), [100, 100, 100, 100], 'substream 0 only');
    assert.deepEqual(r2.packets.map(ssrc), [333, 333, 333], 'substream 2 only, SSRC rewritten');
    assert.equal(sim.length, 5, 'low 1,2,3 then high 2,3');
    assert.deepEqual(sim.map(ssrc), [777, 777, 777, 777, 777]);
    const sq = sim.map(seq);
    for (let i = 1; i < sq.length; i++) assert.equal((sq[i]! - sq[i - 1]! + 0x10000) & 0xffff, 1, `continuous sequence numbers across the switch: ${sq.join(',')}`);
    assert.deepEqual(sim.map((b) => b.subarray(12).toString('hex')), [
      vp8Payload({ pictureId: 1, keyframe: true }), vp8Payload({ pictureId: 2, keyframe: false }), vp8Payload({ pictureId: 3, keyframe: false }),
      vp8Payload({ pictureId: 2, keyframe: true }), vp8Payload({ pictureId: 3, keyframe: false }),
    ].map((b) => b.toString('hex')));
  } finally {
    r0.close();
    r2.close();
    rsim.close();
    await h.plugin.destroy();
  }
});

test('rtcp_port: a PLI from the receiver becomes a keyframe request to the publisher; an unreachable target never throws', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const rx = await Receiver.open();
  const rtcp = await Receiver.open();
  try {
    const s = await published(h);
    const admin = h.attach();
    const r = await h.sync(admin, { request: 'rtp_forward', room: '9999', secret: 'secret', publisher_id: 'alice', host: '127.0.0.1', streams: [{ mid: '1', port: rx.port, rtcp_port: rtcp.port }, { mid: '0', port: 1 }] });
    const f = (r.forwarders as Data[])[0]!;
    const latch = await rtcp.waitCount(2, 'latching packets on the receiver RTCP port');
    assert.deepEqual(latch[0], Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    h.host.clear();
    h.time += 1000;
    const pli = Buffer.alloc(12);
    pli[0] = 0x81;
    pli[1] = 206;
    pli.writeUInt16BE(2, 2);
    rtcp.socket.send(pli, f.local_rtcp_port as number, '127.0.0.1');
    await waitFor('keyframe request from the receiver PLI', () => h.host.plisTo(s).length > 0 || undefined);
    assert.deepEqual(h.host.plisTo(s), ['1']);
    // Port 1 on localhost answers ICMP unreachable: sending there many times must stay harmless.
    for (let i = 0; i < 50; i++) h.rtp(s, AUDIO, rtpPacket({ pt: 111, seq: i, ts: i * 960, ssrc: 0x1111 }));
    await sleep(50);
    assert.ok(!h.log.lines.some((l) => l.level === 'error'), 'no packet path failure');
  } finally {
    rx.close();
    rtcp.close();
    await h.plugin.destroy();
  }
});

type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> } };

test('a WebRTC publisher (our client, real UDP, SRTP) forwarded as plain RTP to a UDP socket', { timeout: 20_000 }, async () => {
  const w = await makeWorld(undefined, { plugins: [new VideoRoomPlugin()] });
  const c = await makeClient();
  const rx = await Receiver.open();
  try {
    const s = ((await w.req({ janus: 'create' })).data as { id: number }).id;
    const attach = async (): Promise<number> => ((await w.req({ janus: 'attach', session_id: s, plugin: 'janus.plugin.videoroom' })).data as { id: number }).id;
    const pub = await attach();
    const adm = await attach();
    const msg = (handle: number, body: Data, jsep?: { type: string; sdp: string }) => w.req({ janus: 'message', session_id: s, handle_id: handle, body, ...(jsep ? { jsep } : {}) });
    const created = await msg(adm, { request: 'create', room: 4242, secret: 'sec' });
    assert.equal((created.plugindata as { data: Data }).data.videoroom, 'created');
    await msg(pub, { request: 'join', ptype: 'publisher', room: 4242, id: 55, display: 'web' }, undefined);
    await msg(pub, { request: 'configure', audio: true, video: true }, { type: 'offer', sdp: clientOffer(c) });
    const ev = await waitFor('the answer', () => (w.client.events as Ev[]).find((e) => e.jsep?.type === 'answer'));
    applyAnswer(c, ev.jsep!.sdp);
    await waitFor('client DTLS up', () => c.up);
    const r = await msg(adm, { request: 'rtp_forward', room: 4242, secret: 'sec', publisher_id: 55, host: '127.0.0.1', streams: [{ mid: '1', port: rx.port, ssrc: 5150, pt: 98 }] });
    const data = (r.plugindata as { data: Data }).data;
    assert.equal((data.forwarders as Data[]).length, 1, JSON.stringify(data));
    const frames = Array.from({ length: 10 }, (_, i) => Buffer.from(`frame-${i}`));
    for (let i = 0; i < 10; i++) c.peer.sendRtp('1', plainRtp(96, 500 + i, 3000 * i, 0x9999, frames[i]!), 12 + frames[i]!.length);
    const got = await rx.waitCount(10, 'ten forwarded packets over real UDP');
    assert.deepEqual(got.map(seq), [500, 501, 502, 503, 504, 505, 506, 507, 508, 509]);
    assert.ok(got.every((b) => ssrc(b) === 5150 && pt(b) === 98));
    // Whatever header extensions the client added, the payload is what was published.
    assert.deepEqual(got.map((b) => b.subarray(b.length - frames[0]!.length).toString()), frames.map((f) => f.toString()));
    // Data channel messages: the message itself is the datagram.
    const rd = await Receiver.open();
    try {
      const dr = await msg(adm, { request: 'rtp_forward', room: 4242, secret: 'sec', publisher_id: 55, host: '127.0.0.1', streams: [{ mid: '2', port: rd.port }] });
      assert.deepEqual(((dr.plugindata as { data: Data }).data.forwarders as Data[]).map((f) => f.type), ['data']);
      c.peer.sendData('chat', 'hello forwarder');
      const [d] = await waitFor('a forwarded data message', () => (rd.packets.length > 0 ? rd.packets : undefined), 8000);
      assert.equal(d!.toString(), 'hello forwarder');
    } finally {
      rd.close();
    }
    const list = await msg(adm, { request: 'listforwarders', room: 4242, secret: 'sec' });
    assert.equal(((list.plugindata as { data: Data }).data.publishers as Data[]).length, 1);
    // Hangup of the publisher's PeerConnection (DTLS close) ends the forwarder.
    c.close();
    let left = -1;
    for (let i = 0; i < 50 && left !== 0; i++) {
      await sleep(100);
      const l = await msg(adm, { request: 'listforwarders', room: 4242, secret: 'sec' });
      left = ((l.plugindata as { data: Data }).data.publishers as Data[]).length;
    }
    assert.equal(left, 0, 'no forwarder left after the hangup');
  } finally {
    rx.close();
    c.close();
    await w.stop();
  }
});
