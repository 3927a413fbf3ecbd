/**
 * HTTPS/WSS through the real server process (`node dist/src/main.js -F <folder>`), configured with the
 * keys a Janus deployment uses (`https = true`, `secure_port`, `wss = true`, `wss_port`, the admin
 * equivalents, `certificates` with an encrypted key and `cert_pwd`). The same folder also runs the real
 * Janus 1.1.2 when it is installed, and both answer the same requests over TLS. A wrong certificate path
 * stops the process with file:line of the key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JANUS_BINARY, startJanusOnFolder } from '../helpers/janus-ref.js';
import { portunusMain, SERVER_NODE_ARGS, startPortunusOnFolder } from '../helpers/portunus.js';
import { freePort, makeConfigsFolder, type ConfigsFolder } from '../helpers/server-conf.js';
import type { RunningServer } from '../helpers/server-process.js';
import { hasOpenssl, httpsPost, httpsRequest, makeCert, WssClient, type TestCert } from './tls-helpers.js';

const skip = hasOpenssl() ? false : 'openssl is not installed';
let cert: TestCert;
before(() => {
  if (!skip) cert = makeCert();
});
after(() => cert?.remove());

interface SecurePorts {
  https: number;
  adminHttps: number;
  wss: number;
  adminWss: number;
}

/** Rewrites the folder's transport files with the secure listeners on (plain ones stay on, as in many Janus deployments). */
function enableTls(conf: ConfigsFolder, sp: SecurePorts, certs: { pem: string; key: string; pwd?: string }): void {
  const certificates = ['certificates: {', `  cert_pem = "${certs.pem}"`, `  cert_key = "${certs.key}"`, ...(certs.pwd ? [`  cert_pwd = "${certs.pwd}"`] : []), '}', ''];
  writeFileSync(
    join(conf.dir, 'janus.transport.http.jcfg'),
    [
      'general: {', '  json = "compact"', '  base_path = "/janus"', '  http = true', `  port = ${conf.ports.http}`,
      '  https = true', `  secure_port = ${sp.https}`, '  secure_ip = "127.0.0.1"', '}', '',
      'admin: {', '  admin_base_path = "/admin"', '  admin_http = true', `  admin_port = ${conf.ports.admin}`,
      '  admin_https = true', `  admin_secure_port = ${sp.adminHttps}`, '  admin_secure_ip = "127.0.0.1"', '}', '',
      'cors: {', '}', '',
      ...certificates,
    ].join('\n'),
  );
  writeFileSync(
    join(conf.dir, 'janus.transport.websockets.jcfg'),
    [
      'general: {', '  json = "compact"', '  ws = true', `  ws_port = ${conf.ports.ws}`,
      '  wss = true', `  wss_port = ${sp.wss}`, '  wss_ip = "127.0.0.1"', '}', '',
      'admin: {', '  admin_ws = false', `  admin_ws_port = ${conf.ports.adminWs}`,
      '  admin_wss = true', `  admin_wss_port = ${sp.adminWss}`, '  admin_wss_ip = "127.0.0.1"', '}', '',
      ...certificates,
    ].join('\n'),
  );
}

async function securePorts(): Promise<SecurePorts> {
  return { https: await freePort(), adminHttps: await freePort(), wss: await freePort(), adminWss: await freePort() };
}

/** The same walk over HTTPS and WSS on either server; returns what must match. */
async function walk(sp: SecurePorts, adminSecret: string, ca: Buffer): Promise<Record<string, unknown>> {
  const base = `https://127.0.0.1:${sp.https}/janus`;
  const info = (await httpsRequest(`${base}/info`, { ca })).json();
  const s = ((await httpsPost(base, { janus: 'create', transaction: 'c' }, ca)).data as { id: number }).id;
  const attach = await httpsPost(`${base}/${s}`, { janus: 'attach', transaction: 'a', plugin: 'janus.plugin.videoroom' }, ca);
  const h = (attach.data as { id: number }).id;
  const exists = await httpsPost(`${base}/${s}/${h}`, { janus: 'message', transaction: 'm', body: { request: 'exists', room: 9999 } }, ca);
  const ack = await httpsPost(`${base}/${s}/${h}`, { janus: 'message', transaction: 'j', body: { request: 'join', ptype: 'publisher', room: 9999, display: 'tls' } }, ca);
  let ev: Record<string, unknown> = {};
  for (let i = 0; i < 5 && ev.janus !== 'event'; i++) ev = (await httpsRequest(`${base}/${s}`, { ca })).json();
  const admin = await httpsPost(`https://127.0.0.1:${sp.adminHttps}/admin`, { janus: 'list_sessions', transaction: 'l', admin_secret: adminSecret }, ca);
  const wss = await WssClient.open(`wss://127.0.0.1:${sp.wss}`, 'janus-protocol', ca);
  const wsCreate = await wss.request({ janus: 'create', transaction: 'wc' });
  await wss.close();
  const adminWss = await WssClient.open(`wss://127.0.0.1:${sp.adminWss}`, 'janus-admin-protocol', ca);
  const adminPing = await adminWss.request({ janus: 'ping', transaction: 'ap', admin_secret: adminSecret });
  await adminWss.close();
  await httpsPost(`${base}/${s}`, { janus: 'destroy', transaction: 'd' }, ca);
  return {
    info: info.janus,
    create: typeof s,
    attach: attach.janus,
    exists: (exists.plugindata as { data: unknown }).data,
    ack: ack.janus,
    event: [ev.janus, ev.transaction, ((ev.plugindata as { data: Record<string, unknown> }).data).videoroom],
    admin: [admin.janus, (admin.sessions as number[]).includes(s)],
    wsCreate: [wsCreate.janus, typeof (wsCreate.data as { id: unknown }).id],
    adminPing: adminPing.janus,
  };
}

test('the server process serves HTTPS and WSS (encrypted key, cert_pwd) like Janus 1.1.2 does', { skip, timeout: 90_000 }, async () => {
  const conf = await makeConfigsFolder('portunus-tls', { adminWs: false });
  const sp = await securePorts();
  enableTls(conf, sp, { pem: cert.cert, key: cert.encKey, pwd: cert.pwd });
  let srv: RunningServer | null = null;
  let ours: Record<string, unknown>;
  try {
    srv = await startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret, { env: { PORTUNUS_LOG_PRETTY: '0' } });
    ours = await walk(sp, conf.adminSecret, cert.ca);
    // The startup summary names the secure listeners (and never the passphrase).
    const log = srv.log();
    const line = log.split('\n').find((l) => l.includes('"transport janus.transport.http"'));
    assert.ok(line, log);
    const http = JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
    assert.deepEqual(http.https, { host: '127.0.0.1', port: sp.https });
    assert.deepEqual(http.admin_https, { host: '127.0.0.1', port: sp.adminHttps });
    assert.equal(http.cert_pem, cert.cert);
    const wsLine = log.split('\n').find((l) => l.includes('"transport janus.transport.websockets"'))!;
    const ws = JSON.parse(wsLine.slice(wsLine.indexOf('{'))) as Record<string, unknown>;
    assert.deepEqual(ws.wss, { host: '127.0.0.1', port: sp.wss });
    assert.deepEqual(ws.admin_wss, { host: '127.0.0.1', port: sp.adminWss });
    assert.ok(!log.includes(cert.pwd), 'cert_pwd is never logged');
    assert.ok(!log.includes('PRIVATE KEY'), 'key material is never logged');
  } finally {
    await srv?.stop();
  }
  assert.deepEqual(ours, {
    info: 'server_info',
    create: 'number',
    attach: 'success',
    exists: { videoroom: 'success', room: 9999, exists: true },
    ack: 'ack',
    event: ['event', 'j', 'joined'],
    admin: ['success', true],
    wsCreate: ['success', 'number'],
    adminPing: 'pong',
  });

  if (!existsSync(JANUS_BINARY)) return;
  // The same folder, the same walk, against the real Janus.
  let janus: RunningServer | null = null;
  try {
    janus = await startJanusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret);
    assert.deepEqual(await walk(sp, conf.adminSecret, cert.ca), ours);
    assert.match(janus.log(), /HTTPS webserver started/i, 'Janus served the walk over its own HTTPS listener');
  } finally {
    await janus?.stop();
    conf.remove();
  }
});

test('the server process refuses to start on a wrong certificate path, naming file, line and key', { skip, timeout: 30_000 }, async () => {
  const conf = await makeConfigsFolder('portunus-tls-bad', {});
  try {
    enableTls(conf, await securePorts(), { pem: join(cert.dir, 'missing.pem'), key: cert.key });
    const child = spawn(process.execPath, [...SERVER_NODE_ARGS, portunusMain(), '-F', conf.dir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORTUNUS_LOG_PRETTY: '0' } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 1);
    // cert_pem is line 24 of the generated janus.transport.http.jcfg
    const file = join(conf.dir, 'janus.transport.http.jcfg');
    assert.equal(err.trim(), `${file}:24: certificates.cert_pem: cannot read "${join(cert.dir, 'missing.pem')}": no such file`);
  } finally {
    conf.remove();
  }
});
