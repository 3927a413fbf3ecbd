/**
 * Send-side bandwidth estimation for one PeerConnection from transport-cc feedback, in the spirit of
 * Google Congestion Control as described in draft-ietf-rmcat-gcc-02:
 *
 * - Delay-based controller (§5): packets are grouped into 5 ms send bursts (§5.2); each group's
 *   inter-group delay variation d(i) = (t(i) - t(i-1)) - (T(i) - T(i-1)) feeds the arrival-time
 *   filter. Where the draft uses a Kalman filter (§5.3) we use the trend-line filter that replaced it
 *   in libwebrtc: the least-squares slope of the smoothed accumulated delay over the last 20 groups,
 *   scaled by the number of deltas seen. The over-use detector compares it with the draft's adaptive
 *   threshold (§5.4: K_u = 0.01, K_d = 0.00018, clamped to [6, 600]); the rate controller is the
 *   draft's Increase / Hold / Decrease state machine (§5.5): multiplicative increase (8 %/s) far
 *   from the last congestion point, additive near it, decrease to beta = 0.85 of the received rate;
 *   the estimate never runs more than 1.5x ahead of what the receiver actually got (§5.6).
 * - Loss-based controller (§6): above 10 % loss As = As(1 - 0.5p); below 2 % it grows 5 %/s.
 * - The estimate is min(delay-based, loss-based) within [minBps, maxBps].
 * - Probing (not in the draft; as libwebrtc does): without it the 1.5x cap keeps an estimate near
 *   what the application sends, so after a dip (or when only a low simulcast layer is forwarded) it
 *   could never climb back. Every few seconds, unless the link is congested, the caller sends a
 *   probe cluster at twice the estimate (padding / duplicate packets), sized in bytes; when its
 *   tail arrives as fast as it was sent the estimate jumps to what was measured (the tail, because
 *   a token bucket passes its burst at any rate: see evaluateProbe).
 *
 * Sans-IO: feed matched feedback with onFeedback(batch, now); read estimateBps; ask probeTarget(now).
 * No allocation per call.
 */
import type { FeedbackBatch } from './send-history.js';

export type BandwidthUsage = 'normal' | 'overuse' | 'underuse';
type RateState = 'hold' | 'increase' | 'decrease';

export interface GccOptions {
  startBps?: number;
  minBps?: number;
  maxBps?: number;
  /** Seconds between probes while the link looks free (default 4). */
  probeIntervalS?: number;
}

const BURST_MS = 5;
const WINDOW = 20;
const SMOOTHING = 0.9;
const TREND_GAIN = 4;
const K_UP = 0.01;
const K_DOWN = 0.00018;
const OVERUSE_TIME_MS = 10;
const BETA = 0.85;
const ACKED_WINDOW_MS = 500;
const PROBE_CLUSTER_MS = 100;
const PROBE_MIN_PACKETS = 5;
/**
 * Fewest bytes in a probe cluster. Sent at twice a token bucket's rate, a full bucket's burst b is
 * spent once 2b went out (tc's common 10 kB burst: 20.5 kB), within the cluster's first
 * PROBE_TAIL_FROM; the rest queues behind it and arrives at the bucket's rate.
 */
const PROBE_MIN_BYTES = 30_000;
const PROBE_MAX_MS = 1000;
/** The receive rate is judged on packets sent after this fraction of the cluster. */
const PROBE_TAIL_FROM = 0.7;
/**
 * A cluster packet whose one-way delay exceeds the cluster's lowest by this much found a queue at the
 * bottleneck; queued packets leave it back to back, so their arrival rate is the bottleneck's rate.
 */
const PROBE_QUEUED_MS = 15;
/** Once the feedback shows this much queue, the rest of the cluster would only add to it: stop. */
const PROBE_STOP_QUEUE_MS = 60;
/** How long after its end a cluster's feedback is waited for. */
const PROBE_FEEDBACK_WAIT_MS = 1000;
const TRUST_AFTER_MS = 3000;
/** A probe that raised the estimate by more than this factor is checked by another cluster after PROBE_RECHECK_MS. */
const PROBE_RECHECK_ABOVE = 1.1;
const PROBE_RECHECK_MS = 1000;
/** A recheck's rate may exceed what is wanted up to this much over the estimate it checks. */
const RECHECK_OVER_CEILING = 1.5;
/** A saturated probe lowers the estimate only this soon after the link last pushed back. */
const LOWER_AFTER_CONGESTION_MS = 10_000;

export class GccEstimator {
  readonly minBps: number;
  readonly maxBps: number;
  private readonly probeIntervalMs: number;

  /** Delay-based estimate A_hat (bps). */
  delayBps: number;
  /** Loss-based estimate As (bps). */
  lossBps: number;
  usage: BandwidthUsage = 'normal';
  state: RateState = 'increase';
  /** Received (acked) bitrate over the last second, 0 while unknown. */
  ackedBps = 0;
  /** Loss fraction of the last loss-controller update. */
  lossFraction = 0;
  rttMs = 100;

  // trend-line filter
  private groupFirstSend = NaN;
  private groupLastSend = NaN;
  private groupLastRecv = NaN;
  private prevSend = NaN;
  private prevRecv = NaN;
  private firstRecv = NaN;
  private accDelay = 0;
  private smoothed = 0;
  private readonly winX = new Float64Array(WINDOW);
  private readonly winY = new Float64Array(WINDOW);
  private winN = 0;
  private winHead = 0;
  private numDeltas = 0;
  private prevTrend = 0;
  /** Last modified trend (ms), for diagnostics and tests. */
  trend = 0;
  threshold = 12.5;
  private lastThresholdUpdate = NaN;
  private overuseMs = 0;
  private overuseCount = 0;
  private lastGroupRecv = NaN;

  // rate control
  private lastUpdate = NaN;
  private avgMaxKbps = -1;
  private varMaxKbps = 0.4;
  private lastOveruseMs = -Infinity;

  // acked rate: ring of (now, bytes)
  private readonly ackT = new Float64Array(64);
  private readonly ackB = new Float64Array(64);
  private ackHead = 0;
  private ackN = 0;

  // loss
  private lossLost = 0;
  private lossTotal = 0;
  private lastLossUpdate = NaN;
  private lastLossDecrease = -Infinity;

  // probing: the running cluster (id, plan) and what came back of it
  private nextProbeAt: number;
  private clusterId = 0;
  private clusterTarget = 0;
  private clusterDurationMs = PROBE_CLUSTER_MS;
  private clusterEndAt = NaN;
  private clusterFirstSend = NaN;
  private clusterLastSend = NaN;
  private clusterSendBytes = 0;
  private clusterLastSize = 0;
  private clusterSent = 0;
  private clusterLost = 0;
  private readonly whole = new ArrivalSpan();
  private readonly tail = new ArrivalSpan();
  private readonly queued = new ArrivalSpan();
  private clusterMinDelay = Infinity;
  private clusterMaxQueue = 0;
  private clusterStopped = false;
  /** When a probe last read a full link (evaluateProbe). */
  private lastSaturatedMs = -Infinity;
  /** The next cluster checks a jump the last one made (see evaluateProbe). */
  private recheck = false;
  /**
   * Whether the estimate rests on a measurement yet: a probe cluster was evaluated, the link pushed
   * back (over-use or loss), or TRUST_AFTER_MS of feedback passed. Before that it is the start
   * value creeping up, and a layer chooser acting on it would step a subscriber down on any link.
   */
  trusted = false;
  private firstFeedbackAt = NaN;
  /** Probes run and those that raised the estimate (diagnostics, tests). */
  probes = 0;
  probesUp = 0;
  /** Saturated probes that lowered an estimate above what they read. */
  probesDown = 0;
  /** Over-use detections that lowered the delay-based estimate (diagnostics, tests). */
  overuses = 0;
  /** Probe clusters that were measured (lastProbeBps holds the latest), and stopped early on a queue. */
  probesMeasured = 0;
  probesStopped = 0;
  lastProbeBps = 0;

  constructor(opts: GccOptions = {}) {
    this.minBps = opts.minBps ?? 30_000;
    this.maxBps = opts.maxBps ?? 3_000_000;
    const start = Math.min(this.maxBps, Math.max(this.minBps, opts.startBps ?? 500_000));
    this.delayBps = start;
    this.lossBps = start;
    this.probeIntervalMs = (opts.probeIntervalS ?? 4) * 1000;
    this.nextProbeAt = -Infinity;
  }

  /**
   * Whether the link's limit is known to be near: a congestion point (over-use, or a saturated
   * probe) is remembered and not yet exceeded. The pacer holds bursts to the estimate only then.
   */
  get nearLimit(): boolean {
    return this.avgMaxKbps >= 0;
  }

  /** What we may send now (bps). */
  get estimateBps(): number {
    return Math.max(this.minBps, Math.min(this.maxBps, this.delayBps, this.lossBps));
  }

  // ---------------------------------------------------------------------------------- feedback

  onFeedback(b: FeedbackBatch, now: number): void {
    if (this.firstFeedbackAt !== this.firstFeedbackAt) this.firstFeedbackAt = now;
    let bytes = 0;
    let lost = 0;
    for (let k = 0; k < b.count; k++) {
      const recv = b.recvMs[k]!;
      const c = b.cluster[k]!;
      // What the caller tagged after the cluster was stopped is not part of it.
      const inCluster = c !== 0 && c === this.clusterId && this.clusterEndAt === this.clusterEndAt && b.sendMs[k]! <= this.clusterLastSend;
      if (recv !== recv) {
        lost++;
        if (inCluster) this.clusterLost++;
        continue;
      }
      bytes += b.size[k]!;
      this.onArrival(b.sendMs[k]!, recv, now);
      if (inCluster) this.clusterArrival(b.sendMs[k]!, recv, b.size[k]!);
    }
    this.addAcked(now, bytes);
    this.lossLost += lost;
    this.lossTotal += b.count;
    this.updateLoss(now);
    this.updateRate(now);
    this.evaluateProbe(now);
    if (!this.trusted && now - this.firstFeedbackAt >= TRUST_AFTER_MS) this.initFromThroughput();
  }

  /**
   * TRUST_AFTER_MS of feedback and nothing measured the link: no probe could be sent (no RTX to pad
   * with, or nothing above what is sent was wanted) and it never pushed back. The start value grown
   * by the rate controllers (8 %/s, 5 %/s) is then far below what is already arriving (the EchoTest
   * bench: 0.8 Mbit/s after 10 s with 2.4 Mbit/s echoed on loopback). What arrived with normal delay
   * and under 2 % loss is what the link carries: start from it, as libwebrtc's rate controller takes
   * the acknowledged throughput as its first estimate when no probe gave one.
   */
  private initFromThroughput(): void {
    this.trusted = true;
    const r = this.ackedBps;
    if (this.usage === 'overuse' || this.lossFraction >= 0.02 || !(r > this.estimateBps)) return;
    this.delayBps = Math.min(this.maxBps, r);
    this.lossBps = Math.max(this.lossBps, this.delayBps);
  }

  private addAcked(now: number, bytes: number): void {
    const i = (this.ackHead + this.ackN) & 63;
    if (this.ackN === 64) this.ackHead = (this.ackHead + 1) & 63;
    else this.ackN++;
    this.ackT[i] = now;
    this.ackB[i] = bytes;
    while (this.ackN > 1 && now - this.ackT[this.ackHead]! > ACKED_WINDOW_MS) {
      this.ackHead = (this.ackHead + 1) & 63;
      this.ackN--;
    }
    let sum = 0;
    for (let k = 1; k < this.ackN; k++) sum += this.ackB[(this.ackHead + k) & 63]!;
    const span = now - this.ackT[this.ackHead]!;
    this.ackedBps = span >= 200 ? (sum * 8000) / span : 0;
  }

  /** §5.2 grouping, then one filter update per completed group. */
  private onArrival(send: number, recv: number, now: number): void {
    if (this.groupFirstSend !== this.groupFirstSend) {
      this.groupFirstSend = this.groupLastSend = send;
      this.groupLastRecv = recv;
      return;
    }
    if (send < this.groupFirstSend) return; // older than the current group (a late or reordered report)
    if (send - this.groupFirstSend <= BURST_MS) {
      if (send > this.groupLastSend) this.groupLastSend = send;
      if (recv > this.groupLastRecv) this.groupLastRecv = recv;
      return;
    }
    // The current group is complete.
    if (this.prevSend === this.prevSend) {
      const sendDelta = this.groupLastSend - this.prevSend;
      const recvDelta = this.groupLastRecv - this.prevRecv;
      // A group that arrived before its predecessor was reordered on the way: no delay signal in it.
      if (recvDelta >= 0) this.filter(recvDelta - sendDelta, this.groupLastRecv, now);
    }
    if (this.prevRecv !== this.prevRecv || this.groupLastRecv >= this.prevRecv) {
      this.prevSend = this.groupLastSend;
      this.prevRecv = this.groupLastRecv;
    }
    this.groupFirstSend = this.groupLastSend = send;
    this.groupLastRecv = recv;
  }

  /** Trend-line filter and the §5.4 over-use detector. */
  private filter(delta: number, recv: number, now: number): void {
    if (this.firstRecv !== this.firstRecv) this.firstRecv = recv;
    this.numDeltas = Math.min(this.numDeltas + 1, 1000);
    this.accDelay += delta;
    this.smoothed = SMOOTHING * this.smoothed + (1 - SMOOTHING) * this.accDelay;
    const i = (this.winHead + this.winN) % WINDOW;
    if (this.winN === WINDOW) this.winHead = (this.winHead + 1) % WINDOW;
    else this.winN++;
    this.winX[i] = recv - this.firstRecv;
    this.winY[i] = this.smoothed;
    if (this.winN < WINDOW) return;
    let mx = 0;
    let my = 0;
    for (let k = 0; k < WINDOW; k++) {
      mx += this.winX[k]!;
      my += this.winY[k]!;
    }
    mx /= WINDOW;
    my /= WINDOW;
    let num = 0;
    let den = 0;
    for (let k = 0; k < WINDOW; k++) {
      const dx = this.winX[k]! - mx;
      num += dx * (this.winY[k]! - my);
      den += dx * dx;
    }
    const slope = den > 0 ? num / den : this.prevTrend;
    const m = Math.min(this.numDeltas, 60) * slope * TREND_GAIN;
    this.trend = m;
    const dt = this.lastGroupRecv === this.lastGroupRecv ? recv - this.lastGroupRecv : 0;
    this.lastGroupRecv = recv;
    if (m > this.threshold) {
      this.overuseMs += dt;
      this.overuseCount++;
      if (this.overuseMs > OVERUSE_TIME_MS && this.overuseCount > 1 && slope >= this.prevTrend) {
        this.overuseMs = 0;
        this.overuseCount = 0;
        this.usage = 'overuse';
      }
    } else if (m < -this.threshold) {
      this.overuseMs = 0;
      this.overuseCount = 0;
      this.usage = 'underuse';
    } else {
      this.overuseMs = 0;
      this.overuseCount = 0;
      this.usage = 'normal';
    }
    this.prevTrend = slope;
    this.updateThreshold(m, now);
  }

  private updateThreshold(m: number, now: number): void {
    if (this.lastThresholdUpdate !== this.lastThresholdUpdate) this.lastThresholdUpdate = now;
    const a = Math.abs(m);
    if (a > this.threshold + 15) {
      // A spike (e.g. a route change) must not drag the threshold along.
      this.lastThresholdUpdate = now;
      return;
    }
    const k = a < this.threshold ? K_DOWN : K_UP;
    const dt = Math.min(now - this.lastThresholdUpdate, 100);
    this.threshold = Math.min(600, Math.max(6, this.threshold + dt * k * (a - this.threshold)));
    this.lastThresholdUpdate = now;
  }

  /** §5.5 state machine and §5.6 cap, once per feedback. */
  private updateRate(now: number): void {
    const dt = this.lastUpdate === this.lastUpdate ? Math.min(now - this.lastUpdate, 1000) : 0;
    this.lastUpdate = now;
    switch (this.usage) {
      case 'overuse':
        this.state = 'decrease';
        break;
      case 'underuse':
        this.state = 'hold';
        break;
      default:
        if (this.state === 'hold' || this.state === 'decrease') this.state = 'increase';
    }
    const r = this.ackedBps;
    let a = this.delayBps;
    if (this.state === 'decrease') {
      if (now - this.lastOveruseMs >= Math.max(200, this.rttMs)) {
        const base = r > 0 ? r : a;
        a = Math.min(a, BETA * base);
        this.overuses++;
        this.noteCongestion(base / 1000);
        this.trusted = true;
        this.lastOveruseMs = now;
        this.nextProbeAt = Math.max(this.nextProbeAt, now + this.probeIntervalMs);
      }
      this.state = 'hold';
      this.usage = 'normal';
    } else if (this.state === 'increase' && dt > 0) {
      const kbps = a / 1000;
      const near = this.avgMaxKbps >= 0 && Math.abs(kbps - this.avgMaxKbps) <= 3 * Math.sqrt(this.varMaxKbps * this.avgMaxKbps);
      if (this.avgMaxKbps >= 0 && kbps > this.avgMaxKbps + 3 * Math.sqrt(this.varMaxKbps * this.avgMaxKbps)) this.avgMaxKbps = -1;
      let next: number;
      if (near) {
        const responseMs = 100 + this.rttMs;
        next = a + Math.max(1000, (1200 * 8 * dt) / responseMs / 2);
      } else {
        next = a * Math.pow(1.08, dt / 1000);
      }
      if (r > 0) {
        const cap = 1.5 * r + 10_000;
        if (next > cap) next = Math.max(a, cap);
      }
      a = next;
    }
    this.delayBps = Math.max(this.minBps, Math.min(this.maxBps, a));
  }

  /** Running mean and variance of the rate at congestion (§5.5's "average max bitrate"). */
  private noteCongestion(kbps: number): void {
    if (this.avgMaxKbps < 0) this.avgMaxKbps = kbps;
    else this.avgMaxKbps = 0.95 * this.avgMaxKbps + 0.05 * kbps;
    const norm = Math.max(this.avgMaxKbps, 1);
    const err = this.avgMaxKbps - kbps;
    this.varMaxKbps = Math.min(2.5, Math.max(0.4, 0.95 * this.varMaxKbps + (0.05 * err * err) / norm));
  }

  /** §6, on windows of at least 20 packets and 200 ms. */
  private updateLoss(now: number): void {
    if (this.lastLossUpdate !== this.lastLossUpdate) this.lastLossUpdate = now;
    const dt = now - this.lastLossUpdate;
    // 20 packets make a window; with little traffic (video paused), 5 packets over a second do.
    if (!((this.lossTotal >= 20 && dt >= 200) || (this.lossTotal >= 5 && dt >= 1000))) return;
    const p = this.lossLost / this.lossTotal;
    this.lossFraction = p;
    this.lossLost = 0;
    this.lossTotal = 0;
    this.lastLossUpdate = now;
    let s = this.lossBps;
    if (p > 0.1) {
      if (now - this.lastLossDecrease >= 300 + this.rttMs) {
        // Never below half of what still gets through: the loss is answered by sending less, not nothing.
        s = Math.max(s * (1 - 0.5 * p), Math.min(s, 0.5 * this.ackedBps));
        this.lastLossDecrease = now;
        this.trusted = true;
        this.nextProbeAt = Math.max(this.nextProbeAt, now + this.probeIntervalMs);
      }
    } else if (p < 0.02) {
      s = s * Math.pow(1.05, Math.min(dt, 1000) / 1000);
    }
    // Far above the delay-based estimate, the loss-based one says nothing: keep it in reach.
    this.lossBps = Math.max(this.minBps, Math.min(this.maxBps, s, Math.max(this.delayBps * 1.5, this.minBps)));
  }

  // ---------------------------------------------------------------------------------- probing

  /**
   * The rate (bps) of a probe cluster to start now, or 0. The caller sends padding so that its
   * total rate reaches it for probeDurationMs and tags what it sends meanwhile with probeCluster.
   * `wantedBps`: what the caller would send with a free link (0: as much as maxBps).
   */
  probeTarget(now: number, wantedBps = 0): number {
    if (now < this.nextProbeAt || this.clusterEndAt === this.clusterEndAt) return 0;
    const est = this.estimateBps;
    // A recheck goes above what is wanted too: the jump it checks may have reached that ceiling.
    const recheck = this.recheck;
    let ceiling = wantedBps > 0 ? Math.min(this.maxBps, wantedBps) : this.maxBps;
    // A recheck may go a little above what is wanted: the jump it checks may have reached that
    // ceiling. Not to 2x whatever the estimate is: on the loaded test machine a 3 Mbit/s recheck
    // read a receiver that fell behind as a full link and stepped a clean link down.
    if (recheck) ceiling = Math.min(this.maxBps, Math.max(ceiling, RECHECK_OVER_CEILING * est));
    this.recheck = false;
    const lossy = this.lossFraction > 0.1 && now - this.lastLossUpdate < 2000;
    if (est >= ceiling * 0.95 || lossy || this.usage === 'overuse') {
      this.nextProbeAt = now + this.probeIntervalMs;
      return 0;
    }
    this.clusterId = (this.clusterId % 0xfffe) + 1;
    const target = (this.clusterTarget = Math.min(ceiling, Math.max(2 * est, est + 200_000)));
    // Sized in bytes, so that a token bucket's burst is spent before the tail that is judged.
    // A recheck is twice as long: a bucket whose burst outlasted the last cluster's head outlasts it by less.
    const bytes = recheck ? 2 * PROBE_MIN_BYTES : PROBE_MIN_BYTES;
    this.clusterDurationMs = Math.min(PROBE_MAX_MS, Math.max(PROBE_CLUSTER_MS, (bytes * 8000) / target));
    this.clusterFirstSend = this.clusterLastSend = NaN;
    this.clusterSendBytes = this.clusterLastSize = this.clusterSent = this.clusterLost = 0;
    this.whole.reset();
    this.tail.reset();
    this.queued.reset();
    this.clusterMinDelay = Infinity;
    this.clusterMaxQueue = 0;
    this.clusterStopped = false;
    this.clusterEndAt = now + this.clusterDurationMs + PROBE_FEEDBACK_WAIT_MS;
    this.nextProbeAt = now + this.probeIntervalMs;
    this.probes++;
    return target;
  }

  /** How long the cluster probeTarget just started should be sent for (ms). */
  get probeDurationMs(): number {
    return this.clusterDurationMs;
  }

  /** Whether the caller should go on sending the running cluster (false once its feedback shows a queue). */
  get probeSending(): boolean {
    return this.clusterEndAt === this.clusterEndAt && !this.clusterStopped;
  }

  /** Id to tag packets of the running probe cluster with (0 when none). */
  get probeCluster(): number {
    return this.clusterEndAt === this.clusterEndAt ? this.clusterId : 0;
  }

  /** The shortest probe cluster (ms) and its fewest packets. */
  static readonly PROBE_CLUSTER_MS = PROBE_CLUSTER_MS;
  static readonly PROBE_MIN_PACKETS = PROBE_MIN_PACKETS;

  /** A packet of the running cluster was sent (the caller tags it with probeCluster). */
  onProbeSent(sendMs: number, size: number): void {
    if (this.clusterStopped) return;
    // The send rate counts what left after the first packet went: the last one's size is not part of it.
    if (this.clusterFirstSend !== this.clusterFirstSend) this.clusterFirstSend = sendMs;
    else this.clusterSendBytes += this.clusterLastSize;
    this.clusterLastSend = sendMs;
    this.clusterLastSize = size;
    this.clusterSent++;
  }

  private clusterArrival(send: number, recv: number, size: number): void {
    this.whole.add(recv, size);
    if (send - this.clusterFirstSend >= this.clusterDurationMs * PROBE_TAIL_FROM) this.tail.add(recv, size);
    const delay = recv - send;
    if (delay < this.clusterMinDelay) this.clusterMinDelay = delay;
    const queue = delay - this.clusterMinDelay;
    if (queue > PROBE_QUEUED_MS) this.queued.add(recv, size);
    if (queue > this.clusterMaxQueue) this.clusterMaxQueue = queue;
  }

  /**
   * Once all of the cluster was reported (or it timed out): the probe's result is the rate it was
   * received at, taken over the tail of the cluster. A token bucket (tc tbf, a policer) lets its
   * burst through at whatever rate it was sent; judged over the whole cluster that reads as free
   * bandwidth. The cluster is long enough (PROBE_MIN_BYTES) for a burst of ~10 kB to be spent in
   * its first half, so its second half arrives at the bucket's rate.
   */
  private evaluateProbe(now: number): void {
    if (this.clusterEndAt !== this.clusterEndAt) return;
    if (!this.clusterStopped && this.clusterMaxQueue > PROBE_STOP_QUEUE_MS && now < this.clusterFirstSend + this.clusterDurationMs) {
      this.clusterStopped = true;
      this.probesStopped++;
    }
    const sendDone = this.clusterStopped || now >= this.clusterFirstSend + this.clusterDurationMs;
    const allReported = this.whole.count + this.clusterLost >= this.clusterSent;
    if (!(sendDone && allReported) && now <= this.clusterEndAt) return;
    this.clusterEndAt = NaN;
    const sendSpan = this.clusterLastSend - this.clusterFirstSend;
    const wholeBps = this.whole.bps();
    if (this.whole.count < PROBE_MIN_PACKETS || !(sendSpan > 0) || wholeBps <= 0) return;
    this.trusted = true;
    const sendBps = (this.clusterSendBytes * 8000) / sendSpan;
    const tailBps = this.tail.bps();
    const queuedBps = this.queued.count >= 3 ? this.queued.bps() : 0;
    const lossy = this.clusterLost > 0.1 * this.clusterSent;
    // The bottleneck dropped the tail: what got through came mostly from a burst, no reading.
    if (tailBps <= 0 && queuedBps <= 0 && lossy) return;
    let recvBps = tailBps > 0 ? Math.min(wholeBps, tailBps) : wholeBps;
    if (queuedBps > 0) recvBps = Math.min(recvBps, queuedBps);
    const measured = Math.min(sendBps, recvBps);
    this.lastProbeBps = measured;
    this.probesMeasured++;
    // Arrived slower than sent, or part of it dropped: the link is saturated at recvBps; stay under it.
    const saturated = recvBps < 0.9 * sendBps || lossy;
    const result = saturated ? 0.95 * recvBps : measured;
    const est = this.estimateBps;
    const lastSaturated = this.lastSaturatedMs;
    if (saturated) this.lastSaturatedMs = now;
    if (result > est && this.usage !== 'overuse' && this.lossFraction <= 0.1) {
      this.delayBps = Math.min(this.maxBps, result);
      this.lossBps = Math.max(this.lossBps, Math.min(this.maxBps, result));
      // A saturated probe found the link's rate: grow carefully near it, as after an over-use.
      if (saturated) this.noteCongestion(recvBps / 1000);
      else this.avgMaxKbps = -1;
      this.probesUp++;
      // A token bucket's burst can still fool one cluster (a larger burst than the cluster's head
      // spends, or a probe under ~2x the bucket's rate). A jump is checked by the next cluster soon,
      // at twice the new value, which the burst cannot cover, before it has stood for long.
      if (result > PROBE_RECHECK_ABOVE * est) {
        this.nextProbeAt = Math.min(this.nextProbeAt, now + PROBE_RECHECK_MS);
        this.recheck = true;
      }
    } else if (saturated && result < est && now - Math.max(this.lastOveruseMs, this.lastLossDecrease, lastSaturated) <= LOWER_AFTER_CONGESTION_MS) {
      // The link is full below the estimate: an earlier cluster (or the rate controller) overstated
      // it. Only raising would keep one over-reading probe's value until an over-use happens to come;
      // a saturated reading bounds the link, so it sets the estimate. Not below what the receiver is
      // acknowledging anyway, which a reading distorted by late feedback could undercut; and only
      // where the link pushed back (over-use, loss, a saturated probe) within the last 10 s: on the
      // loaded test machine a receiver that fell behind a probe read as full on a clean link, and the
      // subscriber stepped down from the top layer for seconds (in 3 of 11 browser runs).
      const next = Math.max(result, Math.min(est, this.ackedBps));
      if (next < est) {
        this.delayBps = next;
        this.noteCongestion(recvBps / 1000);
        this.probesDown++;
      }
    }
  }
}

/** First and last arrival of a set of packets and the bytes that arrived after the first one. */
class ArrivalSpan {
  first = NaN;
  last = NaN;
  private firstSize = 0;
  bytes = 0;
  count = 0;

  reset(): void {
    this.first = this.last = NaN;
    this.firstSize = this.bytes = this.count = 0;
  }

  add(recv: number, size: number): void {
    if (this.count === 0 || recv < this.first) {
      if (this.count > 0) this.bytes += this.firstSize;
      this.first = recv;
      this.firstSize = size;
    } else this.bytes += size;
    if (this.count === 0 || recv > this.last) this.last = recv;
    this.count++;
  }

  /** Receive rate (bps), 0 when the arrivals span no time. */
  bps(): number {
    const span = this.last - this.first;
    return this.count >= 2 && span > 0 ? (this.bytes * 8000) / span : 0;
  }
}
