/**
 * Retransmission buffer for one outgoing stream: a ring of slots indexed by the outgoing
 * sequence number, holding the bytes exactly as they were sent (after rewriting: this stream's
 * SSRC, sequence number and timestamp; before SRTP). Slots are allocated on first use and reused,
 * so steady state does not allocate. Entries expire after `maxAgeMs` (Janus min_nack_queue) and
 * when the ring wraps (`capacity` packets).
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
  private readonly slots: Array<Buffer | undefined>;
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
    this.slots = new Array<Buffer | undefined>(c);
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
    let slot = this.slots[i];
    if (slot === undefined) {
      slot = Buffer.allocUnsafe(this.maxPacketSize);
      this.slots[i] = slot;
    }
    buf.copy(slot, 0, 0, len);
    this.seqs[i] = seq;
    this.lens[i] = len;
    this.stored[i] = nowMs;
    this.resent[i] = -Infinity;
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
    return i < 0 ? null : this.slots[i]!.subarray(0, this.lens[i]!);
  }

  /** Copy the stored packet into `out` (no allocation); returns its length or -1. */
  copyTo(seq: number, nowMs: number, out: Buffer): number {
    const i = this.take(seq & 0xffff, nowMs);
    if (i < 0) return -1;
    const len = this.lens[i]!;
    if (out.length < len) return -1;
    this.slots[i]!.copy(out, 0, 0, len);
    return len;
  }

  /** Whether a sequence number is held (ignores age/resend limits). */
  has(seq: number): boolean {
    return this.seqs[seq & this.mask] === (seq & 0xffff);
  }

  clear(): void {
    this.seqs.fill(-1);
  }
}
