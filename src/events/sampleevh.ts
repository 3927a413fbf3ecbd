/**
 * janus.eventhandler.sampleevh: events as HTTP POSTs of JSON to `backend` (basic auth, optional gzip),
 * retried with exponential backoff. Same package name and config file as Janus's, so an operator's
 * janus.eventhandler.sampleevh.jcfg and collector keep working.
 */
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';
import type { SampleEvhConfig } from '../config/types.js';
import { QueueingHandler, queueLimits } from './queue.js';
import { eventMask, type EventHandler } from './types.js';
import { tweakError, tweakFields } from './tweak.js';

const gzipAsync = promisify(gzip);

/** One POST may not hang the queue forever: past this the attempt counts as failed (and is retried). */
const REQUEST_TIMEOUT_MS = 5000;

export interface SampleEvhOptions {
  log: Logger;
  maxQueue?: number;
  maxBatch?: number;
  requestTimeoutMs?: number;
}

export class SampleEventHandler extends QueueingHandler implements EventHandler {
  readonly package = 'janus.eventhandler.sampleevh';
  readonly name = 'JANUS SampleEventHandler plugin';
  readonly author = 'Meetecho s.r.l.';
  readonly description = 'This is a trivial sample event handler plugin for Janus, which forwards events via HTTP POST.';
  readonly version = 1;
  readonly versionString = '0.0.1';
  private backend: string;
  private auth: string | null;
  private user: string | null;
  private pwd: string | null;
  private maxRetransmissions: number;
  private backoffMs: number;
  private compress: boolean;
  private compression: number;
  private readonly requestTimeoutMs: number;
  /** In-flight request and backoff wait, so close() can cut them short. */
  private readonly aborter = new AbortController();
  private lostInOutage = 0;

  constructor(cfg: SampleEvhConfig & { backend: string }, opts: SampleEvhOptions) {
    super({ mask: eventMask(cfg.events), grouping: cfg.grouping, json: cfg.json, log: opts.log, ...queueLimits(opts) });
    this.backend = cfg.backend;
    this.user = cfg.backend_user;
    this.pwd = cfg.backend_pwd;
    this.auth = basicAuth(this.user, this.pwd);
    this.maxRetransmissions = cfg.max_retransmissions;
    this.backoffMs = cfg.retransmissions_backoff;
    this.compress = cfg.compress;
    this.compression = cfg.compression;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  protected async deliver(payload: string, count: number): Promise<boolean> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.auth) headers.authorization = this.auth;
    let body: string | Buffer = payload;
    if (this.compress) {
      body = await gzipAsync(payload, { level: this.compression });
      headers['content-encoding'] = 'gzip';
    }
    for (let attempt = 0; attempt <= this.maxRetransmissions; attempt++) {
      if (this.closed && this.aborter.signal.aborted) return false;
      if (attempt > 0 && !(await this.wait(this.backoffMs * 2 ** (attempt - 1)))) return false;
      const why = await this.post(body, headers);
      if (why === null) {
        if (this.lostInOutage > 0) this.log.info('event handler backend reachable again', { backend: this.backend, lost: this.lostInOutage });
        this.lostInOutage = 0;
        return true;
      }
      this.log.verb('event handler POST failed', { backend: this.backend, attempt, events: count, err: why });
      if (attempt === this.maxRetransmissions) {
        // Once per outage: a dead backend must not flood the log with one line per batch.
        if (this.lostInOutage === 0) this.log.warn('event handler POST failed, events lost until the backend answers', { backend: this.backend, events: count, attempts: attempt + 1, err: why });
        this.lostInOutage += count;
      }
    }
    return false;
  }

  /** null on success, else why it failed. */
  private async post(body: string | Buffer, headers: Record<string, string>): Promise<string | null> {
    try {
      const res = await fetch(this.backend, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.any([this.aborter.signal, AbortSignal.timeout(this.requestTimeoutMs)]),
      });
      // The body is irrelevant, but must be consumed for the connection to be reused.
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (err) {
      return err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    }
  }

  /** Backoff sleep; false if the handler was closed meanwhile. */
  private wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const signal = this.aborter.signal;
      if (signal.aborted) return resolve(false);
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      const onAbort = (): void => {
        clearTimeout(t);
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  handleRequest(request: Record<string, unknown>): Record<string, unknown> {
    const f = tweakFields(request, {
      events: 'string',
      grouping: 'boolean',
      backend: 'string',
      backend_user: 'string',
      backend_pwd: 'string',
      max_retransmissions: 'integer',
      retransmissions_backoff: 'integer',
      compress: 'boolean',
      compression: 'integer',
    });
    if ('error_code' in f) return f;
    const v = f.values;
    if (v.backend !== undefined && !/^https?:\/\//i.test(v.backend as string)) return tweakError(413, 'Invalid element (backend should be an http(s) URL)');
    if (v.max_retransmissions !== undefined && (v.max_retransmissions as number) < 0) return tweakError(413, 'Invalid element (max_retransmissions should be >= 0)');
    if (v.retransmissions_backoff !== undefined && (v.retransmissions_backoff as number) < 1) return tweakError(413, 'Invalid element (retransmissions_backoff should be positive)');
    if (v.compression !== undefined && ((v.compression as number) < 1 || (v.compression as number) > 9)) return tweakError(413, 'Invalid element (compression should be 1-9)');
    if (v.events !== undefined) this.mask = eventMask((v.events as string).split(','));
    if (v.grouping !== undefined) this.grouping = v.grouping as boolean;
    if (v.backend !== undefined) this.backend = v.backend as string;
    if (v.backend_user !== undefined) this.user = v.backend_user as string;
    if (v.backend_pwd !== undefined) this.pwd = v.backend_pwd as string;
    if (v.backend_user !== undefined || v.backend_pwd !== undefined) this.auth = basicAuth(this.user, this.pwd);
    if (v.max_retransmissions !== undefined) this.maxRetransmissions = v.max_retransmissions as number;
    if (v.retransmissions_backoff !== undefined) this.backoffMs = v.retransmissions_backoff as number;
    if (v.compress !== undefined) this.compress = v.compress as boolean;
    if (v.compression !== undefined) this.compression = v.compression as number;
    return { result: 200 };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.aborter.abort();
    this.discard();
  }
}

function basicAuth(user: string | null, pwd: string | null): string | null {
  if (user === null || pwd === null) return null;
  return `Basic ${Buffer.from(`${user}:${pwd}`).toString('base64')}`;
}
