/**
 * The main thread's side of a media worker (plugin-worker.ts): a Plugin the core registers like any
 * other, and the MediaPlane for that plugin's handles (RoutingMediaPlane sends them here). Both only
 * forward: every request, JSEP and trickle goes to the worker, whose plugin answers and whose plane
 * owns the PeerConnections; events and media reports come back and are handed to the core as if they
 * came from an in-process plugin and plane.
 *
 * What the core asks synchronously is answered from what the worker last reported: metrics() from the
 * snapshot it sends every second (and after each call). Everything else is asynchronous already.
 */
import { Worker } from 'node:worker_threads';
import type { JanusConfig } from '../config/types.js';
import { ErrorCode, JanusError } from '../core/errors.js';
import { fault, setRemoteFaultCounts } from '../core/fault.js';
import type { Jsep } from '../core/jsep.js';
import type { MediaEvents, MediaHandle, MediaPlane, MediaPlaneMetrics, TrickleCandidate } from '../core/media-plane.js';
import type { Plugin, PluginHost, PluginInitContext, PluginMetrics, PluginResult, PluginSession, SlowLinkInfo } from '../core/plugin.js';
import { getLogLevel, log as rootLog, type Logger } from '../log.js';
import type { MediaRuntimeSettings } from '../media/peer.js';
import type { WebRtcMediaPlane } from '../media/plane.js';
import { zeroCounters } from '../metrics/media.js';
import type { FromWorker, MainCall, MainNotice, SerializedError, ToWorker, WorkerInit } from './protocol.js';

export interface WorkerPluginOptions {
  /** An instance of the plugin class, for its name and version only (it is never initialized here). */
  describe: Plugin;
  /** URL of the module exporting the class, and the export name (the worker constructs it). */
  module: string;
  exportName: string;
  pluginOptions?: Record<string, unknown>;
  /** The main media plane: the worker advertises the same certificate and candidates. */
  plane: WebRtcMediaPlane;
  config: JanusConfig;
  settings: () => MediaRuntimeSettings;
  log?: Logger;
  /** The worker's Janus debug level, re-read every second (default: the process's, set_log_level included). */
  logLevel?: () => number;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };

function deserializeError(e: SerializedError): Error {
  if (e.code !== undefined) return new JanusError(e.code, e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export class WorkerPlugin implements Plugin {
  readonly package: string;
  readonly name: string;
  readonly author: string;
  readonly description: string;
  readonly version: number;
  readonly versionString: string;
  /** The MediaPlane of this plugin's handles (give it to RoutingMediaPlane.route). */
  readonly media: MediaPlane;

  private worker: Worker | null = null;
  private host: PluginHost | null = null;
  private readonly sessions = new Map<number, PluginSession>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private events: MediaEvents | null = null;
  private pluginMetrics: PluginMetrics | null = null;
  private mediaMetrics: MediaPlaneMetrics | null = null;
  private settingsTimer: NodeJS.Timeout | null = null;
  private exited = false;
  private destroying = false;
  private initData: WorkerInit | null = null;
  private readonly log: Logger;
  /** PeerConnections alive in the worker, as last reported (tests, leak checks). */
  peerCount = 0;

  constructor(private readonly opts: WorkerPluginOptions) {
    const d = opts.describe;
    this.package = d.package;
    this.name = d.name;
    this.author = d.author;
    this.description = d.description;
    this.version = d.version;
    this.versionString = d.versionString;
    this.log = opts.log ?? rootLog.child({ plugin: d.package, worker: 'main' });
    this.media = this.makePlane();
  }

  // ------------------------------------------------------------------------------------------ plumbing

  private post(msg: ToWorker): void {
    if (this.worker && !this.exited) this.worker.postMessage(msg);
  }

  private notice(n: MainNotice): void {
    this.post({ t: 'notice', ...n } as ToWorker);
  }

  private call<T>(c: MainCall): Promise<T> {
    if (!this.worker || this.exited) return Promise.reject(new JanusError(ErrorCode.UNKNOWN, `${this.package} media worker is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker!.postMessage({ t: 'call', id, ...c } as ToWorker);
    });
  }

  /** Boundary for what the worker posts: a throw while handling it is counted, never out of the 'message' event. */
  private onMessage(msg: FromWorker): void {
    try {
      this.dispatch(msg);
    } catch (err) {
      fault(this.log, 'worker', err, { plugin: this.package, where: msg.t === 'reply' ? 'reply' : msg.n, ...('handleId' in msg && typeof msg.handleId === 'number' ? { handle_id: msg.handleId } : {}) });
    }
  }

  private dispatch(msg: FromWorker): void {
    if (msg.t === 'reply') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(deserializeError(msg.error));
      return;
    }
    const host = this.host;
    const ev = this.events;
    switch (msg.n) {
      case 'pushEvent': {
        const s = this.sessions.get(msg.handleId);
        if (s && host) host.pushEvent(s, msg.transaction, msg.data, msg.jsep);
        return;
      }
      case 'closePeerConnection': {
        const s = this.sessions.get(msg.handleId);
        if (s && host) host.closePeerConnection(s, msg.reason);
        return;
      }
      case 'notifyEvent': {
        const s = msg.handleId === null ? null : this.sessions.get(msg.handleId);
        if (s !== undefined && host) host.notifyEvent?.(s, msg.data);
        return;
      }
      case 'endSession': {
        const s = this.sessions.get(msg.handleId);
        if (s && host) host.endSession(s);
        return;
      }
      case 'webrtcUp':
        return ev?.webrtcUp(msg.handleId);
      case 'mediaState':
        return ev?.mediaState(msg.handleId, msg.info);
      case 'slowLinkEvent':
        return ev?.slowLink(msg.handleId, msg.info);
      case 'iceFailed':
        return ev?.iceFailed(msg.handleId);
      case 'peerClosed':
        return ev?.peerClosed(msg.handleId, msg.reason);
      case 'localCandidate':
        return ev?.localCandidate(msg.handleId, msg.candidate);
      case 'metrics':
        this.pluginMetrics = msg.plugin;
        this.mediaMetrics = msg.media;
        this.peerCount = msg.peers;
        if (msg.faults) setRemoteFaultCounts(this.package, msg.faults);
        return;
    }
  }

  private failAll(reason: string): void {
    for (const p of this.pending.values()) p.reject(new JanusError(ErrorCode.UNKNOWN, reason));
    this.pending.clear();
  }

  // ------------------------------------------------------------------------------------------ Plugin

  async init(ctx: PluginInitContext): Promise<void> {
    this.host = ctx.host;
    const plane = this.opts.plane;
    const cert = plane.certificate;
    this.initData = {
      module: this.opts.module,
      exportName: this.opts.exportName,
      ...(this.opts.pluginOptions ? { pluginOptions: this.opts.pluginOptions } : {}),
      config: this.opts.config,
      configFile: ctx.config.file,
      configsFolder: ctx.configsFolder,
      certPem: cert.certPem,
      keyPem: cert.keyPem,
      candidates: plane.candidates.snapshot(),
      settings: this.opts.settings(),
      logLevel: this.logLevel(),
      eventsEnabled: this.eventsEnabled(),
    };
    await this.spawn();
    // Admin API changes (set_log_level, set_no_media_timer, ...) reach the worker within a second.
    this.settingsTimer = setInterval(() => this.notice({ n: 'settings', settings: this.opts.settings(), logLevel: this.logLevel(), eventsEnabled: this.eventsEnabled() }), 1000);
    this.settingsTimer.unref();
  }

  /** Starts a worker and initializes its plugin (rooms from the jcfg, as at startup). */
  private async spawn(): Promise<void> {
    const data: WorkerInit = { ...this.initData!, settings: this.opts.settings(), logLevel: this.logLevel(), eventsEnabled: this.eventsEnabled() };
    const worker = new Worker(new URL('./plugin-worker.js', import.meta.url), { workerData: data, name: `${this.package} media` });
    this.worker = worker;
    this.exited = false;
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => {
      // An uncaught exception in the worker ends it: its PeerConnections are gone with it.
      this.log.error('media worker crashed', { err: err instanceof Error ? err.stack : String(err) });
    });
    worker.on('exit', (code) => this.onExit(worker, code));
    try {
      const init = this.call({ m: 'init' });
      // After a crash: the handles still attached are known to the new worker before anything else
      // reaches it (the worker holds every message until its init is done, in order).
      for (const s of this.sessions.values()) this.announce(s);
      await init;
    } catch (err) {
      // A plugin that cannot start is left out (the core logs it); its thread must not linger.
      this.destroying = true;
      await worker.terminate();
      throw err;
    }
    this.log.info('plugin runs in its own media worker thread', { thread: worker.threadId });
  }

  /**
   * The worker ended. On shutdown that is expected; otherwise (a crash) its PeerConnections are gone:
   * their handles get `hangup`, and a new worker is started (rooms from the jcfg again; rooms created
   * at run time without `permanent` are lost, as they would be with a restart of Janus). Handles stay
   * attached and can join again.
   */
  private onExit(worker: Worker, code: number): void {
    if (worker !== this.worker) return;
    this.exited = true;
    this.mediaMetrics = null;
    this.pluginMetrics = null;
    this.peerCount = 0;
    this.failAll(`${this.package} media worker exited (${code})`);
    for (const id of this.sessions.keys()) this.events?.peerClosed(id, 'Media worker exited');
    if (this.destroying) return;
    this.restarts++;
    this.log.error('media worker exited, starting a new one', { code, restarts: this.restarts });
    const delay = Math.min(10_000, 250 * 2 ** Math.min(this.restarts - 1, 6));
    const timer = setTimeout(() => {
      if (this.destroying) return;
      this.spawn().catch(
        (err: unknown) => this.log.error('media worker restart failed', { err: err instanceof Error ? err.message : String(err) }),
      );
    }, delay);
    timer.unref();
  }

  /** Tests: arm fault injection inside the worker thread (see core/fault.ts). */
  injectFault(armed: string | null, target: number | string | null): void {
    this.notice({ n: 'faultInjection', armed, target });
  }

  /** Restarts since startup (tests, diagnostics). */
  restarts = 0;

  async destroy(): Promise<void> {
    this.destroying = true;
    if (this.settingsTimer) clearInterval(this.settingsTimer);
    if (!this.worker) return;
    // A worker that does not answer (stuck in a loop) must not hold the shutdown: 2 s, then it is ended.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
    try {
      await Promise.race([(async () => {
        await this.call({ m: 'destroy' });
        await this.call({ m: 'closeMedia' });
      })(), deadline]);
    } catch {
      /* the worker is gone already */
    } finally {
      clearTimeout(timer);
    }
    await this.worker.terminate();
  }

  private eventsEnabled(): boolean {
    return this.host?.eventsEnabled?.() ?? false;
  }

  private logLevel(): number {
    return this.opts.logLevel ? this.opts.logLevel() : getLogLevel();
  }

  private announce(session: PluginSession): void {
    this.notice({ n: 'createSession', session: { handleId: session.handleId, sessionId: session.sessionId, opaqueId: session.opaqueId, token: session.token } });
  }

  createSession(session: PluginSession): void {
    this.sessions.set(session.handleId, session);
    this.announce(session);
  }

  destroySession(session: PluginSession): void {
    this.sessions.delete(session.handleId);
    this.notice({ n: 'destroySession', handleId: session.handleId });
  }

  handleMessage(session: PluginSession, transaction: string, body: Record<string, unknown>, jsep: Jsep | null): Promise<PluginResult> {
    return this.call<PluginResult>({ m: 'handleMessage', handleId: session.handleId, transaction, body, jsep }).catch(
      (err: unknown) => ({ kind: 'error', reason: err instanceof Error ? err.message : String(err) }) as PluginResult,
    );
  }

  handleAdminMessage(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.call({ m: 'handleAdminMessage', body });
  }

  querySession(session: PluginSession): Promise<Record<string, unknown>> {
    return this.call({ m: 'querySession', handleId: session.handleId });
  }

  setupMedia(session: PluginSession): void {
    this.notice({ n: 'setupMedia', handleId: session.handleId });
  }

  hangupMedia(session: PluginSession): void {
    this.notice({ n: 'hangupMedia', handleId: session.handleId });
  }

  slowLink(session: PluginSession, info: SlowLinkInfo): void {
    this.notice({ n: 'slowLink', handleId: session.handleId, info });
  }

  metrics(): PluginMetrics {
    return this.pluginMetrics ?? { rooms: 0, participants: 0 };
  }

  // ------------------------------------------------------------------------------------------ MediaPlane

  private makePlane(): MediaPlane {
    return {
      attach: (events: MediaEvents) => {
        this.events = events;
      },
      remoteJsep: (h: MediaHandle, jsep: Jsep) => this.call<Jsep>({ m: 'remoteJsep', handleId: h.handleId, jsep }),
      localJsep: (h: MediaHandle, jsep: Jsep) => this.call<Jsep>({ m: 'localJsep', handleId: h.handleId, jsep }),
      trickle: (h: MediaHandle, candidates: TrickleCandidate[]) => this.notice({ n: 'trickle', handleId: h.handleId, candidates }),
      hangup: (h: MediaHandle, reason: string) => this.notice({ n: 'hangup', handleId: h.handleId, reason }),
      release: (h: MediaHandle) => this.notice({ n: 'release', handleId: h.handleId }),
      handleInfo: (h: MediaHandle) => this.call<Record<string, unknown> | null>({ m: 'handleInfo', handleId: h.handleId }).catch(() => null),
      close: async () => {
        await this.call({ m: 'closeMedia' }).catch(() => undefined);
      },
      metrics: (): MediaPlaneMetrics => {
        const m = this.mediaMetrics;
        if (m) return structuredClone(m);
        return {
          peerConnections: {},
          portsInUse: 0,
          portsTotal: 0,
          audio: zeroCounters(),
          video: zeroCounters(),
        };
      },
    };
  }
}
