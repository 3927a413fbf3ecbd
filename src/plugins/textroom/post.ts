/**
 * Forwards room messages to a room's HTTP backend (`post`). Fire and forget: the message path
 * never awaits, each request has a timeout, and a backend that stops answering can hold at most
 * `maxInFlight` requests before further ones are dropped (logged), so memory stays bounded too.
 */
import type { Logger } from '../../log.js';

export interface PosterOptions {
  timeoutMs?: number;
  maxInFlight?: number;
}

export class HttpPoster {
  private readonly inFlight = new Map<string, number>();
  private readonly saturated = new Set<string>();
  private readonly stopAll = new AbortController();
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly log: Logger,
    opts: PosterOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxInFlight = opts.maxInFlight ?? 64;
  }

  /** Requests started and not yet settled, over all backends. */
  get pending(): number {
    let n = 0;
    for (const v of this.inFlight.values()) n += v;
    return n;
  }

  post(url: string, body: string): void {
    if (this.stopAll.signal.aborted) return;
    const n = this.inFlight.get(url) ?? 0;
    if (n >= this.maxInFlight) {
      if (!this.saturated.has(url)) this.log.warn(`textroom: backend ${url} has ${n} requests pending, dropping messages until it catches up`);
      this.saturated.add(url);
      return;
    }
    this.inFlight.set(url, n + 1);
    const signal = AbortSignal.any([this.stopAll.signal, AbortSignal.timeout(this.timeoutMs)]);
    const headers = { Accept: 'application/json', 'Content-Type': 'application/json', charsets: 'utf-8' };
    void fetch(url, { method: 'POST', headers, body, signal })
      .then(async (res) => {
        await res.arrayBuffer(); // drain, so the connection can be reused
        if (!res.ok) this.log.warn(`textroom: backend ${url} answered ${res.status}`);
      })
      .catch((err: unknown) => {
        if (!this.stopAll.signal.aborted) this.log.error(`textroom: couldn't relay message to ${url}: ${describe(err)}`);
      })
      .finally(() => this.settle(url));
  }

  /** Abort everything in flight (plugin shutdown). */
  close(): void {
    this.stopAll.abort();
  }

  private settle(url: string): void {
    const n = (this.inFlight.get(url) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(url);
    else this.inFlight.set(url, n);
    if (n < this.maxInFlight) this.saturated.delete(url);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
