/** IPC between bench/textroom-scale.ts and its client processes, and the latency histogram they share. */

export type ScaleRequest = { id: number } & (
  | { op: 'init'; wsUrl: string; address: string; portMin: number; portMax: number }
  | { op: 'connect'; names: string[] }
  | { op: 'phase'; phase: string }
  | { op: 'send'; senders: number[]; rate: number; seconds: number }
  | { op: 'state' }
  | { op: 'close' }
);
export type ScaleReply = { id: number; value?: unknown; error?: string };

export interface ScaleState {
  members: number;
  /** Messages of the current phase received in order, each once. */
  accepted: number;
  /** Received out of order, twice, or after a gap (each gap counted once). */
  violations: number;
  violationSample: string;
  hist: [number, number][];
  /** Epoch ms of the last message of the phase received. */
  lastAt: number;
  cpuUs: number;
}

const FINE_MS = 100;
const MAX_MS = 120_000;

/** 0.1 ms buckets below 100 ms, 1 ms buckets up to 120 s: merged across processes, percentiles at the end. */
export class LatencyHistogram {
  private readonly counts = new Map<number, number>();
  total = 0;

  private static bucket(ms: number): number {
    if (ms < 0) ms = 0;
    if (ms < FINE_MS) return Math.floor(ms * 10);
    return FINE_MS * 10 + Math.floor(Math.min(ms, MAX_MS) - FINE_MS);
  }

  private static upper(b: number): number {
    return b < FINE_MS * 10 ? (b + 1) / 10 : b - FINE_MS * 10 + FINE_MS + 1;
  }

  add(ms: number): void {
    const b = LatencyHistogram.bucket(ms);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.total++;
  }

  merge(entries: [number, number][]): void {
    for (const [b, n] of entries) {
      this.counts.set(b, (this.counts.get(b) ?? 0) + n);
      this.total += n;
    }
  }

  toJSON(): [number, number][] {
    return [...this.counts.entries()];
  }

  /** Upper edge of the bucket holding quantile q (0..1), in ms. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const target = Math.ceil(q * this.total);
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b)!;
      if (seen >= target) return LatencyHistogram.upper(b);
    }
    return NaN;
  }
}
