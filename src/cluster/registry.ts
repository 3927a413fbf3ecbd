/**
 * The node registry: every heartbeat this node writes its record (nodes.ts) with an expiry of
 * node_ttl_ms, then reads everyone's. A node that stops cleanly removes its record and says `bye`; one
 * that dies (SIGKILL, lost machine) disappears when its record expires, at most node_ttl_ms after its
 * last heartbeat. Joins and leaves are logged and reported to the listener (step 4 will act on leaves).
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

export class Registry {
  readonly view = new NodeView();
  private timer: NodeJS.Timeout | null = null;
  private beating = false;
  /** Heartbeats written since start (tests, cluster_info). */
  beats = 0;

  constructor(private readonly o: RegistryOptions) {}

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
    this.report(this.view.update(records));
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
