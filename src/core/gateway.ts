/**
 * The gateway core: sessions, handles, request dispatch, timeouts and the plugin host.
 *
 * Transports call `handle(request, client)` with parsed JSON and send back the reply it resolves to;
 * asynchronous events reach the session's owning `TransportClient`. Nothing here knows about
 * sockets or HTTP.
 */
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { JanusConfig } from '../config/types.js';
import { log as rootLog, type Logger } from '../log.js';
import type { EventBus } from '../events/bus.js';
import { CoreSubtype, EventType, MediaSubtype, WebRtcSubtype } from '../events/types.js';
import { AdminApi } from './admin.js';
import { Authenticator } from './auth.js';
import { ErrorCode, JanusError } from './errors.js';
import { freshId, randomTransaction } from './ids.js';
import type { Jsep } from './jsep.js';
import { validateJsep } from './jsep-validate.js';
import { isRefused, refusedJsepData, type RefusedJsep } from './jsep-refusal.js';
import { PassThroughMediaPlane, type MediaEvents, type MediaPlane, type MediaSink, type TrickleCandidate } from './media-plane.js';
import { errorMessage, field, idValue, isObject, message, readEnvelope, type JanusMessage } from './messages.js';
import { emptyJcfgDocument } from './empty-jcfg.js';
import { pluginMediaSink } from './plugin-sink.js';
import { fault, faultInjection, inject } from './fault.js';
import type { JcfgDocument, Plugin, PluginHost, PluginMediaHost, PluginResult, PluginSession } from './plugin.js';
import { buildServerInfo } from './server-info.js';
import { Handle, Session } from './session.js';
import type { SessionOverReason, TransportClient, TransportInfo } from './transport.js';

export interface GatewayOptions {
  config: JanusConfig;
  plugins: Plugin[];
  mediaPlane?: MediaPlane;
  /** Each plugin's jcfg document (main passes the config module's loader). Default: an empty in-memory document. */
  pluginConfig?: (pkg: string) => JcfgDocument | Promise<JcfgDocument>;
  /** Session watchdog period; Janus uses 2 s. Tests shorten it. */
  watchdogIntervalMs?: number;
  /** Monotonic clock in ms (tests may inject one). */
  now?: () => number;
  log?: Logger;
  /** Event handlers (janus.jcfg `events`); null/absent: no event is built at all. */
  events?: EventBus | null;
}

/** Runtime-tunable settings (Admin API), seeded from janus.jcfg. */
export interface GatewaySettings {
  sessionTimeout: number;
  reclaimSessionTimeout: number;
  candidatesTimeout: number;
  acceptingNewSessions: boolean;
  minNackQueue: number;
  noMediaTimer: number;
  slowlinkThreshold: number;
  nackOptimizations: boolean;
  logTimestamps: boolean;
  logColors: boolean;
  lockingDebug: boolean;
  refcountDebug: boolean;
}

/** Trickles beyond this per handle are dropped: a client cannot grow the queue without bound. */
const MAX_PENDING_TRICKLES = 1000;

export class Gateway {
  readonly config: JanusConfig;
  readonly settings: GatewaySettings;
  readonly auth: Authenticator;
  readonly admin: AdminApi;
  readonly host: PluginHost & PluginMediaHost;
  /** Handed to the media plane so it can report state changes. */
  readonly mediaEvents: MediaEvents;
  readonly plugins = new Map<string, Plugin>();
  readonly sessions = new Map<number, Session>();
  /** Every live handle, by id (ids are unique across sessions). */
  readonly handles = new Map<number, Handle>();
  private readonly transports = new Map<string, TransportInfo>();
  private readonly clientSessions = new Map<TransportClient, Set<Session>>();
  private readonly media: MediaPlane;
  private readonly pluginConfig: (pkg: string) => JcfgDocument | Promise<JcfgDocument>;
  private readonly watchdogIntervalMs: number;
  private watchdog: NodeJS.Timeout | null = null;
  private pendingFlushes = 0;
  private stopped = false;
  /**
   * Lifetime counters for /metrics (monotonic since start). `sessionsOver` counts sessions that ended,
   * by SessionOverReason (`destroyed`, `timeout`, `shutdown`); handles by plugin package.
   */
  readonly lifetime = {
    sessionsCreated: 0,
    sessionsOver: new Map<string, number>(),
    handlesAttached: new Map<string, number>(),
    handlesDetached: new Map<string, number>(),
  };
  readonly now: () => number;
  readonly events: EventBus | null;
  /** Cluster mode (src/cluster/): what Admin `cluster_info` reports; null on a single node. */
  cluster: { status(): unknown } | null = null;
  /** The `transport.id` of session events: one opaque id per transport client, as Janus gives each transport session. */
  private readonly transportIds = new WeakMap<TransportClient, string>();
  private readonly log: Logger;
  private readonly localIp: string;

  constructor(opts: GatewayOptions) {
    this.config = opts.config;
    const g = opts.config.general;
    const m = opts.config.media;
    this.settings = {
      sessionTimeout: g.session_timeout,
      reclaimSessionTimeout: g.reclaim_session_timeout,
      candidatesTimeout: g.candidates_timeout,
      acceptingNewSessions: true,
      minNackQueue: m.min_nack_queue,
      noMediaTimer: m.no_media_timer,
      slowlinkThreshold: m.slowlink_threshold,
      nackOptimizations: m.nack_optimizations,
      logTimestamps: g.debug_timestamps,
      logColors: g.debug_colors,
      lockingDebug: false,
      refcountDebug: false,
    };
    this.auth = new Authenticator(g.api_secret, g.token_auth);
    for (const p of opts.plugins) this.plugins.set(p.package, p);
    this.media = opts.mediaPlane ?? new PassThroughMediaPlane();
    this.pluginConfig = opts.pluginConfig ?? ((pkg) => emptyJcfgDocument(`${g.configs_folder}/${pkg}.jcfg`));
    this.watchdogIntervalMs = opts.watchdogIntervalMs ?? 2000;
    this.now = opts.now ?? (() => performance.now());
    this.log = opts.log ?? rootLog;
    this.events = opts.events ?? null;
    this.localIp = g.interface ?? guessLocalIp();
    this.host = this.makeHost();
    this.mediaEvents = this.makeMediaEvents();
    this.media.attach(this.mediaEvents);
    this.admin = new AdminApi(this, g.admin_secret);
  }

  /** Initializes the plugins (a plugin whose init fails is left out, as Janus does) and starts the session watchdog. */
  async start(): Promise<void> {
    for (const [pkg, plugin] of [...this.plugins]) {
      try {
        const config = await this.pluginConfig(pkg);
        await plugin.init({
          config,
          configsFolder: this.config.general.configs_folder,
          gateway: this.config,
          host: this.hostFor(pkg),
          log: this.log.child({ plugin: pkg }),
        });
      } catch (err) {
        this.log.error('plugin failed to initialize, not loading it', { plugin: pkg, err: String(err) });
        this.plugins.delete(pkg);
      }
    }
    this.watchdog = setInterval(() => {
      try {
        this.sweep();
      } catch (err) {
        fault(this.log, 'core', err, { where: 'session watchdog' });
      }
    }, this.watchdogIntervalMs);
  }

  /**
   * Shutdown: refuse new sessions, hang up every PeerConnection (`hangup` event, reason "Shutdown"),
   * tell clients their handles are gone (`detached`), destroy every session (with `sessionEvent:
   * 'timeout'`, each session's client also gets the `timeout` event Janus sends for an expired
   * session, so janus.js and janode drop it at once), then destroy the plugins (they flush what they
   * write, e.g. recordings) and close the media plane. Transports should close afterwards, so the
   * events can still leave.
   */
  async stop(opts: { sessionEvent?: 'timeout'; signum?: number } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.events?.emit(EventType.CORE, CoreSubtype.SHUTDOWN, {}, { status: 'shutdown', ...(opts.signum !== undefined ? { signum: opts.signum } : {}) });
    this.settings.acceptingNewSessions = false;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const h of [...this.handles.values()]) if (h.pcActive) this.hangupHandle(h, 'Shutdown');
    for (const s of [...this.sessions.values()]) {
      this.destroySession(s, 'shutdown', {
        detachedEvents: true,
        ...(opts.sessionEvent === 'timeout' ? { event: message('timeout', s.id, null) } : {}),
      });
    }
    for (const [pkg, p] of this.plugins) {
      try {
        await p.destroy();
      } catch (err) {
        this.log.warn('plugin destroy failed', { plugin: pkg, err: String(err) });
      }
    }
    try {
      await this.media.close?.();
    } catch (err) {
      this.log.warn('media plane close failed', { err: String(err) });
    }
  }

  /** The media part of Admin handle_info (null without a PeerConnection or without a media plane). */
  async mediaInfo(handle: Handle): Promise<Record<string, unknown> | null> {
    try {
      return (await this.media.handleInfo?.(handle)) ?? null;
    } catch (err) {
      this.log.warn('media plane handleInfo failed', { session_id: handle.session.id, handle_id: handle.handleId, err: String(err) });
      return null;
    }
  }

  registerTransport(info: TransportInfo): void {
    this.transports.set(info.package, info);
  }

  unregisterTransport(pkg: string): void {
    this.transports.delete(pkg);
  }

  serverInfo(transaction: string = randomTransaction()): JanusMessage {
    const info = buildServerInfo(
      {
        config: this.config,
        accepting: this.settings.acceptingNewSessions,
        sessionTimeout: this.settings.sessionTimeout,
        reclaimTimeout: this.settings.reclaimSessionTimeout,
        candidatesTimeout: this.settings.candidatesTimeout,
        minNackQueue: this.settings.minNackQueue,
        apiSecret: this.auth.apiSecret !== null,
        tokenAuth: this.auth.tokenAuth,
        plugins: this.plugins.values(),
        transports: this.transports.values(),
        localIp: this.localIp,
      },
      transaction,
    );
    if (this.events) {
      info.event_handlers = true;
      info.events = this.events.describe();
    }
    return info;
  }

  /**
   * Core "started" event (type 256), with the server_info Janus sends in it. Called once the
   * transports are up, so the info lists them.
   */
  notifyStarted(): void {
    if (!this.events?.wants(EventType.CORE)) return;
    const { transaction: _tx, ...info } = this.serverInfo();
    this.events.emit(EventType.CORE, CoreSubtype.STARTUP, {}, { status: 'started', info });
  }

  /**
   * WebRTC events for a PeerConnection that just came up. The media plane reports only "up", so the
   * selected pair and DTLS state come from its handle_info, read once here (never per packet), and
   * go out in Janus's order: selected-pair, dtls connected, webrtcup.
   */
  private async notifyWebrtcUp(h: Handle): Promise<void> {
    const info = await this.mediaInfo(h);
    const webrtc = info?.webrtc;
    const ice = isObject(webrtc) && isObject(webrtc.ice) ? webrtc.ice : undefined;
    if (ice) {
      const ids = { stream_id: 1, component_id: 1 };
      const pair = ice['selected-pair'];
      if (typeof pair === 'string') this.handleEvt(h, EventType.WEBRTC, WebRtcSubtype.SELECTED_PAIR, { 'selected-pair': pair, ...ids });
      const dtls = isObject(webrtc) && isObject(webrtc.dtls) ? webrtc.dtls['dtls-state'] : undefined;
      if (typeof dtls === 'string') this.handleEvt(h, EventType.WEBRTC, WebRtcSubtype.DTLS, { dtls, ...ids, retransmissions: 0 });
    }
    this.handleEvt(h, EventType.WEBRTC, WebRtcSubtype.CONNECTION, { connection: 'webrtcup' });
  }

  /** Admin `custom_event`: an external event (type 4) with the operator's schema. */
  notifyExternal(schema: string, data: Record<string, unknown>): void {
    this.events?.emit(EventType.EXTERNAL, null, {}, { schema, data });
  }

  private transportId(client: TransportClient): string {
    let id = this.transportIds.get(client);
    if (id === undefined) {
      id = randomBytes(8).readBigUInt64BE(0).toString();
      this.transportIds.set(client, id);
    }
    return id;
  }

  private handleEvt(h: Handle, type: number, subtype: number | null, event: Record<string, unknown>): void {
    this.events?.emit(type, subtype, { sessionId: h.session.id, handleId: h.handleId, opaqueId: h.opaqueId }, event);
  }

  /** Internal counts, for leak checks and the startup summary. */
  stats(): { sessions: number; handles: number; clients: number; pendingFlushes: number; heldEvents: number; watchdog: boolean } {
    let heldEvents = 0;
    for (const s of this.sessions.values()) heldEvents += s.held.length;
    return {
      sessions: this.sessions.size,
      handles: this.handles.size,
      clients: this.clientSessions.size,
      pendingFlushes: this.pendingFlushes,
      heldEvents,
      watchdog: this.watchdog !== null,
    };
  }

  // ---------------------------------------------------------------- transport-facing helpers

  /** Secret/token check for requests that carry credentials outside the JSON (HTTP long-poll query string). */
  checkAuth(apisecret: unknown, token: unknown): boolean {
    return this.auth.check(apisecret, token).ok;
  }

  hasSession(sessionId: number): boolean {
    return this.sessions.has(sessionId);
  }

  /** Refreshes a session's activity (an HTTP long poll counts as a keepalive). False if unknown. */
  touchSession(sessionId: number): boolean {
    const s = this.sessions.get(sessionId);
    if (!s) return false;
    s.lastActivity = this.now();
    return true;
  }

  /**
   * A client's connection is gone (WebSocket closed). Its sessions are destroyed now, or after
   * reclaim_session_timeout unless someone claims them.
   */
  transportGone(client: TransportClient): void {
    const owned = this.clientSessions.get(client);
    if (!owned) return;
    this.clientSessions.delete(client);
    for (const s of owned) {
      if (this.settings.reclaimSessionTimeout < 1) {
        this.destroySession(s, 'destroyed');
      } else {
        s.client = null;
        s.goneAt = this.now();
      }
    }
  }

  // ---------------------------------------------------------------- request dispatch

  /**
   * Handles one Janus API request. Always resolves to the reply to send (errors included).
   * Events the request itself triggers (e.g. `detached` after a detach) are delivered right after,
   * so the transport must send the reply as soon as this resolves.
   */
  async handle(request: unknown, client: TransportClient): Promise<JanusMessage> {
    const env = readEnvelope(request);
    if (!env.ok) return env.error;
    const { janus, transaction } = env;
    const req = env.request;
    try {
      field(req, 'id', 'positive', false);
    } catch (err) {
      const e = err as JanusError;
      return errorMessage(0, null, e.code, e.message);
    }
    const sessionId = idValue(req.session_id);
    const handleId = idValue(req.handle_id);
    try {
      if (sessionId === 0 && handleId === 0) return this.handleRoot(janus, transaction, req, client);
      return await this.handleInSession(janus, transaction, sessionId, handleId, req, client);
    } catch (err) {
      if (err instanceof JanusError) return errorMessage(sessionId, transaction, err.code, err.message);
      // A bug behind one request: that request gets 490, the connection and everything else stay.
      fault(this.log, 'core', err, { session_id: sessionId, ...(handleId > 0 ? { handle_id: handleId } : {}), where: `request ${janus}` });
      return errorMessage(sessionId, transaction, ErrorCode.UNKNOWN, 'Unknown error');
    }
  }

  private handleRoot(janus: string, tx: string, req: Record<string, unknown>, client: TransportClient): JanusMessage {
    if (janus === 'info') return this.serverInfo(tx);
    if (janus === 'ping') return message('pong', 0, tx);
    if (janus !== 'create') throw new JanusError(ErrorCode.INVALID_REQUEST_PATH, `Unhandled request '${janus}' at this path`);
    if (!this.settings.acceptingNewSessions) throw new JanusError(ErrorCode.NOT_ACCEPTING_SESSIONS);
    const auth = this.auth.check(req.apisecret, req.token);
    if (!auth.ok) throw new JanusError(ErrorCode.UNAUTHORIZED);
    let id = idValue(req.id);
    if (id > 0 && this.sessions.has(id)) return errorMessage(id, tx, ErrorCode.SESSION_CONFLICT, 'Session ID already in use');
    if (id === 0) id = freshId(this.sessions);
    const session = new Session(id, client, auth.viaToken ? auth.token : null, this.now());
    this.sessions.set(id, session);
    this.link(client, session);
    this.lifetime.sessionsCreated++;
    if (this.events?.wants(EventType.SESSION)) {
      this.events.emit(EventType.SESSION, null, { sessionId: id }, { name: 'created', transport: { transport: client.transport, id: this.transportId(client) } });
    }
    this.log.verb('session created', { session_id: id, transport: client.transport });
    return message('success', 0, tx, { data: { id } });
  }

  private async handleInSession(
    janus: string,
    tx: string,
    sessionId: number,
    handleId: number,
    req: Record<string, unknown>,
    client: TransportClient,
  ): Promise<JanusMessage> {
    const session = this.sessions.get(sessionId);
    if (!session) throw new JanusError(ErrorCode.SESSION_NOT_FOUND, `No such session ${sessionId}`);
    session.lastActivity = this.now();
    let handle: Handle | null = null;
    if (handleId > 0) {
      handle = session.handles.get(handleId) ?? null;
      if (!handle) throw new JanusError(ErrorCode.HANDLE_NOT_FOUND, `No such handle ${handleId} in session ${sessionId}`);
    }
    const sessionLevel = janus === 'attach' || janus === 'destroy' || janus === 'claim';
    const handleLevel = janus === 'detach' || janus === 'hangup' || janus === 'message' || janus === 'trickle';
    if (janus === 'keepalive') return message('ack', sessionId, tx);
    if (!sessionLevel && !handleLevel) throw new JanusError(ErrorCode.UNKNOWN_REQUEST, `Unknown request '${janus}'`);
    if (sessionLevel && handle) throw new JanusError(ErrorCode.INVALID_REQUEST_PATH, `Unhandled request '${janus}' at this path`);
    if (handleLevel && !handle) throw new JanusError(ErrorCode.INVALID_REQUEST_PATH, `Unhandled request '${janus}' at this path`);
    const auth = this.auth.check(req.apisecret, req.token);
    if (!auth.ok) throw new JanusError(ErrorCode.UNAUTHORIZED);

    // Events triggered while answering are held until the reply has gone out (ack before event).
    this.hold(session);
    try {
      switch (janus) {
        case 'attach':
          return this.attach(session, tx, req, auth.viaToken ? auth.token : null);
        case 'destroy':
          this.destroySession(session, 'destroyed');
          return message('success', sessionId, tx);
        case 'claim':
          this.claim(session, client);
          return message('success', sessionId, tx);
        case 'detach':
          this.detachHandle(handle!, true);
          return message('success', sessionId, tx);
        case 'hangup':
          this.hangupHandle(handle!, 'Janus API');
          return message('success', sessionId, tx);
        case 'message': {
          const reply = await this.processMessage(handle!, tx, req);
          // A synchronous plugin answer (`success`) comes after the events the plugin pushed while
          // answering, as in Janus (a room `destroy` tells its participants first); an `ack` still
          // goes out before them.
          if (reply.janus === 'success') this.flushHeld(session);
          return reply;
        }
        default: // trickle
          return this.trickle(handle!, tx, req);
      }
    } finally {
      this.release(session);
    }
  }

  private attach(session: Session, tx: string, req: Record<string, unknown>, token: string | null): JanusMessage {
    const pkg = field<string>(req, 'plugin', 'string', true)!;
    const opaqueId = field<string>(req, 'opaque_id', 'string', false) ?? null;
    field(req, 'loop_index', 'positive', false);
    const plugin = this.plugins.get(pkg);
    if (!plugin) throw new JanusError(ErrorCode.PLUGIN_NOT_FOUND, `No such plugin '${pkg}'`);
    if (token !== null && !this.auth.tokens.canAccess(token, pkg)) {
      throw new JanusError(ErrorCode.UNAUTHORIZED_PLUGIN, `Provided token can't access plugin '${pkg}'`);
    }
    const id = freshId(this.handles);
    const handle = new Handle(id, session, plugin, opaqueId, Math.round(this.now() * 1000));
    try {
      plugin.createSession(handle);
    } catch (err) {
      fault(this.log, 'plugin_hook', err, { plugin: pkg, session_id: session.id, handle_id: id, where: 'createSession' });
      throw new JanusError(ErrorCode.PLUGIN_ATTACH, `Couldn't attach to plugin '${pkg}': ${err instanceof Error ? err.message : String(err)}`);
    }
    session.handles.set(id, handle);
    this.handles.set(id, handle);
    bump(this.lifetime.handlesAttached, pkg);
    this.handleEvt(handle, EventType.HANDLE, null, { name: 'attached', plugin: pkg, ...(opaqueId !== null ? { opaque_id: opaqueId } : {}) });
    this.log.verb('handle attached', { session_id: session.id, handle_id: id, plugin: pkg });
    return message('success', session.id, tx, { data: { id } });
  }

  private claim(session: Session, client: TransportClient): void {
    const old = session.client;
    if (old === client) return;
    if (old) this.unlink(old, session);
    session.client = client;
    session.goneAt = null;
    this.link(client, session);
    old?.sessionOver(session.id, 'claimed');
  }

  private async processMessage(handle: Handle, tx: string, req: Record<string, unknown>): Promise<JanusMessage> {
    const body = field<Record<string, unknown>>(req, 'body', 'object', true)!;
    let jsep: Jsep | null = null;
    let result: PluginResult | undefined;
    if (req.jsep !== undefined) {
      jsep = validateJsep(req.jsep, { maxMlines: this.config.media.max_mlines, maxSize: this.config.media.max_sdp_size });
      handle.plugin.beforeMessage?.(handle, body);
      if (this.events?.wants(EventType.JSEP)) this.handleEvt(handle, EventType.JSEP, null, { owner: 'remote', jsep: { type: jsep.type, sdp: jsep.sdp } });
      if (jsep.type === 'answer' && !handle.awaitingAnswer) throw new JanusError(ErrorCode.UNEXPECTED_ANSWER);
      const renegotiation = handle.remoteSdp !== null;
      // A plugin in the media workers takes the JSEP and the message in one call (one round trip).
      // Fault injection at handleMessage keeps the two steps (the JSEP is applied, then the plugin fails).
      const joint = faultInjection.armed === 'handleMessage' ? null : (handle.plugin.handleMessageWithJsep?.(handle, tx, body, jsep, renegotiation) ?? null);
      let ended = false;
      if (joint !== null) {
        // The PeerConnection is live while the plugin handles the message (its events may come first):
        // a hangup or a refused answer meanwhile clears this, and then nothing below sets it up again.
        const wasActive = handle.pcActive;
        handle.pcActive = true;
        let r: { jsep: Jsep; result: PluginResult };
        try {
          r = await joint;
        } catch (err) {
          if (!handle.alive) throw new JanusError(ErrorCode.HANDLE_NOT_FOUND, `No such handle ${handle.handleId} in session ${handle.session.id}`);
          handle.pcActive = wasActive;
          throw err;
        }
        jsep = r.jsep;
        result = r.result;
        ended = !handle.pcActive;
      } else jsep = await this.media.remoteJsep(handle, jsep);
      if (!handle.alive) throw new JanusError(ErrorCode.HANDLE_NOT_FOUND, `No such handle ${handle.handleId} in session ${handle.session.id}`);
      if (renegotiation) jsep = { ...jsep, update: true };
      if (!ended) {
        handle.remoteSdp = jsep.sdp;
        handle.trickle = (req.jsep as { trickle?: unknown }).trickle !== false;
        handle.pcActive = true;
        if (jsep.type === 'answer') handle.awaitingAnswer = false;
        this.flushTrickles(handle);
      }
    }
    const session = handle.session;
    if (result === undefined) {
      try {
        inject('handleMessage', handle.handleId);
        result = await handle.plugin.handleMessage(handle, tx, body, jsep);
      } catch (err) {
        // The request gets the plugin error reply; the handle and everything else stay.
        fault(this.log, 'plugin_hook', err, { plugin: handle.plugin.package, session_id: session.id, handle_id: handle.handleId, where: 'handleMessage' });
        throw new JanusError(ErrorCode.PLUGIN_MESSAGE, err instanceof Error ? err.message : String(err));
      }
    }
    if (result.kind === 'error') throw new JanusError(ErrorCode.PLUGIN_MESSAGE, result.reason);
    if (result.kind === 'wait') {
      return message('ack', session.id, tx, result.hint !== undefined ? { hint: result.hint } : undefined);
    }
    const reply = message('success', session.id, tx, { sender: handle.handleId });
    if (this.config.general.opaqueid_in_api && handle.opaqueId !== null) reply.opaque_id = handle.opaqueId;
    reply.plugindata = { plugin: handle.plugin.package, data: result.data };
    if (result.jsep) {
      let local = this.localJsep(handle, result.jsep);
      if (local instanceof Promise) local = await local;
      if (isRefused(local)) throw new JanusError(ErrorCode.JSEP_INVALID_SDP, local.refused);
      if (local) reply.jsep = local;
    }
    return reply;
  }

  private trickle(handle: Handle, tx: string, req: Record<string, unknown>): JanusMessage {
    const hasOne = req.candidate !== undefined;
    const hasMany = req.candidates !== undefined;
    if (hasOne && hasMany) throw new JanusError(ErrorCode.INVALID_JSON, "Can't have both candidate and candidates");
    if (!hasOne && !hasMany) throw new JanusError(ErrorCode.MISSING_MANDATORY_ELEMENT, 'Missing mandatory element (candidate|candidates)');
    const list: TrickleCandidate[] = [];
    if (hasOne) {
      // A null candidate means "end of candidates" (some clients send it instead of {completed:true}).
      if (req.candidate === null) list.push({ completed: true });
      else if (isObject(req.candidate)) list.push(req.candidate);
    } else if (Array.isArray(req.candidates)) {
      for (const c of req.candidates) if (isObject(c)) list.push(c);
    }
    if (list.length > 0) {
      if (handle.remoteSdp === null) {
        const at = this.now();
        for (const candidate of list) {
          if (handle.pendingTrickles.length < MAX_PENDING_TRICKLES) handle.pendingTrickles.push({ at, candidate });
        }
      } else {
        this.media.trickle(handle, list);
      }
    }
    return message('ack', handle.session.id, tx);
  }

  private flushTrickles(handle: Handle): void {
    if (handle.pendingTrickles.length === 0) return;
    const list = handle.pendingTrickles.map((p) => p.candidate);
    handle.pendingTrickles = [];
    this.media.trickle(handle, list);
  }

  /**
   * The plugin's JSEP through the media plane; a Promise when the plane is asynchronous. Null when the
   * handle went away meanwhile; a RefusedJsep (with the reason for the client) when the plane refused it.
   */
  private localJsep(handle: Handle, jsep: Jsep): Jsep | RefusedJsep | null | Promise<Jsep | RefusedJsep | null> {
    const refused = (err: unknown): RefusedJsep | null => {
      const reason = err instanceof Error ? err.message : String(err);
      this.log.warn('media plane refused a plugin JSEP', { session_id: handle.session.id, handle_id: handle.handleId, err: reason });
      if (!handle.alive) return null;
      // A first negotiation that failed leaves a PeerConnection the client can never use: free its port now.
      if (handle.localSdp === null) {
        handle.pcActive = false;
        handle.remoteSdp = null;
        handle.pendingTrickles = [];
        this.media.hangup(handle, 'Refused JSEP');
      }
      return { refused: reason };
    };
    const accept = (local: Jsep): Jsep | null => {
      if (!handle.alive) return null;
      handle.localSdp = local.sdp;
      handle.pcActive = true;
      handle.awaitingAnswer = local.type === 'offer';
      if (this.events?.wants(EventType.JSEP)) this.handleEvt(handle, EventType.JSEP, null, { owner: 'local', jsep: { type: local.type, sdp: local.sdp } });
      return local;
    };
    let r: Jsep | Promise<Jsep>;
    try {
      r = this.media.localJsep(handle, jsep);
    } catch (err) {
      return refused(err);
    }
    return r instanceof Promise ? r.then(accept, refused) : accept(r);
  }

  // ---------------------------------------------------------------- lifecycle (also used by the Admin API)

  /** Sends an event to the session's client, after the reply of the request in progress if there is one. */
  deliver(session: Session, event: JanusMessage): void {
    if (session.destroyed) return;
    if (session.holds > 0) session.held.push(event);
    else session.client?.sendEvent(session.id, event);
  }

  private hold(session: Session): void {
    session.holds++;
  }

  /** Sends the held events now if only the caller holds the session (another request's hold keeps them). */
  private flushHeld(session: Session): void {
    if (session.holds !== 1 || session.held.length === 0) return;
    this.sendHeld(session);
  }

  /** Releases a hold on the next turn of the event loop, once the transport has written the reply. */
  private release(session: Session): void {
    this.pendingFlushes++;
    setImmediate(() => {
      this.pendingFlushes--;
      session.holds--;
      if (session.holds > 0 || session.held.length === 0) return;
      this.sendHeld(session);
    });
  }

  /** Hands the session's held events to its transport (none once the session is destroyed). */
  private sendHeld(session: Session): void {
    const events = session.held;
    session.held = [];
    if (session.destroyed) return;
    try {
      for (const ev of events) session.client?.sendEvent(session.id, ev);
    } catch (err) {
      fault(this.log, 'transport', err, { session_id: session.id, where: 'sendEvent' });
    }
  }

  private handleEvent(handle: Handle, janus: string, extra?: JanusMessage): JanusMessage {
    const ev = message(janus, handle.session.id, null, { sender: handle.handleId });
    if (this.config.general.opaqueid_in_api && handle.opaqueId !== null) ev.opaque_id = handle.opaqueId;
    return extra ? Object.assign(ev, extra) : ev;
  }

  /** Tears down the handle's PeerConnection, if it has one, and tells the client (`hangup`). */
  hangupHandle(handle: Handle, reason: string): boolean {
    if (!handle.alive || !handle.pcActive) return false;
    handle.pcActive = false;
    handle.localSdp = null;
    handle.remoteSdp = null;
    handle.awaitingAnswer = false;
    handle.pendingTrickles = [];
    this.media.hangup(handle, reason);
    try {
      handle.plugin.hangupMedia?.(handle);
    } catch (err) {
      fault(this.log, 'plugin_hook', err, { plugin: handle.plugin.package, session_id: handle.session.id, handle_id: handle.handleId, where: 'hangupMedia' });
    }
    this.deliver(handle.session, this.handleEvent(handle, 'hangup', { reason }));
    this.handleEvt(handle, EventType.WEBRTC, WebRtcSubtype.CONNECTION, { connection: 'hangup', reason });
    return true;
  }

  /** Detaches a handle from its plugin; `notify` sends the `detached` event. */
  detachHandle(handle: Handle, notify: boolean): void {
    if (!handle.alive) return;
    if (notify) this.hangupHandle(handle, 'Janus API');
    else if (handle.pcActive) {
      handle.pcActive = false;
      this.media.hangup(handle, 'Detach');
      try {
        handle.plugin.hangupMedia?.(handle);
      } catch (err) {
        // The handle is going anyway.
        fault(this.log, 'plugin_hook', err, { plugin: handle.plugin.package, session_id: handle.session.id, handle_id: handle.handleId, where: 'hangupMedia' });
      }
    }
    handle.alive = false;
    try {
      handle.plugin.destroySession(handle);
    } catch (err) {
      fault(this.log, 'plugin_hook', err, { plugin: handle.plugin.package, session_id: handle.session.id, handle_id: handle.handleId, where: 'destroySession' });
    }
    bump(this.lifetime.handlesDetached, handle.plugin.package);
    this.handleEvt(handle, EventType.HANDLE, null, {
      name: 'detached',
      plugin: handle.plugin.package,
      ...(handle.opaqueId !== null ? { opaque_id: handle.opaqueId } : {}),
    });
    this.media.release(handle);
    handle.pendingTrickles = [];
    handle.session.handles.delete(handle.handleId);
    this.handles.delete(handle.handleId);
    if (notify) this.deliver(handle.session, this.handleEvent(handle, 'detached'));
  }

  /**
   * Destroys a session and its handles, then tells the owning client. With `event` (e.g. `timeout`)
   * that event goes out first; with `detachedEvents` every handle's `detached` is sent (shutdown).
   */
  destroySession(session: Session, reason: SessionOverReason, opts: { event?: JanusMessage; detachedEvents?: boolean } = {}): void {
    if (session.destroyed) return;
    // Janus tells handlers "timeout" for an expired session and "destroyed" for every other end, before
    // the handles' "detached" (it tears handles down after the session).
    this.events?.emit(EventType.SESSION, null, { sessionId: session.id }, { name: reason === 'timeout' ? 'timeout' : 'destroyed' });
    const client = session.client;
    // Flush what the client was already owed, then mark destroyed so late plugin events are dropped.
    const held = session.held;
    session.held = [];
    for (const h of [...session.handles.values()]) {
      this.detachHandle(h, false);
      if (opts.detachedEvents) held.push(this.handleEvent(h, 'detached'));
    }
    if (opts.event) held.push(opts.event);
    if (client && reason !== 'destroyed') for (const ev of held) client.sendEvent(session.id, ev);
    session.destroyed = true;
    this.sessions.delete(session.id);
    if (client) {
      this.unlink(client, session);
      client.sessionOver(session.id, reason);
    }
    bump(this.lifetime.sessionsOver, reason);
    this.log.verb('session destroyed', { session_id: session.id, reason });
  }

  private link(client: TransportClient, session: Session): void {
    let set = this.clientSessions.get(client);
    if (!set) this.clientSessions.set(client, (set = new Set()));
    set.add(session);
  }

  private unlink(client: TransportClient, session: Session): void {
    const set = this.clientSessions.get(client);
    if (!set) return;
    set.delete(session);
    if (set.size === 0) this.clientSessions.delete(client);
  }

  /** The watchdog: expires idle sessions, unclaimed sessions of gone transports, and stale trickles. */
  sweep(): void {
    const now = this.now();
    const global = this.settings.sessionTimeout;
    const reclaim = this.settings.reclaimSessionTimeout;
    const candidatesMs = this.settings.candidatesTimeout * 1000;
    for (const s of [...this.sessions.values()]) {
      if (s.goneAt !== null && now - s.goneAt >= reclaim * 1000) {
        this.log.info('session not reclaimed in time, destroying', { session_id: s.id });
        this.destroySession(s, 'destroyed');
        continue;
      }
      const timeout = s.timeout >= 0 ? s.timeout : global;
      if (timeout > 0 && now - s.lastActivity >= timeout * 1000) {
        this.log.info('session timed out', { session_id: s.id });
        this.destroySession(s, 'timeout', { event: message('timeout', s.id, null) });
        continue;
      }
      for (const h of s.handles.values()) {
        if (h.pendingTrickles.length > 0 && now - h.pendingTrickles[0]!.at >= candidatesMs) {
          h.pendingTrickles = h.pendingTrickles.filter((p) => now - p.at < candidatesMs);
        }
      }
    }
  }

  // ---------------------------------------------------------------- plugin host and media events

  private asHandle(ps: PluginSession): Handle | null {
    return ps instanceof Handle && ps.alive && !ps.session.destroyed ? ps : null;
  }

  /**
   * The host one plugin sees: the shared host plus event emission in that plugin's name (a plugin
   * event without a handle still needs its package).
   */
  private hostFor(pkg: string): PluginHost & PluginMediaHost {
    return {
      ...this.host,
      eventsEnabled: () => this.events?.wants(EventType.PLUGIN) ?? false,
      notifyEvent: (ps, data, internal) => {
        if (internal === true || !this.events?.wants(EventType.PLUGIN)) return;
        const handle = ps === null ? null : this.asHandle(ps);
        if (ps !== null && !handle) return;
        const ids = handle ? { sessionId: handle.session.id, handleId: handle.handleId, opaqueId: handle.opaqueId } : {};
        this.events.emit(EventType.PLUGIN, null, ids, { plugin: pkg, data });
      },
    };
  }

  private makeHost(): PluginHost & PluginMediaHost {
    const media = this.media;
    return {
      pushEvent: (ps, transaction, data, jsep) => {
        const handle = this.asHandle(ps);
        if (!handle) return false;
        const ev = this.handleEvent(handle, 'event');
        if (transaction !== null) ev.transaction = transaction;
        ev.plugindata = { plugin: handle.plugin.package, data };
        const out = (e: JanusMessage): JanusMessage => (transaction !== null ? reorderTransaction(e) : e);
        if (jsep) {
          const local = this.localJsep(handle, jsep);
          if (local === null) return false;
          // Refused: the client gets the plugin's event as an error (465), never an ack and then silence.
          const refuse = (e: JanusMessage, r: RefusedJsep): void => {
            e.plugindata = { plugin: handle.plugin.package, data: refusedJsepData(handle.plugin.package, r.refused) };
          };
          if (local instanceof Promise) {
            // Keep the handle's event order: the event takes its place in the session's held queue now
            // and gets its JSEP (or the error, or is withdrawn if the handle went) when the media plane is done.
            const session = handle.session;
            this.hold(session);
            const placed = out(ev);
            this.deliver(session, placed);
            void local
              .then((l) => {
                if (isRefused(l)) refuse(placed, l);
                else if (l) placed.jsep = l;
                else session.held = session.held.filter((e) => e !== placed);
              })
              .catch((err: unknown) => fault(this.log, 'core', err, { session_id: session.id, handle_id: handle.handleId, where: 'pushEvent jsep' }))
              .finally(() => this.release(session));
            return true;
          }
          if (isRefused(local)) {
            refuse(ev, local);
            this.deliver(handle.session, out(ev));
            return false;
          }
          ev.jsep = local;
        }
        // Keep Janus's key order: transaction right after session_id.
        this.deliver(handle.session, out(ev));
        return true;
      },
      closePeerConnection: (ps, reason) => {
        const handle = this.asHandle(ps);
        if (handle) this.hangupHandle(handle, reason ?? 'Close PC');
      },
      endSession: (ps) => {
        const handle = this.asHandle(ps);
        if (handle) this.detachHandle(handle, true);
      },
      isTokenValidForPlugin: (token, pkg) => this.auth.tokenValidForPlugin(token, pkg),
      // Media relay: straight to the plane (the PluginSession is the Handle, i.e. the MediaHandle).
      relayRtp: (ps, mid, buf, len) => media.relayRtp?.(ps as Handle, mid, buf, len),
      relayRtcp: (ps, mid, buf, len) => media.relayRtcp?.(ps as Handle, mid, buf, len),
      relayData: (ps, label, data) => media.relayData?.(ps as Handle, label, data),
      sendPli: (ps, mid) => media.sendPli?.(ps as Handle, mid),
      sendRemb: (ps, bitrate) => media.sendRemb?.(ps as Handle, bitrate),
      bandwidthEstimate: (ps, wanted) => media.bandwidthEstimate?.(ps as Handle, wanted) ?? 0,
      sendQueueMs: (ps) => media.sendQueueMs?.(ps as Handle) ?? 0,
      sendData: (ps, text) => media.relayData?.(ps as Handle, null, text),
      sendRtp: (ps, mid, packet) => media.relayRtp?.(ps as Handle, mid, packet, packet.length),
    };
  }

  private makeMediaEvents(): MediaEvents {
    const live = (id: number): Handle | null => {
      const h = this.handles.get(id);
      return h && h.alive ? h : null;
    };
    return {
      webrtcUp: (id) => {
        const h = live(id);
        if (!h) return;
        this.deliver(h.session, this.handleEvent(h, 'webrtcup'));
        if (this.events?.wants(EventType.WEBRTC)) {
          this.notifyWebrtcUp(h).catch((err: unknown) => fault(this.log, 'event_handler', err, { session_id: h.session.id, handle_id: id, where: 'webrtcup events' }));
        }
        try {
          h.plugin.setupMedia?.(h);
        } catch (err) {
          // The plugin did not take the media: a PeerConnection nobody serves is hung up.
          fault(this.log, 'plugin_hook', err, { plugin: h.plugin.package, session_id: h.session.id, handle_id: id, where: 'setupMedia' });
          this.hangupHandle(h, 'Plugin error (setupMedia)');
        }
      },
      mediaState: (id, info) => {
        const h = live(id);
        if (!h) return;
        this.deliver(h.session, this.handleEvent(h, 'media', { ...info }));
        if (this.events?.wants(EventType.MEDIA)) {
          this.handleEvt(h, EventType.MEDIA, MediaSubtype.STATE, {
            mid: info.mid,
            media: info.type,
            receiving: info.receiving,
            ...(info.substream !== undefined ? { substream: info.substream } : {}),
            ...(info.seconds !== undefined ? { seconds: info.seconds } : {}),
          });
        }
      },
      slowLink: (id, info) => {
        const h = live(id);
        if (!h) return;
        this.deliver(h.session, this.handleEvent(h, 'slowlink', { ...info }));
        this.handleEvt(h, EventType.MEDIA, MediaSubtype.SLOW_LINK, { mid: info.mid, media: info.media, slow_link: info.uplink ? 'uplink' : 'downlink', lost_lastsec: info.lost });
        try {
          h.plugin.slowLink?.(h, info);
        } catch (err) {
          fault(this.log, 'plugin_hook', err, { plugin: h.plugin.package, session_id: h.session.id, handle_id: id, where: 'slowLink' });
          this.hangupHandle(h, 'Plugin error (slowLink)');
        }
      },
      iceFailed: (id) => {
        const h = live(id);
        if (!h) return;
        this.deliver(h.session, this.handleEvent(h, 'ice-failed'));
        this.handleEvt(h, EventType.WEBRTC, WebRtcSubtype.ICE, { ice: 'failed', stream_id: 1, component_id: 1 });
      },
      peerClosed: (id, reason) => {
        const h = live(id);
        if (h) this.hangupHandle(h, reason);
      },
      localCandidate: (id, candidate) => {
        const h = live(id);
        if (h) this.deliver(h.session, this.handleEvent(h, 'trickle', { candidate }));
      },
      mediaSink: (id) => {
        const h = live(id);
        return h ? this.makeMediaSink(h) : null;
      },
    };
  }

  /** The plugin's media hooks bound to one handle; dropped once the handle is detached. Never throws. */
  private makeMediaSink(h: Handle): MediaSink {
    return pluginMediaSink(h.plugin, h, this.log, h.session.id, (reason) => {
      if (h.alive) this.hangupHandle(h, reason);
    });
  }
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

function reorderTransaction(ev: JanusMessage): JanusMessage {
  const { janus, session_id, transaction, ...rest } = ev;
  return { janus, session_id, transaction, ...rest };
}

function guessLocalIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
