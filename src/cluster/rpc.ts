/**
 * The control channel between nodes: a request published on the target node's Redis channel
 * (`<prefix>:rpc:<name>`, named in its registry record as `control`), answered on the caller's.
 * At most once, with a timeout; no retries (the caller decides).
 *
 * Operations (handlers given by cluster.ts):
 *   ping                          -> { node, instance }
 *   plugin_admin { plugin, body } -> the plugin's Admin answer, as Admin `message_plugin` would give it
 *
 * `plugin_admin` is the seam for issue 17 step 3: a node that has subscribers for a publisher elsewhere
 * asks the publisher's node for `publish_remotely`, and its own VideoRoom for `add_remote_publisher`.
 * Anyone who can publish on Redis can run these: Redis belongs to the cluster's trusted network.
 */
import { randomBytes } from 'node:crypto';

export type RpcHandler = (args: Record<string, unknown>, from: string) => Promise<unknown>;

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface RpcTransport {
  publish(channel: string, text: string): Promise<unknown>;
  channelOf(node: string): string;
}

export class RpcError extends Error {
  override readonly name = 'RpcError';
}

export class ControlChannel {
  private readonly pending = new Map<string, Pending>();
  private readonly handlers = new Map<string, RpcHandler>();

  constructor(
    private readonly me: string,
    private readonly transport: RpcTransport,
  ) {}

  handle(op: string, fn: RpcHandler): void {
    this.handlers.set(op, fn);
  }

  /** Ask `node` to run `op`; rejects on timeout, on an unknown op or when the handler failed there. */
  call(node: string, op: string, args: Record<string, unknown>, timeoutMs = 3000): Promise<unknown> {
    const id = randomBytes(8).toString('hex');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError(`node ${node} did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      this.transport.publish(this.transport.channelOf(node), JSON.stringify({ id, from: this.me, op, args })).catch((err: unknown) => {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new RpcError(`could not reach node ${node}: ${err instanceof Error ? err.message : String(err)}`));
      });
    });
  }

  /** A message on this node's channel: a request to run, or a reply to one of ours. */
  onMessage(text: string): void {
    let m: Record<string, unknown>;
    try {
      const o: unknown = JSON.parse(text);
      if (typeof o !== 'object' || o === null) return;
      m = o as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof m.re === 'string') {
      const p = this.pending.get(m.re);
      if (!p) return;
      this.pending.delete(m.re);
      clearTimeout(p.timer);
      if (typeof m.error === 'string') p.reject(new RpcError(m.error));
      else p.resolve(m.value);
      return;
    }
    if (typeof m.id !== 'string' || typeof m.from !== 'string' || typeof m.op !== 'string') return;
    const { id, from, op } = m;
    const args = typeof m.args === 'object' && m.args !== null ? (m.args as Record<string, unknown>) : {};
    const fn = this.handlers.get(op);
    const reply = (body: Record<string, unknown>) => void this.transport.publish(this.transport.channelOf(from), JSON.stringify({ re: id, ...body })).catch(() => undefined);
    if (!fn) return reply({ error: `unknown operation ${op}` });
    fn(args, from).then(
      (value) => reply({ value: value ?? null }),
      (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
    );
  }

  close(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new RpcError('cluster stopped'));
      this.pending.delete(id);
    }
  }
}
