/**
 * Synchronous room-management requests (also reachable through Admin API `message_plugin`).
 * Each handler validates its whole body first, then looks the room up, then checks the secret:
 * the order Janus reports errors in.
 */
import type { VrContext } from './context.js';
import { notify } from './context.js';
import { noSuchRoom, VrError, VrErrorCode } from './errors.js';
import type { VrId } from './ids.js';
import { dropSubscribers, removeParticipant } from './membership.js';
import { moderatedEvent, roomEvent } from './events.js';
import type { PluginSession } from '../../core/plugin.js';
import { Params, type Body } from './params.js';
import { Room } from './room.js';
import { defaultSettings, settingsFromRequest } from './room-settings.js';
import { checkKey } from './auth.js';
import { setRecording } from './recording.js';
import { listForwarders, rtpForward, stopRtpForward } from './rtp-forward.js';
import { addRemotePublisher, removeRemotePublisher, updateRemotePublisher } from './remote-publisher.js';
import { listRemotes, publishRemotely, unpublishRemotely } from './publish-remotely.js';

type Data = Record<string, unknown>;
/** `session`: the requesting handle, null from the Admin API (Janus names it in the events it sends). */
type Handler = (ctx: VrContext, body: Body, session: PluginSession | null) => Data | Promise<Data>;

function findRoom(ctx: VrContext, id: VrId): Room {
  const room = ctx.rooms.get(id);
  if (room === undefined) throw noSuchRoom(id);
  return room;
}

/**
 * A folder a request names: no `..`, not in a protected folder. Refused with Janus's invalid-element
 * error; the reason goes to the log only (it may say more about the file system than the caller may know).
 */
function checkFolder(ctx: VrContext, name: string, dir: string): void {
  const problem = ctx.paths.pathProblem(dir);
  if (problem === null) return;
  ctx.log.warn(`videoroom: refused ${name} ${JSON.stringify(dir)}: ${problem}`);
  throw new VrError(VrErrorCode.INVALID_ELEMENT, `Invalid element (${name})`);
}

function stringArray(p: Params, name: string): string[] | undefined {
  const arr = p.array(name);
  if (arr === undefined) return undefined;
  for (const t of arr) {
    if (typeof t !== 'string') throw new VrError(VrErrorCode.INVALID_ELEMENT, `Invalid element in the ${name} array (not a string)`);
  }
  return arr as string[];
}

async function create(ctx: VrContext, body: Body, session: PluginSession | null): Promise<Data> {
  const p = new Params(body);
  let id = ctx.ids.parse(body.room, 'room');
  const permanent = p.bool('permanent') ?? false;
  const settings = settingsFromRequest(p, defaultSettings('', ctx.general.defaultPublishers));
  const allowed = stringArray(p, 'allowed');
  checkKey(p, 'admin_key', ctx.general.adminKey);
  if (settings.rec_dir !== null) checkFolder(ctx, 'rec_dir', settings.rec_dir);
  if (id === undefined || ctx.ids.isUnset(id)) id = ctx.ids.random((x) => ctx.rooms.has(x));
  else if (ctx.rooms.has(id)) throw new VrError(VrErrorCode.ROOM_EXISTS, `Room ${id} already exists`);
  if (settings.description === '') settings.description = `Room ${id}`;
  const room = new Room(id, settings);
  if (allowed !== undefined) {
    room.addAllowed(allowed);
    room.aclEnabled = true;
  }
  ctx.rooms.set(id, room);
  ctx.log.verb(`videoroom: created room ${id}`, { room: id, permanent });
  const saved = permanent ? await ctx.store.saveRoom(room) : false;
  roomEvent(ctx, session, 'created', id);
  return { videoroom: 'created', room: id, permanent: saved };
}

async function edit(ctx: VrContext, body: Body, session: PluginSession | null): Promise<Data> {
  const p = new Params(body);
  const id = ctx.ids.require(body.room, 'room');
  p.string('secret');
  const description = p.string('new_description');
  const secret = p.string('new_secret');
  const pin = p.string('new_pin');
  const isPrivate = p.bool('new_is_private');
  const requirePvtid = p.bool('new_require_pvtid');
  const bitrate = p.posInt('new_bitrate');
  const firFreq = p.posInt('new_fir_freq');
  const publishers = p.posInt('new_publishers');
  const lockRecord = p.bool('new_lock_record');
  const recDir = p.string('new_rec_dir');
  const permanent = p.bool('permanent') ?? false;
  const room = findRoom(ctx, id);
  checkKey(p, 'secret', room.settings.secret);
  if (recDir !== undefined) checkFolder(ctx, 'new_rec_dir', recDir);
  const s = { ...room.settings };
  if (description !== undefined && description !== '') s.description = description;
  // Empty strings leave secret and pin as they were (Janus ignores them too; there is no "remove the pin").
  if (secret !== undefined && secret !== '') s.secret = secret;
  if (pin !== undefined && pin !== '') s.pin = pin;
  if (isPrivate !== undefined) s.is_private = isPrivate;
  if (requirePvtid !== undefined) s.require_pvtid = requirePvtid;
  if (bitrate !== undefined) s.bitrate = bitrate > 0 && bitrate < 64000 ? 64000 : bitrate;
  if (firFreq !== undefined) s.fir_freq = firFreq;
  if (publishers !== undefined) s.publishers = publishers;
  if (lockRecord !== undefined) s.lock_record = lockRecord;
  if (recDir !== undefined) {
    s.rec_dir = recDir;
    room.recDirConfigured = false;
  }
  room.settings = s;
  const saved = permanent ? await ctx.store.saveRoom(room) : false;
  roomEvent(ctx, session, 'edited', id);
  return { videoroom: 'edited', room: id, permanent: saved };
}

async function destroy(ctx: VrContext, body: Body, session: PluginSession | null): Promise<Data> {
  const p = new Params(body);
  const id = ctx.ids.require(body.room, 'room');
  p.string('secret');
  const permanent = p.bool('permanent') ?? false;
  const room = findRoom(ctx, id);
  checkKey(p, 'secret', room.settings.secret);
  ctx.rooms.delete(id);
  room.destroyed = true;
  const members = [...room.participants.values()];
  for (const m of members) removeParticipant(ctx, m, 'destroy');
  dropSubscribers(ctx, room);
  ctx.remote?.roomGone(room);
  notify(ctx, members, { videoroom: 'destroyed', room: id });
  ctx.log.verb(`videoroom: destroyed room ${id}`, { room: id, participants: members.length });
  const saved = permanent ? await ctx.store.removeRoom(id) : false;
  roomEvent(ctx, session, 'destroyed', id);
  return { videoroom: 'destroyed', room: id, permanent: saved };
}

function exists(ctx: VrContext, body: Body): Data {
  const id = ctx.ids.require(body.room, 'room');
  return { videoroom: 'success', room: id, exists: ctx.rooms.has(id) };
}

function list(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  let showPrivate = false;
  // admin_key is optional here; when given (and configured) it must be right, and then shows private rooms.
  if (p.string('admin_key') !== undefined && ctx.general.adminKey !== null) {
    checkKey(p, 'admin_key', ctx.general.adminKey);
    showPrivate = true;
  }
  const rooms = [...ctx.rooms.values()].filter((r) => showPrivate || !r.settings.is_private);
  return { videoroom: 'success', list: rooms.map((r) => r.listEntry()) };
}

const ACTIONS = new Set(['enable', 'disable', 'add', 'remove']);

function allowed(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  const id = ctx.ids.require(body.room, 'room');
  p.string('secret');
  const action = p.requireString('action');
  const tokens = stringArray(p, 'allowed');
  if (!ACTIONS.has(action)) throw new VrError(VrErrorCode.INVALID_ELEMENT, `Unsupported action '${action}' (allowed)`);
  const room = findRoom(ctx, id);
  checkKey(p, 'secret', room.settings.secret);
  switch (action) {
    case 'enable':
      room.aclEnabled = true;
      break;
    case 'disable':
      room.aclEnabled = false;
      return { videoroom: 'success', room: id };
    case 'add':
      room.addAllowed(tokens ?? []);
      break;
    case 'remove':
      room.removeAllowed(tokens ?? []);
      break;
  }
  return { videoroom: 'success', room: id, allowed: room.allowedList() };
}

function kick(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  const id = ctx.ids.require(body.room, 'room');
  p.string('secret');
  const userId = ctx.ids.require(body.id, 'id');
  const room = findRoom(ctx, id);
  checkKey(p, 'secret', room.settings.secret);
  const target = room.participants.get(userId);
  if (target === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such user ${userId} in room ${id}`);
  removeParticipant(ctx, target, 'kick');
  return { videoroom: 'success' };
}

function moderate(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  const id = ctx.ids.require(body.room, 'room');
  p.string('secret');
  const userId = ctx.ids.require(body.id, 'id');
  const mid = p.requireString('mid');
  const mute = p.requireBool('mute');
  const room = findRoom(ctx, id);
  checkKey(p, 'secret', room.settings.secret);
  const target = room.participants.get(userId);
  if (target === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such user ${userId} in room ${id}`);
  const stream = target.media.streams.find((s) => s.mid === mid);
  if (stream === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such stream ${mid}`);
  const unmuted = stream.moderated && !mute;
  stream.moderated = mute;
  // A mirror on another worker gates the stream by its own copy of the flag: a copy taken while the
  // stream was muted kept its remote subscribers without it after the unmute.
  ctx.remote?.feedChanged(target);
  // Subscribers of an unmuted video stream need a keyframe to start decoding again.
  if (unmuted && stream.type === 'video') ctx.media?.sendPli(target.session, stream.mid);
  moderatedEvent(ctx, room.id, target.id, mid, mute);
  return { videoroom: 'success' };
}

/**
 * The room's recording switch: when it changes, every participant follows (files open now for those
 * publishing, at publish time for the others). Always needs the room secret, lock_record or not.
 */
function enableRecording(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  const id = ctx.ids.require(body.room, 'room');
  p.string('secret');
  const record = p.requireBool('record');
  const room = findRoom(ctx, id);
  checkKey(p, 'secret', room.settings.secret);
  if (room.settings.record !== record) {
    room.settings = { ...room.settings, record };
    for (const m of room.participants.values()) setRecording(ctx, m, record);
  }
  return { videoroom: 'success', record };
}

function listParticipants(ctx: VrContext, body: Body): Data {
  const id = ctx.ids.require(body.room, 'room');
  const room = findRoom(ctx, id);
  const participants = [...room.participants.values()].map((m) => {
    const o: Data = m.remoteFeed !== null ? { ...m.identity(), remote: true, publisher: m.media.active } : { ...m.identity(), publisher: m.media.active };
    if (m.media.active && m.media.streams.some((x) => x.type === 'audio' && x.audioLevelExt > 0)) o.talking = m.media.streams.some((x) => x.talking);
    return o;
  });
  return { videoroom: 'participants', room: id, participants };
}

/** The synchronous requests; the same table serves handle messages and Admin `message_plugin`. */
export const SYNC_REQUESTS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['create', create],
  ['edit', edit],
  ['destroy', destroy],
  ['exists', exists],
  ['list', list],
  ['allowed', allowed],
  ['kick', kick],
  ['moderate', moderate],
  ['enable_recording', enableRecording],
  ['listparticipants', listParticipants],
  ['listforwarders', listForwarders],
  ['rtp_forward', rtpForward],
  ['stop_rtp_forward', stopRtpForward],
  ['add_remote_publisher', (ctx, body) => addRemotePublisher(ctx, body)],
  ['update_remote_publisher', updateRemotePublisher],
  ['remove_remote_publisher', removeRemotePublisher],
  ['publish_remotely', publishRemotely],
  ['unpublish_remotely', unpublishRemotely],
  ['listremotes', listRemotes],
]);
