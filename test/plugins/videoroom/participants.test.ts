import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, SEED_VIDEOROOM_JCFG, vrError } from './harness.js';

const ROOMS = `general: {
  string_ids = true
}
room-open: {
  notify_joining = true
  secret = "s"
}
room-quiet: {
  secret = "s"
}
room-locked: {
  pin = "p2"
  secret = "s"
}
`;

const pub = (room: string, extra: Record<string, unknown> = {}) => ({ request: 'join', ptype: 'publisher', room, ...extra });

test('publisher join: joined event, private_id, attendees and joining with notify_joining', async () => {
  const h = await Harness.start(ROOMS);
  const a = h.attach();
  const b = h.attach();
  const ja = await h.async(a, pub('open', { id: 'a', display: 'alice', metadata: { k: 1 } }));
  assert.equal(ja.videoroom, 'joined');
  assert.equal(ja.room, 'open');
  assert.equal(ja.description, 'room-open');
  assert.equal(ja.id, 'a');
  assert.ok(Number.isSafeInteger(ja.private_id) && (ja.private_id as number) > 0, 'private_id stays an integer with string ids');
  assert.deepEqual(ja.publishers, []);
  assert.deepEqual(ja.attendees, []);
  const jb = await h.async(b, pub('open', { id: 'b', display: 'bob' }));
  assert.deepEqual(jb.attendees, [{ id: 'a', display: 'alice', metadata: { k: 1 } }]);
  assert.deepEqual(h.host.unsolicited(a), [{ videoroom: 'event', room: 'open', joining: { id: 'b', display: 'bob' } }]);
  assert.deepEqual(h.host.unsolicited(b), [], 'the joiner is not told about itself');
  const lp = await h.sync(h.attach(), { request: 'listparticipants', room: 'open' });
  assert.deepEqual(lp, {
    videoroom: 'participants', room: 'open',
    participants: [{ id: 'a', display: 'alice', metadata: { k: 1 }, publisher: false }, { id: 'b', display: 'bob', publisher: false }],
  });
  const list = (await h.sync(a, { request: 'list' })).list as Array<Record<string, unknown>>;
  assert.equal(list.find((r) => r.room === 'open')?.num_participants, 2);
});

test('without notify_joining: no attendees, no joining events; random string id', async () => {
  const h = await Harness.start(ROOMS);
  const a = h.attach();
  const b = h.attach();
  await h.async(a, pub('quiet', { id: 'a' }));
  const jb = await h.async(b, pub('quiet'));
  assert.equal(jb.attendees, undefined);
  assert.equal(typeof jb.id, 'string');
  assert.match(jb.id as string, /^[0-9a-f-]{36}$/, 'random ids are UUIDs with string_ids');
  assert.deepEqual(h.host.unsolicited(a), []);
});

test('join errors: ptype, room, pin, id clash, already joined, id type', async () => {
  const h = await Harness.start(ROOMS);
  const s = h.attach();
  assert.deepEqual(await h.async(s, { request: 'join', room: 'locked' }), vrError(429, 'Missing mandatory element (ptype)'));
  assert.deepEqual(await h.async(s, { request: 'join', ptype: 'publisher' }), vrError(429, 'Missing mandatory element (room)'));
  assert.deepEqual(await h.async(s, pub('nope')), vrError(426, 'No such room (nope)'));
  assert.deepEqual(await h.async(s, pub('locked')), vrError(429, 'Missing mandatory element (pin)'));
  assert.deepEqual(await h.async(s, pub('locked', { pin: 'bad' })), vrError(433, 'Unauthorized (wrong pin)'));
  assert.deepEqual(await h.async(s, { request: 'join', ptype: 'bogus', room: 'quiet' }), vrError(430, 'Invalid element (ptype)'));
  assert.deepEqual(await h.async(s, pub('quiet', { display: 5 })), vrError(430, 'Invalid element type (display should be a string)'));
  assert.deepEqual(await h.async(s, pub('quiet', { id: true })), vrError(430, 'Invalid element type (id should be a string)'));
  // The number-as-string leniency is for `room` only; participant ids stay strictly typed, as in Janus.
  assert.deepEqual(await h.async(s, pub('quiet', { id: 5 })), vrError(430, 'Invalid element type (id should be a string)'));
  assert.equal((await h.async(s, pub('locked', { pin: 'p2', id: 'a' }))).videoroom, 'joined');
  assert.deepEqual(await h.async(s, pub('locked', { pin: 'p2' })), vrError(425, 'Already in as a publisher on this handle'));
  const t = h.attach();
  assert.deepEqual(await h.async(t, pub('locked', { pin: 'p2', id: 'a' })), vrError(436, 'User ID a already exists'));
});

test('numeric mode: ids are integers, string ids refused', async () => {
  const h = await Harness.start('room-77: {}\n');
  const s = h.attach();
  assert.deepEqual(await h.async(s, pub('77' as never)), vrError(430, 'Invalid element type (room should be a positive integer)'));
  assert.deepEqual(await h.async(s, { request: 'join', ptype: 'publisher', room: 77, id: 'x' }), vrError(430, 'Invalid element type (id should be a positive integer)'));
  const j = await h.async(s, { request: 'join', ptype: 'publisher', room: 77, id: 5 });
  assert.equal(j.id, 5);
  assert.equal(j.room, 77);
  const k = await h.sync(h.attach(), { request: 'kick', room: 77, id: '5' });
  assert.deepEqual(k, vrError(430, 'Invalid element type (id should be a positive integer)'));
  const r = await h.async(h.attach(), { request: 'join', ptype: 'publisher', room: 77 });
  assert.ok(Number.isSafeInteger(r.id) && (r.id as number) > 0);
});

test('ACL: token required when enabled', async () => {
  const h = await Harness.start(ROOMS);
  const s = h.attach();
  await h.sync(s, { request: 'create', room: 'acl', allowed: ['t1'] });
  assert.deepEqual(await h.async(s, pub('acl')), vrError(433, 'Unauthorized (not in the allowed list)'));
  assert.deepEqual(await h.async(s, pub('acl', { token: 'bad' })), vrError(433, 'Unauthorized (not in the allowed list)'));
  assert.equal((await h.async(s, pub('acl', { token: 't1' }))).videoroom, 'joined');
});

test('configure: display/metadata broadcast to others only; errors before join', async () => {
  const h = await Harness.start(ROOMS);
  const a = h.attach();
  const b = h.attach();
  assert.deepEqual(await h.async(a, { request: 'configure' }), vrError(424, 'Invalid request on unconfigured participant'));
  assert.deepEqual(await h.async(a, { request: 'leave' }), vrError(424, 'Invalid request on unconfigured participant'));
  await h.async(a, pub('quiet', { id: 'a' }));
  await h.async(b, pub('quiet', { id: 'b', display: 'bob' }));
  assert.deepEqual(await h.async(b, { request: 'configure', display: 'bobby', metadata: { x: 2 } }), { videoroom: 'event', room: 'quiet', configured: 'ok' });
  assert.deepEqual(h.host.unsolicited(a), [{ videoroom: 'event', id: 'b', display: 'bobby', metadata: { x: 2 } }]);
  assert.deepEqual(h.host.unsolicited(b), []);
  assert.deepEqual(await h.async(b, { request: 'configure', bitrate: 'x' }), vrError(430, 'Invalid element type (bitrate should be a positive integer)'));
  assert.deepEqual(await h.async(b, { request: 'configure', bitrate: 128000 }), { videoroom: 'event', room: 'quiet', configured: 'ok' });
  assert.equal(h.host.unsolicited(a).length, 1, 'no broadcast when display/metadata did not change');
  assert.deepEqual(await h.async(b, { request: 'unpublish' }), vrError(435, "Can't unpublish, not published"));
  assert.deepEqual(await h.async(b, { request: 'start' }), vrError(423, "Unknown request 'start'"), 'not a publisher request');
});

test('leave: leaving events to others; the handle cannot be reused', async () => {
  const h = await Harness.start(ROOMS);
  const a = h.attach();
  const b = h.attach();
  await h.async(a, pub('quiet', { id: 'a' }));
  await h.async(b, pub('quiet', { id: 'b', display: 'bob' }));
  assert.deepEqual(await h.async(b, { request: 'leave' }), { videoroom: 'event', room: 'quiet', leaving: 'ok' });
  assert.deepEqual(h.host.unsolicited(a), [{ videoroom: 'event', room: 'quiet', leaving: 'b', display: 'bob' }]);
  assert.deepEqual(await h.async(b, { request: 'configure', display: 'x' }), vrError(426, 'No such room'));
  assert.deepEqual(await h.async(b, pub('quiet')), vrError(425, 'Not in a room (create a new handle)'));
  const lp = await h.sync(a, { request: 'listparticipants', room: 'quiet' });
  assert.deepEqual(lp.participants, [{ id: 'a', publisher: false }]);
});

test('kick: kicked user and the others get their events', async () => {
  const h = await Harness.start(ROOMS);
  const a = h.attach();
  const b = h.attach();
  const admin = h.attach();
  await h.async(a, pub('open', { id: 'a' }));
  await h.async(b, pub('open', { id: 'b', display: 'bob' }));
  h.host.clear();
  assert.deepEqual(await h.sync(admin, { request: 'kick', room: 'open', secret: 'x', id: 'b' }), vrError(433, 'Unauthorized (wrong secret)'));
  assert.deepEqual(await h.sync(admin, { request: 'kick', room: 'open', secret: 's', id: 'b' }), { videoroom: 'success' });
  assert.deepEqual(h.host.unsolicited(b), [{ videoroom: 'event', room: 'open', leaving: 'ok', reason: 'kicked' }]);
  assert.deepEqual(h.host.unsolicited(a), [{ videoroom: 'event', room: 'open', kicked: 'b', display: 'bob' }]);
  assert.deepEqual(await h.async(b, { request: 'leave' }), vrError(426, 'No such room'));
  assert.deepEqual(h.host.closed, [], 'no PeerConnection to close for a participant without media');
});

test('destroy with participants: each gets destroyed, nothing throws, handles become unusable', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const members = [h.attach(), h.attach(), h.attach()];
  for (const [i, m] of members.entries()) await h.async(m, pub('9999', { id: `u${i}` }));
  h.host.clear();
  const admin = h.attach();
  assert.deepEqual(await h.sync(admin, { request: 'destroy', room: '9999', secret: 'secret' }), { videoroom: 'destroyed', room: '9999', permanent: false });
  for (const m of members) assert.deepEqual(h.host.unsolicited(m), [{ videoroom: 'destroyed', room: '9999' }]);
  assert.equal(h.host.events.length, 3, 'no leaving/kicked noise besides destroyed');
  assert.deepEqual(await h.async(members[0]!, { request: 'leave' }), vrError(426, 'No such room'));
  h.detach(members[1]!);
  assert.deepEqual(h.plugin.querySession(members[2]!), { hangingup: 0, destroyed: 0 });
});

test('detach removes the participant and tells the others it left', async () => {
  const h = await Harness.start(ROOMS);
  const a = h.attach();
  const b = h.attach();
  await h.async(a, pub('quiet', { id: 'a' }));
  await h.async(b, pub('quiet', { id: 'b' }));
  h.detach(b);
  assert.deepEqual(h.host.unsolicited(a), [{ videoroom: 'event', room: 'quiet', leaving: 'b' }]);
  assert.equal(h.plugin.room('quiet' as never)!.participants.size, 1);
  h.plugin.hangupMedia(a);
  assert.equal(h.plugin.room('quiet' as never)!.participants.size, 1, 'hangup keeps the participant');
});

test('requests before joining answer like Janus 1.1.2 (424, 429 feed, 428)', async () => {
  const h = await Harness.start(ROOMS);
  const s = h.attach();
  assert.deepEqual(await h.async(s, { request: 'publish' }), vrError(424, 'Invalid request on unconfigured participant'));
  assert.deepEqual(await h.async(s, { request: 'join', ptype: 'subscriber', room: 'quiet', streams: [] }), vrError(429, 'Missing mandatory element (feed)'));
  assert.deepEqual(await h.async(s, { request: 'join', ptype: 'subscriber', room: 'quiet' }), vrError(429, 'Missing mandatory element (feed)'));
  assert.deepEqual(await h.async(s, { request: 'join', ptype: 'subscriber', room: 'quiet', streams: [{ feed: 'nobody' }] }), vrError(428, 'No such feed (nobody)'));
  for (const request of ['start', 'pause', 'switch', 'subscribe', 'unsubscribe', 'update', 'unpublish']) {
    assert.deepEqual(await h.async(s, { request }), vrError(424, 'Invalid request on unconfigured participant'));
  }
  const offer = { type: 'offer' as const, sdp: 'v=0\r\n' };
  assert.deepEqual(await h.async(s, pub('quiet'), offer), vrError(430, "Unexpected JSEP offer in 'join' (use 'joinandconfigure' or 'publish')"));
  assert.equal(h.plugin.room('quiet' as never)!.participants.size, 0, 'a refused join with JSEP does not join');
});

test('async events keep request order and go nowhere once the handle is gone', async () => {
  const h = await Harness.start(ROOMS);
  const s = h.attach();
  const r1 = await h.plugin.handleMessage(s, 'o1', pub('quiet', { id: 'a' }), null);
  const r2 = await h.plugin.handleMessage(s, 'o2', { request: 'configure', display: 'x' }, null);
  const r3 = await h.plugin.handleMessage(s, 'o3', { request: 'leave' }, null);
  assert.deepEqual([r1, r2, r3], [{ kind: 'wait' }, { kind: 'wait' }, { kind: 'wait' }]);
  assert.equal(h.host.events.length, 0, 'nothing is pushed before the ack');
  await h.plugin.whenIdle();
  assert.deepEqual(h.host.events.map((e) => [e.transaction, e.data.videoroom, e.data.configured ?? e.data.leaving ?? null]), [
    ['o1', 'joined', null], ['o2', 'event', 'ok'], ['o3', 'event', 'ok'],
  ]);
  const t = h.attach();
  await h.plugin.handleMessage(t, 'late', pub('quiet'), null);
  h.detach(t);
  await h.plugin.whenIdle();
  assert.equal(h.host.events.some((e) => e.transaction === 'late'), false);
  assert.equal(h.plugin.room('quiet' as never)!.participants.size, 0, 'a handle detached before its join ran never joins');
});

test('querySession describes the handle for Admin handle_info', async () => {
  const h = await Harness.start(ROOMS);
  const s = h.attach();
  assert.deepEqual(h.plugin.querySession(s), { hangingup: 0, destroyed: 0 });
  const j = await h.async(s, pub('quiet', { id: 'a', display: 'alice' }));
  assert.deepEqual(h.plugin.querySession(s), { type: 'publisher', room: 'quiet', id: 'a', private_id: j.private_id, display: 'alice', publishing: false, hangingup: 0, destroyed: 0 });
});
