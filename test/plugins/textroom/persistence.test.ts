import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Jcfg } from '../../../src/config/jcfg.js';
import { Harness, tempDir } from './harness.js';

const BASE = `# operator comment that must survive
general: {
	json = "compact"
}

room-1234: {
	description = "Demo Room"
	secret = "adminpwd"
}
`;

async function withFile(): Promise<{ h: Harness; file: string }> {
  const dir = tempDir();
  const file = join(dir, 'janus.plugin.textroom.jcfg');
  writeFileSync(file, BASE);
  const h = await Harness.start(await Jcfg.load(file));
  return { h, file };
}

test('permanent create / edit / destroy are written back and read again by a new instance', async () => {
  const { h, file } = await withFile();
  const created = await h.apiData({ request: 'create', room: 42, description: 'Saved', secret: 's', pin: 'p', history: 7, is_private: true, post: 'http://192.0.2.1:1/x', permanent: true });
  assert.deepEqual(created, { textroom: 'created', room: 42, permanent: true });
  let text = readFileSync(file, 'utf8');
  assert.match(text, /# operator comment that must survive/);
  assert.match(text, /room-42/);
  assert.match(text, /description = "Saved"/);

  const again = await Harness.start(await Jcfg.load(file));
  const room = again.plugin.room(42);
  assert.deepEqual(room?.settings, { description: 'Saved', secret: 's', pin: 'p', isPrivate: true, history: 7, post: 'http://192.0.2.1:1/x' });
  await again.stop();

  // Over the data channel too.
  const c = h.client();
  const edited = await c.requestAsync({ textroom: 'edit', room: 42, secret: 's', new_description: 'Renamed', new_secret: 's2', permanent: true });
  assert.deepEqual({ ...edited, transaction: undefined }, { textroom: 'success', room: 42, permanent: true, transaction: undefined });
  text = readFileSync(file, 'utf8');
  assert.match(text, /description = "Renamed"/);
  assert.match(text, /secret = "s2"/);

  // Non-permanent changes stay in memory only.
  await h.apiData({ request: 'create', room: 43 });
  assert.doesNotMatch(readFileSync(file, 'utf8'), /room-43/);

  assert.deepEqual(await h.apiData({ request: 'destroy', room: 42, secret: 's2', permanent: true }), { textroom: 'destroyed', room: 42, permanent: true });
  text = readFileSync(file, 'utf8');
  assert.doesNotMatch(text, /room-42/);
  assert.match(text, /room-1234/);
  await h.stop();
});

test('a failed save answers permanent:false and keeps the room in memory', async () => {
  if (process.getuid?.() === 0) {
    // root ignores directory permissions: make the target path a directory instead.
    const dir = tempDir();
    const file = join(dir, 'janus.plugin.textroom.jcfg');
    mkdirSync(file);
    const h = await Harness.start(Jcfg.fromText(BASE, file));
    assert.deepEqual(await h.apiData({ request: 'create', room: 9, permanent: true }), { textroom: 'created', room: 9, permanent: false });
    assert.ok(h.plugin.room(9));
    assert.ok(h.log.lines.some((l) => l.level === 'error' && /could not save/.test(l.msg)));
    await h.stop();
    return;
  }
  const dir = tempDir();
  const file = join(dir, 'janus.plugin.textroom.jcfg');
  writeFileSync(file, BASE);
  const h = await Harness.start(await Jcfg.load(file));
  chmodSync(dir, 0o500);
  try {
    assert.deepEqual(await h.apiData({ request: 'create', room: 9, permanent: true }), { textroom: 'created', room: 9, permanent: false });
    assert.ok(h.plugin.room(9));
  } finally {
    chmodSync(dir, 0o700);
    await h.stop();
  }
});
