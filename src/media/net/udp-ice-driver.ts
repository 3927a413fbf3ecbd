/**
 * Glue between a sans-IO IceAgent and real dgram sockets: STUN datagrams go to the agent, everything
 * else to `onPacket` (already classified per RFC 7983); the agent's transmits are sent, its timer
 * is kept armed with one setTimeout, its events go to `onEvent`. One driver per agent.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import type { IceAgent, IceEvent } from '../ice/agent.js';
import { PacketKind, classify, classifyPacket } from './demux.js';

export interface UdpIceDriverOptions {
  /** Non-STUN datagrams (DTLS, RTP, RTCP, ...). */
  onPacket?: (kind: PacketKind, data: Buffer, rinfo: RemoteInfo, socketId: number) => void;
  onEvent?: (event: IceEvent) => void;
  /** Millisecond clock (default performance.now()). */
  clock?: () => number;
}

export class UdpIceDriver {
  private readonly sockets = new Map<number, Socket>();
  private readonly listeners = new Map<number, (msg: Buffer, rinfo: RemoteInfo) => void>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly clock: () => number;
  private closed = false;

  constructor(
    readonly agent: IceAgent,
    private readonly opts: UdpIceDriverOptions = {},
  ) {
    this.clock = opts.clock ?? (() => performance.now());
  }

  addSocket(id: number, socket: Socket): void {
    const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
      if (msg.length === 0) return;
      if (classify(msg[0]!) === PacketKind.Stun && this.agent.handlePacket(msg, rinfo, id, this.clock())) {
        this.flush();
        return;
      }
      this.opts.onPacket?.(classifyPacket(msg), msg, rinfo, id);
    };
    this.sockets.set(id, socket);
    this.listeners.set(id, onMessage);
    socket.on('message', onMessage);
    this.flush();
  }

  /** Send a datagram (e.g. DTLS or SRTP) on the selected pair. Returns false if none is selected. */
  sendOnSelected(data: Uint8Array): boolean {
    const p = this.agent.getSelectedPair();
    const s = p && this.sockets.get(p.localSocketId);
    if (!p || !s) return false;
    s.send(data, p.remoteAddress.port, p.remoteAddress.address);
    return true;
  }

  /** Call after feeding the agent from outside (candidates, credentials, restart). */
  flush(): void {
    if (this.closed) return;
    for (let t = this.agent.pollTransmit(); t; t = this.agent.pollTransmit()) {
      this.sockets.get(t.localSocketId)?.send(t.bytes, t.to.port, t.to.address);
    }
    for (let e = this.agent.pollEvent(); e; e = this.agent.pollEvent()) this.opts.onEvent?.(e);
    const at = this.agent.pollTimeout();
    if (at === undefined) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && at >= this.timerAt) return; // already armed early enough
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.agent.handleTimeout(this.clock());
      this.flush();
    }, Math.max(0, at - this.clock()));
  }

  /** Detach from the sockets (does not close them) and stop the timer. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const [id, l] of this.listeners) this.sockets.get(id)?.off('message', l);
    this.listeners.clear();
    this.sockets.clear();
  }
}
