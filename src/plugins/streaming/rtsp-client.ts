/**
 * A minimal RTSP/1.0 client connection (RFC 2326): one TCP connection, requests answered in order
 * (CSeq), Basic and Digest authentication answered after a 401, and interleaved `$` frames skipped
 * (media comes over UDP here). No retry policy: the source (rtsp-source.ts) owns reconnecting.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { RtspReader, type RtspResponse } from './rtsp-reader.js';

export type { RtspResponse } from './rtsp-reader.js';

export interface RtspUrl {
  host: string;
  port: number;
  /** The URL without credentials (what requests name). */
  url: string;
  user: string | null;
  password: string | null;
}

export function parseRtspUrl(raw: string): RtspUrl {
  const u = new URL(raw);
  if (u.protocol !== 'rtsp:') throw new Error(`not an rtsp:// URL: ${raw}`);
  const user = u.username !== '' ? decodeURIComponent(u.username) : null;
  const password = u.password !== '' ? decodeURIComponent(u.password) : null;
  u.username = '';
  u.password = '';
  return { host: u.hostname, port: u.port !== '' ? Number(u.port) : 554, url: u.toString(), user, password };
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

/** `Digest realm="x", nonce="y", qop="auth"` → its parameters. */
function authParams(header: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([a-zA-Z]+)\s*=\s*(?:"([^"]*)"|([^,\s]+))/g;
  for (let m = re.exec(header); m !== null; m = re.exec(header)) out.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? '');
  return out;
}

const MAX_RESPONSE = 256 * 1024;

export class RtspConnection {
  private socket: Socket | null = null;
  private readonly reader = new RtspReader(MAX_RESPONSE, {
    response: (r) => {
      const p = this.pending;
      this.pending = null;
      p?.resolve(r);
    },
    interleaved: (channel, data) => this.onInterleaved?.(channel, data),
  });
  private cseq = 0;
  private pending: { resolve: (r: RtspResponse) => void; reject: (e: Error) => void } | null = null;
  private authorization: ((method: string, uri: string) => string) | null = null;
  private nc = 0;
  session: string | null = null;
  onClose: (() => void) | null = null;
  /** RTP/RTCP interleaved on this connection (RFC 2326 §10.12): `$`, channel, length, packet. */
  onInterleaved: ((channel: number, data: Buffer) => void) | null = null;

  constructor(
    readonly target: RtspUrl,
    private readonly user: string | null,
    private readonly password: string | null,
    private readonly timeoutMs: number,
  ) {}

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.target.host, port: this.target.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`RTSP connect to ${this.target.host}:${this.target.port} timed out`));
      }, this.timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        this.socket = s;
        resolve();
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      s.on('data', (d: Buffer) => this.onData(d));
      s.on('close', () => {
        this.socket = null;
        this.pending?.reject(new Error('RTSP connection closed'));
        this.pending = null;
        this.onClose?.();
      });
      s.on('error', () => {
        // reported through 'close'
      });
    });
  }

  close(): void {
    this.onClose = null;
    this.socket?.destroy();
    this.socket = null;
  }

  /** Send a request; a 401 is answered once with the credentials (Basic or Digest). */
  async request(method: string, uri: string, headers: Record<string, string> = {}): Promise<RtspResponse> {
    let r = await this.send(method, uri, headers);
    if (r.status === 401 && this.user !== null) {
      const challenge = r.headers.get('www-authenticate') ?? '';
      this.authorization = this.authFor(challenge);
      if (this.authorization !== null) r = await this.send(method, uri, headers);
    }
    return r;
  }

  private authFor(challenge: string): ((method: string, uri: string) => string) | null {
    const user = this.user ?? '';
    const pwd = this.password ?? '';
    if (/^\s*basic/i.test(challenge)) {
      const token = Buffer.from(`${user}:${pwd}`).toString('base64');
      return () => `Basic ${token}`;
    }
    if (/^\s*digest/i.test(challenge)) {
      const p = authParams(challenge.replace(/^\s*digest\s*/i, ''));
      const realm = p.get('realm') ?? '';
      const nonce = p.get('nonce') ?? '';
      const qop = (p.get('qop') ?? '').split(',').map((x) => x.trim()).includes('auth') ? 'auth' : null;
      const opaque = p.get('opaque');
      const ha1 = md5(`${user}:${realm}:${pwd}`);
      return (method, uri) => {
        const ha2 = md5(`${method}:${uri}`);
        let v = `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}"`;
        if (qop !== null) {
          const nc = (++this.nc).toString(16).padStart(8, '0');
          const cnonce = randomBytes(8).toString('hex');
          v += `, response="${md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)}", qop=auth, nc=${nc}, cnonce="${cnonce}"`;
        } else v += `, response="${md5(`${ha1}:${nonce}:${ha2}`)}"`;
        if (opaque !== undefined) v += `, opaque="${opaque}"`;
        return v;
      };
    }
    return null;
  }

  private send(method: string, uri: string, headers: Record<string, string>): Promise<RtspResponse> {
    const s = this.socket;
    if (s === null) return Promise.reject(new Error('RTSP connection closed'));
    if (this.pending !== null) return Promise.reject(new Error('RTSP request already in flight'));
    const lines = [`${method} ${uri} RTSP/1.0`, `CSeq: ${++this.cseq}`, 'User-Agent: Portunus'];
    if (this.session !== null) lines.push(`Session: ${this.session}`);
    if (this.authorization !== null) lines.push(`Authorization: ${this.authorization(method, uri)}`);
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        reject(new Error(`RTSP ${method} timed out`));
      }, this.timeoutMs);
      this.pending = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      // Values from the server (nonce, realm, session, URLs) never end a line of ours early.
      s.write(`${lines.map((l) => l.replace(/[\r\n]/g, '')).join('\r\n')}\r\n\r\n`);
    });
  }

  private onData(d: Buffer): void {
    // A server that breaks framing or sends a message past MAX_RESPONSE is dropped (the source reconnects).
    if (this.reader.push(d) !== null) this.socket?.destroy();
  }
}
