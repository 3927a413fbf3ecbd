/**
 * Per-outgoing-stream rewriter: maps whatever source feeds this stream (publisher SSRC, simulcast
 * layer, a new publisher after a switch, the same publisher after a pause) onto one outgoing
 * SSRC with continuous sequence numbers and timestamps, in place.
 *
 * Mapping: out_seq = (in_seq + seqOffset) mod 2^16, out_ts = (in_ts + tsOffset) mod 2^32.
 * Offsets are re-based when the source SSRC changes or switchSource() was called (packets still
 * arriving from the previous source within STRAGGLER_MS are then refused): the next
 * sequence number follows the last one sent, and the timestamp advances by the wall-clock time
 * elapsed since the last packet (at least one tick), so receivers' jitter buffers see no jump.
 */
import { rtpSeq, rtpSsrc, rtpTimestamp, setRtpSeq, setRtpSsrc, setRtpTimestamp } from './header.js';
import { seqDiff } from './seq.js';

/**
 * How long after a source change packets of the previous source count as stragglers (in flight or
 * reordered at the switch) and are dropped. Later, that source is simply switched back to: refusing
 * it for good froze a Streaming mountpoint for its viewers after one stray datagram with another
 * SSRC (the real sender's packets were all "stragglers" from then on).
 */
export const STRAGGLER_MS = 500;

export interface RtpRewriterOptions {
  /** Outgoing SSRC of this stream. */
  ssrc: number;
  /** RTP clock rate (90000 video, 48000 Opus). */
  clockRate: number;
  /** First outgoing sequence number (default random). */
  initialSeq?: number;
  /** First outgoing timestamp (default random). */
  initialTimestamp?: number;
}

export class RtpRewriter {
  readonly ssrc: number;
  readonly clockRate: number;
  private source = -1;
  private previous = -1;
  private rebase = true;
  private seqOffset = 0;
  private tsOffset = 0;
  /** Highest outgoing seq / its timestamp / when it was sent; -1 before the first packet. */
  private lastSeq = -1;
  private lastTs = 0;
  private lastMs = 0;
  /** When the source last changed (ms). */
  private switchedMs = 0;
  private readonly firstSeq: number;
  private readonly firstTs: number;

  constructor(opts: RtpRewriterOptions) {
    this.ssrc = opts.ssrc >>> 0;
    this.clockRate = opts.clockRate;
    this.firstSeq = (opts.initialSeq ?? Math.floor(Math.random() * 0x8000)) & 0xffff;
    this.firstTs = (opts.initialTimestamp ?? Math.floor(Math.random() * 0x100000000)) >>> 0;
  }

  /** The next packet re-bases the offsets even if it comes from the same SSRC (pause/resume, layer switch). */
  switchSource(): void {
    this.rebase = true;
  }

  /** Current source SSRC (-1 before the first packet). */
  get sourceSsrc(): number {
    return this.source;
  }

  /** Last outgoing sequence number (-1 before the first packet). */
  get lastSequence(): number {
    return this.lastSeq;
  }

  get lastTimestamp(): number {
    return this.lastTs;
  }

  /**
   * Rewrite SSRC, sequence number and timestamp in place. Returns false (packet must be dropped)
   * for a straggler from a previous source after a switch.
   */
  rewrite(buf: Uint8Array, nowMs: number): boolean {
    const inSsrc = rtpSsrc(buf);
    const inSeq = rtpSeq(buf);
    const inTs = rtpTimestamp(buf);
    if (inSsrc !== this.source || this.rebase) {
      // a straggler from the source we just switched away from is dropped, not re-based to
      if (inSsrc === this.previous && !this.rebase && nowMs - this.switchedMs < STRAGGLER_MS) return false;
      if (this.lastSeq < 0) {
        this.seqOffset = (this.firstSeq - inSeq) & 0xffff;
        this.tsOffset = (this.firstTs - inTs) >>> 0;
      } else {
        this.seqOffset = (this.lastSeq + 1 - inSeq) & 0xffff;
        const elapsed = Math.max(1, Math.round(((nowMs - this.lastMs) * this.clockRate) / 1000));
        this.tsOffset = (this.lastTs + elapsed - inTs) >>> 0;
      }
      if (inSsrc !== this.source) {
        this.previous = this.source;
        this.switchedMs = nowMs;
      }
      this.source = inSsrc;
      this.rebase = false;
      this.lastSeq = -2; // force "newer" below
    }
    const outSeq = (inSeq + this.seqOffset) & 0xffff;
    const outTs = (inTs + this.tsOffset) >>> 0;
    setRtpSsrc(buf, this.ssrc);
    setRtpSeq(buf, outSeq);
    setRtpTimestamp(buf, outTs);
    if (this.lastSeq === -2 || seqDiff(outSeq, this.lastSeq) > 0) {
      this.lastSeq = outSeq;
      this.lastTs = outTs;
      this.lastMs = nowMs;
    }
    return true;
  }

  /**
   * The caller decided not to forward this (not yet rewritten) packet, e.g. a dropped temporal
   * layer: if it is the newest of the source, later packets are shifted down so no gap appears.
   */
  drop(buf: Uint8Array): void {
    if (rtpSsrc(buf) !== this.source || this.rebase || this.lastSeq < 0) return;
    const outSeq = (rtpSeq(buf) + this.seqOffset) & 0xffff;
    if (seqDiff(outSeq, this.lastSeq) === 1) this.seqOffset = (this.seqOffset - 1) & 0xffff;
  }

  /** Map a source sequence number of the current source to the outgoing one. */
  outSeqFor(inSeq: number): number {
    return (inSeq + this.seqOffset) & 0xffff;
  }

  /** Map an outgoing sequence number back to the current source's (for NACK forwarding). */
  inSeqFor(outSeq: number): number {
    return (outSeq - this.seqOffset) & 0xffff;
  }
}
