/**
 * The only file that touches werift-dtls. It exposes a narrow "engine" view of a werift DtlsSocket:
 * feed it complete records, receive the records it writes, read negotiated state. Everything else
 * (record framing to the MTU, retransmission timers, peer authentication, alerts, application-data
 * protection) is ours, in endpoint.ts. Replacing werift means reimplementing this interface.
 */
// First: werift-dtls must find the stand-ins for @peculiar/x509 and @noble/curves (~8 MB per thread it never needs).
import './werift-lean.js';
import { DtlsClient, DtlsServer, type DtlsSocket } from 'werift-dtls/lib/dtls/src/index.js';
import { Flight } from 'werift-dtls/lib/dtls/src/flight/flight.js';
import { DtlsPlaintext } from 'werift-dtls/lib/dtls/src/record/message/plaintext.js';
import { ownedCopy } from '../owned-buffer.js';
import { X509Certificate, createECDH, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, sign as cryptoSign, type ECDH, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';

// werift retransmits flights on its own wall-clock timers (0.5 s, 1 s, ... x10). We run our own
// RFC 6347 timers driven by handleTimeout(); with RetransmitCount = 0 werift sends each flight once and
// gives up waiting after 0.5 s (its rejection is swallowed below). Process-wide, but only we use werift-dtls.
(Flight as unknown as { RetransmitCount: number }).RetransmitCount = 0;

// ECDHE through Node's crypto (OpenSSL) instead of werift's pure-JS curves (tweetnacl for X25519,
// @noble/curves for P-256): two scalar multiplications per handshake on each side, each ~1-3 ms in
// JavaScript against ~0.05 ms in OpenSSL, on the path of every subscriber's join (bench/dtls-handshake.ts).
// werift's flights call these through the modules' export objects, so replacing the exports is enough;
// the raw key formats stay werift's (32-byte X25519 keys; a 32-byte P-256 scalar, a 65-byte point).
const NAMED_CURVE_X25519 = 29;
const NAMED_CURVE_P256 = 23;
/** DER prefixes of an X25519 key: PKCS#8 private (RFC 8410) and SubjectPublicKeyInfo, before the 32 raw bytes. */
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
type WeriftKeyPair = { curve: number; privateKey: Buffer; publicKey: Buffer };
/** Our private keys' OpenSSL objects, by the raw buffer werift keeps (so the secret needs no re-import). */
const x25519Keys = new WeakMap<Buffer, KeyObject>();
const p256Keys = new WeakMap<Buffer, ECDH>();
{
  const require = createRequire(import.meta.url);
  const named = require('werift-dtls/lib/dtls/src/cipher/namedCurve.js') as { generateKeyPair: (curve: number) => WeriftKeyPair };
  const prf = require('werift-dtls/lib/dtls/src/cipher/prf.js') as { prfPreMasterSecret: (publicKey: Buffer, privateKey: Buffer, curve: number) => Buffer };
  const jsKeyPair = named.generateKeyPair;
  const jsPreMaster = prf.prfPreMasterSecret;
  named.generateKeyPair = (curve: number): WeriftKeyPair => {
    if (curve === NAMED_CURVE_X25519) {
      const { privateKey, publicKey } = generateKeyPairSync('x25519');
      const priv = Buffer.from(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(X25519_PKCS8.length));
      x25519Keys.set(priv, privateKey);
      return { curve, privateKey: priv, publicKey: Buffer.from(publicKey.export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI.length)) };
    }
    if (curve === NAMED_CURVE_P256) {
      const ecdh = createECDH('prime256v1');
      const publicKey = ecdh.generateKeys();
      // A scalar with leading zero bytes comes back shorter: werift's format is always 32 bytes.
      const raw = ecdh.getPrivateKey();
      const priv = raw.length === 32 ? raw : Buffer.concat([Buffer.alloc(32 - raw.length), raw]);
      p256Keys.set(priv, ecdh);
      return { curve, privateKey: priv, publicKey };
    }
    return jsKeyPair(curve);
  };
  // Our certificate and key, parsed once per PEM instead of once per handshake (werift parses both
  // with @fidm/x509 for every association, and signs with the PEM text: a PEM parse per signature).
  const cipherModule = require('werift-dtls/lib/dtls/src/context/cipher.js') as { CipherContext: { prototype: Record<string, unknown> } };
  type LocalKey = { key: KeyObject; pem: Buffer; sign(data: Buffer, hash: string): Buffer; toPEM(): Buffer };
  const parsed = new Map<string, { cert: Buffer; local: LocalKey }>();
  const proto = cipherModule.CipherContext.prototype;
  proto['parseX509'] = function (this: Record<string, unknown>, certPem: string, keyPem: string, signatureHash: unknown): void {
    const k = `${certPem}\n${keyPem}`;
    let p = parsed.get(k);
    if (p === undefined) {
      const key = createPrivateKey(keyPem);
      const pem = Buffer.from(keyPem);
      p = { cert: Buffer.from(new X509Certificate(certPem).raw), local: { key, pem, sign: (data, hash) => cryptoSign(hash, data, key), toPEM: () => pem } };
      // One certificate per process in practice (dtls_certificate, or the generated one): a small bound anyway.
      if (parsed.size >= 8) parsed.clear();
      parsed.set(k, p);
    }
    this['localCert'] = p.cert;
    this['localPrivateKey'] = p.local;
    this['signatureHashAlgorithm'] = signatureHash;
  };
  // The client's CertificateVerify: the same key object, no PEM parse.
  proto['signatureData'] = function (this: { localPrivateKey: LocalKey }, data: Buffer, hash: string): Buffer {
    return cryptoSign(hash, data, this.localPrivateKey.key);
  };
  // A bad peer key throws here as it did in werift (the handshake fails; endpoint.ts reports it).
  prf.prfPreMasterSecret = (publicKey: Buffer, privateKey: Buffer, curve: number): Buffer => {
    if (curve === NAMED_CURVE_X25519) {
      if (publicKey.length !== 32 || privateKey.length !== 32) throw new Error('bad X25519 key size');
      const own = x25519Keys.get(privateKey) ?? createPrivateKey({ key: Buffer.concat([X25519_PKCS8, privateKey]), format: 'der', type: 'pkcs8' });
      return diffieHellman({ privateKey: own, publicKey: createPublicKey({ key: Buffer.concat([X25519_SPKI, publicKey]), format: 'der', type: 'spki' }) });
    }
    if (curve === NAMED_CURVE_P256) {
      let own = p256Keys.get(privateKey);
      if (own === undefined) {
        own = createECDH('prime256v1');
        own.setPrivateKey(privateKey);
      }
      return own.computeSecret(publicKey);
    }
    return jsPreMaster(publicKey, privateKey, curve);
  };
}

export interface HandshakeEngine {
  /** Starts the handshake (client: emits ClientHello). */
  start(): void;
  /** Feeds one or more complete, in-order records to the engine. */
  input(records: Buffer): void;
  /** Master secret, once known. */
  masterSecret(): Buffer | undefined;
  /** Negotiated SRTP protection profile, if any. */
  srtpProfile(): number | undefined;
  exportKeyingMaterial(label: string, length: number): Buffer;
  /** True once the record-protection keys exist. */
  keysReady(): boolean;
  /** The negotiated cipher suite (IANA number), once known. */
  cipherSuite(): number | undefined;
  /** AEAD-protects a record body with the given header values (tests: our record layer against werift's). */
  encrypt(contentType: number, epoch: number, seq: number, body: Buffer): Buffer;
  /** Opens a protected record (raw header + body). Throws on authentication failure. */
  decrypt(record: Buffer): Buffer;
  /** Stops the engine's internal timers from doing anything further. */
  stop(): void;
  /**
   * The handshake is over and no handshake message will be fed again: drop the handshake messages
   * the engine keeps (its cache, last flight, fragment buffer). Only the record cipher is still used.
   */
  releaseHandshake(): void;
}

export interface EngineCallbacks {
  /** Records written by the engine (possibly several concatenated). */
  output(records: Buffer): void;
  /** The engine considers the handshake complete. */
  connected(): void;
  /** Engine-internal error (logged/counted by the caller). */
  error(err: unknown): void;
}

export interface EngineOptions {
  role: 'client' | 'server';
  certPem: string;
  keyPem: string;
  keyType: 'ec' | 'rsa';
  srtpProfiles: number[];
}

export function createWeriftEngine(opts: EngineOptions, cb: EngineCallbacks): HandshakeEngine {
  let onData: ((buf: Buffer) => void) | undefined;
  const transport = {
    get onData() { return onData; },
    set onData(f: ((buf: Buffer) => void) | undefined) { onData = f; },
    send: (buf: Buffer): Promise<void> => {
      try { cb.output(buf); } catch (e) { cb.error(e); }
      return Promise.resolve();
    },
    close: (): void => {},
  };
  const options = {
    transport,
    cert: opts.certPem,
    key: opts.keyPem,
    signatureHash: { hash: 4, signature: opts.keyType === 'ec' ? 3 : 1 },
    srtpProfiles: opts.srtpProfiles,
    // WebRTC: both sides authenticate by certificate fingerprint, so the server requests one. (On werift's
    // client this flag would make it wait for a CertificateRequest that a server may legitimately omit.)
    certificateRequest: opts.role === 'server',
    extendedMasterSecret: true,
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const sock: DtlsSocket = opts.role === 'client' ? new DtlsClient(options as any) : new DtlsServer(options as any);
  let stopped = false;
  sock.onConnect.subscribe(() => { if (!stopped) cb.connected(); });
  sock.onError.subscribe((e: unknown) => { if (!stopped) cb.error(e); });
  // werift reports alerts itself through onClose; we parse alerts before they reach it, so ignore.
  sock.onClose.subscribe(() => {});
  // werift's own application-data path is bypassed (see endpoint.ts): never subscribed.

  return {
    start(): void {
      if (sock instanceof DtlsClient) {
        sock.connect().catch((e: unknown) => { if (!stopped) cb.error(e); });
      }
    },
    input(records: Buffer): void {
      if (stopped || !onData) return;
      try { onData(records); } catch (e) { cb.error(e); }
    },
    masterSecret(): Buffer | undefined {
      return sock.cipher.masterSecret ?? undefined;
    },
    srtpProfile(): number | undefined {
      return sock.srtp.srtpProfile ?? undefined;
    },
    exportKeyingMaterial(label: string, length: number): Buffer {
      return Buffer.from(sock.exportKeyingMaterial(label, length));
    },
    keysReady(): boolean {
      return !!sock.cipher.cipher;
    },
    cipherSuite(): number | undefined {
      const id = (sock.cipher.cipher as { id?: unknown } | undefined)?.id;
      return typeof id === 'number' ? id : undefined;
    },
    encrypt(contentType: number, epoch: number, seq: number, body: Buffer): Buffer {
      const pkt = new DtlsPlaintext({
        contentType,
        protocolVersion: { major: 0xfe, minor: 0xfd },
        epoch,
        sequenceNumber: seq,
        contentLen: body.length,
      }, body);
      return Buffer.from(sock.cipher.encryptPacket(pkt).serialize());
    },
    decrypt(record: Buffer): Buffer {
      const pkt = DtlsPlaintext.deSerialize(record);
      return Buffer.from(sock.cipher.decryptPacket(pkt));
    },
    releaseHandshake(): void {
      // werift's own fields (not in its typings); a version without them simply keeps its state.
      const ctx = sock.dtls as unknown as { handshakeCache?: unknown; lastFlight?: unknown; lastMessage?: unknown };
      if (ctx.handshakeCache !== undefined) ctx.handshakeCache = Array.isArray(ctx.handshakeCache) ? [] : {};
      if (Array.isArray(ctx.lastFlight)) ctx.lastFlight = [];
      if (Array.isArray(ctx.lastMessage)) ctx.lastMessage = [];
      const s = sock as unknown as { bufferFragmentedHandshakes?: unknown; extensions?: unknown };
      if (Array.isArray(s.bufferFragmentedHandshakes)) s.bufferFragmentedHandshakes = [];
      // The ClientHello's extensions (a werift server keeps them, each a slice of a pool slab).
      if (Array.isArray(s.extensions)) s.extensions = [];
      // Key exchange state, our parsed certificate and private key (per association in werift), the
      // master secret (the SRTP keys were exported at connect): the record cipher does not use them.
      const c = sock.cipher as unknown as Record<string, unknown>;
      for (const k of ['localRandom', 'remoteRandom', 'remoteCertificate', 'remoteKeyPair', 'localKeyPair', 'masterSecret', 'localCert', 'localPrivateKey']) {
        if (k in c) c[k] = undefined;
      }
      // The record keys are slices of Node's shared buffer pool: own copies, so they pin no slab.
      const rc = c.cipher as Record<string, unknown> | undefined;
      if (rc) {
        for (const k of ['clientWriteKey', 'serverWriteKey', 'clientNonce', 'serverNonce']) {
          const v = rc[k];
          if (Buffer.isBuffer(v)) rc[k] = ownedCopy(v);
        }
      }
    },
    stop(): void {
      stopped = true;
      // Makes werift's pending flight loops see "next flight reached" and end quietly.
      sock.dtls.flight = 99;
    },
  };
}
