/**
 * A media worker's direct links to the other media workers: one MessagePort per pair of workers, made
 * by main (WorkerPool.wire) when a worker starts or is restarted and handed to both ends. What goes over
 * them crosses one thread boundary (worker -> worker) instead of two (worker -> main -> worker) and never
 * waits behind the main thread's own work.
 *
 * The bus's direct lane (bus.ts WorkerBus.direct) rides on it: every post is `[plugin package, message]`
 * and is delivered to that plugin's BusEnd on the other side. A caller batches per turn of its event
 * loop (TextRoom's relay posts one batch per destination worker per turn): a post is one postMessage.
 *
 * One port per ordered pair direction keeps posts from one worker to another in order. Posts from two
 * different workers to a third come through two ports and have no order between them.
 */
import type { MessagePort } from 'node:worker_threads';

/** What crosses a peer link. */
export type PeerPost = [pkg: string, msg: unknown];

export class PeerLinks {
  private readonly ports = new Map<number, MessagePort>();
  /** Posts sent since start (metrics: tests check that traffic went this way). */
  posted = 0;

  constructor(private readonly deliver: (from: number, pkg: string, msg: unknown) => void) {}

  /** Main made a new link to worker `index` (its first, or after a restart of either end): the old one is closed. */
  set(index: number, port: MessagePort): void {
    const old = this.ports.get(index);
    this.ports.set(index, port);
    old?.close();
    port.on('message', (m: unknown) => {
      if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string') this.deliver(index, m[0], m[1]);
    });
    // The other end's thread ended (or the link was replaced): posts would go nowhere.
    port.on('close', () => {
      if (this.ports.get(index) === port) this.ports.delete(index);
    });
  }

  has(index: number): boolean {
    return this.ports.has(index);
  }

  /** `msg` for plugin `pkg` on worker `to`; false when there is no link (the caller falls back to main). */
  post(to: number, pkg: string, msg: unknown): boolean {
    const port = this.ports.get(to);
    if (port === undefined) return false;
    port.postMessage([pkg, msg] satisfies PeerPost);
    this.posted++;
    return true;
  }

  /** Worker `index` died: its link is dead (main makes a new one when it is back). */
  drop(index: number): void {
    const port = this.ports.get(index);
    this.ports.delete(index);
    port?.close();
  }

  close(): void {
    for (const port of this.ports.values()) port.close();
    this.ports.clear();
  }
}
