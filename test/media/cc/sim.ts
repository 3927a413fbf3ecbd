/**
 * A virtual-time bottleneck for the estimator tests: a sender paced at min(estimate, appMax) in
 * 1200-byte packets (plus probe padding), a FIFO link of `capacityBps` with a drop-tail queue
 * (`maxQueueMs`, like tc tbf's latency), random loss and a fixed propagation delay; the receiver's
 * arrivals go through the real TwccRecorder -> transport-cc bytes -> parser -> SendHistory -> GCC.
 */
import { FeedbackBatch, GccEstimator, SendHistory, TwccRecorder, type GccOptions } from '../../../src/media/cc/index.js';
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
      this.send(size);
      bytes -= size;
    }
  }

  private send(size: number): void {
    const cluster = this.gcc.probeCluster;
    const seq = this.history.onSent(this.now, size, cluster);
    if (cluster !== 0) this.gcc.onProbeSent(this.now, size);
    this.sentBytes += size;
    const start = Math.max(this.now, this.linkFreeAt);
    if (start - this.now > this.maxQueueMs) {
      this.dropped++;
      return;
    }
    this.linkFreeAt = start + (size * 8 * 1000) / this.capacityBps;
    if (this.rand() < this.lossRate) {
      this.dropped++;
      return;
    }
    const jitter = this.jitterMs > 0 ? this.rand() * this.jitterMs : 0;
    this.inFlight.push([this.linkFreeAt + this.propagationMs + jitter, seq, size]);
  }

  /** Advance `ms` of virtual time in 1 ms steps. */
  run(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 1;
      const t = this.now;
      if (this.probeUntil < 0) {
        const p = this.gcc.probeTarget(t, this.appMaxBps);
        if (p > 0) {
          this.probeBps = p;
          this.probeUntil = t + GccEstimator.PROBE_CLUSTER_MS;
        }
      } else if (t > this.probeUntil) this.probeUntil = -1;
      let rate: number;
      if (this.video !== undefined) {
        if (t >= this.nextFrameAt) {
          this.nextFrameAt += 1000 / this.video.fps;
          this.sendFrame();
        }
        // Probe padding on top of the video.
        rate = this.probeUntil >= 0 ? Math.max(0, this.probeBps - this.video.bps) : 0;
      } else rate = this.probeUntil >= 0 ? Math.max(this.probeBps, Math.min(this.gcc.estimateBps, this.appMaxBps)) : Math.min(this.gcc.estimateBps, this.appMaxBps);
      this.credit += rate / 8000;
      while (this.credit >= SIZE) {
        this.credit -= SIZE;
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
          this.gcc.onFeedback(this.batch, t);
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
