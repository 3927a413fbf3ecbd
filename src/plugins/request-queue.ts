/**
 * How a plugin answers requests, the part VideoRoom and Streaming share: asynchronous requests run one
 * at a time in arrival order (as on Janus's single handler thread per plugin), each after the core has
 * sent its `ack` (the ack goes when handleMessage resolves, so a task runs from setImmediate); a
 * synchronous request's reply is its result or the plugin's error data for what it threw.
 */
import { fault } from '../core/fault.js';
import type { Logger } from '../log.js';

export class RequestQueue {
  private tail: Promise<void> = Promise.resolve();

  /** `log`: the plugin's logger once initialised (null before init and after destroy). */
  constructor(
    private readonly plugin: string,
    private readonly log: () => Logger | null,
  ) {}

  /** Resolves once every request queued so far has run. */
  get idle(): Promise<void> {
    return this.tail;
  }

  /**
   * Run `task` after every request queued before it, on a later turn of the loop. A task that throws
   * is a bug in that request: counted and logged at the plugin_timer boundary (out of setImmediate it
   * would reach the process), and the next request still runs.
   */
  push(task: () => void): void {
    this.tail = this.tail.then(() => new Promise<void>((resolve) => setImmediate(() => {
      try {
        task();
      } catch (err) {
        const log = this.log();
        if (log) fault(log, 'plugin_timer', err, { plugin: this.plugin, where: 'deferred request' });
      } finally {
        resolve();
      }
    })));
  }
}

/** A synchronous request's reply: what `fn` returns, or `errorOf` of what it threw. */
export async function replyOf<D>(fn: () => D | Promise<D>, errorOf: (err: unknown) => D): Promise<D> {
  try {
    return await fn();
  } catch (err) {
    return errorOf(err);
  }
}
