/**
 * Any node serves any room (issue 17 step 3): a cluster room whose participants are on several nodes is
 * stitched together with VideoRoom's own cascading (remote publishers). Each node drives only its own
 * publishers: for every local publisher of a cluster room and every other live node that has members
 * in that room (participants or subscribers; the simplest correct interest rule), it keeps one *link*:
 *
 *   1. over the control channel, the other node adds a remote publisher with the same id, display and
 *      streams (VideoRoom `portunus_cluster_attach`, i.e. `add_remote_publisher`) and answers its ports;
 *   2. here, the publisher is `publish_remotely`-ed to that node's advertised `public_ip` and ports:
 *      plain RTP over UDP, straight from this node's media plane to the other's (keyframe requests come
 *      back on the remote publisher's RTCP port).
 *
 * A link goes when its publisher stops (the other node's participants hear `unpublished`), leaves
 * (`unpublished`, `leaving`), changes its streams (then it is made again), or the other node has nobody
 * left in the room. When a node disappears from the registry (SIGKILL: its record expired; or it said
 * goodbye, or restarted), every node drops the remote publishers that came from it, with the same
 * events, and forgets the links towards it; the room itself stays (its definition is in Redis).
 *
 * What crosses Redis: each node's *presence* per room (member count and publisher ids, a hash per node
 * plus a `presence` event on change), link requests (control channel), and participant events that have
 * no publisher behind them (`joining`, `leaving` of a non-publisher: `vr` events). Media never does.
 *
 * Sans-IO in spirit: everything this module knows about a room comes from VideoRoom's
 * `portunus_cluster_state` (read again whenever something happened in the room, at most one pass per room
 * at a time, and every FULL_PASS_MS), so a missed trigger delays a change but never loses it.
 */
import type { Logger } from '../log.js';
import { roomKey } from '../workers/placement.js';
import type { NodeRecord, ViewChange } from './nodes.js';
import type { Json } from './room-definition.js';
import type { ClusterStore } from './store.js';

type Data = Record<string, unknown>;

/** A node's part of a room, as the other nodes see it. */
export interface Presence {
  /** Participants and subscribers of the room on that node (its remote publishers not counted). */
  members: number;
  /** Ids (as keys) of the room's publishers on that node. */
  pubs: string[];
}

export function parsePresence(v: unknown): Presence | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Data;
  const members = typeof o.members === 'number' && Number.isFinite(o.members) && o.members > 0 ? Math.floor(o.members) : 0;
  const pubs = Array.isArray(o.pubs) ? o.pubs.filter((x): x is string => typeof x === 'string') : [];
  return { members, pubs };
}

interface PubState {
  id: string | number;
  display: string | undefined;
  streams: Data[];
  /** What a link was made from (streams and display): a change remakes it. */
  spec: string;
}

/** A cluster room as this node holds it (VideoRoom portunus_cluster_state). */
export interface LocalRoom {
  exists: boolean;
  members: number;
  /** Local participants (publishers or not) by id key. */
  present: Set<string>;
  pubs: Map<string, PubState>;
  /** Remote publishers in the room (ours and any an application added itself). */
  remotes: Set<string>;
}

interface Link {
  key: string;
  room: string | number;
  pub: string;
  pubId: string | number;
  node: string;
  spec: string;
  remoteId: string;
}

export interface CascadeOptions {
  plugin: string;
  me: string;
  store: ClusterStore;
  log: Logger;
  /** This node's plugin Admin entry point (not intercepted by the cluster). */
  admin(body: Data): Promise<Data>;
  /** A control request to another node (rpc.ts). */
  call(node: string, op: string, args: Data, timeoutMs: number): Promise<unknown>;
  /** The live nodes (registry view; this one included). */
  nodes(): readonly NodeRecord[];
  /** The API id of cluster room `key` on this node; undefined when it is not a cluster room here. */
  roomIdOf(key: string): string | number | undefined;
  roomKeys(): Iterable<string>;
  up(): boolean;
}

/** A burst of triggers (a join's events, its request) makes one pass. */
const SETTLE_MS = 20;
/** Every room is read again this often, whatever the triggers said. */
export const FULL_PASS_MS = 2000;
const LINK_TIMEOUT_MS = 3000;
const WANT_TIMEOUT_MS = 2500;
/** A join about to happen here counts as a member for this long (the join itself takes over). */
const PENDING_MS = 10_000;

const idKey = (v: unknown): string => String(v);
const linkKey = (key: string, pub: string, node: string): string => `${key}\n${pub}\n${node}`;
const asData = (v: unknown): Data => (typeof v === 'object' && v !== null ? (v as Data) : {});

const EMPTY: LocalRoom = { exists: false, members: 0, present: new Set(), pubs: new Map(), remotes: new Set() };

function parseState(d: Data): LocalRoom {
  if (d.error_code !== undefined || d.exists !== true) return EMPTY;
  const pubs = new Map<string, PubState>();
  for (const p of Array.isArray(d.publishers) ? d.publishers : []) {
    const o = asData(p);
    if (typeof o.id !== 'number' && typeof o.id !== 'string') continue;
    const streams = Array.isArray(o.streams) ? (o.streams as Data[]) : [];
    const display = typeof o.display === 'string' ? o.display : undefined;
    pubs.set(idKey(o.id), { id: o.id, display, streams, spec: JSON.stringify([display ?? null, streams]) });
  }
  const present = new Set((Array.isArray(d.present) ? d.present : []).map(idKey));
  const remotes = new Set((Array.isArray(d.remotes) ? d.remotes : []).map(idKey));
  return { exists: true, members: typeof d.members === 'number' ? d.members : 0, present, pubs, remotes };
}

interface Incoming {
  node: string;
  id: string | number;
}

interface Sched {
  timer: NodeJS.Timeout | null;
  running: boolean;
  waiters: Array<() => void>;
}

export class Cascade {
  readonly local = new Map<string, LocalRoom>();
  /** room key -> node -> its presence (other nodes only). */
  private readonly presence = new Map<string, Map<string, Presence>>();
  /** room key -> the presence text this node last wrote (null: none). */
  private readonly written = new Map<string, string | null>();
  readonly links = new Map<string, Link>();
  /** room key -> remote publisher id key -> the node it comes from (attached by that node's links), and its id. */
  readonly incoming = new Map<string, Map<string, Incoming>>();
  private readonly pending = new Map<string, number>();
  private readonly sched = new Map<string, Sched>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  readonly stats = { links_made: 0, links_dropped: 0, attached: 0, detached: 0, node_drops: 0, relayed_out: 0, relayed_in: 0, failures: 0 };

  constructor(private readonly o: CascadeOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.fullPass(), FULL_PASS_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.sched.values()) if (s.timer) clearTimeout(s.timer);
  }

  /** Redis (re)connected: this node's presence is written afresh, the others' read, every room passed. */
  async resync(): Promise<void> {
    await this.o.store.clearPresence(this.o.plugin, this.o.me);
    this.written.clear();
    await this.fullPass();
  }

  // ------------------------------------------------------------------ passes

  /** One pass over room `key` soon (coalesced); resolves once a pass that began after the call is done. */
  schedule(key: string, delayMs = SETTLE_MS): Promise<void> {
    let s = this.sched.get(key);
    if (s === undefined) this.sched.set(key, (s = { timer: null, running: false, waiters: [] }));
    const done = new Promise<void>((r) => s.waiters.push(r));
    if (!s.running && s.timer === null && !this.stopped) s.timer = setTimeout(() => void this.run(key, s), delayMs);
    return done;
  }

  private async run(key: string, s: Sched): Promise<void> {
    s.timer = null;
    s.running = true;
    const waiters = s.waiters.splice(0);
    try {
      await this.reconcile(key);
    } catch (err) {
      this.stats.failures++;
      this.o.log.warn(`cluster: room ${key}: cascade pass failed: ${String(err)}`);
    }
    s.running = false;
    for (const w of waiters) w();
    if (s.waiters.length > 0 && !this.stopped) s.timer = setTimeout(() => void this.run(key, s), 0);
    else this.sched.delete(key);
  }

  private async fullPass(): Promise<void> {
    if (!this.o.up() || this.stopped) return;
    try {
      for (const n of this.o.nodes()) {
        if (n.name === this.o.me) continue;
        const all = await this.o.store.readPresence(this.o.plugin, n.name);
        for (const m of this.presence.values()) m.delete(n.name);
        for (const [key, text] of Object.entries(all)) {
          let v: unknown = null;
          try {
            v = JSON.parse(text);
          } catch {
            /* not ours */
          }
          const p = parsePresence(v);
          if (p !== null) this.presenceOf(key).set(n.name, p);
        }
      }
    } catch (err) {
      this.o.log.verb(`cluster: presence read failed: ${String(err)}`);
    }
    const keys = new Set<string>([...this.o.roomKeys(), ...this.local.keys(), ...[...this.links.values()].map((l) => l.key), ...this.incoming.keys()]);
    await Promise.all([...keys].map((k) => this.schedule(k)));
  }

  private presenceOf(key: string): Map<string, Presence> {
    let m = this.presence.get(key);
    if (m === undefined) this.presence.set(key, (m = new Map()));
    return m;
  }

  private alive(): Map<string, NodeRecord> {
    return new Map(this.o.nodes().filter((n) => n.name !== this.o.me).map((n) => [n.name, n]));
  }

  private async reconcile(key: string): Promise<void> {
    if (!this.o.up()) return; // without Redis nobody can be told: the links in place keep forwarding
    const room = this.o.roomIdOf(key);
    let st = EMPTY;
    if (room !== undefined) {
      const d = await this.o.admin({ request: 'portunus_cluster_state', room });
      // A failed read says nothing about the room: everything stays as it is until the next pass.
      if (d.error_code !== undefined || typeof d.exists !== 'boolean') throw new Error(`state of room ${key}: ${String(d.error)}`);
      st = parseState(d);
    }
    if (st.exists) this.local.set(key, st);
    else this.local.delete(key);
    const until = this.pending.get(key);
    const pending = until !== undefined && until > Date.now();
    if (!pending) this.pending.delete(key);
    await this.writePresence(key, st.exists ? { members: Math.max(st.members, pending ? 1 : 0), pubs: [...st.pubs.keys()] } : null);

    const alive = this.alive();
    // Remote publishers from a node that is gone: the room hears they left.
    const inc = this.incoming.get(key);
    if (inc !== undefined) {
      if (!st.exists) this.incoming.delete(key);
      else for (const [pid, from] of [...inc]) if (!alive.has(from.node)) await this.detachHere(key, room!, pid, from);
    }

    const want = new Map<string, { pub: PubState; node: NodeRecord }>();
    for (const [pk, pub] of st.pubs) {
      for (const n of alive.values()) {
        const pr = this.presence.get(key)?.get(n.name);
        if (pr !== undefined && pr.members > 0 && n.public_ip !== null) want.set(linkKey(key, pk, n.name), { pub, node: n });
      }
    }
    for (const [lk, l] of [...this.links]) {
      if (l.key !== key) continue;
      const w = want.get(lk);
      if (w !== undefined && w.pub.spec === l.spec) continue;
      await this.teardown(lk, l, !st.present.has(l.pub), alive.has(l.node));
    }
    await Promise.all([...want].filter(([lk]) => !this.links.has(lk)).map(([lk, w]) => this.establish(lk, key, room!, w.pub, w.node)));
  }

  private async writePresence(key: string, p: Presence | null): Promise<void> {
    const text = p === null || (p.members === 0 && p.pubs.length === 0) ? null : JSON.stringify(p);
    if ((this.written.get(key) ?? null) === text) return;
    await this.o.store.writePresence(this.o.plugin, this.o.me, key, text);
    await this.o.store.publish({ t: 'presence', plugin: this.o.plugin, key, node: this.o.me, p: (p as unknown as Json) ?? null });
    if (text === null) this.written.delete(key);
    else this.written.set(key, text);
  }

  // ------------------------------------------------------------------ links (this node's publishers)

  private async establish(lk: string, key: string, room: string | number, pub: PubState, node: NodeRecord): Promise<void> {
    const remoteId = `cluster-${node.name}`;
    let r: Data;
    try {
      const args: Data = { plugin: this.o.plugin, room, id: pub.id, streams: pub.streams };
      if (pub.display !== undefined) args.display = pub.display;
      r = asData(await this.o.call(node.name, 'cascade_attach', args, LINK_TIMEOUT_MS));
    } catch (err) {
      this.stats.failures++;
      this.o.log.warn(`cluster: room ${key}: publisher ${pub.id} not attached on ${node.name}: ${String(err)}`);
      return;
    }
    if (r.error_code !== undefined || typeof r.port !== 'number') {
      this.stats.failures++;
      this.o.log.warn(`cluster: room ${key}: ${node.name} refused publisher ${pub.id}: ${String(r.error)} (${String(r.error_code)})`);
      return;
    }
    const body = { request: 'portunus_cluster_publish', room, publisher_id: pub.id, remote_id: remoteId, host: node.public_ip, port: r.port, rtcp_port: r.rtcp_port };
    let res = await this.o.admin(body);
    if (res.error_code === 436) {
      // A remotization towards that node from an earlier link (its node restarted): replaced.
      await this.o.admin({ request: 'portunus_cluster_unpublish', room, publisher_id: pub.id, remote_id: remoteId });
      res = await this.o.admin(body);
    }
    if (res.error_code !== undefined) {
      this.stats.failures++;
      this.o.log.warn(`cluster: room ${key}: publish_remotely of ${pub.id} to ${node.name} failed: ${String(res.error)} (${String(res.error_code)})`);
      await this.o.call(node.name, 'cascade_detach', { plugin: this.o.plugin, room, id: pub.id, leaving: false }, LINK_TIMEOUT_MS).catch(() => undefined);
      return;
    }
    this.links.set(lk, { key, room, pub: idKey(pub.id), pubId: pub.id, node: node.name, spec: pub.spec, remoteId });
    this.stats.links_made++;
    this.o.log.info(`cluster: room ${key}: publisher ${pub.id} -> ${node.name} (${String(node.public_ip)}:${String(r.port)})`);
  }

  private async teardown(lk: string, l: Link, leaving: boolean, reachable: boolean): Promise<void> {
    this.links.delete(lk);
    this.o.log.info(`cluster: room ${l.key}: publisher ${String(l.pubId)} -/-> ${l.node}${leaving ? ' (left)' : ''}${reachable ? '' : ' (node gone)'}`);
    this.stats.links_dropped++;
    await this.o.admin({ request: 'portunus_cluster_unpublish', room: l.room, publisher_id: l.pubId, remote_id: l.remoteId }).catch(() => undefined);
    if (!reachable) return;
    await this.o.call(l.node, 'cascade_detach', { plugin: this.o.plugin, room: l.room, id: l.pubId, leaving }, LINK_TIMEOUT_MS).catch((err: unknown) => {
      this.o.log.warn(`cluster: room ${l.key}: ${l.node} did not drop publisher ${String(l.pubId)}: ${String(err)}`);
    });
  }

  // ------------------------------------------------------------------ the other side of a link

  /** `cascade_attach` from `from`: one of its publishers, added here as a remote publisher. */
  async onAttach(from: string, args: Data): Promise<Data> {
    const key = roomKey(args.room);
    if (key === null) throw new Error('no room');
    const { plugin: _p, ...body } = args;
    const res = await this.o.admin({ ...body, request: 'portunus_cluster_attach' });
    if (res.error_code === undefined && (typeof args.id === 'number' || typeof args.id === 'string')) {
      let inc = this.incoming.get(key);
      if (inc === undefined) this.incoming.set(key, (inc = new Map()));
      inc.set(idKey(args.id), { node: from, id: args.id });
      this.stats.attached++;
    }
    return res;
  }

  /** `cascade_detach` from `from`: its publisher stopped, left, or nobody here needs it any more. */
  async onDetach(from: string, args: Data): Promise<Data> {
    const key = roomKey(args.room);
    if (key === null) throw new Error('no room');
    const inc = this.incoming.get(key);
    // Only the node that attached it may take it away (a newer attach from elsewhere stands).
    if (inc?.get(idKey(args.id))?.node !== from) return { videoroom: 'success', found: false };
    inc.delete(idKey(args.id));
    this.stats.detached++;
    return this.o.admin({ request: 'portunus_cluster_detach', room: args.room, id: args.id, leaving: args.leaving === true });
  }

  /**
   * `cascade_want` from `from`: someone is about to join room `key` there. Its presence counts at once
   * and the links towards it are made before the answer, so the join there sees our publishers.
   */
  async onWant(from: string, args: Data): Promise<Data> {
    const key = roomKey(args.room);
    if (key === null) throw new Error('no room');
    const m = this.presenceOf(key);
    const cur = m.get(from);
    m.set(from, { members: Math.max(cur?.members ?? 0, 1), pubs: cur?.pubs ?? [] });
    await this.schedule(key, 0);
    return { ok: true };
  }

  private async detachHere(key: string, room: string | number, pid: string, from: Incoming): Promise<void> {
    this.incoming.get(key)?.delete(pid);
    this.stats.node_drops++;
    const res = await this.o.admin({ request: 'portunus_cluster_detach', room, id: from.id, leaving: true });
    this.o.log.info(`cluster: room ${key}: publisher ${pid} of node ${from.node} dropped (node gone)`, { found: res.found });
  }

  // ------------------------------------------------------------------ triggers

  /**
   * Before a join in room `key` here: if other nodes have publishers in it that are not here yet, they
   * are asked for them (bounded wait), so the join's `publishers` list (or a subscriber's feed) is whole.
   */
  async prepare(key: string): Promise<void> {
    if (!this.o.up() || this.o.roomIdOf(key) === undefined) return;
    this.pending.set(key, Date.now() + PENDING_MS);
    const alive = this.alive();
    const inc = this.incoming.get(key);
    const owners = [...(this.presence.get(key) ?? new Map<string, Presence>())].filter(([n, p]) => alive.has(n) && p.pubs.some((id) => inc?.get(id)?.node !== n)).map(([n]) => n);
    if (owners.length === 0) {
      void this.schedule(key);
      return;
    }
    await this.schedule(key, 0); // our presence first: the owners' passes will count us
    const room = this.o.roomIdOf(key);
    await Promise.all(
      owners.map((n) =>
        this.o.call(n, 'cascade_want', { plugin: this.o.plugin, room }, WANT_TIMEOUT_MS).catch((err: unknown) => {
          this.o.log.warn(`cluster: room ${key}: ${n} did not send its publishers before the join: ${String(err)}`);
        }),
      ),
    );
  }

  /** A VideoRoom event (event handlers' type 64) from this node's plugin: a room changed here. */
  onPluginEvent(data: Data): void {
    const key = roomKey(data.room);
    if (key === null || this.o.roomIdOf(key) === undefined) return;
    // Audio levels (talking) change nothing the cascade reads: every node computes them itself from the
    // packets it gets (the remote publisher carries the audio-level extension id).
    if (data.videoroom === 'talking' || data.videoroom === 'stopped-talking') return;
    const ev = data.event;
    const id = data.id;
    if ((ev === 'leaving' || ev === 'kicked') && id !== undefined) {
      const pk = idKey(id);
      // A publisher with links: the links' teardown tells the other nodes (`unpublished` first).
      const linked = [...this.links.values()].some((l) => l.key === key && l.pub === pk);
      const remote = this.incoming.get(key)?.has(pk) === true || this.local.get(key)?.remotes.has(pk) === true;
      if (!linked && !remote) this.relay(key, { leaving: id });
    } else if (ev === 'joined' && id !== undefined) {
      const who: Data = { id };
      if (typeof data.display === 'string') who.display = data.display;
      this.relay(key, { joining: who });
    }
    void this.schedule(key);
  }

  private relay(key: string, event: Data): void {
    if (!this.o.up()) return;
    const anyone = [...(this.presence.get(key)?.values() ?? [])].some((p) => p.members > 0);
    if (!anyone) return;
    this.stats.relayed_out++;
    this.o.store.publish({ t: 'vr', plugin: this.o.plugin, key, node: this.o.me, event: event as Json }).catch(() => undefined);
  }

  /** A `vr` event from another node: told to this node's participants in that room. */
  onRelay(node: string, key: string, event: Data): void {
    if (node === this.o.me) return;
    const room = this.o.roomIdOf(key);
    if (room === undefined || !this.local.get(key)?.exists) return;
    this.stats.relayed_in++;
    void this.o.admin({ request: 'portunus_cluster_notify', room, event }).catch(() => undefined);
  }

  /** Another node's presence changed: the rooms where we publish are passed again. */
  onPresence(node: string, key: string, p: unknown): void {
    if (node === this.o.me) return;
    const pr = parsePresence(p);
    if (pr === null) this.presence.get(key)?.delete(node);
    else this.presenceOf(key).set(node, pr);
    const st = this.local.get(key);
    const linked = [...this.links.values()].some((l) => l.key === key && l.node === node);
    if ((st !== undefined && st.pubs.size > 0) || linked) void this.schedule(key);
  }

  /** Nodes left (record expired, goodbye) or restarted: their publishers go, our links to them too. */
  onNodes(change: ViewChange): void {
    const gone = new Set([...change.left, ...change.restarted.map((n) => n.name)]);
    if (gone.size === 0) return;
    const keys = new Set<string>();
    for (const [key, m] of this.presence) for (const n of gone) if (m.delete(n)) keys.add(key);
    for (const [lk, l] of [...this.links]) {
      if (!gone.has(l.node)) continue;
      keys.add(l.key);
      void this.teardown(lk, l, false, false);
    }
    for (const [key, inc] of this.incoming) {
      for (const [pid, from] of [...inc]) {
        if (!gone.has(from.node)) continue;
        keys.add(key);
        const room = this.o.roomIdOf(key);
        if (room !== undefined) void this.detachHere(key, room, pid, from).catch(() => undefined);
        else inc.delete(pid);
      }
    }
    for (const k of keys) void this.schedule(k);
  }

  status(): Data {
    return {
      links: [...this.links.values()].map((l) => ({ room: l.room, publisher: l.pubId, node: l.node })),
      incoming: [...this.incoming].flatMap(([key, m]) => [...m].map(([, x]) => ({ room: key, publisher: x.id, node: x.node }))),
      // The other nodes' members as this node last heard (relays of participant events go where there are some).
      presence: [...this.presence].flatMap(([key, m]) => [...m].map(([node, p]) => ({ room: key, node, members: p.members }))),
      stats: { ...this.stats },
    };
  }
}
