import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './harness.js';

const KEYED = `general: {
	admin_key = "k"
}
room-1234: {
	description = "Demo Room"
	secret = "adminpwd"
}
room-5: {
	is_private = true
	pin = "x"
	history = 4
}
`;

test('Janus API shapes: list, exists, create, listparticipants, edit, allowed, announcement, destroy', async () => {
  const h = await Harness.start();
  assert.deepEqual(await h.apiData({ request: 'list' }), {
    textroom: 'success',
    list: [{ room: 1234, description: 'Demo Room', pin_required: false, num_participants: 0, history: 0 }],
  });
  assert.deepEqual(await h.apiData({ request: 'exists', room: 1234 }), { textroom: 'success', room: 1234, exists: true });
  assert.deepEqual(await h.apiData({ request: 'exists', room: 999 }), { textroom: 'success', room: 999, exists: false });
  assert.deepEqual(await h.apiData({ request: 'create', room: 555, description: 'x', secret: 's', pin: 'p', history: 5, is_private: true }), {
    textroom: 'created',
    room: 555,
    permanent: false,
  });
  assert.deepEqual(await h.apiData({ request: 'listparticipants', room: 555 }), { textroom: 'success', room: 555, participants: [] });
  assert.deepEqual(await h.apiData({ request: 'edit', room: 555, secret: 's', new_description: 'y', new_is_private: false }), {
    textroom: 'edited',
    room: 555,
    permanent: false,
  });
  const listed = (await h.apiData({ request: 'list' })).list as Array<Record<string, unknown>>;
  assert.deepEqual(listed.find((r) => r.room === 555), { room: 555, description: 'y', pin_required: true, num_participants: 0, history: 5 });
  assert.deepEqual(await h.apiData({ request: 'allowed', room: 555, secret: 's', action: 'add', allowed: ['a', 'b'] }), {
    textroom: 'success',
    room: 555,
    allowed: ['a', 'b'],
  });
  assert.deepEqual(await h.apiData({ request: 'allowed', room: 555, secret: 's', action: 'remove', allowed: ['a'] }), {
    textroom: 'success',
    room: 555,
    allowed: ['b'],
  });
  assert.deepEqual(await h.apiData({ request: 'allowed', room: 555, secret: 's', action: 'disable' }), { textroom: 'success', room: 555 });
  assert.deepEqual(await h.apiData({ request: 'announcement', room: 555, secret: 's', text: 'hello' }), { textroom: 'success' });
  assert.deepEqual(await h.apiData({ request: 'destroy', room: 555, secret: 's' }), { textroom: 'destroyed', room: 555, permanent: false });
  assert.deepEqual(await h.apiData({ request: 'exists', room: 555 }), { textroom: 'success', room: 555, exists: false });
  await h.stop();
});

test('Janus API errors come back as textroom:error (what Janus 1.1.2 answers)', async () => {
  const h = await Harness.start();
  await h.apiData({ request: 'create', room: 555, secret: 's' });
  const cases: Array<[Record<string, unknown>, number, string]> = [
    [{ request: 'exists' }, 413, 'Missing mandatory element (room)'],
    [{ request: 'exists', room: 'abc' }, 414, 'Invalid element type (room should be a positive integer)'],
    [{ request: 'exists', room: -5 }, 414, 'Invalid element type (room should be a positive integer)'],
    [{ request: 'create', room: 555 }, 418, 'Room 555 already exists'],
    [{ request: 'create', history: 'a' }, 414, 'Invalid element type (history should be a positive integer)'],
    [{ request: 'create', is_private: 'yes' }, 414, 'Invalid element type (is_private should be a boolean)'],
    [{ request: 'create', allowed: [1] }, 414, 'Invalid element in the allowed array (not a string)'],
    [{ request: 'create', permanent: 'x' }, 414, 'Invalid element type (permanent should be a boolean)'],
    [{ request: 'listparticipants', room: 556 }, 417, 'No such room (556)'],
    [{ request: 'edit', room: 555 }, 413, 'Missing mandatory element (secret)'],
    [{ request: 'edit', room: 555, secret: 'bad' }, 419, 'Unauthorized (wrong secret)'],
    [{ request: 'edit', room: 555, secret: 5 }, 414, 'Invalid element type (secret should be a string)'],
    [{ request: 'edit', room: 556, secret: 's' }, 417, 'No such room (556)'],
    [{ request: 'allowed', room: 555, secret: 's', action: 'bogus' }, 414, "Unsupported action 'bogus' (allowed)"],
    [{ request: 'allowed', room: 555, secret: 's' }, 413, 'Missing mandatory element (action)'],
    [{ request: 'allowed', room: 555, secret: 's', action: 'add', allowed: [true] }, 414, 'Invalid element in the allowed array (not a string)'],
    [{ request: 'kick', room: 555, secret: 's', username: 'nobody' }, 423, 'No such user nobody in room 555'],
    [{ request: 'kick', room: 555, secret: 's' }, 413, 'Missing mandatory element (username)'],
    [{ request: 'announcement', room: 555, secret: 's' }, 413, 'Missing mandatory element (text)'],
    [{ request: 'destroy', room: 555 }, 413, 'Missing mandatory element (secret)'],
    [{ request: 'destroy', room: 555, secret: 's', permanent: 7 }, 414, 'Invalid element type (permanent should be a boolean)'],
    [{ request: 'destroy', room: 556, secret: 's' }, 417, 'No such room (556)'],
  ];
  for (const [body, code, error] of cases) {
    assert.deepEqual(await h.apiData(body), { textroom: 'error', error_code: code, error }, JSON.stringify(body));
  }
  assert.equal((await h.apiData({ request: 'exists', room: 555 })).exists, true, 'no failed request destroyed the room');
  await h.stop();
});

test('create: random ID when room is absent or 0, default description "Room <id>"', async () => {
  const h = await Harness.start();
  const r = await h.apiData({ request: 'create', room: 0 });
  assert.equal(r.textroom, 'created');
  assert.ok(Number.isSafeInteger(r.room) && (r.room as number) > 0);
  assert.equal(h.plugin.room(r.room as number)!.settings.description, `Room ${r.room}`);
  const r2 = await h.apiData({ request: 'create' });
  assert.notEqual(r2.room, r.room);
  await h.stop();
});

test('data channel: management replies say success and carry the transaction', async () => {
  const h = await Harness.start();
  const a = h.client();
  let r = a.request({ textroom: 'create', room: 42, secret: 's', transaction: 'c1' });
  assert.deepEqual(r, { textroom: 'success', room: 42, permanent: false, transaction: 'c1' });
  r = a.request({ textroom: 'edit', room: 42, secret: 's', new_secret: 's2', transaction: 'e1' });
  assert.deepEqual(r, { textroom: 'success', room: 42, permanent: false, transaction: 'e1' });
  r = a.request({ textroom: 'exists', room: 42, transaction: 'x1' });
  assert.deepEqual(r, { textroom: 'success', room: 42, exists: true, transaction: 'x1' });
  r = a.request({ textroom: 'destroy', room: 42, secret: 's', transaction: 'd0' });
  assert.deepEqual([r!.error_code, r!.transaction], [419, 'd0'], 'the old secret no longer works');
  r = a.request({ textroom: 'destroy', room: 42, secret: 's2', transaction: 'd1' });
  assert.deepEqual(r, { textroom: 'success', room: 42, permanent: false, transaction: 'd1' });
  r = a.request({ textroom: 'bogus', transaction: 'b1' });
  assert.deepEqual(r, { textroom: 'error', error_code: 415, error: 'Unsupported request bogus', transaction: 'b1' });
  await h.stop();
});

test('destroy: participants (and the requester, once) get destroyed; their handles leave the room', async () => {
  const h = await Harness.start();
  const [a, b, mod] = [h.client(), h.client(), h.client()];
  a.join(1234, 'a');
  b.join(1234, 'b');
  mod.join(1234, 'mod');
  const outsider = h.client();
  outsider.request({ textroom: 'destroy', room: 1234, secret: 'adminpwd' });
  for (const x of [a, b, mod, outsider]) assert.deepEqual(x.events('destroyed'), [{ textroom: 'destroyed', room: 1234 }]);
  assert.equal(a.request({ textroom: 'message', room: 1234, text: 'x' })!.error_code, 417);
  assert.deepEqual(h.plugin.querySession(a.session).rooms, []);
  // A room a participant was in, destroyed by that participant: exactly one event.
  const c = h.client();
  c.request({ textroom: 'create', room: 9 });
  c.join(9, 'c');
  c.request({ textroom: 'destroy', room: 9 });
  assert.equal(c.events('destroyed').length, 1);
  await h.stop();
});

test('announcement: everyone gets it with a date; needs the secret', async () => {
  const h = await Harness.start();
  const [a, b] = [h.client(), h.client()];
  a.join(1234, 'a');
  b.join(1234, 'b');
  let r = a.request({ textroom: 'announcement', room: 1234, text: 'x' });
  assert.deepEqual([r!.error_code, r!.error], [413, 'Missing mandatory element (secret)']);
  r = a.request({ textroom: 'announcement', room: 1234, secret: 'adminpwd', text: 'Welcome' });
  assert.equal(r!.textroom, 'success');
  for (const x of [a, b]) {
    const [ev] = x.events('announcement');
    assert.deepEqual(Object.keys(ev!), ['textroom', 'room', 'date', 'text']);
    assert.deepEqual([ev!.room, ev!.text], [1234, 'Welcome']);
  }
  await h.stop();
});

test('admin_key: create needs it; list shows private rooms only with it', async () => {
  const h = await Harness.start(KEYED);
  assert.deepEqual(await h.apiData({ request: 'create', room: 7 }), { textroom: 'error', error_code: 413, error: 'Missing mandatory element (admin_key)' });
  assert.deepEqual(await h.apiData({ request: 'create', room: 7, admin_key: 'no' }), { textroom: 'error', error_code: 419, error: 'Unauthorized (wrong admin_key)' });
  assert.equal((await h.apiData({ request: 'create', room: 7, admin_key: 'k' })).textroom, 'created');
  const rooms = async (body: Record<string, unknown>) => ((await h.apiData(body)).list as Array<{ room: number }>).map((r) => r.room);
  assert.deepEqual(await rooms({ request: 'list' }), [1234, 7]);
  assert.deepEqual(await rooms({ request: 'list', admin_key: 'k' }), [1234, 5, 7]);
  assert.deepEqual(await h.apiData({ request: 'list', admin_key: 'bad' }), { textroom: 'error', error_code: 419, error: 'Unauthorized (wrong admin_key)' });
  const priv = ((await h.apiData({ request: 'list', admin_key: 'k' })).list as Array<Record<string, unknown>>)[1];
  assert.deepEqual(priv, { room: 5, description: 'room-5', pin_required: true, num_participants: 0, history: 4 });
  await h.stop();
});

test('Admin API message_plugin: same requests and shapes, no transaction needed, join refused', async () => {
  const h = await Harness.start();
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'exists', room: 1234 }), { textroom: 'success', room: 1234, exists: true });
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'create', room: 777 }), { textroom: 'created', room: 777, permanent: false });
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'create', room: 777 }), { textroom: 'error', error_code: 418, error: 'Room 777 already exists' });
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'destroy', room: 777 }), { textroom: 'destroyed', room: 777, permanent: false });
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'join', room: 1234 }), { textroom: 'event', error_code: 415, error: "Unknown request 'join'" });
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'setup' }), { textroom: 'event', error_code: 415, error: "Unknown request 'setup'" });
  assert.deepEqual(await h.plugin.handleAdminMessage({ foo: 1 }), { textroom: 'event', error_code: 413, error: 'Missing mandatory element (request)' });
  await h.stop();
});

test('Janus API kick and destroy reach participants on their data channels', async () => {
  const h = await Harness.start();
  const a = h.client();
  a.join(1234, 'a');
  assert.deepEqual(await h.apiData({ request: 'kick', room: 1234, secret: 'adminpwd', username: 'a' }), { textroom: 'success' });
  assert.deepEqual(a.events('kicked'), [{ textroom: 'kicked', room: 1234, username: 'a' }]);
  a.join(1234, 'a');
  await h.apiData({ request: 'destroy', room: 1234, secret: 'adminpwd' });
  assert.deepEqual(a.events('destroyed'), [{ textroom: 'destroyed', room: 1234 }]);
  await h.stop();
});

test('string_ids: rooms are strings everywhere; integers are refused', async () => {
  const h = await Harness.start(`general: { string_ids = true }\nroom-lobby: { description = "Lobby" }\n`);
  assert.deepEqual(await h.apiData({ request: 'exists', room: 'lobby' }), { textroom: 'success', room: 'lobby', exists: true });
  assert.deepEqual(await h.apiData({ request: 'exists', room: 1 }), { textroom: 'error', error_code: 414, error: 'Invalid element type (room should be a string)' });
  const created = await h.apiData({ request: 'create' });
  assert.match(created.room as string, /^[0-9a-f-]{36}$/);
  const a = h.client();
  a.join('lobby', 'a');
  assert.deepEqual(a.events('join'), [{ textroom: 'join', room: 'lobby', username: 'a' }]);
  await h.stop();
});
