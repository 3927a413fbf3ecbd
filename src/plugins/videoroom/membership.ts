/**
 * Removing a participant from its room, for every reason it can happen, with the events
 * Janus sends in each case. Kept in one place so leave, kick, destroy and detach cannot drift apart.
 */
import { notify, type VrContext } from './context.js';
import type { Participant } from './participant.js';

export type RemovalReason = 'leave' | 'kick' | 'detach' | 'destroy';

export function removeParticipant(ctx: VrContext, p: Participant, reason: RemovalReason): void {
  const room = p.room;
  if (room.participants.get(p.id) !== p) return;
  room.participants.delete(p.id);
  if (reason !== 'detach') p.session.state = { kind: 'gone', room: room.id };
  const wasPublishing = p.media.active;
  if (wasPublishing) {
    p.media.reset();
    // Tearing down a PeerConnection the client never opened would only produce a spurious hangup.
    if (reason !== 'detach' && reason !== 'leave') ctx.host.closePeerConnection(p.session, reason);
  }
  if (reason === 'destroy') return; // everyone gets `destroyed` instead
  const others = [...room.participants.values()];
  if (wasPublishing) notify(ctx, others, { videoroom: 'event', room: room.id, unpublished: p.id });
  if (reason === 'kick') {
    ctx.host.pushEvent(p.session, null, { videoroom: 'event', room: room.id, leaving: 'ok', reason: 'kicked' });
    notify(ctx, others, { videoroom: 'event', room: room.id, kicked: p.id, ...identityExtras(p) });
  } else {
    notify(ctx, others, { videoroom: 'event', room: room.id, leaving: p.id, ...identityExtras(p) });
  }
}

/** display/metadata when set (Janus 1.4 adds them to leaving/kicked; 1.1.2 sends only the id). */
function identityExtras(p: Participant): Record<string, unknown> {
  const { id: _id, ...rest } = p.identity();
  return rest;
}
