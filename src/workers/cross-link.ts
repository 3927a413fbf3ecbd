/**
 * Media between media workers, for a participant whose PeerConnection is on one worker and whose room
 * is on another (AudioBridge `changeroom` across workers): short frames addressed to a handle, batched
 * per worker pair and sent once per 20 ms tick over a MessagePort the pool gave both workers.
 *
 * Why batches: a postMessage costs far more than copying a 100-byte Opus frame, so frames queue in one
 * buffer per peer worker and the whole tick's worth crosses as one transferred ArrayBuffer (one message
 * per tick per worker pair, whatever the number of participants). The price is up to one tick of
 * extra latency each way. The shared-memory ring (src/workers/ring.ts, when it lands) can replace the
 * port behind the same send/deliver interface.
 *
 * Record layout (little endian): handle id f64, kind u8, payload type u8, length u16, then the bytes.
 */
import type { MessagePort } from 'node:worker_threads';

/** A frame's meaning, for the plugin that receives it. */
export enum CrossKind {
  /** An RTP packet from the handle's PeerConnection, for the room's worker (handle worker -> room worker). */
  Up = 0,
  /** A mixed, encoded frame for the handle's PeerConnection (room worker -> handle worker). */
  Down = 1,
  /** The participant left its room on the room's worker (leave, kick, destroy): the handle worker stops forwarding. */
  Gone = 2,
  /** The session's mid and payload type after a renegotiation on the room's worker (room worker -> handle worker). */
  Meta = 3,
}

/** What a plugin in a worker gets from the host to talk to its other half on another worker. */
export interface CrossWorkerHost {
  /** This worker's index in the pool. */
  readonly workerIndex: number;
  /** Queue a frame for the handle's plugin on worker `to`; false when there is no link to it. */
  crossSend(to: number, handleId: number, kind: CrossKind, pt: number, buf: Uint8Array, len: number): boolean;
}

export function isCrossWorkerHost(x: unknown): x is CrossWorkerHost {
  return typeof x === 'object' && x !== null && typeof (x as { crossSend?: unknown }).crossSend === 'function';
}

/** A plugin that takes frames from other workers (plugin-worker.ts routes them by handle). */
export interface CrossWorkerPlugin {
  /** `data` stays valid (it is a view of a buffer nobody reuses). Must not throw for bad input. */
  crossFrame(handleId: number, from: number, kind: CrossKind, pt: number, data: Buffer): void;
  /** A control call from main (pooled-plugin.ts) for one handle: moving a participant between workers. */
  crossWorker(handleId: number, op: string, data: Record<string, unknown>): Record<string, unknown>;
}

export function isCrossWorkerPlugin(x: unknown): x is CrossWorkerPlugin {
  return typeof x === 'object' && x !== null && typeof (x as { crossFrame?: unknown }).crossFrame === 'function';
}

const HEADER = 12;
const TICK_MS = 20;

interface Peer {
  port: MessagePort;
  buf: Buffer;
  used: number;
}

export class CrossLinks {
  private readonly peers = new Map<number, Peer>();
  private timer: NodeJS.Timeout | null = null;
  /** Frames and batches sent (diagnostics, tests). */
  framesOut = 0;
  batchesOut = 0;
  framesIn = 0;

  constructor(private readonly deliver: (from: number, handleId: number, kind: CrossKind, pt: number, data: Buffer) => void) {}

  /** The port to worker `peer` (a new one after either side restarted: frames queued for the old one are dropped). */
  setPort(peer: number, port: MessagePort): void {
    const old = this.peers.get(peer);
    old?.port.close();
    port.on('message', (msg: unknown) => this.receive(peer, msg));
    port.unref();
    this.peers.set(peer, { port, buf: Buffer.allocUnsafe(16 * 1024), used: 0 });
    port.on('close', () => {
      if (this.peers.get(peer)?.port === port) this.peers.delete(peer);
    });
  }

  send(to: number, handleId: number, kind: CrossKind, pt: number, src: Uint8Array, len: number): boolean {
    const p = this.peers.get(to);
    if (!p || len > 0xffff || len > src.length) return false;
    if (p.used + HEADER + len > p.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(p.buf.length * 2, p.used + HEADER + len));
      p.buf.copy(bigger, 0, 0, p.used);
      p.buf = bigger;
    }
    const b = p.buf;
    const o = p.used;
    b.writeDoubleLE(handleId, o);
    b[o + 8] = kind;
    b[o + 9] = pt;
    b.writeUInt16LE(len, o + 10);
    b.set(src.subarray(0, len), o + HEADER);
    p.used = o + HEADER + len;
    this.framesOut++;
    this.timer ??= setInterval(() => this.flush(), TICK_MS).unref();
    return true;
  }

  /** One message per peer with frames queued; the clock stops when a tick had nothing to send. */
  flush(): void {
    let sent = false;
    for (const p of this.peers.values()) {
      if (p.used === 0) continue;
      const ab = new ArrayBuffer(p.used);
      new Uint8Array(ab).set(p.buf.subarray(0, p.used));
      p.used = 0;
      try {
        p.port.postMessage(ab, [ab]);
        this.batchesOut++;
        sent = true;
      } catch {
        /* the peer is gone: its port closes and is forgotten */
      }
    }
    if (!sent && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private receive(from: number, msg: unknown): void {
    if (!(msg instanceof ArrayBuffer)) return;
    const b = Buffer.from(msg);
    let o = 0;
    while (o + HEADER <= b.length) {
      const handleId = b.readDoubleLE(o);
      const kind = b[o + 8]! as CrossKind;
      const pt = b[o + 9]!;
      const len = b.readUInt16LE(o + 10);
      const end = o + HEADER + len;
      if (end > b.length) return;
      this.framesIn++;
      this.deliver(from, handleId, kind, pt, b.subarray(o + HEADER, end));
      o = end;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const p of this.peers.values()) p.port.close();
    this.peers.clear();
  }
}
