/**
 * janus.eventhandler.wsevh: events as WebSocket messages to `backend` (with `subprotocol`), over one
 * long-lived connection that is re-established with backoff when it drops. Events queue (bounded)
 * while disconnected and go out once connected again.
 */
import WebSocket from 'ws';
import { fault } from '../core/fault.js';
import type { Logger } from '../log.js';
import type { WsEvhConfig } from '../config/types.js';
import { QueueingHandler, queueLimits } from './queue.js';
import { eventMask, type EventHandler } from './types.js';
import { tweakFields } from './tweak.js';

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 15_000;

export interface WsEvhOptions {
  log: Logger;
  maxQueue?: number;
  maxBatch?: number;
  reconnectMinMs?: number;
}

export class WsEventHandler extends QueueingHandler implements EventHandler {
  readonly package = 'janus.eventhandler.wsevh';
  readonly name = 'JANUS WebSockets EventHandler plugin';
  readonly author = 'Meetecho s.r.l.';
  readonly description = 'This is a trivial WebSockets event handler plugin for Janus.';
  readonly version = 1;
  readonly versionString = '0.0.1';
  private ws: WebSocket | null = null;
  private open = false;
  private reconnectMs: number;
  private readonly reconnectMin: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** Connections made so far (the first one and every reconnection). */
  connects = 0;

  constructor(
    private readonly cfg: WsEvhConfig & { backend: string },
    opts: WsEvhOptions,
  ) {
    super({ mask: eventMask(cfg.events), grouping: cfg.grouping, json: cfg.json, log: opts.log, ...queueLimits(opts) });
    this.reconnectMin = opts.reconnectMinMs ?? RECONNECT_MIN_MS;
    this.reconnectMs = this.reconnectMin;
    this.connect();
  }

  protected override ready(): boolean {
    return this.open;
  }

  private connect(): void {
    if (this.closed) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.cfg.backend, this.cfg.subprotocol ? [this.cfg.subprotocol] : [], { handshakeTimeout: 5000 });
    } catch (err) {
      this.log.warn('event handler WebSocket: cannot connect', { backend: this.cfg.backend, err: String(err) });
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.on('open', () => {
      this.open = true;
      this.connects++;
      this.reconnectMs = this.reconnectMin;
      this.log.info('event handler WebSocket connected', { backend: this.cfg.backend });
      this.kick();
    });
    // The backend talks back only to say things we do not act on (Janus's handler ignores them too).
    ws.on('message', () => {});
    ws.on('error', (err) => this.log.verb('event handler WebSocket error', { backend: this.cfg.backend, err: String(err) }));
    ws.on('close', () => {
      const was = this.open;
      this.open = false;
      if (this.ws === ws) this.ws = null;
      if (was) this.log.warn('event handler WebSocket closed, reconnecting', { backend: this.cfg.backend });
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectMs;
    this.reconnectMs = Math.min(RECONNECT_MAX_MS, this.reconnectMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      try {
        this.connect();
      } catch (err) {
        fault(this.log, 'event_handler', err, { where: 'reconnect' });
      }
    }, delay);
    this.reconnectTimer.unref();
  }

  protected deliver(payload: string): Promise<boolean> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    return new Promise((resolve) => ws.send(payload, (err) => resolve(!err)));
  }

  handleRequest(request: Record<string, unknown>): Record<string, unknown> {
    const f = tweakFields(request, { events: 'string', grouping: 'boolean' });
    if ('error_code' in f) return f;
    if (typeof f.values.events === 'string') this.mask = eventMask(f.values.events.split(','));
    if (typeof f.values.grouping === 'boolean') this.grouping = f.values.grouping;
    return { result: 200 };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.discard();
    const ws = this.ws;
    this.ws = null;
    this.open = false;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1000);
        ws.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        try {
          ws.close(1000);
        } catch {
          ws.terminate();
        }
      });
    }
  }
}
