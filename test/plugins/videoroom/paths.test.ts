/**
 * Paths a VideoRoom request can name (issue 11 item 2): rec_dir in create, new_rec_dir in edit,
 * filename in configure/publish. Each refused request gets 430 "Invalid element (...)" and leaves
 * nothing on disk; protected_folders (janus.jcfg, handed to the plugin by the core) are enforced
 * symlinks included; a rec_dir a request named is never created; a planted symlink under a
 * recording's name is not followed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultJanusConfig } from '../../../src/config/defaults.js';
import { Harness, vrError } from './harness.js';
import { info, publish, rtpPacket as vrRtp } from './media-helpers.js';

/** base/{ok,prot}: `prot` is protected; `ok/link` is a symlink to `prot`. */
function sandbox(): { base: string; ok: string; prot: string; link: string; gateway: ReturnType<typeof defaultJanusConfig> } {
  const base = mkdtempSync(join(tmpdir(), 'portunus-vrpaths-'));
  const ok = join(base, 'ok');
  const prot = join(base, 'prot');
  mkdirSync(ok);
  mkdirSync(prot);
  const link = join(ok, 'link');
  symlinkSync(prot, link);
  const gateway = defaultJanusConfig();
  gateway.general.protected_folders = [prot];
  return { base, ok, prot, link, gateway };
}

/** Every path under `dir` (recursive), to show a refused request created nothing. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

const CONF = `general: {
  string_ids = true
  admin_key = "k"
}
`;

test('create rec_dir / edit new_rec_dir: `..`, a protected folder or a symlink into one is 430; nothing is created', async () => {
  const sb = sandbox();
  const h = await Harness.start(CONF, sb.gateway);
  const s = h.attach();
  const before = tree(sb.base);
  const create = (room: string, rec_dir: string) => h.sync(s, { request: 'create', room, admin_key: 'k', rec_dir, record: true });
  assert.deepEqual(await create('a', `${sb.ok}/../prot`), vrError(430, 'Invalid element (rec_dir)'), '.. in rec_dir');
  assert.deepEqual(await create('b', `${sb.ok}/../elsewhere/new`), vrError(430, 'Invalid element (rec_dir)'), '.. even to a harmless place');
  assert.deepEqual(await create('c', sb.prot), vrError(430, 'Invalid element (rec_dir)'), 'the protected folder');
  assert.deepEqual(await create('d', join(sb.prot, 'sub', 'deeper')), vrError(430, 'Invalid element (rec_dir)'), 'inside it, not yet existing');
  assert.deepEqual(await create('e', join(sb.link, 'x')), vrError(430, 'Invalid element (rec_dir)'), 'through a symlink into it');
  assert.deepEqual(await create('f', `${sb.ok}/\u0000x`), vrError(430, 'Invalid element (rec_dir)'), 'NUL');
  assert.equal(h.plugin.room('a' as never), undefined, 'no room was created');
  assert.deepEqual(tree(sb.base), before, 'nothing created on disk');

  assert.deepEqual(await h.sync(s, { request: 'create', room: 'r', admin_key: 'k', secret: 's', rec_dir: sb.ok }), { videoroom: 'created', room: 'r', permanent: false });
  const edit = (new_rec_dir: string) => h.sync(s, { request: 'edit', room: 'r', secret: 's', new_rec_dir });
  assert.deepEqual(await edit(`${sb.ok}/../../x`), vrError(430, 'Invalid element (new_rec_dir)'));
  assert.deepEqual(await edit(sb.link), vrError(430, 'Invalid element (new_rec_dir)'));
  assert.deepEqual(await edit(join(sb.prot, 'y')), vrError(430, 'Invalid element (new_rec_dir)'));
  assert.equal(h.plugin.room('r' as never)!.settings.rec_dir, sb.ok, 'rec_dir unchanged');
  assert.deepEqual(await edit(join(sb.ok, 'sub')), { videoroom: 'edited', room: 'r', permanent: false });
  assert.deepEqual(tree(sb.base), before, 'still nothing created on disk');
  assert.ok(h.log.lines.some((l) => l.level === 'warn' && l.msg.includes('inside a protected folder')), 'the reason is logged');
});

test('configure/publish filename: a separator, `..` or an absolute path is 430 and records nothing', async () => {
  const sb = sandbox();
  const h = await Harness.start(CONF, sb.gateway);
  const s = h.attach();
  await h.sync(s, { request: 'create', room: 'r', admin_key: 'k', secret: 's', rec_dir: sb.ok });
  await publish(h, s, 'r', 'u1');
  const before = tree(sb.base);
  for (const filename of ['../x/y', '/etc/y', 'a/b', '..', 'a\\b']) {
    assert.deepEqual(await h.async(s, { request: 'configure', record: true, filename }), vrError(430, 'Invalid element (filename)'), filename);
  }
  assert.equal(h.plugin.recordings!.size, 0, 'no recording started');
  assert.deepEqual(tree(sb.base), before, 'nothing created on disk');
  // A bare name is fine and lands in rec_dir.
  assert.deepEqual(await h.async(s, { request: 'configure', record: true, filename: 'meeting' }), { videoroom: 'event', room: 'r', configured: 'ok' });
  await h.async(s, { request: 'unpublish' });
  await h.plugin.recordings!.settled();
  assert.deepEqual(readdirSync(sb.ok).filter((f) => f.endsWith('.mjr')).sort(), ['meeting-audio-0.mjr', 'meeting-video-1.mjr']);
});

test('a rec_dir named by a request is never created; one from the jcfg is (as Janus)', async () => {
  const sb = sandbox();
  const fromJcfg = join(sb.ok, 'jcfg', 'deep');
  const h = await Harness.start(`${CONF}room-j: {\n  rec_dir = "${fromJcfg}"\n}\n`, sb.gateway);
  const s = h.attach();
  const missing = join(sb.ok, 'made', 'by', 'request');
  await h.sync(s, { request: 'create', room: 'r', admin_key: 'k', rec_dir: missing });
  await publish(h, s, 'r', 'u1');
  await h.async(s, { request: 'configure', record: true });
  await h.async(s, { request: 'unpublish' });
  await h.plugin.recordings!.settled();
  assert.equal(existsSync(join(sb.ok, 'made')), false, 'the request-named folder was not created');
  assert.ok(h.log.lines.some((l) => l.level === 'error' && l.msg.includes("couldn't record")), 'the failure is logged');

  const s2 = h.attach();
  await publish(h, s2, 'j', 'u2');
  await h.async(s2, { request: 'configure', record: true });
  await h.async(s2, { request: 'unpublish' });
  await h.plugin.recordings!.settled();
  assert.equal(readdirSync(fromJcfg).filter((f) => f.endsWith('.mjr')).length, 2, 'the jcfg folder was created and recorded into');
});

test('recording time: a jcfg rec_dir in a protected folder records nothing; a symlink planted under the name is not followed', async () => {
  const sb = sandbox();
  const h = await Harness.start(`${CONF}room-p: {\n  rec_dir = "${sb.prot}"\n}\nroom-o: {\n  rec_dir = "${sb.ok}"\n}\n`, sb.gateway);
  const s = h.attach();
  await publish(h, s, 'p', 'u1');
  await h.async(s, { request: 'configure', record: true });
  assert.equal(h.plugin.recordings!.size, 0, 'nothing opened in the protected folder');
  assert.deepEqual(readdirSync(sb.prot), []);
  assert.ok(h.log.lines.some((l) => l.level === 'error' && l.msg.includes('not recording')));

  // ok/planted-audio-0.mjr -> base/victim (not protected): recording must not write through it.
  const victim = join(sb.base, 'victim');
  writeFileSync(victim, 'precious');
  symlinkSync(victim, join(sb.ok, 'planted-audio-0.mjr'));
  const s2 = h.attach();
  await publish(h, s2, 'o', 'u2');
  await h.async(s2, { request: 'configure', record: true, filename: 'planted' });
  h.rtp(s2, info('0', 'audio', 0xa), vrRtp({ pt: 111, seq: 1, ts: 960, ssrc: 0xa }));
  await h.async(s2, { request: 'unpublish' });
  await h.plugin.recordings!.settled();
  assert.equal(readFileSync(victim, 'utf8'), 'precious', 'the symlink target is untouched');
  assert.ok(lstatSync(join(sb.ok, 'planted-audio-0.mjr')).isSymbolicLink());
});
