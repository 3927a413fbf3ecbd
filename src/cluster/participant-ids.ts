/**
 * Participant ids unique across the cluster (issue 17). A VideoRoom participant's id names it on every
 * node of a cluster room: the cascade adds each publisher to the other nodes as a remote publisher
 * under the same id, so an id taken on two nodes would be refused there (436) and that publisher never
 * seen. VideoRoom only checks its own node, so every `join` of a publisher in a cluster room first
 * claims its id in Redis (a hash per room, store.ts `pids`), whoever chose it:
 *
 * - no id given: this node draws one (53-bit integer, or a UUID with string_ids, as VideoRoom would)
 *   and claims it; the join then runs with that id;
 * - the client chose one: claimed as is; held by this node (an earlier claim): VideoRoom's own check
 *   decides; held by another node: that node is asked whether the participant is there (or a claim of
 *   it is recent: a join on its way); if so the join is refused as VideoRoom refuses a local duplicate
 *   (436 "User ID ... already exists"), if not (a stale claim: a join that failed, a node gone) the
 *   claim is taken over.
 *
 * Why Redis rather than a node-prefixed id space: a prefix would keep drawn ids apart, but not the ids
 * clients choose (Janus's API lets them), and it would cut the 53-bit space each node draws from.
 *
 * A claim is released when the participant leaves (or is kicked) here, and every claim of a room goes
 * with the room. Without Redis the join goes ahead with VideoRoom's local check only (what a single
 * node does), and when Redis is back each node claims its participants' ids again (reclaim); a failed
 * join leaves its claim behind until the room goes, harmlessly (a stale claim is taken over once it is
 * no longer recent). Claims follow the plugin's events (`leaving`, `kicked`, `destroyed`), which the
 * cluster gets even with VideoRoom's `events = false` (then for it alone, not the event handlers).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { random53 } from '../plugins/videoroom/ids.js';
import type { NodeRecord } from './nodes.js';
import type { ClusterStore } from './store.js';

type Data = Record<string, unknown>;

/** VideoRoom's error for an id in use. */
export const ID_EXISTS = 436;
/** A claim this recent counts as a participant on its way (its join is still running). */
const RECENT_MS = 10_000;
const CHECK_TIMEOUT_MS = 1500;

export interface ParticipantIdsOptions {
  plugin: string;
  me: string;
  instance: string;
  store: ClusterStore;
  log: Logger;
  up(): boolean;
  /** This node's plugin Admin entry point (portunus_cluster_state). */
  admin(body: Data): Promise<Data>;
  call(node: string, op: string, args: Data, timeoutMs: number): Promise<unknown>;
  nodes(): readonly NodeRecord[];
}

export type Claim = { ok: true; body: Data } | { ok: false; code: number; error: string };

const isUnset = (v: unknown): boolean => v === undefined || v === null || v === 0 || v === '';

export class ParticipantIds {
  private readonly owner: string;
  /** `${room key}\n${id}` -> when this node claimed it. */
  private readonly recent = new Map<string, number>();
  private stringIds: boolean | null = null;
  readonly stats = { claimed: 0, refused: 0, taken_over: 0, released: 0, unchecked: 0 };

  constructor(private readonly o: ParticipantIdsOptions) {
    this.owner = `${o.me}\n${o.instance}`;
  }

  /**
   * Before a `join`/`joinandconfigure` of a publisher in cluster room `key` (`room`: its API id): the
   * body to run (with the drawn id when none was given), or the error to answer.
   */
  async claim(key: string, room: string | number, body: Data): Promise<Claim> {
    if (!this.o.up()) {
      this.stats.unchecked++;
      return { ok: true, body };
    }
    try {
      if (isUnset(body.id)) {
        const strings = await this.stringMode(room);
        for (let i = 0; i < 8; i++) {
          const id = strings ? randomUUID() : random53();
          if ((await this.o.store.claimPid(this.o.plugin, key, String(id), this.owner)) === null) {
            this.claimed(key, String(id));
            return { ok: true, body: { ...body, id } };
          }
        }
        return { ok: true, body }; // 8 draws all taken: not going to happen; VideoRoom draws
      }
      const id = body.id;
      // A wrong type is VideoRoom's error to give.
      if (!(typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id) && id > 0))) return { ok: true, body };
      const pk = String(id);
      const holder = await this.o.store.claimPid(this.o.plugin, key, pk, this.owner);
      if (holder === null || holder === this.owner) {
        this.claimed(key, pk);
        return { ok: true, body };
      }
      if (await this.heldBy(holder, key, room, id)) {
        this.stats.refused++;
        return { ok: false, code: ID_EXISTS, error: `User ID ${pk} already exists` };
      }
      if (!(await this.o.store.takePid(this.o.plugin, key, pk, holder, this.owner))) {
        this.stats.refused++;
        return { ok: false, code: ID_EXISTS, error: `User ID ${pk} already exists` };
      }
      this.stats.taken_over++;
      this.o.log.verb(`cluster: room ${key}: participant id ${pk} taken over from a stale claim (${holder.split('\n')[0]})`);
      this.claimed(key, pk);
      return { ok: true, body };
    } catch (err) {
      // Redis failed mid-way: VideoRoom's local check only, as without a cluster.
      this.stats.unchecked++;
      this.o.log.verb(`cluster: room ${key}: participant id not claimed: ${String(err)}`);
      return { ok: true, body };
    }
  }

  private claimed(key: string, id: string): void {
    this.stats.claimed++;
    const now = Date.now();
    this.recent.set(`${key}\n${id}`, now);
    if (this.recent.size > 1000) for (const [k, t] of this.recent) if (now - t > RECENT_MS) this.recent.delete(k);
  }

  /** Whether the claim `holder` still stands: its node is alive (same instance) and has the participant or just claimed it. */
  private async heldBy(holder: string, key: string, room: string | number, id: string | number): Promise<boolean> {
    const [node, instance] = holder.split('\n');
    const live = this.o.nodes().find((n) => n.name === node && n.instance === instance);
    if (live === undefined) return false;
    try {
      const r = await this.o.call(live.name, 'pid_check', { plugin: this.o.plugin, key, room, id }, CHECK_TIMEOUT_MS);
      return (r as Data | null)?.present !== false;
    } catch {
      return true; // a live node that does not answer: its claim stands (never two holders)
    }
  }

  /** `pid_check` from another node: is participant `id` of room `key` here (or about to be)? */
  async onCheck(args: Data): Promise<Data> {
    const key = String(args.key);
    const t = this.recent.get(`${key}\n${String(args.id)}`);
    if (t !== undefined && Date.now() - t < RECENT_MS) return { present: true };
    const st = await this.o.admin({ request: 'portunus_cluster_state', room: args.room });
    const present = Array.isArray(st.present) && st.present.some((x) => String(x) === String(args.id));
    return { present };
  }

  /** A participant left (or was kicked) here: its claim goes, if it is this node's. */
  release(key: string, id: unknown): void {
    const pk = String(id);
    this.recent.delete(`${key}\n${pk}`);
    if (!this.o.up()) return;
    this.stats.released++;
    this.o.store.releasePid(this.o.plugin, key, pk, this.owner).catch(() => undefined);
  }

  /** The room was destroyed: all its claims go (any node may do it; it is idempotent). */
  dropRoom(key: string): void {
    for (const k of this.recent.keys()) if (k.startsWith(`${key}\n`)) this.recent.delete(k);
    if (this.o.up()) this.o.store.dropPids(this.o.plugin, key).catch(() => undefined);
  }

  /**
   * Redis (re)connected, perhaps empty: the ids of this node's participants are claimed again (those
   * joined while it was away, or all of them after Redis lost its data). A clash (the same id taken on
   * another node meanwhile) cannot be undone here: it is logged.
   */
  async reclaim(rooms: ReadonlyMap<string, { present: ReadonlySet<string> }>): Promise<void> {
    for (const [key, st] of rooms) {
      for (const id of st.present) {
        const holder = await this.o.store.claimPid(this.o.plugin, key, id, this.owner);
        if (holder !== null && holder !== this.owner) this.o.log.warn(`cluster: room ${key}: participant id ${id} is also claimed by node ${holder.split('\n')[0]} (taken on both while Redis was away)`);
      }
    }
  }

  private async stringMode(room: string | number): Promise<boolean> {
    if (this.stringIds === null) {
      const st = await this.o.admin({ request: 'portunus_cluster_state', room });
      if (typeof st.string_ids === 'boolean') this.stringIds = st.string_ids;
      else return typeof room === 'string';
    }
    return this.stringIds;
  }
}
