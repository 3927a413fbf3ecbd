/**
 * One full garbage collection once a media worker has gone idle (its last handle left and none came
 * back for a few seconds). Why: the worker allocates almost nothing when idle, so after a burst V8
 * does not run its next major GC for 30-60 s and the garbage of the burst (measured: ~45 MB of
 * a 60 MB heap after 45 s of abuse) stays resident that long; the main thread's memory reducer gives
 * its pages back within ~10 s. A collection on an idle worker costs a few tens of ms with no media to
 * delay, and only runs when the heap grew by `minGrowthBytes` since the last one.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = () => void;

/**
 * V8's gc(): the global one when the process runs with --expose-gc, otherwise one taken from a fresh
 * context with the flag turned on just for that (the flag is turned off again right after, so no other
 * context sees a `gc` global). Null if V8 refuses.
 */
export function obtainGc(): Gc | null {
  const g = (globalThis as { gc?: Gc }).gc;
  if (typeof g === 'function') return g;
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as Gc) : null;
  } catch {
    return null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

export interface IdleGcOptions {
  /** How long the worker must stay without handles (default 5 s). */
  delayMs?: number;
  /** Heap growth since the last collection below which nothing is done (default 8 MiB). */
  minGrowthBytes?: number;
  gc?: Gc | null;
  usedHeap?: () => number;
}

export class IdleGc {
  private timer: NodeJS.Timeout | null = null;
  private readonly delayMs: number;
  private readonly minGrowth: number;
  private readonly gc: Gc | null;
  private readonly usedHeap: () => number;
  private baseline: number;
  /** Collections run so far (tests, diagnostics). */
  runs = 0;

  constructor(opts: IdleGcOptions = {}) {
    this.delayMs = opts.delayMs ?? 5000;
    this.minGrowth = opts.minGrowthBytes ?? 8 * 1024 * 1024;
    this.gc = opts.gc === undefined ? obtainGc() : opts.gc;
    this.usedHeap = opts.usedHeap ?? (() => getHeapStatistics().used_heap_size);
    this.baseline = this.usedHeap();
  }

  /** Call whenever the number of live handles changes. */
  handles(count: number): void {
    if (count > 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      return;
    }
    if (this.timer || !this.gc) return;
    this.timer = setTimeout(() => this.collect(), this.delayMs);
    this.timer.unref();
  }

  private collect(): void {
    this.timer = null;
    if (this.usedHeap() - this.baseline < this.minGrowth) return;
    this.gc!();
    this.runs++;
    this.baseline = this.usedHeap();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
