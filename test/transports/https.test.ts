/**
 * HTTPS and secure WebSocket listeners (Janus's `https`/`secure_port`, `admin_https`/`admin_secure_port`,
 * `wss`/`wss_port`, `admin_wss`/`admin_wss_port`): the same API as the plain ones, with a self-signed
 * certificate made by `openssl`, clients trusting exactly that certificate.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { ConfigError } from '../../src/config/schema.js';
import { ECHO_PKG } from '../core/echo-plugin.js';
import { post, startServer } from './helpers.js';
import { hasOpenssl, httpsPost, httpsRequest, makeCert, WssClient, type TestCert } from './tls-helpers.js';

const skip = hasOpenssl() ? false : 'openssl is not installed';
let cert: TestCert;
before(() => {
  if (!skip) cert = makeCert();
});
after(() => cert?.remove());

function withTls(opts: { key?: string; pwd?: string | null; plain?: boolean } = {}) {
  return {
    http: (c: import('../../src/config/types.js').HttpTransportConfig) => {
      c.general.http = opts.plain ?? true;
      c.general.https = true;
      c.general.secure_port = 0;
      c.general.secure_ip = '127.0.0.1';
      c.admin.admin_http = opts.plain ?? true;
      c.admin.admin_https = true;
      c.admin.admin_secure_port = 0;
      c.certificates = { cert_pem: cert.cert, cert_key: opts.key ?? cert.key, cert_pwd: opts.pwd ?? null, ciphers: null };
    },
    ws: (c: import('../../src/config/types.js').WsTransportConfig) => {
      c.general.ws = opts.plain ?? true;
      c.general.wss = true;
      c.general.wss_port = 0;
      c.general.wss_ip = '127.0.0.1';
      c.admin.admin_ws = opts.plain ?? true;
      c.admin.admin_wss = true;
      c.admin.admin_wss_port = 0;
      c.certificates = { cert_pem: cert.cert, cert_key: opts.key ?? cert.key, cert_pwd: opts.pwd ?? null, ciphers: null };
    },
  };
}

test('HTTPS: create, attach, message, long poll, info; plain HTTP alongside on the same gateway', { skip }, async () => {
  const srv = await startServer(withTls());
  try {
    const { secureBase, base } = srv;
    assert.match(secureBase, /^https:\/\/127\.0\.0\.1:\d+\/janus$/);
    assert.notEqual(srv.http.addresses().secure_api!.port, srv.http.addresses().api!.port);
    const info = await httpsRequest(`${secureBase}/info`, { ca: cert.ca });
    assert.equal(info.status, 200);
    assert.equal(info.headers['content-type'], 'application/json');
    assert.equal(info.json().janus, 'server_info');
    assert.ok((info.json().transports as Record<string, unknown>)['janus.transport.http']);
    assert.equal((await httpsPost(secureBase, { janus: 'ping', transaction: 'p' }, cert.ca)).janus, 'pong');

    const s = ((await httpsPost(secureBase, { janus: 'create', transaction: 'c' }, cert.ca)).data as { id: number }).id;
    const h = ((await httpsPost(`${secureBase}/${s}`, { janus: 'attach', transaction: 'a', plugin: ECHO_PKG }, cert.ca)).data as { id: number }).id;
    const sync = await httpsPost(`${secureBase}/${s}/${h}`, { janus: 'message', transaction: 'm1', body: { request: 'sync', n: 1 } }, cert.ca);
    assert.deepEqual((sync.plugindata as { data: unknown }).data, { echo: { request: 'sync', n: 1 } });
    const ack = await httpsPost(`${secureBase}/${s}/${h}`, { janus: 'message', transaction: 'm2', body: { request: 'async' } }, cert.ca);
    assert.equal(ack.janus, 'ack');
    const ev = await httpsRequest(`${secureBase}/${s}`, { ca: cert.ca });
    assert.equal(ev.status, 200);
    assert.equal(ev.json().janus, 'event');
    assert.equal(ev.json().transaction, 'm2');
    assert.deepEqual((ev.json().plugindata as { data: unknown }).data, { result: 'done' });
    // maxev over HTTPS: an array of events
    await httpsPost(`${secureBase}/${s}/${h}`, { janus: 'message', transaction: 'm3', body: { request: 'async' } }, cert.ca);
    await httpsPost(`${secureBase}/${s}/${h}`, { janus: 'message', transaction: 'm4', body: { request: 'async' } }, cert.ca);
    await new Promise((r) => setTimeout(r, 50));
    const evs = await httpsRequest(`${secureBase}/${s}?maxev=5`, { ca: cert.ca });
    assert.deepEqual((evs.json() as unknown as Array<{ transaction: string }>).map((e) => e.transaction), ['m3', 'm4']);
    // an idle long poll answers keepalive (the helper's poll timeout is 300 ms)
    assert.deepEqual((await httpsRequest(`${secureBase}/${s}`, { ca: cert.ca })).json(), { janus: 'keepalive' });
    // the same session over plain HTTP: one gateway behind both listeners
    assert.equal((await post(`${base}/${s}`, { janus: 'keepalive', transaction: 'k' })).janus, 'ack');
    // errors are the same JSON
    const bad = await httpsPost(secureBase, '{bad', cert.ca);
    assert.equal((bad.error as { code: number }).code, 454);
    assert.equal((await httpsRequest(`${secureBase}/1/2/3`, { ca: cert.ca, body: '{}' })).status, 404);
    assert.equal((await httpsPost(`${secureBase}/${s}`, { janus: 'destroy', transaction: 'd' }, cert.ca)).janus, 'success');
  } finally {
    await srv.stop();
  }
});

test('HTTPS: the certificate is really served (untrusted without the CA; plain HTTP on the TLS port fails)', { skip }, async () => {
  const srv = await startServer(withTls());
  try {
    await assert.rejects(httpsRequest(`${srv.secureBase}/info`), (e: NodeJS.ErrnoException) => /SELF_SIGNED|self.signed|unable to verify/i.test(`${e.code} ${e.message}`));
    const port = srv.http.addresses().secure_api!.port;
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/janus/info' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.on('error', reject);
        req.end();
      }),
    );
    // and the server keeps serving
    assert.equal((await httpsRequest(`${srv.secureBase}/ping`, { ca: cert.ca })).json().janus, 'pong');
  } finally {
    await srv.stop();
  }
});

test('Admin API over HTTPS and WSS: loopback unless configured, same secret rules', { skip }, async () => {
  const srv = await startServer(withTls());
  try {
    const a = srv.http.addresses();
    assert.equal(a.secure_admin!.host, '127.0.0.1');
    assert.equal(srv.ws.addresses().secure_admin!.host, '127.0.0.1');
    const denied = await httpsPost(srv.secureAdmin, { janus: 'list_sessions', transaction: 'l' }, cert.ca);
    assert.equal((denied.error as { code: number }).code, 403);
    const s = ((await httpsPost(srv.secureBase, { janus: 'create', transaction: 'c' }, cert.ca)).data as { id: number }).id;
    const list = await httpsPost(srv.secureAdmin, { janus: 'list_sessions', transaction: 'l', admin_secret: 'adm' }, cert.ca);
    assert.deepEqual(list.sessions, [s]);
    assert.equal((await httpsRequest(`${srv.secureAdmin}/info`, { ca: cert.ca })).json().janus, 'server_info');
    const admin = await WssClient.open(srv.adminWssUrl, 'janus-admin-protocol', cert.ca);
    try {
      const r = await admin.request({ janus: 'list_sessions', transaction: 'w', admin_secret: 'adm' });
      assert.deepEqual(r.sessions, [s]);
    } finally {
      await admin.close();
    }
  } finally {
    await srv.stop();
  }
});

test('WSS: janus-protocol create, attach, message and events; subprotocol required; plain WS alongside', { skip }, async () => {
  const srv = await startServer(withTls());
  try {
    assert.match(srv.wssUrl, /^wss:\/\/127\.0\.0\.1:\d+$/);
    const c = await WssClient.open(srv.wssUrl, 'janus-protocol', cert.ca);
    try {
      const s = ((await c.request({ janus: 'create', transaction: 'c' })).data as { id: number }).id;
      const h = ((await c.request({ janus: 'attach', transaction: 'a', session_id: s, plugin: ECHO_PKG })).data as { id: number }).id;
      const sync = await c.request({ janus: 'message', transaction: 'm1', session_id: s, handle_id: h, body: { request: 'sync' } });
      assert.deepEqual((sync.plugindata as { data: unknown }).data, { echo: { request: 'sync' } });
      assert.equal((await c.request({ janus: 'message', transaction: 'm2', session_id: s, handle_id: h, body: { request: 'async' } })).janus, 'ack');
      const ev = await c.next();
      assert.equal(ev.janus, 'event');
      assert.equal(ev.transaction, 'm2');
      assert.equal(ev.sender, h);
      assert.equal((await c.request({ janus: 'keepalive', transaction: 'k', session_id: s })).janus, 'ack');
    } finally {
      await c.close();
    }
    await assert.rejects(WssClient.open(srv.wssUrl, 'other-protocol', cert.ca), /400/);
    await assert.rejects(WssClient.open(srv.wssUrl, 'janus-protocol', Buffer.from('')), /self.signed|SELF_SIGNED|unable to verify|certificate/i);
    const plain = await WssClient.open(srv.wsUrl, 'janus-protocol', cert.ca);
    assert.equal((await plain.request({ janus: 'ping', transaction: 'p' })).janus, 'pong');
    await plain.close();
    assert.equal(srv.ws.clientCount(), 0);
  } finally {
    await srv.stop();
  }
});

test('cert_pwd: an encrypted key works with its passphrase; HTTPS/WSS only (plain listeners off)', { skip }, async () => {
  const srv = await startServer(withTls({ key: cert.encKey, pwd: cert.pwd, plain: false }));
  try {
    assert.equal(srv.base, '');
    assert.equal(srv.wsUrl, '');
    assert.equal((await httpsPost(srv.secureBase, { janus: 'ping', transaction: 'p' }, cert.ca)).janus, 'pong');
    const info = (await httpsRequest(`${srv.secureBase}/info`, { ca: cert.ca })).json();
    assert.ok((info.transports as Record<string, unknown>)['janus.transport.websockets'], 'both transports registered with only secure listeners');
    const c = await WssClient.open(srv.wssUrl, 'janus-protocol', cert.ca);
    assert.equal((await c.request({ janus: 'ping', transaction: 'p' })).janus, 'pong');
    await c.close();
  } finally {
    await srv.stop();
  }
});

test('a transport started with an unusable certificate refuses to start (ConfigError) and binds nothing', { skip }, async () => {
  await assert.rejects(startServer(withTls({ key: cert.encKey, pwd: 'not-the-passphrase-42' })), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.key, 'certificates.cert_pwd');
    assert.ok(!e.message.includes('not-the-passphrase-42'), 'the passphrase is never in a message');
    return true;
  });
  await assert.rejects(startServer(withTls({ key: cert.otherKey })), (e: unknown) => e instanceof ConfigError && e.key === 'certificates.cert_key' && /not the private key/.test(e.message));
});

test('HTTPS: a stalled body is ended after request_timeout and an oversized one answered 413, on the API and Admin listeners', { skip }, async () => {
  const { connect } = await import('node:tls');
  const srv = await startServer({ ...withTls(), requestTimeoutMs: 1000, maxBodyBytes: 1024 });
  try {
    for (const url of [srv.secureBase, srv.secureAdmin]) {
      const u = new URL(url);
      const exchange = (head: string, body: Buffer | string) =>
        new Promise<{ text: string; ms: number }>((resolve, reject) => {
          const t0 = Date.now();
          let text = '';
          const s = connect({ host: u.hostname, port: Number(u.port), ca: cert.ca, servername: 'localhost', checkServerIdentity: () => undefined }, () => {
            s.write(head);
            s.write(body);
          });
          s.on('data', (d: Buffer) => (text += d.toString('latin1')));
          s.on('error', reject);
          s.on('close', () => resolve({ text, ms: Date.now() - t0 }));
          setTimeout(() => s.destroy(), 6000);
        });
      const stalled = await exchange(`POST ${u.pathname} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n`, '{"janus":');
      assert.match(stalled.text, /^HTTP\/1\.1 408 /, url);
      assert.ok(stalled.ms < 5000, `${url}: ended after ${stalled.ms} ms`);
      const big = Buffer.alloc(512 * 1024, 0x20);
      const refused = await exchange(`POST ${u.pathname} HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\nConnection: close\r\n\r\n`, big);
      assert.match(refused.text, /^HTTP\/1\.1 413 /, url);
    }
  } finally {
    await srv.stop();
  }
});
