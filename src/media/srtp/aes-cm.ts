/**
 * AES counter-mode keystream XOR for the packet path (RFC 3711 §4.1.1).
 *
 * Two engines, same result:
 *  - 'ecb': one long-lived 'aes-128-ecb' cipher encrypts a reused buffer of counter blocks
 *    (IV, IV+1, ...) into keystream, which is XORed into the packet in place. No per-packet cipher
 *    object or key schedule; one keystream Buffer is allocated by cipher.update().
 *  - 'ctr': a new 'aes-128-ctr' cipher per packet from a pre-imported KeyObject.
 * Measured (Node 20, 2-core box under load, interleaved rounds, 1200-byte payload): keystream+XOR
 * alone ecb ~3.3-3.6 µs vs ctr ~4.5-5.2 µs; whole protect ecb ~7-9 µs vs ctr ~10-13 µs.
 * So 'ecb' is the default; bench/srtp.ts re-measures both. protectRtp usually does not call xor():
 * it takes keystream made for several packets at once (keystream-batch.ts, via encryptBlocks).
 */
import { createCipheriv, createSecretKey, type Cipher, type KeyObject } from 'node:crypto';

export type AesCmEngine = 'ecb' | 'ctr';

/**
 * Counter blocks, shared by every AesCmXor: xor() fills and consumes them synchronously, so one
 * scratch serves all PeerConnections (four contexts per PeerConnection would otherwise hold 8 KiB).
 */
let counters = Buffer.alloc(2048);
/** Cached views counters[0, 16 * blocks), indexed by block count. */
const views: Buffer[] = [];

export class AesCmXor {
  private readonly ecb: Cipher | null;
  private readonly keyObject: KeyObject;
  private readonly algo: string;

  constructor(key: Uint8Array, readonly engine: AesCmEngine = 'ecb') {
    const bits = key.length * 8;
    this.keyObject = createSecretKey(key);
    this.algo = `aes-${bits}-ctr`;
    if (engine === 'ecb') {
      const c = createCipheriv(`aes-${bits}-ecb`, this.keyObject, null);
      c.setAutoPadding(false);
      this.ecb = c;
    } else {
      this.ecb = null;
    }
  }

  /**
   * XOR the keystream that starts at counter block `iv` (16 bytes, last two bytes zero as SRTP
   * guarantees) into buf[start, end).
   */
  xor(iv: Buffer, buf: Uint8Array, start: number, end: number): void {
    // (the 'ecb' path below XORs in JS; see xorInto)
    const n = end - start;
    if (n <= 0) return;
    if (this.ecb === null) {
      const c = createCipheriv(this.algo, this.keyObject, iv);
      const out = c.update(buf.subarray(start, end));
      buf.set(out, start);
      return;
    }
    const blocks = (n + 15) >>> 4;
    const bytes = blocks << 4;
    if (counters.length < bytes) {
      counters = Buffer.alloc(bytes);
      views.length = 0;
    }
    const ctr = counters;
    ctr.fill(iv, 0, bytes);
    const c14 = iv[14]!;
    const c15 = iv[15]!;
    for (let b = 0, o = 14; b < blocks; b++, o += 16) {
      // 16-bit block counter added to the IV's last two bytes (zero for SRTP IVs)
      const v = ((c14 << 8) | c15) + b;
      ctr[o] = (v >>> 8) & 0xff;
      ctr[o + 1] = v & 0xff;
    }
    let view = views[blocks];
    if (view === undefined) {
      view = ctr.subarray(0, bytes);
      views[blocks] = view;
    }
    const ks = this.ecb.update(view);
    xorInto(buf, start, ks, 0, n, this);
  }

  /** AES-ECB of whole 16-byte counter blocks (keystream for keystream-batch.ts); null on 'ctr'. */
  encryptBlocks(counters: Buffer): Buffer | null {
    return this.ecb === null ? null : this.ecb.update(counters);
  }

  /**
   * buf[start, end) ^= ks[ksOff, ksOff + end - start). `ks32`: a 32-bit view of all of `ks` (same
   * memory, from ks's first byte) made once by the caller (a batch serves several packets), or null
   * to make one here.
   */
  xorKeystream(ks: Buffer, ksOff: number, buf: Uint8Array, start: number, end: number, ks32: Int32Array | null = null): void {
    if (end > start) xorInto(buf, start, ks, ksOff, end - start, this, ks32);
  }

  /** Cached 32-bit view over the last packet ArrayBuffer (receive buffers are reused). */
  view32: Int32Array | null = null;
}

/**
 * buf[start + i] ^= ks[i] for i < n. When both sides are 4-byte aligned, XOR whole words through
 * Int32Array views (the packet's view is cached per ArrayBuffer; only the keystream view is new).
 */
function xorInto(buf: Uint8Array, start: number, ks: Buffer, ksOff: number, n: number, cache: AesCmXor, ks32: Int32Array | null = null): void {
  const pOff = buf.byteOffset + start;
  let i = 0;
  if (n >= 64 && (pOff & 3) === 0 && ((ks.byteOffset + ksOff) & 3) === 0) {
    const ab = buf.buffer;
    let pv = cache.view32;
    if (pv === null || pv.buffer !== ab) {
      pv = new Int32Array(ab, 0, ab.byteLength >>> 2);
      cache.view32 = pv;
    }
    const words = n >>> 2;
    let kv: Int32Array;
    let k0 = 0;
    if (ks32 !== null) {
      kv = ks32;
      k0 = ksOff >>> 2;
    } else kv = new Int32Array(ks.buffer, ks.byteOffset + ksOff, words);
    const p0 = pOff >>> 2;
    for (let w = 0; w < words; w++) pv[p0 + w] ^= kv[k0 + w]!;
    i = words << 2;
  }
  for (; i < n; i++) buf[start + i] ^= ks[ksOff + i]!;
}

