/**
 * HTTP bodies over the limit and requests that stall: the client sees the 413 (not a reset), a body
 * or header block that never completes is ended after request_timeout, and long polls are not cut.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { post, startServer } from './helpers.js';

/** Opens a raw connection to an http:// URL's host and port. */
function rawConnect(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the server sends until it closes the connection (or `ms` pass), and how it ended. */
function readAll(s: Socket, ms: number): Promise<{ text: string; ended: 'closed' | 'reset' | 'timeout'; afterMs: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let text = '';
    let done = false;
    const finish = (ended: 'closed' | 'reset' | 'timeout') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ text, ended, afterMs: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish('timeout'), ms);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('error', () => finish('reset'));
    s.on('close', () => finish('closed'));
  });
}

test('HTTP: a body over the limit is answered 413 that Node clients receive (no reset); the connection stays usable', async () => {
  const srv = await startServer({ maxBodyBytes: 1024 });
  try {
    const body = Buffer.alloc(4 * 1024 * 1024, 0x20);
    for (const chunked of [false, true]) {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const headers: Record<string, string> = chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(body.length) };
        const rq = request(srv.base, { method: 'POST', headers }, (r) => {
          let b = '';
          r.on('data', (d: Buffer) => (b += d.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body: b }));
          r.on('error', reject);
        });
        rq.on('error', reject);
        for (let i = 0; i < body.length; i += 64 * 1024) rq.write(body.subarray(i, i + 64 * 1024));
        rq.end();
      });
      assert.equal(res.status, 413, `chunked=${chunked}`);
      assert.equal((JSON.parse(res.body) as { error: { code: number } }).error.code, 450);
    }
    // Raw: the whole body, then a second request on the same connection.
    const s = await rawConnect(srv.base);
    const all = readAll(s, 5000);
    s.write(`POST /janus HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
    s.write(body);
    const ping = '{"janus":"ping","transaction":"again"}';
    s.write(`POST /janus HTTP/1.1\r\nHost: x\r\nContent-Length: ${ping.length}\r\nConnection: close\r\n\r\n${ping}`);
    const r = await all;
    assert.notEqual(r.ended, 'reset');
    assert.match(r.text, /^HTTP\/1\.1 413 /);
    assert.match(r.text, /HTTP\/1\.1 200 [\s\S]*"transaction":"again"/);
  } finally {
    await srv.stop();
  }
});

test('HTTP: curl receives the 413 for an oversized body', async () => {
  const srv = await startServer({ maxBodyBytes: 1024 });
  const dir = mkdtempSync(join(tmpdir(), 'portunus-413-'));
  try {
    const file = join(dir, 'big.json');
    writeFileSync(file, Buffer.alloc(4 * 1024 * 1024, 0x20));
    // With `Expect: 100-continue` (curl's default for big bodies) and without (the body comes at once).
    for (const extra of [[], ['-H', 'Expect:']]) {
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile('curl', ['-sS', ...extra, '-o', '/dev/null', '-w', '%{http_code}', '--data-binary', `@${file}`, srv.base], (e, stdout, stderr) =>
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr }),
        );
      });
      assert.equal(out.stdout, '413', `${extra.join(' ')}: ${out.stderr}`);
      assert.equal(out.code, 0, out.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await srv.stop();
  }
});

test('HTTP: past the hard cap a refused body closes the connection', async () => {
  const srv = await startServer({ maxBodyBytes: 1024, hardMaxBytes: 64 * 1024 });
  try {
    const s = await rawConnect(srv.base);
    const all = readAll(s, 5000);
    s.on('error', () => undefined);
    s.write(`POST /janus HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 * 1024}\r\n\r\n`);
    for (let i = 0; i < 16 && !s.destroyed; i++) {
      s.write(Buffer.alloc(64 * 1024, 0x20));
      await new Promise((r) => setTimeout(r, 10));
    }
    const r = await all;
    assert.notEqual(r.ended, 'timeout');
    assert.equal((await post(srv.base, { janus: 'ping', transaction: 'up' })).janus, 'pong');
  } finally {
    await srv.stop();
  }
});

test('HTTP: a stalled body and slowloris headers are ended after request_timeout, on the API and Admin listeners', async () => {
  const srv = await startServer({ requestTimeoutMs: 1000 });
  try {
    for (const url of [srv.base, srv.admin]) {
      const path = new URL(url).pathname;
      const body = await rawConnect(url);
      const bodyEnd = readAll(body, 6000);
      body.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"janus":`);
      const headers = await rawConnect(url);
      const headersEnd = readAll(headers, 6000);
      headers.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n`);
      const drip = setInterval(() => !headers.destroyed && headers.write('X-Slow: 1\r\n'), 200);
      const [b, h] = await Promise.all([bodyEnd, headersEnd]);
      clearInterval(drip);
      assert.notEqual(b.ended, 'timeout', `stalled body on ${url}`);
      assert.match(b.text, /^HTTP\/1\.1 408 /);
      assert.ok(b.afterMs >= 900, `ended after ${b.afterMs} ms`);
      assert.notEqual(h.ended, 'timeout', `slowloris on ${url}`);
      body.destroy();
      headers.destroy();
    }
  } finally {
    await srv.stop();
  }
});

test('HTTP: a long poll outlives request_timeout', async () => {
  const srv = await startServer({ requestTimeoutMs: 500, longPollTimeoutMs: 2500 });
  try {
    const s = ((await post(srv.base, { janus: 'create', transaction: 'c' })).data as { id: number }).id;
    const t0 = Date.now();
    const r = await fetch(`${srv.base}/${s}`);
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { janus: string }).janus, 'keepalive');
    assert.ok(Date.now() - t0 >= 2000, `answered after ${Date.now() - t0} ms`);
  } finally {
    await srv.stop();
  }
});
