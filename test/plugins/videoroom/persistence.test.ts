import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Jcfg } from '../../../src/config/jcfg.js';
import { Harness, SEED_VIDEOROOM_JCFG, tempDir } from './harness.js';

async function seedFile(): Promise<string> {
  const file = join(tempDir(), 'janus.plugin.videoroom.jcfg');
  writeFileSync(file, SEED_VIDEOROOM_JCFG);
  return file;
}

test('permanent create writes room-<id>; reload restores it; permanent destroy removes it', async () => {
  const file = await seedFile();
  const h = await Harness.start(await Jcfg.load(file));
  const s = h.attach();
  const created = await h.sync(s, {
    request: 'create', admin_key: 'videoroom_key', room: 'perm', permanent: true, description: 'Kept', secret: 'k', pin: '42',
    publishers: 2, is_private: true, videocodec: 'vp9,vp8', allowed: ['tok'],
  });
  assert.deepEqual(created, { videoroom: 'created', room: 'perm', permanent: true });
  const text = readFileSync(file, 'utf8');
  assert.match(text, /room-perm\s*:/);
  assert.match(text, /# test room/, "the operator's comments survive");
  const onDisk = (await Jcfg.load(file)).category('room-perm');
  assert.equal(onDisk?.description, 'Kept');
  assert.equal(onDisk?.videocodec, 'vp9,vp8');

  const again = await Harness.start(await Jcfg.load(file));
  const room = again.plugin.room('perm' as never);
  assert.ok(room, 'permanent room is back after a reload');
  assert.equal(room.settings.description, 'Kept');
  assert.equal(room.settings.secret, 'k');
  assert.equal(room.settings.pin, '42');
  assert.equal(room.settings.publishers, 2);
  assert.equal(room.settings.is_private, true);
  assert.deepEqual(room.settings.videocodec, ['vp9', 'vp8']);
  assert.equal(room.isAllowed('tok'), true);
  assert.equal(room.isAllowed('other'), false, 'the ACL survives too');

  const t = again.attach();
  const edited = await again.sync(t, { request: 'edit', room: 'perm', secret: 'k', new_description: 'Renamed', permanent: true });
  assert.deepEqual(edited, { videoroom: 'edited', room: 'perm', permanent: true });
  assert.equal((await Jcfg.load(file)).category('room-perm')?.description, 'Renamed');

  const destroyed = await again.sync(t, { request: 'destroy', room: 'perm', secret: 'k', permanent: true });
  assert.deepEqual(destroyed, { videoroom: 'destroyed', room: 'perm', permanent: true });
  assert.doesNotMatch(readFileSync(file, 'utf8'), /room-perm/);
  assert.ok((await Jcfg.load(file)).category('room-9999'), 'other rooms untouched');
});

test('non-permanent changes never touch the file', async () => {
  const file = await seedFile();
  const h = await Harness.start(await Jcfg.load(file));
  const s = h.attach();
  await h.sync(s, { request: 'create', admin_key: 'videoroom_key', room: 'temp' });
  await h.sync(s, { request: 'destroy', room: '9999', secret: 'secret' });
  assert.equal(readFileSync(file, 'utf8'), SEED_VIDEOROOM_JCFG);
});

test('numeric ids are written as room-<n> and read back as numbers', async () => {
  const file = join(tempDir(), 'vr.jcfg');
  writeFileSync(file, '');
  const h = await Harness.start(await Jcfg.load(file));
  await h.sync(h.attach(), { request: 'create', room: 321, permanent: true });
  const again = await Harness.start(await Jcfg.load(file));
  assert.equal(again.plugin.room(321 as never)?.settings.description, 'Room 321');
});

test('a failed save answers permanent:false (as Janus) and leaves the document unchanged', async () => {
  const dir = tempDir();
  const blocker = join(dir, 'not-a-dir');
  writeFileSync(blocker, 'x');
  const doc = Jcfg.fromText(SEED_VIDEOROOM_JCFG, join(blocker, 'janus.plugin.videoroom.jcfg'));
  const h = await Harness.start(doc);
  const s = h.attach();
  const created = await h.sync(s, { request: 'create', admin_key: 'videoroom_key', room: 'p', permanent: true });
  assert.deepEqual(created, { videoroom: 'created', room: 'p', permanent: false });
  assert.equal(doc.category('room-p'), undefined, 'rolled back in memory');
  assert.ok(h.plugin.room('p' as never), 'the room itself exists (only persistence failed)');
  assert.ok(h.log.lines.some((l) => l.level === 'error' && l.msg.includes('could not save')));
  const destroyed = await h.sync(s, { request: 'destroy', room: '9999', secret: 'secret', permanent: true });
  assert.deepEqual(destroyed, { videoroom: 'destroyed', room: '9999', permanent: false });
  assert.ok(doc.category('room-9999'), 'removal rolled back in memory');
});

test('a string room id that cannot be a jcfg category name is created but not persisted', async () => {
  const file = await seedFile();
  const h = await Harness.start(await Jcfg.load(file));
  const created = await h.sync(h.attach(), { request: 'create', admin_key: 'videoroom_key', room: 'my room', permanent: true });
  assert.deepEqual(created, { videoroom: 'created', room: 'my room', permanent: false });
  assert.ok(h.plugin.room('my room' as never));
  assert.equal(readFileSync(file, 'utf8'), SEED_VIDEOROOM_JCFG);
});
