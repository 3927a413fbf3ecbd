/**
 * The delivery half every backend shares: a bounded queue drained by one sender at a time, so a
 * slow or dead backend costs memory up to the bound and then only a counter, never a request's time.
 */
import { fault, inject } from '../core/fault.js';
import type { Logger } from '../log.js';
import type { JsonFormat } from '../config/types.js';
import type { EventHandler, HandlerStats, JanusEvent } from './types.js';

/** Events held while the backend is slow or away; beyond this they are dropped (and counted). */
export const DEFAULT_MAX_QUEUE = 10_000;
/** Events per delivery when grouping: bounds one POST / message, like a busy Janus batches what queued. */
export const DEFAULT_MAX_BATCH = 100;

export interface QueueOptions {
  mask: number;
  grouping: boolean;
  json: JsonFormat;
  log: Logger;
  maxQueue?: number;
  maxBatch?: number;
}

export abstract class QueueingHandler implements Pick<EventHandler, 'enqueue' | 'flush' | 'stats' | 'mask'> {
  mask: number;
  protected grouping: boolean;
  protected readonly log: Logger;
  private readonly json: JsonFormat;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private queue: JanusEvent[] = [];
  private sending = false;
  protected closed = false;
  private readonly counters = { sent: 0, dropped: 0, failed: 0 };
  /** Drops since the last successful delivery: logged once per outage, not once per event. */
  private dropsInOutage = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(opts: QueueOptions) {
    this.mask = opts.mask;
    this.grouping = opts.grouping;
    this.json = opts.json;
    this.log = opts.log;
    this.maxQueue = Math.max(1, opts.maxQueue ?? DEFAULT_MAX_QUEUE);
    this.maxBatch = Math.max(1, opts.maxBatch ?? DEFAULT_MAX_BATCH);
  }

  /** Send one payload (a JSON object, or an array when grouping). Resolves false when it could not be delivered. */
  protected abstract deliver(payload: string, count: number): Promise<boolean>;

  /** Whether the backend can take a delivery now (the WebSocket backend waits for its connection). */
  protected ready(): boolean {
    return true;
  }

  enqueue(ev: JanusEvent): void {
    if (this.closed || (this.mask & ev.type) === 0) return;
    if (this.queue.length >= this.maxQueue) {
      this.counters.dropped++;
      if (this.dropsInOutage++ === 0) this.log.warn('event handler queue full, dropping events until the backend catches up', { queued: this.queue.length });
      return;
    }
    this.queue.push(ev);
    this.kick();
  }

  /** Start the sender if it is idle and there is work. */
  protected kick(): void {
    if (this.sending || this.queue.length === 0 || !this.ready()) return;
    this.sending = true;
    // Never on the emitter's stack: emission stays O(1) for the request that caused it.
    setImmediate(() => {
      this.pump().catch((err: unknown) => {
        this.sending = false;
        fault(this.log, 'event_handler', err, { where: 'pump' });
      });
    });
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.ready()) {
        const batch = this.queue.splice(0, this.grouping ? this.maxBatch : 1);
        let ok = false;
        try {
          inject('event_handler');
          ok = await this.deliver(serialize(this.grouping ? batch : batch[0], this.json), batch.length);
        } catch (err) {
          // A backend's bug loses this batch (counted as failed), not the process or the next batch.
          fault(this.log, 'event_handler', err, { where: 'deliver' });
        }
        if (ok) {
          this.counters.sent += batch.length;
          if (this.dropsInOutage > 0) this.log.info('event handler backend caught up', { dropped: this.dropsInOutage });
          this.dropsInOutage = 0;
        } else {
          this.counters.failed += batch.length;
        }
      }
    } finally {
      this.sending = false;
      if (this.queue.length > 0 && this.ready()) this.kick();
      else if (this.queue.length === 0) this.wakeIdle();
    }
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  flush(ms: number): Promise<void> {
    if (this.queue.length === 0 && !this.sending) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }

  /** Give up on what is still queued (counted as dropped). */
  protected discard(): void {
    this.counters.dropped += this.queue.length;
    this.queue = [];
    this.wakeIdle();
  }

  stats(): HandlerStats {
    return { queued: this.queue.length, ...this.counters };
  }
}

/**
 * JSON as the operator asked: "compact" (no spaces), "indented" (jansson's 3-space indent) or
 * "plain" (one line with ", " and ": " separators, jansson's JSON_INDENT(0)).
 */
/** The queue bounds a backend's options may override (undefined ones keep the defaults). */
export function queueLimits(o: { maxQueue?: number; maxBatch?: number }): { maxQueue?: number; maxBatch?: number } {
  return { ...(o.maxQueue !== undefined ? { maxQueue: o.maxQueue } : {}), ...(o.maxBatch !== undefined ? { maxBatch: o.maxBatch } : {}) };
}

export function serialize(v: unknown, format: JsonFormat): string {
  if (format === 'compact') return JSON.stringify(v);
  if (format === 'indented') return JSON.stringify(v, null, 3);
  return plain(v);
}

function plain(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => plain(x === undefined ? null : x)).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v)) if (x !== undefined) parts.push(`${JSON.stringify(k)}: ${plain(x)}`);
    return `{${parts.join(', ')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
