/**
 * One clock for many state machines of a thread (a media worker, or the main thread): one Node timer
 * for all their deadlines, and one microtask per tick for all their output drains. Two instances per
 * thread: the SCTP associations' (sctp/clock.ts) and the PeerConnections' (peer.ts: ICE, DTLS, RTCP).
 *
 * Why: waking a thread is the dearest thing on a loaded machine, and a timer per state machine wakes
 * it once per machine per deadline. A TextRoom message to N members is one send on each of N
 * associations; with a setTimeout per association each send moved that association's T3-rtx /
 * delayed-SACK deadline (clearTimeout + setTimeout) and each timer woke the thread on its own
 * millisecond, mostly for nothing. N idle PeerConnections each woke the thread twice a second (RTCP
 * report, per-second statistics) and every 15 s (ICE keepalive), each on its own millisecond. Here:
 *  - a deadline is one entry pushed on a binary heap (two parallel arrays, no object per entry);
 *  - it is rounded up to the clock's grain (`grainMs`), and a deadline further away than
 *    `coarseAfterMs` to the coarse grain (`coarseGrainMs`): deadlines a few ms apart (the T3s of one
 *    broadcast) or a few tens of ms apart (the once-a-second housekeeping of many PeerConnections)
 *    are served by one wake-up, never early, at most a grain late;
 *  - a client re-armed for the same rounded time costs nothing, and a deadline that moves later (T3
 *    stopped by a SACK) re-arms the Node timer later only when the earliest rounded time changes, so
 *    a thread whose clients all wait sleeps until the next real deadline;
 *  - the drains of a tick are one microtask walking a list.
 *
 * Entries are deleted lazily: a client's entry is live while `client.clockAt` equals the entry's time.
 * A client that moves, fires or cancels leaves its old entry behind, skipped when it reaches the top
 * (or dropped when the heap is compacted). The clock holds no timer while no client has a deadline,
 * so a process whose clients are all closed can exit.
 */
import { performance } from 'node:perf_hooks';

export interface ClockClient {
  /** The (rounded) deadline this client is armed for (performance.now() ms); Infinity: none. Owned by the clock. */
  clockAt: number;
  /** Its deadline passed (it has none now). Must not throw. */
  onClock(): void;
}

/** A client that also drains its output once per tick (soon()). */
export interface DrainClient extends ClockClient {
  /** In the clock's drain list for this tick. Owned by the clock. */
  flushQueued: boolean;
  /** The drain asked for with soon(). Must not throw. */
  onFlush(): void;
}

export interface ThreadClockOptions {
  /** Timer granularity, ms: deadlines are rounded up to multiples of this (performance.now() time). */
  grainMs: number;
  /** Deadlines at least this far away (ms) are rounded to `coarseGrainMs` instead (default: never). */
  coarseAfterMs?: number;
  coarseGrainMs?: number;
}

export class ThreadClock {
  private readonly grainMs: number;
  private readonly coarseAfterMs: number;
  private readonly coarseGrainMs: number;
  private readonly at: number[] = [];
  private readonly who: ClockClient[] = [];
  /** Clients whose clockAt is finite. */
  private armed = 0;
  private timer: NodeJS.Timeout | null = null;
  /** The (rounded) time the Node timer is armed for; Infinity: none. */
  private timerAt = Infinity;
  private compactAt = 1024;
  private readonly drain: DrainClient[] = [];
  private drainQueued = false;
  private readonly due: ClockClient[] = [];
  /** In a walk (timer or drain): the Node timer is settled once at its end, not on every change. */
  private walking = false;

  /** Node timers armed since startup (tests; to see that N associations do not mean N timers). */
  timersArmed = 0;
  /** Timer wake-ups since startup. */
  wakeups = 0;

  constructor(o: ThreadClockOptions) {
    this.grainMs = o.grainMs;
    this.coarseAfterMs = o.coarseAfterMs ?? Infinity;
    this.coarseGrainMs = o.coarseGrainMs ?? o.grainMs;
  }

  /** `at` rounded up to the grain its distance from now asks for: the time the client will be called at. */
  round(at: number): number {
    if (at === Infinity) return at;
    const g = this.coarseAfterMs !== Infinity && at - performance.now() >= this.coarseAfterMs ? this.coarseGrainMs : this.grainMs;
    return Math.ceil(at / g) * g;
  }

  /** How many clients have a deadline. */
  get pending(): number {
    return this.armed;
  }

  /** Sets `c`'s deadline to `at` rounded up (Infinity: none), earlier or later. */
  set(c: ClockClient, at: number): void {
    at = this.round(at);
    const old = c.clockAt;
    if (at === old) return;
    if (old === Infinity) this.armed++;
    else if (at === Infinity) this.armed--;
    c.clockAt = at;
    if (at !== Infinity) {
      this.push(at, c);
      if (this.at.length > this.compactAt) this.compact();
    }
    if (this.walking) return;
    if (at < old) {
      if (at < this.timerAt) this.arm(at);
    } else if (old <= this.timerAt) {
      // it may have been the earliest: the timer may sleep longer now
      this.settle();
    }
  }

  /** `c.onFlush()` from one microtask shared by every client that asks in this tick. */
  soon(c: DrainClient): void {
    if (c.flushQueued) return;
    c.flushQueued = true;
    this.drain.push(c);
    if (!this.drainQueued) {
      this.drainQueued = true;
      queueMicrotask(this.runDrain);
    }
  }

  private readonly runDrain = (): void => {
    const list = this.drain;
    this.walking = true;
    // a drain that asks again lands at the end of this same walk
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      c.flushQueued = false;
      try { c.onFlush(); } catch { /* the client's own fault handling */ }
    }
    list.length = 0;
    this.drainQueued = false;
    this.walking = false;
    this.settle();
  };

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    this.wakeups++;
    const now = performance.now();
    const at = this.at;
    // Take the due clients out first: one that re-arms for a time already past runs on the next
    // timer, not again in this walk.
    const due = this.due;
    while (at.length > 0 && at[0]! <= now) {
      const t = at[0]!;
      const c = this.who[0]!;
      this.pop();
      if (c.clockAt !== t) continue; // stale: moved, fired or cancelled since
      c.clockAt = Infinity;
      this.armed--;
      due.push(c);
    }
    this.walking = true;
    for (let i = 0; i < due.length; i++) {
      try { due[i]!.onClock(); } catch { /* the client's own fault handling */ }
    }
    due.length = 0;
    this.walking = false;
    this.settle();
  };

  /** The one Node timer for the earliest live deadline, or none. */
  private settle(): void {
    while (this.at.length > 0 && this.who[0]!.clockAt !== this.at[0]) this.pop();
    if (this.armed === 0 || this.at.length === 0) {
      this.clear();
      return;
    }
    const g = this.at[0]!;
    if (g !== this.timerAt) this.arm(g);
  }

  private arm(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timersArmed++;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(at - performance.now())));
  }

  private clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    if (this.armed === 0) {
      this.at.length = 0;
      this.who.length = 0;
    }
  }

  /** Keeps only live entries (one per armed client) and rebuilds the heap. */
  private compact(): void {
    const at = this.at, who = this.who;
    let n = 0;
    for (let i = 0; i < at.length; i++) {
      if (who[i]!.clockAt !== at[i]) continue;
      at[n] = at[i]!;
      who[n] = who[i]!;
      n++;
    }
    at.length = n;
    who.length = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.down(i);
    this.compactAt = Math.max(1024, 4 * n);
  }

  private push(t: number, c: ClockClient): void {
    const at = this.at, who = this.who;
    let i = at.length;
    at.push(t);
    who.push(c);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (at[p]! <= t) break;
      at[i] = at[p]!;
      who[i] = who[p]!;
      i = p;
    }
    at[i] = t;
    who[i] = c;
  }

  private pop(): void {
    const at = this.at, who = this.who;
    const lastT = at.pop()!;
    const lastC = who.pop()!;
    if (at.length === 0) return;
    at[0] = lastT;
    who[0] = lastC;
    this.down(0);
  }

  private down(i: number): void {
    const at = this.at, who = this.who;
    const n = at.length;
    const t = at[i]!;
    const c = who[i]!;
    for (;;) {
      let m = 2 * i + 1;
      if (m >= n) break;
      if (m + 1 < n && at[m + 1]! < at[m]!) m++;
      if (at[m]! >= t) break;
      at[i] = at[m]!;
      who[i] = who[m]!;
      i = m;
    }
    at[i] = t;
    who[i] = c;
  }
}

