/**
 * The pacer of one PeerConnection's outgoing media: decides when each packet Portunus relays to a
 * subscriber leaves, so that a publisher's keyframe (often ten times an average frame, relayed in
 * the same millisecond it arrived) does not hit the subscriber's bottleneck at wire speed.
 *
 * Why: forwarded unpaced, a keyframe on a nearly full link builds a queue at the bottleneck that
 * the send-side estimator (gcc.ts) reads as over-use: the estimate falls to 0.85x of what got
 * through and auto_layers steps the subscriber down, although the link carries the stream fine
 * on average. Paced, the burst waits here, where the estimator does not see it (a packet's send
 * time is when it leaves the pacer) and where audio can overtake it.
 *
 * Two leaky buckets, in the spirit of libwebrtc's pacer and of tc tbf's peak rate:
 * - peak: packets leave at most at `factor` x the base rate (2.5x, libwebrtc's pacing factor), so
 *   an ordinary frame goes out in a few ms;
 * - sustained: beyond `burstMs` worth of bytes ahead of the base rate, the rest of a burst leaves
 *   at the base rate itself, so the link never sees more than the estimate for longer than that;
 *   only while the estimator knows the link's limit is near (GccEstimator.nearLimit): on a fat
 *   link, where the estimate is merely 1.5x what was sent, it would delay keyframes for nothing.
 * The base rate is max(estimate, 1.25x what comes in): the pacer smooths bursts, it never throttles the
 * average (the plugin's layer choice does that), so a subscriber without auto_layers gets what
 * Janus would send, only spread. A queue that would take longer than `drainMs` raises the rate.
 *
 * Priorities: audio is never queued (it leaves at once and only counts against the budget); then
 * video, then retransmissions (RTX), then probe padding (only from an empty queue). Queues are rings
 * of preallocated slots holding references to buffers the caller already owns (its send pool), so
 * nothing is allocated per packet. Bounded: a full ring, or video waiting longer than
 * `maxDelayMs` (stale: the receiver has given up on it), drops the oldest video packet and hands its
 * buffer back (poll() returns PACER_DROP); audio is never dropped.
 *
 * Batches: each bucket lets `batchMs` worth of its rate through at once, and nextSendAt() is when
 * that much has leaked again, so one wake-up of the caller's timer sends a few ms of packets
 * (libwebrtc's pacer runs every 5 ms), not one packet. Paced one by one, every packet that waited
 * cost an event-loop turn and a timer: 45 % more server CPU per echoed packet than unpaced
 * (bench/echo.ts --twcc). A frame that fits in a batch leaves at once, unqueued.
 *
 * Sans-IO: time (ms) in, "send this now" out; the caller keeps one timer per PeerConnection at
 * nextSendAt().
 */

/** Packet classes, in priority order. */
export const PACE_AUDIO = 0;
export const PACE_VIDEO = 1;
export const PACE_RTX = 2;

/** poll() results. */
export const PACER_IDLE = 0;
export const PACER_SEND = 1;
export const PACER_DROP = 2;

export interface PacerOptions {
  /** Peak rate as a multiple of the base rate (default 2.5). */
  factor?: number;
  /**
   * Bytes a burst may run ahead of the base rate, in ms of it (default 10; in the simulator 40 let
   * a keyframe's head build enough queue at a nearly full link to read as over-use).
   */
  burstMs?: number;
  /** The queue is drained within this long at most: the rate is raised to make it so (default 500). */
  drainMs?: number;
  /** Video (and retransmissions) queued longer than this are dropped (default 1000). */
  maxDelayMs?: number;
  /** Slots per queue, a power of two (default 512). */
  capacity?: number;
  /** Lowest base rate (bps, default 100 kbit/s). */
  minRateBps?: number;
  /** What one wake-up may send, in ms of each bucket's rate (default 5; 0: one packet at a time). */
  batchMs?: number;
}

/** A FIFO of packet references in preallocated slots. */
class SlotRing {
  readonly bufs: Array<Buffer | null>;
  readonly lens: Uint16Array;
  readonly at: Float64Array;
  readonly flags: Uint8Array;
  head = 0;
  count = 0;
  bytes = 0;
  private readonly mask: number;

  constructor(capacity: number) {
    this.bufs = new Array<Buffer | null>(capacity).fill(null);
    this.lens = new Uint16Array(capacity);
    this.at = new Float64Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.mask = capacity - 1;
  }

  get full(): boolean {
    return this.count === this.bufs.length;
  }

  push(buf: Buffer, len: number, now: number, flags: number): void {
    const i = (this.head + this.count) & this.mask;
    this.bufs[i] = buf;
    this.lens[i] = len;
    this.at[i] = now;
    this.flags[i] = flags;
    this.count++;
    this.bytes += len;
  }

  /** Index of the oldest slot (count > 0). */
  get first(): number {
    return this.head;
  }

  shift(): void {
    const i = this.head;
    this.bytes -= this.lens[i]!;
    this.bufs[i] = null;
    this.head = (i + 1) & this.mask;
    this.count--;
  }
}

export class Pacer {
  readonly factor: number;
  private readonly burstMs: number;
  private readonly drainMs: number;
  private readonly maxDelayMs: number;
  private readonly minRateBps: number;
  private readonly batchMs: number;
  private readonly video: SlotRing;
  private readonly rtx: SlotRing;

  /** The estimate it paces by (bps, 0: none yet). */
  private estimateBps = 0;
  /** Incoming bytes per 1 s window; the rate of the last two complete windows. */
  private inBytes = 0;
  private inWindowAt = NaN;
  private inRate0 = 0;
  private inRate1 = 0;
  /** Base rate (bps) in effect, 0 while nothing to pace by (everything passes). */
  baseBps = 0;

  // buckets: bytes still to leak, as of `leakAt`
  private peakDebt = 0;
  private level = 0;
  private leakAt = NaN;

  /** What the last poll() returned: the packet to send (or to release, on PACER_DROP). */
  buf: Buffer | null = null;
  len = 0;
  kind = PACE_VIDEO;
  /** When the packet was handed in (ms), and the caller's flags. */
  queuedAt = 0;
  flags = 0;

  // counters (stats, tests)
  sent = 0;
  queued = 0;
  dropped = 0;
  /** Longest time a packet waited (ms) since the last resetMaxWait(). */
  maxWaitMs = 0;
  /** Longest wait since the last takeRecentWait() (ms). */
  private recentWaitMs = 0;

  constructor(opts: PacerOptions = {}) {
    this.factor = opts.factor ?? 2.5;
    this.burstMs = opts.burstMs ?? 10;
    this.drainMs = opts.drainMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 1000;
    this.minRateBps = opts.minRateBps ?? 100_000;
    this.batchMs = Math.max(0, opts.batchMs ?? 5);
    let cap = 16;
    while (cap < (opts.capacity ?? 512)) cap *= 2;
    this.video = new SlotRing(cap);
    this.rtx = new SlotRing(cap);
  }

  /**
   * The send-side estimate (bps; 0 when there is none yet: nothing is held). `nearLimit`: the
   * estimator knows the link's limit is near (GccEstimator.nearLimit); only then are bursts held to
   * the base rate beyond `burstMs`. Far from it (a fat link, an estimate that is only 1.5x what was
   * sent) that would delay every keyframe for nothing: the peak rate alone spreads them.
   */
  setEstimate(bps: number, now: number, nearLimit = true): void {
    this.leak(now);
    this.estimateBps = bps > 0 ? bps : 0;
    this.sustained = nearLimit;
    this.updateBase();
  }

  /** Whether the sustained bucket applies (see setEstimate). */
  private sustained = true;

  get queuedPackets(): number {
    return this.video.count + this.rtx.count;
  }

  get queuedBytes(): number {
    return this.video.bytes + this.rtx.bytes;
  }

  /** Peak rate in effect (bps), 0 when not pacing. */
  get rateBps(): number {
    return this.baseBps * this.factor;
  }

  /**
   * A packet of `kind` and `len` bytes wants to leave now. True: send it now (it was counted);
   * false: it must be queued with enqueue(). Audio always goes; video and retransmissions go when
   * nothing of theirs or higher priority waits and the buckets allow.
   */
  trySend(kind: number, len: number, now: number): boolean {
    this.countIn(len, now);
    this.leak(now);
    if (kind !== PACE_AUDIO) {
      // Never ahead of what waits (same or higher priority): that would reorder the stream.
      if (this.video.count > 0 || (kind === PACE_RTX && this.rtx.count > 0)) return false;
      if (this.baseBps > 0 && !this.allows()) return false;
    }
    this.account(len);
    this.sent++;
    return true;
  }

  /**
   * Queue a video packet or retransmission (after trySend said no; audio is never queued). The
   * pacer keeps the reference until poll() hands it back. Returns null, or a buffer the caller must
   * release now: the oldest of that queue, dropped to make room.
   */
  enqueue(kind: number, buf: Buffer, len: number, now: number, flags = 0): Buffer | null {
    const ring = kind === PACE_RTX ? this.rtx : this.video;
    let out: Buffer | null = null;
    if (ring.full) {
      const i = ring.first;
      out = ring.bufs[i]!;
      ring.shift();
      this.dropped++;
    }
    ring.push(buf, len, now, flags);
    this.queued++;
    return out;
  }

  /**
   * What to do now: PACER_SEND (send `buf`/`len`, then poll again), PACER_DROP (release `buf`, a
   * stale packet, then poll again) or PACER_IDLE (nothing more until nextSendAt()).
   */
  poll(now: number): number {
    this.buf = null;
    this.leak(now);
    // Stale first: nobody waits for them any more, they only delay the rest.
    if (this.dropStale(this.video, now) || this.dropStale(this.rtx, now)) return PACER_DROP;
    const ring = this.video.count > 0 ? this.video : this.rtx.count > 0 ? this.rtx : null;
    if (ring === null || (this.baseBps > 0 && !this.allows())) return PACER_IDLE;
    this.take(ring, ring === this.video ? PACE_VIDEO : PACE_RTX);
    const wait = now - this.queuedAt;
    if (wait > this.maxWaitMs) this.maxWaitMs = wait;
    if (wait > this.recentWaitMs) this.recentWaitMs = wait;
    this.account(this.len);
    this.sent++;
    return PACER_SEND;
  }

  /**
   * Probe padding of `len` bytes left (the caller sends probes only while nothing is queued). It
   * counts against the peak bucket only: a probe cluster runs above the estimate on purpose, and
   * charging it to the sustained bucket would hold the media that follows it.
   */
  onPadding(len: number, now: number): void {
    this.leak(now);
    this.peakDebt += len;
  }

  /** When poll() has something to do next (ms, same clock), Infinity when the queues are empty. */
  nextSendAt(now: number): number {
    if (this.queuedPackets === 0) return Infinity;
    if (this.baseBps <= 0) return now;
    this.leak(now);
    const base = this.drainBase();
    const peak = base * this.factor;
    // Wake when a whole batch has leaked from each bucket (allows() then lets it through).
    const sustainedAt = this.sustained ? this.sustainedAllowance(base) - (base * this.batchMs) / 8000 : Infinity;
    const a = this.peakDebt > 0 ? (this.peakDebt * 8000) / peak : 0;
    const b = this.level > sustainedAt ? ((this.level - sustainedAt) * 8000) / base : 0;
    let t = now + Math.max(a, b);
    // A stale packet is due for dropping at its deadline.
    if (this.video.count > 0) t = Math.min(t, this.video.at[this.video.first]! + this.maxDelayMs);
    return t;
  }

  /** Hand back every queued buffer (closing): call poll-like take until empty. Returns null when empty. */
  drain(): Buffer | null {
    const ring = this.video.count > 0 ? this.video : this.rtx.count > 0 ? this.rtx : null;
    if (ring === null) return null;
    const b = ring.bufs[ring.first]!;
    ring.shift();
    return b;
  }

  resetMaxWait(): void {
    this.maxWaitMs = 0;
  }

  /**
   * The longest a packet waited since the last call, or the oldest queued one waits now (ms), and
   * start over: how far behind the link the pacer runs (auto_layers steps down on it).
   */
  takeRecentWait(now: number): number {
    let w = this.recentWaitMs;
    this.recentWaitMs = 0;
    if (this.video.count > 0) w = Math.max(w, now - this.video.at[this.video.first]!);
    if (this.rtx.count > 0) w = Math.max(w, now - this.rtx.at[this.rtx.first]!);
    return w;
  }

  // ------------------------------------------------------------------------------------ internals

  private take(ring: SlotRing, kind: number): void {
    const i = ring.first;
    this.buf = ring.bufs[i]!;
    this.len = ring.lens[i]!;
    this.queuedAt = ring.at[i]!;
    this.flags = ring.flags[i]!;
    this.kind = kind;
    ring.shift();
  }

  private dropStale(ring: SlotRing, now: number): boolean {
    if (ring.count === 0 || now - ring.at[ring.first]! <= this.maxDelayMs) return false;
    this.take(ring, ring === this.video ? PACE_VIDEO : PACE_RTX);
    this.dropped++;
    return true;
  }

  /** Both buckets have room: the peak one within a batch, the sustained one within its burst (at least a batch). */
  private allows(): boolean {
    const base = this.drainBase();
    // A byte of slack: the leak is floating-point, and a timer set for "empty" must find it empty.
    return this.peakDebt <= (base * this.factor * this.batchMs) / 8000 + 1 && (!this.sustained || this.level <= this.sustainedAllowance(base) + 1);
  }

  /** Bytes the sustained bucket may hold: the burst allowance, and never less than one batch. */
  private sustainedAllowance(base: number): number {
    const burst = (base * this.burstMs) / 8000;
    const batch = (base * this.batchMs) / 8000;
    return burst > batch ? burst : batch;
  }

  private account(len: number): void {
    this.peakDebt += len;
    this.level += len;
  }

  /**
   * The base rate, raised so that what is queued leaves within drainMs of the oldest packet's
   * arrival (the time left shrinks as it waits, so the rate rises until the queue is gone).
   */
  private drainBase(): number {
    const bytes = this.video.bytes + this.rtx.bytes;
    if (bytes === 0) return this.baseBps;
    let oldest = Infinity;
    if (this.video.count > 0) oldest = this.video.at[this.video.first]!;
    if (this.rtx.count > 0) oldest = Math.min(oldest, this.rtx.at[this.rtx.first]!);
    const left = Math.max(10, this.drainMs - (this.leakAt - oldest));
    const q = (bytes * 8000) / left;
    return q > this.baseBps ? q : this.baseBps;
  }

  private leak(now: number): void {
    if (this.leakAt !== this.leakAt) {
      this.leakAt = now;
      return;
    }
    const dt = now - this.leakAt;
    if (dt <= 0) return;
    this.leakAt = now;
    if (this.baseBps <= 0) {
      this.peakDebt = this.level = 0;
      return;
    }
    const base = this.drainBase();
    this.peakDebt = Math.max(0, this.peakDebt - (dt * base * this.factor) / 8000);
    this.level = Math.max(0, this.level - (dt * base) / 8000);
  }

  /** Incoming rate over 1 s windows (every class: audio and retransmissions use the link too). */
  private countIn(len: number, now: number): void {
    if (this.inWindowAt !== this.inWindowAt) this.inWindowAt = now;
    const dt = now - this.inWindowAt;
    if (dt >= 1000) {
      this.inRate0 = this.inRate1;
      this.inRate1 = (this.inBytes * 8000) / dt;
      this.inBytes = 0;
      this.inWindowAt = now;
      this.updateBase();
    }
    this.inBytes += len;
  }

  /**
   * max(estimate, 1.25x what comes in): the lower of the last two 1 s windows stands for what comes in,
   * so a keyframe (in one window) does not raise the rate meant to spread it. No estimate yet: 0,
   * no pacing (the pacer spreads by what the link takes, not by a guess).
   */
  private updateBase(): void {
    if (this.estimateBps <= 0) {
      this.baseBps = 0;
      return;
    }
    const inRate = this.inRate0 > 0 && this.inRate1 > 0 ? Math.min(this.inRate0, this.inRate1) : 0;
    // A quarter above what comes in, so that a backlog drains instead of standing.
    this.baseBps = Math.max(this.estimateBps, inRate * 1.25, this.minRateBps);
  }
}
