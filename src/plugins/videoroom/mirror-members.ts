/**
 * The private ids of a room's participants, held by a worker that mirrors the room (remote.ts), so a
 * subscriber that joins there with a `private_id` is checked against the room's participants, as on
 * the room's own worker (`require_pvtid`; the subscription's owner for handle_info and kicks).
 *
 * Why the mirror learns the private ids instead of asking the room's worker at each join: the room's
 * worker tells its mirrors of a participant (the `mirrorOut` snapshot, then `member` / `memberGone`
 * on the bus's control lane) before it answers that participant's `join` or `leave`. The control lane
 * is relayed by main in order per pair of workers and ahead of whatever main routes after it, and a
 * client can only send a subscriber join with a private id once it has the `joined` answer carrying it
 * (or, for a gone participant, after it left), so that join reaches the mirror after the change:
 * the mirror answers what the room's worker would at that moment, and joins that race the change
 * itself are ordered one way or the other, as they are by Janus's room mutex. Asking instead would put
 * a round trip through main into every such join, turn the synchronous join on the subscriber's worker
 * asynchronous (the handle's later requests queued behind it), and a kick would still need a message
 * from the room's worker to end the kicked participant's remote subscriptions.
 */
import type { PluginSession } from '../../core/plugin.js';
import type { VrId } from './ids.js';
import { Participant } from './participant.js';
import type { Room } from './room.js';

/** [participant id, private id] of a participant of the room's worker. */
export type MemberSnap = [VrId, number];

/** Room side: what a new mirror needs. Remote publishers (private id -1) have none to be named by. */
export function memberSnaps(room: Room): MemberSnap[] {
  const out: MemberSnap[] = [];
  for (const p of room.participants.values()) if (hasPrivateId(p)) out.push([p.id, p.privateId]);
  return out;
}

/** A participant of the room's worker a subscriber can name by private id (not a mirror's placeholder). */
export function hasPrivateId(p: Participant): boolean {
  return p.remoteFrom < 0 && p.privateId > 0;
}

/**
 * Mirror side: a stand-in Participant per member of the room (no handle here), so a remote
 * subscription's `owner` is what it is for a local one.
 */
export class MirrorMembers {
  private readonly byPvt = new Map<number, Participant>();
  private readonly byId = new Map<VrId, Participant>();

  constructor(
    private readonly room: Room,
    private readonly session: PluginSession,
  ) {}

  set(id: VrId, privateId: number): void {
    this.delete(id);
    const p = new Participant(id, privateId, this.room, this.session);
    this.byPvt.set(privateId, p);
    this.byId.set(id, p);
  }

  /** The member that left (undefined: none known by that id). */
  delete(id: VrId): Participant | undefined {
    const p = this.byId.get(id);
    if (p === undefined) return undefined;
    this.byId.delete(id);
    if (this.byPvt.get(p.privateId) === p) this.byPvt.delete(p.privateId);
    return p;
  }

  /** Whose private id this is (as Room.privateIdOwner on the room's worker). */
  owner(privateId: number): Participant | undefined {
    return privateId > 0 ? this.byPvt.get(privateId) : undefined;
  }
}
