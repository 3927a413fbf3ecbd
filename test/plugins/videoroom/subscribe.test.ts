import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPli } from '../../../src/media/rtcp/feedback.js';
import { newVp8Info, parseVp8 } from '../../../src/codecs/vp8.js';
import { findRtpExtension } from '../../../src/media/rtp/extensions.js';
import { rtpHeaderLength } from '../../../src/media/rtp/header.js';
import { describeMedia, EXT } from '../../../src/media/sdp/negotiate.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { CHROME_OFFER, CHROME_OFFER_SIMULCAST } from './fixtures.js';
import { Harness, vrError, type TestSession } from './harness.js';
import { answerFor, info, MEDIA_ROOMS, publish, pubJoin, rtpPacket, seqs, subscribe, tss, vp8Payload } from './media-helpers.js';

const A = info('0', 'audio', 1111);
const V = info('1', 'video', 2222);

function audio(seq: number, ts: number, level = 30): Buffer {
  // Chrome's ids: audio level 1, abs-send-time 2, transport-cc 3, mid 4.
  return rtpPacket({ pt: 111, seq, ts, ssrc: 1111, ext: [{ id: 1, data: [0x80 | level] }, { id: 4, data: [0x30] }, { id: 3, data: [0, 7] }] });
}
function video(seq: number, ts: number, o: { ssrc?: number; key?: boolean; pic?: number; tid?: number; sync?: boolean; tl0?: number } = {}): Buffer {
  return rtpPacket({
    pt: 96,
    seq,
    ts,
    ssrc: o.ssrc ?? 2222,
    marker: true,
    ext: [{ id: 4, data: [0x31] }, { id: 13, data: [1] }],
    payload: vp8Payload({ pictureId: o.pic ?? seq, keyframe: o.key ?? false, tid: o.tid ?? 0, sync: o.sync ?? false, tl0: o.tl0 ?? 0 }),
  });
}

async function room(): Promise<{ h: Harness; pub: TestSession; sub: TestSession }> {
  const h = await Harness.start(MEDIA_ROOMS);
  const pub = h.attach();
  await publish(h, pub, '9999', 'alice');
  const sub = h.attach();
  await subscribe(h, sub, '9999', [{ feed: 'alice' }]);
  h.host.clear();
  return { h, pub, sub };
}

test('subscriber join: attached with Janus stream entries and an offer with the publisher codecs and our SSRCs', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const pub = h.attach();
  await publish(h, pub, '9999', 'alice');
  const sub = h.attach();
  const { attached, offer } = await subscribe(h, sub, '9999', [{ feed: 'alice', mid: '0' }, { feed: 'alice', mid: '1' }], { start: false });
  assert.deepEqual(attached, {
    videoroom: 'attached',
    room: '9999',
    streams: [
      { type: 'audio', active: true, mindex: 0, mid: '0', ready: false, send: true, feed_id: 'alice', feed_display: 'alice', feed_mid: '0', codec: 'opus' },
      { type: 'video', active: true, mindex: 1, mid: '1', ready: false, send: true, feed_id: 'alice', feed_display: 'alice', feed_mid: '1', codec: 'vp8' },
    ],
  });
  const d = parseSdp(offer.sdp);
  assert.equal(d.name, 'VideoRoom 9999');
  const [a, v] = describeMedia(d);
  assert.equal(a!.direction, 'sendonly');
  assert.equal(a!.codec, 'opus');
  assert.equal(a!.pt, 111);
  assert.equal(d.media[0]!.fmtps[0]?.raw, 'useinbandfec=1');
  assert.equal(v!.direction, 'sendonly');
  assert.equal(v!.codec, 'vp8');
  assert.equal(v!.pt, 96);
  // RTX next to the video codec, as Janus offers it (retransmissions and bandwidth probes use it).
  assert.deepEqual(d.media[1]!.formats, ['96', '97']);
  assert.equal(v!.rtxPt, 97);
  assert.equal(v!.fid.length, 1, 'a FID group pairs our video SSRC with its RTX SSRC');
  assert.equal(a!.mediaSsrcs.length, 1);
  assert.equal(v!.mediaSsrcs.length, 1);
  assert.notEqual(a!.mediaSsrcs[0], v!.mediaSsrcs[0]);
  assert.deepEqual(a!.msid, { stream: 'janus', track: 'janus0' });
  assert.deepEqual(a!.extmapIds, { [EXT.audioLevel]: 1, [EXT.mid]: 4 });
  // Janus's ids and set: abs-send-time and transport-cc on video (stamped by the core per subscriber).
  assert.deepEqual(v!.extmapIds, { [EXT.absSendTime]: 2, [EXT.transportWideCc]: 3, [EXT.mid]: 4, [EXT.playoutDelay]: 12, [EXT.videoOrientation]: 13 });
  assert.deepEqual(d.groups, [{ semantics: 'BUNDLE', mids: ['0', '1'] }]);
  // Legacy `feed` form works too; a mid the feed does not have is 428.
  const legacy = h.attach();
  const ev = await h.asyncFull(legacy, { request: 'join', ptype: 'subscriber', room: '9999', feed: 'alice', audio: false });
  assert.deepEqual((ev.data.streams as Array<Record<string, unknown>>).map((x) => x.type), ['video']);
  assert.deepEqual(await h.async(h.attach(), { request: 'join', ptype: 'subscriber', room: '9999', streams: [{ feed: 'alice', mid: '7' }] }), vrError(428, "No such mid '7' in feed alice"));
});

test('require_pvtid: subscribers need a valid private_id', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const pub = h.attach();
  await publish(h, pub, 'pvt', 'alice');
  const j = await h.async(h.attach(), pubJoin('pvt', { id: 'me' }));
  assert.deepEqual(await h.async(h.attach(), { request: 'join', ptype: 'subscriber', room: 'pvt', streams: [{ feed: 'alice' }] }), vrError(433, 'Unauthorized (this room requires a valid private_id)'));
  assert.deepEqual(await h.async(h.attach(), { request: 'join', ptype: 'subscriber', room: 'pvt', private_id: 42, streams: [{ feed: 'alice' }] }), vrError(433, 'Unauthorized (this room requires a valid private_id)'));
  const ok = await h.asyncFull(h.attach(), { request: 'join', ptype: 'subscriber', room: 'pvt', private_id: j.private_id, streams: [{ feed: 'alice' }] });
  assert.equal(ok.data.videoroom, 'attached');
});

test('forwarding: continuous seq/ts per subscriber, extensions rebuilt for the subscriber, right mids, nothing before start', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const pub = h.attach();
  await publish(h, pub, '9999', 'alice');
  const early = h.attach();
  await subscribe(h, early, '9999', [{ feed: 'alice' }], { start: false });
  const sub = h.attach();
  await subscribe(h, sub, '9999', [{ feed: 'alice' }]);
  for (let i = 0; i < 5; i++) {
    h.rtp(pub, A, audio(5000 + i, 960 * i, 20 + i));
    h.rtp(pub, V, video(100 + i, 3000 * i, { key: i === 0 }));
  }
  assert.equal(h.host.rtpTo(early).length, 0, 'a subscriber that has not answered gets nothing');
  const a = h.host.rtpTo(sub, '0');
  const v = h.host.rtpTo(sub, '1');
  assert.equal(a.length, 5);
  assert.equal(v.length, 5);
  const as = seqs(a);
  for (let i = 1; i < 5; i++) assert.equal(as[i], (as[0]! + i) & 0xffff);
  const at = tss(a);
  for (let i = 1; i < 5; i++) assert.equal((at[i]! - at[0]!) >>> 0, 960 * i, 'timestamp deltas kept');
  // Audio level copied under the subscriber id (1); the publisher's mid and transport-cc are gone.
  assert.equal(a[3]![findRtpExtension(a[3]!, a[3]!.length, 1) >>> 8], 0x80 | 23);
  assert.equal(findRtpExtension(a[0]!, a[0]!.length, 4), -1);
  assert.equal(findRtpExtension(a[0]!, a[0]!.length, 3), -1);
  // Video orientation under 13, payload intact, pt as negotiated.
  assert.notEqual(findRtpExtension(v[0]!, v[0]!.length, 13), -1);
  // Room for the core's abs-send-time (2, 3 bytes) and transport-wide sequence number (3, 2 bytes).
  assert.equal(findRtpExtension(v[0]!, v[0]!.length, 2) & 0xff, 3);
  assert.equal(findRtpExtension(v[0]!, v[0]!.length, 3) & 0xff, 2);
  assert.equal(findRtpExtension(v[0]!, v[0]!.length, 4), -1);
  assert.equal(v[0]![1]! & 0x7f, 96);
  assert.deepEqual(v[0]!.subarray(v[0]!.length - 10), vp8Payload({ pictureId: 0, keyframe: true }).subarray(6), 'VP8 frame bytes intact');
  // The publisher's own buffer is untouched.
  const original = video(200, 1, {});
  const copy = Buffer.from(original);
  h.rtp(pub, V, original);
  assert.deepEqual(original, copy);
});

test('two subscribers get independent sequence spaces; pause stops, start resumes continuously with a keyframe request', async () => {
  const { h, pub, sub } = await room();
  const sub2 = h.attach();
  await subscribe(h, sub2, '9999', [{ feed: 'alice', mid: '1' }]);
  h.host.clear();
  h.rtp(pub, V, video(10, 0, { key: true }));
  h.rtp(pub, V, video(11, 3000));
  assert.equal(h.host.rtpTo(sub, '1').length, 2);
  assert.equal(h.host.rtpTo(sub2, '0').length, 2, 'the second subscriber has the video on its mid 0');
  assert.deepEqual(await h.async(sub, { request: 'pause' }), { videoroom: 'event', room: '9999', paused: 'ok' });
  h.rtp(pub, V, video(12, 6000));
  h.rtp(pub, V, video(13, 9000));
  assert.equal(h.host.rtpTo(sub, '1').length, 2, 'paused: nothing');
  assert.equal(h.host.rtpTo(sub2, '0').length, 4);
  h.time += 2000;
  h.host.plis.length = 0;
  assert.deepEqual(await h.async(sub, { request: 'start' }), { videoroom: 'event', room: '9999', started: 'ok' });
  assert.deepEqual(h.host.plisTo(pub), ['1']);
  h.rtp(pub, V, video(14, 12000, { key: true }));
  const v = h.host.rtpTo(sub, '1');
  assert.equal(v.length, 3);
  const s = seqs(v);
  assert.equal(s[2], (s[1]! + 1) & 0xffff, 'no sequence gap across the pause');
  const t = tss(v);
  assert.equal((t[2]! - t[1]!) >>> 0, 2000 * 90, 'timestamp advanced by the wall-clock pause');
});

test('switch: repoint an m-line to another publisher without renegotiation, continuity kept, keyframe asked', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const alice = h.attach();
  await publish(h, alice, '9999', 'alice');
  const bob = h.attach();
  await publish(h, bob, '9999', 'bob');
  const sub = h.attach();
  await subscribe(h, sub, '9999', [{ feed: 'alice', mid: '1' }]);
  h.host.clear();
  h.rtp(alice, V, video(100, 1000, { key: true }));
  h.rtp(alice, V, video(101, 4000));
  h.time += 40;
  const ev = await h.asyncFull(sub, { request: 'switch', streams: [{ feed: 'bob', mid: '1', sub_mid: '0' }] });
  assert.equal(ev.jsep, undefined, 'no renegotiation');
  assert.deepEqual(ev.data, {
    videoroom: 'event',
    switched: 'ok',
    room: '9999',
    changes: 1,
    streams: [{ type: 'video', active: true, mindex: 0, mid: '0', ready: true, send: true, feed_id: 'bob', feed_display: 'bob', feed_mid: '1', codec: 'vp8' }],
  });
  assert.deepEqual(h.host.plisTo(bob), ['1']);
  h.rtp(alice, V, video(102, 7000));
  h.rtp(bob, info('1', 'video', 9999), video(5000, 777777, { ssrc: 9999, key: true, pic: 3000 }));
  h.rtp(bob, info('1', 'video', 9999), video(5001, 780777, { ssrc: 9999, pic: 3001 }));
  const v = h.host.rtpTo(sub, '0');
  assert.equal(v.length, 4, 'alice is not forwarded after the switch');
  const s = seqs(v);
  assert.deepEqual(s.map((x) => (x - s[0]!) & 0xffff), [0, 1, 2, 3]);
  const t = tss(v);
  assert.equal((t[2]! - t[1]!) >>> 0, 40 * 90, 'timestamp follows the wall clock across the switch');
  assert.equal((t[3]! - t[2]!) >>> 0, 3000);
  // VP8 picture IDs continue too.
  const pic = (p: Buffer): number => {
    const i = newVp8Info();
    assert.ok(parseVp8(p, rtpHeaderLength(p, p.length), p.length - rtpHeaderLength(p, p.length), i));
    return i.pictureId;
  };
  assert.equal(pic(v[2]!), (pic(v[1]!) + 1) & 0x7fff);
  assert.equal(pic(v[3]!), (pic(v[1]!) + 2) & 0x7fff);
  // Mismatched kinds are refused.
  const bad = await h.async(sub, { request: 'switch', streams: [{ feed: 'bob', mid: '0', sub_mid: '0' }] });
  assert.equal(bad.error_code, 430);
  assert.deepEqual(await h.async(sub, { request: 'switch', streams: [{ feed: 'zed', mid: '0', sub_mid: '0' }] }), vrError(428, 'No such feed (zed)'));
});

test('subscriber PLI/FIR become rate-limited keyframe requests to the publisher; fir_freq asks periodically', async () => {
  const { h, pub, sub } = await room();
  h.time += 1000; // past the keyframe request of the subscriber's setup
  const pli = buildPli(1, 2);
  h.plugin.incomingRtcp(sub, { mid: '1', mindex: 1, kind: 'video', ssrc: 0, substream: 0, rid: undefined }, pli, pli.length);
  h.plugin.incomingRtcp(sub, { mid: '1', mindex: 1, kind: 'video', ssrc: 0, substream: 0, rid: undefined }, pli, pli.length);
  assert.deepEqual(h.host.plisTo(pub), ['1'], 'the second within 500 ms is absorbed');
  h.time += 600;
  h.plugin.incomingRtcp(sub, null, pli, pli.length);
  assert.deepEqual(h.host.plisTo(pub), ['1'], 'unknown stream and media SSRC: nothing');
  h.plugin.incomingRtcp(sub, { mid: '1', mindex: 1, kind: 'video', ssrc: 0, substream: 0, rid: undefined }, pli, pli.length);
  assert.deepEqual(h.host.plisTo(pub), ['1', '1']);
  // fir_freq = 10 s: the packet path asks every 10 s while video flows.
  h.host.plis.length = 0;
  h.rtp(pub, V, video(1, 0, { key: true }));
  h.time += 5000;
  h.rtp(pub, V, video(2, 1));
  h.time += 5001;
  h.rtp(pub, V, video(3, 2));
  assert.deepEqual(h.host.plisTo(pub), ['1', '1']);
});

test('a subscriber that has not had a keyframe keeps asking (rate-limited) until one is forwarded', async () => {
  const { h, pub, sub } = await room();
  h.time += 1000;
  h.rtp(pub, V, video(1, 0));
  h.rtp(pub, V, video(2, 1));
  assert.deepEqual(h.host.plisTo(pub), ['1'], 'one request, not one per packet');
  h.time += 600;
  h.rtp(pub, V, video(3, 2));
  assert.deepEqual(h.host.plisTo(pub), ['1', '1']);
  h.rtp(pub, V, video(4, 3, { key: true }));
  h.time += 600;
  h.rtp(pub, V, video(5, 4));
  assert.deepEqual(h.host.plisTo(pub), ['1', '1'], 'satisfied by the keyframe');
  assert.equal(h.host.rtpTo(sub, '1').length, 5, 'delta frames are still forwarded meanwhile');
});

test('simulcast (rid): forward only the target layer, switch at keyframes, fallback when a layer stops', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const pub = h.attach();
  await publish(h, pub, '9999', 'sim', { offer: CHROME_OFFER_SIMULCAST });
  const sub = h.attach();
  const { attached } = await subscribe(h, sub, '9999', [{ feed: 'sim', mid: '1' }]);
  assert.deepEqual((attached.streams as Array<Record<string, unknown>>)[0]!.simulcast, { substream: -1, 'substream-target': 2, 'temporal-layer': -1, 'temporal-layer-target': 2 });
  h.host.clear();
  // rids h/m/l (hml order): h is layer 2, l is layer 0.
  const L = [info('1', 'video', 100, { rid: 'l' }), info('1', 'video', 200, { rid: 'm' }), info('1', 'video', 300, { rid: 'h' })];
  let seq = [1000, 2000, 3000];
  const send = (layer: number, key = false): void => {
    const ssrc = [100, 200, 300][layer]!;
    h.rtp(pub, L[layer]!, video(seq[layer]!, seq[layer]! * 10, { ssrc, key, pic: seq[layer]! }));
    seq[layer]!++;
    h.time += 10;
  };
  send(0);
  send(1);
  send(2);
  assert.equal(h.host.rtpTo(sub).length, 0, 'no keyframe of the target layer yet');
  send(0, true);
  assert.equal(h.host.rtpTo(sub).length, 0, 'a keyframe of another layer is not the target');
  send(2, true);
  send(0);
  send(1);
  send(2);
  let out = h.host.rtpTo(sub);
  assert.equal(out.length, 2, 'layer 2 only, from its keyframe on');
  assert.deepEqual(h.host.unsolicited(sub).filter((e) => e.substream !== undefined), [{ videoroom: 'event', room: '9999', mid: '0', substream: 2 }]);
  // Target 0: keep layer 2 until a layer-0 keyframe arrives.
  assert.deepEqual(await h.async(sub, { request: 'configure', streams: [{ mid: '0', substream: 0 }] }), { videoroom: 'event', room: '9999', configured: 'ok' });
  send(0);
  send(2);
  assert.equal(h.host.rtpTo(sub).length, 3);
  send(0, true);
  send(2);
  send(0);
  out = h.host.rtpTo(sub);
  assert.equal(out.length, 5);
  const s = seqs(out);
  assert.deepEqual(s.map((x) => (x - s[0]!) & 0xffff), [0, 1, 2, 3, 4], 'continuous across the layer change');
  // Legacy configure (mvideoroomtest: top-level mid + substream) back to 2, then layer 2 stops: fall back to 1.
  await h.async(sub, { request: 'configure', mid: '0', substream: 2 });
  send(2, true);
  assert.equal(h.host.rtpTo(sub).length, 6, 'switched up at the layer-2 keyframe');
  h.time += 300; // > fallback (250 ms) without layer 2
  send(1);
  send(1, true);
  send(1);
  assert.equal(h.host.rtpTo(sub).length, 8, 'fell back to layer 1 at its keyframe');
  assert.deepEqual(h.host.unsolicited(sub).filter((e) => e.substream !== undefined).map((e) => e.substream), [2, 0, 2, 1]);
});

test('simulcast (SSRC SIM group) and VP8 temporal layers: drop above the target, continuous sequence numbers', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const pub = h.attach();
  const simOffer = CHROME_OFFER.replace(/a=ssrc-group:FID (\d+) (\d+)/, 'a=ssrc-group:SIM 11 22 33\r\na=ssrc-group:FID $1 $2');
  const { configured } = await publish(h, pub, '9999', 'ssrcsim', { offer: simOffer });
  assert.equal(((configured.streams as Array<Record<string, unknown>>)[1]!).simulcast, true);
  const sub = h.attach();
  await subscribe(h, sub, '9999', [{ feed: 'ssrcsim', mid: '1', substream: 0, temporal: 0 }]);
  h.host.clear();
  const low = info('1', 'video', 11);
  h.rtp(pub, low, video(1, 0, { ssrc: 11, key: true, tid: 0 }));
  h.rtp(pub, info('1', 'video', 33), video(900, 0, { ssrc: 33, key: true, tid: 0 }));
  h.rtp(pub, low, video(2, 1, { ssrc: 11, tid: 1 }));
  h.rtp(pub, low, video(3, 2, { ssrc: 11, tid: 0 }));
  h.rtp(pub, low, video(4, 3, { ssrc: 11, tid: 1 }));
  h.rtp(pub, low, video(5, 4, { ssrc: 11, tid: 0 }));
  const out = h.host.rtpTo(sub);
  assert.equal(out.length, 3, 'only temporal layer 0 of substream 0');
  const s = seqs(out);
  assert.deepEqual(s.map((x) => (x - s[0]!) & 0xffff), [0, 1, 2], 'dropped temporal packets leave no gap');
  // Raise the temporal target: higher layers flow again from a layer-sync packet.
  await h.async(sub, { request: 'configure', streams: [{ mid: '0', temporal: 2 }] });
  h.rtp(pub, low, video(6, 5, { ssrc: 11, tid: 1, sync: true }));
  h.rtp(pub, low, video(7, 6, { ssrc: 11, tid: 0 }));
  assert.equal(h.host.rtpTo(sub).length, 5);
  assert.ok(h.host.unsolicited(sub).some((e) => e.temporal === 1));
});

test('update/subscribe/unsubscribe: offers, coalescing while an offer is pending (updating), inactive m-lines reused', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const alice = h.attach();
  await publish(h, alice, '9999', 'alice');
  const bob = h.attach();
  await publish(h, bob, '9999', 'bob');
  const sub = h.attach();
  await subscribe(h, sub, '9999', [{ feed: 'alice' }]);
  // subscribe bob: new m-lines 2 and 3, offer with the reply
  const up = await h.asyncFull(sub, { request: 'subscribe', streams: [{ feed: 'bob' }] });
  assert.equal(up.data.videoroom, 'updated');
  assert.equal(up.jsep?.type, 'offer');
  assert.deepEqual((up.data.streams as Array<Record<string, unknown>>).map((x) => [x.mid, x.feed_id, x.active]), [['0', 'alice', true], ['1', 'alice', true], ['2', 'bob', true], ['3', 'bob', true]]);
  // While that offer waits: unsubscribe alice's audio is coalesced.
  const pending = await h.async(sub, { request: 'unsubscribe', streams: [{ feed: 'alice', mid: '0' }] });
  assert.deepEqual(pending, { videoroom: 'updating', room: '9999' });
  h.host.clear();
  await h.async(sub, { request: 'start' }, answerFor(up.jsep!));
  const next = h.host.lastJsep(sub);
  assert.ok(next, 'the coalesced change produces a new offer after the answer');
  assert.equal(next!.transaction, null);
  assert.equal(next!.data.videoroom, 'updated');
  const d = parseSdp(next!.jsep!.sdp);
  assert.deepEqual(d.media.map((m) => m.direction), ['inactive', 'sendonly', 'sendonly', 'sendonly']);
  assert.equal(d.media[0]!.port, 9, 'inactive m-lines stay in the bundle for reuse');
  await h.async(sub, { request: 'start' }, answerFor(next!.jsep!));
  // A new audio subscription reuses the inactive m-line 0.
  const re = await h.asyncFull(sub, { request: 'update', subscribe: [{ feed: 'alice', mid: '0' }] });
  assert.deepEqual((re.data.streams as Array<Record<string, unknown>>)[0]!.feed_id, 'alice');
  assert.equal(parseSdp(re.jsep!.sdp).media.length, 4);
  // Nothing to change: `updated` without an offer.
  await h.async(sub, { request: 'start' }, answerFor(re.jsep!));
  const none = await h.asyncFull(sub, { request: 'unsubscribe', streams: [{ feed: 'nobody-here' }] });
  assert.deepEqual(none.data, { videoroom: 'updated', room: '9999' });
  assert.equal(none.jsep, undefined);
  assert.deepEqual(await h.async(sub, { request: 'update' }), vrError(429, 'Missing mandatory element (subscribe|unsubscribe)'));
});

test('autoupdate: a publisher leaving deactivates its m-lines and offers again; its packets stop', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const alice = h.attach();
  await publish(h, alice, '9999', 'alice');
  const bob = h.attach();
  await publish(h, bob, '9999', 'bob');
  const sub = h.attach();
  await subscribe(h, sub, '9999', [{ feed: 'alice' }, { feed: 'bob' }]);
  const manual = h.attach();
  await subscribe(h, manual, '9999', [{ feed: 'alice' }], { extra: { autoupdate: false } });
  h.host.clear();
  assert.deepEqual(await h.async(alice, { request: 'leave' }), { videoroom: 'event', room: '9999', leaving: 'ok' });
  const ev = h.host.lastJsep(sub)!;
  assert.equal(ev.transaction, null);
  assert.deepEqual(ev.data, {
    videoroom: 'updated',
    room: '9999',
    streams: [
      { type: 'audio', active: false, mindex: 0, mid: '0', ready: true, send: true },
      { type: 'video', active: false, mindex: 1, mid: '1', ready: true, send: true },
      { type: 'audio', active: true, mindex: 2, mid: '2', ready: true, send: true, feed_id: 'bob', feed_display: 'bob', feed_mid: '0', codec: 'opus' },
      { type: 'video', active: true, mindex: 3, mid: '3', ready: true, send: true, feed_id: 'bob', feed_display: 'bob', feed_mid: '1', codec: 'vp8' },
    ],
  });
  assert.equal(h.host.lastJsep(manual), undefined, 'autoupdate false: no offer');
  assert.deepEqual(h.host.unsolicited(bob), [
    { videoroom: 'event', room: '9999', unpublished: 'alice' },
    { videoroom: 'event', room: '9999', leaving: 'alice', display: 'alice' },
  ]);
  h.rtp(alice, V, video(1, 1, { key: true }));
  assert.equal(h.host.rtp.length, 0);
  h.rtp(bob, V, video(1, 1, { key: true }));
  assert.equal(h.host.rtpTo(sub, '3').length, 1);
});

test('moderate mutes a stream (nothing forwarded, moderated flag); data channel messages reach data subscribers', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const pub = h.attach();
  const withData = CHROME_OFFER.replace(/a=group:BUNDLE 0 1/, 'a=group:BUNDLE 0 1 2') +
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n';
  const { configured } = await publish(h, pub, '9999', 'alice', { offer: withData });
  assert.deepEqual((configured.streams as unknown[])[2], { type: 'data', mindex: 2, mid: '2' });
  const sub = h.attach();
  const { attached, offer } = await subscribe(h, sub, '9999', [{ feed: 'alice' }]);
  assert.deepEqual((attached.streams as unknown[])[2], { type: 'data', active: true, mindex: 2, mid: '2', ready: false, send: true, sources: 1, source_ids: ['alice'] });
  assert.equal(parseSdp(offer.sdp).media[2]!.kind, 'application');
  h.plugin.incomingData(pub, 'JanusDataChannel', Buffer.from('hello'), false);
  h.plugin.incomingData(pub, 'bin', Buffer.from([1, 2]), true);
  assert.deepEqual(h.host.data, [
    { handleId: sub.handleId, label: 'JanusDataChannel', data: 'hello' },
    { handleId: sub.handleId, label: 'bin', data: Buffer.from([1, 2]) },
  ]);
  h.host.clear();
  const mod = await h.sync(h.attach(), { request: 'moderate', room: '9999', secret: 'secret', id: 'alice', mid: '0', mute: true });
  assert.deepEqual(mod, { videoroom: 'success' });
  h.rtp(pub, A, audio(1, 1));
  h.rtp(pub, V, video(1, 1, { key: true }));
  assert.deepEqual(h.host.rtp.map((r) => r.mid), ['1'], 'muted audio is not forwarded, video is');
  const j = await h.async(h.attach(), pubJoin('9999'));
  const streams = ((j.publishers as Array<Record<string, unknown>>)[0]!.streams as Array<Record<string, unknown>>);
  assert.equal(streams[0]!.moderated, true);
});

test('audio levels: talking / stopped-talking to every participant after audio_active_packets', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const other = h.attach();
  await h.async(other, pubJoin('talk', { id: 'o' }));
  const pub = h.attach();
  await publish(h, pub, 'talk', 'speaker');
  h.host.clear();
  for (let i = 0; i < 9; i++) h.rtp(pub, A, audio(i, i * 960, 10));
  assert.equal(h.host.unsolicited(other).length, 0, 'not before 10 packets');
  h.rtp(pub, A, audio(9, 9 * 960, 10));
  const talking = { videoroom: 'talking', room: 'talk', id: 'speaker', mindex: 0, mid: '0', 'audio-level-dBov-avg': 10 };
  assert.deepEqual(h.host.unsolicited(other), [talking]);
  assert.deepEqual(h.host.unsolicited(pub), [talking], 'the speaker is told too');
  for (let i = 0; i < 10; i++) h.rtp(pub, A, audio(20 + i, i * 960, 90));
  assert.deepEqual(h.host.unsolicited(other).at(-1), { ...talking, videoroom: 'stopped-talking', 'audio-level-dBov-avg': 90 });
});

test('subscriber configure with restart: configured plus a new offer flagged for an ICE restart, the same m-lines', async () => {
  const { h, sub } = await room();
  const before = h.host.lastJsep(sub);
  const ev = await h.asyncFull(sub, { request: 'configure', restart: true });
  assert.deepEqual(ev.data, { videoroom: 'event', room: '9999', configured: 'ok' });
  assert.equal(ev.jsep?.type, 'offer');
  assert.equal(ev.jsep?.restart, true, 'the media plane is asked for new ICE credentials');
  const mids = describeMedia(parseSdp(ev.jsep!.sdp)).map((m) => `${m.mid}:${m.kind}:${m.direction}`);
  assert.deepEqual(mids, ['0:audio:sendonly', '1:video:sendonly']);
  assert.equal(before, undefined, 'the harness was cleared after the first negotiation');
  // A plain configure answers without an offer.
  const plain = await h.asyncFull(sub, { request: 'configure', streams: [{ mid: '1', substream: 0 }] });
  assert.equal(plain.jsep, undefined);
});
