/**
 * The receive side of transport-wide congestion control: remembers when each packet carrying a
 * transport-wide sequence number arrived and turns that into RTCP transport-cc feedback
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1) every `twcc_period` ms, so the sender's
 * own estimator (the browser's, for a publisher) can see queueing delay and loss on its uplink.
 *
 * Packets may arrive out of order; one that arrives after its sequence number was already reported
 * is dropped (the sender counts it as lost, as it would a late packet). record() is per packet and
 * does not allocate; writeFeedback() runs a few times a second and may.
 */
import { buildTransportCc } from '../rtcp/twcc.js';

const RING = 4096;
const MASK = RING - 1;
/** Packets described by one feedback message (keeps it well under the RTCP size limit). */
const MAX_PER_FEEDBACK = 400;

export class TwccRecorder {
  private readonly arrivalUs = new Float64Array(RING);
  private readonly seqOf = new Float64Array(RING).fill(-1);
  /** Next unwrapped sequence number to report, -1 before the first packet. */
  private base = -1;
  /** Highest unwrapped sequence number seen. */
  private max = -1;
  private fbCount = 0;
  private readonly scratch: number[] = [];
  packetsRecorded = 0;
  feedbacksWritten = 0;

  /** A packet with transport-wide sequence number `seq` (16 bits) arrived at `nowMs`. */
  record(seq: number, nowMs: number): void {
    let u: number;
    if (this.max < 0) {
      u = (seq & 0xffff) + 0x10000; // room below for reordered packets before the first one
      this.base = u;
      this.max = u;
    } else {
      const d = ((seq - this.max + 0x8000) & 0xffff) - 0x8000;
      u = this.max + d;
      if (u < this.base) return;
      if (u > this.max) this.max = u;
    }
    const i = u & MASK;
    this.seqOf[i] = u;
    this.arrivalUs[i] = nowMs * 1000;
    this.packetsRecorded++;
    if (this.max - this.base >= RING) this.base = this.max - RING + 1;
  }

  /** Something to report. */
  get pending(): boolean {
    return this.base >= 0 && this.max >= this.base;
  }

  /**
   * Write one feedback message about the packets not reported yet (at most MAX_PER_FEEDBACK of
   * them; call again while `pending`) at out[off..max); returns the new offset (off when nothing
   * fits or nothing is due).
   */
  writeFeedback(out: Buffer, off: number, max: number, senderSsrc: number, mediaSsrc: number): number {
    if (!this.pending) return off;
    // Skip a leading run of packets that never arrived (only possible after the window moved).
    while (this.base <= this.max && this.seqOf[this.base & MASK] !== this.base) this.base++;
    if (this.base > this.max) return off;
    const room = max - off - 24;
    if (room < 8) return off;
    // Worst case per packet: a 2-byte delta plus a 2-bit status (a chunk per 7 packets).
    const fit = Math.floor(room / 2.3);
    const n = Math.min(this.max - this.base + 1, MAX_PER_FEEDBACK, fit);
    if (n <= 0) return off;
    const a = this.scratch;
    a.length = n;
    for (let k = 0; k < n; k++) {
      const u = this.base + k;
      const i = u & MASK;
      a[k] = this.seqOf[i] === u ? this.arrivalUs[i]! : -1;
    }
    const fb = buildTransportCc(senderSsrc, mediaSsrc, this.base & 0xffff, this.fbCount, a);
    if (off + fb.length > max) return off;
    fb.copy(out, off);
    this.fbCount = (this.fbCount + 1) & 0xff;
    this.base += n;
    this.feedbacksWritten++;
    return off + fb.length;
  }
}
