/** The built server as a process: startup, a config error, and a graceful SIGTERM. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/server-conf.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

function run(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<{ code: number | null; ms: number }> } {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORTUNUS_LOG_PRETTY: '0' } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let killedAt = 0;
  const origKill = child.kill.bind(child);
  child.kill = (sig?: NodeJS.Signals | number) => {
    killedAt = Date.now();
    return origKill(sig);
  };
  const exit = new Promise<{ code: number | null; ms: number }>((resolve) => child.on('exit', (code) => resolve({ code, ms: Date.now() - killedAt })));
  return { child, out: () => out, err: () => err, exit };
}

async function waitFor(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a config syntax error prints file:line:col and exits 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portunus-main-'));
  try {
    writeFileSync(join(dir, 'janus.jcfg'), 'general: {\n  debug_level = = 4\n}\n');
    const p = run(['-F', dir]);
    const { code } = await p.exit;
    assert.equal(code, 1);
    assert.match(p.err(), /janus\.jcfg:2:\d+: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--version and bad flags', async () => {
  const v = run(['--version']);
  assert.equal((await v.exit).code, 0);
  assert.match(v.out(), /^Portunus \d+\.\d+\.\d+/);
  const bad = run(['--bogus']);
  assert.equal((await bad.exit).code, 1);
  assert.match(bad.err(), /unknown option/);
});

test('serves, then SIGTERM: clients get detached events and the process exits 0 within 5 s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portunus-main-'));
  const [http, admin, ws] = [await freePort(), await freePort(), await freePort()];
  try {
    writeFileSync(join(dir, 'janus.jcfg'), 'general: {\n  admin_secret = "adm"\n  debug_level = 4\n}\n');
    writeFileSync(join(dir, 'janus.transport.http.jcfg'), `general: {\n  port = ${http}\n  ip = "127.0.0.1"\n}\nadmin: {\n  admin_http = true\n  admin_port = ${admin}\n}\n`);
    writeFileSync(join(dir, 'janus.transport.websockets.jcfg'), `general: {\n  ws_port = ${ws}\n  ws_ip = "127.0.0.1"\n}\n`);
    const p = run(['-F', dir]);
    await waitFor(() => p.out().includes('transport janus.transport.websockets'), 10_000);
    assert.match(p.out(), /started/);
    const base = `http://127.0.0.1:${http}/janus`;
    const s = (((await (await fetch(base, { method: 'POST', body: '{"janus":"create","transaction":"c"}' })).json()) as { data: { id: number } }).data.id);
    const attach = (await (await fetch(`${base}/${s}`, { method: 'POST', body: '{"janus":"attach","transaction":"a","plugin":"janus.plugin.videoroom"}' })).json()) as { data: { id: number } };
    const h = attach.data.id;
    const poll = fetch(`${base}/${s}`).then((r) => r.json());
    await new Promise((r) => setTimeout(r, 100));
    p.child.kill('SIGTERM');
    assert.deepEqual(await poll, { janus: 'detached', session_id: s, sender: h });
    const { code, ms } = await p.exit;
    assert.equal(code, 0);
    assert.ok(ms < 5000, `took ${ms} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
