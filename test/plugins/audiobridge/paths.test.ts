/**
 * Paths an AudioBridge request can name (issue 11 items 2 and 3): record_dir, record_file, mjrs_dir
 * in create/edit/enable_recording/enable_mjrs, `filename` of join/configure, and play_file. Refused
 * names and folders get 484 "Invalid element (...)" and leave nothing on disk; protected_folders
 * (janus.jcfg) are enforced through symlinks; a folder a request named is never created; play_file
 * answers one generic error whatever went wrong, and the reason goes to the log only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_ANNOUNCEMENT_BYTES } from '../../../src/plugins/audiobridge/announcement.js';
import { PathPolicy } from '../../../src/security/paths.js';
import type { Logger } from '../../../src/log.js';
import { joinWithMedia, makeHarness } from './harness.js';
import { writeToneFile } from './ogg-opus.js';

type Data = Record<string, unknown>;
const err = (code: number, error: string): Data => ({ audiobridge: 'event', error_code: code, error });

function sandbox(): { base: string; ok: string; prot: string; link: string; policy: PathPolicy } {
  const base = mkdtempSync(join(tmpdir(), 'portunus-abpaths-'));
  const ok = join(base, 'ok');
  const prot = join(base, 'prot');
  mkdirSync(ok);
  mkdirSync(prot);
  const link = join(ok, 'link');
  symlinkSync(prot, link);
  return { base, ok, prot, link, policy: new PathPolicy([prot]) };
}

const tree = (dir: string): string[] => (readdirSync(dir, { recursive: true }) as string[]).sort();

/** A logger that keeps lines, to show reasons are logged (and only logged). */
function keepLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  const l = { lines, fatal: at('fatal'), error: at('error'), warn: at('warn'), info: at('info'), verb: at('verb'), huge: at('huge'), debug: at('debug'), enabled: () => true, child: () => l };
  return l as unknown as Logger & { lines: string[] };
}

const CONF = `general: {\n}\nroom-1: {\n\tsampling_rate = 16000\n\tsecret = "s"\n}\n`;

test('create / edit / enable_*: `..`, protected folders (also via a symlink) and file names with a path are 484; nothing created', async () => {
  const sb = sandbox();
  const h = await makeHarness(CONF, { paths: sb.policy });
  const a = h.session();
  const before = tree(sb.base);
  const q = async (body: Data): Promise<Data> => (await h.send(a, body)).data;
  const create = (extra: Data) => q({ request: 'create', room: 50, record: true, ...extra });
  assert.deepEqual(await create({ record_dir: `${sb.ok}/../prot` }), err(484, 'Invalid element (record_dir)'));
  assert.deepEqual(await create({ record_dir: `${sb.ok}/../new` }), err(484, 'Invalid element (record_dir)'), '.. anywhere');
  assert.deepEqual(await create({ record_dir: join(sb.link, 'x') }), err(484, 'Invalid element (record_dir)'), 'symlink into a protected folder');
  assert.deepEqual(await create({ mjrs: true, mjrs_dir: sb.prot }), err(484, 'Invalid element (mjrs_dir)'));
  assert.deepEqual(await create({ record_dir: sb.ok, record_file: '../x.wav' }), err(484, 'Invalid element (record_file)'));
  assert.deepEqual(await create({ record_file: '/etc/x.wav' }), err(484, 'Invalid element (record_file)'), 'absolute record_file');
  assert.deepEqual(await create({ record_file: `${sb.prot}/x.wav` }), err(484, 'Invalid element (record_file)'));
  assert.equal(h.plugin.getRoom(50), undefined, 'no room created');
  assert.deepEqual(tree(sb.base), before, 'nothing created on disk');

  assert.deepEqual(await q({ request: 'edit', room: 1, secret: 's', new_record_dir: sb.link }), err(484, 'Invalid element (new_record_dir)'));
  assert.deepEqual(await q({ request: 'edit', room: 1, secret: 's', new_mjrs_dir: `${sb.ok}/../../x` }), err(484, 'Invalid element (new_mjrs_dir)'));
  assert.deepEqual(await q({ request: 'enable_recording', room: 1, secret: 's', record: true, record_dir: join(sb.prot, 'a') }), err(484, 'Invalid element (record_dir)'));
  assert.deepEqual(await q({ request: 'enable_recording', room: 1, secret: 's', record: true, record_dir: sb.ok, record_file: 'a/b.wav' }), err(484, 'Invalid element (record_file)'));
  assert.deepEqual(await q({ request: 'enable_mjrs', room: 1, secret: 's', mjrs: true, mjrs_dir: sb.link }), err(484, 'Invalid element (mjrs_dir)'));
  const st = h.plugin.getRoom(1)!.settings;
  assert.deepEqual([st.recordDir, st.mjrsDir, st.record, st.mjrs], [null, null, false, false], 'room unchanged');
  assert.deepEqual(tree(sb.base), before, 'still nothing on disk');
  h.plugin.destroy();
});

test('join/configure `filename`: a path or `..` is 484 before anything changes; a request-named mjrs_dir is never created', async () => {
  const sb = sandbox();
  const fromJcfg = join(sb.ok, 'jcfg', 'deep');
  const h = await makeHarness(`${CONF}room-2: {\n\tsampling_rate = 16000\n\tmjrs = true\n\tmjrs_dir = "${fromJcfg}"\n}\n`, { paths: sb.policy });
  const a = h.session();
  const q = async (body: Data): Promise<Data> => (await h.send(a, body)).data;
  const before = tree(sb.base);
  assert.deepEqual(await q({ request: 'join', room: 1, record: true, filename: '../../x' }), err(484, 'Invalid element (filename)'));
  assert.deepEqual(await q({ request: 'join', room: 1, record: true, filename: '/etc/x' }), err(484, 'Invalid element (filename)'));
  assert.equal(h.plugin.getRoom(1)!.participants.size, 0, 'not joined');
  const { s } = await joinWithMedia(h, 1, 'A');
  assert.deepEqual((await h.send(s, { request: 'configure', record: true, filename: 'a/b' })).data, err(484, 'Invalid element (filename)'));
  assert.deepEqual(tree(sb.base), before, 'nothing on disk');

  // mjrs_dir named by enable_mjrs, missing: not created (the recording fails with a log line).
  const missing = join(sb.ok, 'made', 'by', 'request');
  assert.deepEqual(await q({ request: 'enable_mjrs', room: 1, secret: 's', mjrs: true, mjrs_dir: missing }), { audiobridge: 'success', mjrs: true });
  await h.plugin.getRoom(1)!.participants.values().next().value!.mjr?.ready();
  assert.equal(existsSync(join(sb.ok, 'made')), false, 'request-named folder not created');
  // From the jcfg, Janus's mkdir -p is kept.
  const b = h.session();
  await h.send(b, { request: 'join', room: 2, display: 'B' });
  const p = [...h.plugin.getRoom(2)!.participants.values()][0]!;
  assert.equal(await p.mjr!.ready(), true);
  assert.equal(readdirSync(fromJcfg).filter((f) => f.endsWith('-audio.mjr')).length, 1, 'jcfg folder created');
  h.plugin.destroy();
});

test('play_file: missing, folder, protected (also via a symlink), too large, not Ogg: one generic 499, details in the log only', async () => {
  const sb = sandbox();
  const log = keepLog();
  const h = await makeHarness(CONF, { paths: sb.policy, log });
  const a = h.session();
  const q = async (filename: string): Promise<Data> => (await h.send(a, { request: 'play_file', room: 1, secret: 's', filename })).data;
  const tone = writeToneFile(join(sb.ok, 'tone.opus'), 440, 0.2);
  const hidden = writeToneFile(join(sb.prot, 'hidden.opus'), 440, 0.2);
  symlinkSync(hidden, join(sb.ok, 'alias.opus'));
  const big = join(sb.ok, 'big.opus');
  const fd = openSync(big, 'w');
  ftruncateSync(fd, MAX_ANNOUNCEMENT_BYTES + 1); // sparse: no real disk use
  closeSync(fd);
  const garbage = join(sb.ok, 'garbage.opus');
  writeFileSync(garbage, 'not an ogg file at all');
  const generic = err(499, 'Error opening file');
  for (const f of [join(sb.ok, 'missing.opus'), sb.ok, hidden, join(sb.ok, 'alias.opus'), join(sb.link, 'hidden.opus'), big, garbage, `${sb.ok}/../prot/hidden.opus`]) {
    assert.deepEqual(await q(f), generic, f);
  }
  assert.equal(h.plugin.getRoom(1)!.announcements.size, 0);
  assert.ok(log.lines.some((l) => l.includes('file too large')), 'the size is in the log');
  assert.ok(log.lines.some((l) => l.includes('inside a protected folder')), 'the protection is in the log');
  const okReply = await q(tone);
  assert.equal(okReply['audiobridge'], 'success', JSON.stringify(okReply));
  h.plugin.destroy();
});

test('the mix recording (WAV) does not follow a symlink planted under its name', async () => {
  const sb = sandbox();
  const h = await makeHarness(CONF, { paths: sb.policy });
  const a = h.session();
  const victim = join(sb.base, 'victim');
  writeFileSync(victim, 'precious');
  symlinkSync(victim, join(sb.ok, 'mix.wav'));
  const r = (await h.send(a, { request: 'enable_recording', room: 1, secret: 's', record: true, record_dir: sb.ok, record_file: 'mix.wav' })).data;
  assert.equal(r['error_code'], 499, JSON.stringify(r));
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  h.plugin.destroy();
});
