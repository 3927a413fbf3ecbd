import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  certificateFromPem, certificateMatches, fingerprintOf, generateCertificate, loadCertificate, parseSdpFingerprint,
} from '../../../src/media/dtls/certificate.js';

function hasOpenssl(): boolean {
  try { execFileSync('openssl', ['version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

test('generated certificate: self-signed ECDSA P-256 with SHA-256, fingerprint in SDP form', () => {
  const c = generateCertificate();
  const x = new X509Certificate(c.der);
  assert.ok(x.verify(x.publicKey), 'self-signature verifies');
  assert.equal(x.publicKey.asymmetricKeyType, 'ec');
  assert.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(x.checkPrivateKey(c.privateKey));
  assert.match(c.sdpFingerprint, /^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  const hex = createHash('sha256').update(c.der).digest('hex').toUpperCase();
  assert.equal(c.fingerprint.value.replace(/:/g, ''), hex);
  assert.equal(x.fingerprint256, c.fingerprint.value);
  assert.ok(new Date(x.validTo).getTime() > Date.now());
  assert.ok(new Date(x.validFrom).getTime() < Date.now());
  // two generations differ
  assert.notEqual(generateCertificate().fingerprint.value, c.fingerprint.value);
});

test('openssl accepts the generated certificate (sha256WithECDSA)', { skip: !hasOpenssl() }, () => {
  const c = generateCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'portunus-cert-'));
  writeFileSync(join(dir, 'c.pem'), c.certPem);
  const text = execFileSync('openssl', ['x509', '-in', join(dir, 'c.pem'), '-noout', '-text'], { encoding: 'utf8' });
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /prime256v1|P-256/);
  const v = execFileSync('openssl', ['verify', '-CAfile', join(dir, 'c.pem'), join(dir, 'c.pem')], { encoding: 'utf8' });
  assert.match(v, /OK/);
});

test('certificate loaded from PEM files, including an encrypted key (cert_pwd)', () => {
  const c = generateCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'portunus-cert-'));
  const encrypted = c.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString();
  writeFileSync(join(dir, 'cert.pem'), c.certPem);
  writeFileSync(join(dir, 'key.pem'), encrypted);
  const loaded = loadCertificate(join(dir, 'cert.pem'), join(dir, 'key.pem'), 'secret');
  assert.equal(loaded.sdpFingerprint, c.sdpFingerprint);
  assert.ok(loaded.der.equals(c.der));
  assert.throws(() => loadCertificate(join(dir, 'cert.pem'), join(dir, 'key.pem'), 'wrong'));
  const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.throws(() => certificateFromPem(c.certPem, otherKey), /does not match/);
  assert.throws(() => certificateFromPem('not a pem', c.keyPem), /no CERTIFICATE/);
});

test('fingerprint helpers', () => {
  const c = generateCertificate();
  const parsed = parseSdpFingerprint(c.sdpFingerprint.toLowerCase());
  assert.deepEqual(parsed, c.fingerprint);
  assert.equal(parseSdpFingerprint('md5 AB:CD'), undefined);
  assert.equal(parseSdpFingerprint('sha-256 nothex'), undefined);
  assert.ok(certificateMatches(c.der, [c.fingerprint]));
  assert.ok(certificateMatches(c.der, [fingerprintOf(c.der, 'sha-1')]));
  assert.ok(!certificateMatches(c.der, [generateCertificate().fingerprint]));
  assert.ok(!certificateMatches(c.der, [{ algorithm: 'md5', value: c.fingerprint.value }]));
  assert.ok(!certificateMatches(c.der, []));
});
