/**
 * Node records and the membership view, sans-IO: what a node says about itself in Redis (registry.ts
 * writes it every heartbeat with an expiry), how a record read back is checked, how a new view of the
 * cluster differs from the last (who joined, who left), and which node is least loaded (a new room's
 * home).
 *
 * A record carries what another node needs to work with this one (issue 17 step 3): the address to send
 * it RTP (`public_ip`, remote publishers), where clients reach its API, and its control channel (a Redis
 * channel, rpc.ts) on which it runs plugin Admin requests such as `add_remote_publisher`.
 */

export interface NodeLoad {
  /** PeerConnections alive (all media workers). */
  peers: number;
  /** RTP packets in + out per second, all workers, over the last report period. */
  packets_per_sec: number;
  /** Rooms on this node (VideoRoom, every room it holds: local and cluster ones). */
  rooms: number;
  /** Sessions on this node's Janus API. */
  sessions: number;
}

export interface NodeRecord {
  name: string;
  /** Random per process start: tells a restarted node (same name) from the old one, and two nodes misnamed alike. */
  instance: string;
  version: string;
  started_at: number;
  /** Where other nodes send this node's RTP (remote publishers) and where its media candidates point. */
  public_ip: string | null;
  /** Where clients reach its Janus API (advertised; null when not configured). */
  api_url: string | null;
  /** The Redis channel this node takes control requests on (rpc.ts). */
  control: string;
  heartbeat_ms: number;
  ttl_ms: number;
  load: NodeLoad;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

function strOrNull(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** A record as read from Redis; null when it is not one (another program's key, a truncated write). */
export function parseNodeRecord(text: string | null): NodeRecord | null {
  if (text === null) return null;
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null) return null;
  const r = o as Record<string, unknown>;
  if (typeof r.name !== 'string' || typeof r.instance !== 'string' || typeof r.control !== 'string') return null;
  const l = typeof r.load === 'object' && r.load !== null ? (r.load as Record<string, unknown>) : {};
  return {
    name: r.name,
    instance: r.instance,
    version: typeof r.version === 'string' ? r.version : '',
    started_at: num(r.started_at),
    public_ip: strOrNull(r.public_ip),
    api_url: strOrNull(r.api_url),
    control: r.control,
    heartbeat_ms: num(r.heartbeat_ms),
    ttl_ms: num(r.ttl_ms),
    load: { peers: num(l.peers), packets_per_sec: num(l.packets_per_sec), rooms: num(l.rooms), sessions: num(l.sessions) },
  };
}

export interface ViewChange {
  joined: NodeRecord[];
  /** Names gone since the last view (their record expired or they said goodbye). */
  left: string[];
  /** Nodes that restarted under the same name (a new instance). */
  restarted: NodeRecord[];
}

/**
 * The nodes seen at the last registry read, and what changed at each read.
 *
 * A record that is missing is not yet a node gone: a heartbeat can be late (a busy event loop, a slow
 * Redis) by more than node_ttl_ms - heartbeat_ms, and a short TTL would then report a live node as gone
 * (its remote publishers dropped everywhere, `leaving` sent to every participant) only to see it "join"
 * again a heartbeat later. So a node whose record vanished stays in the view, with its last record,
 * until it has been missing for a margin (`graceMs`, at least the node's own heartbeat period; 0: none);
 * a record that comes back within it (same instance) changes nothing. Time is an input (sans-IO).
 */
export class NodeView {
  private nodes = new Map<string, NodeRecord>();
  /** Nodes whose record is missing, and since when (ms, the caller's clock). */
  private readonly missing = new Map<string, number>();

  constructor(private readonly graceMs = 0) {}

  /** Replace the view with `records` (this node's included) as read at `now`; returns what changed. */
  update(records: Iterable<NodeRecord>, now = 0): ViewChange {
    const next = new Map<string, NodeRecord>();
    for (const r of records) next.set(r.name, r);
    const change: ViewChange = { joined: [], left: [], restarted: [] };
    for (const [name, r] of next) {
      const old = this.nodes.get(name);
      this.missing.delete(name);
      if (!old) change.joined.push(r);
      else if (old.instance !== r.instance) change.restarted.push(r);
    }
    for (const [name, old] of this.nodes) {
      if (next.has(name)) continue;
      const since = this.missing.get(name) ?? now;
      const grace = this.graceMs > 0 ? Math.max(this.graceMs, old.heartbeat_ms) : 0;
      if (now - since < grace) {
        this.missing.set(name, since);
        next.set(name, old);
        continue;
      }
      this.missing.delete(name);
      change.left.push(name);
    }
    this.nodes = next;
    return change;
  }

  /** Nodes kept in the view although their record is missing (within the margin), with since when. */
  late(): ReadonlyMap<string, number> {
    return this.missing;
  }

  /** Forget a node now (its goodbye arrived before its record expired). */
  remove(name: string): boolean {
    this.missing.delete(name);
    return this.nodes.delete(name);
  }

  get(name: string): NodeRecord | undefined {
    return this.nodes.get(name);
  }

  get size(): number {
    return this.nodes.size;
  }

  list(): NodeRecord[] {
    return [...this.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/**
 * The least loaded node: PeerConnections first (each costs its share of every packet), then packets/s,
 * then rooms (empty rooms still spread), then the name (every node picks the same on a tie). The same
 * order the worker pool uses between its threads (workers/pool.ts leastLoaded).
 */
export function leastLoaded(nodes: readonly NodeRecord[]): NodeRecord | null {
  let best: NodeRecord | null = null;
  let bestScore = Infinity;
  for (const n of nodes) {
    const score = n.load.peers * 1e6 + n.load.packets_per_sec + n.load.rooms * 10;
    if (score < bestScore || (score === bestScore && best !== null && n.name < best.name)) {
      best = n;
      bestScore = score;
    }
  }
  return best;
}
