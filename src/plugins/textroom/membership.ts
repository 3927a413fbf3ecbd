/**
 * Participation, data channel only: join, leave, message; and leaving every room when a
 * PeerConnection goes away. Events go to the participant itself too (as Janus does) so a client
 * can treat its own join/leave/message like anyone else's.
 */
import type { PluginSession } from '../../core/plugin.js';
import type { TrContext } from './context.js';
import { janusDate } from './date.js';
import { TrError, TrErrorCode, type Data } from './errors.js';
import { findRoom } from './management.js';
import { Params, stringArray } from './params.js';
import { Room, type Participant } from './room.js';
import { checkSecret } from './secrets.js';
import { handleOf } from './session.js';
import { joinEvent, leaveEvent } from './events.js';

export type DcHandler = (ctx: TrContext, session: PluginSession, p: Params) => Data | null;

function membership(session: PluginSession, room: Room): Participant {
  const me = handleOf(session).rooms.get(room.id);
  if (me === undefined) throw new TrError(TrErrorCode.NOT_IN_ROOM, `Not in room ${room.id}`);
  return me;
}

function join(ctx: TrContext, session: PluginSession, p: Params): Data {
  const username = p.requireString('username');
  p.string('pin');
  const token = p.string('token');
  const display = p.string('display');
  const wantsHistory = p.bool('history') ?? true;
  const room = findRoom(ctx, ctx.ids.require(p.body.room));
  checkSecret(room.settings.pin, p, 'pin');
  const handle = handleOf(session);
  if (handle.rooms.has(room.id)) throw new TrError(TrErrorCode.ALREADY_IN_ROOM, `Already in room ${room.id}`);
  if (room.participants.has(username)) throw new TrError(TrErrorCode.USERNAME_EXISTS, 'Username already taken');
  if (room.checkTokens && (token === undefined || !room.allowed.has(token))) {
    throw new TrError(TrErrorCode.UNAUTHORIZED, 'Unauthorized (not in the allowed list)');
  }
  const others = [...room.participants.values()];
  const me: Participant = { session, room, username, display: display ?? null };
  room.participants.set(username, me);
  handle.rooms.set(room.id, me);
  ctx.out.membership(session, room.id, true);
  if (wantsHistory) for (const frame of room.history()) ctx.out.sendText(session, frame);
  const event: Data = { textroom: 'join', room: room.id, username };
  if (display !== undefined) event.display = display;
  const frame = ctx.out.format(event);
  ctx.out.sendText(session, frame);
  ctx.out.broadcast(others, frame);
  joinEvent(ctx, session, room.id, username, display);
  return { textroom: 'success', participants: others.map(Room.describe) };
}

/** Take `me` out of its room; `toSelf` is false when its data channel is already gone. */
export function removeParticipant(ctx: TrContext, me: Participant, toSelf: boolean): void {
  const room = me.room;
  if (room.participants.get(me.username) === me) room.participants.delete(me.username);
  handleOf(me.session).rooms.delete(room.id);
  ctx.out.membership(me.session, room.id, false);
  const frame = ctx.out.format({ textroom: 'leave', room: room.id, username: me.username });
  if (toSelf) ctx.out.sendText(me.session, frame);
  ctx.out.broadcast(room.participants.values(), frame);
}

function leave(ctx: TrContext, session: PluginSession, p: Params): Data {
  const room = findRoom(ctx, ctx.ids.require(p.body.room));
  const me = membership(session, room);
  removeParticipant(ctx, me, true);
  leaveEvent(ctx, session, room.id, me.username);
  return { textroom: 'success' };
}

function message(ctx: TrContext, session: PluginSession, p: Params): Data | null {
  const text = p.requireString('text');
  const to = p.string('to');
  const tos = p.array('tos');
  const ack = p.bool('ack') ?? true;
  const room = findRoom(ctx, ctx.ids.require(p.body.room));
  const me = membership(session, room);
  if (to !== undefined && tos !== undefined) throw new TrError(TrErrorCode.INVALID_ELEMENT, 'Both to and tos array provided');
  const targets = to !== undefined ? [to] : tos !== undefined ? stringArray(tos, 'Invalid tos provided') : null;
  const event: Data = { textroom: 'message', room: room.id, from: me.username, date: janusDate(), text };
  if (targets !== null) event.whisper = true;
  const frame = ctx.out.format(event);
  const reply: Data = { textroom: 'success' };
  if (targets === null) {
    ctx.out.broadcast(room.participants.values(), frame);
    if (room.settings.history > 0) {
      // History entries carry the sender's display name: the sender may have left by replay time.
      room.remember(ctx.out.format(me.display === null ? event : { ...event, display: me.display }));
    }
    if (room.settings.post !== null) ctx.poster.post(room.settings.post, frame);
  } else {
    // Null prototype: a username like "__proto__" must become a key, not touch the prototype.
    const sent: Data = Object.create(null) as Data;
    for (const name of targets) {
      const target = room.participants.get(name);
      if (target !== undefined) ctx.out.sendText(target.session, frame);
      else ctx.log.verb(`textroom: user ${name} is not in room ${room.id}, whisper not delivered`);
      sent[name] = target !== undefined;
    }
    reply.sent = sent;
  }
  return ack ? reply : null;
}

export const PARTICIPATION: ReadonlyMap<string, DcHandler> = new Map<string, DcHandler>([
  ['join', join],
  ['leave', leave],
  ['message', message],
]);

/** The PeerConnection (or the handle) is gone: leave every room, telling the others. */
export function leaveAll(ctx: TrContext, session: PluginSession): number {
  const mine = [...handleOf(session).rooms.values()];
  for (const me of mine) removeParticipant(ctx, me, false);
  return mine.length;
}
