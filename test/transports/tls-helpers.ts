/**
 * Self-signed certificates made with the `openssl` command line (as an operator would), and HTTPS/WSS
 * clients that trust exactly that certificate (a `ca` per request; nothing process-wide).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';

export interface TestCert {
  dir: string;
  /** PEM certificate (CN=localhost, SAN IP:127.0.0.1, DNS:localhost). */
  cert: string;
  /** Its key, unencrypted. */
  key: string;
  /** The same key encrypted (AES-256) with `pwd`. */
  encKey: string;
  pwd: string;
  /** A second certificate's key: does not match `cert`. */
  otherKey: string;
  ca: Buffer;
  remove(): void;
}

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function makeCert(): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'portunus-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const encKey = join(dir, 'key.enc.pem');
  const otherKey = join(dir, 'other.key.pem');
  const pwd = 'correct horse battery';
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  run(['pkey', '-in', key, '-out', encKey, '-aes256', '-passout', `pass:${pwd}`]);
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', otherKey]);
  return { dir, cert, key, encKey, pwd, otherKey, ca: readFileSync(cert), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): Record<string, unknown>;
}

/** One HTTPS request trusting `ca` (undefined: the system's trust store, which will refuse a self-signed cert). */
export function httpsRequest(url: string, opts: { ca?: Buffer; method?: string; body?: unknown } = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const req = request(
      url,
      {
        method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
        ...(opts.ca ? { ca: opts.ca } : {}),
        agent: false,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) as Record<string, unknown> });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function httpsPost(url: string, body: unknown, ca: Buffer): Promise<Record<string, unknown>> {
  const r = await httpsRequest(url, { ca, body });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  return r.json();
}

/** A janus-protocol (or admin) WebSocket client over wss:// that trusts `ca`; messages queue until read. */
export class WssClient {
  private readonly queue: Array<Record<string, unknown>> = [];
  private readonly waiters: Array<(m: Record<string, unknown>) => void> = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as Record<string, unknown>;
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
  }

  static open(url: string, protocol: string, ca: Buffer): Promise<WssClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocol, { ca });
      ws.once('open', () => resolve(new WssClient(ws)));
      ws.once('error', reject);
    });
  }

  next(ms = 5000): Promise<Record<string, unknown>> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no WebSocket message in time')), ms);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }

  async request(msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.ws.send(JSON.stringify(msg));
    return this.next();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
