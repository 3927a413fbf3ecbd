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
import { MediaWorker } from './media-worker.js';
import type { WorkerLoad } from './protocol.js';

export interface WorkerPoolOptions {
  size: number;
  plane: WebRtcMediaPlane;
  config: JanusConfig;
  settings: () => MediaRuntimeSettings;
  log?: Logger;
  logLevel?: () => number;
}

/** One worker's line in /metrics. */
export interface WorkerStatus {
  index: number;
  up: boolean;
  restarts: number;
  load: WorkerLoad;
  media: MediaPlaneMetrics | null;
}

export class WorkerPool {
  readonly workers: MediaWorker[];
  /** The MediaPlane of every handle whose plugin runs in the pool. */
  readonly media: MediaPlane;
  /** handle -> the worker its PeerConnection lives on. */
  private readonly bound = new Map<number, MediaWorker>();
  private eventsEnabled: () => boolean = () => false;
  private started: Promise<void> | null = null;
  private readonly pickers = new Map<string, (handleId: number) => MediaWorker>();
  private users = 0;
  private readonly log: Logger;

  constructor(opts: WorkerPoolOptions) {
    this.log = opts.log ?? rootLog.child({ worker: 'main' });
    const n = Math.max(1, opts.size);
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
          eventsEnabled: () => this.eventsEnabled(),
        }),
    );
    this.media = this.makePlane();
  }

  /** Starts the threads once (every pooled plugin's init awaits it). */
  start(eventsEnabled: () => boolean): Promise<void> {
    this.eventsEnabled = eventsEnabled;
    this.started ??= Promise.all(this.workers.map((w) => w.start())).then(() => undefined);
    return this.started;
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
    return this.workers.map((w) => ({ index: w.index, up: !w.exited && w.worker !== null, restarts: w.restarts, load: w.load, media: w.mediaMetrics }));
  }

  async destroy(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.destroy()));
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
      metrics: (): MediaPlaneMetrics => sumPlaneMetrics(this.workers.flatMap((w) => (w.mediaMetrics ? [w.mediaMetrics] : []))),
    };
  }
}
