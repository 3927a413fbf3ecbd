/**
 * Two SctpCores joined by a simulated link in virtual time: each packet takes `delay` ms, and the
 * link may drop, duplicate or reorder packets through a per-packet `fate` hook. `run(until)` advances
 * the clock event by event (packet arrivals and the cores' own deadlines): no wall clock, no sockets.
 */
import { SctpCore, type SctpCoreOptions, type SctpCoreState } from '../../../src/media/sctp/association-core.js';

export interface Received { sid: number; ppid: number; data: Buffer }

export interface Side {
  core: SctpCore;
  got: Received[];
  resets: number[][];
  states: SctpCoreState[];
  /** Packets this side sent (copies), with their send time. */
  sent: Array<{ at: number; p: Buffer }>;
}

export type Fate = 'deliver' | 'drop' | 'dup' | { delay: number };

export class Link {
  now = 0;
  readonly a: Side;
  readonly b: Side;
  /** Decides each packet's fate (default: deliver). `from` is 'a' or 'b'. */
  fate: (from: 'a' | 'b', p: Buffer, n: number) => Fate = () => 'deliver';
  private inflight: Array<{ at: number; to: Side; p: Buffer }> = [];
  private counter = 0;

  constructor(readonly delay = 10, optsA: SctpCoreOptions = {}, optsB: SctpCoreOptions = optsA) {
    this.a = this.side(optsA);
    this.b = this.side(optsB);
  }

  private side(o: SctpCoreOptions): Side {
    const s = { got: [], resets: [], states: [], sent: [] } as unknown as Side;
    s.core = new SctpCore(o, {
      message: (sid, ppid, data) => s.got.push({ sid, ppid, data: Buffer.from(data) }),
      streamsReset: (ids) => s.resets.push(ids),
      stateChange: (st) => s.states.push(st),
    });
    return s;
  }

  /** Drains both sides' output onto the link. */
  flush(): void {
    for (const [from, s, to] of [['a', this.a, this.b], ['b', this.b, this.a]] as const) {
      for (let p = s.core.poll(this.now); p !== undefined; p = s.core.poll(this.now)) {
        const copy = Buffer.from(p);
        s.sent.push({ at: this.now, p: copy });
        const f = this.fate(from, copy, this.counter++);
        if (f === 'drop') continue;
        const at = this.now + (typeof f === 'object' ? f.delay : this.delay);
        this.inflight.push({ at, to, p: copy });
        if (f === 'dup') this.inflight.push({ at: at + 1, to, p: copy });
      }
    }
  }

  /** Runs until `until` (virtual ms) or `cond()` holds. Returns whether cond held. */
  run(until: number, cond: () => boolean = () => false): boolean {
    this.flush();
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (cond()) return true;
      this.inflight.sort((x, y) => x.at - y.at);
      const nextPkt = this.inflight[0]?.at ?? Infinity;
      const next = Math.min(nextPkt, this.a.core.deadline, this.b.core.deadline);
      if (next > until) { this.now = until; return cond(); }
      this.now = Math.max(this.now, next);
      while (this.inflight.length > 0 && this.inflight[0]!.at <= this.now) {
        const d = this.inflight.shift()!;
        d.to.core.handle(d.p, this.now);
        this.flush();
      }
      this.flush();
    }
    throw new Error('link: no progress');
  }

  /** Handshake with `a` initiating (or both, for the collision case). */
  connect(both = false): boolean {
    this.a.core.connect(this.now);
    if (both) this.b.core.connect(this.now);
    return this.run(this.now + 60_000, () => this.a.core.established && this.b.core.established);
  }
}

/** Chunk types present in an SCTP packet. */
export function chunkTypes(p: Buffer): number[] {
  const out: number[] = [];
  for (let off = 12; off + 4 <= p.length;) {
    const len = p.readUInt16BE(off + 2);
    out.push(p[off]!);
    if (len < 4) break;
    off += (len + 3) & ~3;
  }
  return out;
}
