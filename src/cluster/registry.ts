/**
 * The node registry: every heartbeat this node writes its record (nodes.ts) with an expiry of
 * node_ttl_ms, then reads everyone's. A node that stops cleanly removes its record and says `bye`; one
 * that dies (SIGKILL, lost machine) disappears when its record expires, at most node_ttl_ms after its
 * last heartbeat, plus the view's margin for late heartbeats (nodes.ts NodeView: LATE_MARGIN_MS or one
 * heartbeat period, whichever is longer). Joins and leaves are logged and reported to the listener
 * (the cascade acts on leaves).
 */
import type { Logger } from '../log.js';
import { NodeView, parseNodeRecord, type NodeRecord, type ViewChange } from './nodes.js';
import type { ClusterStore } from './store.js';

export interface RegistryOptions {
  store: ClusterStore;
  log: Logger;
  /** This node's record as of now (load included). */
  record(): NodeRecord;
  heartbeatMs: number;
  ttlMs: number;
  up(): boolean;
  onChange?(change: ViewChange): void;
}

/**
 * The least margin a missing record gets before its node counts as gone: event-loop stalls and Redis
 * latency of a few hundred ms are ordinary on a loaded machine, whatever heartbeat_ms says.
 */
export const LATE_MARGIN_MS = 1000;

export class Registry {
  readonly view: NodeView;
  /** When this node's record was last written (ms), to tell that its own heartbeat came late. */
  private lastWrite = 0;
  private lastLateLog = 0;
  /** Nodes whose missing record was already logged (once per absence). */
  private readonly lateLogged = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private beating = false;
  /** Heartbeats written since start (tests, cluster_info). */
  beats = 0;

  constructor(private readonly o: RegistryOptions) {
    this.view = new NodeView(Math.max(LATE_MARGIN_MS, o.heartbeatMs));
  }

  start(): void {
    this.timer ??= setInterval(() => void this.beat(), this.o.heartbeatMs);
    this.timer.unref();
  }

  /** Writes this node's record and reads the others' (now, and then every heartbeat). */
  async beat(): Promise<void> {
    if (this.beating || !this.o.up()) return;
    this.beating = true;
    try {
      const me = this.o.record();
      await this.o.store.writeNode(me.name, JSON.stringify(me), this.o.ttlMs);
      const now = Date.now();
      const gap = now - this.lastWrite;
      if (this.lastWrite > 0 && gap > this.o.ttlMs && now - this.lastLateLog > 30_000) {
        this.lastLateLog = now;
        this.o.log.warn(`cluster: this node's heartbeat came ${gap} ms after the previous one (node_ttl_ms ${this.o.ttlMs}): its record expired meanwhile; other nodes keep it for a margin, but a longer node_ttl_ms is safer on this machine`);
      }
      this.lastWrite = now;
      this.beats++;
      await this.refresh();
    } catch (err) {
      this.o.log.verb(`cluster: heartbeat failed: ${String(err)}`);
    } finally {
      this.beating = false;
    }
  }

  /** Reads every node's record into the view. */
  async refresh(): Promise<void> {
    const texts = await this.o.store.readNodes();
    const me = this.o.record();
    const records: NodeRecord[] = [];
    for (const [name, text] of texts) {
      const r = parseNodeRecord(text);
      if (r === null || r.name !== name) {
        this.o.log.warn(`cluster: the registry entry of ${name} is not a node record (ignored)`);
        continue;
      }
      if (name === me.name && r.instance !== me.instance) {
        this.o.log.error(`cluster: another process registers as node ${name}: node_name must be unique in the cluster`);
      }
      records.push(r);
    }
    const now = Date.now();
    this.report(this.view.update(records, now));
    const late = this.view.late();
    for (const [name, since] of late) {
      if (this.lateLogged.has(name)) continue;
      this.lateLogged.add(name);
      this.o.log.verb(`cluster: the record of node ${name} is missing (${now - since} ms): a late heartbeat, or the node is gone; kept for a margin`);
    }
    for (const name of this.lateLogged) {
      if (late.has(name)) continue;
      this.lateLogged.delete(name);
      if (this.view.get(name) !== undefined) this.o.log.info(`cluster: node ${name} is back within the margin (its heartbeat was late, nothing changed)`);
    }
  }

  /** A `bye` from a node that stops cleanly: gone now rather than at its record's expiry. */
  left(name: string): void {
    if (name === this.o.record().name) return;
    if (this.view.remove(name)) this.report({ joined: [], left: [name], restarted: [] });
  }

  private report(c: ViewChange): void {
    for (const n of c.joined) this.o.log.info(`cluster: node ${n.name} joined`, { public_ip: n.public_ip, api_url: n.api_url });
    for (const n of c.restarted) this.o.log.info(`cluster: node ${n.name} restarted`);
    for (const name of c.left) this.o.log.info(`cluster: node ${name} left`);
    if (c.joined.length + c.left.length + c.restarted.length > 0) this.o.onChange?.(c);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.o.up()) return;
    await this.o.store.removeNode(this.o.record().name).catch(() => undefined);
  }
}
