/**
 * Receive side of one incoming RTP stream (one SSRC): sequence tracking with extended sequence
 * numbers (RFC 3550 A.1), loss detection and NACK list generation (RFC 4585 generic NACK) with
 * retry limits and RTT-aware resend intervals, interarrival jitter (A.8), and the numbers of a
 * reception report block (A.3, LSR/DLSR). Sans-IO: the caller passes the time in ms.
 *
 * Missing packets live in a fixed ring indexed by extended sequence number; no allocation per
 * packet.
 */
import type { ReportBlock } from '../rtcp/report.js';
import { seqDiff } from './seq.js';

export interface RtpReceiveStatsOptions {
  /** Largest number of missing packets tracked (ring size, power of two). Default 1024. */
  maxMissing?: number;
  /** NACKs per packet at most. Default 10. */
  maxRetries?: number;
  /** Forget a missing packet after this many ms. Default 1000. */
  maxAgeMs?: number;
  /** Wait this long after detecting a gap before the first NACK (reordering). Default 0. */
  initialDelayMs?: number;
  /** Floor of the resend interval (ms). Default 20. */
  minResendIntervalMs?: number;
  /** Resend interval used while no RTT is known (ms). Default 100. */
  defaultResendIntervalMs?: number;
  /** A forward jump larger than this is a restart or a burst too large to repair. Default 3000. */
  maxDropout?: number;
  /** A backward jump larger than this (and smaller than maxDropout) is a restart. Default 100. */
  maxMisorder?: number;
}

/** onPacket() results. */
export const RtpReceiveEvent = {
  InOrder: 0,
  /** A packet that had been reported missing arrived (retransmission or late). */
  Recovered: 1,
  /** Duplicate or late packet not being tracked. */
  Late: 2,
  /** The gap was too large to repair: NACK state cleared; request a keyframe (PLI/FIR). */
  GapTooLarge: 3,
  /** Sequence restart detected (RFC 3550 A.1 bad_seq): stats re-based. */
  Restart: 4,
  /** First packet of a large jump, ignored until confirmed by the next one. */
  Probation: 5,
} as const;

export class RtpReceiveStats {
  readonly ssrc: number;
  readonly clockRate: number;
  rttMs = 0;

  private readonly o: Required<RtpReceiveStatsOptions>;
  // sequence state (RFC 3550 A.1)
  private started = false;
  private baseExt = 0;
  private maxExt = 0; // extended highest sequence number
  private badSeq = -1;
  private receivedCount = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  // jitter (A.8), in timestamp units
  private jitterTs = 0;
  private lastArrivalTs = 0;
  private lastRtpTs = 0;
  private haveTransit = false;
  // SR
  private lastSrMiddle = 0;
  private lastSrArrivalMs = -1;
  // NACK ring
  private readonly mask: number;
  private readonly missExt: Float64Array;
  private readonly missFirstMs: Float64Array;
  private readonly missLastMs: Float64Array;
  private readonly missRetries: Uint8Array;
  private pending = 0;
  private nackLow = 0;

  constructor(ssrc: number, clockRate: number, opts: RtpReceiveStatsOptions = {}) {
    this.ssrc = ssrc >>> 0;
    this.clockRate = clockRate;
    this.o = {
      maxMissing: opts.maxMissing ?? 1024,
      maxRetries: opts.maxRetries ?? 10,
      maxAgeMs: opts.maxAgeMs ?? 1000,
      initialDelayMs: opts.initialDelayMs ?? 0,
      minResendIntervalMs: opts.minResendIntervalMs ?? 20,
      defaultResendIntervalMs: opts.defaultResendIntervalMs ?? 100,
      maxDropout: opts.maxDropout ?? 3000,
      maxMisorder: opts.maxMisorder ?? 100,
    };
    let c = 16;
    while (c < this.o.maxMissing) c <<= 1;
    this.mask = c - 1;
    this.missExt = new Float64Array(c).fill(-1);
    this.missFirstMs = new Float64Array(c);
    this.missLastMs = new Float64Array(c);
    this.missRetries = new Uint8Array(c);
  }

  /**
   * Account one received packet. `rtpTs` and arrival time feed the jitter estimate (only for
   * packets that advance the sequence, so retransmissions do not inflate it).
   * Returns an RtpReceiveEvent value.
   */
  onPacket(seq: number, rtpTs: number, nowMs: number): number {
    seq &= 0xffff;
    if (!this.started) {
      this.restart(seq);
      this.updateJitter(rtpTs >>> 0, nowMs);
      return RtpReceiveEvent.InOrder;
    }
    const maxSeq = this.maxExt & 0xffff;
    const udelta = (seq - maxSeq) & 0xffff;
    if (udelta !== 0 && udelta < this.o.maxDropout) {
      // in order, possibly with a gap
      const ext = this.maxExt + udelta;
      let ev: number = RtpReceiveEvent.InOrder;
      if (udelta > 1) ev = this.addMissing(this.maxExt + 1, ext - 1, nowMs);
      this.maxExt = ext;
      this.receivedCount++;
      this.badSeq = -1;
      this.updateJitter(rtpTs >>> 0, nowMs);
      return ev;
    }
    if (udelta !== 0 && udelta <= 0x10000 - this.o.maxMisorder) {
      // a very large jump: a restart if the next packet confirms it
      if (seq === this.badSeq) {
        this.restart(seq);
        this.haveTransit = false;
        this.updateJitter(rtpTs >>> 0, nowMs);
        return RtpReceiveEvent.Restart;
      }
      this.badSeq = (seq + 1) & 0xffff;
      return RtpReceiveEvent.Probation;
    }
    // duplicate or reordered (behind the highest)
    this.receivedCount++;
    const ext = this.maxExt + seqDiff(seq, maxSeq);
    const i = ext & this.mask;
    if (ext >= 0 && this.missExt[i] === ext) {
      this.missExt[i] = -1;
      this.pending--;
      return RtpReceiveEvent.Recovered;
    }
    return RtpReceiveEvent.Late;
  }

  private restart(seq: number): void {
    this.started = true;
    // keep the extended number monotonic across restarts: new cycle base
    const ext = this.receivedCount === 0 ? seq : (this.maxExt & ~0xffff) + 0x10000 + seq;
    this.baseExt = ext;
    this.maxExt = ext;
    this.badSeq = -1;
    this.receivedCount = 1;
    this.expectedPrior = 0;
    this.receivedPrior = 0;
    this.clearMissing();
    this.nackLow = ext + 1;
  }

  private addMissing(from: number, to: number, nowMs: number): number {
    const cap = this.mask + 1;
    if (to - from + 1 > cap / 2) {
      // too many to repair: drop the NACK state, ask for a keyframe instead
      this.clearMissing();
      this.nackLow = to + 1;
      return RtpReceiveEvent.GapTooLarge;
    }
    if (this.pending === 0) this.nackLow = from;
    for (let e = from; e <= to; e++) {
      const i = e & this.mask;
      if (this.missExt[i]! >= 0) this.pending--; // overwritten (very old) entry
      this.missExt[i] = e;
      this.missFirstMs[i] = nowMs;
      this.missLastMs[i] = -1;
      this.missRetries[i] = 0;
      this.pending++;
    }
    return RtpReceiveEvent.InOrder;
  }

  private clearMissing(): void {
    this.missExt.fill(-1);
    this.pending = 0;
  }

  /** Missing packets currently tracked. */
  get missingCount(): number {
    return this.pending;
  }

  private resendInterval(): number {
    const base = this.rttMs > 0 ? this.rttMs : this.o.defaultResendIntervalMs;
    return Math.max(this.o.minResendIntervalMs, base);
  }

  /**
   * Sequence numbers to NACK now, written into `out` (cleared first); returns how many. Entries
   * past maxAgeMs or maxRetries are dropped (they will not be requested again).
   */
  collectNacks(nowMs: number, out: number[]): number {
    out.length = 0;
    if (this.pending === 0) return 0;
    const interval = this.resendInterval();
    const lowest = Math.max(this.nackLow, this.maxExt - this.mask);
    let newLow = -1;
    for (let e = lowest; e < this.maxExt; e++) {
      const i = e & this.mask;
      if (this.missExt[i] !== e) continue;
      if (nowMs - this.missFirstMs[i]! > this.o.maxAgeMs || this.missRetries[i]! >= this.o.maxRetries) {
        this.missExt[i] = -1;
        this.pending--;
        continue;
      }
      if (newLow < 0) newLow = e;
      const last = this.missLastMs[i]!;
      const due = last < 0 ? nowMs - this.missFirstMs[i]! >= this.o.initialDelayMs : nowMs - last >= interval;
      if (due) {
        out.push(e & 0xffff);
        this.missLastMs[i] = nowMs;
        this.missRetries[i]!++;
      }
    }
    this.nackLow = newLow < 0 ? this.maxExt + 1 : newLow;
    return out.length;
  }

  /** When collectNacks() next has something to do (ms), or -1 if nothing is missing. */
  nextNackTime(): number {
    if (this.pending === 0) return -1;
    const interval = this.resendInterval();
    let t = Infinity;
    const lowest = Math.max(this.nackLow, this.maxExt - this.mask);
    for (let e = lowest; e < this.maxExt; e++) {
      const i = e & this.mask;
      if (this.missExt[i] !== e) continue;
      const last = this.missLastMs[i]!;
      const due = last < 0 ? this.missFirstMs[i]! + this.o.initialDelayMs : last + interval;
      const expire = this.missFirstMs[i]! + this.o.maxAgeMs;
      t = Math.min(t, due, expire);
    }
    return t === Infinity ? -1 : t;
  }

  private updateJitter(rtpTs: number, nowMs: number): void {
    const arrival = (nowMs * this.clockRate) / 1000;
    if (this.haveTransit) {
      const d = arrival - this.lastArrivalTs - ((rtpTs - this.lastRtpTs) | 0);
      this.jitterTs += (Math.abs(d) - this.jitterTs) / 16;
    }
    this.haveTransit = true;
    this.lastArrivalTs = arrival;
    this.lastRtpTs = rtpTs;
  }

  // ------------------------------------------------------------------ report numbers

  /** Extended highest sequence number received (cycles << 16 | seq), 32 bits. */
  get extendedHighestSeq(): number {
    return this.maxExt >>> 0;
  }
  get packetsReceived(): number {
    return this.receivedCount;
  }
  get packetsExpected(): number {
    return this.started ? this.maxExt - this.baseExt + 1 : 0;
  }
  /** Cumulative lost (may be negative with duplicates). */
  get packetsLost(): number {
    return this.packetsExpected - this.receivedCount;
  }
  /** Interarrival jitter in timestamp units, as RTCP reports it. */
  get jitter(): number {
    return Math.floor(this.jitterTs);
  }
  get jitterMs(): number {
    return (this.jitterTs * 1000) / this.clockRate;
  }

  /** Remember an SR from this source for LSR/DLSR. */
  onSenderReport(ntpSec: number, ntpFrac: number, nowMs: number): void {
    this.lastSrMiddle = (((ntpSec & 0xffff) << 16) | (ntpFrac >>> 16)) >>> 0;
    this.lastSrArrivalMs = nowMs;
  }

  /**
   * Fill a report block for this source and start a new fraction-lost interval (A.3).
   */
  fillReportBlock(nowMs: number, out: ReportBlock): ReportBlock {
    const expected = this.packetsExpected;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.receivedCount - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.receivedCount;
    const lostInterval = expectedInterval - receivedInterval;
    out.ssrc = this.ssrc;
    out.fractionLost = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
    out.cumulativeLost = Math.max(-0x800000, Math.min(0x7fffff, this.packetsLost));
    out.highestSeq = this.extendedHighestSeq;
    out.jitter = this.jitter >>> 0;
    if (this.lastSrArrivalMs < 0) {
      out.lsr = 0;
      out.dlsr = 0;
    } else {
      out.lsr = this.lastSrMiddle;
      out.dlsr = Math.floor(((nowMs - this.lastSrArrivalMs) * 65536) / 1000) >>> 0;
    }
    return out;
  }
}
