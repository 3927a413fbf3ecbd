/**
 * Room management requests, shared by the data channel, the Janus API `message` and the Admin
 * API `message_plugin`: list, listparticipants, exists, create, edit, destroy, allowed, kick,
 * announcement. Validation happens in the order Janus uses, so the same bad request gets the
 * same error code and text. State changes are synchronous; only a permanent write-back makes a reply asynchronous.
 */
import { MAX_HISTORY, Room } from './room.js';
import type { Origin, TrContext } from './context.js';
import { janusDate } from './date.js';
import { noSuchRoom, TrError, TrErrorCode, type Data } from './errors.js';
import type { RoomId } from './ids.js';
import { Params, stringArray } from './params.js';
import { checkSecret } from './secrets.js';
import { handleOf } from './session.js';
import { kickedEvent, roomEvent } from './events.js';

export type Handler = (ctx: TrContext, origin: Origin, p: Params) => Data | null | Promise<Data | null>;

const NOT_STRINGS = 'Invalid element in the allowed array (not a string)';

export function findRoom(ctx: TrContext, id: RoomId): Room {
  const room = ctx.rooms.get(id);
  if (room === undefined) throw noSuchRoom(id);
  return room;
}

/**
 * Reply of create/edit/destroy. Janus answers `success` on the data channel but names the action
 * (`created`...) over the API. Only a permanent change waits (for the file write).
 */
function changed(origin: Origin, apiKind: string, id: RoomId, save: (() => Promise<boolean>) | null): Data | Promise<Data> {
  const reply = (permanent: boolean): Data => ({ textroom: origin.kind === 'datachannel' ? 'success' : apiKind, room: id, permanent });
  return save === null ? reply(false) : save().then(reply);
}

/**
 * A backend URL a request names (create `post`, edit `new_post`): refused with the invalid-element
 * error when the post policy does not allow it (src/security/post-targets.ts); the reason is logged.
 */
function checkPost(ctx: TrContext, name: string, url: string): void {
  const problem = ctx.postPolicy.problem(url);
  if (problem === null) return;
  ctx.log.warn(`textroom: refused ${name} ${url}: ${problem}`);
  throw new TrError(TrErrorCode.INVALID_ELEMENT, `Invalid element (${name})`);
}

function list(ctx: TrContext, _origin: Origin, p: Params): Data {
  let showPrivate = false;
  const given = p.body.admin_key;
  // Only a non-empty key is checked: without one, private rooms are simply left out.
  if (ctx.general.adminKey !== null && typeof given === 'string' && given.length > 0) {
    checkSecret(ctx.general.adminKey, p, 'admin_key');
    showPrivate = true;
  }
  const rooms: Data[] = [];
  for (const room of ctx.rooms.values()) {
    if (room.settings.isPrivate && !showPrivate) continue;
    rooms.push({
      room: room.id,
      description: room.settings.description,
      pin_required: room.settings.pin !== null,
      num_participants: room.participants.size,
      history: room.settings.history,
    });
  }
  return { textroom: 'success', list: rooms };
}

function listParticipants(ctx: TrContext, _origin: Origin, p: Params): Data {
  const room = findRoom(ctx, ctx.ids.require(p.body.room));
  return { textroom: 'success', room: room.id, participants: [...room.participants.values()].map(Room.describe) };
}

function exists(ctx: TrContext, _origin: Origin, p: Params): Data {
  const id = ctx.ids.require(p.body.room);
  return { textroom: 'success', room: id, exists: ctx.rooms.has(id) };
}

function create(ctx: TrContext, origin: Origin, p: Params): Data | Promise<Data> {
  const description = p.string('description');
  const secret = p.string('secret');
  const pin = p.string('pin');
  const post = p.string('post');
  const isPrivate = p.bool('is_private');
  const history = p.posInt('history');
  const allowed = p.array('allowed');
  const permanent = p.bool('permanent') ?? false;
  const requested = ctx.ids.parse(p.body.room);
  if (ctx.general.adminKey !== null) checkSecret(ctx.general.adminKey, p, 'admin_key');
  const tokens = allowed === undefined ? undefined : stringArray(allowed, NOT_STRINGS);
  if (post !== undefined && post !== '') checkPost(ctx, 'post', post);
  if (!ctx.ids.isUnset(requested) && ctx.rooms.has(requested!)) {
    throw new TrError(TrErrorCode.ROOM_EXISTS, `Room ${requested} already exists`);
  }
  const id = ctx.ids.isUnset(requested) ? ctx.ids.random((x) => ctx.rooms.has(x)) : requested!;
  let kept = history ?? 0;
  if (kept > MAX_HISTORY) {
    ctx.log.warn(`textroom: room ${id}: history ${kept} capped at ${MAX_HISTORY} messages`);
    kept = MAX_HISTORY;
  }
  const room = new Room(id, {
    description: description !== undefined && description !== '' ? description : `Room ${id}`,
    secret: secret ?? null,
    pin: pin ?? null,
    isPrivate: isPrivate ?? false,
    history: kept,
    post: post ?? null,
  });
  if (tokens !== undefined) {
    for (const t of tokens) room.allowed.add(t);
    room.checkTokens = true;
  }
  ctx.rooms.set(id, room);
  ctx.link?.roomChanged(id, true);
  ctx.log.verb(`textroom: created room ${id} (${room.settings.description})`);
  if (room.settings.post !== null) ctx.log.info(`textroom: room ${id} posts to ${room.settings.post}`);
  roomEvent(ctx, origin, 'created', id);
  return changed(origin, 'created', id, permanent ? () => ctx.store.saveRoom(room) : null);
}

function edit(ctx: TrContext, origin: Origin, p: Params): Data | Promise<Data> {
  p.string('secret');
  const description = p.string('new_description');
  const secret = p.string('new_secret');
  const pin = p.string('new_pin');
  const post = p.string('new_post');
  const isPrivate = p.bool('new_is_private');
  const permanent = p.bool('permanent') ?? false;
  const room = findRoom(ctx, ctx.ids.require(p.body.room));
  checkSecret(room.settings.secret, p, 'secret');
  if (post) checkPost(ctx, 'new_post', post);
  // Empty strings leave a setting as it is (Janus cannot clear a pin or backend through edit).
  const s = room.settings;
  if (description) s.description = description;
  if (isPrivate !== undefined) s.isPrivate = isPrivate;
  if (secret) s.secret = secret;
  if (post) {
    s.post = post;
    ctx.log.info(`textroom: room ${room.id} now posts to ${post}`);
  }
  if (pin) s.pin = pin;
  roomEvent(ctx, origin, 'edited', room.id);
  return changed(origin, 'edited', room.id, permanent ? () => ctx.store.saveRoom(room) : null);
}

function destroy(ctx: TrContext, origin: Origin, p: Params): Data | Promise<Data> {
  const permanent = p.bool('permanent') ?? false;
  const room = findRoom(ctx, ctx.ids.require(p.body.room));
  checkSecret(room.settings.secret, p, 'secret');
  ctx.rooms.delete(room.id);
  ctx.link?.roomChanged(room.id, false);
  const frame = ctx.out.format({ textroom: 'destroyed', room: room.id });
  // The requester hears about it too (Janus relays to it first); once is enough if it was also a participant.
  if (origin.kind !== 'admin' && !handleOf(origin.session).rooms.has(room.id)) ctx.out.sendText(origin.session, frame);
  for (const participant of room.participants.values()) {
    ctx.out.sendText(participant.session, frame);
    handleOf(participant.session).rooms.delete(room.id);
    ctx.out.membership(participant.session, room.id, false);
  }
  room.participants.clear();
  roomEvent(ctx, origin, 'destroyed', room.id);
  return changed(origin, 'destroyed', room.id, permanent ? () => ctx.store.removeRoom(room.id) : null);
}

function allowedRequest(ctx: TrContext, _origin: Origin, p: Params): Data {
  p.string('secret');
  const action = p.requireString('action');
  const tokens = p.array('allowed');
  const id = ctx.ids.require(p.body.room);
  const verb = action.toLowerCase();
  if (verb !== 'enable' && verb !== 'disable' && verb !== 'add' && verb !== 'remove') {
    throw new TrError(TrErrorCode.INVALID_ELEMENT, `Unsupported action '${action}' (allowed)`);
  }
  const room = findRoom(ctx, id);
  checkSecret(room.settings.secret, p, 'secret');
  if (verb === 'enable') room.checkTokens = true;
  else if (verb === 'disable') room.checkTokens = false;
  else if (tokens !== undefined) {
    for (const t of stringArray(tokens, NOT_STRINGS)) {
      if (verb === 'add') room.allowed.add(t);
      else room.allowed.delete(t);
    }
  }
  const reply: Data = { textroom: 'success', room: room.id };
  if (verb !== 'disable') reply.allowed = [...room.allowed];
  return reply;
}

function kick(ctx: TrContext, origin: Origin, p: Params): Data {
  p.string('secret');
  const username = p.requireString('username');
  const room = findRoom(ctx, ctx.ids.require(p.body.room));
  checkSecret(room.settings.secret, p, 'secret');
  const target = room.participants.get(username);
  if (target === undefined) throw new TrError(TrErrorCode.NO_SUCH_USER, `No such user ${username} in room ${room.id}`);
  // Everyone, the kicked user included, learns about it before the user is removed.
  ctx.out.broadcast(room.participants.values(), ctx.out.format({ textroom: 'kicked', room: room.id, username }));
  kickedEvent(ctx, origin, room.id, username);
  room.participants.delete(username);
  handleOf(target.session).rooms.delete(room.id);
  ctx.out.membership(target.session, room.id, false);
  return { textroom: 'success' };
}

function announcement(ctx: TrContext, _origin: Origin, p: Params): Data {
  p.string('secret');
  const text = p.requireString('text');
  const room = findRoom(ctx, ctx.ids.require(p.body.room));
  checkSecret(room.settings.secret, p, 'secret');
  const frame = ctx.out.format({ textroom: 'announcement', room: room.id, date: janusDate(), text });
  ctx.out.broadcast(room.participants.values(), frame);
  room.remember(frame);
  if (room.settings.post !== null) ctx.poster.post(room.settings.post, frame);
  return { textroom: 'success' };
}

/** Requests available on every path (data channel, Janus API, Admin API). */
export const MANAGEMENT: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['list', list],
  ['listparticipants', listParticipants],
  ['exists', exists],
  ['create', create],
  ['edit', edit],
  ['destroy', destroy],
  ['allowed', allowedRequest],
  ['kick', kick],
  ['announcement', announcement],
]);
