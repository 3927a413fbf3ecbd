/**
 * AES-128-GCM (NIST SP 800-38D) for DTLS records, with the key set up once per epoch.
 *
 * Why our own: Node's only GCM is a new Cipher object per message (createCipheriv: binding, context
 * init, setAAD, update, final, getAuthTag: five calls across the binding and three fresh Buffers),
 * which costs more than the AES and GHASH of a small record. Two engines, same bytes:
 *  - 'native': createCipheriv('aes-128-gcm') per record from a KeyObject imported once per epoch;
 *  - 'js': one long-lived 'aes-128-ecb' Cipher makes the counter-mode keystream (E(J0) for the tag,
 *    then E(J0+1) ...) in one update() call per record, and GHASH runs here in JS with a 4 KiB
 *    per-key table (Shoup's 8-bit method). Per record: one update() call and its output Buffer.
 * `GcmKey.sealInPlace`/`openInPlace` pick the engine per record length: the JS GHASH costs per
 * 16-byte block, the native path mostly per call, so small records go 'js' and large ones 'native'
 * (the crossover is measured by bench/dtls-record.ts, see bench/README.md).
 */
import { createCipheriv, createDecipheriv, createSecretKey, timingSafeEqual, type Cipher, type KeyObject } from 'node:crypto';

export const GCM_TAG_LENGTH = 16;
export const GCM_IV_LENGTH = 12;

export type GcmEngine = 'native' | 'js' | 'auto';

/**
 * Up to this many bytes of plaintext the JS engine is used under 'auto'. bench/dtls-record.ts (load
 * average 18, min of 7 rounds): js 1.6 / 2.4 / 4.0 µs per seal at 64 / 200 / 500 bytes, native 3.5 /
 * 3.6 / 3.7 µs: the crossover is near 400 bytes (bench/README.md).
 */
export const GCM_JS_MAX_BYTES = 384;

/** x^8 reduction: R8[b] is what the byte b shifted out of a GHASH value XORs into its top word. */
const R8 = new Int32Array(256);
for (let b = 0; b < 256; b++) {
  let r = 0;
  for (let k = 0; k < 8; k++) if (b & (1 << k)) r ^= 0xe1000000 >>> (7 - k);
  R8[b] = r;
}

/**
 * GHASH over one key H. State is four big-endian 32-bit words (z0 holds bytes 0..3). No allocation
 * after the first block.
 */
export class Ghash {
  /**
   * T[b] = b(x) * H for every byte b, four words each (b's most significant bit is x^0). Made at the
   * first block: 4 kB per key, and a PeerConnection without data channels (a webinar subscriber)
   * seals and opens no DTLS record after the handshake, so its two keys never need it.
   */
  private t: Int32Array | null = null;
  private readonly h0: number;
  private readonly h1: number;
  private readonly h2: number;
  private readonly h3: number;
  private z0 = 0;
  private z1 = 0;
  private z2 = 0;
  private z3 = 0;

  constructor(h: Uint8Array) {
    this.h0 = rd32(h, 0);
    this.h1 = rd32(h, 4);
    this.h2 = rd32(h, 8);
    this.h3 = rd32(h, 12);
  }

  private table(): Int32Array {
    const t = new Int32Array(256 * 4);
    let v0 = this.h0, v1 = this.h1, v2 = this.h2, v3 = this.h3;
    for (let k = 0x80; k >= 1; k >>>= 1) {
      const i = k << 2;
      t[i] = v0; t[i + 1] = v1; t[i + 2] = v2; t[i + 3] = v3;
      // times x: one bit to the right, reduced by x^128 + x^7 + x^2 + x + 1
      const carry = v3 & 1;
      v3 = (v3 >>> 1) | (v2 << 31);
      v2 = (v2 >>> 1) | (v1 << 31);
      v1 = (v1 >>> 1) | (v0 << 31);
      v0 = (v0 >>> 1) ^ (carry ? 0xe1000000 : 0);
    }
    for (let b = 2; b < 256; b++) {
      if ((b & (b - 1)) === 0) continue;
      let hb = 0x80;
      while (!(b & hb)) hb >>>= 1;
      const i = b << 2, j = hb << 2, k = (b ^ hb) << 2;
      t[i] = t[j]! ^ t[k]!;
      t[i + 1] = t[j + 1]! ^ t[k + 1]!;
      t[i + 2] = t[j + 2]! ^ t[k + 2]!;
      t[i + 3] = t[j + 3]! ^ t[k + 3]!;
    }
    this.t = t;
    return t;
  }

  reset(): void { this.z0 = this.z1 = this.z2 = this.z3 = 0; }

  /** Drops the table (made again at the next block): a key that will likely not be used for a long time. */
  releaseTable(): void { this.t = null; }

  /** Absorbs buf[off, off + len), the last partial block zero-padded (GCM pads A and C separately). */
  update(buf: Uint8Array, off: number, len: number): void {
    const end = off + len;
    let o = off;
    for (; o + 16 <= end; o += 16) this.block(rd32(buf, o), rd32(buf, o + 4), rd32(buf, o + 8), rd32(buf, o + 12));
    if (o < end) {
      let w0 = 0, w1 = 0, w2 = 0, w3 = 0;
      for (let i = 0; o + i < end; i++) {
        const v = buf[o + i]! << (24 - ((i & 3) << 3));
        if (i < 4) w0 |= v; else if (i < 8) w1 |= v; else if (i < 12) w2 |= v; else w3 |= v;
      }
      this.block(w0, w1, w2, w3);
    }
  }

  /** The final block: bit lengths of A and C (each < 2^32 bits here). */
  lengths(aadBytes: number, ctBytes: number): void {
    this.block(0, aadBytes * 8, 0, ctBytes * 8);
  }

  /** Writes Z XOR mask[moff, moff + 16) to out[off, off + 16). */
  finishInto(mask: Uint8Array, moff: number, out: Uint8Array, off: number): void {
    wr32x(out, off, this.z0, mask, moff);
    wr32x(out, off + 4, this.z1, mask, moff + 4);
    wr32x(out, off + 8, this.z2, mask, moff + 8);
    wr32x(out, off + 12, this.z3, mask, moff + 12);
  }

  /** Z = (Z ^ X) * H, by Horner over X's bytes from the last: Z = (..(T[x15] x^8 + T[x14]) x^8 ..) + T[x0]. */
  private block(w0: number, w1: number, w2: number, w3: number): void {
    const t = this.t ?? this.table();
    const x0 = this.z0 ^ w0, x1 = this.z1 ^ w1, x2 = this.z2 ^ w2, x3 = this.z3 ^ w3;
    let z0 = 0, z1 = 0, z2 = 0, z3 = 0;
    for (let w = 3; w >= 0; w--) {
      const x = w === 3 ? x3 : w === 2 ? x2 : w === 1 ? x1 : x0;
      for (let s = 0; s < 32; s += 8) {
        // Z * x^8 (a no-op on the first byte, where Z is still zero)
        const lo = z3 & 0xff;
        z3 = (z3 >>> 8) | (z2 << 24);
        z2 = (z2 >>> 8) | (z1 << 24);
        z1 = (z1 >>> 8) | (z0 << 24);
        z0 = (z0 >>> 8) ^ R8[lo]!;
        const i = ((x >>> s) & 0xff) << 2;
        z0 ^= t[i]!;
        z1 ^= t[i + 1]!;
        z2 ^= t[i + 2]!;
        z3 ^= t[i + 3]!;
      }
    }
    this.z0 = z0; this.z1 = z1; this.z2 = z2; this.z3 = z3;
  }
}

function rd32(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

function wr32x(out: Uint8Array, o: number, v: number, m: Uint8Array, mo: number): void {
  out[o] = (v >>> 24) ^ m[mo]!;
  out[o + 1] = ((v >>> 16) & 0xff) ^ m[mo + 1]!;
  out[o + 2] = ((v >>> 8) & 0xff) ^ m[mo + 2]!;
  out[o + 3] = (v & 0xff) ^ m[mo + 3]!;
}

/** Counter blocks, shared by every key (filled and consumed synchronously). */
let counters = Buffer.alloc(4096);
/** Cached views counters[0, 16 * blocks). */
let views: Buffer[] = [];
const GCM_OPTS = { authTagLength: GCM_TAG_LENGTH } as const;
const tagScratch = Buffer.alloc(GCM_TAG_LENGTH);

/**
 * Records per keystream batch (sealInPlaceSeq). One ECB call costs ~0.65 µs whatever its size plus
 * ~0.5 ns per byte; 8 TextRoom-sized records (~250 bytes) share one call for ~2 KB of keystream.
 */
export const SEAL_BATCH = 8;
let batchCounters = Buffer.alloc(SEAL_BATCH * 416);

/** A sealing key's keystream made ahead: records [base, base + SEAL_BATCH), `slot` bytes each (E(J0) first). */
export class SealKeystream {
  epoch = -1;
  base = -1;
  slot = 0;
  ks: Buffer | null = null;
}

/** One direction's AES-128-GCM key, set up once (per epoch). */
export class GcmKey {
  readonly keyObject: KeyObject;
  private readonly ecb: Cipher;
  private readonly ghash: Ghash;
  /** J0's first 12 bytes, filled per record (the nonce), as a 16-byte counter-block pattern. */
  private readonly j0 = Buffer.alloc(16);

  constructor(key: Uint8Array, readonly engine: GcmEngine = 'auto') {
    if (key.length !== 16) throw new RangeError('AES-128-GCM key must be 16 bytes');
    this.keyObject = createSecretKey(key);
    this.ecb = createCipheriv('aes-128-ecb', this.keyObject, null);
    this.ecb.setAutoPadding(false);
    const h = this.ecb.update(Buffer.alloc(16));
    this.ghash = new Ghash(h);
  }

  /** Gives back the GHASH table until the next JS-engine record (see Ghash.releaseTable). */
  releaseTable(): void {
    this.ghash.releaseTable();
  }

  private useJs(len: number): boolean {
    return this.engine === 'js' || (this.engine === 'auto' && len <= GCM_JS_MAX_BYTES);
  }

  /**
   * Encrypts buf[off, off + len) in place and writes the tag to buf[off + len, off + len + 16).
   * `iv` is the 12-byte nonce, `aad` the additional data (aad[aadOff, aadOff + aadLen)).
   */
  sealInPlace(iv: Uint8Array, aad: Uint8Array, aadOff: number, aadLen: number, buf: Uint8Array, off: number, len: number): void {
    if (!this.useJs(len)) {
      const c = createCipheriv('aes-128-gcm', this.keyObject, iv, GCM_OPTS);
      c.setAAD(aad.subarray(aadOff, aadOff + aadLen));
      const ct = c.update(buf.subarray(off, off + len));
      buf.set(ct, off);
      c.final();
      buf.set(c.getAuthTag(), off + len);
      return;
    }
    this.sealWith(this.keystream(iv, len), 0, aad, aadOff, aadLen, buf, off, len);
  }

  /**
   * sealInPlace for record `seq` of a sender whose nonces are `ivPrefix` (4 bytes) || epoch (2) ||
   * seq (6), the DTLS record nonce (RFC 5288 §3 with the explicit part = epoch || seq): the keystream
   * comes from `batch`, made for SEAL_BATCH consecutive sequence numbers in one cipher call (a
   * sender's next nonces are known, as SRTP's are: srtp/keystream-batch.ts). Same bytes as
   * sealInPlace with that nonce. False (nothing done) when the record is not for the JS engine. One
   * batch per key and prefix (the batch remembers the epoch and the sequence numbers only).
   */
  sealInPlaceSeq(batch: SealKeystream, ivPrefix: Uint8Array, epoch: number, seq: number,
    aad: Uint8Array, aadOff: number, aadLen: number, buf: Uint8Array, off: number, len: number): boolean {
    if (!this.useJs(len)) return false;
    let k = seq - batch.base;
    const need = 16 + ((len + 15) & ~15);
    if (batch.ks === null || k < 0 || k >= SEAL_BATCH || need > batch.slot || epoch !== batch.epoch) {
      // a sender's records rarely grow: keep the largest slot seen
      const slot = Math.max(batch.slot, need);
      batch.ks = this.batchKeystream(ivPrefix, epoch, seq, slot);
      batch.base = seq;
      batch.epoch = epoch;
      batch.slot = slot;
      k = 0;
    }
    this.sealWith(batch.ks, k * batch.slot, aad, aadOff, aadLen, buf, off, len);
    return true;
  }

  /** E(J0) at ks[ksOff, +16), the record's keystream after it. */
  private sealWith(ks: Uint8Array, ksOff: number, aad: Uint8Array, aadOff: number, aadLen: number, buf: Uint8Array, off: number, len: number): void {
    xorInto(buf, off, ks, ksOff + 16, len);
    const g = this.ghash;
    g.reset();
    g.update(aad, aadOff, aadLen);
    g.update(buf, off, len);
    g.lengths(aadLen, len);
    g.finishInto(ks, ksOff, buf, off + len);
  }

  /** Counter blocks J0, J0 + 1 ... for SEAL_BATCH records from `seq`, `slot` bytes each, through the cipher. */
  private batchKeystream(ivPrefix: Uint8Array, epoch: number, seq: number, slot: number): Buffer {
    const bytes = SEAL_BATCH * slot;
    if (batchCounters.length < bytes) batchCounters = Buffer.alloc(Math.max(bytes, 2 * batchCounters.length));
    const ctr = batchCounters;
    const blocks = slot >>> 4;
    for (let r = 0; r < SEAL_BATCH; r++) {
      const s = seq + r;
      const hi = Math.floor(s / 0x100000000);
      const lo = s >>> 0;
      const o = r * slot;
      ctr[o] = ivPrefix[0]!; ctr[o + 1] = ivPrefix[1]!; ctr[o + 2] = ivPrefix[2]!; ctr[o + 3] = ivPrefix[3]!;
      ctr[o + 4] = epoch >>> 8; ctr[o + 5] = epoch & 0xff;
      ctr[o + 6] = hi >>> 8; ctr[o + 7] = hi & 0xff;
      ctr[o + 8] = lo >>> 24; ctr[o + 9] = (lo >>> 16) & 0xff; ctr[o + 10] = (lo >>> 8) & 0xff; ctr[o + 11] = lo & 0xff;
      for (let b = 0, p = o; b < blocks; b++, p += 16) {
        if (b > 0) ctr.copy(ctr, p, o, o + 12);
        // 32-bit block counter: J0 is 1, the first keystream block 2
        const v = b + 1;
        ctr[p + 12] = v >>> 24;
        ctr[p + 13] = (v >>> 16) & 0xff;
        ctr[p + 14] = (v >>> 8) & 0xff;
        ctr[p + 15] = v & 0xff;
      }
    }
    return this.ecb.update(ctr.subarray(0, bytes));
  }

  /**
   * Checks the tag at buf[off + len, off + len + 16) over buf[off, off + len) and, if it is right,
   * decrypts that range in place. False (buffer untouched) when authentication fails.
   */
  openInPlace(iv: Uint8Array, aad: Uint8Array, aadOff: number, aadLen: number, buf: Uint8Array, off: number, len: number): boolean {
    if (!this.useJs(len)) {
      const d = createDecipheriv('aes-128-gcm', this.keyObject, iv, GCM_OPTS);
      d.setAuthTag(buf.subarray(off + len, off + len + GCM_TAG_LENGTH));
      d.setAAD(aad.subarray(aadOff, aadOff + aadLen));
      const pt = d.update(buf.subarray(off, off + len));
      try {
        d.final();
      } catch {
        return false;
      }
      buf.set(pt, off);
      return true;
    }
    const ks = this.keystream(iv, len);
    const g = this.ghash;
    g.reset();
    g.update(aad, aadOff, aadLen);
    g.update(buf, off, len);
    g.lengths(aadLen, len);
    g.finishInto(ks, 0, tagScratch, 0);
    // constant time, as the tag check of any AEAD should be
    if (!timingSafeEqual(tagScratch, buf.subarray(off + len, off + len + GCM_TAG_LENGTH))) return false;
    xorInto(buf, off, ks, 16, len);
    return true;
  }

  /** E(J0) then E(J0 + 1) ... : 16 + len bytes (rounded up to blocks), one cipher call. */
  private keystream(iv: Uint8Array, len: number): Buffer {
    const j0 = this.j0;
    j0.set(iv.subarray(0, GCM_IV_LENGTH), 0);
    const blocks = ((len + 15) >>> 4) + 1;
    const bytes = blocks << 4;
    if (counters.length < bytes) {
      counters = Buffer.alloc(Math.max(bytes, counters.length * 2));
      views = [];
    }
    const ctr = counters;
    ctr.fill(j0, 0, bytes);
    // 32-bit block counter in bytes 12..15: J0 is 1, the first keystream block 2
    for (let b = 0, o = 12; b < blocks; b++, o += 16) {
      const v = b + 1;
      ctr[o] = v >>> 24;
      ctr[o + 1] = (v >>> 16) & 0xff;
      ctr[o + 2] = (v >>> 8) & 0xff;
      ctr[o + 3] = v & 0xff;
    }
    let view = views[blocks];
    if (view === undefined) {
      view = ctr.subarray(0, bytes);
      views[blocks] = view;
    }
    return this.ecb.update(view);
  }
}

/** buf[start + i] ^= ks[ksOff + i] for i < n. */
function xorInto(buf: Uint8Array, start: number, ks: Uint8Array, ksOff: number, n: number): void {
  for (let i = 0; i < n; i++) buf[start + i] ^= ks[ksOff + i]!;
}
