/**
 * Removing a participant from its room, for every reason it can happen, with the events
 * Janus sends in each case. Kept in one place so leave, kick, destroy and detach cannot drift apart.
 */
import { notify, type VrContext } from './context.js';
import { participantGoneEvent } from './events.js';
import type { Participant } from './participant.js';
import { stopPublishing } from './publishing.js';
import type { Room } from './room.js';
import { closeSubscriber } from './subscriber.js';

export type RemovalReason = 'leave' | 'kick' | 'detach' | 'destroy';

export function removeParticipant(ctx: VrContext, p: Participant, reason: RemovalReason): void {
  const room = p.room;
  if (room.participants.get(p.id) !== p) return;
  const hadMedia = p.media.negotiated || p.media.active;
  // Subscribers first lose this publisher's streams (autoupdate offers), then it leaves the room.
  const wasPublishing = stopPublishing(ctx, p, false);
  room.participants.delete(p.id);
  // Mirrors forget its private id before anyone hears it left (mirror-members.ts); a destroyed room's go whole.
  if (reason !== 'destroy') ctx.remote?.memberGone(p, reason === 'kick');
  if (reason !== 'detach') p.session.state = { kind: 'gone', room: room.id };
  // Tearing down a PeerConnection the client never opened would only produce a spurious hangup;
  // on detach the core tears it down itself.
  if (hadMedia && reason !== 'detach') ctx.host.closePeerConnection(p.session, reason);
  if (reason === 'destroy') return; // everyone gets `destroyed` instead
  // Janus tears a detached publisher's media down first, which reports `unpublished` whatever it was doing.
  if (reason === 'detach') participantGoneEvent(ctx, 'unpublished', room.id, p.id);
  participantGoneEvent(ctx, reason === 'kick' ? 'kicked' : 'leaving', room.id, p.id);
  const others = [...room.participants.values()];
  if (wasPublishing) notify(ctx, others, { videoroom: 'event', room: room.id, unpublished: p.id });
  if (reason === 'kick') {
    ctx.host.pushEvent(p.session, null, { videoroom: 'event', room: room.id, leaving: 'ok', reason: 'kicked' });
    notify(ctx, others, { videoroom: 'event', room: room.id, kicked: p.id, ...identityExtras(p) });
    closeOwnedSubscriptions(ctx, room, p);
  } else {
    notify(ctx, others, { videoroom: 'event', room: room.id, leaving: p.id, ...identityExtras(p) });
  }
}

/**
 * Subscriptions a kicked participant opened (linked by private_id) go too: on the room's worker, and on
 * each worker mirroring the room, where `p` is the mirror's stand-in for it (mirror-members.ts).
 */
export function closeOwnedSubscriptions(ctx: VrContext, room: Room, p: Participant): void {
  for (const sub of [...room.subscribers]) {
    if (sub.owner !== p) continue;
    closeSubscriber(sub);
    sub.session.state = { kind: 'gone', room: room.id };
    ctx.host.closePeerConnection(sub.session, 'kick');
  }
}

/** The room is being destroyed: every subscriber handle is told and its PeerConnection closed. */
export function dropSubscribers(ctx: VrContext, room: Room): void {
  for (const sub of [...room.subscribers]) {
    closeSubscriber(sub);
    sub.session.state = { kind: 'gone', room: room.id };
    ctx.host.pushEvent(sub.session, null, { videoroom: 'destroyed', room: room.id });
    ctx.host.closePeerConnection(sub.session, 'destroy');
  }
}

/** display/metadata when set (Janus 1.4 adds them to leaving/kicked; 1.1.2 sends only the id). */
function identityExtras(p: Participant): Record<string, unknown> {
  const { id: _id, ...rest } = p.identity();
  return rest;
}
