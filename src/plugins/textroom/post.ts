/**
 * Forwards room messages to a room's HTTP backend (`post`). Fire and forget: the message path
 * never awaits, each request has a timeout, and a backend that stops answering can hold at most
 * `maxInFlight` requests before further ones are dropped (logged), so memory stays bounded too.
 *
 * The target policy (src/security/post-targets.ts) is applied here at send time as well as at
 * create/edit: the connection's DNS lookup only yields addresses the policy allows, and a literal
 * local address is refused before connecting. Redirects are not followed (node:http never does).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../../log.js';
import { PostTargetPolicy } from '../../security/post-targets.js';

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
  /** Posts refused at send time by the policy (diagnostics, tests). */
  refused = 0;

  constructor(
    private readonly log: Logger,
    opts: PosterOptions = {},
    private readonly policy: PostTargetPolicy = new PostTargetPolicy(),
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
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      this.refuse(url, 'not a URL');
      return;
    }
    const why = this.policy.problem(url) ?? (this.policy.literalRefused(target) ? 'local address' : null);
    if (why !== null) {
      this.refuse(url, why);
      return;
    }
    const n = this.inFlight.get(url) ?? 0;
    if (n >= this.maxInFlight) {
      if (!this.saturated.has(url)) this.log.warn(`textroom: backend ${url} has ${n} requests pending, dropping messages until it catches up`);
      this.saturated.add(url);
      return;
    }
    this.inFlight.set(url, n + 1);
    const signal = AbortSignal.any([this.stopAll.signal, AbortSignal.timeout(this.timeoutMs)]);
    const payload = Buffer.from(body, 'utf8');
    const headers = { Accept: 'application/json', 'Content-Type': 'application/json', charsets: 'utf-8', 'Content-Length': String(payload.length) };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      this.settle(url);
    };
    try {
      const req = send(target, { method: 'POST', headers, signal, lookup: this.policy.lookupFor(target) as never }, (res) => {
        res.resume(); // drain, so the connection can be reused
        res.on('end', done);
        res.on('error', done);
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) this.log.warn(`textroom: backend ${url} answered ${status}`);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPOSTPOLICY') this.refused++;
        if (!this.stopAll.signal.aborted) this.log.error(`textroom: couldn't relay message to ${url}: ${describe(err)}`);
        done();
      });
      req.on('close', done);
      req.end(payload);
    } catch (err) {
      this.log.error(`textroom: couldn't relay message to ${url}: ${describe(err)}`);
      done();
    }
  }

  /** Abort everything in flight (plugin shutdown). */
  close(): void {
    this.stopAll.abort();
  }

  private refuse(url: string, why: string): void {
    this.refused++;
    this.log.warn(`textroom: not posting to ${url}: refused by the post policy (${why})`);
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
