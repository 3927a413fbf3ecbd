/**
 * A media worker's end of the one-port link (port-reader.ts has the main thread's end): the plane's
 * single-port muxes (udp-mux.ts, one per family) fed from the ring the main thread writes the worker's
 * datagrams into, and sending through the ring back, which the main thread empties onto the socket.
 *
 * The PeerConnections see the same UdpMuxPort views as with a socket of the plane's own; only the
 * wire under the mux differs. A send's callback (the Peer recycles its packet buffers on it) runs
 * once per batch, after the bytes were copied into the ring, never inside send().
 */
import type { RemoteInfo } from 'node:dgram';
import type { Logger } from '../../log.js';
import type { SocketAddress } from '../ice/agent.js';
import type { IceCandidate } from '../ice/candidate.js';
import { RingConsumer, RingProducer } from '../../workers/ring.js';
import { bindingRequestUfrag } from './binding-ufrag.js';
import type { IceTcpConn, IceTcpReceiver } from './ice-tcp.js';
import { Ipv4Names, ipv4ToInt, prefixAddress, REC_BIND4, REC_BIND6, REC_TCP_CLOSE, REC_TCP_FRAME, REC_TCP_OPEN, REC_UNBIND4, REC_UNBIND6, REC_V4, REC_V6, type PortLinkInit } from './port-reader.js';
import { UdpMux, type MuxWire } from './udp-mux.js';
import type { UfragRouter } from './ufrag-router.js';

const EMPTY = Buffer.alloc(0);

/** Sends of one family into the ring back to the main thread. */
class RingWire implements MuxWire {
  /** Records a full ring refused (counted as the socket's send errors would be). */
  dropped = 0;
  private readonly scratch: Buffer;
  constructor(
    private readonly link: PortLink,
    private readonly family: 4 | 6,
  ) {
    this.scratch = family === 6 ? Buffer.allocUnsafe(64 * 1024 + 64) : EMPTY;
  }

  send(buf: Uint8Array, a: number, b: number | string, c?: number, d?: string, cb?: (err: Error | null) => void): void {
    let off = 0;
    let len = buf.length;
    let port = a;
    let address = b as string;
    if (typeof b !== 'string') {
      off = a;
      len = b;
      port = c!;
      address = d!;
    }
    if (!this.link.write(this.family, port, address, buf, off, len, this.scratch)) this.dropped++;
    if (cb !== undefined) this.link.later(cb);
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.family === 6 ? '::' : '0.0.0.0', family: this.family === 6 ? 'IPv6' : 'IPv4', port: this.link.port };
  }

  /** send() copied the bytes into the ring (or dropped them): no buffer is ever held. */
  getSendQueueCount(): number {
    return 0;
  }
}

/**
 * An ICE-TCP connection the main thread accepted (port-reader.ts): frames arrive on the ring, sends go
 * back on it and the main thread frames them onto the socket. Until a PeerConnection adopts it (its
 * first frame names one of our ufrags) it belongs to nobody.
 */
class LinkedTcpConn implements IceTcpConn {
  socketId = -1;
  adopted = false;
  private receiver: IceTcpReceiver | null = null;
  private closed = false;
  constructor(
    private readonly link: PortLink,
    readonly id: number,
    readonly remote: SocketAddress,
    readonly local: SocketAddress,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  setReceiver(r: IceTcpReceiver): void {
    this.receiver = r;
  }

  deliver(frame: Buffer): void {
    this.receiver?.onFrame(frame, this);
  }

  send(buf: Uint8Array, off: number, len: number): boolean {
    if (this.closed || len > 0xffff) return false;
    return this.link.tcpSend(this.id, buf, off, len);
  }

  close(graceful = false): void {
    if (this.closed) return;
    this.link.tcpClose(this.id, graceful);
    this.ended();
  }

  /** Gone (closed here, or the main thread says the socket closed): the receiver hears it once. */
  ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.forget(this.id);
    const r = this.receiver;
    this.receiver = null;
    r?.onClose(this);
  }
}

export class PortLink {
  readonly port: number;
  readonly prefix: string;
  /** The process's ICE-TCP port (the main thread listens), null without nat.ice_tcp. */
  readonly tcpPort: number | null;
  /** That listener takes IPv6 too (the main thread listens on '::' when it has the IPv6 socket). */
  readonly tcp6: boolean;
  /** The one socket's srflx candidate as the main thread learnt it (null: none). */
  readonly srflx: IceCandidate | null;
  readonly srflx6: IceCandidate | null;
  /** ICE-TCP connections the main thread handed here whose first frame named nobody here. */
  tcpRefused = 0;
  private readonly tcpConns = new Map<number, LinkedTcpConn>();
  private router: UfragRouter | null = null;
  private readonly tx: RingProducer;
  private readonly rx: RingConsumer;
  private readonly names = new Ipv4Names();
  /**
   * The source of the datagram being delivered, one object per family reused for every datagram: what
   * receives it (UdpMux, Peer, the ICE agent) reads address and port during the call and copies what it
   * keeps (a dgram socket hands out a fresh object each time; nothing here relies on that).
   */
  private readonly from4: RemoteInfo = { address: '', family: 'IPv4', port: 0, size: 0 };
  private readonly from6: RemoteInfo = { address: '', family: 'IPv6', port: 0, size: 0 };
  private mux4: UdpMux | null = null;
  private mux6: UdpMux | null = null;
  private readonly wire4: RingWire;
  private readonly wire6: RingWire;
  /** Send callbacks due after this batch. */
  private cbs: Array<(err: Error | null) => void> = [];
  private spare: Array<(err: Error | null) => void> = [];
  private cbScheduled = false;

  constructor(
    private readonly init: PortLinkInit,
    private readonly log?: Logger,
  ) {
    this.port = init.port;
    this.prefix = init.prefix;
    this.tcpPort = init.tcpPort;
    this.tcp6 = init.ipv6 && init.tcpPort !== null;
    this.srflx = init.srflx ?? null;
    this.srflx6 = init.srflx6 ?? null;
    this.tx = new RingProducer(init.fromWorker);
    this.rx = new RingConsumer(init.toWorker, this.onRecord);
    this.wire4 = new RingWire(this, 4);
    this.wire6 = new RingWire(this, 6);
  }

  /** The plane's muxes over this link, sharing its ufrag registry; starts reading. */
  attach(router: UfragRouter): { mux4: UdpMux; mux6: UdpMux | null } {
    const log = this.log ? { log: this.log } : {};
    this.router = router;
    this.mux4 ??= new UdpMux(this.wire4, this.port, {
      family: 4,
      router,
      ...log,
      onBind: (a, p) => this.control(REC_BIND4, a, p),
      onUnbind: (a, p) => this.control(REC_UNBIND4, a, p),
    });
    if (this.init.ipv6) {
      this.mux6 ??= new UdpMux(this.wire6, this.port, {
        family: 6,
        router,
        ...log,
        onBind: (a, p) => this.control(REC_BIND6, a, p),
        onUnbind: (a, p) => this.control(REC_UNBIND6, a, p),
      });
    }
    this.rx.start();
    return { mux4: this.mux4, mux6: this.mux6 };
  }

  /** Records the rings refused: sends here, datagrams for us in the main thread. */
  get dropped(): { send: number; receive: number } {
    return { send: this.wire4.dropped + this.wire6.dropped, receive: this.rx.dropped };
  }

  close(): void {
    for (const c of [...this.tcpConns.values()]) c.close();
    this.mux4?.close();
    this.mux6?.close();
    this.rx.close();
  }

  /** ICE-TCP connections here (tests, leak checks). */
  get tcpConnections(): number {
    return this.tcpConns.size;
  }

  /** @internal */
  tcpSend(id: number, buf: Uint8Array, off: number, len: number): boolean {
    return this.tx.write(REC_TCP_FRAME << 16, id, buf, off, len);
  }

  /** @internal */
  tcpClose(id: number, graceful: boolean): void {
    this.tx.write((REC_TCP_CLOSE << 16) | (graceful ? 1 : 0), id, EMPTY, 0, 0);
  }

  /** @internal */
  forget(id: number): void {
    this.tcpConns.delete(id);
  }

  private onTcp(kind: number, id: number, data: Buffer, offset: number, length: number): void {
    if (kind === REC_TCP_OPEN) {
      const [ra, rp, la, lp] = data.toString('latin1', offset, offset + length).split(' ');
      this.tcpConns.set(id, new LinkedTcpConn(this, id, { address: ra!, port: Number(rp) }, { address: la!, port: Number(lp) }));
      return;
    }
    const c = this.tcpConns.get(id);
    if (c === undefined) return;
    if (kind === REC_TCP_CLOSE) {
      c.ended();
      return;
    }
    const frame = Buffer.allocUnsafe(length);
    data.copy(frame, 0, offset, offset + length);
    if (!c.adopted) {
      // The main thread vetted the first frame and picked this thread by the ufrag's first character;
      // which PeerConnection (if any) is ours to say.
      const ufrag = bindingRequestUfrag(frame);
      const owner = ufrag === undefined ? undefined : this.router?.lookup(ufrag)?.tcp;
      let ok = false;
      try {
        ok = owner !== undefined && owner.adopt(c);
      } catch (err) {
        this.log?.warn('ICE-TCP adoption failed', { err: String(err) });
      }
      if (!ok || c.isClosed) {
        this.tcpRefused++;
        c.close();
        return;
      }
      c.adopted = true;
    }
    c.deliver(frame);
  }

  /** @internal one datagram to send. */
  write(family: 4 | 6, port: number, address: string, buf: Uint8Array, off: number, len: number, scratch: Buffer): boolean {
    if (family === 4) {
      const a = ipv4ToInt(address);
      if (Number.isNaN(a)) return false;
      return this.tx.write(port | (REC_V4 << 16), a, buf, off, len);
    }
    const n = prefixAddress(scratch, address);
    scratch.set(len === buf.length && off === 0 ? buf : buf.subarray(off, off + len), n);
    return this.tx.write(port | (REC_V6 << 16), 0, scratch, 0, n + len);
  }

  /** @internal run a send callback after this batch. */
  later(cb: (err: Error | null) => void): void {
    this.cbs.push(cb);
    if (!this.cbScheduled) {
      this.cbScheduled = true;
      setImmediate(this.runCallbacks);
    }
  }

  private readonly runCallbacks = (): void => {
    this.cbScheduled = false;
    const due = this.cbs;
    this.cbs = this.spare;
    for (let i = 0; i < due.length; i++) {
      try {
        due[i]!(null);
      } catch {
        /* the sender's own business */
      }
    }
    due.length = 0;
    this.spare = due;
  };

  private control(kind: number, address: string, port: number): void {
    if (kind === REC_BIND4 || kind === REC_UNBIND4) {
      const a = ipv4ToInt(address);
      if (!Number.isNaN(a)) this.tx.write(port | (kind << 16), a, EMPTY, 0, 0);
      return;
    }
    const b = Buffer.from(address, 'latin1');
    this.tx.write(port | (kind << 16), 0, b, 0, b.length);
  }

  private readonly onRecord = (tag: number, meta: number, data: Buffer, offset: number, length: number): void => {
    const port = tag & 0xffff;
    const kind = tag >>> 16;
    if (kind >= REC_TCP_OPEN) {
      this.onTcp(kind, meta, data, offset, length);
      return;
    }
    // A copy out of the ring: the PeerConnection may keep the packet (DTLS, retransmission buffers)
    // and the main thread reuses the ring's bytes once this returns.
    if (kind === REC_V4) {
      const mux = this.mux4;
      if (mux === null) return;
      const msg = Buffer.allocUnsafe(length);
      data.copy(msg, 0, offset, offset + length);
      const from = this.from4;
      from.address = this.names.name(meta);
      from.port = port;
      from.size = length;
      mux.deliver(msg, from);
    } else if (kind === REC_V6) {
      const mux = this.mux6;
      if (mux === null) return;
      const alen = data[offset]!;
      const address = data.toString('latin1', offset + 1, offset + 1 + alen);
      const size = length - 1 - alen;
      const msg = Buffer.allocUnsafe(size);
      data.copy(msg, 0, offset + 1 + alen, offset + length);
      const from = this.from6;
      from.address = address;
      from.port = port;
      from.size = size;
      mux.deliver(msg, from);
    }
  };
}
