/**
 * Plugin events (type 64) for the event handlers, with the names and keys Janus 1.1.2's VideoRoom
 * sends. Every helper checks `general.events` and the host first, so nothing is built when nobody
 * listens. Janus passes no handle for leaving/kicked/unpublished/moderated/stop_rtp_forward (they
 * come from shared code paths), and the requester's handle (or none from the Admin API) for
 * created/edited/destroyed: the `session` arguments follow that.
 */
import type { PluginSession } from '../../core/plugin.js';
import type { VrContext } from './context.js';
import type { Participant } from './participant.js';
import type { PublishedStream } from './streams.js';
import type { VrId } from './ids.js';

type Data = Record<string, unknown>;

export function vrEventsOn(ctx: VrContext): boolean {
  return (ctx.general.events || (ctx.host.observesEvents?.() ?? false)) && (ctx.host.eventsEnabled?.() ?? false);
}

/**
 * With `events = false` the event handlers get nothing, as from Janus; cluster mode still follows the
 * rooms through these events (a participant leaving releases its id, is told to the other nodes), so
 * they are emitted for it alone (`internal`).
 */
function emit(ctx: VrContext, session: PluginSession | null, build: () => Data): void {
  if (!vrEventsOn(ctx)) return;
  ctx.host.notifyEvent?.(session, build(), !ctx.general.events);
}

/** created / edited / destroyed. */
export function roomEvent(ctx: VrContext, session: PluginSession | null, event: 'created' | 'edited' | 'destroyed', room: VrId): void {
  emit(ctx, session, () => ({ event, room }));
}

export function joinedEvent(ctx: VrContext, me: Participant, token: string | undefined): void {
  emit(ctx, me.session, () => {
    const d: Data = { event: 'joined', room: me.room.id, id: me.id, private_id: me.privateId };
    // Janus adds the token whenever the room checks its ACL (null when none was given).
    if (me.room.aclEnabled) d.token = token ?? null;
    if (me.display !== null) d.display = me.display;
    if (me.media.audioActivePackets) d.audio_active_packets = me.media.audioActivePackets;
    if (me.media.audioLevelAverage) d.audio_level_average = me.media.audioLevelAverage;
    return d;
  });
}

export function configuredEvent(ctx: VrContext, me: Participant): void {
  emit(ctx, me.session, () => {
    const d: Data = { event: 'configured', room: me.room.id, id: me.id };
    if (me.media.bitrate > 0) d.bitrate = me.media.bitrate;
    return d;
  });
}

/** `published` when the PeerConnection comes up, `updated` after a renegotiation. */
export function publishedEvent(ctx: VrContext, me: Participant, event: 'published' | 'updated'): void {
  emit(ctx, me.session, () => {
    const d: Data = { event, room: me.room.id, id: me.id };
    if (me.display !== null) d.display = me.display;
    d.streams = me.media.streams.map(streamSummary);
    return d;
  });
}

function streamSummary(s: PublishedStream): Data {
  const o: Data = { type: s.type, mindex: s.mindex, mid: s.mid };
  if (s.disabled) {
    o.disabled = true;
    return o;
  }
  if (s.description !== undefined) o.description = s.description;
  if (s.type === 'audio' || s.type === 'video') o.codec = s.codec ?? null;
  if (s.type === 'video') {
    if (s.moderated) o.moderated = true;
    if (s.simulcast) o.simulcast = true;
  }
  return o;
}

/** leaving / kicked / unpublished: no handle, as in Janus. */
export function participantGoneEvent(ctx: VrContext, event: 'leaving' | 'kicked' | 'unpublished', room: VrId, id: VrId): void {
  emit(ctx, null, () => ({ event, room, id }));
}

export function moderatedEvent(ctx: VrContext, room: VrId, id: VrId, mid: string, muted: boolean): void {
  // Janus keys this one (and the talking events) "videoroom", not "event".
  emit(ctx, null, () => ({ videoroom: 'moderated', room, id, mid, moderation: muted ? 'muted' : 'unmuted' }));
}

export function talkingEvent(ctx: VrContext, me: Participant, talking: boolean, mindex: number, mid: string, avg: number): void {
  emit(ctx, me.session, () => ({ videoroom: talking ? 'talking' : 'stopped-talking', room: me.room.id, id: me.id, mindex, mid, 'audio-level-dBov-avg': avg }));
}

export function stopRtpForwardEvent(ctx: VrContext, room: VrId, publisherId: VrId, streamId: number): void {
  emit(ctx, null, () => ({ event: 'stop_rtp_forward', room, publisher_id: publisherId, stream_id: streamId }));
}

/** A subscriber's PeerConnection is up. Janus sends the room as a number even with string ids. */
export function subscribedEvent(ctx: VrContext, session: PluginSession, room: VrId): void {
  emit(ctx, session, () => ({ event: 'subscribed', room }));
}
