/**
 * Room management requests (also reachable through Admin API `message_plugin`): create, edit,
 * destroy, exists, list, allowed, listparticipants, mute/unmute (participant and room), kick,
 * kick_all; and the room lifecycle (newRoom, teardownRoom).
 */
import { checkSecret, AbError, AbErrorCode, validate } from './errors.js';
import { notify, participantJson, type AbContext, type Body, type Data } from './context.js';
import { findRoom, parseId, randomId, roomOf, userOf } from './ids.js';
import { ALLOWED_PARAMS, CREATE_PARAMS, EDIT_PARAMS, MAX_GROUPS, RATES, SECRET_PARAMS } from './params.js';
import { hangupInternal } from './participants.js';
import { persist, save } from './config.js';
import { checkFolder, checkName, startRecording } from './recording.js';
import { dropForwarders } from './rtp-forward.js';
import { CrossKind, legLeft, sendTo } from './cross-worker.js';
import { Room, type AbId, type RoomSettings } from './room.js';

export function exists(ctx: AbContext, body: Body): Data {
  const id = parseId(ctx, body, 'room', true)!;
  return { audiobridge: 'success', room: id, exists: ctx.rooms.has(id) };
}

export function listParticipants(ctx: AbContext, body: Body): Data {
  const room = roomOf(ctx, body);
  const list = [...room.participants.values()].map((p) => participantJson(ctx, p, room, { talking: true }));
  return { audiobridge: 'participants', room: room.settings.id, participants: list };
}

export async function create(ctx: AbContext, body: Body): Promise<Data> {
  validate(body, CREATE_PARAMS);
  const wanted = parseId(ctx, body, 'room', false);
  if (ctx.adminKey !== null) checkSecret(ctx.adminKey, body, 'admin_key');
  checkFolder(ctx, body, 'record_dir');
  checkFolder(ctx, body, 'mjrs_dir');
  checkName(ctx, body, 'record_file');
  const allowed = body['allowed'] as unknown[] | undefined;
  if (allowed && !allowed.every((a) => typeof a === 'string')) {
    throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element in the allowed array (not a string)');
  }
  const groups = body['groups'] as unknown[] | undefined;
  if (groups && groups.length > MAX_GROUPS) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Too many groups specified (max ${MAX_GROUPS} allowed)`);
  if (groups && !groups.every((a) => typeof a === 'string')) {
    throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element in the groups array (not a string)');
  }
  let id: AbId;
  if (wanted !== undefined && wanted !== 0 && wanted !== '') {
    if (ctx.rooms.has(wanted)) throw new AbError(AbErrorCode.ROOM_EXISTS, `Room ${String(wanted)} already exists`);
    id = wanted;
  } else id = randomId(ctx, (x) => ctx.rooms.has(x));
  const rate = (body['sampling_rate'] ?? body['sampling'] ?? 16000) as number;
  if (!RATES.includes(rate)) throw new AbError(AbErrorCode.UNKNOWN_ERROR, `Unsupported sampling rate ${rate}`);
  const levelEvent = body['audiolevel_event'] === true;
  const loss = body['default_expectedloss'] as number | undefined;
  const bitrate = body['default_bitrate'] as number | undefined;
  const desc = body['description'] as string | undefined;
  const settings: RoomSettings = {
    id,
    description: desc !== undefined && desc !== '' ? desc : `Room ${String(id)}`,
    secret: (body['secret'] as string | undefined) ?? null,
    pin: (body['pin'] as string | undefined) ?? null,
    isPrivate: body['is_private'] === true,
    samplingRate: rate,
    spatialAudio: body['spatial_audio'] === true,
    audiolevelExt: body['audiolevel_ext'] !== false,
    audiolevelEvent: levelEvent,
    audioActivePackets: levelEvent && (body['audio_active_packets'] as number) > 0 ? (body['audio_active_packets'] as number) : 100,
    audioLevelAverage: levelEvent && (body['audio_level_average'] as number) > 0 ? (body['audio_level_average'] as number) : 25,
    defaultExpectedLoss: loss !== undefined && loss <= 20 ? loss : 0,
    defaultBitrate: bitrate !== undefined && bitrate >= 500 && bitrate <= 512000 ? bitrate : 0,
    denoise: false,
    record: body['record'] === true,
    recordFile: (body['record_file'] as string | undefined) ?? null,
    recordDir: (body['record_dir'] as string | undefined) ?? null,
    mjrs: body['mjrs'] === true,
    mjrsDir: (body['mjrs_dir'] as string | undefined) ?? null,
    allowRtpParticipants: body['allow_rtp_participants'] === true,
    groups: [...new Set((groups as string[] | undefined) ?? [])],
    allowed: new Set((allowed as string[] | undefined) ?? []),
    checkTokens: allowed !== undefined,
  };
  const room = newRoom(ctx, settings);
  ctx.rooms.set(id, room);
  if (settings.record) startRecording(ctx, room);
  let permanent = false;
  if (body['permanent'] === true) permanent = await persist(ctx, room);
  return { audiobridge: 'created', room: id, permanent };
}

export async function edit(ctx: AbContext, body: Body): Promise<Data> {
  validate(body, EDIT_PARAMS);
  const room = roomOf(ctx, body);
  checkSecret(room.settings.secret, body, 'secret');
  checkFolder(ctx, body, 'new_record_dir');
  checkFolder(ctx, body, 'new_mjrs_dir');
  if (typeof body['new_record_dir'] === 'string' || typeof body['new_mjrs_dir'] === 'string') room.foldersConfigured = false;
  const st = room.settings;
  const desc = body['new_description'] as string | undefined;
  if (desc) st.description = desc;
  if (typeof body['new_is_private'] === 'boolean') st.isPrivate = body['new_is_private'];
  const secret = body['new_secret'] as string | undefined;
  if (secret) st.secret = secret;
  const pin = body['new_pin'] as string | undefined;
  if (pin !== undefined) st.pin = pin === '' ? null : pin;
  if (typeof body['new_record_dir'] === 'string') st.recordDir = body['new_record_dir'];
  if (typeof body['new_mjrs_dir'] === 'string') st.mjrsDir = body['new_mjrs_dir'];
  let permanent = false;
  if (body['permanent'] === true) permanent = await persist(ctx, room);
  return { audiobridge: 'edited', room: st.id, permanent };
}

/** Room gone (destroy request, or its clock failed): participants get `destroyed` and are hung up. */
export function teardownRoom(ctx: AbContext, room: Room, reason: string): void {
  const id = room.settings.id;
  if (ctx.rooms.get(id) === room) ctx.rooms.delete(id);
  for (const p of [...room.participants.values()]) {
    ctx.host.pushEvent(p.session.handle, null, { audiobridge: 'destroyed', room: id });
    room.remove(p);
    p.clearQueues();
    if (p.plain) {
      p.closePlainRtp();
      p.session.started = false;
    }
    ctx.host.closePeerConnection(p.session.handle, reason);
    legLeft(ctx, p.session);
  }
  dropForwarders(ctx, room);
  room.destroy();
}

export async function destroyRoom(ctx: AbContext, body: Body): Promise<Data> {
  validate(body, [{ name: 'permanent', type: 'boolean' }]);
  const room = roomOf(ctx, body);
  checkSecret(room.settings.secret, body, 'secret');
  const id = room.settings.id;
  teardownRoom(ctx, room, 'Room destroyed');
  let permanent = false;
  if (body['permanent'] === true) {
    ctx.config.removeCategory(`room-${String(id)}`);
    permanent = await save(ctx);
  }
  return { audiobridge: 'destroyed', room: id, permanent };
}

export function list(ctx: AbContext, body: Body): Data {
  let showPrivate = false;
  if (ctx.adminKey !== null) {
    const k = body['admin_key'];
    if (typeof k === 'string' && k.length > 0) {
      checkSecret(ctx.adminKey, body, 'admin_key');
      showPrivate = true;
    }
  }
  const list: Data[] = [];
  for (const r of ctx.rooms.values()) {
    if (r.destroyed || (r.settings.isPrivate && !showPrivate)) continue;
    list.push({
      room: r.settings.id,
      description: r.settings.description,
      sampling_rate: r.settings.samplingRate,
      spatial_audio: r.settings.spatialAudio,
      pin_required: r.settings.pin !== null,
      record: r.settings.record,
      muted: r.muted,
      num_participants: r.participants.size,
    });
  }
  return { audiobridge: 'success', list };
}

export function allowed(ctx: AbContext, body: Body): Data {
  validate(body, ALLOWED_PARAMS);
  const id = parseId(ctx, body, 'room', true)!;
  const action = (body['action'] as string).toLowerCase();
  if (!['enable', 'disable', 'add', 'remove'].includes(action)) {
    throw new AbError(AbErrorCode.INVALID_ELEMENT, `Unsupported action '${body['action'] as string}' (allowed)`);
  }
  const room = findRoom(ctx, id);
  checkSecret(room.settings.secret, body, 'secret');
  const st = room.settings;
  if (action === 'enable') st.checkTokens = true;
  else if (action === 'disable') st.checkTokens = false;
  else {
    const list = body['allowed'] as unknown[] | undefined;
    if (list) {
      if (!list.every((a) => typeof a === 'string')) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element in the allowed array (not a string)');
      for (const t of list as string[]) {
        if (action === 'add') st.allowed.add(t);
        else st.allowed.delete(t);
      }
    }
  }
  const out: Data = { audiobridge: 'success', room: st.id };
  if (action !== 'disable') out['allowed'] = [...st.allowed];
  return out;
}

export function muteUser(ctx: AbContext, body: Body, muted: boolean): Data {
  validate(body, SECRET_PARAMS);
  parseId(ctx, body, 'room', true);
  parseId(ctx, body, 'id', true);
  const room = roomOf(ctx, body);
  checkSecret(room.settings.secret, body, 'secret');
  const p = userOf(ctx, room, body);
  if (p.muted === muted) return { audiobridge: 'success' };
  p.muted = muted;
  if (muted) p.clearQueues();
  notify(ctx, room, { audiobridge: 'event', room: room.settings.id, participants: [participantJson(ctx, p, room)] }, null);
  return { audiobridge: 'success', room: room.settings.id };
}

export function muteRoom(ctx: AbContext, body: Body, muted: boolean): Data {
  validate(body, SECRET_PARAMS);
  const room = roomOf(ctx, body);
  checkSecret(room.settings.secret, body, 'secret');
  if (room.muted === muted) return { audiobridge: 'success' };
  room.muted = muted;
  if (muted) for (const p of room.participants.values()) if (!p.admin) p.clearQueues();
  notify(ctx, room, { audiobridge: 'event', room: room.settings.id, muted }, null);
  return { audiobridge: 'success', room: room.settings.id };
}

export function kick(ctx: AbContext, body: Body): Data {
  validate(body, SECRET_PARAMS);
  parseId(ctx, body, 'room', true);
  parseId(ctx, body, 'id', true);
  const room = roomOf(ctx, body);
  checkSecret(room.settings.secret, body, 'secret');
  const p = userOf(ctx, room, body);
  notify(ctx, room, { audiobridge: 'event', room: room.settings.id, kicked: p.id }, null);
  ctx.host.closePeerConnection(p.session.handle, 'Kicked');
  // Without a PeerConnection there is no hangup to remove them: do it here (others get `leaving`).
  hangupInternal(ctx, p.session);
  return { audiobridge: 'success' };
}

export function kickAll(ctx: AbContext, body: Body): Data {
  validate(body, SECRET_PARAMS);
  const room = roomOf(ctx, body);
  checkSecret(room.settings.secret, body, 'secret');
  for (const p of [...room.participants.values()]) {
    ctx.host.pushEvent(p.session.handle, null, { audiobridge: 'event', room: room.settings.id, kicked_all: p.id });
    ctx.host.closePeerConnection(p.session.handle, 'Kicked');
    room.remove(p);
    p.session.started = false;
    p.session.pluginOffer = false;
    p.clearQueues();
    p.closePlainRtp();
    legLeft(ctx, p.session);
  }
  return { audiobridge: 'success' };
}

export function newRoom(ctx: AbContext, settings: RoomSettings): Room {
  const room = new Room(settings, ctx.engine, () => ctx.media, ctx.log);
  room.onFault = (reason) => teardownRoom(ctx, room, reason);
  room.sendAway = (p, payload) => p.session.home !== null && sendTo(ctx, p.session.home, p.session.handle.handleId, CrossKind.Down, p.pt, payload, payload.length);
  room.onAnnouncement = (a, event) => {
    notify(ctx, room, { audiobridge: event === 'started' ? 'announcement-started' : 'announcement-stopped', room: room.settings.id, file_id: a.fileId }, null);
  };
  return room;
}

