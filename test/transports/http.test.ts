import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { ECHO_PKG } from '../core/echo-plugin.js';
import { post, startServer } from './helpers.js';

const err = (r: Record<string, unknown>) => r.error as { code: number; reason: string };

async function sessionAndHandle(base: string): Promise<{ s: number; h: number }> {
  const s = ((await post(base, { janus: 'create', transaction: 'c' })).data as { id: number }).id;
  const h = ((await post(`${base}/${s}`, { janus: 'attach', transaction: 'a', plugin: ECHO_PKG })).data as { id: number }).id;
  return { s, h };
}

test('HTTP: JSON errors, path rules, CORS headers', async () => {
  const srv = await startServer();
  try {
    const { base } = srv;
    const bad = await post(base, '{bad');
    assert.equal(err(bad).code, 454);
    assert.match(err(bad).reason, /^JSON error: on line 1: /);
    assert.deepEqual(await post(base, '[1,2]'), { janus: 'error', error: { code: 455, reason: 'JSON error: not an object' } });
    assert.equal(err(await post(base, '')).code, 454);
    assert.deepEqual(await post(base, { janus: 'create' }), { janus: 'error', error: { code: 456, reason: 'Missing mandatory element (transaction)' } });
    assert.deepEqual(err(await post(base, { janus: 'attach', transaction: 't' })), { code: 457, reason: "Unhandled request 'attach' at this path" });
    assert.deepEqual(err(await post(`${base}/123`, { janus: 'keepalive', transaction: 't' })), { code: 458, reason: 'No such session 123' });
    const { s, h } = await sessionAndHandle(base);
    assert.deepEqual(await post(`${base}/${s}`, { janus: 'keepalive', transaction: 't', session_id: 5 }), {
      janus: 'error',
      error: { code: 457, reason: 'Conflicting session ID (payload and path)' },
    });
    assert.deepEqual(err(await post(`${base}/${s}/${h}`, { janus: 'keepalive', transaction: 't', handle_id: 6 })), {
      code: 457,
      reason: 'Conflicting handle ID (payload and path)',
    });
    // ids only in the body work at the root path too
    assert.equal((await post(base, { janus: 'keepalive', transaction: 't', session_id: s })).janus, 'ack');
    assert.equal((await fetch(`${base}/1/2/3`, { method: 'POST', body: '{}' })).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${srv.http.addresses().api!.port}/other`)).status, 404);
    const redirect = await fetch(`${base}/${s}/${h}`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), `/janus/${s}`);
    assert.equal((await fetch(`${base}/999999`)).status, 404);
    const del = await fetch(base, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.deepEqual(err((await del.json()) as Record<string, unknown>), { code: 450, reason: 'Unsupported method DELETE' });
    const opt = await fetch(base, {
      method: 'OPTIONS',
      headers: { Origin: 'http://x', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(opt.status, 200);
    assert.equal(opt.headers.get('access-control-allow-origin'), '*');
    assert.equal(opt.headers.get('access-control-allow-methods'), 'POST');
    assert.equal(opt.headers.get('access-control-allow-headers'), 'content-type');
    assert.equal(opt.headers.get('access-control-max-age'), '86400');
    const info = await fetch(`${base}/info`);
    assert.equal(info.headers.get('content-type'), 'application/json');
    const infoBody = (await info.json()) as Record<string, unknown>;
    assert.equal(infoBody.janus, 'server_info');
    assert.equal(typeof infoBody.transaction, 'string');
    assert.ok((infoBody.transports as Record<string, unknown>)['janus.transport.http']);
    assert.ok((infoBody.transports as Record<string, unknown>)['janus.transport.websockets']);
    assert.equal(((await (await fetch(`${base}/ping`)).json()) as Record<string, unknown>).janus, 'pong');
    assert.equal((await fetch(`${base}/info`, { method: 'POST', body: '{}' })).status, 400);
    // a request line no URL parser accepts gets a 400, and the server keeps serving
    const port = srv.http.addresses().api!.port;
    const raw = await new Promise<string>((resolve) => {
      const sock = connect(port, '127.0.0.1', () => sock.write('GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'));
      let got = '';
      sock.on('data', (d) => {
        got += d.toString();
        sock.destroy();
      });
      sock.on('close', () => resolve(got));
    });
    assert.match(raw, /^HTTP\/1\.1 400/);
    assert.equal((await post(base, { janus: 'ping', transaction: 'still' })).janus, 'pong');
  } finally {
    await srv.stop();
  }
});

test('HTTP: long poll with maxev 1 and 3, keepalive on idle, concurrent polls', async () => {
  // Long enough that a loaded machine still delivers queued events before the idle keepalive.
  const srv = await startServer({ longPollTimeoutMs: 1000 });
  try {
    const { base } = srv;
    const { s, h } = await sessionAndHandle(base);
    // idle: keepalive object, or array with maxev > 1
    assert.deepEqual(await (await fetch(`${base}/${s}`)).json(), { janus: 'keepalive' });
    assert.deepEqual(await (await fetch(`${base}/${s}?maxev=3`)).json(), [{ janus: 'keepalive' }]);
    // queued events
    for (let i = 0; i < 4; i++) {
      assert.equal((await post(`${base}/${s}/${h}`, { janus: 'message', transaction: `m${i}`, body: { request: 'async' } })).janus, 'ack');
    }
    await new Promise((r) => setTimeout(r, 30));
    const one = (await (await fetch(`${base}/${s}`)).json()) as Record<string, unknown>;
    assert.equal(one.janus, 'event');
    assert.equal(one.transaction, 'm0');
    assert.equal(one.sender, h);
    const three = (await (await fetch(`${base}/${s}?maxev=3`)).json()) as Array<Record<string, unknown>>;
    assert.deepEqual(three.map((e) => e.transaction), ['m1', 'm2', 'm3']);
    // two polls waiting at once: each gets one event
    const p1 = fetch(`${base}/${s}`).then((r) => r.json());
    const p2 = fetch(`${base}/${s}`).then((r) => r.json());
    await new Promise((r) => setTimeout(r, 20));
    await post(`${base}/${s}/${h}`, { janus: 'message', transaction: 'x1', body: { request: 'async' } });
    await post(`${base}/${s}/${h}`, { janus: 'message', transaction: 'x2', body: { request: 'async' } });
    const got = (await Promise.all([p1, p2])) as Array<Record<string, unknown>>;
    assert.deepEqual(got.map((e) => e.transaction).sort(), ['x1', 'x2']);
    // detach: success then a detached event on the poll
    assert.equal((await post(`${base}/${s}/${h}`, { janus: 'detach', transaction: 'd' })).janus, 'success');
    assert.deepEqual(await (await fetch(`${base}/${s}`)).json(), { janus: 'detached', session_id: s, sender: h });
    // destroy: a waiting poll is released
    const waiting = fetch(`${base}/${s}`).then((r) => r.json());
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await post(`${base}/${s}`, { janus: 'destroy', transaction: 'x' })).janus, 'success');
    assert.deepEqual(await waiting, { janus: 'keepalive' });
    assert.deepEqual(srv.http.router.counts(), { queues: 0, waiting: 0 });
  } finally {
    await srv.stop();
  }
});

test('HTTP: long polls keep the session alive; idle sessions time out with a timeout event', async () => {
  const srv = await startServer({ janus: (c) => (c.general.session_timeout = 1), longPollTimeoutMs: 2500, watchdogIntervalMs: 50 });
  try {
    const { base } = srv;
    const s = ((await post(base, { janus: 'create', transaction: 'c' })).data as { id: number }).id;
    const ev = (await (await fetch(`${base}/${s}`)).json()) as Record<string, unknown>;
    assert.deepEqual(ev, { janus: 'timeout', session_id: s });
    assert.equal(srv.gw.hasSession(s), false);
    assert.equal((await fetch(`${base}/${s}`)).status, 404);
  } finally {
    await srv.stop();
  }
});

test('HTTP: api_secret on POST and on long-poll query string', async () => {
  const srv = await startServer({ janus: (c) => (c.general.api_secret = 'sek') });
  try {
    const { base } = srv;
    assert.equal(err(await post(base, { janus: 'create', transaction: 'c' })).code, 403);
    const s = ((await post(base, { janus: 'create', transaction: 'c', apisecret: 'sek' })).data as { id: number }).id;
    assert.equal((await fetch(`${base}/${s}`)).status, 403);
    assert.equal((await fetch(`${base}/${s}?apisecret=sek`)).status, 200);
  } finally {
    await srv.stop();
  }
});

test('HTTP: oversized bodies are refused and the server stays up', async () => {
  const srv = await startServer({ maxBodyBytes: 1024 });
  try {
    const big = JSON.stringify({ janus: 'ping', transaction: 'x'.repeat(5000) });
    const r = await fetch(srv.base, { method: 'POST', body: big });
    assert.equal(r.status, 413);
    assert.equal(err((await r.json()) as Record<string, unknown>).code, 450);
    // chunked upload without a content-length
    const status = await new Promise<number>((resolve, reject) => {
      const rq = request(srv.base, { method: 'POST', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      rq.on('error', reject);
      rq.write(big);
      rq.end();
    });
    assert.equal(status, 413);
    assert.equal((await post(srv.base, { janus: 'ping', transaction: 'ok' })).janus, 'pong');
  } finally {
    await srv.stop();
  }
});

test('HTTP: enforce_cors refuses other origins; json styles', async () => {
  const srv = await startServer({
    http: (c) => {
      c.cors.allow_origin = 'https://good.example';
      c.cors.enforce_cors = true;
      c.general.json = 'indented';
    },
  });
  try {
    const ok = await fetch(`${srv.base}/ping`, { headers: { Origin: 'https://good.example' } });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://good.example');
    const text = await ok.text();
    assert.match(text, /^\{\n {3}"janus": "pong",/);
    assert.equal((await fetch(`${srv.base}/ping`, { headers: { Origin: 'https://evil.example' } })).status, 403);
  } finally {
    await srv.stop();
  }
  const plain = await startServer({ http: (c) => (c.general.json = 'plain') });
  try {
    const text = await (await fetch(plain.base, { method: 'POST', body: '{"janus":"ping","transaction":"t"}' })).text();
    assert.equal(text, '{"janus": "pong", "transaction": "t"}');
  } finally {
    await plain.stop();
  }
});

test('HTTP Admin API: loopback listener, secret, handle_info, path injection', async () => {
  const srv = await startServer();
  try {
    assert.equal(srv.http.addresses().admin!.host, '127.0.0.1');
    const { s, h } = await sessionAndHandle(srv.base);
    assert.equal(err(await post(srv.admin, { janus: 'list_sessions', transaction: 't' })).code, 403);
    assert.deepEqual((await post(srv.admin, { janus: 'list_sessions', transaction: 't', admin_secret: 'adm' })).sessions, [s]);
    const hi = await post(`${srv.admin}/${s}/${h}`, { janus: 'handle_info', transaction: 't', admin_secret: 'adm' });
    assert.equal((hi.info as Record<string, unknown>).session_transport, 'janus.transport.http');
    assert.equal((hi.info as Record<string, unknown>).plugin, ECHO_PKG);
    assert.equal((await post(`${srv.admin}`, { janus: 'ping', transaction: 't' })).janus, 'pong');
  } finally {
    await srv.stop();
  }
});
