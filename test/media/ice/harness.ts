/** Deterministic in-memory network + fake clock for driving sans-IO IceAgents. */
import type { IceAgent, IceEvent, SocketAddress, Transmit } from '../../../src/media/ice/agent.js';
import { prng } from '../../helpers/prng.js';

/** A seeded PRNG (mulberry32) and random bytes drawn from it. */
export function seeded(seed: number): { random: () => number; randomBytes: (n: number) => Buffer } {
  const random = prng(seed);
  const randomBytes = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
    return b;
  };
  return { random, randomBytes };
}

export interface Sent {
  at: number;
  from: SocketAddress;
  to: SocketAddress;
  bytes: Buffer;
  agent: string;
}

interface Node {
  name: string;
  agent: IceAgent;
  sockets: Map<number, SocketAddress>;
  events: IceEvent[];
}

interface InFlight {
  at: number;
  seq: number;
  bytes: Buffer;
  from: SocketAddress;
  node: Node;
  socketId: number;
}

export class FakeNet {
  now = 0;
  latency = 5;
  /** Return true to drop a datagram. */
  drop: ((s: Sent) => boolean) | undefined;
  readonly sent: Sent[] = [];
  private readonly nodes: Node[] = [];
  private readonly byAddr = new Map<string, { node: Node; socketId: number }>();
  private queue: InFlight[] = [];
  private seq = 0;

  add(name: string, agent: IceAgent): Node {
    const n: Node = { name, agent, sockets: new Map(), events: [] };
    this.nodes.push(n);
    return n;
  }
  bind(node: Node, socketId: number, address: string, port: number): void {
    node.sockets.set(socketId, { address, port });
    this.byAddr.set(`${address}|${port}`, { node, socketId });
  }
  events(name: string): IceEvent[] {
    return this.nodes.find((n) => n.name === name)!.events;
  }
  states(name: string): string[] {
    return this.events(name).flatMap((e) => (e.type === 'state' ? [e.state] : []));
  }

  private drain(): void {
    for (const n of this.nodes) {
      let t: Transmit | undefined;
      while ((t = n.agent.pollTransmit())) {
        const from = n.sockets.get(t.localSocketId);
        if (!from) throw new Error(`agent ${n.name} sent from unknown socket ${t.localSocketId}`);
        const s: Sent = { at: this.now, from, to: t.to, bytes: t.bytes, agent: n.name };
        this.sent.push(s);
        if (this.drop?.(s)) continue;
        const dst = this.byAddr.get(`${t.to.address}|${t.to.port}`);
        if (!dst) continue;
        this.queue.push({ at: this.now + this.latency, seq: this.seq++, bytes: t.bytes, from, node: dst.node, socketId: dst.socketId });
      }
      let e: IceEvent | undefined;
      while ((e = n.agent.pollEvent())) n.events.push(e);
    }
  }

  /** Run until `until` (absolute ms) or until `stop()` is true. */
  run(until: number, stop?: () => boolean): void {
    for (let iter = 0; iter < 1_000_000; iter++) {
      this.drain();
      if (stop?.()) return;
      let next = Infinity;
      for (const q of this.queue) next = Math.min(next, q.at);
      for (const n of this.nodes) {
        const t = n.agent.pollTimeout();
        if (t !== undefined) next = Math.min(next, t);
      }
      if (next === Infinity || next > until) {
        this.now = Math.max(this.now, until);
        return;
      }
      this.now = Math.max(this.now, next);
      const due = this.queue.filter((q) => q.at <= this.now).sort((a, b) => a.at - b.at || a.seq - b.seq);
      this.queue = this.queue.filter((q) => q.at > this.now);
      for (const q of due) q.node.agent.handlePacket(q.bytes, q.from, q.socketId, this.now);
      for (const n of this.nodes) {
        const t = n.agent.pollTimeout();
        if (t !== undefined && t <= this.now) n.agent.handleTimeout(this.now);
      }
    }
    throw new Error('FakeNet: too many iterations (busy loop?)');
  }
}
