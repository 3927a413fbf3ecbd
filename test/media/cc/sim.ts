/**
 * A virtual-time bottleneck for the estimator tests: a sender paced at min(estimate, appMax) in
 * 1200-byte packets (plus probe padding), a FIFO link of `capacityBps` with a drop-tail queue
 * (`maxQueueMs`) or, with `bucket`, a token bucket of that rate as tc tbf shapes (a full bucket lets
 * `burstBytes` through at once, then packets wait for tokens; the queue holds rate x latency + burst
 * bytes, tbf's `limit`), random loss and a fixed propagation delay; the receiver's arrivals go through
 * the real TwccRecorder -> transport-cc bytes -> parser -> SendHistory -> GCC.
 */
import { FeedbackBatch, GccEstimator, Pacer, PACE_VIDEO, PACER_SEND, PACER_IDLE, SendHistory, TwccRecorder, type GccOptions, type PacerOptions } from '../../../src/media/cc/index.js';
import { parseTransportCc, TransportCcFeedback } from '../../../src/media/rtcp/index.js';
import { prng } from '../../helpers/prng.js';

export interface SimOptions extends GccOptions {
  capacityBps?: number;
  lossRate?: number;
  propagationMs?: number;
  maxQueueMs?: number;
  appMaxBps?: number;
  feedbackMs?: number;
  /** Extra random delay per packet (ms, uniform), which reorders packets. */
  jitterMs?: number;
  seed?: number;
  /**
   * Forwarded video instead of a sender paced at the estimate: frames of `bps / fps` bytes (a
   * keyframe every `keyframeMs`, `keyframeFactor` times bigger), each frame's packets sent
   * back-to-back in the same millisecond, as an SFU relays them; the rate does not follow the estimate.
   */
  video?: { bps: number; fps: number; keyframeMs?: number; keyframeFactor?: number };
  /** tc tbf instead of the FIFO: `rate capacityBps burst burstBytes latency latencyMs` (default 100). */
  bucket?: { burstBytes: number; latencyMs?: number };
  /**
   * Forwarded video through the real Pacer (as the Peer paces towards a subscriber): frames are
   * handed to it and leave when it says; send times are when they leave; probes only from an empty queue.
   */
  pacer?: PacerOptions;
  /**
   * No padding to probe with (a peer without RTX, as the EchoTest bench's clients): the estimator
   * still starts clusters, as the session does, but nothing is sent for them.
   */
  noPadding?: boolean;
}

const SIZE = 1200;

export class LinkSim {
  readonly gcc: GccEstimator;
  private readonly history = new SendHistory(1000);
  private readonly recorder = new TwccRecorder();
  private readonly fb = new TransportCcFeedback();
  private readonly batch = new FeedbackBatch();
  private readonly out = Buffer.alloc(1500);
  capacityBps: number;
  lossRate: number;
  jitterMs: number;
  appMaxBps: number;
  private readonly propagationMs: number;
  private readonly maxQueueMs: number;
  private readonly feedbackMs: number;
  private readonly rand: () => number;
  now = 0;
  private credit = 0;
  private linkFreeAt = 0;
  private nextFeedback = 0;
  /** Arrivals waiting in flight: [arrivalMs, seq, size]. */
  private inFlight: Array<[number, number, number]> = [];
  private probeUntil = -1;
  private probeBps = 0;
  video: SimOptions['video'];
  private nextFrameAt = 0;
  private nextKeyAt = 0;
  sentBytes = 0;
  deliveredBytes = 0;
  dropped = 0;
  /** What each evaluated probe cluster measured (kbit/s), in order. */
  readonly probeReadings: number[] = [];
  private readonly bucket: SimOptions['bucket'];
  private tokens = 0;
  private tokensAt = 0;
  /** Packets in the token bucket's queue: [departureMs, size]. */
  private readonly tbfQueue: Array<[number, number]> = [];
  private tbfBacklog = 0;
  readonly pacer: Pacer | null;
  private readonly token = Buffer.alloc(4);
  private readonly noPadding: boolean;

  constructor(o: SimOptions = {}) {
    this.gcc = new GccEstimator(o);
    this.capacityBps = o.capacityBps ?? 1_000_000;
    this.lossRate = o.lossRate ?? 0;
    this.jitterMs = o.jitterMs ?? 0;
    this.propagationMs = o.propagationMs ?? 20;
    this.maxQueueMs = o.maxQueueMs ?? 300;
    this.appMaxBps = o.appMaxBps ?? 2_500_000;
    this.feedbackMs = o.feedbackMs ?? 100;
    this.rand = prng(o.seed ?? 7);
    this.gcc.rttMs = 2 * this.propagationMs;
    this.video = o.video;
    this.bucket = o.bucket;
    this.tokens = o.bucket?.burstBytes ?? 0;
    this.pacer = o.pacer !== undefined ? new Pacer(o.pacer) : null;
    this.noPadding = o.noPadding ?? false;
  }

  /** A video packet from the publisher: through the pacer when there is one. */
  private offer(size: number): void {
    const p = this.pacer;
    if (p === null || p.trySend(PACE_VIDEO, size, this.now)) this.send(size);
    else p.enqueue(PACE_VIDEO, this.token, size, this.now);
  }

  private servePacer(): void {
    const p = this.pacer!;
    p.setEstimate(this.gcc.trusted ? this.gcc.estimateBps : 0, this.now, this.gcc.nearLimit);
    if (p.nextSendAt(this.now) > this.now) return;
    for (let r = p.poll(this.now); r !== PACER_IDLE; r = p.poll(this.now)) {
      if (r === PACER_SEND) this.send(p.len);
      else this.pacerDropped++;
    }
  }
  pacerDropped = 0;

  /** When a packet entering the token bucket now leaves it, or -1 when the queue is full. */
  private tbfDeparture(size: number): number {
    const b = this.bucket!;
    while (this.tbfQueue.length > 0 && this.tbfQueue[0]![0] <= this.now) this.tbfBacklog -= this.tbfQueue.shift()![1];
    const limit = (this.capacityBps * (b.latencyMs ?? 100)) / 8000 + b.burstBytes;
    if (this.tbfBacklog + size > limit) return -1;
    // FIFO: not before the packet ahead left, and only once the bucket holds its size.
    let at = Math.max(this.now, this.tokensAt);
    let tokens = Math.min(b.burstBytes, this.tokens + ((at - this.tokensAt) * this.capacityBps) / 8000);
    if (tokens < size) {
      at += ((size - tokens) * 8000) / this.capacityBps;
      tokens = size;
    }
    this.tokens = tokens - size;
    this.tokensAt = at;
    this.tbfQueue.push([at, size]);
    this.tbfBacklog += size;
    return at;
  }

  /** One frame's packets, back-to-back (the last one shorter). */
  private sendFrame(): void {
    const v = this.video!;
    let bytes = v.bps / 8 / v.fps;
    if (this.now >= this.nextKeyAt) {
      bytes *= v.keyframeFactor ?? 10;
      this.nextKeyAt = this.now + (v.keyframeMs ?? 3000);
    }
    while (bytes > 0) {
      const size = Math.max(100, Math.min(SIZE, Math.round(bytes)));
      this.offer(size);
      bytes -= size;
    }
  }

  private send(size: number): void {
    // As the session does: only what goes out while the cluster is being sent belongs to it.
    const cluster = this.probeUntil >= 0 ? this.gcc.probeCluster : 0;
    const seq = this.history.onSent(this.now, size, cluster);
    if (cluster !== 0) this.gcc.onProbeSent(this.now, size);
    this.sentBytes += size;
    let leaves: number;
    if (this.bucket !== undefined) {
      leaves = this.tbfDeparture(size);
      if (leaves < 0) {
        this.dropped++;
        return;
      }
    } else {
      const start = Math.max(this.now, this.linkFreeAt);
      if (start - this.now > this.maxQueueMs) {
        this.dropped++;
        return;
      }
      leaves = this.linkFreeAt = start + (size * 8 * 1000) / this.capacityBps;
    }
    if (this.rand() < this.lossRate) {
      this.dropped++;
      return;
    }
    const jitter = this.jitterMs > 0 ? this.rand() * this.jitterMs : 0;
    this.inFlight.push([leaves + this.propagationMs + jitter, seq, size]);
  }

  /** Advance `ms` of virtual time in 1 ms steps. */
  run(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 1;
      const t = this.now;
      if (this.probeUntil < 0) {
        const p = this.gcc.probeTarget(t, this.appMaxBps);
        if (p > 0 && !this.noPadding) {
          this.probeBps = p;
          this.probeUntil = t + this.gcc.probeDurationMs;
        }
      } else if (t > this.probeUntil || !this.gcc.probeSending) this.probeUntil = -1;
      let rate: number;
      if (this.video !== undefined) {
        if (t >= this.nextFrameAt) {
          this.nextFrameAt += 1000 / this.video.fps;
          this.sendFrame();
        }
        // Probe padding on top of the video, at least half the probe's rate (as the session pads).
        rate = this.probeUntil >= 0 ? Math.max(this.probeBps / 2, this.probeBps - this.video.bps) : 0;
      } else rate = this.probeUntil >= 0 ? Math.max(this.probeBps, Math.min(this.gcc.estimateBps, this.appMaxBps)) : Math.min(this.gcc.estimateBps, this.appMaxBps);
      if (this.pacer !== null) this.servePacer();
      this.credit += rate / 8000;
      while (this.credit >= SIZE) {
        if (this.pacer !== null && this.pacer.queuedPackets > 0) {
          // Padding waits for the media (the Peer sends probes only from an empty pacer).
          this.credit = Math.min(this.credit, SIZE);
          break;
        }
        this.credit -= SIZE;
        this.pacer?.onPadding(SIZE, t);
        this.send(SIZE);
      }
      if (this.inFlight.length > 0) {
        this.inFlight.sort((a, b) => a[0] - b[0]);
        let k = 0;
        while (k < this.inFlight.length && this.inFlight[k]![0] <= t) {
          this.recorder.record(this.inFlight[k]![1], this.inFlight[k]![0]);
          this.deliveredBytes += this.inFlight[k]![2];
          k++;
        }
        if (k > 0) this.inFlight.splice(0, k);
      }
      if (t >= this.nextFeedback) {
        this.nextFeedback = t + this.feedbackMs;
        let n: number;
        // Feedback travels back after the propagation delay; modelled as immediate plus the rtt in gcc.rttMs.
        while ((n = this.recorder.writeFeedback(this.out, 0, 1200, 1, 2)) > 0) {
          if (!parseTransportCc(this.out, 0, n, this.fb)) throw new Error('unparseable feedback');
          this.history.match(this.fb, this.batch);
          const measured = this.gcc.probesMeasured;
          this.gcc.onFeedback(this.batch, t);
          if (this.gcc.probesMeasured !== measured) this.probeReadings.push(Math.round(this.gcc.lastProbeBps / 1000));
        }
      }
    }
  }

  /** Run and sample the estimate every `stepMs`; returns the samples. */
  trace(ms: number, stepMs = 500): number[] {
    const out: number[] = [];
    for (let t = 0; t < ms; t += stepMs) {
      this.run(stepMs);
      out.push(Math.round(this.gcc.estimateBps / 1000));
    }
    return out;
  }
}
