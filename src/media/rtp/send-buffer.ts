/**
 * Retransmission buffer for one outgoing stream, holding the bytes exactly as they were sent
 * (after rewriting: this stream's SSRC, sequence number and timestamp; before SRTP), indexed by
 * the outgoing sequence number. Entries expire after `maxAgeMs` (Janus min_nack_queue) and when
 * the index wraps (`capacity` packets).
 *
 * The packet bytes live in a pool of slots reused oldest first. The pool only grows while its
 * oldest packet is still young, so memory follows packet rate x maxAgeMs (a few dozen slots for
 * a 100 packets/s stream at 200 ms) rather than `capacity`, and steady state allocates nothing.
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

export class RtpSendBuffer {
  readonly capacity: number;
  maxAgeMs: number;
  minResendIntervalMs: number;
  private readonly mask: number;
  private readonly maxPacketSize: number;
  /** Packet bytes, in circular write order; `next` is the oldest. */
  private readonly pool: Buffer[] = [];
  /** For each pool slot: the index (seq & mask) it holds, and when it was written. */
  private readonly poolOwner: number[] = [];
  private readonly poolTime: number[] = [];
  private next = 0;
  /** For each index: the pool slot holding its bytes. */
  private readonly slotOf: Int32Array;
  private readonly seqs: Int32Array;
  private readonly lens: Uint16Array;
  private readonly stored: Float64Array;
  private readonly resent: Float64Array;

  constructor(opts: RtpSendBufferOptions = {}) {
    let c = 16;
    while (c < (opts.capacity ?? 1024)) c <<= 1;
    this.capacity = c;
    this.mask = c - 1;
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.maxPacketSize = opts.maxPacketSize ?? 1500;
    this.minResendIntervalMs = opts.minResendIntervalMs ?? 0;
    this.slotOf = new Int32Array(c).fill(-1);
    this.seqs = new Int32Array(c).fill(-1);
    this.lens = new Uint16Array(c);
    this.stored = new Float64Array(c);
    this.resent = new Float64Array(c).fill(-Infinity);
  }

  /** Keep a copy of buf[0, len) (an RTP packet as sent), keyed by its sequence number. */
  store(buf: Buffer, len: number, nowMs: number): void {
    if (len > this.maxPacketSize || len < 12) return;
    const seq = rtpSeq(buf);
    const i = seq & this.mask;
    const j = this.takeSlot(nowMs);
    buf.copy(this.pool[j]!, 0, 0, len);
    this.slotOf[i] = j;
    this.poolOwner[j] = i;
    this.poolTime[j] = nowMs;
    this.seqs[i] = seq;
    this.lens[i] = len;
    this.stored[i] = nowMs;
    this.resent[i] = -Infinity;
  }

  /** The pool slot to write next: the oldest one, unless it is still young and the pool may grow. */
  private takeSlot(nowMs: number): number {
    const n = this.pool.length;
    const j = this.next;
    if (n === 0 || (n < this.capacity && nowMs - this.poolTime[j]! <= this.maxAgeMs)) {
      // Grow: the new slot goes just before the oldest, so circular order stays write order.
      this.pool.splice(j, 0, Buffer.allocUnsafe(this.maxPacketSize));
      this.poolOwner.splice(j, 0, -1);
      this.poolTime.splice(j, 0, -Infinity);
      for (let k = 0; k < this.slotOf.length; k++) if (this.slotOf[k]! >= j) this.slotOf[k]!++;
    } else {
      // Reuse the oldest: the packet it held is no longer retransmittable.
      const owner = this.poolOwner[j]!;
      if (owner >= 0 && this.slotOf[owner] === j) {
        this.slotOf[owner] = -1;
        this.seqs[owner] = -1;
      }
    }
    this.next = (j + 1) % this.pool.length;
    return j;
  }

  /** Slot index holding `seq` if it is retransmittable now, else -1; marks it as resent. */
  private take(seq: number, nowMs: number): number {
    const i = seq & this.mask;
    if (this.seqs[i] !== seq) return -1;
    if (nowMs - this.stored[i]! > this.maxAgeMs) return -1;
    if (nowMs - this.resent[i]! < this.minResendIntervalMs) return -1;
    this.resent[i] = nowMs;
    return i;
  }

  /**
   * The stored packet for an outgoing sequence number, as a view into the buffer's own memory
   * (valid until that slot is overwritten), or null when unknown, expired or resent too recently.
   */
  get(seq: number, nowMs: number): Buffer | null {
    const i = this.take(seq & 0xffff, nowMs);
    return i < 0 ? null : this.pool[this.slotOf[i]!]!.subarray(0, this.lens[i]!);
  }

  /** Copy the stored packet into `out` (no allocation); returns its length or -1. */
  copyTo(seq: number, nowMs: number, out: Buffer): number {
    const i = this.take(seq & 0xffff, nowMs);
    if (i < 0) return -1;
    const len = this.lens[i]!;
    if (out.length < len) return -1;
    this.pool[this.slotOf[i]!]!.copy(out, 0, 0, len);
    return len;
  }

  /** Pool slots allocated so far (memory is about this times maxPacketSize). */
  get allocatedSlots(): number {
    return this.pool.length;
  }

  /** Whether a sequence number is held (ignores age/resend limits). */
  has(seq: number): boolean {
    return this.seqs[seq & this.mask] === (seq & 0xffff);
  }

  clear(): void {
    this.seqs.fill(-1);
  }
}
