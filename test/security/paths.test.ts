/**
 * The path and post-target policies on their own (src/security): name confinement, `..`,
 * protected_folders with whole-component matching and symlinks (existing and not-yet-existing
 * tails), and the address classes a `post` target may not reach, in every spelling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PathPolicy } from '../../src/security/paths.js';
import { isLocalAddress, PostTargetPolicy } from '../../src/security/post-targets.js';

test('file names: bare names only', () => {
  for (const ok of ['a.mjr', 'meeting-u1', 'x y', '.hidden', 'a.b.c']) assert.equal(PathPolicy.nameProblem(ok), null, ok);
  for (const bad of ['', '.', '..', '../x', 'a/b', '/etc/passwd', 'a\\b', 'a\0b', 'x..y']) assert.notEqual(PathPolicy.nameProblem(bad), null, JSON.stringify(bad));
});

test('protected_folders: the folder and what is under it, whole components, symlinks resolved; none configured: nothing protected', () => {
  const base = mkdtempSync(join(tmpdir(), 'portunus-policy-'));
  const prot = join(base, 'prot');
  mkdirSync(prot);
  mkdirSync(join(base, 'protx'));
  symlinkSync(prot, join(base, 'alias'));
  symlinkSync(join(base, 'alias'), join(base, 'alias2')); // a chain
  const p = new PathPolicy([prot, '/etc']);
  assert.ok(p.isProtected(prot));
  assert.ok(p.isProtected(`${prot}/`));
  assert.ok(p.isProtected(join(prot, 'a', 'b', 'not-yet')));
  assert.ok(p.isProtected(join(base, 'alias')));
  assert.ok(p.isProtected(join(base, 'alias2', 'new', 'file.mjr')), 'symlink chain, missing tail');
  assert.ok(p.isProtected(`${base}/protx/../prot/x`), 'normalised first');
  assert.ok(p.isProtected('/etc/hostname'));
  assert.equal(p.isProtected(join(base, 'protx')), false, '"prot" does not protect "protx" (Janus: it does)');
  assert.equal(p.isProtected('/etcetera'), false);
  assert.equal(p.isProtected(base), false);
  assert.equal(new PathPolicy([]).isProtected('/etc/passwd'), false, 'Janus: commented out = nothing protected');
  assert.ok(new PathPolicy(['/']).isProtected('/tmp/x'), '"/" protects everything');
  // A protected folder given through a symlink protects its target too.
  assert.ok(new PathPolicy([join(base, 'alias')]).isProtected(join(prot, 'f')));
});

test('pathProblem: `..` components and NUL refused even where they would land somewhere harmless', () => {
  const p = new PathPolicy([]);
  assert.equal(p.pathProblem('/tmp/rec'), null);
  assert.equal(p.pathProblem('relative/rec'), null);
  assert.equal(p.pathProblem('/tmp/a..b'), null, 'dots inside a name are fine in a folder');
  assert.notEqual(p.pathProblem('/tmp/../tmp/rec'), null);
  assert.notEqual(p.pathProblem('..'), null);
  assert.notEqual(p.pathProblem('/tmp/x\0'), null);
  assert.deepEqual(p.fileIn('/tmp/rec/', 'a.mjr'), { path: '/tmp/rec/a.mjr' });
  assert.deepEqual(p.fileIn(null, 'a.mjr'), { path: 'a.mjr' }, 'no folder: working directory, as Janus');
  assert.ok('problem' in p.fileIn('/tmp', '../a.mjr'));
});

test('post targets: local address classes in every spelling', () => {
  for (const ip of ['127.0.0.1', '127.255.255.254', '0.0.0.0', '169.254.169.254', '169.254.0.1', '::1', '::', 'fe80::1', 'febf::1', 'fd00:ec2::254',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::127.0.0.1', '0:0:0:0:0:0:0:1', 'fe80::1%eth0']) {
    assert.equal(isLocalAddress(ip), true, ip);
  }
  for (const ip of ['8.8.8.8', '10.0.0.1', '192.168.1.1', '169.253.0.1', '2001:db8::1', 'fd00:ec2::253', 'fec0::1', '::ffff:8.8.8.8', '128.0.0.1']) {
    assert.equal(isLocalAddress(ip), false, ip);
  }
});

test('post targets: schemes, allow-list matching by origin and path, local allowed only by the operator', () => {
  const open = new PostTargetPolicy();
  assert.equal(open.problem('https://hooks.example.com/x'), null);
  assert.notEqual(open.problem('http://127.0.0.1/'), null);
  assert.notEqual(open.problem('http://LOCALHOST/'), null);
  assert.notEqual(open.problem('ftp://example.com/'), null);
  assert.equal(new PostTargetPolicy({ allowLocal: true }).problem('http://127.0.0.1:8080/x'), null);
  const listed = new PostTargetPolicy({ allowed: ['https://hooks.example.com/chat', 'http://127.0.0.1:9000/'] });
  assert.equal(listed.problem('https://hooks.example.com/chat'), null);
  assert.equal(listed.problem('https://hooks.example.com/chat/room1'), null);
  assert.equal(listed.problem('http://127.0.0.1:9000/anything'), null, 'listed local backend');
  assert.notEqual(listed.problem('https://hooks.example.com/chatty'), null);
  assert.notEqual(listed.problem('https://hooks.example.com.evil.net/chat'), null);
  assert.notEqual(listed.problem('http://hooks.example.com/chat'), null, 'scheme matters');
  assert.notEqual(listed.problem('https://other.example.com/'), null, 'not listed');
});

test('post targets: the send-time lookup drops local addresses ("localhost" resolves, nothing usable is left)', async () => {
  const p = new PostTargetPolicy();
  const url = new URL('http://localhost:1/x');
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => p.lookupFor(url)('localhost', { all: true }, (e) => resolve(e)));
  assert.equal(err?.code, 'EPOSTPOLICY');
  const allowed = new PostTargetPolicy({ allowLocal: true });
  const addrs = await new Promise<unknown>((resolve) => allowed.lookupFor(url)('localhost', { all: true }, (_e, a) => resolve(a)));
  assert.ok(Array.isArray(addrs) && addrs.length > 0);
});
