/**
 * The main thread's side of one media worker thread (plugin-worker.ts): starts it, loads plugins into
 * it, calls into it, hands what it reports to the core, and restarts it when it dies.
 *
 * Several plugins share the thread (and its one media plane): the pool (pool.ts) has N of these, and
 * each PooledPlugin (pooled-plugin.ts) decides which of them a room and a handle live on. A handle is
 * announced to a worker the first time something for it goes there (ensureSession), so management
 * requests can reach any worker; its PeerConnection lives on exactly one (hasMedia).
 */
import { Worker, type MessagePort } from 'node:worker_threads';
import type { CfgValue, JanusConfig } from '../config/types.js';
import { ErrorCode, JanusError } from '../core/errors.js';
import { fault, setRemoteFaultCounts } from '../core/fault.js';
import type { MediaEvents, MediaPlaneMetrics } from '../core/media-plane.js';
import type { ForwardRoute, PluginHost, PluginMetrics, PluginSession } from '../core/plugin.js';
import { getLogLevel, type Logger } from '../log.js';
import type { MediaRuntimeSettings } from '../media/peer.js';
import type { WebRtcMediaPlane } from '../media/plane.js';
import type { PortLinkInit } from '../media/net/port-reader.js';
import type { Jsep } from '../core/jsep.js';
import type { FromWorker, MainCall, MainNotice, PluginLoad, SerializedError, ToWorker, WorkerInit, WorkerLoad } from './protocol.js';
import type { LaneCounts } from './bus.js';

/** What a worker needs from the plugin facade it serves (pooled-plugin.ts). */
export interface WorkerClient {
  readonly host: PluginHost | null;
  /** The load for this worker, computed again at a restart (its rooms may have changed). */
  loadFor(worker: MediaWorker): PluginLoad;
  /** A worker's `permanent` change to the plugin's jcfg (main owns the file). */
  saveConfig(set: Array<[string, Record<string, CfgValue>]>, remove: string[]): Promise<void>;
  /** The worker was replaced: rooms it had that the jcfg does not define are gone. */
  workerRestarted(worker: MediaWorker): void;
  /** The bus (bus.ts): a control message from this plugin on `from` for its instance on worker `to`. */
  busMessage?(from: MediaWorker, to: number, msg: unknown): void;
  /** The bus: a handle's request to route (WorkerBus.forward), a room made or gone outside the API. */
  forward?(from: MediaWorker, handleId: number, route: ForwardRoute, body: Record<string, unknown>, tag: string | null): void;
  roomChanged?(worker: MediaWorker, room: string, here: boolean): void;
}

export interface MediaWorkerOptions {
  index: number;
  /** The main media plane: the worker advertises the same certificate and candidates. */
  plane: WebRtcMediaPlane;
  config: JanusConfig;
  settings: () => MediaRuntimeSettings;
  log: Logger;
  /** The worker's Janus debug level, re-read every second (default: the process's). */
  logLevel?: () => number;
  eventsEnabled: () => boolean;
  /** Whether a pooled plugin's host observes its events in-process (PluginHost.observesEvents). */
  eventsObserved?: () => boolean;
  /** One-port mode: this worker's link to the main thread's socket, made anew at every (re)start. */
  portLink?: (index: number) => PortLinkInit;
  /** The worker a handle's PeerConnection is bound to (the pool's map). */
  boundWorker?: (handleId: number) => MediaWorker | undefined;
  /**
   * A new thread was made (start or restart), its init and plugin loads posted: the pool hands it its
   * direct links to the other workers now, so they queue behind the loads and are there before any
   * request a plugin could answer over them.
   */
  spawned?: (w: MediaWorker) => void;
  /**
   * How long a call about a handle (a request, a JSEP, a query) may go unanswered before it fails with
   * a Janus error (default REPLY_DEADLINE_MS); the worker bounds a pushEvent's JSEP with the same value.
   */
  replyDeadlineMs?: number;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void; at: number; m: MainCall['m']; handleId: number | undefined; transaction?: string };

/**
 * A call about a handle that has had no answer for this long fails (a Janus error for the request), so
 * that a client is never left without a reply whatever happens in the worker; 20 s is far beyond any
 * answer seen under load and below what clients wait (the benchmarks give up at 30 s).
 */
export const REPLY_DEADLINE_MS = 20_000;
/** How often the calls still out are looked at (sweep). */
const SWEEP_MS = 500;
/**
 * Calls whose success changes the handle's state on the worker (a join, a JSEP): one that succeeds after
 * main failed it is undone there (undoLate).
 */
const STATEFUL_CALLS: ReadonlySet<MainCall['m']> = new Set(['handleMessage', 'remoteJsep', 'localJsep']);
/** How long plugin events for a message failed at the deadline are still recognised as late (and dropped). */
const LATE_EVENTS_MS = 120_000;
/** Failed calls remembered for their late answer (the oldest forgotten first). */
const TIMED_OUT_KEPT = 1000;
/** Calls that start, load or stop the thread: bounded by their own callers (start, destroy), not here. */
const LIFECYCLE_CALLS: ReadonlySet<MainCall['m']> = new Set(['init', 'loadPlugin', 'destroy', 'closeMedia']);

/** How long a PeerConnection placed on a worker counts as being set up there at most (settingUpCount). */
const SETTING_UP_MS = 10_000;

const NO_LOAD: WorkerLoad = { peers: 0, packetsPerSec: 0, loopLagMs: 0, loopLagMaxMs: 0 };

function deserializeError(e: SerializedError): Error {
  if (e.code !== undefined) return new JanusError(e.code, e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export class MediaWorker {
  readonly index: number;
  worker: Worker | null = null;
  exited = false;
  restarts = 0;
  /** Set by the pool: where media events go. */
  events: MediaEvents | null = null;
  /** As last reported. */
  pluginMetrics: Record<string, PluginMetrics | null> = {};
  mediaMetrics: MediaPlaneMetrics | null = null;
  load: WorkerLoad = NO_LOAD;
  /** Posts over its direct links to other workers (peer-links.ts), as last reported. */
  peerPosts = 0;
  /** Log lines the thread dropped (stdout full), as last reported. */
  logDropped = 0;
  /** Per plugin: records lost on the packet lanes into this worker (since its last start), as last reported. */
  lanes: Record<string, LaneCounts> = {};

  private destroying = false;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** The plugins loaded here, in load order (loaded again after a restart). */
  private readonly clients = new Map<string, WorkerClient>();
  /** Handles announced to this worker, and their plugin. */
  private readonly sessions = new Map<number, { session: PluginSession; client: WorkerClient; pkg: string }>();
  /** Handles whose PeerConnection is (or is being set up) here. */
  private readonly media = new Set<number>();
  /** Of those, the ones not up yet (ICE + DTLS to do), and since when (ms, performance.now()). */
  private readonly settingUp = new Map<number, number>();
  /** A pushEvent's JSEP the worker merged already (protocol.ts pushEvent `local`), while the core handles that event. */
  private merged: { handleId: number; jsep: Jsep; local?: Jsep; error?: SerializedError } | null = null;
  private settingsTimer: NodeJS.Timeout | null = null;
  /** The settings, log level and events flag the thread has (JSON): sent with init, then on change. */
  private settingsSent = '';
  private readonly log: Logger;
  private readonly replyDeadlineMs: number;
  /** Runs while calls are out (sweep). */
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Calls failed for want of an answer, and answers that came after that (tests, diagnostics). */
  callsTimedOut = 0;
  lateReplies = 0;
  /** Late successes undone on the worker (undoLate). */
  lateUndone = 0;
  /** Calls about a handle failed by the deadline, until their late answer comes (id -> call). */
  private readonly timedOut = new Map<number, { m: MainCall['m']; handleId: number }>();
  /**
   * `handleId transaction` of messages failed by the deadline, and until when (performance.now()): the
   * plugin's events for them that come late are dropped (the client has its error for that transaction).
   */
  private readonly lateTransactions = new Map<string, number>();

  constructor(private readonly opts: MediaWorkerOptions) {
    this.index = opts.index;
    this.log = opts.log;
    this.replyDeadlineMs = opts.replyDeadlineMs ?? REPLY_DEADLINE_MS;
  }

  get peerCount(): number {
    return this.load.peers;
  }

  // ------------------------------------------------------------------------------------------ plumbing

  private post(msg: ToWorker): void {
    if (this.worker && !this.exited) this.worker.postMessage(msg);
  }

  notice(n: MainNotice): void {
    this.post({ t: 'notice', ...n } as ToWorker);
  }

  /** A notice that hands over MessagePorts (moved, not copied); false if the worker is not running. */
  transfer(n: MainNotice, ports: MessagePort[]): boolean {
    if (!this.worker || this.exited) return false;
    this.worker.postMessage({ t: 'notice', ...n } as ToWorker, ports);
    return true;
  }

  /** The thread exists and is not known to have ended (it may still be starting). */
  get running(): boolean {
    return this.worker !== null && !this.exited;
  }

  call<T>(c: MainCall): Promise<T> {
    if (!this.worker || this.exited) return Promise.reject(new JanusError(ErrorCode.UNKNOWN, `media worker ${this.index} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, at: performance.now(), m: c.m, handleId: 'handleId' in c ? c.handleId : undefined, ...(c.m === 'handleMessage' ? { transaction: c.transaction } : {}) });
      this.sweepTimer ??= setInterval(() => this.sweep(), SWEEP_MS);
      this.sweepTimer.unref();
      this.worker!.postMessage({ t: 'call', id, ...c } as ToWorker);
    });
  }

  /**
   * Calls still out: one past the deadline fails with a Janus error and a log line, so its request is
   * answered (under load a worker thread was seen not reading main's calls for 20+ s, issue 12). Its
   * late answer, if any, is dropped (logged). Calls go in id order: the walk stops at the first one
   * young enough.
   */
  private sweep(): void {
    for (const [k, until] of this.lateTransactions) {
      if (until > performance.now()) break;
      this.lateTransactions.delete(k);
    }
    if (this.pending.size === 0 && this.lateTransactions.size === 0) {
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      this.sweepTimer = null;
      return;
    }
    const now = performance.now();
    for (const [id, p] of this.pending) {
      if (LIFECYCLE_CALLS.has(p.m)) continue;
      const age = now - p.at;
      if (age < this.replyDeadlineMs) break;
      this.pending.delete(id);
      this.callsTimedOut++;
      if (p.handleId !== undefined) {
        this.timedOut.set(id, { m: p.m, handleId: p.handleId });
        if (this.timedOut.size > TIMED_OUT_KEPT) this.timedOut.delete(this.timedOut.keys().next().value!);
        if (p.transaction !== undefined) {
          this.lateTransactions.set(`${p.handleId} ${p.transaction}`, now + LATE_EVENTS_MS);
          if (this.lateTransactions.size > TIMED_OUT_KEPT) this.lateTransactions.delete(this.lateTransactions.keys().next().value!);
        }
      }
      this.log.error('media worker did not answer a call in time', { worker: this.index, call: p.m, ...(p.handleId !== undefined ? { handle_id: p.handleId } : {}), waited_ms: Math.round(age) });
      p.reject(new JanusError(ErrorCode.UNKNOWN, `Media worker ${this.index} did not answer (${p.m}) within ${Math.round(this.replyDeadlineMs / 1000)} s`));
    }
  }

  /** Boundary for what the worker posts: a throw while handling it is counted, never out of the 'message' event. */
  private onMessage(msg: FromWorker): void {
    try {
      this.dispatch(msg);
    } catch (err) {
      fault(this.log, 'worker', err, { plugin: `media worker ${this.index}`, where: msg.t === 'reply' ? 'reply' : msg.n, ...('handleId' in msg && typeof msg.handleId === 'number' ? { handle_id: msg.handleId } : {}) });
    }
  }

  private dispatch(msg: FromWorker): void {
    if (msg.t === 'reply') {
      const p = this.pending.get(msg.id);
      if (!p) {
        // Failed by the deadline already (sweep): the request has had its answer.
        if (msg.id < this.nextId) {
          this.lateReplies++;
          const t = this.timedOut.get(msg.id);
          this.timedOut.delete(msg.id);
          if (msg.ok && t !== undefined && STATEFUL_CALLS.has(t.m)) this.undoLate(t.m, t.handleId);
          else this.log.warn('media worker answered a call after its deadline (dropped)', { worker: this.index, ok: msg.ok, ...(t ? { call: t.m, handle_id: t.handleId } : {}) });
        }
        return;
      }
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(deserializeError(msg.error));
      return;
    }
    const ev = this.events;
    switch (msg.n) {
      case 'pushEvent': {
        if (msg.transaction !== null && this.lateTransactions.size > 0 && this.lateTransactions.has(`${msg.handleId} ${msg.transaction}`)) {
          // Its request failed at the deadline: the client must not get an answer after the error.
          this.log.warn('plugin event for a request failed at the deadline (dropped)', { worker: this.index, handle_id: msg.handleId, transaction: msg.transaction });
          if (msg.local) this.notice({ n: 'hangup', handleId: msg.handleId, reason: 'Media worker answered too late' });
          return;
        }
        const s = this.sessions.get(msg.handleId);
        if (msg.jsep && (msg.local || msg.localError)) return this.pushMerged(msg, s?.session, s?.client);
        if (s) s.client.host?.pushEvent(s.session, msg.transaction, msg.data, msg.jsep);
        return;
      }
      case 'closePeerConnection': {
        const s = this.sessions.get(msg.handleId);
        if (s) s.client.host?.closePeerConnection(s.session, msg.reason);
        return;
      }
      case 'notifyEvent': {
        const client = this.clients.get(msg.p);
        const s = msg.handleId === null ? null : this.sessions.get(msg.handleId)?.session;
        if (s !== undefined) client?.host?.notifyEvent?.(s, msg.data, msg.internal === true);
        return;
      }
      case 'endSession': {
        const s = this.sessions.get(msg.handleId);
        if (s) s.client.host?.endSession(s.session);
        return;
      }
      case 'bus':
        return this.clients.get(msg.p)?.busMessage?.(this, msg.to, msg.msg);
      case 'forward':
        return this.clients.get(msg.p)?.forward?.(this, msg.handleId, msg.route, msg.body, msg.tag);
      case 'roomChanged':
        return this.clients.get(msg.p)?.roomChanged?.(this, msg.room, msg.here);
      case 'saveConfig': {
        const client = this.clients.get(msg.p);
        const done = (error: string | null) => this.notice({ n: 'configSaved', id: msg.id, error });
        if (!client) return done('no such plugin');
        client.saveConfig(msg.set, msg.remove).then(
          () => done(null),
          (err: unknown) => done(err instanceof Error ? err.message : String(err)),
        );
        return;
      }
      case 'webrtcUp':
        this.settingUp.delete(msg.handleId);
        return ev?.webrtcUp(msg.handleId);
      case 'mediaState':
        return ev?.mediaState(msg.handleId, msg.info);
      case 'slowLinkEvent':
        return ev?.slowLink(msg.handleId, msg.info);
      case 'iceFailed':
        this.settingUp.delete(msg.handleId);
        return ev?.iceFailed(msg.handleId);
      case 'peerClosed':
        this.settingUp.delete(msg.handleId);
        return ev?.peerClosed(msg.handleId, msg.reason);
      case 'localCandidate':
        return ev?.localCandidate(msg.handleId, msg.candidate);
      case 'metrics':
        this.pluginMetrics = msg.plugins;
        this.mediaMetrics = msg.media;
        this.load = msg.load;
        if (msg.peerPosts !== undefined) this.peerPosts = msg.peerPosts;
        if (msg.logDropped !== undefined) this.logDropped = msg.logDropped;
        if (msg.lanes !== undefined) this.lanes = msg.lanes;
        if (msg.faults) setRemoteFaultCounts(`worker-${this.index}`, msg.faults);
        return;
    }
  }

  /**
   * A call about a handle that main failed at the deadline (the client has error 462) succeeded on the
   * worker after all (e.g. a subscriber joined). What it did must not stay behind the client's back: the
   * handle's PeerConnection on this worker is hung up (the client gets `hangup`, as Janus sends for a
   * handle whose media is torn down) and its plugin state there is reset, as a detach would (the room
   * sees it leave). The handle stays attached: its next request starts afresh (ensureSession announces
   * it again).
   */
  private undoLate(m: MainCall['m'], handleId: number): void {
    this.lateUndone++;
    this.log.warn('media worker did a call after its deadline: undone (PeerConnection hung up, plugin state reset)', { worker: this.index, call: m, handle_id: handleId });
    this.notice({ n: 'hangup', handleId, reason: 'Media worker answered too late' });
    this.destroySession(handleId);
  }

  /**
   * An event whose JSEP this worker merged: the core's localJsep for it (the pool's plane, takeMerged)
   * gets the result without asking again. If nobody took it (the handle is gone, or was bound elsewhere
   * meanwhile), a PeerConnection this worker made for it must not linger: it is hung up here.
   */
  private pushMerged(msg: Extract<FromWorker, { n: 'pushEvent' }>, session: PluginSession | undefined, client: WorkerClient | undefined): void {
    const jsep = msg.jsep!;
    this.merged = { handleId: msg.handleId, jsep, ...(msg.local ? { local: msg.local } : {}), ...(msg.localError ? { error: msg.localError } : {}) };
    try {
      if (session) client?.host?.pushEvent(session, msg.transaction, msg.data, jsep);
    } finally {
      const unused = this.merged !== null;
      this.merged = null;
      if (unused && msg.local && this.opts.boundWorker?.(msg.handleId) !== this) this.notice({ n: 'hangup', handleId: msg.handleId, reason: 'JSEP merged on another worker' });
    }
  }

  /** The merged result for this handle's JSEP, once (null: not merged here, ask the worker). Throws the worker's refusal. */
  takeMerged(handleId: number, jsep: Jsep): Jsep | null {
    const m = this.merged;
    if (m === null || m.handleId !== handleId || m.jsep !== jsep) return null;
    this.merged = null;
    if (m.error) throw deserializeError(m.error);
    return m.local ?? null;
  }

  private failAll(reason: string): void {
    for (const p of this.pending.values()) p.reject(new JanusError(ErrorCode.UNKNOWN, reason));
    this.pending.clear();
    this.timedOut.clear();
    this.lateTransactions.clear();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    await this.spawn();
    // Admin API changes (set_log_level, set_no_media_timer, ...) reach the worker within a second;
    // only changes cross the thread (an unchanged notice every second woke each idle worker for nothing).
    this.settingsTimer = setInterval(() => this.syncSettings(), 1000);
    this.settingsTimer.unref();
  }

  /**
   * Sends the runtime settings (and whether plugin events are wanted) if they changed since the last
   * notice. The timer calls it every second; the pool calls it at once when a plugin starts wanting
   * events, so that none emitted in between is dropped (a notice goes before any later message).
   */
  syncSettings(): void {
    if (!this.worker || this.exited) return;
    const settings = this.opts.settings();
    const eventsEnabled = this.opts.eventsEnabled();
    const eventsObserved = this.opts.eventsObserved?.() ?? false;
    const key = JSON.stringify([settings, this.logLevel(), eventsEnabled, eventsObserved]);
    if (key === this.settingsSent) return;
    this.settingsSent = key;
    this.notice({ n: 'settings', settings, logLevel: this.logLevel(), eventsEnabled, eventsObserved });
  }

  /** Loads a plugin into the thread (its rooms from the load's jcfg) and remembers it for restarts. */
  async loadPlugin(pkg: string, client: WorkerClient): Promise<void> {
    this.clients.set(pkg, client);
    try {
      await this.call({ m: 'loadPlugin', load: client.loadFor(this) });
    } catch (err) {
      this.clients.delete(pkg);
      throw err;
    }
  }

  private async spawn(): Promise<void> {
    const plane = this.opts.plane;
    const cert = plane.certificate;
    const data: WorkerInit = {
      index: this.index,
      config: this.opts.config,
      certPem: cert.certPem,
      keyPem: cert.keyPem,
      candidates: plane.candidates.snapshot(),
      settings: this.opts.settings(),
      logLevel: this.logLevel(),
      eventsEnabled: this.opts.eventsEnabled(),
      eventsObserved: this.opts.eventsObserved?.() ?? false,
      ...(this.opts.portLink ? { portLink: this.opts.portLink(this.index) } : {}),
      replyDeadlineMs: this.replyDeadlineMs,
    };
    this.settingsSent = JSON.stringify([data.settings, data.logLevel, data.eventsEnabled, data.eventsObserved]);
    const worker = new Worker(new URL('./plugin-worker.js', import.meta.url), { workerData: data, name: `media ${this.index}` });
    this.worker = worker;
    this.exited = false;
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => {
      // An uncaught exception in the worker ends it: its PeerConnections are gone with it.
      this.log.error('media worker crashed', { worker: this.index, err: err instanceof Error ? err.stack : String(err) });
    });
    worker.on('exit', (code) => this.onExit(worker, code));
    try {
      const init = this.call({ m: 'init' });
      // After a crash: the plugins again (the worker holds every message until they are loaded, in
      // order), then the handles still attached that had been announced here.
      const loads = [...this.clients.values()].map((c) => this.call({ m: 'loadPlugin', load: c.loadFor(this) }));
      for (const [handleId, s] of this.sessions) this.announce(handleId, s.pkg, s.session);
      this.opts.spawned?.(this);
      // All at once: a worker that dies while starting rejects every one of them (none left unhandled).
      await Promise.all([init, ...loads]);
    } catch (err) {
      // A worker that cannot start must not linger.
      this.destroying = true;
      await worker.terminate();
      throw err;
    }
    this.log.info('media worker thread started', { worker: this.index, thread: worker.threadId });
  }

  /**
   * The worker ended. On shutdown that is expected; otherwise (a crash) its PeerConnections are gone:
   * their handles (only those whose media was here) get `hangup`, and a new worker is started with its
   * plugins and their jcfg rooms. Handles stay attached and can join again.
   */
  private onExit(worker: Worker, code: number): void {
    if (worker !== this.worker) return;
    this.exited = true;
    this.mediaMetrics = null;
    this.pluginMetrics = {};
    this.load = NO_LOAD;
    this.lanes = {};
    this.failAll(`media worker ${this.index} exited (${code})`);
    const hung = [...this.media];
    this.media.clear();
    this.settingUp.clear();
    for (const id of hung) this.events?.peerClosed(id, 'Media worker exited');
    if (this.destroying) return;
    this.restarts++;
    this.log.error('media worker exited, starting a new one', { worker: this.index, code, restarts: this.restarts, peer_connections: hung.length });
    for (const c of this.clients.values()) c.workerRestarted(this);
    const delay = Math.min(10_000, 250 * 2 ** Math.min(this.restarts - 1, 6));
    const timer = setTimeout(() => {
      if (this.destroying) return;
      this.spawn().catch((err: unknown) => this.log.error('media worker restart failed', { worker: this.index, err: err instanceof Error ? err.message : String(err) }));
    }, delay);
    timer.unref();
  }

  /** Tests: the worker thread ends itself now (a crash, as far as main can tell). */
  exitForTests(code = 1): void {
    this.notice({ n: 'exitForTests', code });
  }

  /** Tests: the worker thread gets no turn for `ms` (as under CPU contention), then carries on. */
  stallForTests(ms: number): void {
    this.notice({ n: 'stallForTests', ms });
  }

  async destroy(): Promise<void> {
    this.destroying = true;
    if (this.settingsTimer) clearInterval(this.settingsTimer);
    if (!this.worker) return;
    // A worker that does not answer (stuck in a loop) must not hold the shutdown: 2 s, then it is ended.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
    try {
      await Promise.race([
        (async () => {
          await this.call({ m: 'destroy' });
          await this.call({ m: 'closeMedia' });
        })(),
        deadline,
      ]);
    } catch {
      /* the worker is gone already */
    } finally {
      clearTimeout(timer);
    }
    await this.worker.terminate();
  }

  private logLevel(): number {
    return this.opts.logLevel ? this.opts.logLevel() : getLogLevel();
  }

  // ------------------------------------------------------------------------------------------ handles

  private announce(handleId: number, pkg: string, session: PluginSession): void {
    this.notice({ n: 'createSession', p: pkg, session: { handleId, sessionId: session.sessionId, opaqueId: session.opaqueId, token: session.token } });
  }

  /** The handle exists in this worker's plugin from now on (announced once). */
  ensureSession(pkg: string, client: WorkerClient, session: PluginSession): void {
    if (this.sessions.has(session.handleId)) return;
    this.sessions.set(session.handleId, { session, client, pkg });
    this.announce(session.handleId, pkg, session);
  }

  knows(handleId: number): boolean {
    return this.sessions.has(handleId);
  }

  destroySession(handleId: number): void {
    if (!this.sessions.delete(handleId)) return;
    this.notice({ n: 'destroySession', handleId });
  }

  /** The handle's PeerConnection is here (set when its first JSEP goes here; cleared at release). */
  markMedia(handleId: number, here: boolean): void {
    if (here) {
      if (!this.media.has(handleId)) this.settingUp.set(handleId, performance.now());
      this.media.add(handleId);
    } else {
      this.media.delete(handleId);
      this.settingUp.delete(handleId);
    }
  }

  /**
   * PeerConnections placed here in the last SETTING_UP_MS that are not up yet: the handshakes (ICE,
   * DTLS) this thread has in flight or about to come. Older ones (a client that never answered or
   * never connected) no longer count and are forgotten.
   */
  get settingUpCount(): number {
    const since = performance.now() - SETTING_UP_MS;
    let n = 0;
    for (const [id, at] of this.settingUp) {
      if (at >= since) n++;
      else this.settingUp.delete(id);
    }
    return n;
  }

  /** PeerConnections here or being set up here, known on this thread without waiting for a report. */
  get mediaCount(): number {
    return this.media.size;
  }

  hasMedia(handleId: number): boolean {
    return this.media.has(handleId);
  }
}
