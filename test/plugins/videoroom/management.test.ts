import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, SEED_VIDEOROOM_JCFG, vrError } from './harness.js';

const ADMIN = 'videoroom_key';

test('seed smoke test: create needs admin_key; numeric room accepted with string_ids; list shows both', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const s = h.attach();
  const body = { request: 'create', room: 1234, description: 'Test Room', publishers: 6 };
  assert.deepEqual(await h.sync(s, body), vrError(429, 'Missing mandatory element (admin_key)'));
  assert.deepEqual(await h.sync(s, { ...body, admin_key: 'nope' }), vrError(433, 'Unauthorized (wrong admin_key)'));
  assert.deepEqual(await h.sync(s, { ...body, admin_key: 5 }), vrError(430, 'Invalid element type (admin_key should be a string)'));
  assert.deepEqual(await h.sync(s, { ...body, admin_key: ADMIN }), { videoroom: 'created', room: '1234', permanent: false });
  assert.deepEqual(await h.sync(s, { ...body, admin_key: ADMIN }), vrError(427, 'Room 1234 already exists'));
  const list = await h.sync(s, { request: 'list' });
  assert.equal(list.videoroom, 'success');
  const rooms = (list.list as Array<Record<string, unknown>>).map((r) => r.room).sort();
  assert.deepEqual(rooms, ['1234', '9999']);
  const r9999 = (list.list as Array<Record<string, unknown>>).find((r) => r.room === '9999')!;
  assert.equal(r9999.description, 'Test Room');
  assert.equal(r9999.max_publishers, 4);
  assert.equal(r9999.rec_dir, '/tmp');
  const r1234 = (list.list as Array<Record<string, unknown>>).find((r) => r.room === '1234')!;
  assert.equal(r1234.max_publishers, 6);
  assert.equal(r1234.description, 'Test Room');
});

test('create: random ids, default description, validation errors', async () => {
  const h = await Harness.start('room-1: {}\n');
  const s = h.attach();
  const c = await h.sync(s, { request: 'create' });
  assert.equal(c.videoroom, 'created');
  assert.ok(Number.isSafeInteger(c.room) && (c.room as number) > 0, 'random positive integer id');
  const c0 = await h.sync(s, { request: 'create', room: 0 });
  assert.notEqual(c0.room, 0, 'room 0 means "choose one"');
  const list = (await h.sync(s, { request: 'list' })).list as Array<Record<string, unknown>>;
  assert.equal(list.find((r) => r.room === c.room)?.description, `Room ${c.room}`);
  assert.deepEqual(await h.sync(s, { request: 'create', room: '77' }), vrError(430, 'Invalid element type (room should be a positive integer)'));
  assert.deepEqual(await h.sync(s, { request: 'create', room: -1 }), vrError(430, 'Invalid element type (room should be a positive integer)'));
  assert.deepEqual(await h.sync(s, { request: 'create', publishers: 'x' }), vrError(430, 'Invalid element type (publishers should be a positive integer)'));
  assert.deepEqual(await h.sync(s, { request: 'create', is_private: 'yes' }), vrError(430, 'Invalid element type (is_private should be a boolean)'));
  assert.deepEqual(await h.sync(s, { request: 'create', description: 5 }), vrError(430, 'Invalid element type (description should be a string)'));
  assert.deepEqual(await h.sync(s, { request: 'create', allowed: [1] }), vrError(430, 'Invalid element in the allowed array (not a string)'));
  const codec = await h.sync(s, { request: 'create', audiocodec: 'mp3' });
  assert.equal(codec.error_code, 430);
  assert.match(codec.error as string, /^Invalid element \(audiocodec can only be or contain /);
  assert.deepEqual(await h.sync(s, { request: 'create', room: 1 }), vrError(427, 'Room 1 already exists'));
});

test('create: every optional list field appears when set; bitrate is raised to 64000', async () => {
  const h = await Harness.start('');
  const s = h.attach();
  await h.sync(s, {
    request: 'create', room: 5, is_private: false, pin: '1', bitrate: 1000, bitrate_cap: true, audiocodec: 'opus,pcmu',
    videocodec: 'vp9,vp8', opus_dtx: true, audiolevel_event: true, notify_joining: true, secret: 's', rec_dir: '/r',
  });
  const [entry] = (await h.sync(s, { request: 'list' })).list as Array<Record<string, unknown>>;
  assert.deepEqual(entry, {
    room: 5, description: 'Room 5', pin_required: true, is_private: false, max_publishers: 3, bitrate: 64000, bitrate_cap: true,
    fir_freq: 0, require_pvtid: false, require_e2ee: false, dummy_publisher: false, notify_joining: true, audiocodec: 'opus,pcmu',
    videocodec: 'vp9,vp8', opus_fec: true, opus_dtx: true, record: false, rec_dir: '/r', lock_record: false, num_participants: 0,
    audiolevel_ext: true, audiolevel_event: true, audio_active_packets: 100, audio_level_average: 25, videoorient_ext: true,
    playoutdelay_ext: true, transport_wide_cc_ext: true,
  });
});

test('list hides private rooms unless the right admin_key is given', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const s = h.attach();
  await h.sync(s, { request: 'create', admin_key: ADMIN, room: 'hidden', is_private: true });
  const ids = async (b: Record<string, unknown>) =>
    ((await h.sync(s, b)).list as Array<Record<string, unknown>>).map((r) => r.room).sort();
  assert.deepEqual(await ids({ request: 'list' }), ['9999']);
  assert.deepEqual(await ids({ request: 'list', admin_key: ADMIN }), ['9999', 'hidden']);
  assert.deepEqual(await h.sync(s, { request: 'list', admin_key: 'wrong' }), vrError(433, 'Unauthorized (wrong admin_key)'));
});

test('exists in both id modes', async () => {
  const str = await Harness.start(SEED_VIDEOROOM_JCFG);
  const s = str.attach();
  assert.deepEqual(await str.sync(s, { request: 'exists', room: '9999' }), { videoroom: 'success', room: '9999', exists: true });
  // Deliberate improvement over Janus (430): a number is read as its decimal string.
  assert.deepEqual(await str.sync(s, { request: 'exists', room: 9999 }), { videoroom: 'success', room: '9999', exists: true });
  assert.deepEqual(await str.sync(s, { request: 'exists', room: 'nope' }), { videoroom: 'success', room: 'nope', exists: false });
  assert.deepEqual(await str.sync(s, { request: 'exists' }), vrError(429, 'Missing mandatory element (room)'));
  assert.deepEqual(await str.sync(s, { request: 'exists', room: true }), vrError(430, 'Invalid element type (room should be a string)'));
  const num = await Harness.start('room-1234: {}\n');
  const n = num.attach();
  assert.deepEqual(await num.sync(n, { request: 'exists', room: 1234 }), { videoroom: 'success', room: 1234, exists: true });
  assert.deepEqual(await num.sync(n, { request: 'exists', room: 0 }), { videoroom: 'success', room: 0, exists: false });
  assert.deepEqual(await num.sync(n, { request: 'exists', room: '1234' }), vrError(430, 'Invalid element type (room should be a positive integer)'));
  assert.deepEqual(await num.sync(n, { request: 'exists', room: 1.5 }), vrError(430, 'Invalid element type (room should be a positive integer)'));
});

test('edit: secret rules, every new_* field, validation', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const s = h.attach();
  assert.deepEqual(await h.sync(s, { request: 'edit', room: '9999' }), vrError(429, 'Missing mandatory element (secret)'));
  assert.deepEqual(await h.sync(s, { request: 'edit', room: '9999', secret: 'x' }), vrError(433, 'Unauthorized (wrong secret)'));
  assert.deepEqual(await h.sync(s, { request: 'edit', room: '9999', secret: 5 }), vrError(430, 'Invalid element type (secret should be a string)'));
  assert.deepEqual(await h.sync(s, { request: 'edit', room: 'nope', secret: 'x' }), vrError(426, 'No such room (nope)'));
  assert.deepEqual(
    await h.sync(s, { request: 'edit', room: '9999', secret: 'secret', new_bitrate: 'x' }),
    vrError(430, 'Invalid element type (new_bitrate should be a positive integer)'),
  );
  assert.deepEqual(
    await h.sync(s, { request: 'edit', room: '9999', secret: 'secret', new_is_private: 'x' }),
    vrError(430, 'Invalid element type (new_is_private should be a boolean)'),
  );
  const ok = await h.sync(s, {
    request: 'edit', room: '9999', secret: 'secret', new_description: 'D2', new_secret: 's2', new_pin: 'p', new_is_private: true,
    new_require_pvtid: true, new_bitrate: 2000, new_fir_freq: 3, new_publishers: 5, new_lock_record: true, new_rec_dir: '/x',
  });
  assert.deepEqual(ok, { videoroom: 'edited', room: '9999', permanent: false });
  const r = h.plugin.room('9999' as never)!.settings;
  assert.equal(r.description, 'D2');
  assert.equal(r.secret, 's2');
  assert.equal(r.pin, 'p');
  assert.equal(r.is_private, true);
  assert.equal(r.require_pvtid, true);
  assert.equal(r.bitrate, 64000);
  assert.equal(r.fir_freq, 3);
  assert.equal(r.publishers, 5);
  assert.equal(r.lock_record, true);
  assert.equal(r.rec_dir, '/x');
  assert.deepEqual(await h.sync(s, { request: 'edit', room: '9999', secret: 'secret' }), vrError(433, 'Unauthorized (wrong secret)'));
  await h.sync(s, { request: 'edit', room: '9999', secret: 's2', new_pin: '', new_secret: '' });
  assert.equal(h.plugin.room('9999' as never)!.settings.pin, 'p', 'an empty new_pin is ignored, as in Janus');
  assert.equal(h.plugin.room('9999' as never)!.settings.secret, 's2', 'an empty new_secret is ignored, as in Janus');
});

test('an empty secret on create is a real secret, as in Janus', async () => {
  const h = await Harness.start('');
  const s = h.attach();
  await h.sync(s, { request: 'create', room: 60, secret: '', pin: '' });
  assert.deepEqual(await h.sync(s, { request: 'destroy', room: 60 }), vrError(429, 'Missing mandatory element (secret)'));
  assert.deepEqual(await h.sync(s, { request: 'destroy', room: 60, secret: '' }), { videoroom: 'destroyed', room: 60, permanent: false });
});

test('a room without a secret can be edited and destroyed without one', async () => {
  const h = await Harness.start('room-3: {}\n');
  const s = h.attach();
  assert.deepEqual(await h.sync(s, { request: 'edit', room: 3, new_description: 'x' }), { videoroom: 'edited', room: 3, permanent: false });
  assert.deepEqual(await h.sync(s, { request: 'destroy', room: 3 }), { videoroom: 'destroyed', room: 3, permanent: false });
  assert.deepEqual(await h.sync(s, { request: 'exists', room: 3 }), { videoroom: 'success', room: 3, exists: false });
});

test('destroy: secret, missing room, admin_key is no substitute for the secret', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const s = h.attach();
  assert.deepEqual(await h.sync(s, { request: 'destroy', room: '9999' }), vrError(429, 'Missing mandatory element (secret)'));
  assert.deepEqual(await h.sync(s, { request: 'destroy', room: '9999', admin_key: ADMIN }), vrError(429, 'Missing mandatory element (secret)'));
  assert.deepEqual(await h.sync(s, { request: 'destroy', room: '9999', secret: 'bad' }), vrError(433, 'Unauthorized (wrong secret)'));
  assert.deepEqual(await h.sync(s, { request: 'destroy', room: 'nope' }), vrError(426, 'No such room (nope)'));
  assert.deepEqual(await h.sync(s, { request: 'destroy', room: '9999', secret: 'secret' }), { videoroom: 'destroyed', room: '9999', permanent: false });
  assert.deepEqual(await h.sync(s, { request: 'list' }), { videoroom: 'success', list: [] });
});

test('allowed: enable/disable/add/remove and errors', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const s = h.attach();
  const base = { request: 'allowed', room: '9999', secret: 'secret' };
  assert.deepEqual(await h.sync(s, base), vrError(429, 'Missing mandatory element (action)'));
  assert.deepEqual(await h.sync(s, { ...base, action: 'bogus' }), vrError(430, "Unsupported action 'bogus' (allowed)"));
  assert.deepEqual(await h.sync(s, { ...base, action: 'add', allowed: [1] }), vrError(430, 'Invalid element in the allowed array (not a string)'));
  assert.deepEqual(await h.sync(s, { ...base, secret: 'x', action: 'add' }), vrError(433, 'Unauthorized (wrong secret)'));
  assert.deepEqual(await h.sync(s, { ...base, action: 'add' }), { videoroom: 'success', room: '9999', allowed: [] });
  assert.deepEqual(await h.sync(s, { ...base, action: 'add', allowed: ['a', 'b'] }), { videoroom: 'success', room: '9999', allowed: ['a', 'b'] });
  assert.deepEqual(await h.sync(s, { ...base, action: 'remove', allowed: ['a'] }), { videoroom: 'success', room: '9999', allowed: ['b'] });
  assert.deepEqual(await h.sync(s, { ...base, action: 'enable' }), { videoroom: 'success', room: '9999', allowed: ['b'] });
  assert.equal(h.plugin.room('9999' as never)!.aclEnabled, true);
  assert.deepEqual(await h.sync(s, { ...base, action: 'disable' }), { videoroom: 'success', room: '9999' });
  assert.equal(h.plugin.room('9999' as never)!.aclEnabled, false);
  assert.deepEqual(await h.sync(s, { ...base, action: 'enable' }), { videoroom: 'success', room: '9999', allowed: ['b'] }, 'tokens survive disable');
  assert.deepEqual(await h.sync(s, { ...base, room: 'zz' }), vrError(429, 'Missing mandatory element (action)'));
  assert.deepEqual(await h.sync(s, { ...base, room: 'zz', action: 'enable' }), vrError(426, 'No such room (zz)'));
});

test('kick/moderate/listparticipants on an empty room: Janus errors', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const s = h.attach();
  assert.deepEqual(await h.sync(s, { request: 'listparticipants', room: '9999' }), { videoroom: 'participants', room: '9999', participants: [] });
  assert.deepEqual(await h.sync(s, { request: 'listparticipants' }), vrError(429, 'Missing mandatory element (room)'));
  assert.deepEqual(await h.sync(s, { request: 'listparticipants', room: 'zz' }), vrError(426, 'No such room (zz)'));
  assert.deepEqual(await h.sync(s, { request: 'kick', room: '9999', secret: 'secret' }), vrError(429, 'Missing mandatory element (id)'));
  assert.deepEqual(await h.sync(s, { request: 'kick', room: '9999', id: 'x' }), vrError(429, 'Missing mandatory element (secret)'));
  assert.deepEqual(await h.sync(s, { request: 'kick', room: '9999', secret: 'secret', id: 'x' }), vrError(428, 'No such user x in room 9999'));
  assert.deepEqual(await h.sync(s, { request: 'moderate', room: '9999', secret: 'secret', id: 'x' }), vrError(429, 'Missing mandatory element (mid)'));
  assert.deepEqual(await h.sync(s, { request: 'moderate', room: '9999', secret: 'secret', id: 'x', mid: '0' }), vrError(429, 'Missing mandatory element (mute)'));
  assert.deepEqual(
    await h.sync(s, { request: 'moderate', room: '9999', secret: 'secret', id: 'x', mid: '0', mute: true }),
    vrError(428, 'No such user x in room 9999'),
  );
});

test('enable_recording: validation, secret, and the room record flag follows it (list shows it)', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const s = h.attach();
  const base = { request: 'enable_recording', room: '9999', secret: 'secret' };
  assert.deepEqual(await h.sync(s, base), vrError(429, 'Missing mandatory element (record)'));
  assert.deepEqual(await h.sync(s, { ...base, secret: 'no', record: false }), vrError(433, 'Unauthorized (wrong secret)'));
  assert.deepEqual(await h.sync(s, { ...base, record: false }), { videoroom: 'success', record: false });
  assert.deepEqual(await h.sync(s, { ...base, record: true }), { videoroom: 'success', record: true });
  const listed = (await h.sync(s, { request: 'list' })).list as Array<Record<string, unknown>>;
  assert.equal(listed.find((r) => r.room === '9999')?.record, true);
  assert.deepEqual(await h.sync(s, { ...base, record: false }), { videoroom: 'success', record: false });
});

test('remote publisher requests are validated; RTP forwarders are served (also via Admin message_plugin)', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const s = h.attach();
  assert.deepEqual(await h.sync(s, { request: 'add_remote_publisher', room: '9999' }), vrError(429, 'Missing mandatory element (streams)'));
  assert.deepEqual(await h.sync(s, { request: 'listforwarders', room: '9999', secret: 'secret' }), { videoroom: 'forwarders', room: '9999', publishers: [] });
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'stop_rtp_forward', room: '9999', secret: 'secret', publisher_id: 'x', stream_id: 1 }), vrError(428, 'No such feed (x)'));
});

test('request name: missing, wrong type, unknown', async () => {
  const h = await Harness.start('');
  const s = h.attach();
  assert.deepEqual(await h.sync(s, {}), vrError(429, 'Missing mandatory element (request)'));
  assert.deepEqual(await h.sync(s, { request: 5 }), vrError(430, 'Invalid element type (request should be a string)'));
  assert.deepEqual(await h.sync(s, { request: 'foo' }), vrError(423, "Unknown request 'foo'"));
});

test('Admin API message_plugin answers the same data; async requests are unknown there', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'exists', room: '9999' }), { videoroom: 'success', room: '9999', exists: true });
  assert.deepEqual(
    await h.plugin.handleAdminMessage({ request: 'create', room: 'a1', admin_key: ADMIN }),
    { videoroom: 'created', room: 'a1', permanent: false },
  );
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'create', room: 'a2' }), vrError(429, 'Missing mandatory element (admin_key)'));
  const list = await h.plugin.handleAdminMessage({ request: 'list' });
  assert.equal((list.list as unknown[]).length, 2);
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'join', room: '9999' }), vrError(423, "Unknown request 'join'"));
  assert.deepEqual(await h.plugin.handleAdminMessage({}), vrError(429, 'Missing mandatory element (request)'));
  assert.deepEqual(
    await h.plugin.handleAdminMessage({ request: 'destroy', room: 'a1' }),
    { videoroom: 'destroyed', room: 'a1', permanent: false },
  );
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'listparticipants', room: '9999' }), { videoroom: 'participants', room: '9999', participants: [] });
});
