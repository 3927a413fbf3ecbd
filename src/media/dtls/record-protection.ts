/**
 * Protected DTLS 1.2 records (RFC 6347 §4.1, §4.1.2.6) under TLS_ECDHE_*_WITH_AES_128_GCM_SHA256
 * (RFC 5288): our own record layer for everything after the handshake's keys exist.
 *
 * Sans-IO and allocation-conscious: the keys are imported once per epoch (gcm.ts), a record is sealed
 * straight into the caller's datagram buffer and opened in place in the received datagram, and the
 * replay window is a ring of bits. Per record the only allocations are the cipher's own (gcm.ts).
 *
 * Record: type(1) version(2) epoch(2) seq(6) length(2) | explicit nonce(8) | ciphertext | tag(16).
 * Nonce = the direction's 4-byte implicit IV (from the key block) || explicit nonce; we send
 * epoch||seq as the explicit nonce, which never repeats within a key (RFC 5288 §3). The additional data
 * is epoch||seq || type || version || plaintext length (RFC 6347 §4.1.2.1 with RFC 5246 §6.2.3.3).
 */
import { GcmKey, GCM_TAG_LENGTH, SealKeystream, type GcmEngine } from './gcm.js';
import { prfSha256 } from './handshake-auth.js';
import { RECORD_HEADER_LEN } from './record.js';
import { ReplayWindow } from '../srtp/replay.js';
import { ownedCopy } from '../owned-buffer.js';

/** The two AES_128_GCM_SHA256 suites werift negotiates (ECDSA, RSA). */
export const TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xc02b;
export const TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xc02f;
export const EXPLICIT_NONCE_LENGTH = 8;
/** Bytes a protected record adds to its plaintext: header, explicit nonce, tag. */
export const PROTECTED_RECORD_OVERHEAD = RECORD_HEADER_LEN + EXPLICIT_NONCE_LENGTH + GCM_TAG_LENGTH;
const MAX_SEQ = 2 ** 48 - 1;
/** Largest plaintext (RFC 6347: 2^14). */
export const MAX_PLAINTEXT = 16_384;

export function isAes128GcmSuite(suite: number | undefined): boolean {
  return suite === TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 || suite === TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
}

export interface RecordKeys {
  clientWriteKey: Buffer;
  serverWriteKey: Buffer;
  /** 4-byte implicit nonce parts ("write IV", RFC 5288 §3). */
  clientWriteIv: Buffer;
  serverWriteIv: Buffer;
}

/** key_block = PRF(master_secret, "key expansion", server_random + client_random) (RFC 5246 §6.3); GCM has no MAC keys. */
export function deriveRecordKeys(masterSecret: Buffer, clientRandom: Buffer, serverRandom: Buffer): RecordKeys {
  const kb = prfSha256(masterSecret, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * 16 + 2 * 4);
  const copy = (a: number, b: number): Buffer => { const o = Buffer.allocUnsafeSlow(b - a); kb.copy(o, 0, a, b); return o; };
  return { clientWriteKey: copy(0, 16), serverWriteKey: copy(16, 32), clientWriteIv: copy(32, 36), serverWriteIv: copy(36, 40) };
}

/** Why open() refused a record (all negative, so a result >= 0 is a plaintext length). */
export const OPEN_MALFORMED = -1;
export const OPEN_WRONG_EPOCH = -2;
export const OPEN_REPLAY = -3;
export const OPEN_AUTH_FAILED = -4;

export interface RecordProtectionStats {
  sealed: number;
  opened: number;
  malformed: number;
  wrongEpoch: number;
  replayed: number;
  authFailed: number;
}

/** Nonce and additional data, filled and consumed synchronously by every instance. */
const nonce = Buffer.alloc(12);
const aad = Buffer.alloc(13);

/** One epoch's record protection for one endpoint: its write key and the peer's. */
export class RecordProtection {
  readonly stats: RecordProtectionStats = { sealed: 0, opened: 0, malformed: 0, wrongEpoch: 0, replayed: 0, authFailed: 0 };
  private readonly writeKey: GcmKey;
  private readonly readKey: GcmKey;
  private readonly writeIv: Buffer;
  private readonly readIv: Buffer;
  private readonly replay: ReplayWindow;
  /** Keystream for our next records (their nonces are known: epoch || seq). */
  private readonly sealAhead = new SealKeystream();

  constructor(keys: RecordKeys, role: 'client' | 'server', readonly epoch: number,
    opts: { engine?: GcmEngine; replayWindow?: number } = {}) {
    const client = role === 'client';
    this.writeKey = new GcmKey(client ? keys.clientWriteKey : keys.serverWriteKey, opts.engine);
    this.readKey = new GcmKey(client ? keys.serverWriteKey : keys.clientWriteKey, opts.engine);
    // Own copies: a Buffer.from() slice of Node's shared pool would pin an 8 kB slab per peer (owned-buffer.ts).
    this.writeIv = ownedCopy(client ? keys.clientWriteIv : keys.serverWriteIv);
    this.readIv = ownedCopy(client ? keys.serverWriteIv : keys.clientWriteIv);
    // RFC 6347 §4.1.2.6: 32 at least, 64 preferred
    this.replay = new ReplayWindow(opts.replayWindow ?? 64);
  }

  /**
   * The handshake is over: the GHASH tables (4 kB per key) go until the next record needs them, which
   * for a PeerConnection without data channels is never (SRTP carries its media, not DTLS records).
   */
  releaseTables(): void {
    this.writeKey.releaseTable();
    this.readKey.releaseTable();
  }

  /**
   * Writes one protected record carrying src[srcOff, srcOff + srcLen) at out[outOff, ...) and returns
   * its length (srcLen + PROTECTED_RECORD_OVERHEAD), or -1 if seq is out of range or the plaintext too
   * long (nothing written). `out` needs room for the whole record. src and out may not overlap.
   */
  seal(contentType: number, seq: number, src: Uint8Array, srcOff: number, srcLen: number, out: Uint8Array, outOff: number): number {
    if (seq < 0 || seq > MAX_SEQ || srcLen > MAX_PLAINTEXT) return -1;
    const epoch = this.epoch;
    const hi = Math.floor(seq / 0x100000000);
    const lo = seq >>> 0;
    // header
    out[outOff] = contentType;
    out[outOff + 1] = 0xfe;
    out[outOff + 2] = 0xfd;
    out[outOff + 3] = epoch >>> 8;
    out[outOff + 4] = epoch & 0xff;
    out[outOff + 5] = hi >>> 8;
    out[outOff + 6] = hi & 0xff;
    out[outOff + 7] = lo >>> 24;
    out[outOff + 8] = (lo >>> 16) & 0xff;
    out[outOff + 9] = (lo >>> 8) & 0xff;
    out[outOff + 10] = lo & 0xff;
    const bodyLen = EXPLICIT_NONCE_LENGTH + srcLen + GCM_TAG_LENGTH;
    out[outOff + 11] = bodyLen >>> 8;
    out[outOff + 12] = bodyLen & 0xff;
    // explicit nonce = epoch || seq (header bytes 3..10)
    out.copyWithin(outOff + RECORD_HEADER_LEN, outOff + 3, outOff + 11);
    this.writeIv.copy(nonce, 0);
    for (let i = 0; i < 8; i++) nonce[4 + i] = out[outOff + 3 + i]!;
    fillAad(out, outOff, srcLen);
    const p = outOff + RECORD_HEADER_LEN + EXPLICIT_NONCE_LENGTH;
    out.set(src.subarray(srcOff, srcOff + srcLen), p);
    if (!this.writeKey.sealInPlaceSeq(this.sealAhead, this.writeIv, epoch, seq, aad, 0, 13, out, p, srcLen)) {
      this.writeKey.sealInPlace(nonce, aad, 0, 13, out, p, srcLen);
    }
    this.stats.sealed++;
    return srcLen + PROTECTED_RECORD_OVERHEAD;
  }

  /**
   * Opens the protected record at buf[off, off + len) (header included) in place. Returns the plaintext
   * length (the plaintext is at off + 21), or a negative OPEN_* code; never throws. The replay window
   * only moves for records that authenticated.
   */
  open(buf: Uint8Array, off: number, len: number): number {
    if (len < PROTECTED_RECORD_OVERHEAD || off < 0 || off + len > buf.length ||
      ((buf[off + 11]! << 8) | buf[off + 12]!) !== len - RECORD_HEADER_LEN) {
      this.stats.malformed++;
      return OPEN_MALFORMED;
    }
    if (((buf[off + 3]! << 8) | buf[off + 4]!) !== this.epoch) {
      this.stats.wrongEpoch++;
      return OPEN_WRONG_EPOCH;
    }
    const seq = ((buf[off + 5]! << 8) | buf[off + 6]!) * 0x100000000 +
      (((buf[off + 7]! << 24) | (buf[off + 8]! << 16) | (buf[off + 9]! << 8) | buf[off + 10]!) >>> 0);
    if (this.replay.check(seq) !== 0) {
      this.stats.replayed++;
      return OPEN_REPLAY;
    }
    const ptLen = len - PROTECTED_RECORD_OVERHEAD;
    this.readIv.copy(nonce, 0);
    const n0 = off + RECORD_HEADER_LEN;
    for (let i = 0; i < 8; i++) nonce[4 + i] = buf[n0 + i]!;
    fillAad(buf, off, ptLen);
    if (!this.readKey.openInPlace(nonce, aad, 0, 13, buf, n0 + EXPLICIT_NONCE_LENGTH, ptLen)) {
      this.stats.authFailed++;
      return OPEN_AUTH_FAILED;
    }
    this.replay.commit(seq);
    this.stats.opened++;
    return ptLen;
  }
}

/** Additional data from the record header at h[ho, ho + 11) and the plaintext length. */
function fillAad(h: Uint8Array, ho: number, ptLen: number): void {
  // epoch(2) seq(6) at header bytes 3..10, then type(1) version(2)
  for (let i = 0; i < 8; i++) aad[i] = h[ho + 3 + i]!;
  aad[8] = h[ho]!;
  aad[9] = h[ho + 1]!;
  aad[10] = h[ho + 2]!;
  aad[11] = ptLen >>> 8;
  aad[12] = ptLen & 0xff;
}
