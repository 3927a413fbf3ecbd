/**
 * A media worker: plugins and the PeerConnections of their handles, on a thread of their own (one of
 * the pool's, src/workers/pool.ts: every worker-capable plugin is loaded in every worker, and each room
 * lives in one of them).
 *
 * Why: a plugin with a clock of its own (AudioBridge mixes every 20 ms) must keep sending when the main
 * event loop is busy with something else (a burst of requests, VideoRoom forwarding, a GC pause). The
 * whole packet path of its handles lives here (UDP socket, ICE, DTLS, SRTP, RTCP, the plugin's media
 * hooks, its timers), so nothing on the main thread stands between a due frame and the wire.
 *
 * The main thread keeps sessions, handles and transports; it talks to this thread through
 * worker-plugin.ts (protocol.ts). The plugin code is the same class that would run in-process: it gets
 * a PluginHost whose signalling half posts to main and whose media half calls the local plane directly.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { Jcfg } from '../config/jcfg.js';
import { ErrorCode, JanusError } from '../core/errors.js';
import type { Jsep } from '../core/jsep.js';
import type { MediaEvents, MediaHandle } from '../core/media-plane.js';
import { fault, faultInjection, inject, localFaultCounts } from '../core/fault.js';
import { pluginMediaSink } from '../core/plugin-sink.js';
import type { Plugin, PluginHost, PluginMediaHost, PluginResult, PluginSession } from '../core/plugin.js';
import { log as rootLog, logLinesDropped, setLogLevel, setSessionResolver } from '../log.js';
import { LocalCandidates } from '../media/candidates.js';
import { certificateFromPem } from '../media/dtls/certificate.js';
import type { MediaRuntimeSettings } from '../media/peer.js';
import { WebRtcMediaPlane } from '../media/plane.js';
import { PortLink } from '../media/net/port-link.js';
import type { CfgValue } from '../config/types.js';
import { IdleGc } from './idle-gc.js';
import type { FromWorker, JointReply, MainCall, MainNotice, SerializedError, SessionInfo, ToWorker, WorkerInit, WorkerLoad, WorkerNotice } from './protocol.js';
import { ShardConfig } from './shard-config.js';
import { BusEnd, type BusMember, type LaneCounts } from './bus.js';
import { PeerLinks } from './peer-links.js';
import { closeUdpSockets, trackUdpSockets } from './udp-sockets.js';

trackUdpSockets();
const port = parentPort!;
const init = workerData as WorkerInit;
setLogLevel(init.logLevel);
/** How long a pushEvent's JSEP may wait for its PeerConnection (main's call deadline, media-worker.ts). */
const replyDeadlineMs = init.replyDeadlineMs ?? 20_000;

/** The worker's mirror of a handle; it is the plugin's PluginSession and the plane's MediaHandle. */
class WorkerSession implements PluginSession, MediaHandle {
  state: unknown = undefined;
  alive = true;
  /** The worker of the handle's PeerConnection, as main last said (null: unknown, or none yet). */
  home: number | null = null;
  /** Main said the handle's PeerConnection is bound here (handleMessage `media`): its plugin's JSEPs are merged here. */
  mediaHere = false;
  readonly handleId: number;
  readonly sessionId: number;
  readonly opaqueId: string | null;
  readonly token: string | null;
  constructor(
    info: SessionInfo,
    readonly pluginPackage: string,
  ) {
    this.handleId = info.handleId;
    this.sessionId = info.sessionId;
    this.opaqueId = info.opaqueId;
    this.token = info.token;
  }
}

const sessions = new Map<number, WorkerSession>();
/** Gives the garbage of a burst back once the worker has no handles left (see idle-gc.ts). */
const idleGc = new IdleGc();
// Log lines that name only a handle get its session too, as on the main thread.
setSessionResolver((handleId) => sessions.get(handleId)?.sessionId);
let settings: MediaRuntimeSettings = init.settings;
let eventsEnabled = init.eventsEnabled;
let eventsObserved = init.eventsObserved;
/** The plugins loaded here, by package. */
const plugins = new Map<string, Plugin>();
let plane!: WebRtcMediaPlane;
/** One-port mode: this worker's end of the main thread's socket. */
let portLink: PortLink | null = null;
/** Each plugin's end of the worker bus (bus.ts): its lanes to the other workers. */
const buses = new Map<string, BusEnd>();
/**
 * Direct links to the other workers (peer-links.ts): what arrives goes to the plugin's bus end, a throw
 * there is counted as the plugin's fault and goes no further.
 */
const peers = new PeerLinks((from, pkg, msg) => {
  try {
    buses.get(pkg)?.message(from, msg);
  } catch (err) {
    fault(log, 'plugin_hook', err, { plugin: pkg, where: 'peer link' });
  }
});
function makeBus(pkg: string, workers: number): BusEnd {
  buses.get(pkg)?.close();
  const bus = new BusEnd(init.index, workers, {
    send: (to, msg) => notice({ n: 'bus', p: pkg, to, msg }),
    direct: (to, msg) => peers.post(to, pkg, msg),
    forward: (handleId, route, body, tag) => notice({ n: 'forward', p: pkg, handleId, route, body, tag }),
    roomChanged: (room, here) => notice({ n: 'roomChanged', p: pkg, room, here }),
    home: (ps) => (ps as WorkerSession).home,
    live: (ps) => {
      const s = ps as WorkerSession;
      return s.alive && sessions.get(s.handleId) === s ? s.handleId : null;
    },
  });
  buses.set(pkg, bus);
  return bus;
}
/** The plugin as a bus member, for the calls from main. */
function member(pkg: string): BusMember | undefined {
  return plugins.get(pkg) as (Plugin & BusMember) | undefined;
}
const log = rootLog.child({ worker: `media-${init.index}` });

function pluginOf(s: WorkerSession): Plugin {
  const p = plugins.get(s.pluginPackage);
  if (!p) throw new JanusError(458, `No plugin ${s.pluginPackage} in the media worker`);
  return p;
}

/** saveConfig calls waiting for main's configSaved. */
const saves = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
let nextSave = 1;
function saveConfig(p: string, set: Array<[string, Record<string, CfgValue>]>, remove: string[]): Promise<void> {
  const id = nextSave++;
  return new Promise<void>((resolve, reject) => {
    saves.set(id, { resolve, reject });
    notice({ n: 'saveConfig', p, id, set, remove });
  });
}

/**
 * What goes to main, in order. A pushEvent whose JSEP waits for its PeerConnection (a port being bound)
 * holds a slot; whatever is posted after it waits behind it, so main sees events in the plugin's order.
 */
const outbox: Array<{ msg: FromWorker | null }> = [];
function post(msg: FromWorker): void {
  if (outbox.length === 0) port.postMessage(msg);
  else outbox.push({ msg });
}
function fill(slot: { msg: FromWorker | null }, msg: FromWorker): void {
  slot.msg = msg;
  while (outbox.length > 0 && outbox[0]!.msg !== null) {
    const m = outbox.shift()!.msg!;
    try {
      port.postMessage(m);
    } catch (err) {
      // As in dispatch: a value that cannot be cloned; a call must still get its answer.
      fault(log, 'worker', err, { where: m.t === 'reply' ? 'reply' : m.n });
      if (m.t === 'reply') port.postMessage({ t: 'reply', id: m.id, ok: false, error: serializeError(err) } satisfies FromWorker);
    }
  }
}

function notice(n: WorkerNotice): void {
  post({ t: 'notice', ...n } satisfies FromWorker);
}

/**
 * A plugin's JSEP for a handle whose PeerConnection is here: merged into the plane now (as Janus merges in
 * push_event), and the event goes to main with the result. A subscriber join used to take a second
 * round trip for this (main's localJsep call), queued behind the burst's handshakes on this thread.
 */
function pushMerged(s: WorkerSession, transaction: string | null, data: Record<string, unknown>, jsep: Jsep): void {
  const msg = (r: { local: Jsep } | { localError: SerializedError }): FromWorker => ({ t: 'notice', n: 'pushEvent', handleId: s.handleId, transaction, data, jsep, ...r });
  let r: Jsep | Promise<Jsep>;
  try {
    r = testSeam('local_jsep_stall', s.handleId) ? new Promise<Jsep>(() => undefined) : plane.localJsep(s, jsep);
  } catch (err) {
    post(msg({ localError: serializeError(err) }));
    return;
  }
  if (!(r instanceof Promise)) {
    post(msg({ local: r }));
    return;
  }
  const slot: { msg: FromWorker | null } = { msg: null };
  outbox.push(slot);
  // Everything this worker posts after the event waits for it: a PeerConnection that never comes must
  // not hold them (or the event) forever. Past the deadline the event goes with the plane's error (the
  // client gets the refusal, the core hangs up what was being set up); a late result is dropped.
  const deadline = setTimeout(() => {
    if (slot.msg !== null) return;
    log.error('PeerConnection for a plugin JSEP not ready in time: the event goes with an error', { handle_id: s.handleId, waited_ms: replyDeadlineMs });
    fill(slot, msg({ localError: { name: 'JanusError', message: `PeerConnection not ready within ${Math.round(replyDeadlineMs / 1000)} s`, code: ErrorCode.UNKNOWN } }));
  }, replyDeadlineMs);
  const settle = (m: FromWorker): void => {
    clearTimeout(deadline);
    if (slot.msg === null) fill(slot, m);
  };
  r.then(
    (local) => settle(msg({ local })),
    (err: unknown) => settle(msg({ localError: serializeError(err) })),
  ).catch((err: unknown) => {
    // Building or posting the event failed: the slot still gets filled, or it would hold every later message.
    fault(log, 'worker', err, { where: 'pushEvent', handle_id: s.handleId });
    if (slot.msg === null) fill(slot, msg({ localError: serializeError(err) }));
  });
}

function serializeError(err: unknown): SerializedError {
  if (err instanceof JanusError) return { name: 'JanusError', message: err.message, code: err.code };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

const mediaEvents: MediaEvents = {
  webrtcUp: (handleId) => notice({ n: 'webrtcUp', handleId }),
  mediaState: (handleId, info) => notice({ n: 'mediaState', handleId, info }),
  slowLink: (handleId, info) => notice({ n: 'slowLinkEvent', handleId, info }),
  iceFailed: (handleId) => notice({ n: 'iceFailed', handleId }),
  peerClosed: (handleId, reason) => notice({ n: 'peerClosed', handleId, reason }),
  localCandidate: (handleId, candidate) => notice({ n: 'localCandidate', handleId, candidate }),
  mediaSink: (handleId) => {
    const s = sessions.get(handleId);
    const plugin = s ? plugins.get(s.pluginPackage) : undefined;
    // A media hook that throws hangs up this handle's PeerConnection (main owns the hangup event).
    return s && s.alive && plugin ? pluginMediaSink(plugin, s, log, s.sessionId, (reason) => notice({ n: 'closePeerConnection', handleId, reason })) : null;
  },
};

function makeHost(pkg: string): PluginHost & PluginMediaHost {
  const live = (ps: PluginSession): WorkerSession | null => {
    const s = ps as WorkerSession;
    return s.alive && sessions.get(s.handleId) === s ? s : null;
  };
  return {
    pushEvent: (ps, transaction, data, jsep?: Jsep) => {
      const s = live(ps);
      if (!s) return false;
      if (jsep && s.mediaHere) pushMerged(s, transaction, data, jsep);
      else notice({ n: 'pushEvent', handleId: s.handleId, transaction, data, ...(jsep ? { jsep } : {}) });
      return true;
    },
    closePeerConnection: (ps, reason) => {
      const s = live(ps);
      if (s) notice({ n: 'closePeerConnection', handleId: s.handleId, ...(reason !== undefined ? { reason } : {}) });
    },
    endSession: (ps) => {
      const s = live(ps);
      if (s) notice({ n: 'endSession', handleId: s.handleId });
    },
    // Core token auth is checked by the core before a message reaches the plugin; a worker plugin that
    // needs it per plugin would have to get the answer with the message (none of ours does).
    isTokenValidForPlugin: () => true,
    // Plugin events for the event handlers (type 64) go to main, which owns the handlers.
    eventsEnabled: () => eventsEnabled,
    observesEvents: () => eventsObserved,
    notifyEvent: (ps, data, internal) => {
      if (!eventsEnabled) return;
      const s = ps === null ? null : live(ps);
      if (ps !== null && s === null) return;
      notice({ n: 'notifyEvent', p: pkg, handleId: s ? s.handleId : null, data, ...(internal === true ? { internal: true as const } : {}) });
    },
    relayRtp: (ps, mid, buf, len) => plane.relayRtp(ps as WorkerSession, mid, buf, len),
    relayRtcp: (ps, mid, buf, len) => plane.relayRtcp(ps as WorkerSession, mid, buf, len),
    relayData: (ps, label, data) => plane.relayData(ps as WorkerSession, label, data),
    sendPli: (ps, mid) => plane.sendPli(ps as WorkerSession, mid),
    sendRemb: (ps, bitrate) => plane.sendRemb(ps as WorkerSession, bitrate),
    bandwidthEstimate: (ps, wanted) => plane.bandwidthEstimate(ps as WorkerSession, wanted),
    sendQueueMs: (ps) => plane.sendQueueMs(ps as WorkerSession),
    sendData: (ps, text) => plane.relayData(ps as WorkerSession, null, text),
    sendRtp: (ps, mid, packet) => plane.relayRtp(ps as WorkerSession, mid, packet, packet.length),
  };
}

/**
 * A message with its JSEP in one call (protocol.ts handleMessage `remote`): the JSEP into this worker's
 * plane, then the plugin, as main would have done in two calls. A subscriber's `start` used to wait twice
 * behind the burst's DTLS handshakes on this thread. The plane's refusal fails the call; the plugin's
 * throw is its `error` result (as PooledPlugin.send makes of a failed call).
 */
async function jointMessage(s: WorkerSession, transaction: string, body: Record<string, unknown>, remote: { jsep: Jsep; update: boolean }): Promise<JointReply> {
  const merged = await plane.remoteJsep(s, remote.jsep);
  if (!s.alive || sessions.get(s.handleId) !== s) throw new JanusError(458, `No such handle ${s.handleId} in the media worker`);
  const jsep = remote.update ? { ...merged, update: true } : merged;
  let result: PluginResult;
  try {
    result = await pluginOf(s).handleMessage(s, transaction, body, jsep);
  } catch (err) {
    result = { kind: 'error', reason: err instanceof Error ? err.message : String(err) };
  }
  return { jsep: merged, result };
}

function sessionOf(handleId: number): WorkerSession {
  const s = sessions.get(handleId);
  if (!s) throw new JanusError(458, `No such handle ${handleId} in the media worker`);
  return s;
}

async function call(c: MainCall): Promise<unknown> {
  switch (c.m) {
    case 'init': {
      const certificate = certificateFromPem(init.certPem, init.keyPem);
      const candidates = LocalCandidates.restore(init.candidates, log);
      // media.single_port: the main thread's one socket through rings (portLink), or with
      // single_port_per_worker a socket of this thread's own on single_port + index.
      const sp = init.config.media.single_port;
      if (init.portLink !== undefined) {
        portLink = new PortLink(init.portLink, log);
        plane = await WebRtcMediaPlane.create({ config: init.config, certificate, candidates, settings: () => settings, log, singlePort: 0, sharedPort: portLink });
      } else plane = await WebRtcMediaPlane.create({ config: init.config, certificate, candidates, settings: () => settings, log, singlePort: sp > 0 ? sp + init.index : 0 });
      plane.attach(mediaEvents);
      return null;
    }
    case 'loadPlugin': {
      const l = c.load;
      const mod = (await import(l.module)) as Record<string, new (opts?: Record<string, unknown>) => Plugin>;
      const Ctor = mod[l.exportName];
      if (typeof Ctor !== 'function') throw new Error(`${l.module} has no export ${l.exportName}`);
      const plugin = new Ctor(l.pluginOptions);
      const doc = await Jcfg.load(l.configFile);
      const config = l.rooms === null ? doc : new ShardConfig(doc, l.rooms, (set, remove) => saveConfig(l.package, set, remove));
      const bus = makeBus(l.package, l.workers);
      await plugin.init({ config, configsFolder: l.configsFolder, gateway: init.config, host: makeHost(l.package), log: rootLog.child({ plugin: plugin.package, worker: init.index }), bus });
      bus.attach(plugin as Plugin & BusMember);
      plugins.set(l.package, plugin);
      return { package: plugin.package };
    }
    case 'destroy':
      for (const p of plugins.values()) await p.destroy();
      return null;
    case 'handleMessage':
    {
      const s = sessionOf(c.handleId);
      if (c.home !== undefined) s.home = c.home;
      s.mediaHere = c.media === true;
      if (c.remote !== undefined) return await jointMessage(s, c.transaction, c.body, c.remote);
      return await pluginOf(s).handleMessage(s, c.transaction, c.body, c.jsep);
    }
    case 'handleAdminMessage': {
      const plugin = plugins.get(c.p);
      if (!plugin?.handleAdminMessage) throw new JanusError(498, 'Plugin has no Admin API messages');
      return await plugin.handleAdminMessage(c.body);
    }
    case 'querySession': {
      const s = sessionOf(c.handleId);
      return (await pluginOf(s).querySession?.(s)) ?? {};
    }
    case 'remoteJsep':
      return await plane.remoteJsep(sessionOf(c.handleId), c.jsep);
    case 'localJsep':
      return await plane.localJsep(sessionOf(c.handleId), c.jsep);
    case 'handleInfo': {
      const s = sessions.get(c.handleId);
      return s ? plane.handleInfo(s) : null;
    }
    case 'closeMedia':
      for (const b of buses.values()) b.close();
      peers.close();
      await plane?.close();
      portLink?.close();
      // Whatever a plugin left open: main terminates this thread next (see udp-sockets.ts).
      await closeUdpSockets();
      return null;
    case 'busCall': {
      const m = member(c.p);
      if (!m?.busCall) throw new JanusError(458, `No cross-worker calls in ${c.p}`);
      return await m.busCall(c.op, c.args);
    }
  }
}

function onNotice(n: MainNotice): void {
  switch (n.n) {
    case 'createSession': {
      const plugin = plugins.get(n.p);
      if (!plugin) return;
      const s = new WorkerSession(n.session, n.p);
      sessions.set(s.handleId, s);
      idleGc.handles(sessions.size);
      plugin.createSession(s);
      return;
    }
    case 'destroySession': {
      const s = sessions.get(n.handleId);
      if (!s) return;
      sessions.delete(n.handleId);
      idleGc.handles(sessions.size);
      try {
        pluginOf(s).destroySession(s);
      } finally {
        s.alive = false;
      }
      return;
    }
    case 'setupMedia': {
      const s = sessions.get(n.handleId);
      if (s) pluginOf(s).setupMedia?.(s);
      return;
    }
    case 'hangupMedia': {
      const s = sessions.get(n.handleId);
      if (s) pluginOf(s).hangupMedia?.(s);
      return;
    }
    case 'slowLink': {
      const s = sessions.get(n.handleId);
      if (s) pluginOf(s).slowLink?.(s, n.info);
      return;
    }
    case 'trickle': {
      const s = sessions.get(n.handleId);
      if (s) plane.trickle(s, n.candidates);
      return;
    }
    case 'hangup': {
      const s = sessions.get(n.handleId);
      if (s) plane.hangup(s, n.reason);
      return;
    }
    case 'release': {
      const s = sessions.get(n.handleId);
      // The plane only needs the id; the session may already be gone (destroySession came first).
      plane.release(s ?? { handleId: n.handleId, sessionId: 0, pluginPackage: '' });
      return;
    }
    case 'bus':
      buses.get(n.p)?.message(n.from, n.msg);
      return;
    case 'busLane':
      buses.get(n.p)?.openLane(n.from, n.to, n.sab);
      return;
    case 'peerPort':
      peers.set(n.index, n.port);
      return;
    case 'busDown':
      peers.drop(n.index);
      buses.get(n.p)?.down(n.index);
      return;
    case 'forwarded': {
      const s = sessions.get(n.handleId);
      const p = member(n.p);
      if (!s || !p?.forwarded) return;
      s.home = n.from;
      p.forwarded(s, n.from, n.body);
      return;
    }
    case 'forwardReply': {
      const s = sessions.get(n.handleId);
      if (s) member(n.p)?.forwardReply?.(s, n.tag, n.data, n.error);
      return;
    }
    case 'configSaved': {
      const w = saves.get(n.id);
      saves.delete(n.id);
      if (w) n.error === null ? w.resolve() : w.reject(new Error(n.error));
      return;
    }
    case 'exitForTests':
      // Sockets first: ending the thread while a datagram is due can abort the process (udp-sockets.ts).
      void closeUdpSockets().then(() => process.exit(n.code));
      return;
    case 'stallForTests': {
      const until = performance.now() + n.ms;
      while (performance.now() < until) {
        // starved: no timer, socket, message or ring wake-up runs here meanwhile
      }
      return;
    }
    case 'faultInjection':
      faultInjection.armed = n.armed;
      faultInjection.target = n.target;
      return;
    case 'settings':
      settings = n.settings;
      eventsEnabled = n.eventsEnabled;
      eventsObserved = n.eventsObserved;
      setLogLevel(n.logLevel);
      return;
  }
}

/** Notices that run a plugin hook for one handle: a throw there is that handle's fault. */
const HOOKS: ReadonlySet<string> = new Set(['createSession', 'destroySession', 'setupMedia', 'hangupMedia', 'slowLink', 'bus', 'busDown', 'forwarded', 'forwardReply']);

function noticeFailed(msg: ToWorker & { t: 'notice' }, err: unknown): void {
  const handleId = 'handleId' in msg && typeof msg.handleId === 'number' ? msg.handleId : undefined;
  const hook = HOOKS.has(msg.n);
  fault(log, hook ? 'plugin_hook' : 'worker', err, { where: msg.n, ...(handleId !== undefined ? { handle_id: handleId, session_id: sessions.get(handleId)?.sessionId ?? 0 } : {}) });
  // The handle whose PeerConnection was being set up or driven gets it hung up (as on the main thread).
  if (handleId !== undefined && (msg.n === 'setupMedia' || msg.n === 'slowLink' || msg.n === 'trickle')) {
    notice({ n: 'closePeerConnection', handleId, reason: hook ? `Plugin error (${msg.n})` : 'Internal error (worker)' });
  }
}

// Last line, as in main.ts: the worker's own boundaries should have caught it; count it and keep going
// (an uncaught exception would end the thread and every PeerConnection in it).
process.on('uncaughtException', (err) => fault(log, 'process', err, { where: 'uncaughtException (media worker)' }));
process.on('unhandledRejection', (err) => fault(log, 'process', err, { where: 'unhandledRejection (media worker)' }));

// Load for placement and /metrics: event-loop delay and packets/s since the last report.
// The delay monitor is a repeating libuv timer: at a 10 ms resolution it woke each idle worker 100
// times a second, most of an idle server's CPU (bench/idle.ts). A stall delays the sample whatever
// the resolution, so the max still shows every stall; the mean is taken from 10 samples a second.
const LAG_RESOLUTION_MS = 100;
const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
lag.enable();
let lastPackets = 0;
let lastReport = performance.now();

function load(media: ReturnType<WebRtcMediaPlane['metrics']>): WorkerLoad {
  const packets = media.audio.packetsIn + media.audio.packetsOut + media.video.packetsIn + media.video.packetsOut;
  const now = performance.now();
  const secs = (now - lastReport) / 1000;
  // Reports after calls come between the periodic ones: the rate is only refreshed once a period.
  const rate = secs >= 0.5 ? Math.max(0, packets - lastPackets) / secs : lastLoad.packetsPerSec;
  if (secs >= 0.5) {
    lastPackets = packets;
    lastReport = now;
    // The histogram holds the intervals between samples (the resolution plus the delay).
    const mean = lag.count > 0 ? lag.mean / 1e6 : LAG_RESOLUTION_MS;
    const max = lag.count > 0 ? lag.max / 1e6 : LAG_RESOLUTION_MS;
    lastLoad = { peers: plane.peerCount, packetsPerSec: Math.round(rate), loopLagMs: Math.max(0, mean - LAG_RESOLUTION_MS), loopLagMaxMs: Math.max(0, max - LAG_RESOLUTION_MS) };
    lag.reset();
  }
  return { ...lastLoad, peers: plane.peerCount };
}
let lastLoad: WorkerLoad = { peers: 0, packetsPerSec: 0, loopLagMs: 0, loopLagMaxMs: 0 };

/** What the last report said (its JSON, lag rounded to 5 ms): an unchanged report is not posted. */
let lastReported = '';

/**
 * The worker's metrics to main, once a second and soon after calls: posted only when they changed
 * (an idle worker's report is the same every second; posting it woke main for nothing). Main keeps
 * the last one it got.
 */
function reportMetrics(): void {
  if (!plane) return;
  try {
    const pm: Record<string, ReturnType<NonNullable<Plugin['metrics']>> | null> = {};
    for (const [pkg, p] of plugins) pm[pkg] = p.metrics?.() ?? null;
    const media = plane.metrics();
    const lanes: Record<string, LaneCounts> = {};
    for (const [pkg, b] of buses) lanes[pkg] = b.laneCounts();
    const msg = { n: 'metrics', plugins: pm, media, load: load(media), faults: localFaultCounts(), peerPosts: peers.posted, logDropped: logLinesDropped(), lanes } as const;
    const key = JSON.stringify({ ...msg, load: { ...msg.load, loopLagMs: Math.round(msg.load.loopLagMs / 5), loopLagMaxMs: Math.round(msg.load.loopLagMaxMs / 5) } });
    if (key === lastReported) return;
    lastReported = key;
    notice(msg);
  } catch (err) {
    log.warn('media worker metrics failed', { err: String(err) });
  }
}
setInterval(reportMetrics, 1000).unref();

/**
 * A call changed what /metrics and placement read (rooms, PeerConnections): report soon, once for a
 * whole burst of calls. A report walks every PeerConnection here, so one per call made a burst of N
 * joins cost O(N^2) (a tenth of the room worker's CPU with 300 subscribers joining); placement does not
 * wait for it (main counts the PeerConnections it sets up itself, MediaWorker.mediaCount).
 */
const AFTER_CALL_REPORT_MS = 50;
let reportSoon: NodeJS.Timeout | null = null;
function reportAfterCall(): void {
  if (reportSoon !== null) return;
  reportSoon = setTimeout(() => {
    reportSoon = null;
    reportMetrics();
  }, AFTER_CALL_REPORT_MS);
  reportSoon.unref();
}

/** Everything waits for init and the plugin loads sent before it: messages can arrive while they are being built. */
let ready: Promise<void> | null = null;

/**
 * Tests (faultInjection, one-shot): `worker_call_drop` loses the handle's next call (as a worker under
 * load was seen leaving main's calls unread for 20+ s, issue 12); `worker_call_late` handles it only
 * after main's deadline (main has failed it: its late answer comes then); `local_jsep_stall` makes the
 * handle's next pushEvent JSEP wait for a PeerConnection that never comes.
 */
function testSeam(name: string, handleId: number): boolean {
  const f = faultInjection;
  if (f.armed !== name || (f.target !== null && f.target !== handleId)) return false;
  f.armed = null;
  f.hits++;
  return true;
}
port.on('message', (msg: ToWorker) => {
  if (msg.t === 'call' && 'handleId' in msg && testSeam('worker_call_drop', msg.handleId)) return;
  if (msg.t === 'call' && 'handleId' in msg && testSeam('worker_call_late', msg.handleId)) {
    setTimeout(() => void dispatch(msg), replyDeadlineMs + 500);
    return;
  }
  // Main's answer to a save never waits (a plugin may save while it is being loaded).
  if (msg.t === 'notice' && msg.n === 'configSaved') {
    onNotice(msg);
    return;
  }
  if (msg.t === 'call' && msg.m === 'init') {
    const p = dispatch(msg);
    ready = p.then(
      () => undefined,
      () => undefined,
    );
    return;
  }
  // Everything waits for the calls before it that load something (init, loadPlugin), in order.
  if (msg.t === 'call' && msg.m === 'loadPlugin') {
    const prev = ready ?? Promise.resolve();
    ready = prev.then(() => dispatch(msg)).then(
      () => undefined,
      () => undefined,
    );
    return;
  }
  if (ready !== null) {
    void ready.then(() => dispatch(msg));
    return;
  }
  void dispatch(msg);
});

function dispatch(msg: ToWorker): Promise<void> {
  if (msg.t === 'notice') {
    try {
      if (plane) {
        inject('worker', 'handleId' in msg ? msg.handleId : undefined);
        onNotice(msg);
      }
    } catch (err) {
      noticeFailed(msg, err);
    }
    return Promise.resolve();
  }
  const { id } = msg;
  return call(msg).then(
    (value) => {
      post({ t: 'reply', id, ok: true, value } satisfies FromWorker);
      // A call that changed what /metrics shows (rooms, PeerConnections) is reported soon (coalesced).
      if (msg.m !== 'querySession' && msg.m !== 'handleInfo') reportAfterCall();
    },
    (err: unknown) => post({ t: 'reply', id, ok: false, error: serializeError(err) } satisfies FromWorker),
  ).catch((err: unknown) => {
    // Posting the reply failed (a value that cannot be cloned): main must still get an answer.
    fault(log, 'worker', err, { where: msg.m, ...('handleId' in msg ? { handle_id: msg.handleId } : {}) });
    try {
      port.postMessage({ t: 'reply', id, ok: false, error: serializeError(err) } satisfies FromWorker);
    } catch {
      /* nothing more to tell */
    }
  });
}
