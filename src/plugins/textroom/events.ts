/**
 * Plugin events (type 64) for the event handlers, with the names and keys Janus 1.1.2's TextRoom
 * sends: created/edited/destroyed (requester's handle, none from the Admin API), join and leave
 * (the participant's handle) and kicked (keyed "textroom", not "event", with the requester's
 * handle). Messages and announcements send none. Every helper checks `general.events` and the
 * host first, so nothing is built when nobody listens.
 */
import type { PluginSession } from '../../core/plugin.js';
import type { Origin, TrContext } from './context.js';
import type { RoomId } from './ids.js';

type Data = Record<string, unknown>;

export function trEventsOn(ctx: TrContext): boolean {
  return ctx.general.events && (ctx.host.eventsEnabled?.() ?? false);
}

function emit(ctx: TrContext, session: PluginSession | null, build: () => Data): void {
  if (!trEventsOn(ctx)) return;
  ctx.host.notifyEvent?.(session, build());
}

const requester = (origin: Origin): PluginSession | null => (origin.kind === 'admin' ? null : origin.session);

export function roomEvent(ctx: TrContext, origin: Origin, event: 'created' | 'edited' | 'destroyed', room: RoomId): void {
  emit(ctx, requester(origin), () => ({ event, room }));
}

export function joinEvent(ctx: TrContext, session: PluginSession, room: RoomId, username: string, display: string | undefined): void {
  emit(ctx, session, () => {
    const d: Data = { event: 'join', room, username };
    if (display !== undefined) d.display = display;
    return d;
  });
}

export function leaveEvent(ctx: TrContext, session: PluginSession, room: RoomId, username: string): void {
  emit(ctx, session, () => ({ event: 'leave', room, username }));
}

export function kickedEvent(ctx: TrContext, origin: Origin, room: RoomId, username: string): void {
  emit(ctx, requester(origin), () => ({ textroom: 'kicked', room, username }));
}
