/**
 * The send side of transport-wide congestion control: hands out transport-wide sequence numbers for
 * every packet we send on a PeerConnection (media, retransmissions, probes) and remembers when and
 * how big each one was, so a transport-cc feedback can be turned into (send time, arrival time,
 * size) triples for the estimator. No allocation per packet.
 */
import { TwccStatus, type TransportCcFeedback } from '../rtcp/twcc.js';

const RING = 8192;
const MASK = RING - 1;

/** One feedback matched against the history, in reused arrays (valid until the next match). */
export class FeedbackBatch {
  count = 0;
  /** Send time (ms, our clock). */
  sendMs = new Float64Array(512);
  /** Arrival time (ms, the receiver's clock), NaN when lost. */
  recvMs = new Float64Array(512);
  size = new Uint16Array(512);
  /** Probe cluster the packet belonged to, 0 for none. */
  cluster = new Uint16Array(512);

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
  private readonly sendMs = new Float64Array(RING).fill(-1);
  private readonly size = new Uint16Array(RING);
  private readonly cluster = new Uint16Array(RING);
  /** Sequence number each slot holds (+1; 0 = empty), so stale slots are told apart. */
  private readonly seqOf = new Int32Array(RING);
  private next: number;
  /** Feedbacks whose packets were all unknown (too old, or never ours). */
  unmatched = 0;

  constructor(firstSeq = 0) {
    this.next = firstSeq & 0xffff;
  }

  /** Take the next transport-wide sequence number for a packet of `size` bytes sent at `nowMs`. */
  onSent(nowMs: number, size: number, cluster = 0): number {
    const seq = this.next;
    this.next = (seq + 1) & 0xffff;
    const i = seq & MASK;
    this.seqOf[i] = seq + 1;
    this.sendMs[i] = nowMs;
    this.size[i] = size;
    this.cluster[i] = cluster;
    return seq;
  }

  /** Fill `out` with the packets the feedback describes that we still remember; returns the count. */
  match(fb: TransportCcFeedback, out: FeedbackBatch): number {
    out.ensure(fb.count);
    let n = 0;
    let t = fb.referenceTime * 64000;
    for (let k = 0; k < fb.count; k++) {
      const seq = (fb.baseSeq + k) & 0xffff;
      const s = fb.status[k]!;
      if (s !== TwccStatus.NotReceived) t += fb.deltaUs[k]!;
      const i = seq & MASK;
      if (this.seqOf[i] !== seq + 1) continue;
      out.sendMs[n] = this.sendMs[i]!;
      out.recvMs[n] = s === TwccStatus.NotReceived ? NaN : t / 1000;
      out.size[n] = this.size[i]!;
      out.cluster[n] = this.cluster[i]!;
      n++;
    }
    out.count = n;
    if (n === 0 && fb.count > 0) this.unmatched++;
    return n;
  }
}
