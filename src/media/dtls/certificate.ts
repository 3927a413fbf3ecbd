/**
 * DTLS certificate: generated at start (self-signed ECDSA P-256, SHA-256 signed, like Janus's default) or
 * loaded from PEM files (Janus `certificates.cert_pem` / `cert_key` / optional `cert_pwd`).
 *
 * The self-signed certificate is built here as X.509 DER with Node's crypto only (key generation, SPKI
 * export, ECDSA signing) plus a ~60-line DER writer: no dependency on werift's transitive x509 packages,
 * synchronous, and the result is validated by Node's own X509Certificate parser.
 */
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';

export type FingerprintAlgorithm = 'sha-1' | 'sha-224' | 'sha-256' | 'sha-384' | 'sha-512';

export interface Fingerprint {
  /** Hash function as written in SDP (RFC 8122), e.g. 'sha-256'. */
  algorithm: string;
  /** Upper-case hex bytes separated by colons, e.g. 'AB:CD:...'. Case-insensitive on input. */
  value: string;
}

export interface DtlsCertificate {
  /** DER of the leaf certificate. */
  readonly der: Buffer;
  /** PEM of the leaf certificate. */
  readonly certPem: string;
  /** Unencrypted PKCS#8 PEM of the private key. */
  readonly keyPem: string;
  readonly privateKey: KeyObject;
  readonly keyType: 'ec' | 'rsa';
  /** SHA-256 fingerprint. */
  readonly fingerprint: Fingerprint;
  /** SDP attribute value: `sha-256 AB:CD:...`. */
  readonly sdpFingerprint: string;
}

/** Fingerprint of a DER certificate with the given SDP hash name. Throws on unknown algorithm. */
export function fingerprintOf(der: Uint8Array, algorithm: string = 'sha-256'): Fingerprint {
  const nodeAlg = nodeHashName(algorithm);
  if (!nodeAlg) throw new Error(`unsupported fingerprint algorithm: ${algorithm}`);
  const hex = createHash(nodeAlg).update(der).digest('hex').toUpperCase();
  return { algorithm: algorithm.toLowerCase(), value: hex.match(/../g)!.join(':') };
}

/** Parses an SDP `a=fingerprint:` value (`sha-256 AB:CD:..`). Returns undefined if malformed. */
export function parseSdpFingerprint(s: string): Fingerprint | undefined {
  const m = /^\s*([A-Za-z0-9-]+)\s+((?:[0-9A-Fa-f]{2}:)*[0-9A-Fa-f]{2})\s*$/.exec(s);
  if (!m || !nodeHashName(m[1]!)) return undefined;
  return { algorithm: m[1]!.toLowerCase(), value: m[2]!.toUpperCase() };
}

/** True if the DER certificate matches at least one of the fingerprints (known algorithms only). */
export function certificateMatches(der: Uint8Array, fingerprints: readonly Fingerprint[]): boolean {
  for (const fp of fingerprints) {
    if (!nodeHashName(fp.algorithm)) continue;
    const want = fp.value.replace(/:/g, '').toUpperCase();
    const got = fingerprintOf(der, fp.algorithm).value.replace(/:/g, '');
    if (want.length === got.length && want === got) return true;
  }
  return false;
}

export function nodeHashName(sdpName: string): string | undefined {
  switch (sdpName.toLowerCase()) {
    case 'sha-1': return 'sha1';
    case 'sha-224': return 'sha224';
    case 'sha-256': return 'sha256';
    case 'sha-384': return 'sha384';
    case 'sha-512': return 'sha512';
    default: return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Minimal DER writer (only what a self-signed certificate needs)

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) { bytes.unshift(n & 0xff); n = Math.floor(n / 256); }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
function derInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let b = bytes.subarray(i);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}
function derOid(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  const out: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const stack: number[] = [p & 0x7f];
    let v = Math.floor(p / 128);
    while (v > 0) { stack.unshift((v & 0x7f) | 0x80); v = Math.floor(v / 128); }
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}
function derUtcTime(d: Date): Buffer {
  const p = (n: number): string => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}
const derUtf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const derBitString = (b: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const derExplicit = (n: number, body: Buffer): Buffer => tlv(0xa0 + n, body);

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';

function pemOf(label: string, der: Buffer): string {
  const b64 = der.toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export interface GenerateOptions {
  commonName?: string;
  /** Validity in days from now (default 365; not-before is one day in the past for clock skew). */
  days?: number;
}

/** Generates a self-signed ECDSA P-256 certificate signed with ECDSA-SHA256. */
export function generateCertificate(opts: GenerateOptions = {}): DtlsCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // positive
  if (serial[0] === 0) serial[0] = 1;
  const name = seq(set(seq(derOid(OID_COMMON_NAME), derUtf8(opts.commonName ?? 'Portunus'))));
  const now = Date.now();
  const notBefore = new Date(now - 86_400_000);
  const notAfter = new Date(now + (opts.days ?? 365) * 86_400_000);
  const sigAlg = seq(derOid(OID_ECDSA_SHA256));
  const tbs = seq(
    derExplicit(0, derInteger(Buffer.from([2]))), // v3
    derInteger(serial),
    sigAlg,
    name,
    seq(derUtcTime(notBefore), derUtcTime(notAfter)),
    name,
    spki,
  );
  const signature = cryptoSign('sha256', tbs, privateKey); // DER-encoded ECDSA-Sig-Value
  const der = seq(tbs, sigAlg, derBitString(signature));
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return buildCertificate(der, keyPem, privateKey);
}

/** Loads a certificate and private key from PEM text (optionally passphrase-protected key). */
export function certificateFromPem(certPem: string, keyPem: string, passphrase?: string): DtlsCertificate {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(certPem);
  if (!first) throw new Error('no CERTIFICATE block in cert_pem');
  const x509 = new X509Certificate(first[0]);
  const privateKey = createPrivateKey(passphrase ? { key: keyPem, passphrase } : { key: keyPem });
  if (!x509.checkPrivateKey(privateKey)) throw new Error('cert_key does not match cert_pem');
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return buildCertificate(Buffer.from(x509.raw), pkcs8, privateKey);
}

/** Loads from files (Janus `certificates.cert_pem`, `cert_key`, `cert_pwd`). */
export function loadCertificate(certPath: string, keyPath: string, passphrase?: string): DtlsCertificate {
  return certificateFromPem(readFileSync(certPath, 'utf8'), readFileSync(keyPath, 'utf8'), passphrase);
}

function buildCertificate(der: Buffer, keyPem: string, privateKey: KeyObject): DtlsCertificate {
  const kt = privateKey.asymmetricKeyType;
  if (kt !== 'ec' && kt !== 'rsa') throw new Error(`unsupported key type for DTLS: ${kt}`);
  if (kt === 'ec' && privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('EC certificates must use P-256 (prime256v1)');
  }
  const fingerprint = fingerprintOf(der, 'sha-256');
  return {
    der,
    certPem: pemOf('CERTIFICATE', der),
    keyPem,
    privateKey,
    keyType: kt,
    fingerprint,
    sdpFingerprint: `${fingerprint.algorithm} ${fingerprint.value}`,
  };
}
