import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './harness.js';

const DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$/;

test('join: reply lists the others; the joiner and the others get a join event', async () => {
  const h = await Harness.start();
  const a = h.client();
  const b = h.client();
  const ra = a.request({ textroom: 'join', room: 1234, username: 'alice', display: 'Alice' });
  assert.deepEqual(ra, { textroom: 'success', participants: [], transaction: ra!.transaction });
  assert.deepEqual(a.events(), [{ textroom: 'join', room: 1234, username: 'alice', display: 'Alice' }]);
  const rb = b.request({ textroom: 'join', room: 1234, username: 'bob' });
  assert.deepEqual(rb!.participants, [{ username: 'alice', display: 'Alice' }]);
  assert.deepEqual(b.events(), [{ textroom: 'join', room: 1234, username: 'bob' }], 'no display key when none was given');
  assert.deepEqual(a.events('join').at(-1), { textroom: 'join', room: 1234, username: 'bob' });
  await h.stop();
});

test('join errors: 417 no room, 413 missing username, 420 username taken, 421 already in room', async () => {
  const h = await Harness.start();
  const a = h.client();
  const b = h.client();
  const tx = (r: unknown) => (r as { transaction: string }).transaction;
  let r = a.request({ textroom: 'join', room: 9, username: 'x' });
  assert.deepEqual(r, { textroom: 'error', error_code: 417, error: 'No such room (9)', transaction: tx(r) });
  r = a.request({ textroom: 'join', room: 1234 });
  assert.deepEqual(r, { textroom: 'error', error_code: 413, error: 'Missing mandatory element (username)', transaction: tx(r) });
  r = a.request({ textroom: 'join', room: 1234, username: 7 });
  assert.equal(r!.error_code, 414);
  r = a.request({ textroom: 'join', room: 'abc', username: 'x' });
  assert.deepEqual(r!.error, 'Invalid element type (room should be a positive integer)');
  a.join(1234, 'alice');
  r = b.request({ textroom: 'join', room: 1234, username: 'alice' });
  assert.deepEqual([r!.error_code, r!.error], [420, 'Username already taken']);
  r = a.request({ textroom: 'join', room: 1234, username: 'alice2' });
  assert.deepEqual([r!.error_code, r!.error], [421, 'Already in room 1234']);
  assert.equal(h.plugin.room(1234)!.participants.size, 1, 'failed joins leave no trace');
  await h.stop();
});

test('join with pin (413/414/419) and token ACL (419 not in the allowed list)', async () => {
  const h = await Harness.start();
  const admin = h.client();
  admin.request({ textroom: 'create', room: 50, pin: 'p1', allowed: ['tok'] });
  const c = h.client();
  assert.deepEqual(c.request({ textroom: 'join', room: 50, username: 'u' })!.error, 'Missing mandatory element (pin)');
  assert.equal(c.request({ textroom: 'join', room: 50, username: 'u', pin: 1 })!.error_code, 414);
  assert.deepEqual(c.request({ textroom: 'join', room: 50, username: 'u', pin: 'bad' })!.error, 'Unauthorized (wrong pin)');
  const r = c.request({ textroom: 'join', room: 50, username: 'u', pin: 'p1' });
  assert.deepEqual([r!.error_code, r!.error], [419, 'Unauthorized (not in the allowed list)']);
  assert.equal(c.request({ textroom: 'join', room: 50, username: 'u', pin: 'p1', token: 'nope' })!.error_code, 419);
  assert.equal(c.request({ textroom: 'join', room: 50, username: 'u', pin: 'p1', token: 'tok' })!.textroom, 'success');
  await h.stop();
});

test('message: broadcast to everyone (sender included) with Janus date format; ack unless ack:false', async () => {
  const h = await Harness.start();
  const [a, b, c] = [h.client(), h.client(), h.client()];
  a.join(1234, 'a');
  b.join(1234, 'b');
  c.join(1234, 'c');
  for (const x of [a, b, c]) x.drain();
  const r = a.request({ textroom: 'message', room: 1234, text: 'hi all' });
  assert.deepEqual(r, { textroom: 'success', transaction: r!.transaction });
  for (const x of [a, b, c]) {
    const got = x.drain().filter((f) => f.textroom === 'message');
    assert.equal(got.length, 1);
    const m = got[0]!;
    assert.deepEqual(Object.keys(m), ['textroom', 'room', 'from', 'date', 'text']);
    assert.deepEqual([m.room, m.from, m.text], [1234, 'a', 'hi all']);
    assert.match(m.date as string, DATE_RE);
    assert.equal(m.whisper, undefined, 'public messages carry no whisper flag');
  }
  const before = a.raw.length;
  a.request({ textroom: 'message', room: 1234, text: 'quiet', ack: false });
  const after = a.frames.slice(before);
  assert.deepEqual(after.map((f) => f.textroom), ['message'], 'no success reply with ack:false');
  await h.stop();
});

test('whispers reach only their targets; sent map tells who got it', async () => {
  const h = await Harness.start();
  const [a, b, c, d] = [h.client(), h.client(), h.client(), h.client()];
  a.join(1234, 'a');
  b.join(1234, 'b');
  c.join(1234, 'c');
  d.join(1234, 'd');
  for (const x of [a, b, c, d]) x.drain();
  let r = a.request({ textroom: 'message', room: 1234, text: 'psst', to: 'b' });
  assert.deepEqual(r!.sent, { b: true });
  r = a.request({ textroom: 'message', room: 1234, text: 'group', tos: ['c', 'd', 'ghost'] });
  assert.deepEqual(r!.sent, { c: true, d: true, ghost: false });
  const texts = (x: typeof a) => x.drain().filter((f) => f.textroom === 'message').map((f) => [f.text, f.whisper, f.from]);
  assert.deepEqual(texts(a), [], 'the sender does not get its own whisper');
  assert.deepEqual(texts(b), [['psst', true, 'a']]);
  assert.deepEqual(texts(c), [['group', true, 'a']]);
  assert.deepEqual(texts(d), [['group', true, 'a']]);
  await h.stop();
});

test('message errors: 422 not in room, 414 both to and tos, 414 bad tos, 413 no text, 417 no room', async () => {
  const h = await Harness.start();
  const a = h.client();
  let r = a.request({ textroom: 'message', room: 1234, text: 'x' });
  assert.deepEqual([r!.error_code, r!.error], [422, 'Not in room 1234']);
  a.join(1234, 'a');
  r = a.request({ textroom: 'message', room: 1234, text: 'x', to: 'a', tos: ['a'] });
  assert.deepEqual([r!.error_code, r!.error], [414, 'Both to and tos array provided']);
  r = a.request({ textroom: 'message', room: 1234, text: 'x', tos: ['a', 3] });
  assert.deepEqual([r!.error_code, r!.error], [414, 'Invalid tos provided']);
  r = a.request({ textroom: 'message', room: 1234 });
  assert.deepEqual([r!.error_code, r!.error], [413, 'Missing mandatory element (text)']);
  r = a.request({ textroom: 'message', room: 1234, text: 'x', ack: 'yes' });
  assert.deepEqual([r!.error_code, r!.error], [414, 'Invalid element type (ack should be a boolean)']);
  r = a.request({ textroom: 'message', room: 4321, text: 'x' });
  assert.deepEqual([r!.error_code, r!.error], [417, 'No such room (4321)']);
  r = a.request({ textroom: 'message', room: 1234, text: 'x', ack: false, to: 5 });
  assert.equal(r!.error_code, 414, 'errors are reported even with ack:false');
  await h.stop();
});

test('leave: success, leave event to self and others; 422 when not in the room', async () => {
  const h = await Harness.start();
  const [a, b] = [h.client(), h.client()];
  a.join(1234, 'a');
  b.join(1234, 'b');
  a.drain();
  b.drain();
  const r = a.request({ textroom: 'leave', room: 1234 });
  assert.equal(r!.textroom, 'success');
  assert.deepEqual(a.events('leave'), [{ textroom: 'leave', room: 1234, username: 'a' }]);
  assert.deepEqual(b.events('leave'), [{ textroom: 'leave', room: 1234, username: 'a' }]);
  assert.equal(a.request({ textroom: 'leave', room: 1234 })!.error_code, 422);
  assert.equal(b.request({ textroom: 'leave', room: 77 })!.error_code, 417);
  await h.stop();
});

test('history: public messages and announcements replayed (with display) to joiners, bounded, opt-out', async () => {
  const h = await Harness.start();
  const admin = h.client();
  assert.equal(admin.request({ textroom: 'create', room: 60, history: 3, secret: 's' })!.textroom, 'success');
  const a = h.client();
  a.join(60, 'a', { display: 'Ann' });
  for (let i = 1; i <= 4; i++) a.request({ textroom: 'message', room: 60, text: `m${i}` });
  a.request({ textroom: 'message', room: 60, text: 'secret whisper', to: 'a' });
  admin.request({ textroom: 'announcement', room: 60, secret: 's', text: 'ann' });
  const b = h.client();
  b.join(60, 'b');
  const replay = b.frames.filter((f) => f.textroom === 'message' || f.textroom === 'announcement');
  assert.deepEqual(replay.map((f) => f.text), ['m3', 'm4', 'ann'], 'last 3 public items, no whisper');
  assert.equal(replay[0]!.display, 'Ann');
  assert.equal(replay[0]!.from, 'a');
  // Replay comes before the joiner's own join event, which comes before the reply.
  const kinds = b.frames.map((f) => (f.transaction ? 'reply' : f.textroom));
  assert.deepEqual(kinds, ['message', 'message', 'announcement', 'join', 'reply']);
  const c = h.client();
  c.join(60, 'c', { history: false });
  assert.equal(c.frames.filter((f) => f.textroom === 'message').length, 0);
  await h.stop();
});

test('one PeerConnection in several rooms, with different usernames', async () => {
  const h = await Harness.start();
  const admin = h.client();
  admin.request({ textroom: 'create', room: 70 });
  const a = h.client();
  const b = h.client();
  a.join(1234, 'a-demo');
  a.join(70, 'a-70');
  b.join(70, 'b');
  b.request({ textroom: 'message', room: 70, text: 'in 70' });
  const msgs = a.events('message');
  assert.deepEqual(msgs.map((m) => [m.room, m.text]), [[70, 'in 70']]);
  assert.deepEqual(h.plugin.querySession(a.session).rooms, [
    { room: 1234, username: 'a-demo' },
    { room: 70, username: 'a-70' },
  ]);
  await h.stop();
});

test('hangup and detach leave every room with leave events to the others', async () => {
  const h = await Harness.start();
  const admin = h.client();
  admin.request({ textroom: 'create', room: 80 });
  const [a, b, c] = [h.client(), h.client(), h.client()];
  a.join(1234, 'a');
  a.join(80, 'a');
  b.join(1234, 'b');
  c.join(80, 'c');
  b.drain();
  c.drain();
  a.drain();
  h.plugin.hangupMedia(a.session);
  assert.deepEqual(b.events('leave'), [{ textroom: 'leave', room: 1234, username: 'a' }]);
  assert.deepEqual(c.events('leave'), [{ textroom: 'leave', room: 80, username: 'a' }]);
  assert.deepEqual(a.drain(), [], 'nothing sent on the gone PeerConnection');
  assert.equal(h.plugin.room(1234)!.participants.has('a'), false);
  // The username is free again.
  const d = h.client();
  d.join(1234, 'a');
  h.plugin.destroySession(d.session);
  d.session.alive = false;
  assert.equal(h.plugin.room(1234)!.participants.has('a'), false);
  assert.equal(b.events('leave').length, 2);
  d.sendRaw(JSON.stringify({ textroom: 'list', transaction: 'z' }));
  assert.equal(d.frames.some((f) => f.transaction === 'z'), false, 'a destroyed handle gets no replies');
  await h.stop();
});

test('kick: 423 unknown user; everyone incl. the kicked user gets kicked; kicked user is out', async () => {
  const h = await Harness.start();
  const [a, b, mod] = [h.client(), h.client(), h.client()];
  a.join(1234, 'a');
  b.join(1234, 'b');
  a.drain();
  b.drain();
  let r = mod.request({ textroom: 'kick', room: 1234, secret: 'adminpwd', username: 'zz' });
  assert.deepEqual([r!.error_code, r!.error], [423, 'No such user zz in room 1234']);
  r = mod.request({ textroom: 'kick', room: 1234, secret: 'nope', username: 'b' });
  assert.deepEqual([r!.error_code, r!.error], [419, 'Unauthorized (wrong secret)']);
  r = mod.request({ textroom: 'kick', room: 1234, secret: 'adminpwd', username: 'b' });
  assert.deepEqual(r, { textroom: 'success', transaction: r!.transaction });
  assert.deepEqual(a.events('kicked'), [{ textroom: 'kicked', room: 1234, username: 'b' }]);
  assert.deepEqual(b.events('kicked'), [{ textroom: 'kicked', room: 1234, username: 'b' }]);
  assert.equal(b.request({ textroom: 'message', room: 1234, text: 'x' })!.error_code, 422);
  b.join(1234, 'b'); // kick does not ban
  await h.stop();
});
