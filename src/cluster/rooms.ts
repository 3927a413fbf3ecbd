/**
 * Rooms across the cluster, for one plugin (VideoRoom): definitions created, edited and destroyed
 * through the API are stored in Redis (store.ts) and every node builds and keeps the same room locally,
 * through its own plugin's Admin requests (room-definition.ts reconcileOps). So `list`, `exists`,
 * `allowed`, `edit`, `destroy` and `create`'s errors answer the same on every node, and a room created
 * on one node can be joined on any other.
 *
 * When a node learns of a change: at once through the `events` channel, before any request that names a
 * room (the record is read and the local room brought up to date first), and by a full pass over the
 * stored rooms every 30 s and whenever Redis comes back.
 *
 * Rooms from the plugin's jcfg stay each node's own (every node is expected to have the same file).
 *
 * Without Redis: rooms already here keep working (joins, media, everything local); what would change
 * the cluster's rooms (`create`, and `edit`/`allowed`/`enable_recording`/`destroy` of a cluster room) is
 * refused with error 499 (the plugin's "unknown error") saying the cluster store is unreachable.
 */
import type { PluginResult } from '../core/plugin.js';
import type { Logger } from '../log.js';
import { roomKey } from '../workers/placement.js';
import { applyRequest, definitionFromCreate, DEFINITION_CHANGES, equalDefinitions, reconcileOps } from './room-definition.js';
import type { ClusterStore, RoomRecord } from './store.js';

type Data = Record<string, unknown>;
/** The plugin's Admin entry point as it was before the cluster wrapped it (never intercepted again). */
export type AdminRunner = (body: Data) => Promise<Data>;

/** The plugin's "unknown error" (VideoRoom 499, like Janus's for failures outside the request's fault). */
export const CLUSTER_UNAVAILABLE = 499;
const ROOM_EXISTS = 427;
const NO_SUCH_ROOM = 426;
/** Longest a request waits for the room's record before it goes ahead with what this node has. */
const FRESH_TIMEOUT_MS = 1500;

export interface ClusterRoomsOptions {
  plugin: string;
  store: ClusterStore;
  me: string;
  adminKey: string | null;
  log: Logger;
  admin: AdminRunner;
  up(): boolean;
  home(): string;
}

function requestOf(body: Data): string {
  return typeof body.request === 'string' ? body.request.toLowerCase() : '';
}

function okData(res: PluginResult): Data | null {
  return res.kind === 'ok' && res.data.error_code === undefined ? res.data : null;
}

export class ClusterRooms {
  /** room key -> the record this node's local room was last brought to. */
  readonly applied = new Map<string, RoomRecord>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly short: string;
  /** Counters for cluster_info and the tests. */
  readonly stats = { created: 0, destroyed: 0, changed: 0, reconciled: 0, refused: 0 };

  constructor(private readonly o: ClusterRoomsOptions) {
    this.short = o.plugin.split('.').pop() ?? o.plugin;
  }

  private error(code: number, text: string): PluginResult {
    return { kind: 'ok', data: { [this.short]: 'event', error_code: code, error: text } };
  }

  private unavailable(what: string): PluginResult {
    this.stats.refused++;
    this.o.log.warn(`cluster: ${what} refused: Redis is unreachable`);
    return this.error(CLUSTER_UNAVAILABLE, `Cluster store unreachable (Redis down): ${what} refused, try again later`);
  }

  /** Runs `fn` after every earlier task on the same room (one change of a room at a time on this node). */
  private withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }

  /**
   * A plugin request, before the plugin sees it (`run` is the plugin's own handling: a handle message or
   * an Admin message).
   */
  async intercept(body: Data, run: (body: Data) => Promise<PluginResult>): Promise<PluginResult> {
    const request = requestOf(body);
    if (request === 'create') return this.create(body, run);
    const key = roomKey(body.room);
    if (key === null) return run(body);
    if (request === 'destroy' || DEFINITION_CHANGES.has(request)) return this.change(request, key, body, run);
    // Anything else naming a room (join, exists, listparticipants, ...): this node's room is brought up
    // to the stored definition first, so a room created elsewhere exists here before the plugin looks.
    await this.fresh(key);
    return run(body);
  }

  private async create(body: Data, run: (body: Data) => Promise<PluginResult>): Promise<PluginResult> {
    if (!this.o.up()) return this.unavailable('room create');
    const named = roomKey(body.room);
    // A taken id: its room is built here first, so the plugin refuses it with its own 427.
    if (named !== null) await this.fresh(named);
    const res = await run(body);
    const data = okData(res);
    if (data === null) return res;
    const key = roomKey(data.room);
    if (key === null) return res;
    const room = data.room as string | number;
    const def = definitionFromCreate(body);
    const rec: RoomRecord = { room, def, version: 1, home: this.o.home(), origin: this.o.me, created_at: Date.now() };
    return this.withLock(key, async () => {
      let claimed: boolean | null;
      try {
        claimed = await this.o.store.claimRoom(this.o.plugin, key, rec);
      } catch (err) {
        this.o.log.warn(`cluster: could not record room ${key}: ${String(err)}`);
        claimed = null;
      }
      if (claimed) {
        this.applied.set(key, rec);
        this.stats.created++;
        this.o.log.info(`cluster: room ${key} created here, home ${rec.home}`);
        this.announce(key);
        return res;
      }
      // Another node took the id first (or Redis went away): undo the local room.
      const secret = typeof def.params.secret === 'string' && def.params.secret !== '' ? { secret: def.params.secret } : {};
      await this.o.admin({ request: 'destroy', room, ...secret, permanent: body.permanent === true }).catch(() => undefined);
      // (A change event about the winner may have been applied meanwhile and taken our room for its.)
      this.applied.delete(key);
      if (claimed === false) {
        await this.freshLocked(key);
        return this.error(ROOM_EXISTS, `Room ${key} already exists`);
      }
      return this.unavailable('room create');
    });
  }

  private change(request: string, key: string, body: Data, run: (body: Data) => Promise<PluginResult>): Promise<PluginResult> {
    return this.withLock(key, async () => {
      await this.freshLocked(key);
      const entry = this.applied.get(key);
      // Not a cluster room (a jcfg room, or no such room): this node's business only, as ever.
      if (!entry) return run(body);
      if (!this.o.up()) return this.unavailable(`${request} of room ${key}`);
      const res = await run(body);
      if (okData(res) === null) return res;
      try {
        if (request === 'destroy') {
          this.applied.delete(key);
          await this.o.store.deleteRoom(this.o.plugin, key);
          this.stats.destroyed++;
        } else {
          await this.storeChange(key, request, body);
          this.stats.changed++;
        }
        this.announce(key);
      } catch (err) {
        this.o.log.error(`cluster: ${request} of room ${key} done here but not stored (Redis): ${String(err)}`);
      }
      return res;
    });
  }

  /** Applies a change to the stored record (compare-and-set on its version, a few tries). */
  private async storeChange(key: string, request: string, body: Data): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.o.store.getRoom(this.o.plugin, key);
      if (cur === null) return;
      const next: RoomRecord = { ...cur, def: applyRequest(cur.def, request, body), version: cur.version + 1 };
      const r = await this.o.store.updateRoom(this.o.plugin, key, cur.version, next);
      if (r === 1) {
        this.applied.set(key, next);
        return;
      }
      if (r === -1) return;
    }
    throw new Error('the record kept changing');
  }

  private announce(key: string): void {
    this.o.store.publish({ t: 'room', plugin: this.o.plugin, key, from: this.o.me }).catch((err: unknown) => this.o.log.warn(`cluster: could not announce room ${key}: ${String(err)}`));
  }

  /** Brings this node's room `key` to its stored record (no-op without Redis or past FRESH_TIMEOUT_MS). */
  fresh(key: string): Promise<void> {
    if (!this.o.up()) return Promise.resolve();
    return this.withLock(key, () => this.freshLocked(key));
  }

  private async freshLocked(key: string): Promise<void> {
    if (!this.o.up()) return;
    let rec: RoomRecord | null;
    try {
      rec = await withTimeout(this.o.store.getRoom(this.o.plugin, key), FRESH_TIMEOUT_MS);
    } catch {
      return;
    }
    await this.reconcileTo(key, rec);
  }

  /** An `events` message about a room: another node changed it. */
  onRoomEvent(key: string, from: string): void {
    if (from === this.o.me) return;
    void this.fresh(key).catch((err: unknown) => this.o.log.warn(`cluster: room ${key} sync failed: ${String(err)}`));
  }

  /**
   * Redis lost its data (a new epoch): this node's rooms are stored again, before anything reads them
   * (the first node to republish a room wins; the others converge on its record in fullSync).
   */
  async republish(): Promise<void> {
    for (const [key, rec] of this.applied) await this.o.store.claimRoom(this.o.plugin, key, rec);
    if (this.applied.size > 0) this.o.log.info(`cluster: Redis lost its data; republished ${this.applied.size} room(s) of ${this.o.plugin}`);
  }

  /** Every stored room brought here, and every cluster room gone from Redis destroyed here. */
  async fullSync(): Promise<void> {
    const all = await this.o.store.allRooms(this.o.plugin);
    const keys = new Set([...all.keys(), ...this.applied.keys()]);
    for (const key of keys) {
      await this.withLock(key, () => this.reconcileTo(key, all.get(key) ?? null)).catch((err: unknown) => this.o.log.warn(`cluster: room ${key} sync failed: ${String(err)}`));
    }
  }

  private async reconcileTo(key: string, rec: RoomRecord | null): Promise<void> {
    const cur = this.applied.get(key) ?? null;
    if (rec === null && cur === null) return;
    if (rec !== null && cur !== null && cur.version === rec.version && equalDefinitions(cur.def, rec.def)) {
      this.applied.set(key, rec);
      return;
    }
    const room = rec?.room ?? cur!.room;
    const plan = reconcileOps(room, cur?.def ?? null, rec?.def ?? null, this.o.adminKey);
    if (plan.unchangeable.length > 0) this.o.log.warn(`cluster: room ${key}: ${plan.unchangeable.join(', ')} differ from the stored definition and cannot be edited; kept as they are here`);
    for (const op of plan.ops) {
      const data = await this.o.admin(op);
      const code = data.error_code;
      if (code === undefined) continue;
      // A jcfg (or permanent) room with this id already here: it stands for the stored one.
      if (op.request === 'create' && code === ROOM_EXISTS) {
        this.o.log.warn(`cluster: room ${key} exists here already (jcfg?); it stands for the cluster's room`);
        continue;
      }
      if (op.request === 'destroy' && code === NO_SUCH_ROOM) continue;
      this.o.log.warn(`cluster: room ${key}: ${String(op.request)} failed here: ${String(data.error)} (${String(code)})`);
      if (op.request === 'create') return; // nothing to track
    }
    this.stats.reconciled++;
    if (rec === null) this.applied.delete(key);
    else this.applied.set(key, rec);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
