/**
 * The worker bus: the one way a plugin's instances on the pool's media workers talk to each other
 * (issue 12). VideoRoom's cross-worker fan-out, AudioBridge's changeroom across workers and TextRoom's
 * delivery to members on other workers all use it, through two lanes and two hooks:
 *
 * - **packet lane** (`lane(to)`): per destination worker a SharedArrayBuffer ring (ring.ts), single
 *   producer / single consumer, one per plugin and ordered pair of workers, made by main the first time
 *   the plugin asks for it (BusHub.openLane). Writing a record is a copy into shared memory; the other
 *   worker is woken at most once per event-loop turn and drains everything written since (busPacket per
 *   record). No postMessage, no promise and no allocation per packet; a full ring drops and counts, and
 *   a record older than LANE_MAX_AGE_MS when the worker gets to it is skipped and counted (busStale).
 * - **control lane** (`send(to, msg)`): structured-clonable messages for things that are not per packet
 *   (VideoRoom's `want`/`pli`/`feed`; TextRoom's batches only while a direct lane is missing). They are
 *   relayed by the main thread, so they stay in order with each other, per pair of workers, and with the
 *   requests the plugin routes through main (`forward`).
 * - **direct lane** (`direct(to, msg)`): the same kind of message over the pair's own MessagePort
 *   (peer-links.ts), worker to worker without main: one thread crossing instead of two. In order per
 *   pair of workers, but in no order with the control lane or anything main routes; the caller batches
 *   (one post per destination per turn). TextRoom's relay and its requests for rooms a member is in go
 *   this way (src/plugins/textroom/relay.ts).
 * - **calls from main** (busCall): set-up that main drives and waits for (VideoRoom's mirror of a room,
 *   AudioBridge's export/attach/detach of a moving participant).
 * - **down** (busDown): a worker died; its lanes are closed on both sides before the hook runs.
 *
 * A plugin gets its WorkerBus in PluginInitContext.bus (in a media worker only) and implements the
 * BusMember hooks it needs. The worker side is BusEnd, the main side BusHub (one of each per plugin).
 */
import type { ForwardRoute, PluginSession } from '../core/plugin.js';
import type { MediaWorker } from './media-worker.js';
import { createRing, RingConsumer, RingProducer } from './ring.js';

/** Bytes of each lane's ring: ~850 full-size packets, tens of ms of a busy publisher set. */
export const LANE_BYTES = 1 << 20;

/**
 * The oldest a packet-lane record may be when the receiving worker gets to it; older ones are skipped
 * (ring.ts maxAgeMs) and the plugin hears it (busStale). A worker starved of CPU otherwise delivered
 * its whole backlog late: a loaded bench measured subscribers 15-24 s behind real time with no gap,
 * which no viewer can use, where a loss and a fresh keyframe cost a moment. 500 ms is far beyond any
 * jitter buffer (a record normally crosses in well under a ms, a busy but healthy worker's turn takes
 * tens of ms), so only a worker that has really fallen behind loses anything.
 */
export const LANE_MAX_AGE_MS = 500;

/** The producer end of a packet lane (a RingProducer; see ring.ts for the record's tag and meta words). */
export type PacketLane = Pick<RingProducer, 'write' | 'flush' | 'dropped' | 'stale' | 'written' | 'closed'>;

/** Records lost on the lanes into one worker, for one plugin (/metrics). */
export interface LaneCounts {
  /** Refused by a full ring (the producer's side of the loss, counted in the shared ring). */
  dropped: number;
  /** Skipped as older than LANE_MAX_AGE_MS when this worker reached them. */
  stale: number;
}

/** A plugin's view of its instances on the other workers. `M`: the plugin's control messages. */
export interface WorkerBus<M = unknown> {
  /** This worker's index in the pool. */
  readonly index: number;
  /** How many workers the plugin runs on (1: nothing crosses, every lane is null). */
  readonly workers: number;
  /** Control lane: `msg` to this plugin on worker `to` (its busMessage), in order; dropped if that worker is gone. */
  send(to: number, msg: M): void;
  /**
   * Direct lane: `msg` to this plugin on worker `to` over the pair's MessagePort (its busMessage), one
   * postMessage per call; false when there is none: that worker died (main wires a restarted worker to
   * every other before it runs anything), so what was for it can be dropped.
   */
  direct(to: number, msg: M): boolean;
  /** Packet lane to worker `to`: null until main opened it, and after that worker died. */
  lane(to: number): PacketLane | null;
  /** The worker of the handle's PeerConnection as main last said (null: unknown, or none yet). */
  homeOf(session: PluginSession): number | null;
  /**
   * A request of a handle whose PeerConnection is here, for the worker that must run it (main routes
   * it: `forwarded` there; a `kind: 'all'` request is answered here with forwardReply, `tag` with it).
   * Travels behind every control message sent before it.
   */
  forward(session: PluginSession, route: ForwardRoute, body: Record<string, unknown>, tag: string | null): void;
  /** A room was created (`here` true) or destroyed on this worker outside the Janus API (main keeps the room map). */
  roomChanged(room: string | number, here: boolean): void;
}

/** The hooks a plugin implements to take part (each optional; none is called on the main thread). */
export interface BusMember<M = unknown> {
  /** A control message from this plugin on worker `from`. */
  busMessage?(from: number, msg: M): void;
  /**
   * One record of worker `from`'s packet lane: `data[offset, offset + length)` is valid during the call
   * only (the producer reuses the space): copy what is kept.
   */
  busPacket?(from: number, tag: number, meta: number, data: Buffer, offset: number, length: number): void;
  /**
   * `count` records of worker `from`'s packet lane with this tag were skipped, older than
   * LANE_MAX_AGE_MS (this worker fell behind); meta is that of the first one. Once per tag and drain,
   * after the drain: the place to ask for what repairs the gap (a keyframe).
   */
  busStale?(from: number, tag: number, meta: number, count: number): void;
  /**
   * A record of worker `from`'s packet lane that is too old: true delivers it anyway (a control record
   * whose loss nothing repairs). Asked only about old records; absent: all are skipped.
   */
  busKeepStale?(from: number, tag: number, meta: number): boolean;
  /** A call from main (cross-worker set-up); the answer is structured-cloned back. */
  busCall?(op: string, args: Record<string, unknown>): unknown;
  /** Worker `index` died: what crossed to or from it is gone (its lanes are closed already). */
  busDown?(index: number): void;
  /** A request a handle sent on worker `from` (its PeerConnection is there), to run here (WorkerBus.forward). */
  forwarded?(session: PluginSession, from: number, body: Record<string, unknown>): void;
  /** The answer to a forwarded `kind: 'all'` request (or the reason it could not run). */
  forwardReply?(session: PluginSession, tag: string | null, data: Record<string, unknown> | null, error: string | null): void;
}

/** What a BusEnd posts to main (plugin-worker.ts turns these into WorkerNotices). */
export interface BusUplink {
  send(to: number, msg: unknown): void;
  /** The pair's own port (peer-links.ts); absent or false: none. */
  direct?(to: number, msg: unknown): boolean;
  forward(handleId: number, route: ForwardRoute, body: Record<string, unknown>, tag: string | null): void;
  roomChanged(room: string, here: boolean): void;
  /** The worker of the handle's PeerConnection, as main last said. */
  home(session: PluginSession): number | null;
  /** The handle's id if its session is alive here (null: gone, nothing to forward). */
  live(session: PluginSession): number | null;
}

/** The worker side of one plugin's bus. */
export class BusEnd implements WorkerBus {
  private readonly producers = new Map<number, RingProducer>();
  private readonly consumers = new Map<number, RingConsumer>();
  private member: BusMember | null = null;
  /** Counts of consumers closed since (a lane reopened, a worker died): /metrics counters never go down. */
  private readonly retired: LaneCounts = { dropped: 0, stale: 0 };

  constructor(
    readonly index: number,
    readonly workers: number,
    private readonly up: BusUplink,
  ) {}

  /** The plugin whose hooks get what arrives (set once it is initialized). */
  attach(member: BusMember): void {
    this.member = member;
  }

  send(to: number, msg: unknown): void {
    if (to !== this.index) this.up.send(to, msg);
  }

  direct(to: number, msg: unknown): boolean {
    if (to === this.index) return false;
    return this.up.direct?.(to, msg) ?? false;
  }

  lane(to: number): PacketLane | null {
    return this.producers.get(to) ?? null;
  }

  homeOf(session: PluginSession): number | null {
    return this.up.home(session);
  }

  forward(session: PluginSession, route: ForwardRoute, body: Record<string, unknown>, tag: string | null): void {
    const handleId = this.up.live(session);
    if (handleId !== null) this.up.forward(handleId, route, body, tag);
  }

  roomChanged(room: string | number, here: boolean): void {
    this.up.roomChanged(String(room), here);
  }

  // ---- from main

  message(from: number, msg: unknown): void {
    this.member?.busMessage?.(from, msg);
  }

  /** Main opened (or reopened) a lane this worker is one end of. */
  openLane(from: number, to: number, sab: SharedArrayBuffer): void {
    if (from === this.index) {
      this.producers.set(to, new RingProducer(sab));
      return;
    }
    if (to !== this.index) return;
    this.retire(from);
    // One closure per lane, not per record: the record goes straight to the plugin's hook.
    const rx = new RingConsumer(sab, (tag, meta, data, offset, length) => this.member?.busPacket?.(from, tag, meta, data, offset, length), {
      maxAgeMs: LANE_MAX_AGE_MS,
      onStale: (tag, meta, count) => this.member?.busStale?.(from, tag, meta, count),
      keep: (tag, meta) => this.member?.busKeepStale?.(from, tag, meta) === true,
    });
    this.consumers.set(from, rx);
    rx.start();
  }

  /** Closes the lane from worker `from`, keeping its counts. */
  private retire(from: number): void {
    const rx = this.consumers.get(from);
    if (rx === undefined) return;
    this.retired.dropped += rx.dropped;
    this.retired.stale += rx.stale;
    rx.close();
    this.consumers.delete(from);
  }

  /**
   * Records lost on the lanes into this worker since it started: counted at the consumer, so each
   * lane's loss is counted once (the producer's worker reads the same ring words).
   */
  laneCounts(): LaneCounts {
    let dropped = this.retired.dropped;
    let stale = this.retired.stale;
    for (const rx of this.consumers.values()) {
      dropped += rx.dropped;
      stale += rx.stale;
    }
    return { dropped, stale };
  }

  /** Worker `index` died: its lanes close, then the plugin hears it. */
  down(index: number): void {
    this.producers.delete(index);
    this.retire(index);
    this.member?.busDown?.(index);
  }

  close(): void {
    for (const from of [...this.consumers.keys()]) this.retire(from);
    this.producers.clear();
  }
}

/** The main side of one plugin's bus: relays the control lane, opens packet lanes, forgets a dead worker's. */
export class BusHub {
  /** Control messages relayed since startup (tests, diagnostics: TextRoom's are batches, not frames). */
  relayed = 0;
  /** "from>to": the lane exists. */
  private readonly lanes = new Set<string>();

  constructor(
    private readonly pkg: string,
    private readonly workers: readonly MediaWorker[],
  ) {}

  private worker(index: number): MediaWorker | undefined {
    return this.workers.find((w) => w.index === index);
  }

  /** A control message from the plugin on `from` for its instance on worker `to`: one message in, one out. */
  relay(from: MediaWorker, to: number, msg: unknown): void {
    const target = this.worker(to);
    if (!target || target === from) return;
    this.relayed++;
    target.notice({ n: 'bus', p: this.pkg, from: from.index, msg });
  }

  /** The packet lane from `from` to `to` (made once per pair and direction; both ends are told). */
  openLane(from: MediaWorker, to: MediaWorker): void {
    if (from === to) return;
    const key = `${from.index}>${to.index}`;
    if (this.lanes.has(key)) return;
    this.lanes.add(key);
    const n = { n: 'busLane', p: this.pkg, from: from.index, to: to.index, sab: createRing(LANE_BYTES) } as const;
    from.notice(n);
    to.notice(n);
  }

  /** A set-up call into the plugin on `w` (its busCall). */
  call<T>(w: MediaWorker, op: string, args: Record<string, unknown>): Promise<T> {
    return w.call<T>({ m: 'busCall', p: this.pkg, op, args });
  }

  /** Worker `dead` died: its lanes are gone (they are made again on demand), the others hear it. */
  down(dead: MediaWorker): void {
    const i = dead.index;
    for (const key of [...this.lanes]) {
      const [a, b] = key.split('>').map(Number);
      if (a === i || b === i) this.lanes.delete(key);
    }
    for (const w of this.workers) if (w !== dead) w.notice({ n: 'busDown', p: this.pkg, index: i });
  }
}
