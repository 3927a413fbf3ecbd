/**
 * VideoRoom remote publishers through the plugin, over real UDP on 127.0.0.1: a publisher of room
 * 9999 is `publish_remotely`d into an `add_remote_publisher` of room "b" of the same plugin (the wire
 * between them is the plain-RTP flow two gateways would use), a subscriber of room "b" gets its media;
 * keyframe requests walk back over the RTCP port. Publisher RTP is fed straight into the plugin
 * (deterministic packets and clock); what crosses is real datagrams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { buildPli } from '../../../src/media/rtcp/feedback.js';
import { CHROME_OFFER, CHROME_OFFER_SIMULCAST } from './fixtures.js';
import { Harness, type Data, type TestSession } from './harness.js';
import { info, MEDIA_ROOMS, publish, rtpPacket, seqs, subscribe, vp8Payload } from './media-helpers.js';
import { waitFor } from '../../media/peer/helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const AUDIO = info('0', 'audio', 0x1111);
const VIDEO = info('1', 'video', 0x2222);
const REMOTE_STREAMS = [
  { type: 'audio', mindex: 0, mid: '0', codec: 'opus' },
  { type: 'video', mindex: 1, mid: '1', codec: 'vp8' },
];

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

interface Cascade {
  h: Harness;
  pub: TestSession;
  admin: TestSession;
  sub: TestSession;
  remoteId: string;
  port: number;
  rtcpPort: number;
}

/** Room "b" with a remote publisher fed by alice of room 9999, and a subscriber of it in "b". */
async function cascade(opts: { offer?: string; streams?: Data[] } = {}): Promise<Cascade> {
  const h = await Harness.start(MEDIA_ROOMS);
  const admin = h.attach();
  assert.equal((await h.sync(admin, { request: 'create', room: 'b' })).videoroom, 'created');
  const pub = h.attach();
  await publish(h, pub, '9999', 'alice', opts.offer !== undefined ? { offer: opts.offer } : {});
  const add = await h.sync(admin, { request: 'add_remote_publisher', room: 'b', id: 'far-alice', display: 'alice (remote)', streams: opts.streams ?? REMOTE_STREAMS });
  assert.equal(add.videoroom, 'success', JSON.stringify(add));
  const port = add.port as number;
  const rtcpPort = add.rtcp_port as number;
  assert.ok(port > 0 && rtcpPort > 0 && port !== rtcpPort);
  const pr = await h.sync(admin, { request: 'publish_remotely', room: '9999', secret: 'secret', publisher_id: 'alice', remote_id: 'to-b', host: '127.0.0.1', port, rtcp_port: rtcpPort });
  assert.deepEqual(pr, { videoroom: 'success', room: '9999', id: 'alice', remote_id: 'to-b' });
  const sub = h.attach();
  await subscribe(h, sub, 'b', [{ feed: 'far-alice' }]);
  return { h, pub, admin, sub, remoteId: 'far-alice', port, rtcpPort };
}

test('publish_remotely into add_remote_publisher: a subscriber of the remote room gets the media (seq, payload, VP8 keyframe); PLIs reach the origin; unpublish_remotely stops it', { timeout: 30_000 }, async () => {
  const { h, pub, admin, sub } = await cascade();
  try {
    // Let the origin's RTCP latching packets reach the remote feed, and get past the join's keyframe requests.
    await sleep(100);
    h.time += 2000;
    h.host.clear();
    const payloads: Buffer[] = [];
    for (let i = 0; i < 10; i++) {
      const p = Buffer.from(`opus-${i}`);
      payloads.push(p);
      h.rtp(pub, AUDIO, rtpPacket({ pt: 111, seq: 65530 + i, ts: 960 * i, ssrc: 0x1111, payload: p }));
      h.rtp(pub, VIDEO, rtpPacket({ pt: 96, seq: 100 + i, ts: 3000 * i, ssrc: 0x2222, payload: vp8Payload({ pictureId: 10 + i, keyframe: i === 0 }) }));
    }
    const audio = await waitFor('ten audio packets at the remote subscriber', () => (h.host.rtpTo(sub, '0').length >= 10 ? h.host.rtpTo(sub, '0') : undefined), 5000);
    const video = await waitFor('ten video packets at the remote subscriber', () => (h.host.rtpTo(sub, '1').length >= 10 ? h.host.rtpTo(sub, '1') : undefined), 5000);
    const s0 = seqs(audio)[0]!;
    assert.deepEqual(seqs(audio), Array.from({ length: 10 }, (_, i) => (s0 + i) & 0xffff), 'continuous sequence numbers across the origin wrap');
    assert.deepEqual(audio.map((b) => b.subarray(b.length - payloads[0]!.length)).map(String), payloads.map(String), 'payloads as published');
    const v0 = seqs(video)[0]!;
    assert.deepEqual(seqs(video), Array.from({ length: 10 }, (_, i) => (v0 + i) & 0xffff));
    const first = video[0]!;
    const hdr = 12 + (first[0]! & 0x0f) * 4 + (first[0]! & 0x10 ? 4 + first.readUInt16BE(12 + (first[0]! & 0x0f) * 4 + 2) * 4 : 0);
    // VP8 descriptor (6 bytes here), then the key frame's start code.
    assert.deepEqual([...first.subarray(hdr + 6 + 3, hdr + 6 + 6)], [0x9d, 0x01, 0x2a], 'the first video packet is the VP8 key frame');

    // A PLI from the remote room's subscriber goes back over UDP to the origin and becomes a keyframe request to alice.
    // (A subscriber keeps asking while it waits: so does this one, every 2 s of the test clock, until the origin hears it.)
    h.host.plis.length = 0;
    const pli = buildPli(1, 2);
    const until = Date.now() + 8000;
    while (!h.host.plisTo(pub).includes('1')) {
      assert.ok(Date.now() < until, 'a keyframe request reached the origin publisher');
      h.time += 2000;
      h.plugin.incomingRtcp(sub, { mid: '1', mindex: 1, kind: 'video', ssrc: 0, substream: 0, rid: undefined }, pli, pli.length);
      await sleep(300);
    }

    // listforwarders does not show a remotization (as in Janus); listremotes does.
    assert.deepEqual(await h.sync(admin, { request: 'listforwarders', room: '9999', secret: 'secret' }), { videoroom: 'forwarders', room: '9999', publishers: [] });
    const lr = await h.sync(admin, { request: 'listremotes', room: '9999', secret: 'secret', publisher_id: 'alice' });
    assert.equal((lr.list as Data[]).length, 1);

    assert.deepEqual(await h.sync(admin, { request: 'unpublish_remotely', room: '9999', secret: 'secret', publisher_id: 'alice', remote_id: 'to-b' }), { videoroom: 'success', room: '9999', id: 'alice' });
    const before = h.host.rtpTo(sub).length;
    for (let i = 0; i < 5; i++) h.rtp(pub, AUDIO, rtpPacket({ pt: 111, seq: 20 + i, ts: 960 * (20 + i), ssrc: 0x1111 }));
    await sleep(150);
    assert.equal(h.host.rtpTo(sub).length, before, 'nothing more once unpublished remotely');
  } finally {
    await h.plugin.destroy();
  }
});

test('remove_remote_publisher: the remote room gets leaving, its subscriber an updated offer without the streams; its port is closed', { timeout: 30_000 }, async () => {
  const { h, admin, sub, port } = await cascade();
  try {
    const watcher = h.attach();
    assert.equal((await h.async(watcher, { request: 'join', ptype: 'publisher', room: 'b', id: 'w' })).videoroom, 'joined');
    h.host.clear();
    assert.deepEqual(await h.sync(admin, { request: 'remove_remote_publisher', room: 'b', id: 'far-alice' }), { videoroom: 'success' });
    assert.deepEqual(h.host.unsolicited(watcher), [{ videoroom: 'event', room: 'b', leaving: 'far-alice' }]);
    const upd = h.host.lastJsep(sub);
    assert.equal(upd?.data.videoroom, 'updated', JSON.stringify(upd?.data));
    // The port is free again: it can be bound by someone else.
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, () => resolve());
    });
    s.close();
    const parts = await h.sync(admin, { request: 'listparticipants', room: 'b' });
    assert.deepEqual(parts.participants, [{ id: 'w', publisher: false }]);
  } finally {
    await h.plugin.destroy();
  }
});

test('remote publisher intake: bad datagrams are dropped (unknown SSRC, substream of a non-simulcast stream, not RTP), never thrown; RTCP from anyone latches PLIs', { timeout: 30_000 }, async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const tx = await udp();
  const rtcpPeer = await udp();
  const got: Buffer[] = [];
  rtcpPeer.on('message', (m) => got.push(m));
  try {
    const admin = h.attach();
    const add = await h.sync(admin, { request: 'add_remote_publisher', room: '9999', secret: 'secret', streams: REMOTE_STREAMS });
    const id = add.id as string;
    const sub = h.attach();
    await subscribe(h, sub, '9999', [{ feed: id }]);
    h.host.clear();
    const send = (b: Buffer, port = add.port as number): void => tx.send(b, port, '127.0.0.1');
    send(Buffer.from('garbage'));
    send(rtpPacket({ pt: 96, seq: 1, ts: 1, ssrc: 999 }));
    send(rtpPacket({ pt: 96, seq: 1, ts: 1, ssrc: 1011, payload: vp8Payload({ pictureId: 1, keyframe: true }) }));
    send(rtpPacket({ pt: 96, seq: 1, ts: 1, ssrc: 1990 }));
    send(Buffer.from([0x81, 200, 0, 1, 0, 0, 0, 1]));
    send(rtpPacket({ pt: 96, seq: 7, ts: 70, ssrc: 1010, payload: vp8Payload({ pictureId: 1, keyframe: true }) }));
    await waitFor('the one valid video packet', () => (h.host.rtpTo(sub, '1').length >= 1 ? true : undefined), 5000);
    await sleep(100);
    assert.equal(h.host.rtpTo(sub).length, 1, 'only the valid packet went through');
    assert.ok(!h.log.lines.some((l) => l.level === 'error'), 'no packet path failure');
    // Latch on the RTCP port with an RTCP receiver report, then ask for a keyframe: a PLI for SSRC 1010 comes back.
    rtcpPeer.send(Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 9]), add.rtcp_port as number, '127.0.0.1');
    await sleep(100);
    h.time += 5000;
    const pli = buildPli(1, 2);
    h.plugin.incomingRtcp(sub, { mid: '1', mindex: 1, kind: 'video', ssrc: 0, substream: 0, rid: undefined }, pli, pli.length);
    const back = await waitFor('a PLI at the latched RTCP peer', () => got[0], 5000);
    assert.deepEqual([...back], [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0x03, 0xf2], 'PLI, sender SSRC 1, media SSRC 1010');
    assert.equal((rtcpPeer.address() as AddressInfo).port > 0, true);
  } finally {
    tx.close();
    rtcpPeer.close();
    await h.plugin.destroy();
  }
});

test('simulcast origin: each layer crosses under its own SSRC (1010, 1011, 1012) and the remote subscriber switches layers at keyframes', { timeout: 30_000 }, async () => {
  const { h, pub, sub } = await cascade({ offer: CHROME_OFFER_SIMULCAST, streams: [REMOTE_STREAMS[0]!, { ...REMOTE_STREAMS[1]!, simulcast: true }] });
  try {
    await sleep(100);
    h.host.clear();
    // Chrome's rids h, m, l: h is the top layer.
    const layers = [{ rid: 'l', sub: 0 }, { rid: 'm', sub: 1 }, { rid: 'h', sub: 2 }];
    const vinfo = layers.map((l) => info('1', 'video', 0x3000 + l.sub, { rid: l.rid, substream: l.sub }));
    for (let i = 0; i < 20; i++) {
      for (const l of layers) {
        const payload = Buffer.concat([vp8Payload({ pictureId: i, keyframe: i % 10 === 0 }), Buffer.from(`L${l.sub}`)]);
        h.rtp(pub, vinfo[l.sub]!, rtpPacket({ pt: 96, seq: 500 + i, ts: 3000 * i, ssrc: 0x3000 + l.sub, payload }));
      }
      await sleep(5);
    }
    const video = await waitFor('video at the remote subscriber', () => (h.host.rtpTo(sub, '1').length >= 15 ? h.host.rtpTo(sub, '1') : undefined), 5000);
    const tags = video.map((b) => b.subarray(b.length - 2).toString());
    // Layers come up one after the other at the start; then it stays on the top one (its default target).
    assert.deepEqual(tags.slice(-8), Array(8).fill('L2'), tags.join(','));
    h.host.clear();
    h.time += 1000;
    const conf = await h.async(sub, { request: 'configure', streams: [{ mid: '1', substream: 0 }] });
    assert.equal(conf.configured, 'ok', JSON.stringify(conf));
    for (let i = 20; i < 40; i++) {
      for (const l of layers) {
        const payload = Buffer.concat([vp8Payload({ pictureId: i, keyframe: i % 10 === 0 }), Buffer.from(`L${l.sub}`)]);
        h.rtp(pub, vinfo[l.sub]!, rtpPacket({ pt: 96, seq: 500 + i, ts: 3000 * i, ssrc: 0x3000 + l.sub, payload }));
      }
      await sleep(5);
    }
    const after = await waitFor('low layer at the remote subscriber', () => {
      const v = h.host.rtpTo(sub, '1');
      return v.some((b) => b.subarray(b.length - 2).toString() === 'L0') ? v : undefined;
    }, 5000);
    const s = seqs(after);
    for (let i = 1; i < s.length; i++) assert.equal(s[i], (s[i - 1]! + 1) & 0xffff, 'sequence numbers stay continuous across the layer switch');
  } finally {
    await h.plugin.destroy();
  }
});

test('remote publisher data stream: RTP-enveloped messages (payload type 1 binary, 0 text) reach data subscribers', { timeout: 30_000 }, async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const tx = await udp();
  try {
    const admin = h.attach();
    const add = await h.sync(admin, { request: 'add_remote_publisher', room: '9999', secret: 'secret', id: 'dc', streams: [...REMOTE_STREAMS, { type: 'data', mindex: 2, mid: '2' }] });
    assert.equal(add.videoroom, 'success', JSON.stringify(add));
    const sub = h.attach();
    await subscribe(h, sub, '9999', [{ feed: 'dc' }]);
    h.host.clear();
    const env = (pt: number, body: Buffer): Buffer => Buffer.concat([rtpPacket({ pt, seq: 0, ts: 0, ssrc: 1020, payload: Buffer.alloc(0) }), body]);
    tx.send(env(0, Buffer.from('hello')), add.port as number, '127.0.0.1');
    tx.send(env(1, Buffer.from([1, 2, 3])), add.port as number, '127.0.0.1');
    await waitFor('two data messages at the subscriber', () => (h.host.data.length >= 2 ? true : undefined), 5000);
    assert.deepEqual(h.host.data.map((d) => d.data), ['hello', Buffer.from([1, 2, 3])]);
  } finally {
    tx.close();
    await h.plugin.destroy();
  }
});

test('a remotization outlives unpublish: republishing forwards the new streams again', { timeout: 30_000 }, async () => {
  const { h, pub, admin, sub } = await cascade();
  try {
    assert.equal((await h.async(pub, { request: 'unpublish' })).unpublished, 'ok');
    const lr = await h.sync(admin, { request: 'listremotes', room: '9999', secret: 'secret', publisher_id: 'alice' });
    assert.deepEqual((lr.list as Data[]).map((r) => r.remote_id), ['to-b'], 'still listed after unpublish');
    const ev = await h.asyncFull(pub, { request: 'configure', audio: true, video: true }, { type: 'offer', sdp: CHROME_OFFER });
    assert.equal(ev.data.configured, 'ok');
    h.plugin.setupMedia(pub);
    await sleep(100);
    h.host.clear();
    for (let i = 0; i < 5; i++) h.rtp(pub, AUDIO, rtpPacket({ pt: 111, seq: 40 + i, ts: 960 * (40 + i), ssrc: 0x1111 }));
    await waitFor('audio of the republished stream at the remote subscriber', () => (h.host.rtpTo(sub, '0').length >= 5 ? true : undefined), 5000);
  } finally {
    await h.plugin.destroy();
  }
});

async function portFree(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      s.close();
    } catch {
      // never bound
    }
  }
}

test('a remote publisher\'s ports close when it is kicked, when its room is destroyed, and with the plugin', { timeout: 30_000 }, async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  try {
    const admin = h.attach();
    assert.equal((await h.sync(admin, { request: 'create', room: 'gone' })).videoroom, 'created');
    const a = await h.sync(admin, { request: 'add_remote_publisher', room: 'gone', id: 'r1', streams: REMOTE_STREAMS });
    const b = await h.sync(admin, { request: 'add_remote_publisher', room: '9999', secret: 'secret', id: 'r2', streams: REMOTE_STREAMS });
    const c = await h.sync(admin, { request: 'add_remote_publisher', room: '9999', secret: 'secret', id: 'r3', streams: REMOTE_STREAMS });
    for (const r of [a, b, c]) assert.equal(await portFree(r.port as number), false, 'bound while the remote publisher lives');
    assert.deepEqual(await h.sync(admin, { request: 'kick', room: '9999', secret: 'secret', id: 'r2' }), { videoroom: 'success' });
    assert.equal(await portFree(b.port as number), true, 'kicked: RTP port closed');
    assert.equal(await portFree(b.rtcp_port as number), true, 'kicked: RTCP port closed');
    assert.equal((await h.sync(admin, { request: 'destroy', room: 'gone' })).videoroom, 'destroyed');
    assert.equal(await portFree(a.port as number), true, 'room destroyed: port closed');
    await h.plugin.destroy();
    assert.equal(await portFree(c.port as number), true, 'plugin destroyed: port closed');
  } finally {
    await h.plugin.destroy().catch(() => undefined);
  }
});
