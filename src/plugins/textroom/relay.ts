/**
 * Frames for members whose data channel lives on another media worker than the room (the pool spreads
 * rooms and handles independently). The room's worker is the authority: it orders every room's
 * traffic, delivers to its own members directly and gathers the rest into one batch per target worker,
 * posted once per turn of the event loop, not once per recipient. A batch carries each distinct frame
 * once (a broadcast is one string for all its recipients) and the deliveries in the order they were
 * made; batches go worker to worker over the pair's own port (the bus's direct lane, src/workers/bus.ts,
 * peer-links.ts), which keeps them in order, so a member gets every frame of a room once, in the room's
 * order. There is no link only to a worker that died (main wires a restarted one before it runs
 * anything): what was for it is dropped, as its data channels and rooms are gone.
 *
 * Membership changes of remote members travel in the same stream, so the member's worker knows which
 * of its handles sit in rooms elsewhere, and where (to send their requests for those rooms straight
 * there, and to tell them `destroyed` if that worker dies).
 *
 * The other way, a member's requests for a room it is in elsewhere (`message` above all) ride the
 * member's worker's batch to the room's worker as `Request` ops, raw text: a chat line crosses two
 * threads (member's worker -> room's worker -> other members' workers), not four through main.
 */
import type { PluginSession } from '../../core/plugin.js';
import type { WorkerBus } from '../../workers/bus.js';
import type { RoomId } from './ids.js';

export const enum RelayOp {
  Frame = 0,
  Joined = 1,
  Left = 2,
  /** A forwarded request of the handle was answered (request-order.ts). */
  Done = 3,
  /** A member's data-channel request (the frame's text) for a room on the receiving worker. */
  Request = 4,
}

/** What one worker posts to another: `ops` is flat triples [op, handleId, frame index | room]. */
export interface RelayBatch {
  frames: string[];
  ops: Array<number | string>;
}

interface Pending extends RelayBatch {
  /** The last frame added: a broadcast adds the same string for each recipient in a row. */
  last: string | null;
}

export function isRelayBatch(x: unknown): x is RelayBatch {
  if (typeof x !== 'object' || x === null) return false;
  const b = x as Partial<RelayBatch>;
  return Array.isArray(b.frames) && Array.isArray(b.ops) && b.ops.length % 3 === 0;
}

export class MemberRelay {
  private readonly pending = new Map<number, Pending>();
  private scheduled = false;

  /** Batches for a worker with no link (it died): dropped. */
  dropped = 0;

  constructor(private readonly link: WorkerBus<RelayBatch>) {}

  /** The worker of the session's data channel when it is not this one; null: deliver here. */
  remoteHome(session: PluginSession): number | null {
    const home = this.link.homeOf(session);
    return home !== null && home !== this.link.index ? home : null;
  }

  frame(home: number, handleId: number, text: string): void {
    const b = this.batch(home);
    let i = b.frames.length - 1;
    if (b.last !== text) {
      i = b.frames.push(text) - 1;
      b.last = text;
    }
    b.ops.push(RelayOp.Frame, handleId, i);
  }

  membership(home: number, handleId: number, room: RoomId, joined: boolean): void {
    // Room ids cross as they are: numbers stay numbers, so the member's worker keys them the same way.
    this.batch(home).ops.push(joined ? RelayOp.Joined : RelayOp.Left, handleId, room as number | string);
  }

  done(home: number, handleId: number): void {
    this.batch(home).ops.push(RelayOp.Done, handleId, 0);
  }

  /** A request of a handle here for a room on worker `to` (its text, parsed again there). */
  request(to: number, handleId: number, text: string): void {
    const b = this.batch(to);
    const i = b.frames.push(text) - 1;
    b.last = null;
    b.ops.push(RelayOp.Request, handleId, i);
  }

  private batch(home: number): Pending {
    let b = this.pending.get(home);
    if (b === undefined) {
      b = { frames: [], ops: [], last: null };
      this.pending.set(home, b);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return b;
  }

  /** Posts what this turn gathered: one message per target worker. */
  readonly flush = (): void => {
    this.scheduled = false;
    for (const [home, b] of this.pending) {
      if (!this.link.direct(home, { frames: b.frames, ops: b.ops } satisfies RelayBatch)) this.dropped++;
    }
    this.pending.clear();
  };
}
