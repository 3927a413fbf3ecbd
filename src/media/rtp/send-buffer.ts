/**
 * Retransmission buffer for one outgoing stream, holding the bytes exactly as they were sent
 * (after rewriting: this stream's SSRC, sequence number and timestamp; before SRTP), indexed by
 * the outgoing sequence number. Entries expire after `maxAgeMs` (Janus min_nack_queue) and when
 * the index wraps (`capacity` packets).
 *
 * The packet bytes live in a pool of slots reused oldest first. The pool only grows while its
 * oldest packet is still young, so memory follows packet rate x maxAgeMs (a few dozen slots for
 * a 100 packets/s stream at 200 ms) rather than `capacity`, and steady state allocates nothing.
 * Slots are as large as the largest packet seen so far (rounded up), not `maxPacketSize`: video
 * from browsers stays around 1.2 kB, so a 1500-byte slot would waste a fifth of the pool.
 */
import { rtpSeq } from './header.js';

export interface RtpSendBufferOptions {
  /** Packets kept at most (rounded up to a power of two). Default 1024. */
  capacity?: number;
  /** Packets older than this are not retransmitted (ms). Default 1000. */
  maxAgeMs?: number;
  /** Largest packet stored; longer ones are not stored. Default 1500. */
  maxPacketSize?: number;
  /** Do not retransmit the same packet again within this time (ms). Default 0 (off). */
  minResendIntervalMs?: number;
}

/** Slot sizes are multiples of this, so a stream whose packets vary by a few bytes settles at once. */
const SLOT_ROUNDING = 128;

export class RtpSendBuffer {
  readonly capacity: number;
  maxAgeMs: number;
  minResendIntervalMs: number;
  private readonly mask: number;
  private readonly maxPacketSize: number;
  /** Packet bytes, in circular write order; `next` is the oldest. */
  private readonly pool: Buffer[] = [];
  /**
   * Per pool slot: the sequence number it holds (-1: none), its length, when it was stored and last
   * resent. Kept per slot rather than per index so that only the index is sized by `capacity`:
   * a stream's fixed cost is 2 bytes per index entry, the rest follows packet rate x maxAgeMs.
   */
  private readonly slotSeq: number[] = [];
  private readonly slotLen: number[] = [];
  private readonly slotTime: number[] = [];
  private readonly slotResent: number[] = [];
  private next = 0;
  /** Size of the slots allocated from now on: the largest packet stored so far, rounded up. */
  private slotSize = 0;
  /** For each index (seq & mask): the pool slot holding it, or -1. */
  private readonly slotOf: Int16Array;

  constructor(opts: RtpSendBufferOptions = {}) {
    let c = 16;
    // Slot numbers must fit the Int16 index; 32768 packets is far beyond any NACK window.
    const want = Math.min(opts.capacity ?? 1024, 32768);
    while (c < want) c <<= 1;
    this.capacity = c;
    this.mask = c - 1;
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.maxPacketSize = opts.maxPacketSize ?? 1500;
    this.minResendIntervalMs = opts.minResendIntervalMs ?? 0;
    this.slotOf = new Int16Array(c).fill(-1);
  }

  /** Keep a copy of buf[0, len) (an RTP packet as sent), keyed by its sequence number. */
  store(buf: Buffer, len: number, nowMs: number): void {
    if (len > this.maxPacketSize || len < 12) return;
    const seq = rtpSeq(buf);
    if (len > this.slotSize) this.slotSize = Math.min(this.maxPacketSize, (len + SLOT_ROUNDING - 1) & ~(SLOT_ROUNDING - 1));
    const j = this.takeSlot(nowMs);
    let slot = this.pool[j]!;
    // A slot from before a larger packet was seen: replaced once, at the current size.
    if (slot.length < len) this.pool[j] = slot = Buffer.allocUnsafeSlow(this.slotSize);
    buf.copy(slot, 0, 0, len);
    this.slotOf[seq & this.mask] = j;
    this.slotSeq[j] = seq;
    this.slotLen[j] = len;
    this.slotTime[j] = nowMs;
    this.slotResent[j] = -Infinity;
  }

  /** The pool slot to write next: the oldest one, unless it is still young and the pool may grow. */
  private takeSlot(nowMs: number): number {
    const n = this.pool.length;
    const j = this.next;
    if (n === 0 || (n < this.capacity && nowMs - this.slotTime[j]! <= this.maxAgeMs)) {
      // Grow: the new slot goes just before the oldest, so circular order stays write order.
      this.pool.splice(j, 0, Buffer.allocUnsafeSlow(this.slotSize));
      this.slotSeq.splice(j, 0, -1);
      this.slotLen.splice(j, 0, 0);
      this.slotTime.splice(j, 0, -Infinity);
      this.slotResent.splice(j, 0, -Infinity);
      const slotOf = this.slotOf;
      for (let k = 0; k < slotOf.length; k++) if (slotOf[k]! >= j) slotOf[k]!++;
    } else {
      // Reuse the oldest: the packet it held is no longer retransmittable.
      const owner = this.slotSeq[j]!;
      if (owner >= 0 && this.slotOf[owner & this.mask] === j) this.slotOf[owner & this.mask] = -1;
      this.slotSeq[j] = -1;
    }
    this.next = (j + 1) % this.pool.length;
    return j;
  }

  /** Pool slot holding `seq` if it is retransmittable now, else -1; marks it as resent. */
  private take(seq: number, nowMs: number): number {
    const j = this.slotOf[seq & this.mask]!;
    if (j < 0 || this.slotSeq[j] !== seq) return -1;
    if (nowMs - this.slotTime[j]! > this.maxAgeMs) return -1;
    if (nowMs - this.slotResent[j]! < this.minResendIntervalMs) return -1;
    this.slotResent[j] = nowMs;
    return j;
  }

  /**
   * The stored packet for an outgoing sequence number, as a view into the buffer's own memory
   * (valid until that slot is overwritten), or null when unknown, expired or resent too recently.
   */
  get(seq: number, nowMs: number): Buffer | null {
    const j = this.take(seq & 0xffff, nowMs);
    return j < 0 ? null : this.pool[j]!.subarray(0, this.slotLen[j]!);
  }

  /** Copy the stored packet into `out` (no allocation); returns its length or -1. */
  copyTo(seq: number, nowMs: number, out: Buffer): number {
    const j = this.take(seq & 0xffff, nowMs);
    if (j < 0) return -1;
    const len = this.slotLen[j]!;
    if (out.length < len) return -1;
    this.pool[j]!.copy(out, 0, 0, len);
    return len;
  }

  /** Copy a held packet into `out` without counting it as a retransmission (probes); its length or -1. */
  peekTo(seq: number, out: Buffer): number {
    const j = this.slotOf[seq & this.mask]!;
    if (j < 0 || this.slotSeq[j] !== (seq & 0xffff)) return -1;
    const len = this.slotLen[j]!;
    if (out.length < len) return -1;
    this.pool[j]!.copy(out, 0, 0, len);
    return len;
  }

  /** Pool slots allocated so far. */
  get allocatedSlots(): number {
    return this.pool.length;
  }

  /** Bytes this buffer holds: packet slots plus the fixed index (diagnostics, benchmarks). */
  get footprintBytes(): number {
    let n = this.slotOf.byteLength;
    for (const b of this.pool) n += b.length;
    return n;
  }

  /** Whether a sequence number is held (ignores age/resend limits). */
  has(seq: number): boolean {
    const j = this.slotOf[seq & this.mask]!;
    return j >= 0 && this.slotSeq[j] === (seq & 0xffff);
  }

  clear(): void {
    this.slotOf.fill(-1);
    this.slotSeq.fill(-1);
  }
}
