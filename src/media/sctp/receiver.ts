/**
 * SctpReceiver: the receiving half of an SCTP association (RFC 9260 §6.2, §6.5, §6.9; RFC 3758 §3.6):
 * which TSNs arrived (cumulative point, gaps, duplicates — what a SACK reports), the receive window,
 * and reassembly of fragmented user messages in stream-sequence order (ordered) or TSN order
 * (unordered). Plain DATA only (no I-DATA, RFC 8260): browsers do not negotiate it by default.
 *
 * Fast path (one in-order, unfragmented message): delivered straight from the packet, nothing stored.
 */

/** Serial-number comparison on 32-bit TSNs (RFC 1982). */
export const tsnLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const tsnLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
const ssnLe = (a: number, b: number): boolean => ((a - b) << 16 >> 16) <= 0;

export const FLAG_END = 0x01;
export const FLAG_BEGIN = 0x02;
export const FLAG_UNORDERED = 0x04;

/** TSNs this far past the cumulative point are dropped unseen: bounds the gap list a peer can make us keep. */
const MAX_TSN_AHEAD = 16_384;
/** How far past the window the next in-order chunk may still be buffered, bytes. */
const NEXT_CHUNK_SLACK = 65_536;
/** Duplicate TSNs reported per SACK (RFC 9260 allows any number; a bound keeps the SACK small). */
const MAX_DUPS = 16;

export interface ReceivedChunk {
  tsn: number;
  sid: number;
  ssn: number;
  ppid: number;
  flags: number;
  data: Buffer;
}

interface InStream {
  nextSsn: number;
  /** Chunks waiting for an earlier message or for their other fragments, in TSN order. */
  pending: ReceivedChunk[];
}

export interface ReceiverSink {
  message(sid: number, ppid: number, data: Buffer): void;
}

export type DataVerdict = 'new' | 'duplicate' | 'dropped' | 'too-large';

export class SctpReceiver {
  /** Highest TSN below which everything arrived (or was skipped by FORWARD-TSN). */
  cum = 0;
  /** TSNs received above `cum`, ascending. */
  readonly gaps: number[] = [];
  readonly dups: number[] = [];
  bufferedBytes = 0;
  readonly stats = { delivered: 0, oversized: 0, droppedWindow: 0, duplicates: 0 };
  private readonly streams = new Map<number, InStream>();
  private readonly unordered: ReceivedChunk[] = [];

  constructor(
    private readonly sink: ReceiverSink,
    /** Receive buffer (advertised a_rwnd when empty), bytes. */
    readonly window: number,
    /** Largest message we reassemble; larger ones are dropped whole. */
    private readonly maxMessage: number,
  ) {}

  init(peerInitialTsn: number): void {
    this.cum = (peerInitialTsn - 1) >>> 0;
  }

  get rwnd(): number {
    return Math.max(0, this.window - this.bufferedBytes);
  }

  /**
   * One DATA chunk. `data` may be a view into the packet: it is copied if stored. 'too-large' means the
   * chunk is the next one needed but the window is full of an unfinished message: the peer sent a
   * message bigger than we can ever reassemble (the caller aborts).
   */
  onData(tsn: number, flags: number, sid: number, ssn: number, ppid: number, data: Buffer): DataVerdict {
    const cum = this.cum;
    if (tsnLe(tsn, cum) || this.hasGap(tsn)) {
      this.stats.duplicates++;
      if (this.dups.length < MAX_DUPS) this.dups.push(tsn);
      return 'duplicate';
    }
    const next = tsn === ((cum + 1) >>> 0);
    if (((tsn - cum) >>> 0) > MAX_TSN_AHEAD) { this.stats.droppedWindow++; return 'dropped'; }
    const whole = (flags & (FLAG_BEGIN | FLAG_END)) === (FLAG_BEGIN | FLAG_END);
    if (whole && next) {
      if (flags & FLAG_UNORDERED) {
        this.advance(tsn);
        this.deliver(sid, ppid, data);
        return 'new';
      }
      const st = this.streams.get(sid);
      if (st === undefined || (st.pending.length === 0 && st.nextSsn === ssn)) {
        if (st === undefined) this.streams.set(sid, { nextSsn: (ssn + 1) & 0xffff, pending: [] });
        else st.nextSsn = (ssn + 1) & 0xffff;
        this.advance(tsn);
        this.deliver(sid, ppid, data);
        return 'new';
      }
    }
    // The chunk everything waits for may overshoot the window a little (a zero-window probe must make
    // progress); past that, the window is full of one unfinished message: it can never complete.
    if (this.bufferedBytes + data.length > this.window + (next ? NEXT_CHUNK_SLACK : 0)) {
      this.stats.droppedWindow++;
      return next ? 'too-large' : 'dropped';
    }
    this.advance(tsn);
    const c: ReceivedChunk = { tsn, sid, ssn, ppid, flags, data: Buffer.from(data) };
    this.bufferedBytes += data.length;
    if (flags & FLAG_UNORDERED) {
      insertByTsn(this.unordered, c);
      this.deliverUnordered(c);
    } else {
      let st = this.streams.get(sid);
      if (st === undefined) this.streams.set(sid, (st = { nextSsn: 0, pending: [] }));
      insertByTsn(st.pending, c);
      this.deliverOrdered(sid, st);
    }
    return 'new';
  }

  /** FORWARD-TSN (RFC 3758 §3.6): skip to `newCum`; `skips` are (sid, ssn) pairs of abandoned ordered messages. */
  onForwardTsn(newCum: number, skips: ReadonlyArray<readonly [number, number]>): void {
    if (tsnLe(newCum, this.cum)) return;
    if (((newCum - this.cum) >>> 0) > MAX_TSN_AHEAD * 4) return; // nonsense: ignore rather than skip data we never saw
    while (this.gaps.length > 0 && tsnLe(this.gaps[0]!, newCum)) this.gaps.shift();
    this.cum = newCum;
    while (this.gaps.length > 0 && this.gaps[0] === ((this.cum + 1) >>> 0)) this.cum = this.gaps.shift()!;
    // Unordered fragments at or below the new point can never complete.
    this.dropIncomplete(this.unordered, newCum);
    for (const [sid, ssn] of skips) {
      const st = this.streams.get(sid);
      if (st === undefined) { this.streams.set(sid, { nextSsn: (ssn + 1) & 0xffff, pending: [] }); continue; }
      this.dropIncomplete(st.pending, newCum);
      // Complete messages up to the skipped one go up in order; then the stream continues after it.
      while (st.pending.length > 0 && ssnLe(st.pending[0]!.ssn, ssn) && this.deliverHead(sid, st, true)) { /* delivered */ }
      if (ssnLe(st.nextSsn, ssn)) st.nextSsn = (ssn + 1) & 0xffff;
      this.deliverOrdered(sid, st);
    }
    for (const [sid, st] of this.streams) if (st.pending.length > 0 && tsnLe(st.pending[0]!.tsn, newCum)) {
      this.dropIncomplete(st.pending, newCum);
      this.deliverOrdered(sid, st);
    }
  }

  /** Stream reset (RFC 6525): the peer's next message on these streams (all when empty) has SSN 0. */
  resetStreams(ids: readonly number[]): void {
    if (ids.length === 0) {
      for (const st of this.streams.values()) this.dropStream(st);
      this.streams.clear();
      return;
    }
    for (const id of ids) {
      const st = this.streams.get(id);
      if (st !== undefined) { this.dropStream(st); this.streams.delete(id); }
    }
  }

  /** Writes the SACK chunk (RFC 9260 §3.3.4) at `off` with at most `maxLen` bytes; returns its length. Clears duplicates. */
  writeSack(buf: Buffer, off: number, maxLen: number): number {
    const gaps = this.gaps;
    const room = Math.max(0, Math.floor((maxLen - 16) / 4));
    let nGaps = 0;
    // Count blocks first (they are runs of consecutive TSNs).
    for (let i = 0; i < gaps.length; i++) if (i === 0 || gaps[i] !== ((gaps[i - 1]! + 1) >>> 0)) nGaps++;
    nGaps = Math.min(nGaps, room);
    const nDups = Math.min(this.dups.length, room - nGaps);
    const len = 16 + 4 * (nGaps + nDups);
    buf[off] = 3;
    buf[off + 1] = 0;
    buf.writeUInt16BE(len, off + 2);
    buf.writeUInt32BE(this.cum, off + 4);
    buf.writeUInt32BE(this.rwnd >>> 0, off + 8);
    buf.writeUInt16BE(nGaps, off + 12);
    buf.writeUInt16BE(nDups, off + 14);
    let p = off + 16;
    let written = 0;
    for (let i = 0; i < gaps.length && written < nGaps;) {
      const start = gaps[i]!;
      let end = start;
      i++;
      while (i < gaps.length && gaps[i] === ((end + 1) >>> 0)) end = gaps[i++]!;
      buf.writeUInt16BE(((start - this.cum) >>> 0) & 0xffff, p);
      buf.writeUInt16BE(((end - this.cum) >>> 0) & 0xffff, p + 2);
      p += 4;
      written++;
    }
    for (let i = 0; i < nDups; i++, p += 4) buf.writeUInt32BE(this.dups[i]!, p);
    this.dups.length = 0;
    return len;
  }

  private hasGap(tsn: number): boolean {
    const g = this.gaps;
    let lo = 0;
    let hi = g.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = g[mid]!;
      if (v === tsn) return true;
      if (tsnLt(v, tsn)) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  private advance(tsn: number): void {
    if (tsn === ((this.cum + 1) >>> 0)) {
      this.cum = tsn;
      const g = this.gaps;
      if (g.length > 0 && g[0] === ((tsn + 1) >>> 0)) {
        let n = 0;
        while (n < g.length && g[n] === ((this.cum + 1) >>> 0)) this.cum = g[n++]!;
        g.splice(0, n);
      }
      return;
    }
    const g = this.gaps;
    let i = g.length;
    while (i > 0 && tsnLt(tsn, g[i - 1]!)) i--;
    g.splice(i, 0, tsn);
  }

  private deliver(sid: number, ppid: number, data: Buffer): void {
    if (data.length > this.maxMessage) { this.stats.oversized++; return; }
    this.stats.delivered++;
    this.sink.message(sid, ppid, data);
  }

  private deliverOrdered(sid: number, st: InStream): void {
    while (st.pending.length > 0 && st.pending[0]!.ssn === st.nextSsn && this.deliverHead(sid, st, false)) { /* next */ }
  }

  /** Delivers the message at the head of `st.pending` if complete. */
  private deliverHead(sid: number, st: InStream, anySsn: boolean): boolean {
    const p = st.pending;
    const first = p[0]!;
    if (!(first.flags & FLAG_BEGIN)) return false;
    if (!anySsn && first.ssn !== st.nextSsn) return false;
    let n = 1;
    let last = first;
    while (!(last.flags & FLAG_END)) {
      const c = p[n];
      if (c === undefined || c.tsn !== ((last.tsn + 1) >>> 0) || c.ssn !== first.ssn) return false;
      last = c;
      n++;
    }
    const parts = p.splice(0, n);
    st.nextSsn = (first.ssn + 1) & 0xffff;
    this.emit(first.sid === sid ? sid : first.sid, first.ppid, parts);
    return true;
  }

  private deliverUnordered(c: ReceivedChunk): void {
    const u = this.unordered;
    const i = u.indexOf(c);
    let b = i;
    while (!(u[b]!.flags & FLAG_BEGIN)) {
      if (b === 0 || u[b - 1]!.tsn !== ((u[b]!.tsn - 1) >>> 0)) return;
      b--;
    }
    let e = i;
    while (!(u[e]!.flags & FLAG_END)) {
      if (e + 1 >= u.length || u[e + 1]!.tsn !== ((u[e]!.tsn + 1) >>> 0)) return;
      e++;
    }
    const parts = u.splice(b, e - b + 1);
    this.emit(parts[0]!.sid, parts[0]!.ppid, parts);
  }

  private emit(sid: number, ppid: number, parts: ReceivedChunk[]): void {
    let total = 0;
    for (const c of parts) total += c.data.length;
    this.bufferedBytes -= total;
    this.deliver(sid, ppid, parts.length === 1 ? parts[0]!.data : Buffer.concat(parts.map((c) => c.data), total));
  }

  /** Removes chunks at or below `upTo` that do not belong to a complete message. */
  private dropIncomplete(list: ReceivedChunk[], upTo: number): void {
    let w = 0;
    for (let r = 0; r < list.length;) {
      const c = list[r]!;
      if (!tsnLe(c.tsn, upTo)) { list[w++] = c; r++; continue; }
      // Find the extent of the message starting here.
      let e = r;
      let complete = !!(c.flags & FLAG_BEGIN);
      while (complete && !(list[e]!.flags & FLAG_END)) {
        const nx = list[e + 1];
        if (nx === undefined || nx.tsn !== ((list[e]!.tsn + 1) >>> 0)) complete = false;
        else e++;
      }
      if (complete) {
        for (let k = r; k <= e; k++) list[w++] = list[k]!;
        r = e + 1;
      } else {
        this.bufferedBytes -= c.data.length;
        r++;
      }
    }
    list.length = w;
  }

  private dropStream(st: InStream): void {
    for (const c of st.pending) this.bufferedBytes -= c.data.length;
    st.pending.length = 0;
  }
}

function insertByTsn(list: ReceivedChunk[], c: ReceivedChunk): void {
  let i = list.length;
  while (i > 0 && tsnLt(c.tsn, list[i - 1]!.tsn)) i--;
  list.splice(i, 0, c);
}
