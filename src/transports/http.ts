/**
 * The REST transport (janus.transport.http): the Janus API on base_path with long polling, and
 * the Admin API on its own loopback listener. JSON in, JSON out; every decision is the core's.
 * As in Janus, each API can also (or only) be served over HTTPS on a port of its own (`https` /
 * `secure_port`, `admin_https` / `admin_secure_port`), with the `certificates` section's PEM files:
 * the secure listeners serve exactly what the plain ones do.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { httpTlsEnabledBy, loadTlsCredentials, type TlsCredentials } from '../config/tls.js';
import type { HttpTransportConfig } from '../config/types.js';
import { ErrorCode } from '../core/errors.js';
import type { Gateway } from '../core/gateway.js';
import { randomTransaction } from '../core/ids.js';
import { errorMessage, message, type JanusMessage } from '../core/messages.js';
import type { TransportInfo } from '../core/transport.js';
import { log } from '../log.js';
import { VERSION_STRING, versionNumber } from '../version.js';
import { bindAddress, type ListenAddress } from './bind.js';
import { parseRequestBytes, requireObject, serialize, type JsonStyle } from './json.js';
import { LongPollRouter, type Poll } from './long-poll.js';

export const HTTP_TRANSPORT_INFO: TransportInfo = {
  package: 'janus.transport.http',
  name: 'JANUS REST (HTTP/HTTPS) transport plugin',
  author: 'The Portunus authors',
  description: 'REST (HTTP) transport for the Janus API, Portunus implementation.',
  version: versionNumber(VERSION_STRING),
  versionString: VERSION_STRING,
};

export interface HttpTransportOptions {
  gateway: Gateway;
  config: HttpTransportConfig;
  /** How long an idle long poll waits before answering `keepalive` (Janus: 30 s). */
  longPollTimeoutMs?: number;
  /** Largest request body accepted; a bigger one is answered 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /**
   * How much of a refused body is still read (and discarded) so the client sees the 413 instead of a
   * connection reset; past it the connection is closed (default 16 MiB).
   */
  hardMaxBodyBytes?: number;
  /** Overrides `general.request_timeout` (headers and body must arrive within it); tests use it. */
  requestTimeoutMs?: number;
}

export const HTTP_MAX_BODY_BYTES = 1024 * 1024;
export const HTTP_HARD_MAX_BODY_BYTES = 16 * 1024 * 1024;

type Api = 'janus' | 'admin';

const MAX_MAXEV = 1000;

export class HttpTransport {
  readonly router = new LongPollRouter();
  private readonly gw: Gateway;
  private readonly cfg: HttpTransportConfig;
  private readonly pollMs: number;
  private readonly maxBody: number;
  private readonly hardMaxBody: number;
  private readonly requestTimeoutMs: number;
  private readonly style: JsonStyle;
  private api: Server | null = null;
  private admin: Server | null = null;
  private apiSecure: Server | null = null;
  private adminSecure: Server | null = null;
  private readonly pollTimers = new Set<NodeJS.Timeout>();

  constructor(opts: HttpTransportOptions) {
    this.gw = opts.gateway;
    this.cfg = opts.config;
    this.pollMs = opts.longPollTimeoutMs ?? 30_000;
    this.maxBody = opts.maxBodyBytes ?? HTTP_MAX_BODY_BYTES;
    this.hardMaxBody = Math.max(this.maxBody, opts.hardMaxBodyBytes ?? HTTP_HARD_MAX_BODY_BYTES);
    this.requestTimeoutMs = opts.requestTimeoutMs ?? opts.config.general.request_timeout * 1000;
    this.style = opts.config.general.json;
  }

  /**
   * Binds the enabled listeners. Rejects if a port cannot be bound or the certificate cannot be used
   * (a ConfigError naming the key); listeners already bound are closed again.
   */
  async start(): Promise<void> {
    const g = this.cfg.general;
    const a = this.cfg.admin;
    try {
      const tlsKeys = httpTlsEnabledBy(this.cfg);
      const tls = tlsKeys.length > 0 ? loadTlsCredentials(this.cfg, { fileName: 'janus.transport.http.jcfg', enabledBy: tlsKeys, ciphers: 'gnutls' }) : null;
      const janus = (req: IncomingMessage, res: ServerResponse) => this.serve('janus', req, res);
      const admin = (req: IncomingMessage, res: ServerResponse) => this.serve('admin', req, res);
      const t = this.requestTimeoutMs;
      if (g.http) this.api = await listen(janus, g.port, bindAddress(g.ip, g.interface, undefined), t);
      if (g.https && tls) this.apiSecure = await listen(janus, g.secure_port, bindAddress(g.secure_ip, g.secure_interface, undefined), t, tls);
      // Portunus binds the Admin API to loopback unless told otherwise (Janus binds every interface).
      if (a.admin_http) this.admin = await listen(admin, a.admin_port, bindAddress(a.admin_ip, a.admin_interface, '127.0.0.1'), t);
      if (a.admin_https && tls) {
        this.adminSecure = await listen(admin, a.admin_secure_port, bindAddress(a.admin_secure_ip, a.admin_secure_interface, '127.0.0.1'), t, tls);
      }
    } catch (err) {
      await Promise.all([close(this.api), close(this.apiSecure), close(this.admin), close(this.adminSecure)]);
      this.api = this.apiSecure = this.admin = this.adminSecure = null;
      throw err;
    }
    if (this.api || this.apiSecure || this.admin || this.adminSecure) this.gw.registerTransport(HTTP_TRANSPORT_INFO);
  }

  /** Bound addresses (null: that listener is off); `secure_*` are the HTTPS ones. */
  addresses(): { api: ListenAddress | null; admin: ListenAddress | null; secure_api: ListenAddress | null; secure_admin: ListenAddress | null } {
    return { api: addressOf(this.api), admin: addressOf(this.admin), secure_api: addressOf(this.apiSecure), secure_admin: addressOf(this.adminSecure) };
  }

  async stop(): Promise<void> {
    this.router.releaseAll();
    for (const t of this.pollTimers) clearTimeout(t);
    this.pollTimers.clear();
    this.gw.unregisterTransport(HTTP_TRANSPORT_INFO.package);
    await Promise.all([close(this.api), close(this.admin), close(this.apiSecure), close(this.adminSecure)]);
    this.api = this.admin = this.apiSecure = this.adminSecure = null;
  }

  private basePath(api: Api): string {
    const p = api === 'janus' ? this.cfg.general.base_path : this.cfg.admin.admin_base_path;
    return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
  }

  private serve(api: Api, req: IncomingMessage, res: ServerResponse): void {
    const cors = this.cfg.cors;
    res.setHeader('Access-Control-Allow-Origin', cors.allow_origin ?? '*');
    res.setHeader('Access-Control-Max-Age', '86400');
    if (cors.allow_origin) res.setHeader('Vary', 'Origin');
    const origin = req.headers.origin;
    if (cors.enforce_cors && cors.allow_origin && origin !== undefined && origin !== cors.allow_origin) {
      return void end(res, 403);
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      req.resume();
      return void end(res, 400);
    }
    const base = this.basePath(api);
    if (url.pathname !== base && !url.pathname.startsWith(base + '/')) return void end(res, 404);
    const comps = url.pathname.slice(base.length).split('/').filter((c) => c.length > 0);
    if (comps.length > 2) return void end(res, 404);

    switch (req.method) {
      case 'OPTIONS': {
        const m = req.headers['access-control-request-method'];
        const h = req.headers['access-control-request-headers'];
        if (m) res.setHeader('Access-Control-Allow-Methods', m);
        if (h) res.setHeader('Access-Control-Allow-Headers', h);
        return void end(res, 200);
      }
      case 'GET':
        return this.get(api, comps, url, req, res);
      case 'POST':
        if (comps.length === 1 && (comps[0] === 'info' || comps[0] === 'ping')) return void end(res, 400);
        return this.post(api, comps, req, res);
      default:
        req.resume();
        return this.reply(res, errorMessage(0, null, ErrorCode.TRANSPORT_SPECIFIC, `Unsupported method ${req.method ?? ''}`));
    }
  }

  private reply(res: ServerResponse, body: unknown, status = 200): void {
    if (res.writableEnded || res.destroyed) return;
    const text = serialize(body, this.style);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private get(api: Api, comps: string[], url: URL, req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    if (comps.length === 1 && comps[0] === 'info') return this.reply(res, this.gw.serverInfo(randomTransaction()));
    if (comps.length === 1 && comps[0] === 'ping') return this.reply(res, message('pong', 0, randomTransaction()));
    if (api === 'admin' || comps.length === 0) return void end(res, 404);
    const sessionId = numericId(comps[0]!);
    if (comps.length === 2) {
      res.setHeader('Location', `${this.basePath(api)}/${comps[0]!}`);
      return void end(res, 302);
    }
    const q = url.searchParams;
    if (!this.gw.checkAuth(q.get('apisecret') ?? undefined, q.get('token') ?? undefined)) return void end(res, 403);
    // The poll counts as a keepalive, like the fake keepalive Janus injects.
    if (sessionId === 0 || !this.gw.touchSession(sessionId)) return void end(res, 404);
    this.longPoll(sessionId, parseMaxev(q.get('maxev')), req, res);
  }

  private longPoll(sessionId: number, max: number, req: IncomingMessage, res: ServerResponse): void {
    const shape = (events: JanusMessage[]): unknown => (max > 1 ? events : events[0]);
    const ready = this.router.take(sessionId, max);
    if (ready.length > 0) return this.reply(res, shape(ready));
    let timer: NodeJS.Timeout | null = null;
    const done = () => {
      if (timer) {
        clearTimeout(timer);
        this.pollTimers.delete(timer);
        timer = null;
      }
      res.off('close', onClose);
    };
    const poll: Poll = {
      max,
      deliver: (events) => {
        done();
        this.reply(res, shape(events));
      },
    };
    const onClose = () => {
      done();
      this.router.cancel(sessionId, poll);
    };
    timer = setTimeout(() => {
      this.router.cancel(sessionId, poll);
      poll.deliver([{ janus: 'keepalive' }]);
    }, this.pollMs);
    this.pollTimers.add(timer);
    res.on('close', onClose);
    this.router.wait(sessionId, poll);
  }

  private post(api: Api, comps: string[], req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    let failed = false;
    const refuse = () => {
      refused = true;
      chunks.length = 0;
      this.tooLarge(res);
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (refused) {
        // Still reading: closing a socket with unread bytes resets it, and the client would see
        // ECONNRESET instead of the 413. Past the hard cap it is not worth the bandwidth.
        if (size > this.hardMaxBody && !req.socket.destroyed) {
          log.warn('http request body over the hard cap, connection closed', { remote: req.socket.remoteAddress, max: this.hardMaxBody });
          req.socket.destroy();
        }
        return;
      }
      if (size > this.maxBody) return refuse();
      chunks.push(c);
    });
    req.on('error', () => {
      failed = true;
    });
    req.on('end', () => {
      if (refused || failed) return;
      this.handleBody(api, comps, Buffer.concat(chunks), res).catch((err: unknown) => {
        log.error('http request failed', { err: String(err) });
        this.reply(res, errorMessage(0, null, ErrorCode.UNKNOWN, 'Unknown error'));
      });
    });
    if (Number(req.headers['content-length'] ?? 0) > this.maxBody) refuse();
  }

  /** Answers 413 at once; the caller keeps draining the body so the answer is not lost to a reset. */
  private tooLarge(res: ServerResponse): void {
    this.reply(res, errorMessage(0, null, ErrorCode.TRANSPORT_SPECIFIC, `Request body too large (max ${this.maxBody} bytes)`), 413);
  }

  private async handleBody(api: Api, comps: string[], bytes: Buffer, res: ServerResponse): Promise<void> {
    const parsed = parseRequestBytes(bytes, 'http');
    if (!parsed.ok) return this.reply(res, parsed.error);
    const checked = requireObject(parsed.value);
    if (!checked.ok) return this.reply(res, checked.error);
    const body = checked.value;
    const sessionId = comps.length > 0 ? numericId(comps[0]!) : 0;
    const handleId = comps.length > 1 ? numericId(comps[1]!) : 0;
    if (sessionId > 0) {
      if (body.session_id !== undefined && body.session_id !== sessionId) {
        return this.reply(res, errorMessage(0, null, ErrorCode.INVALID_REQUEST_PATH, 'Conflicting session ID (payload and path)'));
      }
      body.session_id = sessionId;
    }
    if (handleId > 0) {
      if (body.handle_id !== undefined && body.handle_id !== handleId) {
        return this.reply(res, errorMessage(0, null, ErrorCode.INVALID_REQUEST_PATH, 'Conflicting handle ID (payload and path)'));
      }
      body.handle_id = handleId;
    }
    const answer = api === 'admin' ? await this.gw.admin.handle(body) : await this.gw.handle(body, this.router);
    this.reply(res, answer);
  }
}

/** Path ids: anything that is not a plain positive number counts as absent, as in Janus. */
function numericId(s: string): number {
  if (!/^\d{1,16}$/.test(s)) return 0;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : 0;
}

function parseMaxev(v: string | null): number {
  const n = v === null ? 1 : Number.parseInt(v, 10);
  return Number.isFinite(n) && n >= 1 ? Math.min(n, MAX_MAXEV) : 1;
}

function end(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  port: number,
  host: string | undefined,
  requestTimeoutMs: number,
  tls: TlsCredentials | null = null,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Node's requestTimeout runs until the request (headers and body) has been received, not until it
    // is answered: a stalled upload or slowloris headers get a 408 and the connection closes, while a
    // long poll, received at once and answered up to 30 s later, is not affected. Node checks the
    // timers every connectionsCheckingInterval, so that is the timeout's granularity.
    const timeouts = {
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(requestTimeoutMs / 4))),
    };
    const srv: Server = tls ? createHttpsServer({ ...tls, ...timeouts }, handler) : createServer(timeouts, handler);
    if (tls) {
      // Failed handshakes (scanners, clients that distrust the certificate) are the client's business.
      srv.on('tlsClientError', (err: Error) => log.verb('https handshake failed', { err: err.message }));
    }
    srv.once('error', reject);
    srv.listen(port, host, () => {
      srv.off('error', reject);
      srv.on('error', (err) => log.error(tls ? 'https listener error' : 'http listener error', { err: String(err) }));
      resolve(srv);
    });
  });
}

function addressOf(srv: Server | null): ListenAddress | null {
  const a = srv?.address() as AddressInfo | null | undefined;
  return a ? { host: a.address, port: a.port } : null;
}

function close(srv: Server | null): Promise<void> {
  if (!srv) return Promise.resolve();
  return new Promise((resolve) => {
    srv.close(() => resolve());
    srv.closeAllConnections();
  });
}
