/** Local backends for event handler tests: an HTTP server and a WebSocket server that record what they get. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface Post {
  headers: IncomingMessage['headers'];
  /** Parsed body: one event, or an array of events when grouping. */
  body: unknown;
}

export interface HttpCollector {
  url: string;
  posts: Post[];
  /** Every event received, arrays flattened, in arrival order. */
  events(): Array<Record<string, unknown>>;
  /** Resolves once `pred` holds over the events (rejects after `ms`). */
  waitFor(pred: (evs: Array<Record<string, unknown>>) => boolean, ms?: number): Promise<void>;
  /** Status code to answer with (default 200). */
  status: number;
  close(): Promise<void>;
}

export async function httpCollector(): Promise<HttpCollector> {
  const posts: Post[] = [];
  let status = 200;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = { unparsable: raw.toString('utf8') };
      }
      if (status === 200) posts.push({ headers: req.headers, body });
      res.statusCode = status;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const events = () => posts.flatMap((p) => (Array.isArray(p.body) ? p.body : [p.body])) as Array<Record<string, unknown>>;
  return {
    url: `http://127.0.0.1:${port}/events`,
    posts,
    events,
    waitFor: (pred, ms = 5000) => poll(() => pred(events()), ms, () => JSON.stringify(events()).slice(0, 2000)),
    get status() {
      return status;
    },
    set status(s: number) {
      status = s;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface WsCollector {
  url: string;
  port: number;
  messages: unknown[];
  protocols: string[];
  events(): Array<Record<string, unknown>>;
  waitFor(pred: (evs: Array<Record<string, unknown>>) => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function wsCollector(port = 0, into?: { messages: unknown[]; protocols: string[] }): Promise<WsCollector> {
  const messages = into?.messages ?? [];
  const protocols = into?.protocols ?? [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port, handleProtocols: (set) => [...set][0] ?? false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (sock) => {
    protocols.push(sock.protocol);
    sock.on('message', (d) => messages.push(JSON.parse(String(d))));
  });
  const actual = (wss.address() as AddressInfo).port;
  const events = () => messages.flatMap((m) => (Array.isArray(m) ? m : [m])) as Array<Record<string, unknown>>;
  return {
    url: `ws://127.0.0.1:${actual}/`,
    port: actual,
    messages,
    protocols,
    events,
    waitFor: (pred, ms = 5000) => poll(() => pred(events()), ms, () => JSON.stringify(events()).slice(0, 2000)),
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

export async function poll(pred: () => boolean, ms: number, what: () => string): Promise<void> {
  const until = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting; got ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A Janus API POST over HTTP with a fresh transaction; the parsed reply. */
export async function janusPost(url: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify({ transaction: Math.random().toString(36).slice(2), ...body }) });
  return (await r.json()) as Record<string, unknown>;
}

/**
 * For comparing Janus's events with ours: ids become their names in `ids` (S1, H1...), and the values of
 * `volatileKeys` (timestamps, emitter...) become their type.
 */
export function maskEvent(v: unknown, ids: Map<number, string>, volatileKeys: readonly string[], key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => maskEvent(x, ids, volatileKeys));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = maskEvent(x, ids, volatileKeys, k);
    return out;
  }
  if (typeof v === 'number' && ids.has(v)) return ids.get(v);
  if (volatileKeys.includes(key)) return `<${typeof v}>`;
  return v;
}
