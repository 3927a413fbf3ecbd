/**
 * ICE-TCP passive side (RFC 6544): one listening TCP socket per media plane (so one per media worker
 * thread), shared by every PeerConnection of that plane and demultiplexed by the STUN USERNAME of the
 * first framed packet: "<our ufrag>:<their ufrag>" names the PeerConnection.
 *
 * Why one shared port and not one per PeerConnection: a TCP port per PeerConnection doubles the ports
 * a firewall must open and the listening sockets the process holds, for nothing: the first packet of
 * every ICE-TCP connection is a STUN check that names its PeerConnection anyway. One port per worker
 * thread (not one for the process) keeps the connection on the thread that owns the PeerConnection,
 * with no hand-over between threads.
 *
 * A connection is untrusted until it has been adopted: it gets `firstFrameTimeoutMs` to deliver a
 * complete first frame (slowloris), that frame must be a STUN Binding request with a USERNAME whose
 * first part is a registered ufrag (garbage, unknown ufrag), frames longer than `maxFrame` close it
 * (a huge length would otherwise make us buffer up to 64 KiB per connection), and at most
 * `maxPending` such connections wait at once. Every refusal closes only that connection and counts it.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../log.js';
import { normalizeIp } from '../stun/address.js';
import type { SocketAddress } from '../ice/agent.js';
import { bindingRequestUfrag } from './binding-ufrag.js';
import { FRAME_HEADER, Rfc4571Reader } from './rfc4571.js';
import type { PortRange } from './port-allocator.js';
import { UfragRouter, type UfragRoute } from './ufrag-router.js';

export interface IceTcpOptions {
  /** Ports to try (media.rtp_port_range); min 0 = any port. */
  range: PortRange;
  /** Bind address (default all IPv4; '::' takes both families on a dual-stack host). */
  address?: string;
  /** The plane's ufrag registry, shared with the single-port UDP socket(s) (default: one of its own). */
  router?: UfragRouter;
  /** Longest packet accepted (default 4096: WebRTC packets stay under the path MTU). */
  maxFrame?: number;
  /** Time for a new connection to deliver its first frame (default 10 s). */
  firstFrameTimeoutMs?: number;
  /** Connections not yet adopted by a PeerConnection, at most (default 64). */
  maxPending?: number;
  /** Queued outgoing bytes above which packets are dropped rather than queued (default 512 KiB). */
  maxQueuedBytes?: number;
  log?: Logger;
}

export interface IceTcpStats {
  accepted: number;
  adopted: number;
  /** Closed before adoption: not a STUN Binding request with USERNAME first. */
  garbage: number;
  /** Closed: a frame longer than maxFrame. */
  oversize: number;
  /** Closed before adoption: no complete first frame in time. */
  timeout: number;
  /** Closed before adoption: the USERNAME names no PeerConnection of this plane. */
  unknownUfrag: number;
  /** Closed at accept: too many connections waiting for their first frame. */
  overflow: number;
  /** Closed: the PeerConnection did not take it (too many connections of its own, or closing). */
  refused: number;
  /** Packets not sent because the connection's send queue was full. */
  sendDropped: number;
}

/**
 * One ICE-TCP connection as a PeerConnection sees it: a socket of this thread's listener
 * (IceTcpConnection), or in one-port mode a connection the main thread accepted and relays through the
 * rings (port-link.ts).
 */
export interface IceTcpConn {
  /** The local ICE socket id its owner gave it (set on adoption). */
  socketId: number;
  readonly remote: SocketAddress;
  readonly local: SocketAddress;
  readonly isClosed: boolean;
  setReceiver(r: IceTcpReceiver): void;
  send(buf: Uint8Array, off: number, len: number): boolean;
  close(graceful?: boolean): void;
}

/** What a PeerConnection registers under its ufrag. */
export interface IceTcpOwner {
  /** A connection whose first frame names this owner. Return false to refuse it (it is closed). */
  adopt(conn: IceTcpConn): boolean;
}

/** The receiving side of an adopted connection. */
export interface IceTcpReceiver {
  onFrame(frame: Buffer, conn: IceTcpConn): void;
  onClose(conn: IceTcpConn): void;
}

/** An IPv4 client on a dual-stack ('::') listener shows as ::ffff:a.b.c.d: ICE knows it as a.b.c.d. */
function plainIp(a: string): string {
  if (a.startsWith('::ffff:') && a.includes('.')) return a.slice(7);
  return normalizeIp(a);
}

export class IceTcpConnection implements IceTcpConn {
  /** The local ICE socket id its owner gave it (set on adoption). */
  socketId = -1;
  readonly remote: SocketAddress;
  readonly local: SocketAddress;
  private receiver: IceTcpReceiver | null = null;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly listener: IceTcpListener,
  ) {
    this.remote = { address: plainIp(socket.remoteAddress ?? '0.0.0.0'), port: socket.remotePort ?? 0 };
    this.local = { address: plainIp(socket.localAddress ?? '0.0.0.0'), port: socket.localPort ?? 0 };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  setReceiver(r: IceTcpReceiver): void {
    this.receiver = r;
  }

  /** @internal the listener hands frames over once adopted. */
  deliver(frame: Buffer): void {
    this.receiver?.onFrame(frame, this);
  }

  /**
   * Send one packet framed. The bytes are copied before this returns (the caller may reuse `buf`).
   * Returns false when the packet was dropped: connection closed, or its send queue is full (media is
   * real-time: a stalled TCP stream gets no deeper backlog).
   */
  send(buf: Uint8Array, off: number, len: number): boolean {
    if (this.closed || len > 0xffff) return false;
    if (this.socket.writableLength > this.listener.maxQueuedBytes) {
      this.listener.stats.sendDropped++;
      return false;
    }
    const out = Buffer.allocUnsafe(len + FRAME_HEADER);
    out[0] = len >>> 8;
    out[1] = len & 0xff;
    out.set(buf.subarray(off, off + len), FRAME_HEADER);
    this.socket.write(out);
    return true;
  }

  /**
   * Close (idempotent); the receiver hears onClose once. `graceful`: what was written still leaves
   * (the DTLS close_notify and RTCP BYE of a hangup), then FIN; a peer that never closes its side is
   * cut off after a second.
   */
  close(graceful = false): void {
    if (this.closed) return;
    this.closed = true;
    if (graceful) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    } else this.socket.destroy();
    const r = this.receiver;
    this.receiver = null;
    r?.onClose(this);
  }
}

export class IceTcpListener {
  readonly stats: IceTcpStats = { accepted: 0, adopted: 0, garbage: 0, oversize: 0, timeout: 0, unknownUfrag: 0, overflow: 0, refused: 0, sendDropped: 0 };
  readonly maxQueuedBytes: number;
  readonly router: UfragRouter;
  /** Routes made by register() (callers that do not use the router directly). */
  private readonly own = new Map<string, UfragRoute>();
  private readonly live = new Set<IceTcpConnection>();
  private pending = 0;
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly opts: IceTcpOptions,
  ) {
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 512 * 1024;
    this.router = opts.router ?? new UfragRouter();
    server.on('connection', (s) => this.onConnection(s));
    server.on('error', (err) => opts.log?.warn('ICE-TCP listener error', { port, err: String(err) }));
  }

  /** Listen on the first free port of the range (or any port when the range starts at 0). */
  static async listen(opts: IceTcpOptions): Promise<IceTcpListener> {
    const host = opts.address ?? '0.0.0.0';
    const { min, max } = opts.range;
    const ports = min === 0 ? [0] : Array.from({ length: max - min + 1 }, (_, i) => min + i);
    for (const port of ports) {
      const server = createServer({ noDelay: true, pauseOnConnect: false });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port, host, exclusive: true, backlog: 128 }, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        server.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES') continue;
        throw err;
      }
      const addr = server.address();
      const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
      return new IceTcpListener(server, bound, opts);
    }
    throw new Error(`no free TCP port for ICE-TCP in rtp_port_range ${min}-${max}`);
  }

  get connections(): number {
    return this.live.size;
  }

  /** Route connections whose first check is for `ufrag` to `owner`. */
  register(ufrag: string, owner: IceTcpOwner): void {
    const r: UfragRoute = { tcp: owner };
    this.own.set(ufrag, r);
    this.router.register(ufrag, r);
  }

  /** Forget `ufrag`, if it still belongs to `owner`. */
  unregister(ufrag: string, owner: IceTcpOwner): void {
    const r = this.own.get(ufrag);
    if (r === undefined || r.tcp !== owner) return;
    this.own.delete(ufrag);
    this.router.unregister(ufrag, r);
  }

  /** Is this ufrag in use here (PeerConnections pick ufrags that are not, so the routing is unique). */
  isTaken(ufrag: string): boolean {
    return this.router.isTaken(ufrag);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    for (const c of [...this.live]) c.close();
    for (const [u, r] of this.own) this.router.unregister(u, r);
    this.own.clear();
  }

  private onConnection(socket: Socket): void {
    this.stats.accepted++;
    if (this.closed || this.pending >= (this.opts.maxPending ?? 64)) {
      this.stats.overflow++;
      socket.destroy();
      return;
    }
    this.pending++;
    const conn = new IceTcpConnection(socket, this);
    this.live.add(conn);
    let adopted = false;
    let queued: Buffer[] | null = null;
    const unpend = (): void => {
      if (!adopted && timer !== null) {
        clearTimeout(timer);
        timer = null;
        this.pending--;
      }
    };
    const reject = (why: 'garbage' | 'oversize' | 'timeout' | 'unknownUfrag' | 'refused'): void => {
      this.stats[why]++;
      this.opts.log?.debug('ICE-TCP connection closed', { reason: why, remote: `${conn.remote.address}:${conn.remote.port}` });
      reader.stop();
      conn.close();
    };
    const reader = new Rfc4571Reader(this.opts.maxFrame ?? 4096, (f) => {
      if (adopted) {
        conn.deliver(f);
        return;
      }
      if (queued !== null) {
        // frames after the first, within the same chunk as the adoption: keep order
        queued.push(f);
        return;
      }
      const owner = this.ownerOf(f);
      if (owner === 'garbage') return reject('garbage');
      if (owner === undefined) return reject('unknownUfrag');
      unpend();
      queued = [f];
      let ok = false;
      try {
        ok = owner.adopt(conn);
      } catch (err) {
        this.opts.log?.warn('ICE-TCP adoption failed', { err: String(err) });
      }
      if (!ok || conn.isClosed) return reject('refused');
      adopted = true;
      this.stats.adopted++;
      const q = queued;
      queued = null;
      for (const x of q) {
        if (conn.isClosed) break;
        conn.deliver(x);
      }
    });
    let timer: NodeJS.Timeout | null = setTimeout(() => {
      timer = null;
      this.pending--;
      if (!adopted) reject('timeout');
    }, this.opts.firstFrameTimeoutMs ?? 10_000);
    socket.on('data', (chunk: Buffer) => {
      // A receiver's exception stays with its connection (the PeerConnection counts its own faults).
      try {
        if (reader.push(chunk) === 'oversize') reject('oversize');
      } catch (err) {
        this.opts.log?.warn('ICE-TCP receive fault', { err: String(err) });
        reader.stop();
        conn.close();
      }
    });
    socket.on('error', () => undefined); // ECONNRESET and friends: 'close' follows
    socket.on('close', () => {
      unpend();
      this.live.delete(conn);
      conn.close();
    });
  }

  /** The owner the first frame names, undefined for an unknown ufrag, 'garbage' for anything else. */
  private ownerOf(f: Buffer): IceTcpOwner | undefined | 'garbage' {
    if (f[0]! > 3) return 'garbage';
    const ufrag = bindingRequestUfrag(f);
    return ufrag === undefined ? 'garbage' : this.router.lookup(ufrag)?.tcp;
  }
}
