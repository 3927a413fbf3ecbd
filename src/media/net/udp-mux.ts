/**
 * Single-port UDP (media.single_port): one UDP socket per media plane shared by every PeerConnection of
 * that plane, the UDP twin of the ICE-TCP listener (ice-tcp.ts).
 *
 * Routing: a datagram goes to the PeerConnection its source address was bound to. An address gets bound
 * by (a) a STUN Binding request whose USERNAME is "<our ufrag>:<their ufrag>" (the first packet of every
 * ICE client, and of every ICE restart with its new ufrag), or (b) a STUN packet the PeerConnection
 * itself sent to that address (our own connectivity checks, whose responses carry no USERNAME). Anything
 * from an address bound to nobody is dropped and counted, and never reaches a PeerConnection.
 *
 * Why trusting USERNAME is enough: the ufrag is not a secret, so anyone who saw it can bind their
 * address to that PeerConnection; but all that buys is delivering packets to it, which a per-port
 * PeerConnection accepts from anybody anyway: STUN integrity, DTLS and SRTP still reject them there.
 * It cannot unbind the real client (each address is its own entry), and the addresses one
 * PeerConnection holds are capped (oldest evicted), so a spray of forged checks costs bounded memory.
 *
 * Hot path: one Map lookup by the source port (a small integer), then a string comparison of the source
 * address along that port's chain (usually one entry), then a direct call of the PeerConnection's
 * handler. Nothing allocated (bench/single-port.ts: 17-43 ns per packet, no GC): a `${address}:${port}`
 * key string costs 10-30x that and a GC every ~20k packets; a 48-bit address+port number key is boxed
 * (a double) and costs ~7x with a GC every ~128k packets. No event emitter per PeerConnection.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from '../../log.js';
import { bindingRequestUfrag } from './binding-ufrag.js';
import { literalLookup } from './literal-lookup.js';
import { UfragRouter, type UfragRoute } from './ufrag-router.js';

/**
 * What the mux sends through: a dgram socket of its own, or (one-port mode with media workers,
 * port-link.ts) the ring back to the main thread that owns the process's socket.
 */
export interface MuxWire {
  send(buf: Uint8Array, port: number, address: string): void;
  send(buf: Uint8Array, off: number, len: number, port?: number, address?: string, cb?: (err: Error | null) => void): void;
  address(): { address: string; family: string; port: number };
  /** Datagrams sent but not gone yet (still holding their buffers); 0 for a wire that copies. */
  getSendQueueCount(): number;
}

export interface UdpMuxOptions {
  log?: Logger;
  /** Address family of the socket (which field of a UfragRoute is ours). Default 4. */
  family?: 4 | 6;
  /** The plane's ufrag registry (shared with the ICE-TCP listener and the other family's mux). Default: one of its own. */
  router?: UfragRouter;
  /** A remote address got bound here / unbound (one-port mode: the main thread's routing table mirrors ours). */
  onBind?: (address: string, port: number) => void;
  onUnbind?: (address: string, port: number) => void;
}

export interface UdpMuxStats {
  /** Datagrams received on the shared socket. */
  received: number;
  /** Addresses bound to a PeerConnection (by USERNAME or by our own STUN send). */
  bound: number;
  /** Dropped: source address bound to no PeerConnection, and no USERNAME naming one. */
  unknownSource: number;
  /** Dropped: a STUN request from an unbound address whose USERNAME names no PeerConnection here. */
  unknownUfrag: number;
  /** Dropped: empty datagram. */
  garbage: number;
  /** Exceptions thrown by a PeerConnection's handler (caught here: the socket keeps serving the others). */
  ownerFaults: number;
}

/** Addresses one PeerConnection keeps bound at most (a browser uses 1-3: host, srflx, relay, restarts). */
const MAX_ADDRESSES_PER_PORT = 16;

type MessageListener = (msg: Buffer, rinfo: RemoteInfo) => void;

/** One bound remote address; entries with the same remote port are chained. */
class Binding {
  constructor(
    readonly address: string,
    readonly port: number,
    public owner: UdpMuxPort,
    public next: Binding | null,
  ) {}
}

/**
 * One PeerConnection's view of the shared socket: what the Peer gets instead of its own dgram socket
 * (it uses on/off('message'), send, close). Closing it unbinds everything of this PeerConnection.
 */
export class UdpMuxPort {
  /** @internal the Peer's receive handler. */
  listener: MessageListener | null = null;
  /** @internal the addresses bound to this PeerConnection, oldest first. */
  readonly bindings: Binding[] = [];
  /** @internal the ufrags registered for this port through UdpMux.register. */
  readonly ufrags = new Set<string>();
  /** @internal what UdpMux.register files under those ufrags. */
  route: UfragRoute | null = null;
  private closed = false;

  constructor(/** @internal */ readonly mux: UdpMux) {}

  get port(): number {
    return this.mux.port;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  on(event: string, l: (...args: never[]) => void): this {
    if (event === 'message') this.listener = l as unknown as MessageListener;
    // 'error' and 'close' are the shared socket's business (the mux logs its errors).
    return this;
  }

  off(event: string, l: (...args: never[]) => void): this {
    if (event === 'message' && this.listener === (l as unknown)) this.listener = null;
    return this;
  }

  once(event: string, l: (...args: never[]) => void): this {
    return this.on(event, l);
  }

  /**
   * dgram's two send forms the Peer uses: (buf, port, address) for ICE and (buf, off, len, port,
   * address, cb) for media. A STUN packet we send binds its destination to us, if nobody has it: the
   * answer to our own connectivity check carries no USERNAME to route it by. Never taken from another
   * PeerConnection: remote candidates come from the client, and one naming another client's address
   * must not divert that client's packets (only a check naming a ufrag moves an address).
   */
  send(buf: Uint8Array, a: number, b: number | string, c?: number, d?: string, cb?: (err: Error | null) => void): void {
    if (this.closed) throw new Error('Not running');
    if (typeof b === 'string') {
      if (buf.length > 0 && buf[0]! <= 3) this.mux.bindTo(b, a, this, false);
      this.mux.socket.send(buf, a, b);
      return;
    }
    if (b > 0 && buf[a]! <= 3) this.mux.bindTo(d!, c!, this, false);
    this.mux.socket.send(buf, a, b, c, d, cb);
  }

  /** The shared socket's buffers are set once by the mux (or by the main thread's port reader). */
  setRecvBufferSize(): void {}
  setSendBufferSize(): void {}

  address(): { address: string; family: string; port: number } {
    return this.mux.socket.address();
  }

  /** The shared wire's (the Peer reads it after a send to know whether its buffer is free). */
  getSendQueueCount(): number {
    return this.mux.socket.getSendQueueCount();
  }

  /** Unbind this PeerConnection's ufrags and addresses (idempotent). The shared socket stays open. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listener = null;
    this.mux.release(this);
  }
}

export class UdpMux {
  readonly stats: UdpMuxStats = { received: 0, bound: 0, unknownSource: 0, unknownUfrag: 0, garbage: 0, ownerFaults: 0 };
  /** Remote port -> the bindings with that port (chained by `next`). */
  private readonly byPort = new Map<number, Binding>();
  private bindings = 0;
  readonly router: UfragRouter;
  readonly family: 4 | 6;
  private readonly routeKey: 'udp4' | 'udp6';
  private readonly ports = new Set<UdpMuxPort>();
  private closed = false;
  private readonly log: Logger | undefined;
  private readonly onBind: ((address: string, port: number) => void) | undefined;
  private readonly onUnbind: ((address: string, port: number) => void) | undefined;

  /**
   * A mux over `socket` (what sends), fed by `deliver` (what the caller receives). `UdpMux.bind` makes
   * the dgram socket and wires its 'message' here; port-link.ts feeds it from the main thread's ring.
   */
  constructor(
    /** @internal */ readonly socket: MuxWire,
    readonly port: number,
    opts: UdpMuxOptions = {},
    /** The dgram socket when the mux owns one (srflx is asked on it), else null. */
    readonly dgram: Socket | null = null,
  ) {
    this.log = opts.log;
    this.family = opts.family ?? 4;
    this.routeKey = this.family === 6 ? 'udp6' : 'udp4';
    this.router = opts.router ?? new UfragRouter();
    this.onBind = opts.onBind;
    this.onUnbind = opts.onUnbind;
  }

  /** Bind a shared socket of our own (IPv4, or IPv6-only with family 6). `port` 0: any port (tests). Rejects on EADDRINUSE & co. */
  static async bind(port: number, opts: { address?: string; bufferBytes?: number } & UdpMuxOptions = {}): Promise<UdpMux> {
    const socket = createSocket(opts.family === 6 ? { type: 'udp6', ipv6Only: true, reuseAddr: false, lookup: literalLookup } : { type: 'udp4', reuseAddr: false, lookup: literalLookup });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind(port, opts.address ?? (opts.family === 6 ? '::' : '0.0.0.0'), () => {
        socket.off('error', onError);
        resolve();
      });
    });
    if (opts.bufferBytes !== undefined) {
      // Every PeerConnection of the plane shares these: ask for more than a per-PeerConnection socket.
      try {
        socket.setRecvBufferSize(opts.bufferBytes);
        socket.setSendBufferSize(opts.bufferBytes);
      } catch {
        /* the kernel caps at net.core.rmem_max: keep what we got */
      }
    }
    const mux = new UdpMux(socket, socket.address().port, opts, socket);
    socket.on('message', mux.deliver);
    socket.on('error', (err) => opts.log?.warn('single-port socket error', { port: mux.port, err: String(err) }));
    return mux;
  }

  /** A new PeerConnection's view of the socket. */
  open(): UdpMuxPort {
    if (this.closed) throw new Error('single-port socket closed');
    const p = new UdpMuxPort(this);
    this.ports.add(p);
    return p;
  }

  /** PeerConnections currently holding a view (tests, leak checks). */
  get portCount(): number {
    return this.ports.size;
  }

  /** Bound addresses (tests, leak checks). */
  get addressCount(): number {
    return this.bindings;
  }

  /** The PeerConnection `address`:`port` is bound to, if any (allocation-free: the packet path). */
  lookup(address: string, port: number): UdpMuxPort | undefined {
    for (let b: Binding | null | undefined = this.byPort.get(port); b !== undefined && b !== null; b = b.next) if (b.address === address) return b.owner;
    return undefined;
  }

  /**
   * Route requests for `ufrag` to `port` (a route of its own in the router; a PeerConnection registers
   * with the router directly, one route for all its listeners). Ignored for an object that is not one of our ports.
   */
  register(ufrag: string, port: unknown): void {
    if (!(port instanceof UdpMuxPort) || port.isClosed || !this.ports.has(port)) return;
    port.route ??= this.family === 6 ? { udp6: port } : { udp4: port };
    this.router.register(ufrag, port.route);
    port.ufrags.add(ufrag);
  }

  /** Forget `ufrag` if it still belongs to `port` (ICE restart: the old ufrag goes). */
  unregister(ufrag: string, port: unknown): void {
    if (!(port instanceof UdpMuxPort)) return;
    port.ufrags.delete(ufrag);
    if (port.route !== null) this.router.unregister(ufrag, port.route);
  }

  isTaken(ufrag: string): boolean {
    return this.router.isTaken(ufrag);
  }

  /** Is `port` one of this mux's open views (a PeerConnection's socket in single-port mode)? */
  owns(port: unknown): port is UdpMuxPort {
    return port instanceof UdpMuxPort && !port.isClosed && this.ports.has(port);
  }

  /** Close the shared socket (plane shutdown). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.ports]) p.close();
    try {
      this.dgram?.close();
    } catch {
      /* already closed */
    }
  }

  /**
   * @internal `address`:`rport` now routes to `owner` (a check naming it, or our own STUN sent there).
   * `move` false: only if the address is not bound to another PeerConnection already.
   */
  bindTo(address: string, rport: number, owner: UdpMuxPort, move = true): void {
    if (owner.isClosed || !this.ports.has(owner)) return;
    let b: Binding | null | undefined = this.byPort.get(rport);
    for (; b !== undefined && b !== null; b = b.next) if (b.address === address) break;
    if (b !== undefined && b !== null) {
      if (b.owner === owner || !move) return;
      // The address moves to another PeerConnection (its USERNAME says so).
      const list = b.owner.bindings;
      const i = list.indexOf(b);
      if (i >= 0) list.splice(i, 1);
      b.owner = owner;
    } else {
      b = new Binding(address, rport, owner, this.byPort.get(rport) ?? null);
      this.byPort.set(rport, b);
      this.bindings++;
      this.onBind?.(address, rport);
    }
    owner.bindings.push(b);
    this.stats.bound++;
    if (owner.bindings.length > MAX_ADDRESSES_PER_PORT) this.unbind(owner.bindings.shift()!);
  }

  /** Take `b` out of its port's chain. */
  private unbind(b: Binding): void {
    let head = this.byPort.get(b.port);
    if (head === undefined) return;
    if (head === b) {
      if (b.next === null) this.byPort.delete(b.port);
      else this.byPort.set(b.port, b.next);
    } else {
      while (head.next !== null && head.next !== b) head = head.next;
      if (head.next === b) head.next = b.next;
      else return;
    }
    this.bindings--;
    this.onUnbind?.(b.address, b.port);
  }

  /** @internal a port closed: drop its ufrags and addresses. */
  release(port: UdpMuxPort): void {
    this.ports.delete(port);
    if (port.route !== null) for (const u of port.ufrags) this.router.unregister(u, port.route);
    port.ufrags.clear();
    for (const b of port.bindings) this.unbind(b);
    port.bindings.length = 0;
  }

  /** One datagram from the socket (the dgram 'message' listener, or port-link.ts's ring consumer). */
  readonly deliver = (msg: Buffer, rinfo: RemoteInfo): void => {
    this.stats.received++;
    if (msg.length === 0) {
      this.stats.garbage++;
      return;
    }
    let port = this.lookup(rinfo.address, rinfo.port);
    if (msg[0]! <= 3) {
      // A check naming another PeerConnection than the bound one (same client socket reused, or an
      // ICE restart moved the ufrag): the USERNAME wins.
      const named = this.ownerOf(msg);
      if (named !== undefined && named !== port) {
        this.bindTo(rinfo.address, rinfo.port, named);
        port = named;
      } else if (port === undefined) {
        if (named === undefined) this.stats.unknownUfrag++;
        return;
      }
    } else if (port === undefined) {
      this.stats.unknownSource++;
      return;
    }
    const l = port.listener;
    if (l === null) return;
    try {
      l(msg, rinfo);
    } catch (err) {
      // The Peer catches its own faults; this is a last line so one PeerConnection cannot stop the socket.
      this.stats.ownerFaults++;
      this.log?.warn('single-port receive fault', { err: String(err) });
    }
  };

  /** The port a Binding request's USERNAME names, if any (STUN only: checks are rare next to media). */
  private ownerOf(msg: Buffer): UdpMuxPort | undefined {
    if (this.router.size === 0) return undefined;
    const ufrag = bindingRequestUfrag(msg);
    if (ufrag === undefined) return undefined;
    const p = this.router.lookup(ufrag)?.[this.routeKey];
    return p instanceof UdpMuxPort && p.mux === this ? p : undefined;
  }
}
