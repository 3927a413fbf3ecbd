/**
 * Small Janus API client utilities for end-to-end tests: HTTP (POST JSON, long-poll GET),
 * and WebSocket (subprotocol janus-protocol / janus-admin-protocol, transaction matching).
 * Works against the real Janus and against Portunus alike.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  /** Raw body text. */
  text: string;
  /** Parsed body, or undefined if it was empty or not JSON. */
  json: Json | undefined;
}

export function tx(prefix = 't'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

async function toReply(res: Response): Promise<HttpReply> {
  const text = await res.text();
  let json: Json | undefined;
  if (text.length > 0) {
    try {
      json = JSON.parse(text) as Json;
    } catch {
      json = undefined;
    }
  }
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    headers[k] = v;
  });
  return { status: res.status, headers, text, json };
}

/** POST a body to url. Objects are JSON-encoded; strings are sent verbatim (for malformed-JSON tests). */
export async function post(url: string, body: unknown, timeoutMs = 15_000): Promise<HttpReply> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: payload,
    signal: AbortSignal.timeout(timeoutMs),
  });
  return toReply(res);
}

export async function get(url: string, timeoutMs = 15_000): Promise<HttpReply> {
  const res = await fetch(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  return toReply(res);
}

/** POST and return the parsed JSON object, throwing (with the raw text) if the answer is not a JSON object. */
export async function postJson(url: string, body: unknown, timeoutMs = 15_000): Promise<JsonObject> {
  const r = await post(url, body, timeoutMs);
  if (r.json === undefined || r.json === null || typeof r.json !== 'object' || Array.isArray(r.json)) {
    throw new Error(`POST ${url} ${JSON.stringify(body)}: expected a JSON object, got HTTP ${r.status}: ${r.text.slice(0, 500)}`);
  }
  return r.json;
}

/**
 * HTTP long poll: GET <base>/<session>?maxev=N. With maxev>1 the server answers an array.
 * Janus holds the request up to 30 s when nothing is queued: keep timeoutMs above what you expect.
 */
export async function longPoll(janusUrl: string, sessionId: number | string, opts: { maxev?: number; query?: string; timeoutMs?: number } = {}): Promise<HttpReply> {
  const q: string[] = [];
  if (opts.maxev !== undefined) q.push(`maxev=${opts.maxev}`);
  if (opts.query) q.push(opts.query);
  const url = `${janusUrl}/${sessionId}${q.length ? `?${q.join('&')}` : ''}`;
  return get(url, opts.timeoutMs ?? 35_000);
}

/**
 * Long-poll until an event matching pred arrives (keepalives and other events are collected and returned too).
 * Returns every event received, the matching one last.
 */
export async function pollUntil(janusUrl: string, sessionId: number | string, pred: (e: JsonObject) => boolean, timeoutMs = 10_000): Promise<JsonObject[]> {
  const deadline = Date.now() + timeoutMs;
  const seen: JsonObject[] = [];
  while (Date.now() < deadline) {
    const r = await longPoll(janusUrl, sessionId, { maxev: 10, timeoutMs: Math.max(1000, deadline - Date.now() + 1000) });
    const arr = Array.isArray(r.json) ? r.json : [r.json];
    for (const e of arr) {
      if (e && typeof e === 'object' && !Array.isArray(e)) {
        seen.push(e);
        if (pred(e)) return seen;
      }
    }
    if (r.status !== 200) throw new Error(`long poll answered HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  }
  throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(seen).slice(0, 1000)}`);
}

/** A WebSocket Janus API client with transaction matching and an event buffer. */
export class WsClient {
  private readonly ws: WebSocket;
  /** Every message received, in order. */
  readonly received: JsonObject[] = [];
  private readonly unconsumed: JsonObject[] = [];
  private waiters: { pred: (m: JsonObject) => boolean; resolve: (m: JsonObject) => void }[] = [];
  private closedWith: { code: number; reason: string } | null = null;
  private readonly closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];
  /** Non-JSON frames (should never happen). */
  readonly garbage: string[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const text = data.toString();
      let msg: unknown;
      try {
        msg = JSON.parse(text);
      } catch {
        this.garbage.push(text);
        return;
      }
      if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
        this.garbage.push(text);
        return;
      }
      const m = msg as JsonObject;
      this.received.push(m);
      const i = this.waiters.findIndex((w) => w.pred(m));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        w!.resolve(m);
      } else {
        this.unconsumed.push(m);
      }
    });
    ws.on('close', (code, reason) => {
      this.closedWith = { code, reason: reason.toString() };
      for (const w of this.closeWaiters.splice(0)) w(this.closedWith);
    });
    ws.on('error', () => {
      /* surfaced through close */
    });
  }

  static connect(url: string, protocol = 'janus-protocol', timeoutMs = 5000): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocol);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`WebSocket ${url} (${protocol}) did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new WsClient(ws));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`WebSocket ${url} (${protocol}): ${err.message}`));
      });
    });
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Send a raw frame (object is JSON-encoded, string verbatim). */
  sendRaw(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Wait for the next message (already buffered or future) matching pred. */
  waitFor(pred: (m: JsonObject) => boolean, timeoutMs = 5000, what = 'message'): Promise<JsonObject> {
    const i = this.unconsumed.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.unconsumed.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (m: JsonObject) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`WebSocket: no ${what} within ${timeoutMs} ms; unconsumed: ${JSON.stringify(this.unconsumed).slice(0, 800)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Send a request (a transaction is added if absent) and resolve with the first reply carrying its transaction. */
  async request(msg: Record<string, unknown>, timeoutMs = 5000): Promise<JsonObject> {
    const body = { ...msg };
    if (!('transaction' in body)) body.transaction = tx('ws');
    const t = body.transaction;
    const p = this.waitFor((m) => m.transaction === t, timeoutMs, `reply to ${JSON.stringify(body).slice(0, 200)}`);
    this.sendRaw(body);
    return p;
  }

  /** Messages received but not consumed by request()/waitFor(). */
  pending(): JsonObject[] {
    return [...this.unconsumed];
  }

  waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closedWith) return Promise.resolve(this.closedWith);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`WebSocket not closed within ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closedWith) return;
    this.ws.close();
    try {
      await this.waitClosed(2000);
    } catch {
      this.ws.terminate();
    }
  }
}
