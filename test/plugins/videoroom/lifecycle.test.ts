import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHROME_OFFER } from './fixtures.js';
import { Harness, vrError, type TestSession } from './harness.js';
import { answerFor, info, MEDIA_ROOMS, publish, pubJoin, rtpPacket, subscribe, vp8Payload } from './media-helpers.js';

const V = info('1', 'video', 2222);
const packet = (seq: number): Buffer => rtpPacket({ pt: 96, seq, ts: seq * 3000, ssrc: 2222, payload: vp8Payload({ pictureId: seq, keyframe: true }) });
const destroy = { request: 'destroy', room: '9999', secret: 'secret' };

/** After a destroy: the room is gone, packets from anyone go nowhere, nothing throws. */
function assertQuiet(h: Harness, sessions: TestSession[]): void {
  assert.equal(h.plugin.room('9999' as never), undefined);
  h.host.rtp.length = 0;
  for (const s of sessions) {
    h.rtp(s, V, packet(77));
    h.plugin.setupMedia(s);
    h.plugin.hangupMedia(s);
  }
  assert.equal(h.host.rtp.length, 0);
  assert.equal(h.log.lines.filter((l) => l.level === 'error').length, 0, h.log.lines.map((l) => l.msg).join('\n'));
}

test('destroy while a join is queued: the join fails cleanly', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const s = h.attach();
  const r = await h.plugin.handleMessage(s, 'j', pubJoin('9999', { id: 'late' }), null);
  assert.equal(r.kind, 'wait');
  assert.deepEqual(await h.sync(h.attach(), destroy), { videoroom: 'destroyed', room: '9999', permanent: false });
  await h.plugin.whenIdle();
  assert.deepEqual(h.host.events.find((e) => e.transaction === 'j')?.data, vrError(426, 'No such room (9999)'));
  assertQuiet(h, [s]);
});

test('destroy while a publish is queued and while a publisher negotiates (answered, PeerConnection not up)', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const queued = h.attach();
  await h.async(queued, pubJoin('9999', { id: 'q' }));
  const negotiating = h.attach();
  await publish(h, negotiating, '9999', 'n', { up: false });
  const r = await h.plugin.handleMessage(queued, 'p', { request: 'publish' }, { type: 'offer', sdp: CHROME_OFFER });
  assert.equal(r.kind, 'wait');
  await h.sync(h.attach(), destroy);
  await h.plugin.whenIdle();
  assert.deepEqual(h.host.events.find((e) => e.transaction === 'p')?.data, vrError(426, 'No such room'));
  assert.deepEqual(h.host.unsolicited(negotiating).at(-1), { videoroom: 'destroyed', room: '9999' });
  assert.ok(h.host.closed.some((c) => c.handleId === negotiating.handleId), 'the negotiating PeerConnection is closed');
  h.plugin.setupMedia(negotiating); // the PeerConnection comes up anyway: nobody is told
  assertQuiet(h, [queued, negotiating]);
});

test('destroy while a subscriber waits to answer, and while a renegotiation is pending', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const pub = h.attach();
  await publish(h, pub, '9999', 'alice');
  const bob = h.attach();
  await publish(h, bob, '9999', 'bob');
  const waiting = h.attach();
  const w = await subscribe(h, waiting, '9999', [{ feed: 'alice' }], { start: false });
  const reneg = h.attach();
  await subscribe(h, reneg, '9999', [{ feed: 'alice' }]);
  const up = await h.asyncFull(reneg, { request: 'subscribe', streams: [{ feed: 'bob' }] });
  assert.equal(up.jsep?.type, 'offer');
  await h.sync(h.attach(), destroy);
  for (const s of [waiting, reneg]) {
    assert.deepEqual(h.host.unsolicited(s).at(-1), { videoroom: 'destroyed', room: '9999' });
    assert.ok(h.host.closed.some((c) => c.handleId === s.handleId));
  }
  // The answers arrive late: refused cleanly.
  assert.deepEqual(await h.async(waiting, { request: 'start' }, answerFor(w.offer)), vrError(426, 'No such room'));
  assert.deepEqual(await h.async(reneg, { request: 'start' }, answerFor(up.jsep!)), vrError(426, 'No such room'));
  assert.deepEqual(await h.async(reneg, { request: 'configure', streams: [{ mid: '0', send: false }] }), vrError(426, 'No such room'));
  assertQuiet(h, [pub, bob, waiting, reneg]);
});

test('destroy with requests of every kind in flight at once', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const pub = h.attach();
  await publish(h, pub, '9999', 'alice');
  const sub = h.attach();
  const { offer } = await subscribe(h, sub, '9999', [{ feed: 'alice' }], { start: false });
  const fresh = h.attach();
  const txs = ['a', 'b', 'c', 'd', 'e'];
  await h.plugin.handleMessage(sub, 'a', { request: 'start' }, answerFor(offer));
  await h.plugin.handleMessage(pub, 'b', { request: 'configure', bitrate: 1 }, { type: 'offer', sdp: CHROME_OFFER, update: true });
  await h.plugin.handleMessage(fresh, 'c', { request: 'join', ptype: 'subscriber', room: '9999', streams: [{ feed: 'alice' }] }, null);
  await h.sync(h.attach(), destroy);
  await h.plugin.handleMessage(sub, 'd', { request: 'switch', streams: [{ feed: 'alice', mid: '1', sub_mid: '1' }] }, null);
  await h.plugin.handleMessage(pub, 'e', { request: 'unpublish' }, null);
  await h.plugin.whenIdle();
  for (const tx of txs) {
    const ev = h.host.events.find((e) => e.transaction === tx);
    assert.equal(ev?.data.error_code, 426, `${tx}: ${JSON.stringify(ev?.data)}`);
  }
  assertQuiet(h, [pub, sub, fresh]);
});

test('detach mid-negotiation: a publisher that never came up, a subscriber that never answered', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const watcher = h.attach();
  await h.async(watcher, pubJoin('9999', { id: 'w' }));
  const pub = h.attach();
  await publish(h, pub, '9999', 'p', { up: false });
  h.detach(pub);
  h.plugin.setupMedia(pub);
  assert.ok(!h.host.unsolicited(watcher).some((e) => e.publishers !== undefined), 'never announced');
  assert.deepEqual(h.host.unsolicited(watcher).at(-1), { videoroom: 'event', room: '9999', leaving: 'p', display: 'p' });
  assert.equal(h.plugin.room('9999' as never)!.publisherCount(), 0, 'the slot is free');

  const alice = h.attach();
  await publish(h, alice, '9999', 'alice');
  const sub = h.attach();
  await subscribe(h, sub, '9999', [{ feed: 'alice' }], { start: false });
  const room = h.plugin.room('9999' as never)!;
  const streams = room.participants.get('alice' as never)!.media.streams;
  assert.equal(streams[1]!.subscribers.length, 1);
  h.detach(sub);
  assert.equal(streams[1]!.subscribers.length, 0, 'detached subscriber unbound');
  assert.equal(room.subscribers.size, 0);
  // The publisher detaching with a live subscriber: the subscriber is renegotiated, nothing dangles.
  const sub2 = h.attach();
  await subscribe(h, sub2, '9999', [{ feed: 'alice' }]);
  h.host.clear();
  h.detach(alice);
  assert.equal(h.host.lastJsep(sub2)?.data.videoroom, 'updated');
  h.rtp(alice, V, packet(1));
  assert.equal(h.host.rtp.length, 0);
});

test('subscriber leave and hangup; publisher kick closes its subscriptions', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const alice = h.attach();
  await publish(h, alice, '9999', 'alice');
  const me = h.attach();
  const joined = await h.async(me, pubJoin('9999', { id: 'me' }));
  const sub = h.attach();
  await subscribe(h, sub, '9999', [{ feed: 'alice' }], { extra: { private_id: joined.private_id } });
  const other = h.attach();
  await subscribe(h, other, '9999', [{ feed: 'alice' }]);
  h.plugin.hangupMedia(other);
  assert.deepEqual(await h.async(other, { request: 'pause' }), vrError(426, 'No such room'));
  await h.sync(h.attach(), { request: 'kick', room: '9999', secret: 'secret', id: 'me' });
  assert.ok(h.host.closed.some((c) => c.handleId === sub.handleId), "the kicked user's subscription is closed");
  const third = h.attach();
  await subscribe(h, third, '9999', [{ feed: 'alice' }]);
  assert.deepEqual(await h.async(third, { request: 'leave' }), { videoroom: 'event', room: '9999', left: 'ok' });
  const ps = h.plugin.room('9999' as never)!.participants.get('alice' as never)!.media.streams[1]!;
  assert.equal(ps.subscribers.length, 0);
});
