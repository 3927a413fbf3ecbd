/**
 * AES-CM keystream for the next few packets of a sending SSRC, made in one cipher call.
 *
 * Why: Node's Cipher.update() costs ~0.65 µs per call whatever the size (binding, a fresh output
 * ArrayBuffer) against ~0.5 ns per byte, so keystream for one 1100-byte packet costs ~1.2 µs but
 * for eight such packets at once ~0.5 µs each (bench/README.md). A sender's next indices are
 * known (index + 1, + 2, ...: the IV depends only on salt, SSRC and index), so protectRtp takes
 * its keystream from a batch made for BATCH consecutive indices. The keystream of an index is the
 * same whichever way it is made: batching changes no output byte, only the number of calls.
 */
import type { AesCmXor } from './aes-cm.js';

/** Indices per batch. */
export const BATCH = 8;
/** Largest per-packet keystream kept in a batch (MTU-sized payloads); longer ones go unbatched. */
export const MAX_SLOT = 1504;

/** Fewest indices per batch. */
export const MIN_BATCH = 2;
/**
 * A batch covers about this much of the stream's time: the keystream is held per SSRC (8.7 kB at 8
 * MTU-sized packets), and a 30 packets/s webinar stream gains little from 8 at once (the call cost it
 * saves is ~0.6 µs per packet against ~40 µs of the rest of the forward), so slow streams get smaller ones.
 */
export const BATCH_SPAN_MS = 100;

/** Per-SSRC state: keystream of indices [base, base + count), `slot` bytes each. */
export class KeystreamBatch {
  base = -1;
  slot = 0;
  /** Indices in the current batch (MIN_BATCH..BATCH, from the stream's rate). */
  count = BATCH;
  /** When the current batch was made (ms, performance.now()). */
  madeAt = -1;
  ks: Buffer | null = null;
  /** A 32-bit view of `ks` (when aligned): one per batch instead of one per packet. */
  ks32: Int32Array | null = null;
}

/** Counter blocks of a whole batch, shared (filled and consumed synchronously). */
const counters = Buffer.alloc(BATCH * MAX_SLOT);
const views: Buffer[] = [];
const ivScratch = Buffer.alloc(16);

/**
 * XOR the keystream of packet `index` (48-bit SRTP index) into buf[start, end), from the SSRC's
 * batch, making a new batch starting at `index` when the index or the length is not covered.
 * Returns false (nothing done) when the packet is too long to batch or the engine cannot batch.
 */
export function batchXor(
  b: KeystreamBatch,
  x: AesCmXor,
  salt: Buffer,
  ssrc: number,
  index: number,
  buf: Uint8Array,
  start: number,
  end: number,
): boolean {
  const n = end - start;
  if (n > MAX_SLOT || x.engine !== 'ecb') return false;
  let k = index - b.base;
  if (b.ks === null || k < 0 || k >= b.count || n > b.slot) {
    // a stream's packets rarely grow: keep the largest slot seen so far
    const slot = Math.max(b.slot, (n + 15) & ~15, 16);
    // Once per batch: how fast the last one was used up sizes the next (BATCH_SPAN_MS of packets).
    const now = performance.now();
    let count = BATCH;
    if (b.madeAt >= 0 && k === b.count) {
      const perSpan = (b.count * BATCH_SPAN_MS) / Math.max(1, now - b.madeAt);
      count = Math.max(MIN_BATCH, Math.min(BATCH, Math.ceil(perSpan)));
    } else if (b.madeAt >= 0) count = b.count;
    const ks = fill(x, salt, ssrc, index, slot, count);
    if (ks === null) return false;
    b.ks = ks;
    b.ks32 = (ks.byteOffset & 3) === 0 ? new Int32Array(ks.buffer, ks.byteOffset, ks.length >>> 2) : null;
    b.base = index;
    b.slot = slot;
    b.count = count;
    b.madeAt = now;
    k = 0;
  }
  x.xorKeystream(b.ks!, k * b.slot, buf, start, end, b.ks32);
  return true;
}

function fill(x: AesCmXor, salt: Buffer, ssrc: number, index: number, slot: number, count: number): Buffer | null {
  const blocks = slot >>> 4;
  for (let s = 0; s < count; s++) {
    const i = index + s;
    const seq = i % 0x10000;
    const roc = (i - seq) / 0x10000;
    const iv = ivScratch;
    // IV = (salt * 2^16) XOR (ssrc * 2^64) XOR (index * 2^16), RFC 3711 §4.1.1
    salt.copy(iv, 0, 0, 14);
    iv[4]! ^= ssrc >>> 24;
    iv[5]! ^= (ssrc >>> 16) & 0xff;
    iv[6]! ^= (ssrc >>> 8) & 0xff;
    iv[7]! ^= ssrc & 0xff;
    iv[8]! ^= (roc >>> 24) & 0xff;
    iv[9]! ^= (roc >>> 16) & 0xff;
    iv[10]! ^= (roc >>> 8) & 0xff;
    iv[11]! ^= roc & 0xff;
    iv[12]! ^= seq >>> 8;
    iv[13]! ^= seq & 0xff;
    iv[14] = 0;
    iv[15] = 0;
    const o = s * slot;
    counters.fill(iv, o, o + slot);
    // then the 16-bit block counter in bytes 14..15 of each block
    for (let blk = 1, p = o + 30; blk < blocks; blk++, p += 16) {
      counters[p] = blk >>> 8;
      counters[p + 1] = blk & 0xff;
    }
  }
  const bytes = count * slot;
  const key = (slot >>> 4) * (BATCH + 1) + count;
  let view = views[key];
  if (view === undefined) {
    view = counters.subarray(0, bytes);
    views[key] = view;
  }
  return x.encryptBlocks(view);
}
