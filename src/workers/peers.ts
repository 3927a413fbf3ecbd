/**
 * What a plugin in a media worker sees of the other workers (the cross-worker path of issue 12): a
 * control channel to the same plugin in another worker (postMessage through main, in order per pair:
 * for things that are not per packet) and, per destination worker, a SharedArrayBuffer ring (ring.ts)
 * for the packets themselves. Main (pooled-plugin.ts) creates a pair's ring when a plugin first needs
 * it, and tells both sides; a worker that dies takes its rings with it (peerDown everywhere else).
 */
import { RingConsumer, RingProducer } from './ring.js';

export interface WorkerPeers {
  /** This worker's index in the pool. */
  readonly index: number;
  /** A control message to this plugin in worker `to` (dropped if that worker is gone). */
  send(to: number, msg: Record<string, unknown>): void;
  /** The ring to worker `to`, or null while main has not made one (or that worker died). */
  producer(to: number): RingProducer | null;
}

/** The optional hooks a plugin implements to take part (duck-typed by plugin-worker.ts). */
export interface PeerAwarePlugin {
  /** A control message from this plugin in worker `from`. */
  peerMessage?(from: number, msg: Record<string, unknown>): void;
  /** One record from worker `from`'s ring (see ring.ts for the arguments; copy before keeping). */
  peerRecord?(from: number, tag: number, meta: number, data: Buffer, offset: number, length: number): void;
  /** Worker `index` died: everything that crossed to or from it is gone. */
  peerDown?(index: number): void;
  /** A call from main (placement set-up), answered with a structured-clonable value. */
  peerCall?(op: string, args: Record<string, unknown>): unknown;
}

/** One plugin's rings in one worker. */
export class PluginPeers implements WorkerPeers {
  private readonly producers = new Map<number, RingProducer>();
  private readonly consumers = new Map<number, RingConsumer>();

  constructor(
    readonly index: number,
    private readonly post: (to: number, msg: Record<string, unknown>) => void,
    private readonly plugin: () => PeerAwarePlugin | undefined,
  ) {}

  send(to: number, msg: Record<string, unknown>): void {
    if (to !== this.index) this.post(to, msg);
  }

  producer(to: number): RingProducer | null {
    return this.producers.get(to) ?? null;
  }

  /** Main made (or remade) the ring of a pair this worker is one end of. */
  setRing(from: number, to: number, sab: SharedArrayBuffer): void {
    if (from === this.index) {
      this.producers.set(to, new RingProducer(sab));
      return;
    }
    if (to !== this.index) return;
    this.consumers.get(from)?.close();
    const rx = new RingConsumer(sab, (tag, meta, data, offset, length) => this.plugin()?.peerRecord?.(from, tag, meta, data, offset, length));
    this.consumers.set(from, rx);
    rx.start();
  }

  down(index: number): void {
    this.producers.delete(index);
    this.consumers.get(index)?.close();
    this.consumers.delete(index);
  }

  close(): void {
    for (const c of this.consumers.values()) c.close();
    this.consumers.clear();
    this.producers.clear();
  }
}
