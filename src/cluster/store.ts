/**
 * Everything the cluster keeps in Redis, and the only module that knows the key names.
 *
 *   <prefix>:epoch                 random id set once per Redis dataset: a new one means Redis lost its
 *                                  data (restarted without persistence), so nodes publish their rooms again
 *   <prefix>:nodes                 set of node names (registry.ts)
 *   <prefix>:node:<name>           the node's record (JSON, nodes.ts), expires after node_ttl_ms
 *   <prefix>:rooms:<plugin>        hash room id -> room record (JSON: definition, version, home node)
 *   <prefix>:presence:<plugin>:<node>  hash room id -> what the node has in the room (cascade.ts Presence:
 *                                  members, publisher ids); rewritten when it changes, cleared at start
 *   <prefix>:pids:<plugin>:<room>  hash participant id -> "<node>\n<instance>" that claimed it
 *                                  (participant-ids.ts); deleted with the room
 *   <prefix>:events                channel: room changed, node hello/bye, presence changed, room events
 *   <prefix>:rpc:<name>            channel: control requests for that node, and its replies (rpc.ts)
 *
 * Room ids are unique cluster-wide because a room is claimed with HSETNX before it is announced.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { parseDefinition, type Json, type RoomDefinition } from './room-definition.js';

export interface RoomRecord {
  /** The room id as the API gives it (number, or string with string_ids). */
  room: string | number;
  def: RoomDefinition;
  /** Bumped by every change of the definition (compare-and-set in update()). */
  version: number;
  /** The node chosen at creation (least loaded then): where step 3 will anchor the room's media. */
  home: string;
  /** The node the `create` came through. */
  origin: string;
  created_at: number;
}

export type ClusterEvent =
  | { t: 'room'; plugin: string; key: string; from: string }
  | { t: 'hello'; node: string }
  | { t: 'bye'; node: string }
  /** A node's part of a room changed (cascade.ts): `p` is its Presence, null when it has nothing there. */
  | { t: 'presence'; plugin: string; key: string; node: string; p: Json }
  /** Something happened in a room on `node` that participants elsewhere must hear (cascade.ts relay). */
  | { t: 'vr'; plugin: string; key: string; node: string; event: Json };

/** Compare-and-set on a room record's version (HGET + HSET atomically). -1: gone, 0: changed meanwhile, 1: done. */
const UPDATE_SCRIPT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return -1 end
local ok, obj = pcall(cjson.decode, cur)
if not ok or type(obj) ~= 'table' or obj.version ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

/** HSETNX that answers the holder when it fails. */
const CLAIM_SCRIPT = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then return false end
return redis.call('HGET', KEYS[1], ARGV[1])
`;

/** Compare-and-set of one field (an empty new value deletes it): 1 done, 0 changed meanwhile. */
const SWAP_SCRIPT = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`;

export function parseRoomRecord(text: string | null | undefined): RoomRecord | null {
  if (typeof text !== 'string') return null;
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null) return null;
  const r = o as Record<string, unknown>;
  const def = parseDefinition(r.def);
  if (def === null || (typeof r.room !== 'number' && typeof r.room !== 'string') || typeof r.version !== 'number') return null;
  return {
    room: r.room,
    def,
    version: r.version,
    home: typeof r.home === 'string' ? r.home : '',
    origin: typeof r.origin === 'string' ? r.origin : '',
    created_at: typeof r.created_at === 'number' ? r.created_at : 0,
  };
}

export function parseEvent(text: string): ClusterEvent | null {
  try {
    const o = JSON.parse(text) as Record<string, Json>;
    if (o.t === 'room' && typeof o.plugin === 'string' && typeof o.key === 'string' && typeof o.from === 'string') return { t: 'room', plugin: o.plugin, key: o.key, from: o.from };
    if ((o.t === 'hello' || o.t === 'bye') && typeof o.node === 'string') return { t: o.t, node: o.node };
    if (o.t === 'presence' && typeof o.plugin === 'string' && typeof o.key === 'string' && typeof o.node === 'string') return { t: 'presence', plugin: o.plugin, key: o.key, node: o.node, p: o.p ?? null };
    if (o.t === 'vr' && typeof o.plugin === 'string' && typeof o.key === 'string' && typeof o.node === 'string' && typeof o.event === 'object' && o.event !== null) return { t: 'vr', plugin: o.plugin, key: o.key, node: o.node, event: o.event };
  } catch {
    /* not ours */
  }
  return null;
}

export class ClusterStore {
  readonly eventsChannel: string;

  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
  ) {
    this.eventsChannel = `${prefix}:events`;
  }

  nodeKey(name: string): string {
    return `${this.prefix}:node:${name}`;
  }

  get nodesKey(): string {
    return `${this.prefix}:nodes`;
  }

  rpcChannel(name: string): string {
    return `${this.prefix}:rpc:${name}`;
  }

  private roomsKey(plugin: string): string {
    return `${this.prefix}:rooms:${plugin}`;
  }

  /** The dataset's epoch (set now if Redis has none: a fresh or emptied Redis). */
  async epoch(): Promise<string> {
    const key = `${this.prefix}:epoch`;
    await this.redis.set(key, randomBytes(8).toString('hex'), 'NX');
    return (await this.redis.get(key)) ?? '';
  }

  // ---------------------------------------------------------------- nodes

  async writeNode(name: string, record: string, ttlMs: number): Promise<void> {
    await this.redis.multi().set(this.nodeKey(name), record, 'PX', ttlMs).sadd(this.nodesKey, name).exec();
  }

  async removeNode(name: string): Promise<void> {
    await this.redis.multi().del(this.nodeKey(name)).srem(this.nodesKey, name).exec();
  }

  /** Every registered node's record text; names whose record expired are dropped from the set. */
  async readNodes(): Promise<Map<string, string>> {
    const names = await this.redis.smembers(this.nodesKey);
    const out = new Map<string, string>();
    if (names.length === 0) return out;
    const texts = await this.redis.mget(names.map((n) => this.nodeKey(n)));
    const expired: string[] = [];
    names.forEach((n, i) => {
      const t = texts[i];
      if (typeof t === 'string') out.set(n, t);
      else expired.push(n);
    });
    if (expired.length > 0) await this.redis.srem(this.nodesKey, ...expired);
    return out;
  }

  // ---------------------------------------------------------------- rooms

  /** Claims `key` for `rec`: false when the id is taken (by any node). */
  async claimRoom(plugin: string, key: string, rec: RoomRecord): Promise<boolean> {
    return (await this.redis.hsetnx(this.roomsKey(plugin), key, JSON.stringify(rec))) === 1;
  }

  async getRoom(plugin: string, key: string): Promise<RoomRecord | null> {
    return parseRoomRecord(await this.redis.hget(this.roomsKey(plugin), key));
  }

  /** Every stored room; entries that do not parse are left out (and logged by the caller if it wants). */
  async allRooms(plugin: string): Promise<Map<string, RoomRecord>> {
    const all = await this.redis.hgetall(this.roomsKey(plugin));
    const out = new Map<string, RoomRecord>();
    for (const [k, v] of Object.entries(all)) {
      const r = parseRoomRecord(v);
      if (r) out.set(k, r);
    }
    return out;
  }

  /** Replaces the record if it still has version `expect`: 1 done, 0 changed meanwhile, -1 gone. */
  async updateRoom(plugin: string, key: string, expect: number, rec: RoomRecord): Promise<number> {
    return Number(await this.redis.eval(UPDATE_SCRIPT, 1, this.roomsKey(plugin), key, String(expect), JSON.stringify(rec)));
  }

  async deleteRoom(plugin: string, key: string): Promise<void> {
    await this.redis.hdel(this.roomsKey(plugin), key);
  }

  // ---------------------------------------------------------------- presence (cascade.ts)

  private presenceKey(plugin: string, node: string): string {
    return `${this.prefix}:presence:${plugin}:${node}`;
  }

  /** This node's part of room `key` (JSON), or null: removed. */
  async writePresence(plugin: string, node: string, key: string, text: string | null): Promise<void> {
    if (text === null) await this.redis.hdel(this.presenceKey(plugin, node), key);
    else await this.redis.hset(this.presenceKey(plugin, node), key, text);
  }

  async readPresence(plugin: string, node: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.presenceKey(plugin, node));
  }

  async clearPresence(plugin: string, node: string): Promise<void> {
    await this.redis.del(this.presenceKey(plugin, node));
  }

  // ---------------------------------------------------------------- participant ids (participant-ids.ts)

  private pidsKey(plugin: string, key: string): string {
    return `${this.prefix}:pids:${plugin}:${key}`;
  }

  /** Claims participant `id` of room `key` for `owner`: null when claimed now, else the current owner. */
  async claimPid(plugin: string, key: string, id: string, owner: string): Promise<string | null> {
    const r = await this.redis.eval(CLAIM_SCRIPT, 1, this.pidsKey(plugin, key), id, owner);
    return typeof r === 'string' ? r : null;
  }

  /** Takes `id` over from `from` (a stale claim) for `owner`; false when it changed meanwhile. */
  async takePid(plugin: string, key: string, id: string, from: string, owner: string): Promise<boolean> {
    return Number(await this.redis.eval(SWAP_SCRIPT, 1, this.pidsKey(plugin, key), id, from, owner)) === 1;
  }

  /** Releases `id` if `owner` still holds it. */
  async releasePid(plugin: string, key: string, id: string, owner: string): Promise<void> {
    await this.redis.eval(SWAP_SCRIPT, 1, this.pidsKey(plugin, key), id, owner, '');
  }

  async dropPids(plugin: string, key: string): Promise<void> {
    await this.redis.del(this.pidsKey(plugin, key));
  }

  async publish(ev: ClusterEvent): Promise<void> {
    await this.redis.publish(this.eventsChannel, JSON.stringify(ev));
  }
}
