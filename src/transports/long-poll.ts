/**
 * Event delivery for the HTTP transport: per-session event queues drained by long-poll GETs.
 * One instance is the TransportClient of every session created or claimed over HTTP.
 */
import type { JanusMessage } from '../core/messages.js';
import type { SessionOverReason, TransportClient } from '../core/transport.js';

export interface Poll {
  /** How many events this poll may carry (maxev). */
  readonly max: number;
  /** Answers the poll with these events (at least one). */
  deliver(events: JanusMessage[]): void;
}

/** Events queued per session beyond this are dropped (oldest first): nobody is polling. */
const MAX_QUEUED = 1000;

export class LongPollRouter implements TransportClient {
  readonly transport = 'janus.transport.http';
  private readonly queues = new Map<number, JanusMessage[]>();
  private readonly waiting = new Map<number, Poll[]>();

  sendEvent(sessionId: number, event: JanusMessage): void {
    const polls = this.waiting.get(sessionId);
    const poll = polls?.shift();
    if (polls && polls.length === 0) this.waiting.delete(sessionId);
    if (poll) {
      poll.deliver([event]);
      return;
    }
    let q = this.queues.get(sessionId);
    if (!q) this.queues.set(sessionId, (q = []));
    q.push(event);
    if (q.length > MAX_QUEUED) q.shift();
  }

  sessionOver(sessionId: number, _reason: SessionOverReason): void {
    this.queues.delete(sessionId);
    const polls = this.waiting.get(sessionId);
    this.waiting.delete(sessionId);
    // Nothing more will come: let waiting polls go now rather than hold their sockets for 30 s.
    for (const p of polls ?? []) p.deliver([{ janus: 'keepalive' }]);
  }

  /** Takes up to `max` queued events; empty when nothing is queued. */
  take(sessionId: number, max: number): JanusMessage[] {
    const q = this.queues.get(sessionId);
    if (!q) return [];
    const out = q.splice(0, max);
    if (q.length === 0) this.queues.delete(sessionId);
    return out;
  }

  wait(sessionId: number, poll: Poll): void {
    let list = this.waiting.get(sessionId);
    if (!list) this.waiting.set(sessionId, (list = []));
    list.push(poll);
  }

  cancel(sessionId: number, poll: Poll): void {
    const list = this.waiting.get(sessionId);
    if (!list) return;
    const i = list.indexOf(poll);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.waiting.delete(sessionId);
  }

  /** Answers every waiting poll (shutdown). */
  releaseAll(): void {
    const all = [...this.waiting.values()].flat();
    this.waiting.clear();
    for (const p of all) p.deliver([{ janus: 'keepalive' }]);
  }

  counts(): { queues: number; waiting: number } {
    return { queues: this.queues.size, waiting: this.waiting.size };
  }
}
