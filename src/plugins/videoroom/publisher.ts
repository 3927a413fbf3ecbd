/**
 * Asynchronous participant requests on a publisher-type handle that need no media:
 * `join` (ptype publisher), `configure` without JSEP, `leave`. Their answers are events
 * pushed with the request's transaction.
 */
import { randomInt } from 'node:crypto';
import type { PluginSession } from '../../core/plugin.js';
import { notify, type VrContext } from './context.js';
import { mediaPending, VrError, VrErrorCode } from './errors.js';
import { removeParticipant } from './membership.js';
import { Params, type Body } from './params.js';
import { Participant, type HandleState } from './participant.js';
import { safeEqual } from './secrets.js';
import { missing } from './params.js';

type Data = Record<string, unknown>;

const PTYPES = new Set(['publisher', 'subscriber', 'listener']);

export function join(ctx: VrContext, session: PluginSession, state: HandleState, body: Body): Data {
  // A handle that already joined is refused before the request is validated at all, as Janus does.
  if (state.kind === 'publisher') throw new VrError(VrErrorCode.ALREADY_JOINED, 'Already in as a publisher on this handle');
  if (state.kind === 'gone') throw new VrError(VrErrorCode.ALREADY_JOINED, 'Not in a room (create a new handle)');
  const p = new Params(body);
  const ptype = p.requireString('ptype');
  const roomId = ctx.ids.require(body.room, 'room');
  const room = ctx.rooms.get(roomId);
  if (room === undefined) throw new VrError(VrErrorCode.NO_SUCH_ROOM, `No such room (${roomId})`);
  // The pin is checked before the role, as Janus does (a subscriber needs it too).
  const pin = p.string('pin');
  if (room.settings.pin !== null) {
    if (pin === undefined) throw missing('pin');
    if (!safeEqual(pin, room.settings.pin)) throw new VrError(VrErrorCode.UNAUTHORIZED, 'Unauthorized (wrong pin)');
  }
  if (!PTYPES.has(ptype)) throw new VrError(VrErrorCode.INVALID_ELEMENT, 'Invalid element (ptype)');
  if (ptype !== 'publisher') throw mediaPending('Subscribers');

  let id = ctx.ids.parse(body.id, 'id');
  const display = p.string('display');
  const token = p.string('token');
  const metadata = p.any('metadata');
  if (room.settings.signed_tokens) {
    // Signed-token validation needs the core's token machinery; refusing is the safe answer until then.
    throw new VrError(VrErrorCode.UNAUTHORIZED, 'Unauthorized (signed tokens not supported yet)');
  }
  if (!room.isAllowed(token)) throw new VrError(VrErrorCode.UNAUTHORIZED, 'Unauthorized (not in the allowed list)');
  if (id === undefined || ctx.ids.isUnset(id)) id = ctx.ids.random((x) => room.participants.has(x));
  else if (room.participants.has(id)) throw new VrError(VrErrorCode.ID_EXISTS, `User ID ${id} already exists`);

  let privateId: number;
  do privateId = randomInt(1, 2 ** 32);
  while (room.privateIdTaken(privateId));

  const me = new Participant(id, privateId, room, session);
  if (display !== undefined) me.display = display;
  if (metadata !== undefined) me.metadata = metadata;
  const others = [...room.participants.values()];
  room.participants.set(id, me);
  session.state = { kind: 'publisher', participant: me } satisfies HandleState;
  ctx.log.verb(`videoroom: ${id} joined room ${room.id}`, { room: room.id, id, handle: session.handleId });

  if (room.settings.notify_joining) notify(ctx, others, { videoroom: 'event', room: room.id, joining: me.identity() });
  const data: Data = {
    videoroom: 'joined',
    room: room.id,
    description: room.settings.description,
    id,
    private_id: privateId,
    publishers: room.activePublishers().map((x) => x.publisherEntry()),
  };
  if (room.settings.notify_joining) data.attendees = others.filter((x) => !x.media.active).map((x) => x.identity());
  return data;
}

export function configure(ctx: VrContext, me: Participant, body: Body): Data {
  const p = new Params(body);
  // Validated for type even though most only matter once media flows, so a client's typo fails now.
  const bitrate = p.posInt('bitrate');
  p.bool('keyframe');
  p.bool('record');
  p.string('filename');
  p.posInt('audio_active_packets');
  p.posInt('audio_level_average');
  p.array('streams');
  p.array('descriptions');
  p.bool('update');
  p.bool('restart');
  const display = p.string('display');
  const metadata = p.any('metadata');
  if (bitrate !== undefined) me.media.bitrate = bitrate;
  const changed = (display !== undefined && display !== me.display) || metadata !== undefined;
  if (display !== undefined) me.display = display;
  if (metadata !== undefined) me.metadata = metadata;
  const room = me.room;
  if (changed) {
    const ev: Data = { videoroom: 'event', id: me.id, display: me.display ?? '' };
    if (me.metadata !== undefined) ev.metadata = me.metadata;
    notify(ctx, room.others(me), ev);
  }
  return { videoroom: 'event', room: room.id, configured: 'ok' };
}

export function leave(ctx: VrContext, me: Participant): Data {
  const roomId = me.room.id;
  removeParticipant(ctx, me, 'leave');
  return { videoroom: 'event', room: roomId, leaving: 'ok' };
}
