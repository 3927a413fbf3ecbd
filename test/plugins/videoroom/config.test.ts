import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, SEED_VIDEOROOM_JCFG } from './harness.js';

test('seed config: room 9999 with its settings, max_publishers warned about and used as default', async () => {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const room = h.plugin.room('9999' as never);
  assert.ok(room, 'room 9999 loaded with a string id');
  assert.equal(room.settings.description, 'Test Room');
  assert.equal(room.settings.secret, 'secret');
  assert.equal(room.settings.publishers, 4, 'the room sets its own publishers');
  assert.equal(room.settings.bitrate, 1024000);
  assert.equal(room.settings.fir_freq, 10);
  assert.equal(room.settings.rec_dir, '/tmp');
  assert.equal(room.settings.record, false);
  const warn = h.warnings().find((w) => w.includes('max_publishers'));
  assert.ok(warn, 'max_publishers produces a warning');
  assert.match(warn, /janus\.plugin\.videoroom\.jcfg:1\b/, 'warning names file:line');
  assert.match(warn, /not a Janus setting/);
  // A room created without `publishers` inherits the operator's max_publishers.
  const s = h.attach();
  const created = await h.sync(s, { request: 'create', admin_key: 'videoroom_key', room: 'x' });
  assert.equal(created.videoroom, 'created');
  assert.equal(h.plugin.room('x' as never)?.settings.publishers, 6);
});

test('unknown general key and unknown room key are warned about with file:line', async () => {
  const h = await Harness.start('general: {\n  bogus = 1\n  events = false\n}\n\nroom-5: {\n  colour = "red"\n  publishers = "7"\n  is_private = "yes"\n}\n');
  const w = h.warnings();
  assert.ok(w.some((x) => x.includes('general.bogus') && /\.jcfg:1\b/.test(x)), `warnings: ${w.join(' | ')}`);
  assert.ok(w.some((x) => x.includes('room-5.colour') && /\.jcfg:6\b/.test(x)), `warnings: ${w.join(' | ')}`);
  assert.ok(!w.some((x) => x.includes('events')), 'events is a known key');
  const room = h.plugin.room(5 as never);
  assert.ok(room, 'numeric id 5');
  assert.equal(room.settings.publishers, 7, 'Janus reads string numbers');
  assert.equal(room.settings.is_private, true, '"yes" is true, as janus_is_true');
  assert.equal(room.settings.description, 'room-5', 'default description is the category name');
});

test('numeric mode skips a category that is not room-<integer>, with a warning', async () => {
  const h = await Harness.start('room-abc: {\n  description = "x"\n}\nroom-12: {}\n');
  assert.equal(h.plugin.room('abc' as never), undefined);
  assert.ok(h.plugin.room(12 as never));
  assert.ok(h.warnings().some((w) => w.includes("'room-abc'") && w.includes('skipped')));
});

test('room defaults match Janus when the category is empty', async () => {
  const h = await Harness.start('room-1: {}\n');
  const s = h.attach();
  const list = (await h.sync(s, { request: 'list' })).list as Array<Record<string, unknown>>;
  assert.deepEqual(list[0], {
    room: 1, description: 'room-1', pin_required: false, is_private: false, max_publishers: 3, bitrate: 0, fir_freq: 0,
    require_pvtid: false, require_e2ee: false, dummy_publisher: false, notify_joining: false, audiocodec: 'opus',
    videocodec: 'vp8', opus_fec: true, record: false, lock_record: false, num_participants: 0, audiolevel_ext: true,
    audiolevel_event: false, videoorient_ext: true, playoutdelay_ext: true, transport_wide_cc_ext: true,
  });
});

test('a bad codec in the jcfg is warned about and the default kept', async () => {
  const h = await Harness.start('room-2: {\n  audiocodec = "mp3"\n  videocodec = "vp9,h264"\n}\n');
  const room = h.plugin.room(2 as never)!;
  assert.deepEqual(room.settings.audiocodec, ['opus']);
  assert.deepEqual(room.settings.videocodec, ['vp9', 'h264']);
  assert.ok(h.warnings().some((w) => w.includes('room-2.audiocodec')));
});
