/**
 * The pool of media worker threads (janus.jcfg `media.media_workers`, default one per core).
 *
 * Every worker-capable plugin is loaded in every worker (one thread and one media plane per core, not
 * one per plugin: a thread costs ~10 MB and a plane its sockets and timers). Where a room and a handle
 * live is decided per plugin (pooled-plugin.ts); the pool keeps which worker each handle's
 * PeerConnection is bound to, and is the one MediaPlane the core routes those handles to.
 */
import type { JanusConfig } from '../config/types.js';
import type { Jsep } from '../core/jsep.js';
import type { MediaEvents, MediaHandle, MediaPlane, MediaPlaneMetrics, TrickleCandidate } from '../core/media-plane.js';
import { log as rootLog, type Logger } from '../log.js';
import type { MediaRuntimeSettings } from '../media/peer.js';
import type { WebRtcMediaPlane } from '../media/plane.js';
import { sumPlaneMetrics } from '../metrics/media.js';
import { PortReader } from '../media/net/port-reader.js';
import { MessageChannel } from 'node:worker_threads';
import { MediaWorker } from './media-worker.js';
import type { WorkerLoad } from './protocol.js';
import type { LaneCounts } from './bus.js';

export interface WorkerPoolOptions {
  size: number;
  plane: WebRtcMediaPlane;
  config: JanusConfig;
  settings: () => MediaRuntimeSettings;
  log?: Logger;
  logLevel?: () => number;
  /** MediaWorkerOptions.replyDeadlineMs (default: the config's media.worker_call_timeout; tests shorten it). */
  replyDeadlineMs?: number;
}

/** One worker's line in /metrics. */
export interface WorkerStatus {
  index: number;
  up: boolean;
  restarts: number;
  load: WorkerLoad;
  media: MediaPlaneMetrics | null;
  /** Log lines the thread dropped since its last start (stdout full). */
  logDropped: number;
  /** Per plugin: records lost on the packet lanes into this worker since its last start (full ring, too old). */
  lanes: Record<string, LaneCounts>;
}

export class WorkerPool {
  readonly workers: MediaWorker[];
  /** The MediaPlane of every handle whose plugin runs in the pool. */
  readonly media: MediaPlane;
  /** handle -> the worker its PeerConnection lives on. */
  private readonly bound = new Map<number, MediaWorker>();
  // Every caller of start() brings its own test (main's event handlers, each pooled plugin's host, which
  // cluster mode wraps to always want VideoRoom's events): the workers send events when any wants them.
  private readonly eventTests: (() => boolean)[] = [];
  private readonly eventsEnabled = (): boolean => this.eventTests.some((t) => t());
  /** Each pooled plugin's host's PluginHost.observesEvents (cluster mode's VideoRoom). */
  private readonly observeTests: (() => boolean)[] = [];
  private readonly eventsObserved = (): boolean => this.observeTests.some((t) => t());
  private started: Promise<void> | null = null;
  private readonly pickers = new Map<string, (handleId: number) => MediaWorker>();
  private users = 0;
  private readonly log: Logger;
  /**
   * media.single_port (without single_port_per_worker): the process's one socket, read on this (main)
   * thread and handed to the workers through rings. Bound in start(), before the threads.
   */
  private reader: PortReader | null = null;
  private readonly onePort: boolean;

  constructor(private readonly opts: WorkerPoolOptions) {
    this.log = opts.log ?? rootLog.child({ worker: 'main' });
    const n = Math.max(1, opts.size);
    this.onePort = opts.config.media.single_port > 0 && !opts.config.media.single_port_per_worker;
    this.workers = Array.from(
      { length: n },
      (_, index) =>
        new MediaWorker({
          index,
          plane: opts.plane,
          config: opts.config,
          settings: opts.settings,
          log: this.log,
          ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
          replyDeadlineMs: opts.replyDeadlineMs ?? (opts.config.media.worker_call_timeout ?? 20) * 1000,
          eventsEnabled: () => this.eventsEnabled(),
          eventsObserved: () => this.eventsObserved(),
          boundWorker: (handleId: number) => this.bound.get(handleId),
          ...(this.onePort ? { portLink: (i: number) => this.reader!.link(i) } : {}),
          spawned: (w: MediaWorker) => this.wire(w),
        }),
    );
    this.media = this.makePlane();
  }

  /** Starts the threads once (every pooled plugin's init awaits it). */
  start(eventsEnabled: () => boolean, eventsObserved?: () => boolean): Promise<void> {
    this.eventTests.push(eventsEnabled);
    if (eventsObserved) this.observeTests.push(eventsObserved);
    this.started ??= (async () => {
      if (this.onePort) await this.openPort();
      await Promise.all(this.workers.map((w) => w.start()));
    })();
    // Main starts the threads before the plugins' init: a test added since (a clustered VideoRoom's host
    // always wants events) reaches the running threads now, not at the next settings tick up to 1 s
    // later, when a participant's `joined`/`leaving` may already have been dropped in the worker.
    return this.started.then(() => {
      for (const w of this.workers) w.syncSettings();
    });
  }

  /**
   * Direct links (peer-links.ts) between a new thread and every other running one: one MessageChannel
   * per pair, an end to each. At pool start each worker is wired to those made before it (every pair
   * once); a restarted worker gets new links to all the others, whose old link to it closed with it.
   */
  private wire(w: MediaWorker): void {
    for (const o of this.workers) {
      if (o === w || !o.running) continue;
      const { port1, port2 } = new MessageChannel();
      if (!w.transfer({ n: 'peerPort', index: o.index, port: port1 }, [port1]) || !o.transfer({ n: 'peerPort', index: w.index, port: port2 }, [port2])) {
        port1.close();
        port2.close();
      }
    }
  }

  /** The one-port reader's counters (null unless in one-port mode). */
  get portReader(): PortReader | null {
    return this.reader;
  }

  private async openPort(): Promise<void> {
    const { config, plane } = this.opts;
    const reader = await PortReader.bind({
      port: config.media.single_port,
      workers: this.workers.length,
      ipv6: config.media.ipv6 && plane.candidates.addresses6.length > 0,
      bufferBytes: 8 * 1024 * 1024,
      log: this.log,
    });
    this.reader = reader;
    let tcp6 = false;
    if (config.nat.ice_tcp) {
      // ICE-TCP on the same port number, for the whole process too ('::' also takes IPv6 with media.ipv6).
      tcp6 = reader.socket6 !== null;
      try {
        await reader.listenTcp(tcp6 ? '::' : '0.0.0.0');
        this.log.info('ICE-TCP listening (one port for all media workers)', { port: reader.tcpPort });
      } catch (err) {
        tcp6 = false;
        this.log.warn('ICE-TCP disabled: cannot listen', { port: reader.port, err: err instanceof Error ? err.message : String(err) });
      }
    }
    // nat.stun_server: the one socket's mapping, asked once here (the workers have no socket to ask on).
    const base = plane.candidates.hostCandidates(reader.port)?.base;
    const base6 = reader.socket6 !== null ? plane.candidates.ipv6Base(reader.port) : null;
    [reader.srflx, reader.srflx6] = await Promise.all([
      base !== undefined ? plane.candidates.srflxFor(reader.socket4, base).catch(() => null) : null,
      base6 !== null ? plane.candidates.srflxFor(reader.socket6!, base6).catch(() => null) : null,
    ]);
    // Main's own plane (plugins with media_worker = false) shares the socket without a ring.
    plane.useSharedPort({ port: reader.port, prefix: reader.localPrefix, tcpPort: reader.tcpPort, tcp6, srflx: reader.srflx, srflx6: reader.srflx6, attach: (router) => reader.localMuxes(router, this.log) });
    this.log.info('single-port UDP listening (one port for all media workers)', { port: reader.port, workers: this.workers.length, ...(reader.socket6 ? { ipv6: true } : {}) });
  }

  /**
   * The worker with the least load: PeerConnections first (each costs its share of every packet it
   * gets; those being set up count at once, so a burst of joins does not all land on one worker before
   * the next report), then packets/s, then `extra` (a plugin's rooms there: empty rooms still spread);
   * a worker that is restarting last.
   */
  leastLoaded(among: readonly MediaWorker[] = this.workers, extra?: (w: MediaWorker) => number): MediaWorker {
    let best = among[0]!;
    let bestScore = Infinity;
    for (const w of among) {
      const score = (w.exited ? 1e12 : 0) + Math.max(w.load.peers, w.mediaCount) * 1e6 + w.load.packetsPerSec + (extra ? extra(w) : 0);
      if (score < bestScore) {
        best = w;
        bestScore = score;
      }
    }
    return best;
  }

  boundWorker(handleId: number): MediaWorker | undefined {
    return this.bound.get(handleId);
  }

  bind(handleId: number, w: MediaWorker): void {
    this.bound.set(handleId, w);
  }

  unbind(handleId: number): void {
    this.bound.delete(handleId);
  }

  /** How each plugin picks a worker for a handle nothing placed yet (pooled-plugin.ts). */
  setPicker(pkg: string, pick: (handleId: number) => MediaWorker): void {
    this.pickers.set(pkg, pick);
  }

  /** Plugins using the pool: the threads end when the last one is destroyed. */
  retain(): void {
    this.users++;
  }

  async release(): Promise<void> {
    if (--this.users > 0) return;
    await this.destroy();
  }

  /** Where a handle's media goes: its bound worker, else (first JSEP before any request placed it) its plugin's pick. */
  private workerFor(h: MediaHandle): MediaWorker {
    let w = this.bound.get(h.handleId);
    if (!w) {
      w = this.pickers.get(h.pluginPackage)?.(h.handleId) ?? this.leastLoaded();
      this.bound.set(h.handleId, w);
    }
    return w;
  }

  status(): WorkerStatus[] {
    return this.workers.map((w) => ({ index: w.index, up: !w.exited && w.worker !== null, restarts: w.restarts, load: w.load, media: w.mediaMetrics, logDropped: w.logDropped, lanes: w.lanes }));
  }

  async destroy(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.destroy()));
    this.reader?.close();
  }

  private makePlane(): MediaPlane {
    return {
      attach: (events: MediaEvents) => {
        for (const w of this.workers) w.events = events;
      },
      remoteJsep: (h: MediaHandle, jsep: Jsep) => {
        const w = this.workerFor(h);
        w.markMedia(h.handleId, true);
        return w.call<Jsep>({ m: 'remoteJsep', handleId: h.handleId, jsep });
      },
      localJsep: (h: MediaHandle, jsep: Jsep) => {
        const w = this.workerFor(h);
        w.markMedia(h.handleId, true);
        // Merged already by the worker that pushed the event (MediaWorker.takeMerged): no round trip.
        const merged = w.takeMerged(h.handleId, jsep);
        if (merged !== null) return merged;
        return w.call<Jsep>({ m: 'localJsep', handleId: h.handleId, jsep });
      },
      trickle: (h: MediaHandle, candidates: TrickleCandidate[]) => this.workerFor(h).notice({ n: 'trickle', handleId: h.handleId, candidates }),
      hangup: (h: MediaHandle, reason: string) => this.bound.get(h.handleId)?.notice({ n: 'hangup', handleId: h.handleId, reason }),
      release: (h: MediaHandle) => {
        const w = this.bound.get(h.handleId);
        if (!w) return;
        w.markMedia(h.handleId, false);
        w.notice({ n: 'release', handleId: h.handleId });
      },
      handleInfo: async (h: MediaHandle) => {
        const w = this.bound.get(h.handleId);
        if (!w) return null;
        return w.call<Record<string, unknown> | null>({ m: 'handleInfo', handleId: h.handleId }).catch(() => null);
      },
      close: async () => {
        await Promise.allSettled(this.workers.map((w) => w.call({ m: 'closeMedia' })));
      },
      metrics: (): MediaPlaneMetrics => {
        const m = sumPlaneMetrics(this.workers.flatMap((w) => (w.mediaMetrics ? [w.mediaMetrics] : [])));
        const r = this.reader;
        if (r !== null) {
          // What the one-port reader dropped before any worker saw it, on top of what the workers' muxes dropped.
          const e = m.errors as Record<string, number>;
          e.single_port_unknown_source = (e.single_port_unknown_source ?? 0) + r.stats.unknownSource;
          e.single_port_unknown_ufrag = (e.single_port_unknown_ufrag ?? 0) + r.stats.unknownUfrag;
          e.single_port_garbage = (e.single_port_garbage ?? 0) + r.stats.garbage;
          e.single_port_ring_dropped = (e.single_port_ring_dropped ?? 0) + r.stats.ringDropped;
        }
        return m;
      },
    };
  }
}
