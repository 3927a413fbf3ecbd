/**
 * The Prometheus endpoint: `GET <metrics_base_path>` (default /metrics) on its own listener, never on
 * the public Janus API port. Loopback unless metrics_ip / metrics_interface say otherwise. With
 * `metrics_secret = true` a scrape must carry general.admin_secret, as a bearer token
 * (`Authorization: Bearer <secret>`), as the basic-auth password (any user), or as `?admin_secret=`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { secretEquals } from '../core/auth.js';
import { log } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { ListenAddress } from './bind.js';

export interface MetricsServerOptions {
  metrics: Metrics;
  port: number;
  /** Bind address (default 127.0.0.1). */
  host?: string;
  /** Path served (default /metrics). */
  path?: string;
  /** Required secret, or null for none. */
  secret?: string | null;
}

export class MetricsServer {
  private server: Server | null = null;
  private readonly path: string;
  private readonly secret: string | null;

  constructor(private readonly opts: MetricsServerOptions) {
    this.path = opts.path ?? '/metrics';
    this.secret = opts.secret ?? null;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Scrapers keep connections alive between scrapes; do not let one hold shutdown up.
    server.keepAliveTimeout = 5000;
    this.server = server;
  }

  address(): ListenAddress | null {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : null;
  }

  /** The URL a scraper on this machine would use. */
  url(): string | null {
    const a = this.address();
    if (!a) return null;
    const host = a.host === '0.0.0.0' || a.host === '::' ? '127.0.0.1' : a.host.includes(':') ? `[${a.host}]` : a.host;
    return `http://${host}:${a.port}${this.path}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private authorized(req: IncomingMessage, url: URL): boolean {
    if (this.secret === null) return true;
    const q = url.searchParams.get('admin_secret');
    if (q !== null && secretEquals(q, this.secret)) return true;
    const h = req.headers.authorization;
    if (typeof h !== 'string') return false;
    const bearer = /^Bearer\s+(.+)$/i.exec(h);
    if (bearer && secretEquals(bearer[1]!.trim(), this.secret)) return true;
    const basic = /^Basic\s+(.+)$/i.exec(h);
    if (basic) {
      const decoded = Buffer.from(basic[1]!.trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0 && secretEquals(decoded.slice(colon + 1), this.secret)) return true;
    }
    return false;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return end(res, 400, 'bad request\n');
    }
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    if (path !== this.path) return end(res, 404, `not found; metrics are at ${this.path}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return end(res, 405, 'method not allowed\n');
    }
    if (!this.authorized(req, url)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="portunus metrics"');
      return end(res, 401, 'unauthorized: send the admin_secret as a bearer token\n');
    }
    try {
      const text = await this.opts.metrics.scrape();
      res.writeHead(200, { 'Content-Type': this.opts.metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (err) {
      log.error('metrics scrape failed', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      end(res, 500, 'scrape failed\n');
    }
  }
}

function end(res: ServerResponse, status: number, body: string): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
