/**
 * A Portunus node in a cluster (janus.jcfg `cluster`, README "Cluster"): two Redis connections (one for
 * commands, one subscribed to the cluster's channels), the node registry (registry.ts), VideoRoom rooms
 * shared by every node (rooms.ts), and the control channel (rpc.ts).
 *
 * Redis going away never stops the node: ioredis reconnects on its own; meanwhile commands fail at once
 * (no offline queue), local rooms keep working and cluster-wide changes are refused (rooms.ts). When
 * Redis is back the node registers again and resyncs its rooms: if Redis kept its data, the stored rooms
 * win; if it lost them (a new epoch, store.ts), the nodes publish theirs again.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { JanusCluster } from '../config/types.js';
import type { Plugin, PluginHost, PluginResult } from '../core/plugin.js';
import type { Logger } from '../log.js';
import { leastLoaded, type NodeLoad, type NodeRecord } from './nodes.js';
import { Registry } from './registry.js';
import { ClusterRooms } from './rooms.js';
import { Cascade } from './cascade.js';
import { ParticipantIds } from './participant-ids.js';
import { ControlChannel } from './rpc.js';
import { ClusterStore, parseEvent } from './store.js';
import { mergeListCounts, mergeParticipants } from './gather.js';
import { roomKey } from '../workers/placement.js';

type Data = Record<string, unknown>;

/** How often every stored room is compared with the local ones, besides the change events. */
const FULL_SYNC_MS = 30_000;
/** How long `list`/`listparticipants` wait for the other nodes' parts. */
const GATHER_TIMEOUT_MS = 1000;
/** Plugins whose rooms are shared (TextRoom and AudioBridge are not yet: README "Cluster"). */
export const CLUSTERED_PLUGINS = ['janus.plugin.videoroom'];

export interface ClusterOptions {
  config: JanusCluster;
  log: Logger;
  version: string;
  /** The address other nodes send RTP to (config public_ip, else resolved by main). */
  publicIp: string | null;
  load(): NodeLoad;
  /** The admin_key of each clustered plugin's jcfg (its `create` needs it). */
  adminKeys: Record<string, string | null>;
}

export interface ClusterStatus {
  node: string;
  instance: string;
  redis_up: boolean;
  epoch: string | null;
  nodes: NodeRecord[];
  rooms: Record<string, number>;
  stats: Record<string, Record<string, number>>;
  /** Per plugin: links from this node's publishers, remote publishers from other nodes, counters. */
  cascade: Record<string, Record<string, unknown>>;
  /** Per plugin: participant id claims (participant-ids.ts counters). */
  ids: Record<string, Record<string, number>>;
}

export function defaultNodeName(): string {
  return `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 48)}-${process.pid}`;
}

export class Cluster {
  readonly name: string;
  readonly instance = randomBytes(6).toString('hex');
  readonly startedAt = Date.now();
  readonly store: ClusterStore;
  readonly registry: Registry;
  readonly rpc: ControlChannel;
  readonly rooms = new Map<string, ClusterRooms>();
  /** Per clustered plugin: its rooms stitched across nodes (cascade.ts). */
  readonly cascades = new Map<string, Cascade>();
  /** Per clustered plugin: participant ids claimed cluster-wide (participant-ids.ts). */
  readonly pids = new Map<string, ParticipantIds>();
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly log: Logger;
  private epoch: string | null = null;
  private wasUp = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastErrorLog = 0;
  /** The plugins' Admin entry points from before wrap(), for control requests and resyncs. */
  private readonly localAdmin = new Map<string, (body: Data) => Promise<Data>>();

  constructor(private readonly o: ClusterOptions) {
    const c = o.config;
    this.name = c.node_name ?? defaultNodeName();
    this.log = o.log;
    const common = {
      connectTimeout: 2000,
      // Keep trying for ever, at most every 2 s: a node outlives its Redis.
      retryStrategy: (times: number) => Math.min(100 * times, 2000),
      lazyConnect: true,
    };
    // Commands fail at once while Redis is away (the callers refuse or fall back), never queue.
    this.cmd = new Redis(c.redis ?? 'redis://127.0.0.1:6379', { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
    this.sub = new Redis(c.redis ?? 'redis://127.0.0.1:6379', { ...common, maxRetriesPerRequest: null });
    this.store = new ClusterStore(this.cmd, c.prefix);
    this.rpc = new ControlChannel(this.name, { publish: (ch, text) => this.cmd.publish(ch, text), channelOf: (n) => this.store.rpcChannel(n) });
    this.registry = new Registry({
      store: this.store,
      log: this.log,
      record: () => this.record(),
      heartbeatMs: c.heartbeat_ms,
      ttlMs: c.node_ttl_ms,
      up: () => this.up,
      onChange: (c) => {
        for (const x of this.cascades.values()) x.onNodes(c);
      },
    });
    this.rpc.handle('ping', async () => ({ node: this.name, instance: this.instance }));
    this.rpc.handle('plugin_admin', async (args) => {
      const run = typeof args.plugin === 'string' ? this.localAdmin.get(args.plugin) : undefined;
      if (!run) throw new Error(`plugin ${String(args.plugin)} is not clustered here`);
      if (typeof args.body !== 'object' || args.body === null) throw new Error('no body');
      return run(args.body as Data);
    });
    const cascadeOf = (args: Data): Cascade => {
      const c = typeof args.plugin === 'string' ? this.cascades.get(args.plugin) : undefined;
      if (!c) throw new Error(`plugin ${String(args.plugin)} is not clustered here`);
      return c;
    };
    this.rpc.handle('cascade_attach', (args, from) => cascadeOf(args).onAttach(from, args));
    this.rpc.handle('cascade_detach', (args, from) => cascadeOf(args).onDetach(from, args));
    this.rpc.handle('cascade_want', (args, from) => cascadeOf(args).onWant(from, args));
    this.rpc.handle('pid_check', (args) => {
      const p = typeof args.plugin === 'string' ? this.pids.get(args.plugin) : undefined;
      if (!p) throw new Error(`plugin ${String(args.plugin)} is not clustered here`);
      return p.onCheck(args);
    });
  }

  /**
   * Connected, and the dataset checked (epoch, republish): only then may Redis's answers be trusted as
   * the cluster's state (an empty Redis just back would otherwise read as "every room was destroyed").
   */
  get up(): boolean {
    return this.live && this.cmd.status === 'ready' && !this.stopped;
  }

  /** This node's registry record as of now. */
  record(): NodeRecord {
    const c = this.o.config;
    return {
      name: this.name,
      instance: this.instance,
      version: this.o.version,
      started_at: this.startedAt,
      public_ip: this.o.publicIp,
      api_url: c.api_url,
      control: this.store.rpcChannel(this.name),
      heartbeat_ms: c.heartbeat_ms,
      ttl_ms: c.node_ttl_ms,
      load: this.o.load(),
    };
  }

  /**
   * Shares `plugin`'s rooms through the cluster: its `handleMessage` and `handleAdminMessage` are
   * replaced on the instance by ones that go through ClusterRooms first (the core calls them by name;
   * media hooks and everything else are untouched, so the packet path costs nothing more).
   */
  wrap(plugin: Plugin): void {
    if (!CLUSTERED_PLUGINS.includes(plugin.package) || !plugin.handleAdminMessage) return;
    const adminFn = plugin.handleAdminMessage.bind(plugin);
    const admin = async (body: Data): Promise<Data> => adminFn(body);
    const message = plugin.handleMessage.bind(plugin);
    this.localAdmin.set(plugin.package, admin);
    const rooms = new ClusterRooms({
      plugin: plugin.package,
      store: this.store,
      me: this.name,
      adminKey: this.o.adminKeys[plugin.package] ?? null,
      log: this.log,
      admin,
      up: () => this.up,
      home: () => leastLoaded(this.registry.view.list())?.name ?? this.name,
    });
    this.rooms.set(plugin.package, rooms);
    const cascade = new Cascade({
      plugin: plugin.package,
      me: this.name,
      store: this.store,
      log: this.log,
      admin,
      call: (node, op, args, timeoutMs) => this.rpc.call(node, op, args, timeoutMs),
      nodes: () => this.registry.view.list(),
      roomIdOf: (key) => rooms.applied.get(key)?.room,
      roomKeys: () => rooms.applied.keys(),
      up: () => this.up,
    });
    this.cascades.set(plugin.package, cascade);
    const pids = new ParticipantIds({
      plugin: plugin.package,
      me: this.name,
      instance: this.instance,
      store: this.store,
      log: this.log,
      up: () => this.up,
      admin,
      call: (node, op, args, timeoutMs) => this.rpc.call(node, op, args, timeoutMs),
      nodes: () => this.registry.view.list(),
    });
    this.pids.set(plugin.package, pids);
    // The plugin's events (those event handlers get) tell the cascade when a room changed here: they are
    // switched on for it whether or not an event handler listens, and passed on to the handlers as before.
    // A participant leaving here releases its id; a room destroyed, all of its ids.
    const onEvent = (data: Data): void => {
      cascade.onPluginEvent(data);
      const key = roomKey(data.room);
      if (key === null) return;
      if (data.event === 'destroyed') pids.dropRoom(key);
      else if ((data.event === 'leaving' || data.event === 'kicked') && data.id !== undefined && rooms.applied.has(key)) pids.release(key, data.id);
    };
    let host: PluginHost | null = null;
    const init = plugin.init.bind(plugin);
    plugin.init = (ctx) => {
      host = ctx.host;
      return init({ ...ctx, host: tapEvents(ctx.host, onEvent) });
    };
    const handle = async (body: Data, run: (b: Data) => Promise<PluginResult>): Promise<PluginResult> => {
      const res = await rooms.intercept(body, run);
      const request = typeof body.request === 'string' ? body.request.toLowerCase() : '';
      if (res.kind !== 'ok' || (request !== 'list' && request !== 'listparticipants')) return res;
      return { kind: 'ok', data: await this.gather(plugin.package, request, body, res.data, rooms) };
    };
    plugin.handleMessage = (session, transaction, body, jsep) =>
      handle(body, async (b) => {
        const key = roomKey(b.room);
        const request = typeof b.request === 'string' ? b.request.toLowerCase() : '';
        const joining = key !== null && (request === 'join' || request === 'joinandconfigure');
        // A publisher's id is claimed cluster-wide first (drawn here when the client left it to us).
        const ptype = b.ptype ?? (request === 'joinandconfigure' ? 'publisher' : undefined);
        const room = key !== null ? rooms.applied.get(key)?.room : undefined;
        if (joining && key !== null && ptype === 'publisher' && room !== undefined) {
          const c = await pids.claim(key, room, b);
          if (!c.ok) {
            // Answered as VideoRoom answers a join: ack now, the error as the request's event.
            const h = host;
            setImmediate(() => h?.pushEvent(session, transaction, { videoroom: 'event', error_code: c.code, error: c.error }));
            return { kind: 'wait' };
          }
          b = c.body;
        }
        // A join here of a room whose publishers are elsewhere: they are brought here first.
        if (joining && key !== null) await cascade.prepare(key);
        const res = await message(session, transaction, b, jsep);
        if (key !== null && rooms.applied.has(key)) void cascade.schedule(key);
        return res;
      });
    plugin.handleAdminMessage = async (body) => {
      const res = await handle(body, async (b) => ({ kind: 'ok', data: await admin(b) }) as PluginResult);
      return res.kind === 'ok' ? res.data : { error_code: 499, error: res.kind === 'error' ? res.reason : 'no answer' };
    };
  }

  /**
   * Runs a plugin Admin request on another node (its answer, or a rejection after `timeoutMs`). The seam
   * for issue 17 step 3: ask the publisher's node for `publish_remotely` towards this node's
   * `public_ip`, after `add_remote_publisher` here; a node's address and liveness are in
   * `registry.view`, a room's home in its record (`rooms.get(pkg).applied`).
   */
  pluginAdminOn(node: string, plugin: string, body: Data, timeoutMs = 3000): Promise<Data> {
    return this.rpc.call(node, 'plugin_admin', { plugin, body }, timeoutMs).then((v) => (typeof v === 'object' && v !== null ? (v as Data) : {}));
  }

  /**
   * `list` and `listparticipants` of a cluster room: the other nodes' parts added (gather.ts). A node
   * that does not answer within GATHER_TIMEOUT_MS is left out (logged); without Redis only this node's
   * part is given.
   */
  private async gather(pkg: string, request: string, body: Data, local: Data, rooms: ClusterRooms): Promise<Data> {
    if (local.error_code !== undefined || !this.up) return local;
    if (request === 'listparticipants' && !rooms.applied.has(String(roomKey(body.room)))) return local;
    const others = this.registry.view.list().filter((n) => n.name !== this.name);
    if (others.length === 0) return local;
    const answers = await Promise.all(
      others.map((n) =>
        this.rpc.call(n.name, 'plugin_admin', { plugin: pkg, body }, GATHER_TIMEOUT_MS).then(
          (v) => (typeof v === 'object' && v !== null ? (v as Data) : null),
          (err: unknown) => {
            this.log.warn(`cluster: ${request} without node ${n.name}: ${String(err)}`);
            return null;
          },
        ),
      ),
    );
    const got = answers.filter((a): a is Data => a !== null);
    return request === 'list' ? mergeListCounts(local, got, (k) => rooms.applied.has(k)) : mergeParticipants(local, got);
  }

  async start(): Promise<void> {
    for (const r of [this.cmd, this.sub]) {
      r.on('error', (err: Error) => {
        // ioredis reports every failed reconnect: log the first of each 30 s.
        const now = Date.now();
        if (now - this.lastErrorLog < 30_000) return;
        this.lastErrorLog = now;
        this.log.warn(`cluster: Redis: ${err.message}`);
      });
    }
    this.cmd.on('ready', () => {
      this.upTask = this.onUp();
    });
    this.cmd.on('close', () => this.onDown());
    this.sub.on('message', (channel: string, text: string) => this.onMessage(channel, text));
    // The subscriber re-subscribes by itself after a reconnect; whatever it missed, a full pass catches.
    this.sub.on('ready', () => {
      if (this.wasUp) void this.syncRooms();
    });
    void this.sub.connect().catch(() => undefined);
    void this.sub.subscribe(this.store.eventsChannel, this.store.rpcChannel(this.name)).catch((err: unknown) => this.log.warn(`cluster: subscribe failed: ${String(err)}`));
    this.registry.start();
    for (const c of this.cascades.values()) c.start();
    this.syncTimer = setInterval(() => void this.syncRooms(), FULL_SYNC_MS);
    this.syncTimer.unref();
    try {
      await this.cmd.connect();
      // The first registration and room sync, before the node serves anyone (bounded: Redis may be slow).
      await Promise.race([this.upTask, new Promise((r) => setTimeout(r, 5000).unref())]);
    } catch (err) {
      this.log.warn(`cluster: Redis unreachable at start (${this.o.config.redis}): serving local rooms; joining the cluster when it answers`, { err: String(err) });
    }
    this.log.info('cluster', { node: this.name, redis: redactUrl(this.o.config.redis ?? ''), public_ip: this.o.publicIp, api_url: this.o.config.api_url, heartbeat_ms: this.o.config.heartbeat_ms, node_ttl_ms: this.o.config.node_ttl_ms });
  }

  private async onUp(): Promise<void> {
    if (this.stopped) return;
    try {
      const epoch = await this.store.epoch();
      const lost = this.epoch !== null && epoch !== this.epoch;
      this.epoch = epoch;
      if (lost) for (const r of this.rooms.values()) await r.republish();
      this.log.info(`cluster: Redis ${this.wasUp ? 'is back' : 'connected'}; registering node ${this.name}`);
      this.wasUp = true;
      this.live = true;
      this.downLogged = false;
      await this.registry.beat();
      await this.store.publish({ t: 'hello', node: this.name });
      await this.syncRooms();
      for (const [pkg, c] of this.cascades) {
        await c.resync();
        await this.pids.get(pkg)?.reclaim(c.local);
      }
    } catch (err) {
      this.log.warn(`cluster: could not register: ${String(err)}`);
    }
  }

  private onDown(): void {
    this.live = false;
    if (!this.wasUp || this.stopped || this.downLogged) return;
    this.downLogged = true;
    this.log.error('cluster: Redis connection lost: local rooms keep working; room create/destroy/edit refused (error 499) until it is back');
  }

  private downLogged = false;
  private live = false;
  private upTask: Promise<void> = Promise.resolve();

  private async syncRooms(): Promise<void> {
    if (!this.up) return;
    for (const r of this.rooms.values()) {
      await r.fullSync().catch((err: unknown) => this.log.warn(`cluster: room sync failed: ${String(err)}`));
    }
  }

  private onMessage(channel: string, text: string): void {
    if (channel === this.store.rpcChannel(this.name)) {
      this.rpc.onMessage(text);
      return;
    }
    const ev = parseEvent(text);
    if (ev === null) return;
    if (ev.t === 'room') this.rooms.get(ev.plugin)?.onRoomEvent(ev.key, ev.from);
    else if (ev.t === 'bye') this.registry.left(ev.node);
    else if (ev.t === 'hello' && ev.node !== this.name) void this.registry.refresh().catch(() => undefined);
    else if (ev.t === 'presence') this.cascades.get(ev.plugin)?.onPresence(ev.node, ev.key, ev.p);
    else if (ev.t === 'vr' && typeof ev.event === 'object' && ev.event !== null && !Array.isArray(ev.event)) this.cascades.get(ev.plugin)?.onRelay(ev.node, ev.key, ev.event as Data);
  }

  status(): ClusterStatus {
    const rooms: Record<string, number> = {};
    const stats: Record<string, Record<string, number>> = {};
    for (const [pkg, r] of this.rooms) {
      rooms[pkg] = r.applied.size;
      stats[pkg] = { ...r.stats };
    }
    const cascade: Record<string, Record<string, unknown>> = {};
    for (const [pkg, c] of this.cascades) cascade[pkg] = c.status();
    const ids: Record<string, Record<string, number>> = {};
    for (const [pkg, p] of this.pids) ids[pkg] = { ...p.stats };
    return { node: this.name, instance: this.instance, redis_up: this.up, epoch: this.epoch, nodes: this.registry.view.list(), rooms, stats, cascade, ids };
  }

  /** Leaves the cluster: record removed, `bye` said, connections closed. Rooms stay stored. */
  async stop(): Promise<void> {
    if (this.syncTimer) clearInterval(this.syncTimer);
    for (const c of this.cascades.values()) c.stop();
    await this.registry.stop();
    if (this.up) await this.store.publish({ t: 'bye', node: this.name }).catch(() => undefined);
    this.stopped = true;
    this.rpc.close();
    this.cmd.disconnect();
    this.sub.disconnect();
  }
}

/**
 * The host a clustered plugin is given: its events always on (even with the plugin's own `events = false`,
 * then marked internal), each one shown to `tap` first, then to the event handlers when they listen and
 * the event is not internal. A Proxy (not a copy): the core may replace host members later.
 */
function tapEvents(host: PluginHost, tap: (data: Data) => void): PluginHost {
  const notifyEvent: PluginHost['notifyEvent'] = (session, data, internal) => {
    try {
      tap(data);
    } catch {
      /* the cascade never breaks the plugin */
    }
    if (internal !== true && (host.eventsEnabled?.() ?? false)) host.notifyEvent?.(session, data);
  };
  const yes = (): boolean => true;
  return new Proxy(host, {
    get(target, key, receiver) {
      if (key === 'notifyEvent') return notifyEvent;
      if (key === 'eventsEnabled' || key === 'observesEvents') return yes;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

/** A Redis URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
