/**
 * The transports' `certificates` section when https/wss is on: every problem is a ConfigError naming
 * the file, the line and the key (and never the passphrase); the secure listeners' keys are read.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadGatewayConfig } from '../../src/config/schema.js';
import { fromGnutls, isGnutlsPriority, loadTlsCredentials } from '../../src/config/tls.js';
import { hasOpenssl, makeCert, type TestCert } from '../transports/tls-helpers.js';

const skip = hasOpenssl() ? false : 'openssl is not installed';
let cert: TestCert;
before(() => {
  if (!skip) cert = makeCert();
});
after(() => cert?.remove());

const HTTP = 'janus.transport.http.jcfg';
const WS = 'janus.transport.websockets.jcfg';

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tls-schema-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function httpFile(certs: string, general = 'https = true\n  secure_port = 8089'): string {
  // general at lines 1-4 (two settings), the certificates section opens at line 6: its settings are lines 7, 8, 9
  return `general: {\n  ${general}\n}\n\ncertificates: {\n${certs}\n}\n`;
}

async function configError(files: Record<string, string>): Promise<ConfigError> {
  const dir = folder(files);
  try {
    await loadGatewayConfig({ configsFolder: dir });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  throw new Error('expected a ConfigError');
}

test('secure listener keys are read with Janus defaults', { skip }, async () => {
  const dir = folder({
    [HTTP]: [
      'general: {', '  https = true', '  secure_port = 9443', '  secure_interface = "lo"', '  secure_ip = "127.0.0.2"', '}',
      'admin: {', '  admin_https = true', '  admin_secure_port = 9444', '  admin_secure_interface = "lo"', '  admin_secure_ip = "::1"', '}',
      'certificates: {', `  cert_pem = "${cert.cert}"`, `  cert_key = "${cert.key}"`, '  ciphers = "PFS:-VERS-TLS1.0:-VERS-TLS1.1:-3DES-CBC:-ARCFOUR-128"', '}', '',
    ].join('\n'),
    [WS]: [
      'general: {', '  wss = true', '  wss_port = 9445', '  wss_interface = "lo"', '  wss_ip = "127.0.0.3"', '}',
      'admin: {', '  admin_wss = true', '  admin_wss_port = 9446', '  admin_wss_interface = "lo"', '  admin_wss_ip = "127.0.0.4"', '}',
      'certificates: {', `  cert_pem = "${cert.cert}"`, `  cert_key = "${cert.encKey}"`, `  cert_pwd = "${cert.pwd}"`, '  ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"', '}', '',
    ].join('\n'),
  });
  const cfg = await loadGatewayConfig({ configsFolder: dir });
  const g = cfg.http.general;
  const a = cfg.http.admin;
  assert.deepEqual([g.https, g.secure_port, g.secure_interface, g.secure_ip], [true, 9443, 'lo', '127.0.0.2']);
  assert.deepEqual([a.admin_https, a.admin_secure_port, a.admin_secure_interface, a.admin_secure_ip], [true, 9444, 'lo', '::1']);
  const w = cfg.ws.general;
  const wa = cfg.ws.admin;
  assert.deepEqual([w.wss, w.wss_port, w.wss_interface, w.wss_ip], [true, 9445, 'lo', '127.0.0.3']);
  assert.deepEqual([wa.admin_wss, wa.admin_wss_port, wa.admin_wss_interface, wa.admin_wss_ip], [true, 9446, 'lo', '127.0.0.4']);
  assert.equal(cfg.ws.certificates.cert_pwd, cert.pwd);
  assert.equal(cfg.http.certificates.ciphers, 'PFS:-VERS-TLS1.0:-VERS-TLS1.1:-3DES-CBC:-ARCFOUR-128');
  // Janus's own sample cipher string maps fully: no warning.
  assert.deepEqual(cfg.warnings, []);
  assert.equal(cfg.http.keyLines['general.https'], 2);
  assert.equal(cfg.ws.keyLines['certificates.cert_pwd'], 16);
});

test('a missing certificate file is a ConfigError with file:line of cert_pem (HTTP and WebSockets)', { skip }, async () => {
  const e = await configError({ [HTTP]: httpFile(`  cert_pem = "/nonexistent/cert.pem"\n  cert_key = "${cert.key}"`) });
  assert.equal(e.key, 'certificates.cert_pem');
  assert.equal(e.line, 7);
  assert.ok(e.file.endsWith(HTTP));
  assert.match(e.message, /janus\.transport\.http\.jcfg:7: certificates\.cert_pem: cannot read "\/nonexistent\/cert\.pem": no such file$/);

  const w = await configError({ [WS]: `general: {\n  wss = true\n}\ncertificates: {\n  cert_pem = "${cert.cert}"\n  cert_key = "${cert.dir}"\n}\n` });
  assert.equal(w.key, 'certificates.cert_key');
  assert.equal(w.line, 6);
  assert.ok(w.file.endsWith(WS));
  assert.match(w.message, /is a directory/);
});

test('https/wss on without a certificate: the error points at the key that turned TLS on', { skip }, async () => {
  const e = await configError({ [HTTP]: `general: {\n  http = true\n}\nadmin: {\n  admin_https = true\n}\n` });
  assert.equal(e.key, 'certificates.cert_pem');
  assert.equal(e.line, 5);
  assert.match(e.message, /not set, but admin\.admin_https = true needs a certificate/);
  const w = await configError({ [WS]: `general: {\n  wss = true\n}\ncertificates: {\n  cert_pem = "${cert.cert}"\n}\n` });
  assert.equal(w.key, 'certificates.cert_key');
  assert.equal(w.line, 2);
});

test('encrypted keys: cert_pwd missing or wrong is refused, and the passphrase never appears', { skip }, async () => {
  const missing = await configError({ [HTTP]: httpFile(`  cert_pem = "${cert.cert}"\n  cert_key = "${cert.encKey}"`) });
  assert.equal(missing.key, 'certificates.cert_key');
  assert.equal(missing.line, 8);
  assert.match(missing.message, /is encrypted: set certificates\.cert_pwd/);
  const wrong = await configError({ [HTTP]: httpFile(`  cert_pem = "${cert.cert}"\n  cert_key = "${cert.encKey}"\n  cert_pwd = "hunter2-nope"`) });
  assert.equal(wrong.key, 'certificates.cert_pwd');
  assert.equal(wrong.line, 9);
  assert.match(wrong.message, /does not decrypt/);
  assert.ok(!wrong.message.includes('hunter2-nope'));
  const dir = folder({ [HTTP]: httpFile(`  cert_pem = "${cert.cert}"\n  cert_key = "${cert.encKey}"\n  cert_pwd = "${cert.pwd}"`) });
  const ok = await loadGatewayConfig({ configsFolder: dir });
  assert.equal(ok.http.general.https, true);
});

test('not PEM, or a key of another certificate, is refused', { skip }, async () => {
  const notCert = await configError({ [HTTP]: httpFile(`  cert_pem = "${cert.key}"\n  cert_key = "${cert.key}"`) });
  assert.equal(notCert.key, 'certificates.cert_pem');
  assert.match(notCert.message, /is not a PEM certificate/);
  const notKey = await configError({ [HTTP]: httpFile(`  cert_pem = "${cert.cert}"\n  cert_key = "${cert.cert}"`) });
  assert.equal(notKey.key, 'certificates.cert_key');
  assert.match(notKey.message, /is not a PEM private key/);
  const other = await configError({ [HTTP]: httpFile(`  cert_pem = "${cert.cert}"\n  cert_key = "${cert.otherKey}"`) });
  assert.equal(other.key, 'certificates.cert_key');
  assert.match(other.message, /is not the private key of the certificate/);
});

test('certificates are not read when TLS is off or the transport is disabled', { skip }, async () => {
  const bad = `  cert_pem = "/nonexistent/cert.pem"\n  cert_key = "/nonexistent/key.pem"`;
  await loadGatewayConfig({ configsFolder: folder({ [HTTP]: httpFile(bad, 'https = false') }) });
  await loadGatewayConfig({
    configsFolder: folder({ 'janus.jcfg': 'transports: {\n  disable = "libjanus_http.so"\n}\n', [HTTP]: httpFile(bad) }),
  });
});

test('ciphers: OpenSSL lists are checked; GnuTLS priority strings map versions and PFS, other tokens warn', { skip }, async () => {
  const e = await configError({ [WS]: `general: {\n  wss = true\n}\ncertificates: {\n  cert_pem = "${cert.cert}"\n  cert_key = "${cert.key}"\n  ciphers = "NOT-A-CIPHER"\n}\n` });
  assert.equal(e.key, 'certificates.ciphers');
  assert.equal(e.line, 7);
  const dir = folder({ [HTTP]: httpFile(`  cert_pem = "${cert.cert}"\n  cert_key = "${cert.key}"\n  ciphers = "NORMAL:-VERS-TLS1.3:+CAMELLIA-128-CBC"`) });
  const cfg = await loadGatewayConfig({ configsFolder: dir });
  assert.equal(cfg.warnings.length, 1);
  assert.equal(cfg.warnings[0]!.key, 'certificates.ciphers');
  assert.equal(cfg.warnings[0]!.line, 9);
  assert.match(cfg.warnings[0]!.message, /\+CAMELLIA-128-CBC/);
  assert.ok(isGnutlsPriority('PFS:-VERS-TLS1.0'));
  assert.ok(isGnutlsPriority('SECURE256'));
  assert.ok(!isGnutlsPriority('ECDHE-RSA-AES256-GCM-SHA384:!aNULL'));
  assert.deepEqual(fromGnutls('NORMAL:-VERS-TLS1.3'), { ignored: [], maxVersion: 'TLSv1.2' });
  assert.deepEqual(fromGnutls('NORMAL:-VERS-TLS1.2'), { ignored: [], minVersion: 'TLSv1.3' });
  assert.match(fromGnutls('PFS').ciphers ?? '', /:!kRSA$/);
  const none = await configError({ [HTTP]: httpFile(`  cert_pem = "${cert.cert}"\n  cert_key = "${cert.key}"\n  ciphers = "NORMAL:-VERS-ALL"`) });
  assert.equal(none.key, 'certificates.ciphers');
});

test('an expired certificate is a warning, not an error', { skip }, () => {
  const warnings: string[] = [];
  loadTlsCredentials(
    { file: '/x/janus.transport.http.jcfg', certificates: { cert_pem: cert.cert, cert_key: cert.key, cert_pwd: null, ciphers: null }, keyLines: { 'certificates.cert_pem': 3 } },
    { fileName: HTTP, enabledBy: ['general.https'], ciphers: 'gnutls', now: new Date(Date.now() + 30 * 86400_000), warn: (k, l, m) => warnings.push(`${k}:${l}: ${m}`) },
  );
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^certificates\.cert_pem:3: the certificate in ".*" expired on/);
});
