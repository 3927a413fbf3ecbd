/**
 * A plugin whose rooms and PeerConnections live in the media worker pool (pool.ts): the Plugin the core
 * registers. It only forwards, and decides where to (placement.ts):
 *
 * - a room lives on one worker: the jcfg's rooms are dealt round-robin over the workers at startup, an
 *   API `create` goes to the least loaded one; this thread keeps the room -> worker map;
 * - a request that names a room goes to that room's worker; `list` asks every worker and merges;
 * - a handle is bound to a worker when it first needs one (`join` binds it to the room's worker,
 *   anything else, e.g. EchoTest's first message, to the least loaded), and its PeerConnection lives
 *   there. A handle whose PeerConnection is on one worker cannot join a room on another (a
 *   PeerConnection cannot move threads): the request is refused with a plugin error. AudioBridge
 *   `changeroom` to a room on another worker moves the participant there while its PeerConnection
 *   stays (changeRoom below, src/plugins/audiobridge/cross-worker.ts); its requests then go to the
 *   room's worker, and its media crosses between the two through the pair's rings (ring.ts).
 *
 * EchoTest has no rooms: its handles are spread by load. TextRoom spreads both: rooms like VideoRoom's,
 * handles (their data channels) at their first message like EchoTest's; a member's requests for a room
 * on another worker are forwarded here and routed to the room's worker, which answers and fans out
 * through the member's worker. Every plugin's instances talk over the worker bus (bus.ts): this thread
 * relays its control lane and routes forwarded requests (BusHub), and opens its packet lanes (rings).
 *
 * The jcfg file is owned here: workers send their `permanent` changes (shard-config.ts) and this
 * thread applies them in order to its one copy and writes it.
 */
import type { CfgValue } from '../config/types.js';
import type { Jsep } from '../core/jsep.js';
import type { MediaHandle, MediaPlane } from '../core/media-plane.js';
import type { ForwardRoute, JcfgDocument, Plugin, PluginHost, PluginInitContext, PluginMetrics, PluginResult, PluginSession, RoomPlacement, SlowLinkInfo } from '../core/plugin.js';
import type { MediaWorker, WorkerClient } from './media-worker.js';
import { membersSpanWorkers, movesAcross, roomKey, roomOfCategory, routeOf, spreadsRooms } from './placement.js';
import type { WorkerPool } from './pool.js';
import type { JointReply, PluginLoad } from './protocol.js';
import type { PluginInfo } from '../plugins/catalog.js';
import { BusHub } from './bus.js';
import { cfgInt } from '../config/values.js';

export interface PooledPluginOptions {
  /** An instance of the plugin class, for its name and version only (it is never initialized here). */
  describe: PluginInfo;
  /** URL of the module exporting the class, and the export name (each worker constructs one). */
  module: string;
  exportName: string;
  pluginOptions?: Record<string, unknown>;
  pool: WorkerPool;
  /** The pool's workers this plugin runs on (default: all). */
  workers?: MediaWorker[];
}

type Data = Record<string, unknown>;

/** A message's JSEP waiting for the first call of its handleMessage (handleMessageWithJsep). */
interface PendingRemote {
  jsep: Jsep;
  update: boolean;
  taken: boolean;
  /** The plane's merged JSEP, once applied. */
  merged: Jsep | null;
  /** The plane refused it (the error for the core). */
  refused: unknown;
}

/** Janus's "unknown error" code, shared by VideoRoom and AudioBridge. */
const ERROR_UNKNOWN = 499;

/** The plugin whose subscribers may live on another worker than their room (README "Threads"). */
const VIDEOROOM = 'janus.plugin.videoroom';
/** Default of `subscribers_spread_at`: PeerConnections on a room's worker before subscribers go elsewhere. */
const SPREAD_AT_DEFAULT = 100;
/** PeerConnections being set up on a room's worker from which a subscriber join goes to a less busy worker (burstWorker). */
const BURST_SETUPS = 4;
/** The plugin whose members sit wherever their handle was placed, before anyone knows their room. */
const TEXTROOM = 'janus.plugin.textroom';
/** Default of TextRoom's `members_spread_at`: PeerConnections on one worker before new rooms and handles go elsewhere. */
const MEMBERS_SPREAD_AT_DEFAULT = 100;
/** Requests of a subscriber handle that go to its own worker even when they name the room. */
const SUBSCRIBER_REQUESTS = new Set(['start', 'pause', 'configure', 'switch', 'subscribe', 'unsubscribe', 'update', 'leave']);

function isSubscriberJoin(pkg: string, body: Data): boolean {
  if (pkg !== VIDEOROOM) return false;
  const request = typeof body.request === 'string' ? body.request.toLowerCase() : '';
  return request === 'join' && (body.ptype === 'subscriber' || body.ptype === 'listener');
}

export class PooledPlugin implements Plugin, WorkerClient {
  readonly package: string;
  readonly name: string;
  readonly author: string;
  readonly description: string;
  readonly version: number;
  readonly versionString: string;
  readonly media: MediaPlane;
  readonly pool: WorkerPool;
  readonly workers: MediaWorker[];

  host: PluginHost | null = null;
  private doc: JcfgDocument | null = null;
  private configsFolder = '';
  /** room -> the worker it lives on. */
  readonly rooms = new Map<string, MediaWorker>();
  private readonly sessions = new Map<number, PluginSession>();
  /** Handles that joined a room (a participant in some worker's plugin), and where. */
  private readonly joined = new Map<number, MediaWorker>();
  private saving: Promise<void> = Promise.resolve();
  /** Whether the rooms are spread (each worker gets its share of the jcfg and main writes the file). */
  private readonly shared: boolean;
  /** Participant moves between workers (changeroom across workers), one at a time. */
  private moves: Promise<void> = Promise.resolve();
  /**
   * VideoRoom: from how many PeerConnections on a room's worker a new subscriber goes to the least
   * loaded worker instead (jcfg `general.subscribers_spread_at`, Portunus only; -1 never, 0 always).
   */
  private spreadAt = SPREAD_AT_DEFAULT;
  /**
   * TextRoom: PeerConnections on one worker before new rooms and handles go to the least loaded worker
   * (jcfg `general.members_spread_at`, Portunus only; -1 never, 0 always). A TextRoom handle gets its
   * PeerConnection at `setup`, before it names a room (the `join` comes on its data channel), so below
   * this every room and member shares one worker and a chat line crosses no thread.
   */
  private membersSpreadAt = MEMBERS_SPREAD_AT_DEFAULT;
  /** Tests: pick a subscriber's worker (null: the rule above). */
  subscriberPlacement: ((room: string, handleId: number) => MediaWorker | null) | null = null;
  /** "room|worker": the worker mirrors the room (set up, or being set up). */
  private readonly mirrors = new Map<string, Promise<boolean>>();
  /** The main side of the plugin's worker bus: control lane relay, packet lanes. */
  private readonly bus: BusHub;
  /** Subscriber handles placed on another worker than their room's, and where. */
  private readonly remoteSubs = new Map<number, MediaWorker>();
  /** A subscriber join's worker, chosen in beforeMessage for handleMessage. */
  private readonly placing = new Map<number, MediaWorker>();
  /** Members may sit on other workers than their rooms (the plugin's instances talk through here). */
  private readonly crossWorker: boolean;
  /** handleMessageWithJsep in progress, by handle: the JSEP its first call carries. */
  private readonly remotes = new Map<number, PendingRemote>();

  constructor(private readonly opts: PooledPluginOptions) {
    const d = opts.describe;
    this.package = d.package;
    this.name = d.name;
    this.author = d.author;
    this.description = d.description;
    this.version = d.version;
    this.versionString = d.versionString;
    this.pool = opts.pool;
    this.workers = opts.workers ?? opts.pool.workers;
    this.media = opts.pool.media;
    this.shared = spreadsRooms(this.package) && this.workers.length > 1;
    this.crossWorker = membersSpanWorkers(this.package) && this.workers.length > 1;
    this.bus = new BusHub(this.package, this.workers);
    this.pool.setPicker(this.package, (handleId) => this.placeForMedia(handleId));
  }

  /** Control messages relayed between this plugin's workers since startup (tests, diagnostics: TextRoom's are batches, not frames). */
  get relayed(): number {
    return this.bus.relayed;
  }

  /** Requests routed here for a worker (WorkerBus.forward) since startup (tests: TextRoom's chat goes direct). */
  routed = 0;

  /** Posts over the workers' direct links (peer-links.ts), all plugins, as last reported (about once a second). */
  get peerPosts(): number {
    return this.workers.reduce((n, w) => n + w.peerPosts, 0);
  }

  /** PeerConnections alive in this plugin's workers, as last reported (tests, leak checks). */
  get peerCount(): number {
    return this.workers.reduce((n, w) => n + w.peerCount, 0);
  }

  /** Worker restarts since startup (tests, diagnostics). */
  get restarts(): number {
    return this.workers.reduce((n, w) => n + w.restarts, 0);
  }

  private pick(): MediaWorker {
    if (this.workers.length === 1) return this.workers[0]!;
    if (this.package === TEXTROOM && this.membersSpreadAt !== 0) return this.gatherWorker();
    return this.pool.leastLoaded(this.workers, (w) => this.roomsOn(w));
  }

  /**
   * TextRoom's placement below `members_spread_at`: the fullest worker still under it (the first on a
   * tie), so rooms and handles gather on one worker until it has that many PeerConnections; past it on
   * every worker, the least loaded.
   */
  private gatherWorker(): MediaWorker {
    const handles = new Map<MediaWorker, number>();
    for (const h of this.sessions.keys()) {
      const w = this.pool.boundWorker(h);
      if (w) handles.set(w, (handles.get(w) ?? 0) + 1);
    }
    let best: MediaWorker | undefined;
    let bestCount = -1;
    for (const w of this.workers) {
      if (w.exited) continue;
      // Handles placed but still negotiating count at once: a burst of setups does not all land here.
      const n = Math.max(w.load.peers, w.mediaCount, handles.get(w) ?? 0);
      if ((this.membersSpreadAt < 0 || n < this.membersSpreadAt) && n > bestCount) {
        best = w;
        bestCount = n;
      }
    }
    return best ?? this.pool.leastLoaded(this.workers, (w) => this.roomsOn(w));
  }

  private roomsOn(w: MediaWorker): number {
    let n = 0;
    for (const r of this.rooms.values()) if (r === w) n++;
    return n;
  }

  // ------------------------------------------------------------------------------------------ WorkerClient

  loadFor(worker: MediaWorker): PluginLoad {
    const rooms = this.shared && this.doc ? this.doc.categoryNames().filter((n) => {
      const r = roomOfCategory(n);
      return r !== null && this.rooms.get(r) === worker;
    }) : null;
    return {
      package: this.package,
      module: this.opts.module,
      exportName: this.opts.exportName,
      ...(this.opts.pluginOptions ? { pluginOptions: this.opts.pluginOptions } : {}),
      configFile: this.doc?.file ?? '',
      configsFolder: this.configsFolder,
      rooms,
      workers: this.workers.length,
    };
  }

  saveConfig(set: Array<[string, Record<string, CfgValue>]>, remove: string[]): Promise<void> {
    const doc = this.doc;
    if (!doc) return Promise.reject(new Error('no configuration'));
    const run = this.saving.then(async () => {
      for (const [name, items] of set) doc.setCategory(name, items);
      for (const name of remove) doc.removeCategory(name);
      await doc.save();
    });
    this.saving = run.catch(() => undefined);
    return run;
  }

  workerRestarted(worker: MediaWorker): void {
    for (const [h, j] of movesAcross(this.package) ? [...this.joined] : []) {
      const home = this.pool.boundWorker(h);
      if (home === undefined || home === j) continue;
      const session = this.sessions.get(h);
      if (j === worker) {
        // The room died with its worker: the participant's PeerConnection is hung up, as it would have
        // been on that worker.
        this.joined.delete(h);
        home.notice({ n: 'hangupMedia', handleId: h });
        if (session) this.host?.closePeerConnection(session, 'Media worker exited');
      } else if (home === worker) {
        // The PeerConnection died: the participant leaves its room on the other worker.
        this.joined.delete(h);
        j.notice({ n: 'hangupMedia', handleId: h });
      }
    }
    this.crossWorkerDown(worker);
    // Rooms the jcfg defines come back with the new worker; the others are gone, as after a restart.
    for (const [room, w] of this.rooms) {
      if (w === worker && this.doc?.category(`room-${room}`) === undefined) this.rooms.delete(room);
    }
    // The others hold members of its rooms, mirrors, lanes (and it held theirs): they hear it is gone.
    this.bus.down(worker);
  }

  /** The bus's control lane: this plugin's message for its instance on worker `to`, relayed as is. */
  busMessage(from: MediaWorker, to: number, msg: unknown): void {
    this.bus.relay(from, to, msg);
  }

  /**
   * A request a handle sent on `from` for a room elsewhere: to the room's worker (announcing the handle
   * there first), in the order it came; `list` is answered by every worker and merged here.
   */
  forward(from: MediaWorker, handleId: number, route: ForwardRoute, body: Data, tag: string | null): void {
    const session = this.sessions.get(handleId);
    if (!session) return;
    this.routed++;
    const reply = (data: Data | null, error: string | null): void => from.notice({ n: 'forwardReply', p: this.package, handleId, tag, data, error });
    if (route.kind === 'all') {
      void Promise.all(this.workers.map((w) => this.send(w, session, tag ?? 'forward', body, null))).then((results) => {
        const failed = results.find((r) => r.kind !== 'ok');
        if (failed) reply(null, failed.kind === 'error' ? failed.reason : 'no answer');
        else reply(mergeLists(results.map((r) => (r as { data: Data }).data)), null);
      });
      return;
    }
    const named = route.room !== null ? this.rooms.get(route.room) : undefined;
    // A room nobody has: the sender's own worker answers "no such room".
    const target = named ?? (route.kind === 'create' ? this.pick() : from);
    if (target.exited || target.worker === null) {
      reply(null, `The room's media worker ${target.index} is restarting`);
      return;
    }
    target.ensureSession(this.package, this, session);
    target.notice({ n: 'forwarded', p: this.package, handleId, from: from.index, body });
  }

  roomChanged(worker: MediaWorker, room: string, here: boolean): void {
    if (!this.shared) return;
    if (here) this.rooms.set(room, worker);
    else if (this.rooms.get(room) === worker) this.rooms.delete(room);
  }

  // ------------------------------------------------------------------------------------------ cross-worker rooms

  /** Where a VideoRoom subscriber of a room on `rw` goes: `rw` until it is busy, then the least loaded worker. */
  private subscriberWorker(room: string, rw: MediaWorker, handleId: number): MediaWorker {
    if (this.package !== VIDEOROOM || !this.shared) return rw;
    const bound = this.pool.boundWorker(handleId);
    // A handle with a PeerConnection already cannot move: its join goes where it is (or is refused there).
    if (bound && bound.hasMedia(handleId)) return bound;
    const forced = this.subscriberPlacement?.(room, handleId);
    if (forced) return forced;
    if (this.spreadAt < 0) return rw;
    if (Math.max(rw.load.peers, rw.mediaCount) >= this.spreadAt) return this.pool.leastLoaded(this.workers);
    return this.burstWorker(rw);
  }

  /**
   * A burst of subscriber joins (a webinar's audience arriving): while the room's worker has
   * BURST_SETUPS or more PeerConnections being set up, a join goes to the worker with the fewest set-ups
   * in flight, so the burst's handshakes use every core instead of queueing on one thread (they were
   * the room worker's main cost during a burst: bench/README.md, "webinar"). Outside bursts subscribers
   * stay on the room's worker until `subscribers_spread_at`, as before.
   */
  private burstWorker(rw: MediaWorker): MediaWorker {
    const busy = rw.settingUpCount;
    if (busy < BURST_SETUPS) return rw;
    let best = rw;
    let bestCount = busy;
    for (const w of this.workers) {
      if (w === rw || !w.running) continue;
      const n = w.settingUpCount;
      if (n < bestCount || (n === bestCount && best !== rw && Math.max(w.load.peers, w.mediaCount) < Math.max(best.load.peers, best.mediaCount))) {
        best = w;
        bestCount = n;
      }
    }
    return best;
  }

  /** Worker `target` mirrors `room` (on `rw`); false when it cannot (no such room there any more). */
  private ensureMirror(room: string, roomValue: unknown, rw: MediaWorker, target: MediaWorker): Promise<boolean> {
    const key = mirrorKey(room, target.index);
    let p = this.mirrors.get(key);
    if (p) return p;
    p = (async () => {
      this.bus.openLane(rw, target);
      const snapshot = await this.bus.call<unknown>(rw, 'mirrorOut', { room: roomValue, to: target.index });
      if (snapshot === null) return false;
      await this.bus.call(target, 'mirrorIn', { from: rw.index, snapshot } as Record<string, unknown>);
      return true;
    })().catch(() => false);
    this.mirrors.set(key, p);
    void p.then((ok) => {
      if (!ok && this.mirrors.get(key) === p) this.mirrors.delete(key);
    });
    return p;
  }

  roomPlacement(): RoomPlacement[] {
    const spans = new Map<string, number[]>();
    for (const key of this.mirrors.keys()) {
      const { room, worker } = splitMirrorKey(key);
      let list = spans.get(room);
      if (!list) spans.set(room, (list = []));
      list.push(worker);
    }
    const out: RoomPlacement[] = [];
    for (const [room, w] of this.rooms) {
      const others = (spans.get(room) ?? []).filter((i) => i !== w.index).sort((x, y) => x - y);
      out.push({ room: roomIdOut(room), worker: w.index, workers: [w.index, ...others] });
    }
    return out;
  }

  /** A worker died: the mirrors of its rooms, and on it, are gone. */
  private crossWorkerDown(worker: MediaWorker): void {
    const i = worker.index;
    for (const key of [...this.mirrors.keys()]) {
      const m = splitMirrorKey(key);
      if (m.worker === i || this.rooms.get(m.room) === worker) this.mirrors.delete(key);
    }
    for (const [h, w] of this.remoteSubs) if (w === worker) this.remoteSubs.delete(h);
  }

  // ------------------------------------------------------------------------------------------ Plugin

  async init(ctx: PluginInitContext): Promise<void> {
    this.host = ctx.host;
    this.doc = ctx.config;
    this.configsFolder = ctx.configsFolder;
    await this.pool.start(
      () => this.host?.eventsEnabled?.() ?? false,
      () => this.host?.observesEvents?.() ?? false,
    );
    if (this.package === VIDEOROOM) this.spreadAt = cfgInt(ctx.config.category('general')?.['subscribers_spread_at'], SPREAD_AT_DEFAULT) ?? SPREAD_AT_DEFAULT;
    if (this.package === TEXTROOM) this.membersSpreadAt = cfgInt(ctx.config.category('general')?.['members_spread_at'], MEMBERS_SPREAD_AT_DEFAULT) ?? MEMBERS_SPREAD_AT_DEFAULT;
    if (this.shared) {
      // TextRoom's jcfg rooms gather on the first worker with their members unless members always spread.
      const deal = this.package === TEXTROOM && this.membersSpreadAt !== 0 ? this.workers.slice(0, 1) : this.workers;
      let i = 0;
      for (const name of ctx.config.categoryNames()) {
        const room = roomOfCategory(name);
        if (room !== null && !this.rooms.has(room)) this.rooms.set(room, deal[i++ % deal.length]!);
      }
    }
    await Promise.all(this.workers.map((w) => w.loadPlugin(this.package, this)));
    this.pool.retain();
    ctx.log.info('plugin runs in the media worker pool', {
      plugin: this.package,
      workers: this.workers.map((w) => w.index),
      ...(this.shared ? { jcfg_rooms_per_worker: this.workers.map((w) => this.roomsOn(w)) } : {}),
    });
  }

  async destroy(): Promise<void> {
    await this.pool.release();
  }

  createSession(session: PluginSession): void {
    this.sessions.set(session.handleId, session);
  }

  destroySession(session: PluginSession): void {
    this.sessions.delete(session.handleId);
    this.remoteSubs.delete(session.handleId);
    this.placing.delete(session.handleId);
    this.joined.delete(session.handleId);
    for (const w of this.workers) w.destroySession(session.handleId);
    this.pool.unbind(session.handleId);
  }

  /** The worker a handle's requests go to when they name no room: its own, bound now if it has none. */
  private handleWorker(session: PluginSession): MediaWorker {
    let w = this.pool.boundWorker(session.handleId);
    if (!w) {
      w = this.pick();
      this.pool.bind(session.handleId, w);
    }
    return w;
  }

  /**
   * Binds the handle to the room's worker for a join-like request; a string when it cannot (its
   * PeerConnection is on another worker).
   */
  private bindToRoom(session: PluginSession, target: MediaWorker): string | null {
    const bound = this.pool.boundWorker(session.handleId);
    if (bound === target) return null;
    if (bound && bound.hasMedia(session.handleId)) {
      return `Room is on media worker ${target.index}, this handle's PeerConnection on media worker ${bound.index} (a PeerConnection cannot move between workers: hang up first)`;
    }
    // Its participant (state in the plugin) is on the other worker: that worker's plugin would have
    // answered (already in a room, or changeroom), the target's cannot know it.
    if (bound && this.joined.get(session.handleId) === bound) {
      return `Room is on media worker ${target.index}, this handle is a participant on media worker ${bound.index} (leave first)`;
    }
    this.pool.bind(session.handleId, target);
    return null;
  }

  /**
   * Called by the core before a message's JSEP reaches the media plane: the handle is bound (and known)
   * where its PeerConnection will live, so a `joinandconfigure` or EchoTest offer lands on the right worker.
   */
  beforeMessage(session: PluginSession, body: Record<string, unknown>): void {
    const route = routeOf(this.package, body);
    let w: MediaWorker | undefined;
    if (route.kind === 'room' && route.bind) {
      let rw = this.rooms.get(route.room);
      if (rw && isSubscriberJoin(this.package, body)) {
        rw = this.subscriberWorker(route.room, rw, session.handleId);
        this.placing.set(session.handleId, rw);
      }
      if (rw && this.bindToRoom(session, rw) === null) w = rw;
    } else if (route.kind === 'room' && this.remoteSubs.has(session.handleId)) {
      w = this.remoteSubs.get(session.handleId);
    }
    w ??= this.handleWorker(session);
    w.ensureSession(this.package, this, session);
  }

  /** A JSEP for a handle nothing placed yet (the pool's fallback): bind it and make it known there. */
  private placeForMedia(handleId: number): MediaWorker {
    const w = this.pick();
    const s = this.sessions.get(handleId);
    if (s) w.ensureSession(this.package, this, s);
    return w;
  }

  /**
   * The core's JSEP and message in one call (Plugin.handleMessageWithJsep): routed as handleMessage
   * routes the message; the first call it makes carries the JSEP when it goes to the worker the handle's
   * PeerConnection is bound to (send below), else the JSEP goes first in a call of its own, as before.
   * One at a time per handle (a second concurrent one takes the two-call path).
   */
  handleMessageWithJsep(session: PluginSession, transaction: string, body: Data, jsep: Jsep, update: boolean): Promise<{ jsep: Jsep; result: PluginResult }> | null {
    if (this.remotes.has(session.handleId)) return null;
    const r: PendingRemote = { jsep, update, taken: false, merged: null, refused: null };
    this.remotes.set(session.handleId, r);
    return this.handleMessage(session, transaction, body, jsep)
      .finally(() => {
        if (this.remotes.get(session.handleId) === r) this.remotes.delete(session.handleId);
      })
      .then(async (result) => {
        if (r.refused !== null) throw r.refused;
        // Nothing was sent to a worker (an answer made here): the JSEP still goes to the plane.
        r.merged ??= await this.pool.media.remoteJsep(this.mediaHandle(session), jsep);
        return { jsep: r.merged, result };
      });
  }

  /** The handle as the pool's plane knows it (the core hands its Handle, which is one, as a PluginSession). */
  private mediaHandle(session: PluginSession): MediaHandle {
    return { handleId: session.handleId, sessionId: session.sessionId, pluginPackage: this.package };
  }

  /** The pending JSEP of a handleMessageWithJsep, for the first call of its handle (once). */
  private takeRemote(handleId: number): PendingRemote | null {
    const r = this.remotes.get(handleId);
    if (!r || r.taken) return null;
    r.taken = true;
    return r;
  }

  private async send(w: MediaWorker, session: PluginSession, transaction: string, body: Data, jsep: Jsep | null): Promise<PluginResult> {
    const remote = this.takeRemote(session.handleId);
    if (remote !== null) {
      if (this.pool.boundWorker(session.handleId) === w) return this.sendJoint(w, session, transaction, body, remote);
      // Its PeerConnection is elsewhere (or not placed yet): the JSEP first, on its own.
      try {
        remote.merged = await this.pool.media.remoteJsep(this.mediaHandle(session), remote.jsep);
      } catch (err) {
        remote.refused = err;
        return { kind: 'error', reason: err instanceof Error ? err.message : String(err) };
      }
      jsep = remote.update ? { ...remote.merged, update: true } : remote.merged;
    }
    w.ensureSession(this.package, this, session);
    return w
      .call<PluginResult>({ m: 'handleMessage', handleId: session.handleId, transaction, body, jsep, ...this.homeOf(session.handleId), ...(this.pool.boundWorker(session.handleId) === w ? { media: true as const } : {}) })
      .catch((err: unknown) => ({ kind: 'error', reason: err instanceof Error ? err.message : String(err) }) as PluginResult);
  }

  /** One call for the JSEP and the message (the worker's jointMessage). A failed call is the plane's refusal. */
  private async sendJoint(w: MediaWorker, session: PluginSession, transaction: string, body: Data, remote: PendingRemote): Promise<PluginResult> {
    w.ensureSession(this.package, this, session);
    // As the plane's remoteJsep does: the PeerConnection is (being set up) here from now on.
    w.markMedia(session.handleId, true);
    try {
      const r = await w.call<JointReply>({ m: 'handleMessage', handleId: session.handleId, transaction, body, jsep: null, ...this.homeOf(session.handleId), media: true, remote: { jsep: remote.jsep, update: remote.update } });
      remote.merged = r.jsep;
      return r.result;
    } catch (err) {
      remote.refused = err;
      return { kind: 'error', reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Where the handle's PeerConnection is, for a plugin that answers on its data channel from another worker. */
  private homeOf(handleId: number): { home?: number } {
    const w = this.pool.boundWorker(handleId);
    return this.crossWorker && w !== undefined && w.hasMedia(handleId) ? { home: w.index } : {};
  }

  async handleMessage(session: PluginSession, transaction: string, body: Data, jsep: Jsep | null): Promise<PluginResult> {
    const route = routeOf(this.package, body);
    switch (route.kind) {
      case 'all': {
        if (this.workers.length === 1) return this.send(this.workers[0]!, session, transaction, body, jsep);
        const results = await Promise.all(this.workers.map((w) => this.send(w, session, transaction, body, jsep)));
        const failed = results.find((r) => r.kind !== 'ok');
        if (failed) return failed;
        return { kind: 'ok', data: mergeLists(results.map((r) => (r as { data: Data }).data)) };
      }
      case 'create': {
        const w = (route.room !== null ? this.rooms.get(route.room) : undefined) ?? this.pick();
        const res = await this.send(w, session, transaction, body, jsep);
        if (res.kind === 'ok') this.track(res.data, w);
        return res;
      }
      case 'room': {
        let rw = this.rooms.get(route.room);
        if (route.bind && movesAcross(this.package) && String(body.request).toLowerCase() === 'changeroom') return this.changeRoom(session, transaction, body, jsep, rw);
        // A room nobody has: any worker answers "no such room" as Janus would.
        if (!rw) return this.send(this.pool.boundWorker(session.handleId) ?? this.pick(), session, transaction, body, jsep);
        // A participant whose room is on another worker than its PeerConnection: that worker answers (already in a room).
        const away = route.bind && movesAcross(this.package) ? this.awayWorker(session.handleId) : undefined;
        if (away) return this.send(away, session, transaction, body, jsep);
        if (route.bind && movesAcross(this.package)) await this.forgetIdle(session.handleId, rw);
        const own = this.remoteSubs.get(session.handleId);
        if (own && !route.bind && SUBSCRIBER_REQUESTS.has(String(body.request).toLowerCase())) {
          // A subscriber on another worker than its room's: its requests (janus.js adds `room`) are its worker's.
          if (body.request === 'leave') {
            this.joined.delete(session.handleId);
            this.remoteSubs.delete(session.handleId);
          }
          return this.send(own, session, transaction, body, jsep);
        }
        if (route.bind && isSubscriberJoin(this.package, body)) {
          const target = this.placing.get(session.handleId) ?? this.subscriberWorker(route.room, rw, session.handleId);
          this.placing.delete(session.handleId);
          if (target !== rw && (await this.ensureMirror(route.room, body.room, rw, target))) {
            const refused = this.bindToRoom(session, target);
            if (refused === null) {
              rw = target;
              this.remoteSubs.set(session.handleId, target);
            } else this.pool.bind(session.handleId, this.pool.boundWorker(session.handleId) ?? rw);
          }
        }
        if (route.bind) {
          const refused = this.bindToRoom(session, rw);
          if (refused !== null) return { kind: 'ok', data: { [this.shortName()]: 'event', error_code: ERROR_UNKNOWN, error: refused } };
        }
        const res = await this.send(rw, session, transaction, body, jsep);
        if (res.kind === 'ok') this.track(res.data, rw);
        // A join answered later (an event) or now: either way the participant, if any, is there.
        if (route.bind && (res.kind === 'wait' || (res.kind === 'ok' && res.data.error_code === undefined))) this.joined.set(session.handleId, rw);
        return res;
      }
      case 'handle': {
        // A participant in a room on another worker than its PeerConnection: its requests go to the
        // room's worker, except hangup (the PeerConnection's).
        const away = this.joined.get(session.handleId);
        const home = this.handleWorker(session);
        const w = away && String(body.request).toLowerCase() !== 'hangup' && movesAcross(this.package) ? away : home;
        if (body.request === 'leave') this.joined.delete(session.handleId);
        return this.send(w, session, transaction, body, jsep);
      }
    }
  }

  async handleAdminMessage(body: Data): Promise<Data> {
    const route = routeOf(this.package, body);
    const admin = (w: MediaWorker) => w.call<Data>({ m: 'handleAdminMessage', p: this.package, body });
    if (route.kind === 'all' && this.workers.length > 1) return mergeLists(await Promise.all(this.workers.map(admin)));
    const w =
      route.kind === 'create'
        ? ((route.room !== null ? this.rooms.get(route.room) : undefined) ?? this.pick())
        : route.kind === 'room'
          ? (this.rooms.get(route.room) ?? this.workers[0]!)
          : this.workers[0]!;
    const data = await admin(w);
    this.track(data, w);
    return data;
  }

  /** Keeps the room map in step with what a worker answered (created, destroyed). */
  private track(data: Data, w: MediaWorker): void {
    if (!this.shared || data.error_code !== undefined) return;
    const kind = data[this.shortName()];
    const room = roomKey(data.room);
    if (room === null) return;
    if (kind === 'created') this.rooms.set(room, w);
    else if (kind === 'destroyed') {
      this.rooms.delete(room);
      for (const key of [...this.mirrors.keys()]) if (splitMirrorKey(key).room === room) this.mirrors.delete(key);
    }
  }

  private shortName(): string {
    return this.package.split('.').pop() ?? this.package;
  }

  async querySession(session: PluginSession): Promise<Data> {
    // A handle that never sent anything is asked where it would go first (its plugin state is the initial one).
    const w = this.pool.boundWorker(session.handleId) ?? this.workers.find((x) => x.knows(session.handleId)) ?? this.pick();
    w.ensureSession(this.package, this, session);
    const info = (await w.call<Data>({ m: 'querySession', handleId: session.handleId })) ?? {};
    // Portunus only (under `portunus`, like the media figures): the media worker the handle (and its PeerConnection) lives on.
    const own = typeof info['portunus'] === 'object' && info['portunus'] !== null ? (info['portunus'] as Data) : {};
    return { ...info, portunus: { ...own, worker: w.index } };
  }

  /** The worker of the room a handle's participant is in, when that is not its PeerConnection's. */
  private awayWorker(handleId: number): MediaWorker | undefined {
    if (!movesAcross(this.package)) return undefined;
    const j = this.joined.get(handleId);
    return j !== undefined && j !== this.pool.boundWorker(handleId) ? j : undefined;
  }

  setupMedia(session: PluginSession): void {
    this.pool.boundWorker(session.handleId)?.notice({ n: 'setupMedia', handleId: session.handleId });
    this.awayWorker(session.handleId)?.notice({ n: 'setupMedia', handleId: session.handleId });
  }

  hangupMedia(session: PluginSession): void {
    const bound = this.pool.boundWorker(session.handleId);
    bound?.notice({ n: 'hangupMedia', handleId: session.handleId });
    // Its memberships in rooms on other workers end too (the others there hear `leave`).
    if (this.crossWorker) for (const w of this.workers) if (w !== bound && w.knows(session.handleId)) w.notice({ n: 'hangupMedia', handleId: session.handleId });
    const away = this.awayWorker(session.handleId);
    if (away) {
      // The participant leaves its room there (others get `leaving`), as it would on one worker.
      away.notice({ n: 'hangupMedia', handleId: session.handleId });
      this.joined.delete(session.handleId);
    }
  }

  /**
   * Before a join on `target`: a handle whose participant on another worker is in no room (it left,
   * was kicked, or its join failed) is free to join anywhere its PeerConnection allows.
   */
  private async forgetIdle(handleId: number, target: MediaWorker): Promise<void> {
    const j = this.joined.get(handleId);
    if (!j || j === target || j.exited) return;
    try {
      const st = await this.bus.call<Data>(j, 'status', { handleId });
      if (st['inRoom'] === false && this.joined.get(handleId) === j) this.joined.delete(handleId);
    } catch {
      /* the worker cannot tell: the usual refusal stands */
    }
  }

  // ------------------------------------------------------------------------------------------ changeroom across workers

  /**
   * `changeroom`: inside the participant's worker as ever; to a room on another worker the participant
   * moves there while its PeerConnection stays (AudioBridge cross-worker.ts): export its state, attach
   * it to the target room, detach it from the old one, point its PeerConnection's worker at the new one.
   */
  private changeRoom(session: PluginSession, transaction: string, body: Data, jsep: Jsep | null, target: MediaWorker | undefined): Promise<PluginResult> {
    const h = session.handleId;
    const cur = this.joined.get(h);
    if (!target || !cur || cur === target || cur.exited) {
      // Nothing to move (or no such room): the participant's worker answers as Janus would.
      return this.send(cur ?? this.pool.boundWorker(h) ?? target ?? this.pick(), session, transaction, body, jsep);
    }
    const run = this.moves.then(() => this.move(session, transaction, body, cur, target));
    this.moves = run.catch(() => undefined);
    return Promise.resolve({ kind: 'wait' });
  }

  private async move(session: PluginSession, transaction: string, body: Data, cur: MediaWorker, target: MediaWorker): Promise<void> {
    const h = session.handleId;
    const reply = (data: Data) => this.host?.pushEvent(session, transaction, data);
    const op = (w: MediaWorker, name: string, args: Data) => this.bus.call<Data>(w, name, { ...args, handleId: h });
    try {
      // The handle may have left or moved while this waited its turn.
      if (this.joined.get(h) !== cur) {
        reply({ [this.shortName()]: 'event', error_code: ERROR_UNKNOWN, error: 'The participant moved meanwhile' });
        return;
      }
      const exported = await op(cur, 'export', { body });
      if (exported.error_code !== undefined) return void reply(exported);
      target.ensureSession(this.package, this, session);
      // The participant's RTP goes from its PeerConnection's worker to the room's, the mix back (ring.ts).
      const home = this.pool.boundWorker(h);
      if (home && home !== target) {
        this.bus.openLane(home, target);
        this.bus.openLane(target, home);
      }
      const attached = await op(target, 'attach', { body, leg: exported.leg });
      if (attached.error_code !== undefined) return void reply(attached);
      this.joined.set(h, target);
      await op(cur, 'detach', { to: target.index });
      if (home && home !== cur && home !== target) await op(home, 'retarget', { to: target.index });
      reply(attached.event as Data);
    } catch (err) {
      reply({ [this.shortName()]: 'event', error_code: ERROR_UNKNOWN, error: err instanceof Error ? err.message : String(err) });
    }
  }

  slowLink(session: PluginSession, info: SlowLinkInfo): void {
    this.pool.boundWorker(session.handleId)?.notice({ n: 'slowLink', handleId: session.handleId, info });
  }

  metrics(): PluginMetrics {
    const sum: PluginMetrics = { rooms: 0, participants: 0 };
    for (const w of this.workers) {
      const m = w.pluginMetrics[this.package];
      if (!m) continue;
      sum.rooms += m.rooms;
      sum.participants += m.participants;
      if (m.mixerLagSeconds !== undefined) sum.mixerLagSeconds = Math.max(sum.mixerLagSeconds ?? 0, m.mixerLagSeconds);
      if (m.mixerFramesSkipped !== undefined) sum.mixerFramesSkipped = (sum.mixerFramesSkipped ?? 0) + m.mixerFramesSkipped;
      if (m.mixerFramesProduced !== undefined) sum.mixerFramesProduced = (sum.mixerFramesProduced ?? 0) + m.mixerFramesProduced;
      if (m.udpPorts !== undefined && m.udpPorts.length > 0) (sum.udpPorts ??= []).push(...m.udpPorts);
    }
    return sum;
  }

  /** Tests: arm fault injection inside the worker threads (see core/fault.ts). */
  injectFault(armed: string | null, target: number | string | null): void {
    for (const w of this.workers) w.notice({ n: 'faultInjection', armed, target });
  }
}

/** The `mirrors` map's key: worker `worker` mirrors room `room` (a room key may itself contain '|'). */
function mirrorKey(room: string, worker: number): string {
  return `${room}|${worker}`;
}

function splitMirrorKey(key: string): { room: string; worker: number } {
  const bar = key.lastIndexOf('|');
  return { room: key.slice(0, bar), worker: Number(key.slice(bar + 1)) };
}

/**
 * The map's string key as the plugin's requests name the room: digits are a numeric id (the map does not
 * keep the id's type, so a `string_ids` room named only by digits is listed as a number).
 */
function roomIdOut(room: string): number | string {
  if (/^[0-9]{1,15}$/.test(room)) return Number(room);
  return room;
}

/** `list` from every worker as one answer: the first answer with every worker's `list` entries. */
function mergeLists(answers: Data[]): Data {
  const first = answers[0] ?? {};
  const failed = answers.find((a) => a.error_code !== undefined);
  if (failed) return failed;
  const list: unknown[] = [];
  for (const a of answers) if (Array.isArray(a.list)) list.push(...(a.list as unknown[]));
  return { ...first, list };
}
