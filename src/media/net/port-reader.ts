/**
 * One UDP port for the whole process (media.single_port with media workers): the main thread owns the
 * socket (one per address family, same port number), reads every datagram and hands it to the thread
 * that owns its PeerConnection through a SharedArrayBuffer ring (src/workers/ring.ts); what the workers
 * send comes back the same way on a ring per worker and leaves through the same socket.
 *
 * Why the main thread: Node 20's dgram has no SO_REUSEPORT, so two threads cannot each bind the port,
 * and a worker cannot take over a socket another thread bound. Why the sends come back too: the only
 * other way is to write on the main thread's file descriptor from the workers, which Node offers no API
 * for (bench/single-port.ts measures the hand-over; README "Single port" has the figures).
 *
 * Routing, without any registry of ufrags here (nothing to keep in step across threads):
 * - A STUN Binding request names its PeerConnection by the local ufrag in USERNAME, and every plane
 *   draws its ufrags with a first character of its own (ufrag-router.ts): plane i uses ICE_CHARS[i]
 *   (workers 0..n-1, main's own plane n). So the check goes to the thread its ufrag starts with; that
 *   thread's UdpMux then does the full routing (ufrag -> PeerConnection, address binding, counters).
 * - Everything else goes by source address. The table is a mirror of the threads' own: a thread's mux
 *   reports each address it binds and unbinds as a control record on its ring back, ordered with its
 *   sends, so the binding made by a client's first check reaches this table before the answer to that
 *   check leaves (which is what the client waits for before it sends DTLS or media).
 * - An address is in one thread at a time; a thread's unbind only removes what is still its own.
 *
 * Hot path: a Map lookup by source port and a string compare along that port's chain (as udp-mux.ts),
 * then one ring write (a copy into shared memory); nothing allocated per packet but what dgram itself
 * allocates. Sends: one copy out of the ring (dgram may queue the buffer: the ring's bytes get reused).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from '../../log.js';
import { createRing, RingConsumer, RingProducer } from '../../workers/ring.js';
import { bindingRequestUfrag } from './binding-ufrag.js';
import { literalLookup } from './literal-lookup.js';
import { IceTcpListener, type IceTcpConn } from './ice-tcp.js';
import { UdpMux, type UdpMuxOptions } from './udp-mux.js';
import { ICE_CHARS, UfragRouter, type UfragRoute } from './ufrag-router.js';
import type { IceCandidate } from '../ice/candidate.js';

// ---------------------------------------------------------------- record format (both directions)
// tag = remote port | kind << 16; meta = the IPv4 address as a 32-bit number (kinds for IPv4).
// IPv6 kinds carry the address as text in front of the payload: [length byte][latin1 address][datagram].

/** main -> worker: a datagram from an IPv4 / IPv6 source. worker -> main: send one. */
export const REC_V4 = 0;
export const REC_V6 = 1;
/** worker -> main: the worker's mux bound / unbound this remote address. */
export const REC_BIND4 = 2;
export const REC_UNBIND4 = 3;
export const REC_BIND6 = 4;
export const REC_UNBIND6 = 5;
// ICE-TCP (meta = the connection's id, given by the main thread):
/** main -> worker: a connection was accepted; payload "remoteAddress remotePort localAddress localPort". */
export const REC_TCP_OPEN = 8;
/** main -> worker: one RFC 4571 frame's payload. worker -> main: send one (main frames it). */
export const REC_TCP_FRAME = 9;
/** main -> worker: the connection is gone. worker -> main: close it (tag bit 0: gracefully). */
export const REC_TCP_CLOSE = 10;

/** Dotted-quad IPv4 text -> 32-bit number (as int32); -1 << 0 is a valid address, so NaN for anything else. */
export function ipv4ToInt(s: string): number {
  let out = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return NaN;
      out = (out << 8) | part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else return NaN;
  }
  if (dots !== 3 || digits === 0 || part > 255) return NaN;
  return (out << 8) | part;
}

/**
 * 32-bit number -> dotted quad, the same text dgram gives in rinfo.address, from a bounded cache (the
 * same few client addresses come back with every packet: no string built per packet).
 */
export class Ipv4Names {
  private readonly names = new Map<number, string>();
  name(n: number): string {
    const k = n | 0;
    let s = this.names.get(k);
    if (s === undefined) {
      if (this.names.size >= 4096) this.names.clear();
      s = `${(k >>> 24) & 255}.${(k >>> 16) & 255}.${(k >>> 8) & 255}.${k & 255}`;
      this.names.set(k, s);
    }
    return s;
  }
}

/** One thread's end of the one-port link (workerData: SharedArrayBuffers cross threads as they are). */
export interface PortLinkInit {
  /** main -> worker: datagrams for its PeerConnections. */
  toWorker: SharedArrayBuffer;
  /** worker -> main: its sends and its address binds. */
  fromWorker: SharedArrayBuffer;
  /** The process's single UDP port (both families). */
  port: number;
  /** An IPv6 socket is open on the same port. */
  ipv6: boolean;
  /** The first character of every ufrag that thread draws. */
  prefix: string;
  /** The process's ICE-TCP port (nat.ice_tcp; same number as the UDP one), null without. */
  tcpPort: number | null;
  /** The one socket's server-reflexive candidate (nat.stun_server, asked once by the main thread), if any. */
  srflx?: IceCandidate | null;
  /** The same for its IPv6 twin. */
  srflx6?: IceCandidate | null;
}

export interface PortReaderStats {
  received: number;
  /** Datagrams handed to each thread (workers 0..n-1, then main's own plane). */
  handed: number[];
  /** Datagrams a full ring refused (that thread is behind: dropped as a full socket buffer would). */
  ringDropped: number;
  /** Dropped: not STUN and the source address is bound to no thread. */
  unknownSource: number;
  /** Dropped: a STUN packet from an unbound address with no ufrag naming a thread. */
  unknownUfrag: number;
  garbage: number;
  /** Datagrams sent for the workers. */
  sent: number;
}

/** A bound remote address: the thread it goes to; entries with the same remote port are chained. */
class Route {
  constructor(
    readonly address: string,
    readonly port: number,
    public target: number,
    public next: Route | null,
  ) {}
}

/** The main thread's side of one worker's link. */
class WorkerEnd {
  readonly tx: RingProducer;
  readonly rx: RingConsumer;
  constructor(
    readonly init: PortLinkInit,
    onRecord: (tag: number, meta: number, data: Buffer, offset: number, length: number) => void,
  ) {
    this.tx = new RingProducer(init.toWorker);
    this.rx = new RingConsumer(init.fromWorker, onRecord);
    this.rx.start();
  }
}

export interface PortReaderOptions {
  port: number;
  /** Worker threads (plane indexes 0..workers-1; main's own plane is index `workers`). */
  workers: number;
  /** Also an IPv6-only socket on the same port (media.ipv6). */
  ipv6?: boolean;
  bufferBytes?: number;
  /** Bytes of each ring (each direction, per worker). */
  ringBytes?: number;
  log?: Logger;
}

export class PortReader {
  readonly stats: PortReaderStats;
  private readonly byPort = new Map<number, Route>();
  private routes = 0;
  /** ufrag first character -> plane index (-1: none). */
  private readonly byChar = new Int16Array(128).fill(-1);
  private readonly ends: Array<WorkerEnd | null>;
  private readonly names = new Ipv4Names();
  private local4: UdpMux | null = null;
  private local6: UdpMux | null = null;
  private readonly scratch = Buffer.allocUnsafe(64 * 1024 + 64);
  private closed = false;
  readonly localIndex: number;
  /** The socket's srflx candidate, once asked (pool.ts: STUN from the main thread, before the workers start). */
  srflx: IceCandidate | null = null;
  srflx6: IceCandidate | null = null;
  /** nat.ice_tcp: the process's one ICE-TCP listener (listenTcp). */
  private tcp: IceTcpListener | null = null;
  /** Accepted connections handed to a worker, by id. */
  private readonly tcpConns = new Map<number, { conn: IceTcpConn; worker: number }>();
  private nextConn = 0;
  /** Per worker: what the TCP listener's router answers for a ufrag of that worker (adopt = hand over). */
  private readonly forwarders: UfragRoute[];
  /** Main's own plane's registry (its ICE-TCP connections are adopted here, without a ring). */
  private localRouter: UfragRouter | null = null;

  private constructor(
    readonly socket4: Socket,
    readonly socket6: Socket | null,
    readonly port: number,
    private readonly opts: PortReaderOptions,
  ) {
    const n = opts.workers;
    this.localIndex = n;
    for (let i = 0; i <= n; i++) this.byChar[ICE_CHARS.charCodeAt(i)] = i;
    this.ends = Array.from({ length: n }, () => null);
    this.forwarders = Array.from({ length: n }, (_, i) => ({ tcp: { adopt: (conn: IceTcpConn) => this.handOver(i, conn) } }));
    this.stats = { received: 0, handed: new Array<number>(n + 1).fill(0), ringDropped: 0, unknownUfrag: 0, unknownSource: 0, garbage: 0, sent: 0 };
    socket4.on('message', this.onMessage4);
    socket4.on('error', (err) => opts.log?.warn('single-port socket error', { port, err: String(err) }));
    if (socket6 !== null) {
      socket6.on('message', this.onMessage6);
      socket6.on('error', (err) => opts.log?.warn('single-port socket error', { port, family: 6, err: String(err) }));
    }
  }

  /** Bind the port (and its IPv6 twin). Rejects on EADDRINUSE & co. `port` 0: any (tests). */
  static async bind(opts: PortReaderOptions): Promise<PortReader> {
    // One ufrag first character per thread (ufrag-router.ts), main's own plane included.
    if (opts.workers + 1 > ICE_CHARS.length) throw new RangeError(`one-port mode supports up to ${ICE_CHARS.length - 1} media workers (use single_port_per_worker)`);
    const s4 = await bindUdp(createSocket({ type: 'udp4', reuseAddr: false, lookup: literalLookup }), opts.port, '0.0.0.0', opts.bufferBytes);
    const port = s4.address().port;
    let s6: Socket | null = null;
    if (opts.ipv6 === true) {
      try {
        s6 = await bindUdp(createSocket({ type: 'udp6', ipv6Only: true, reuseAddr: false, lookup: literalLookup }), port, '::', opts.bufferBytes);
      } catch (err) {
        s4.close();
        throw err;
      }
    }
    return new PortReader(s4, s6, port, opts);
  }

  /** Bound remote addresses (tests, leak checks). */
  get addressCount(): number {
    return this.routes;
  }

  /**
   * Worker `i`'s link, made anew at every (re)start of that worker: fresh rings, and the addresses the
   * previous thread had are forgotten (its PeerConnections died with it).
   */
  link(i: number): PortLinkInit {
    const old = this.ends[i];
    if (old) old.rx.close();
    this.dropTarget(i);
    const bytes = this.opts.ringBytes ?? 4 << 20;
    const init: PortLinkInit = { toWorker: createRing(bytes), fromWorker: createRing(bytes), port: this.port, ipv6: this.socket6 !== null, prefix: ICE_CHARS[i]!, tcpPort: this.tcp?.port ?? null, srflx: this.srflx, srflx6: this.srflx6 };
    this.ends[i] = new WorkerEnd(init, (tag, meta, data, offset, length) => this.fromWorker(i, tag, meta, data, offset, length));
    return init;
  }

  /** Worker `i` is gone for good (shutdown). */
  unlink(i: number): void {
    const e = this.ends[i];
    if (!e) return;
    e.rx.close();
    this.ends[i] = null;
    this.dropTarget(i);
  }

  /**
   * nat.ice_tcp: one listening TCP socket for the process on the same port number. A connection is
   * vetted by the listener as ever (first frame within 10 s, a Binding request naming a ufrag, size
   * limits); then the ufrag's first character names the thread, and a worker gets the connection's
   * frames on its ring (it decides whether a PeerConnection adopts it, and closes it through the ring
   * if not). `address` '::' takes both families (media.ipv6).
   */
  async listenTcp(address = '0.0.0.0'): Promise<IceTcpListener> {
    if (this.tcp !== null) return this.tcp;
    const reader = this;
    // The listener asks its router who owns a ufrag: here that is a thread, not a PeerConnection.
    const router = new (class extends UfragRouter {
      override lookup(ufrag: string): UfragRoute | undefined {
        return reader.tcpRoute(ufrag);
      }
    })();
    this.tcp = await IceTcpListener.listen({ range: { min: this.port, max: this.port }, address, router, ...(this.opts.log ? { log: this.opts.log } : {}) });
    return this.tcp;
  }

  get tcpListener(): IceTcpListener | null {
    return this.tcp;
  }

  get tcpPort(): number | null {
    return this.tcp?.port ?? null;
  }

  /** ICE-TCP connections currently handed to workers (tests, leak checks). */
  get tcpHandedOver(): number {
    return this.tcpConns.size;
  }

  private tcpRoute(ufrag: string): UfragRoute | undefined {
    const c = ufrag.charCodeAt(0);
    const i = c < 128 ? this.byChar[c]! : -1;
    if (i < 0) return undefined;
    if (i === this.localIndex) return this.localRouter?.lookup(ufrag);
    return this.ends[i] ? this.forwarders[i] : undefined;
  }

  /** Hand an accepted connection to worker `i`: its frames go on the ring from now on. */
  private handOver(i: number, conn: IceTcpConn): boolean {
    const e = this.ends[i];
    if (!e) return false;
    this.nextConn = (this.nextConn + 1) & 0x3fffffff || 1;
    const id = this.nextConn;
    const desc = Buffer.from(`${conn.remote.address} ${conn.remote.port} ${conn.local.address} ${conn.local.port}`, 'latin1');
    if (!e.tx.write(REC_TCP_OPEN << 16, id, desc, 0, desc.length)) return false;
    this.tcpConns.set(id, { conn, worker: i });
    conn.setReceiver({
      onFrame: (f) => {
        if (!e.tx.write(REC_TCP_FRAME << 16, id, f, 0, f.length)) this.stats.ringDropped++;
      },
      onClose: () => {
        if (this.tcpConns.delete(id)) e.tx.write(REC_TCP_CLOSE << 16, id, EMPTY, 0, 0);
      },
    });
    return true;
  }

  /**
   * The main thread's own plane (plugins with media_worker = false): muxes straight on the sockets,
   * fed by this reader, with the last prefix.
   */
  localMuxes(router: UfragRouter, log?: Logger): { mux4: UdpMux; mux6: UdpMux | null } {
    const li = this.localIndex;
    const hooks = (): Pick<UdpMuxOptions, 'onBind' | 'onUnbind'> => ({
      onBind: (a, p) => this.bind(a, p, li),
      onUnbind: (a, p) => this.unbind(a, p, li),
    });
    this.localRouter = router;
    this.local4 ??= new UdpMux(this.socket4, this.port, { family: 4, router, ...(log ? { log } : {}), ...hooks() });
    if (this.socket6 !== null) this.local6 ??= new UdpMux(this.socket6, this.port, { family: 6, router, ...(log ? { log } : {}), ...hooks() });
    return { mux4: this.local4, mux6: this.local6 };
  }

  get localPrefix(): string {
    return ICE_CHARS[this.localIndex]!;
  }

  /** Which plane (by index) `address`:`port` goes to, -1 for none (allocation-free). */
  lookup(address: string, port: number): number {
    for (let r: Route | null | undefined = this.byPort.get(port); r !== undefined && r !== null; r = r.next) if (r.address === address) return r.target;
    return -1;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = 0; i < this.ends.length; i++) this.unlink(i);
    this.tcp?.close();
    this.local4?.close();
    this.local6?.close();
    for (const s of [this.socket4, this.socket6]) {
      try {
        s?.close();
      } catch {
        /* already closed */
      }
    }
  }

  // ------------------------------------------------------------------ routing table

  private bind(address: string, port: number, target: number): void {
    let r: Route | null | undefined = this.byPort.get(port);
    for (; r !== undefined && r !== null; r = r.next) if (r.address === address) break;
    if (r !== undefined && r !== null) {
      r.target = target; // a check naming a PeerConnection on another thread moved it there
      return;
    }
    this.byPort.set(port, new Route(address, port, target, this.byPort.get(port) ?? null));
    this.routes++;
  }

  private unbind(address: string, port: number, target: number): void {
    let prev: Route | null = null;
    for (let r: Route | null | undefined = this.byPort.get(port); r !== undefined && r !== null; prev = r, r = r.next) {
      if (r.address !== address) continue;
      if (r.target !== target) return; // it moved to another thread since: theirs now
      if (prev === null) {
        if (r.next === null) this.byPort.delete(port);
        else this.byPort.set(port, r.next);
      } else prev.next = r.next;
      this.routes--;
      return;
    }
  }

  private dropTarget(target: number): void {
    // Its ICE-TCP connections go with it (their PeerConnections died with the thread).
    for (const [id, c] of [...this.tcpConns]) {
      if (c.worker !== target) continue;
      this.tcpConns.delete(id);
      c.conn.close();
    }
    for (const [port, head] of [...this.byPort]) {
      let keep: Route | null = null;
      for (let r: Route | null = head; r !== null; r = r.next) {
        if (r.target === target) this.routes--;
        else keep = new Route(r.address, r.port, r.target, keep);
      }
      if (keep === null) this.byPort.delete(port);
      else this.byPort.set(port, keep);
    }
  }

  // ------------------------------------------------------------------ packet path

  /** The plane a datagram goes to, or -1 (counted). */
  private route(msg: Buffer, rinfo: RemoteInfo): number {
    this.stats.received++;
    if (msg.length === 0) {
      this.stats.garbage++;
      return -1;
    }
    let t = this.lookup(rinfo.address, rinfo.port);
    if (msg[0]! <= 3) {
      // A Binding request goes to the thread its ufrag names, even from a bound address (ICE restart, or
      // a client socket reused for a PeerConnection on another thread): that thread's mux moves it.
      const ufrag = bindingRequestUfrag(msg);
      if (ufrag !== undefined) {
        const c = ufrag.charCodeAt(0);
        const named = c < 128 ? this.byChar[c]! : -1;
        if (named >= 0) t = named;
      }
      if (t < 0) this.stats.unknownUfrag++;
    } else if (t < 0) this.stats.unknownSource++;
    return t;
  }

  private readonly onMessage4 = (msg: Buffer, rinfo: RemoteInfo): void => {
    const t = this.route(msg, rinfo);
    if (t < 0) return;
    this.stats.handed[t]!++;
    if (t === this.localIndex) {
      this.local4?.deliver(msg, rinfo);
      return;
    }
    const e = this.ends[t];
    const a = ipv4ToInt(rinfo.address);
    if (e === null || e === undefined || Number.isNaN(a)) return;
    if (!e.tx.write(rinfo.port | (REC_V4 << 16), a, msg, 0, msg.length)) this.stats.ringDropped++;
  };

  private readonly onMessage6 = (msg: Buffer, rinfo: RemoteInfo): void => {
    const t = this.route(msg, rinfo);
    if (t < 0) return;
    this.stats.handed[t]!++;
    if (t === this.localIndex) {
      this.local6?.deliver(msg, rinfo);
      return;
    }
    const e = this.ends[t];
    if (e === null || e === undefined) return;
    const n = prefixAddress(this.scratch, rinfo.address);
    msg.copy(this.scratch, n);
    if (!e.tx.write(rinfo.port | (REC_V6 << 16), 0, this.scratch, 0, n + msg.length)) this.stats.ringDropped++;
  };

  /** A record on worker `i`'s ring back: a datagram to send, or a bind/unbind of its mux. */
  private fromWorker(i: number, tag: number, meta: number, data: Buffer, offset: number, length: number): void {
    const port = tag & 0xffff;
    const kind = tag >>> 16;
    switch (kind) {
      case REC_V4: {
        // A copy: dgram may queue the buffer when the socket's send buffer is full, and the ring's bytes are reused.
        const out = Buffer.allocUnsafe(length);
        data.copy(out, 0, offset, offset + length);
        this.stats.sent++;
        this.socket4.send(out, port, this.names.name(meta));
        return;
      }
      case REC_V6: {
        if (this.socket6 === null) return;
        const alen = data[offset]!;
        const address = data.toString('latin1', offset + 1, offset + 1 + alen);
        const out = Buffer.allocUnsafe(length - 1 - alen);
        data.copy(out, 0, offset + 1 + alen, offset + length);
        this.stats.sent++;
        this.socket6.send(out, port, address);
        return;
      }
      case REC_TCP_FRAME: {
        const c = this.tcpConns.get(meta);
        if (c !== undefined && c.worker === i) c.conn.send(data, offset, length); // the connection copies it into its frame
        return;
      }
      case REC_TCP_CLOSE: {
        const c = this.tcpConns.get(meta);
        if (c === undefined || c.worker !== i) return;
        this.tcpConns.delete(meta);
        c.conn.close((tag & 1) === 1);
        return;
      }
      case REC_BIND4:
        return this.bind(this.names.name(meta), port, i);
      case REC_UNBIND4:
        return this.unbind(this.names.name(meta), port, i);
      case REC_BIND6:
        return this.bind(data.toString('latin1', offset, offset + length), port, i);
      case REC_UNBIND6:
        return this.unbind(data.toString('latin1', offset, offset + length), port, i);
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Writes [length][latin1 address] at the start of `buf`; returns the bytes written. */
export function prefixAddress(buf: Buffer, address: string): number {
  const n = Math.min(address.length, 255);
  buf[0] = n;
  buf.write(address, 1, n, 'latin1');
  return n + 1;
}

function bindUdp(socket: Socket, port: number, address: string, bufferBytes: number | undefined): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      if (bufferBytes !== undefined) {
        // Every PeerConnection of the process shares these.
        try {
          socket.setRecvBufferSize(bufferBytes);
          socket.setSendBufferSize(bufferBytes);
        } catch {
          /* capped at net.core.rmem_max: keep what we got */
        }
      }
      resolve(socket);
    });
  });
}
