/** Per-handle plugin state: negotiation progress and the rooms this PeerConnection is in. */
import type { PluginSession } from '../../core/plugin.js';
import type { RoomId } from './ids.js';
import type { Participant } from './room.js';

export class TrHandle {
  /** A `setup` offer was sent and not torn down since (a second `setup` is 416). */
  setup = false;
  sdpSessionId = 0;
  sdpVersion = 0;
  /** One participant per room: a PeerConnection may be in many rooms at once. */
  readonly rooms = new Map<RoomId, Participant>();
  /** Rooms on other media workers this handle (its data channel here) is a member of, and their worker. */
  readonly remote = new Map<RoomId, number>();
  destroyed = false;
  /** Requests forwarded to other workers not answered yet, and what they share (request-order.ts). */
  inFlight = 0;
  flightKey: string | null = null;
  readonly waiting: Array<{ forward: boolean; key: string | null; run: () => void }> = [];
}

export function handleOf(session: PluginSession): TrHandle {
  if (!(session.state instanceof TrHandle)) session.state = new TrHandle();
  return session.state as TrHandle;
}
