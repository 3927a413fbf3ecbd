/**
 * The core's side of event handlers: builds each event once (only if some handler subscribed to its
 * type) and hands it to every handler's queue. Emitting never waits and never throws.
 */
import { performance } from 'node:perf_hooks';
import { fault } from '../core/fault.js';
import type { Logger } from '../log.js';
import type { EventHandler, HandlerStats, JanusEvent } from './types.js';

export interface EventIds {
  sessionId?: number;
  handleId?: number;
  opaqueId?: string | null;
}

export class EventBus {
  constructor(
    /** The `emitter` of every event: general.server_name, as Janus does. */
    readonly emitter: string,
    readonly handlers: readonly EventHandler[],
    private readonly log: Logger,
    /** events.stats_period (s, 0 = off) and events.combine_media_stats, for media statistics. */
    readonly statsPeriod = 1,
    readonly combineMediaStats = false,
  ) {}

  /** Whether any handler wants events of `type`: call it before building an event's payload. */
  wants(type: number): boolean {
    for (const h of this.handlers) if ((h.mask & type) !== 0) return true;
    return false;
  }

  emit(type: number, subtype: number | null, ids: EventIds, event: Record<string, unknown>): void {
    if (!this.wants(type)) return;
    const ev: JanusEvent = { emitter: this.emitter, type } as JanusEvent;
    if (subtype !== null) ev.subtype = subtype;
    ev.timestamp = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    if (ids.sessionId) ev.session_id = ids.sessionId;
    if (ids.handleId) ev.handle_id = ids.handleId;
    if (ids.opaqueId !== undefined && ids.opaqueId !== null) ev.opaque_id = ids.opaqueId;
    ev.event = event;
    for (const h of this.handlers) {
      try {
        h.enqueue(ev);
      } catch (err) {
        fault(this.log, 'event_handler', err, { where: `${h.package} enqueue` });
      }
    }
  }

  get(pkg: string): EventHandler | undefined {
    return this.handlers.find((h) => h.package === pkg);
  }

  /** What `info` lists under `events`. */
  describe(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const h of this.handlers) {
      out[h.package] = { name: h.name, author: h.author, description: h.description, version_string: h.versionString, version: h.version };
    }
    return out;
  }

  stats(): Record<string, HandlerStats> {
    const out: Record<string, HandlerStats> = {};
    for (const h of this.handlers) out[h.package] = h.stats();
    return out;
  }

  /** Shutdown: give the backends up to `ms` to take what is queued, then close them. */
  async close(ms: number): Promise<void> {
    await Promise.all(this.handlers.map((h) => h.flush(ms).catch(() => {})));
    await Promise.all(this.handlers.map((h) => h.close().catch(() => {})));
  }
}
