import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Jcfg } from '../../src/config/jcfg.js';
import { ConfigSyntaxError, documentValues, parseLibconfig } from '../../src/config/libconfig.js';
import type { JcfgDocument } from '../../src/core/plugin.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SEED = readFileSync(join(ROOT, 'conf', 'janus.plugin.videoroom.jcfg'), 'utf8');

function tmpFile(name: string, text?: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'jcfg-')), name);
  if (text !== undefined) writeFileSync(p, text);
  return p;
}

test('load: categories, values, lines of the seed videoroom file', async () => {
  const doc: JcfgDocument = await Jcfg.load(join(ROOT, 'conf', 'janus.plugin.videoroom.jcfg'));
  assert.deepEqual(doc.categoryNames(), ['general', 'room-9999']);
  assert.deepEqual(doc.category('general'), { string_ids: true, max_publishers: 6, admin_key: 'videoroom_key' });
  assert.equal(doc.category('room-9999')!.bitrate, 1024000);
  assert.equal(doc.categoryLine('room-9999'), 8);
  assert.equal(doc.category('nope'), undefined);
  assert.equal(doc.categoryLine('nope'), undefined);
});

test('load: a missing file is an empty document at that path; save creates it', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'jcfg-')), 'sub', 'janus.plugin.x.jcfg');
  const doc = await Jcfg.load(path);
  assert.equal(doc.file, path);
  assert.deepEqual(doc.categoryNames(), []);
  doc.setCategory('room-1', { description: 'one', publishers: 3 });
  await doc.save();
  assert.equal(readFileSync(path, 'utf8'), 'room-1: {\n\tdescription = "one"\n\tpublishers = 3\n}\n');
});

test('load: syntax errors propagate with file:line:column', async () => {
  const path = tmpFile('bad.jcfg', 'general: {\n  a = \n}\n');
  await assert.rejects(Jcfg.load(path), (e: unknown) => e instanceof ConfigSyntaxError && e.file === path && e.line === 3 && e.column === 1);
});

test('save keeps comments and layout of untouched categories, edits in place, appends new ones', async () => {
  const path = tmpFile('janus.plugin.videoroom.jcfg', SEED);
  const doc = await Jcfg.load(path);
  doc.setCategory('room-1234', { description: 'Demo', publishers: 6, secret: 'x y "z"' });
  doc.setCategory('general', { string_ids: true, max_publishers: 10, admin_key: 'videoroom_key' });
  await doc.save();
  const text = readFileSync(path, 'utf8');
  // room-9999 and its comment are byte-for-byte what the operator wrote.
  const roomStart = SEED.indexOf('# test room');
  assert.ok(text.includes(SEED.slice(roomStart).trimEnd()), text);
  // general was rewritten in place (first), with the operator's 4-space indent.
  assert.ok(text.startsWith('general: {\n    string_ids = true\n    max_publishers = 10\n'), text);
  assert.ok(text.endsWith('\n\nroom-1234: {\n    description = "Demo"\n    publishers = 6\n    secret = "x y \\"z\\""\n}\n'), text);
  const again = await Jcfg.load(path);
  assert.deepEqual(again.categoryNames(), ['general', 'room-9999', 'room-1234']);
  assert.equal(again.category('general')!.max_publishers, 10);
  assert.equal(again.category('room-1234')!.secret, 'x y "z"');
});

test('unchanged setCategory leaves the file text identical', async () => {
  const path = tmpFile('v.jcfg', SEED);
  const doc = await Jcfg.load(path);
  doc.setCategory('room-9999', doc.category('room-9999')!);
  await doc.save();
  assert.equal(readFileSync(path, 'utf8'), SEED);
});

test('removeCategory drops the category and the comment block directly above it', async () => {
  const path = tmpFile('v.jcfg', SEED);
  const doc = await Jcfg.load(path);
  assert.equal(doc.removeCategory('room-9999'), true);
  assert.equal(doc.removeCategory('room-9999'), false);
  await doc.save();
  const text = readFileSync(path, 'utf8');
  assert.ok(!text.includes('room-9999') && !text.includes('# test room'), text);
  assert.ok(text.startsWith(SEED.slice(0, SEED.indexOf('}') + 1)), 'general kept verbatim');
  assert.deepEqual((await Jcfg.load(path)).categoryNames(), ['general']);
});

test('repeated saves (add, edit, remove) stay valid and re-parse to the same values', async () => {
  const path = tmpFile('v.jcfg', SEED);
  const doc = await Jcfg.load(path);
  for (let i = 0; i < 5; i++) doc.setCategory(`room-${i}`, { description: `room ${i}`, bitrate: i * 1000, nested: { kind: 'group', entries: [{ name: 'x', value: [1, 2] }] } });
  await Promise.all([doc.save(), doc.save()]);
  doc.removeCategory('room-2');
  doc.setCategory('room-3', { description: 'changed' });
  await doc.save();
  const parsed = parseLibconfig(readFileSync(path, 'utf8'), path);
  assert.deepEqual(documentValues(parsed).map((s) => s.name), ['general', 'room-9999', 'room-0', 'room-1', 'room-3', 'room-4']);
  const reloaded = await Jcfg.load(path);
  assert.deepEqual(reloaded.category('room-3'), { description: 'changed' });
  assert.deepEqual(reloaded.category('room-4')!.nested, { kind: 'group', entries: [{ name: 'x', value: [1, 2], line: reloaded.categoryLine('room-4')! + 4 }] });
  assert.ok(readFileSync(path, 'utf8').includes('# test room'));
});

test('save is atomic: no temp files left behind, file mode kept', async () => {
  const path = tmpFile('v.jcfg', SEED);
  chmodSync(path, 0o640);
  const doc = await Jcfg.load(path);
  doc.setCategory('room-5', { description: 'x' });
  await doc.save();
  const dir = join(path, '..');
  assert.deepEqual(readdirSync(dir), ['v.jcfg']);
  assert.equal(statSync(path).mode & 0o777, 0o640);
});

test('fromText and invalid names', () => {
  const doc = Jcfg.fromText('general: { a = 1 }\ntop = 2\n', 'mem.jcfg');
  assert.equal(doc.file, 'mem.jcfg');
  assert.deepEqual(doc.categoryNames(), ['general'], 'top-level scalars are not categories');
  assert.throws(() => doc.setCategory('room 1', {}), /invalid jcfg name 'room 1'/);
  assert.throws(() => doc.setCategory('room-1', { 'bad key': 1 }), /invalid jcfg name 'bad key'/);
  doc.setCategory('general', { a: 2 });
  assert.equal(doc.serialize(), 'general: { a = 2 }\ntop = 2\n'.replace('{ a = 2 }', '{\n\ta = 2\n}'));
});

test('categories that came through @include: untouched ones keep the include line', async () => {
  const path = tmpFile('main.jcfg');
  const dir = join(path, '..');
  writeFileSync(join(dir, 'rooms.cfg'), 'room-7: { description = "seven" }\n');
  writeFileSync(path, '# main\ngeneral: { a = 1 }\n@include "rooms.cfg"\n');
  const doc = await Jcfg.load(path);
  assert.deepEqual(doc.categoryNames(), ['general', 'room-7']);
  doc.setCategory('general', { a: 2 });
  await doc.save();
  assert.match(readFileSync(path, 'utf8'), /@include "rooms.cfg"/);
  doc.setCategory('room-7', { description: 'changed' });
  await doc.save();
  // An included category cannot be edited in place: the file is rewritten whole, values intact.
  const re = await Jcfg.load(path);
  assert.deepEqual(re.category('room-7'), { description: 'changed' });
  assert.deepEqual(re.category('general'), { a: 2 });
});
