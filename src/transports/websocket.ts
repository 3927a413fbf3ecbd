/**
 * The WebSocket transport (janus.transport.websockets): `janus-protocol` for the Janus API and
 * `janus-admin-protocol` for the Admin API, each on its own port. A socket owns the sessions it
 * created or claimed and receives their events; closing it ends them (see reclaim_session_timeout).
 * As in Janus, both APIs can also (or only) be served as secure WebSockets (`wss` / `wss_port`,
 * `admin_wss` / `admin_wss_port`) with the `certificates` section's PEM files, on ports of their own.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { loadTlsCredentials, wsTlsEnabledBy, type TlsCredentials } from '../config/tls.js';
import type { WsTransportConfig } from '../config/types.js';
import { ErrorCode } from '../core/errors.js';
import type { Gateway } from '../core/gateway.js';
import { errorMessage, type JanusMessage } from '../core/messages.js';
import type { SessionOverReason, TransportClient, TransportInfo } from '../core/transport.js';
import { log } from '../log.js';
import { VERSION_STRING, versionNumber } from '../version.js';
import { bindAddress, type ListenAddress } from './bind.js';
import { parseRequestBytes, scanTransaction, serialize, type JsonStyle } from './json.js';

export const WS_TRANSPORT_INFO: TransportInfo = {
  package: 'janus.transport.websockets',
  name: 'JANUS WebSockets transport plugin',
  author: 'The Portunus authors',
  description: 'WebSockets transport for the Janus API, Portunus implementation.',
  version: versionNumber(VERSION_STRING),
  versionString: VERSION_STRING,
};

export const JANUS_PROTOCOL = 'janus-protocol';
export const ADMIN_PROTOCOL = 'janus-admin-protocol';

export interface WebSocketTransportOptions {
  gateway: Gateway;
  config: WsTransportConfig;
  /** Largest message processed; a bigger one gets a 454 error reply and the socket stays open (default 1 MiB). */
  maxMessageBytes?: number;
  /** Largest message received at all; a bigger one closes the socket with 1009 (default 16 MiB). */
  hardMaxMessageBytes?: number;
  /** Time for an upgrade request's headers to arrive (slowloris); default 10 s like HTTP's request_timeout. */
  upgradeTimeoutMs?: number;
}

/** Defaults: the soft limit matches HTTP's body limit; the hard cap bounds what one message may buffer. */
export const WS_MAX_MESSAGE_BYTES = 1024 * 1024;
export const WS_HARD_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const WS_UPGRADE_TIMEOUT_MS = 10_000;

type Api = 'janus' | 'admin';

class WsClient implements TransportClient {
  readonly transport = WS_TRANSPORT_INFO.package;
  pongTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly ws: WebSocket,
    private readonly style: JsonStyle,
  ) {}

  send(msg: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(serialize(msg, this.style));
  }
  sendEvent(_sessionId: number, event: JanusMessage): void {
    this.send(event);
  }
  sessionOver(_sessionId: number, _reason: SessionOverReason): void {
    // The core tracks which sessions a socket owns; nothing to forget here.
  }
}

export class WebSocketTransport {
  private readonly gw: Gateway;
  private readonly cfg: WsTransportConfig;
  private readonly maxMessage: number;
  private readonly hardMaxMessage: number;
  private readonly upgradeTimeoutMs: number;
  private readonly servers: Array<{ api: Api; secure: boolean; http: Server; wss: WebSocketServer }> = [];
  private readonly clients = new Set<WsClient>();
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(opts: WebSocketTransportOptions) {
    this.gw = opts.gateway;
    this.cfg = opts.config;
    this.hardMaxMessage = opts.hardMaxMessageBytes ?? WS_HARD_MAX_MESSAGE_BYTES;
    this.upgradeTimeoutMs = opts.upgradeTimeoutMs ?? WS_UPGRADE_TIMEOUT_MS;
    this.maxMessage = Math.min(opts.maxMessageBytes ?? WS_MAX_MESSAGE_BYTES, this.hardMaxMessage);
  }

  /**
   * Binds the enabled listeners. Rejects if a port cannot be bound or the certificate cannot be used
   * (a ConfigError naming the key); listeners already bound are closed again.
   */
  async start(): Promise<void> {
    const g = this.cfg.general;
    const a = this.cfg.admin;
    try {
      const tlsKeys = wsTlsEnabledBy(this.cfg);
      const tls = tlsKeys.length > 0 ? loadTlsCredentials(this.cfg, { fileName: 'janus.transport.websockets.jcfg', enabledBy: tlsKeys, ciphers: 'openssl' }) : null;
      if (g.ws) await this.listen('janus', g.ws_port, bindAddress(g.ws_ip, g.ws_interface, undefined));
      if (g.wss && tls) await this.listen('janus', g.wss_port, bindAddress(g.wss_ip, g.wss_interface, undefined), tls);
      if (a.admin_ws) await this.listen('admin', a.admin_ws_port, bindAddress(a.admin_ws_ip, a.admin_ws_interface, '127.0.0.1'));
      // Like the plain Admin listener: loopback unless configured (Janus binds every interface).
      if (a.admin_wss && tls) await this.listen('admin', a.admin_wss_port, bindAddress(a.admin_wss_ip, a.admin_wss_interface, '127.0.0.1'), tls);
    } catch (err) {
      await this.closeServers();
      throw err;
    }
    if (this.servers.length > 0) this.gw.registerTransport(WS_TRANSPORT_INFO);
    if (g.pingpong_trigger > 0) {
      const timeoutMs = Math.max(1, g.pingpong_timeout || g.pingpong_trigger) * 1000;
      this.pingTimer = setInterval(() => this.pingAll(timeoutMs), g.pingpong_trigger * 1000);
    }
  }

  /** Bound addresses (null: that listener is off); `secure_*` are the WSS ones. */
  addresses(): { api: ListenAddress | null; admin: ListenAddress | null; secure_api: ListenAddress | null; secure_admin: ListenAddress | null } {
    const of = (api: Api, secure: boolean) => {
      const a = this.servers.find((s) => s.api === api && s.secure === secure)?.http.address() as AddressInfo | null | undefined;
      return a ? { host: a.address, port: a.port } : null;
    };
    return { api: of('janus', false), admin: of('admin', false), secure_api: of('janus', true), secure_admin: of('admin', true) };
  }

  async stop(): Promise<void> {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    for (const c of this.clients) {
      if (c.pongTimer) clearTimeout(c.pongTimer);
      c.ws.close(1001, 'Server shutting down');
    }
    this.gw.unregisterTransport(WS_TRANSPORT_INFO.package);
    await this.closeServers();
    this.clients.clear();
  }

  private async closeServers(): Promise<void> {
    await Promise.all(
      this.servers.map(
        ({ http, wss }) =>
          new Promise<void>((resolve) => {
            for (const ws of wss.clients) ws.terminate();
            wss.close(() => http.close(() => resolve()));
            http.closeAllConnections();
          }),
      ),
    );
    this.servers.length = 0;
  }

  private listen(api: Api, port: number, host: string | undefined, tls: TlsCredentials | null = null): Promise<void> {
    const protocol = api === 'janus' ? JANUS_PROTOCOL : ADMIN_PROTOCOL;
    const onRequest = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(426, { 'Content-Type': 'text/plain' });
      res.end('WebSocket only\n');
    };
    // Only the upgrade request is timed: once upgraded, the socket is the WebSocket's (pings keep it honest).
    const t = this.upgradeTimeoutMs;
    const timeouts = { requestTimeout: t, headersTimeout: t, connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(t / 4))) };
    const http: Server = tls ? createHttpsServer({ ...tls, ...timeouts }, onRequest) : createServer(timeouts, onRequest);
    if (tls) http.on('tlsClientError', (err: Error) => log.verb('wss handshake failed', { err: err.message }));
    const wss = new WebSocketServer({
      server: http,
      // ws would close the socket (1007, 1009) on a bad message and lose every reply still owed on it;
      // we check UTF-8 and the size ourselves and answer 454 instead. Only the hard cap closes.
      maxPayload: this.hardMaxMessage,
      skipUTF8Validation: true,
      // Janus refuses connections that do not ask for its subprotocol.
      verifyClient: (info: { req: IncomingMessage }, cb: (ok: boolean, code?: number, msg?: string) => void) => {
        const offered = String(info.req.headers['sec-websocket-protocol'] ?? '')
          .split(',')
          .map((p) => p.trim());
        if (offered.includes(protocol)) cb(true);
        else cb(false, 400, `Subprotocol '${protocol}' required`);
      },
      handleProtocols: (offered: Set<string>) => (offered.has(protocol) ? protocol : false),
    });
    wss.on('connection', (ws, req) => this.onConnection(api, ws, req.socket.remoteAddress ?? ''));
    wss.on('error', (err) => log.error('websocket server error', { err: String(err) }));
    return new Promise((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => {
        http.off('error', reject);
        this.servers.push({ api, secure: tls !== null, http, wss });
        resolve();
      });
    });
  }

  private onConnection(api: Api, ws: WebSocket, remote: string): void {
    const client = new WsClient(ws, this.cfg.general.json);
    this.clients.add(client);
    ws.on('message', (data: RawData) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (buf.length > this.maxMessage) {
        log.verb('websocket message over the limit, answered 454', { remote, bytes: buf.length, max: this.maxMessage });
        const reason = `Invalid Janus API request - message too large (${buf.length} bytes, max ${this.maxMessage})`;
        return client.send(errorMessage(0, scanTransaction(buf), ErrorCode.INVALID_JSON, reason));
      }
      const parsed = parseRequestBytes(buf, 'ws');
      if (!parsed.ok) {
        // Janus's error carries no transaction; with one the client's pending request gets its answer.
        const tx = scanTransaction(buf);
        return client.send(tx === null ? parsed.error : { janus: 'error', transaction: tx, error: parsed.error.error });
      }
      const pending = api === 'admin' ? this.gw.admin.handle(parsed.value) : this.gw.handle(parsed.value, client);
      pending.then(
        (reply) => client.send(reply),
        (err: unknown) => log.error('websocket request failed', { err: String(err) }),
      );
    });
    ws.on('pong', () => {
      if (client.pongTimer) clearTimeout(client.pongTimer);
      client.pongTimer = null;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // Over the hard cap ws has already closed the socket (1009): that one is worth the operator's eye.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') log.warn('websocket message over the hard cap, connection closed (1009)', { remote, max: this.hardMaxMessage });
      else log.verb('websocket error', { remote, err: String(err) });
    });
    ws.on('close', () => {
      if (client.pongTimer) clearTimeout(client.pongTimer);
      client.pongTimer = null;
      this.clients.delete(client);
      if (api === 'janus') this.gw.transportGone(client);
    });
  }

  private pingAll(timeoutMs: number): void {
    for (const c of this.clients) {
      if (c.pongTimer || c.ws.readyState !== WebSocket.OPEN) continue;
      c.pongTimer = setTimeout(() => {
        c.pongTimer = null;
        log.info('websocket peer did not answer ping, closing');
        c.ws.terminate();
      }, timeoutMs);
      c.ws.ping();
    }
  }

  clientCount(): number {
    return this.clients.size;
  }
}
