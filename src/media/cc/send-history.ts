/**
 * The send side of transport-wide congestion control: hands out transport-wide sequence numbers for
 * every packet we send on a PeerConnection (media, retransmissions, probes) and remembers when and
 * how big each one was, so a transport-cc feedback can be turned into (send time, arrival time,
 * size) triples for the estimator. No allocation per packet.
 *
 * The ring is sized to the packet rate: it starts small and doubles when the packet it would
 * overwrite is younger than the feedback window (a feedback could still name it), up to MAX_RING;
 * the window itself follows how late the feedback actually comes.
 * A webinar subscriber at 30 packets/s keeps 128 entries (2 kB) instead of a fixed 8192 (128 kB);
 * a 2.5 Mbps simulcast sender with probes grows to a few thousand, a handful of times per session.
 */
import { TwccStatus, type TransportCcFeedback } from '../rtcp/twcc.js';

/** Entries at the start (16 bytes each). */
export const MIN_RING = 128;
/** Never more: a quarter of the 16-bit sequence space, the fixed size this ring used to have. */
export const MAX_RING = 8192;
/**
 * How long a sent packet stays matchable at first: the receiver's feedback interval (50-250 ms in
 * browsers) plus the round trip plus a lost feedback's successor, with margin for a stalled event loop
 * on either side (a 30 packets/s stream still fits the initial 128 entries).
 */
export const FEEDBACK_WINDOW_MS = 4000;
/**
 * The window follows the feedback's real lateness (twice the age of the oldest packet a feedback
 * named, or doubled when one named a packet the ring had dropped), up to this: a queue of seconds
 * on a congested path is exactly when the estimator needs the feedback.
 */
export const MAX_FEEDBACK_WINDOW_MS = 10_000;

/** One feedback matched against the history, in reused arrays (valid until the next match). */
export class FeedbackBatch {
  count = 0;
  /** Send time (ms, our clock). */
  sendMs = new Float64Array(32);
  /** Arrival time (ms, the receiver's clock), NaN when lost. */
  recvMs = new Float64Array(32);
  size = new Uint16Array(32);
  /** Probe cluster the packet belonged to, 0 for none. */
  cluster = new Uint16Array(32);

  ensure(n: number): void {
    if (this.sendMs.length >= n) return;
    let c = this.sendMs.length;
    while (c < n) c *= 2;
    this.sendMs = new Float64Array(c);
    this.recvMs = new Float64Array(c);
    this.size = new Uint16Array(c);
    this.cluster = new Uint16Array(c);
  }
}

export class SendHistory {
  private sendMs: Float64Array;
  private size: Uint16Array;
  private cluster: Uint16Array;
  /** Sequence number each slot holds (+1; 0 = empty), so stale slots are told apart. */
  private seqOf: Int32Array;
  private mask: number;
  private next: number;
  /** Feedbacks whose packets were all unknown (too old, or never ours). */
  unmatched = 0;
  /** Times the ring doubled (diagnostics, tests). */
  grown = 0;
  /** How long a packet must stay matchable (ms): the ring grows rather than drop a younger one. */
  windowMs = FEEDBACK_WINDOW_MS;
  /** Send time of the latest packet (the clock match() reads ages against). */
  private lastSentMs = 0;

  constructor(firstSeq = 0, initial = MIN_RING) {
    this.next = firstSeq & 0xffff;
    let n = MIN_RING;
    while (n < initial && n < MAX_RING) n *= 2;
    this.mask = n - 1;
    this.sendMs = new Float64Array(n);
    this.size = new Uint16Array(n);
    this.cluster = new Uint16Array(n);
    this.seqOf = new Int32Array(n);
  }

  /** Entries the ring holds now. */
  get capacity(): number {
    return this.mask + 1;
  }

  /** Take the next transport-wide sequence number for a packet of `size` bytes sent at `nowMs`. */
  onSent(nowMs: number, size: number, cluster = 0): number {
    const seq = this.next;
    this.next = (seq + 1) & 0xffff;
    let i = seq & this.mask;
    // The slot's packet is still within the feedback window: the ring is too small for this rate.
    if (this.seqOf[i] !== 0 && nowMs - this.sendMs[i]! < this.windowMs && this.mask < MAX_RING - 1) {
      this.grow();
      i = seq & this.mask;
    }
    this.seqOf[i] = seq + 1;
    this.sendMs[i] = nowMs;
    this.lastSentMs = nowMs;
    this.size[i] = size;
    this.cluster[i] = cluster;
    return seq;
  }

  /**
   * Doubles the ring, each remembered packet moved to its slot in the larger one. The ring held the
   * last `capacity` sequence numbers, which stay distinct modulo twice that: nothing collides.
   */
  private grow(): void {
    const n = (this.mask + 1) * 2;
    const mask = n - 1;
    const sendMs = new Float64Array(n);
    const size = new Uint16Array(n);
    const cluster = new Uint16Array(n);
    const seqOf = new Int32Array(n);
    for (let i = 0; i <= this.mask; i++) {
      const s = this.seqOf[i]!;
      if (s === 0) continue;
      const j = (s - 1) & mask;
      seqOf[j] = s;
      sendMs[j] = this.sendMs[i]!;
      size[j] = this.size[i]!;
      cluster[j] = this.cluster[i]!;
    }
    this.sendMs = sendMs;
    this.size = size;
    this.cluster = cluster;
    this.seqOf = seqOf;
    this.mask = mask;
    this.grown++;
  }

  /** Fill `out` with the packets the feedback describes that we still remember; returns the count. */
  match(fb: TransportCcFeedback, out: FeedbackBatch): number {
    out.ensure(fb.count);
    let n = 0;
    let t = fb.referenceTime * 64000;
    const mask = this.mask;
    let dropped = false;
    for (let k = 0; k < fb.count; k++) {
      const seq = (fb.baseSeq + k) & 0xffff;
      const s = fb.status[k]!;
      if (s !== TwccStatus.NotReceived) t += fb.deltaUs[k]!;
      const i = seq & mask;
      if (this.seqOf[i] !== seq + 1) {
        // Its slot holds a packet sent after it (within the last 16-bit half): we had it and dropped it.
        const held = this.seqOf[i]! - 1;
        if (held >= 0 && ((held - seq) & 0xffff) < 0x8000) dropped = true;
        continue;
      }
      out.sendMs[n] = this.sendMs[i]!;
      out.recvMs[n] = s === TwccStatus.NotReceived ? NaN : t / 1000;
      out.size[n] = this.size[i]!;
      out.cluster[n] = this.cluster[i]!;
      n++;
    }
    out.count = n;
    if (n === 0 && fb.count > 0) this.unmatched++;
    // Feedback later than the window: keep packets longer from now on (the ring grows as they come).
    const late = dropped ? this.windowMs * 2 : n > 0 ? 2 * (this.lastSentMs - out.sendMs[0]!) : 0;
    if (late > this.windowMs) this.windowMs = Math.min(MAX_FEEDBACK_WINDOW_MS, late);
    return n;
  }
}
