/**
 * Membership: join (WebRTC or plain RTP), configure, changeroom, leave, suspend/resume, and what
 * happens when a participant's media comes up or goes away.
 */
import type { Jsep } from '../../core/jsep.js';
import { notify, othersJson, participantJson, type AbContext, type Body, type Data } from './context.js';
import { AbError, AbErrorCode, checkSecret, validate } from './errors.js';
import { findRoom, parseId, randomId, roomOf, userOf } from './ids.js';
import { receiveRtp } from './incoming.js';
import { CONFIGURE_PARAMS, DEFAULT_COMPLEXITY, JOIN_PARAMS, RESUME_PARAMS, RTP_PARAMS, SECRET_PARAMS, SUSPEND_PARAMS } from './params.js';
import type { PlainRtpEndpoint, PlainRtpRemote } from './plain-rtp.js';
import { checkName, recordOptions, startMjr } from './recording.js';
import { legLeft } from './cross-worker.js';
import { Participant, type AbCodec, type AbId, type AbSession, type Room } from './room.js';

/** What checkJoin found: the participant's settings in the room it joins. */
export interface JoinChecks {
  admin: boolean;
  group: number;
  complexity: number;
  expectedLoss: number;
  bitrate: number;
}

export function resetDecoder(s: AbSession | null): Data {
  const p = s?.participant;
  if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't reset (not in a room)");
  p.resetDecoder = true;
  return { audiobridge: 'success' };
}

/** Media flows (PeerConnection up, or a plain-RTP participant's first packet): others see `setup`. */
export function mediaUp(ctx: AbContext, s: AbSession): void {
  if (!s.participant) return;
  s.started = true;
  const p = s.participant;
  const room = p.room;
  if (!room) return;
  notify(ctx, room, { audiobridge: 'event', room: room.settings.id, participants: [participantJson(ctx, p, room, { setup: true })] }, p);
}

/** The PeerConnection is gone: the participant leaves its room (others get `leaving`). */
export function hangupInternal(ctx: AbContext, s: AbSession): void {
  s.started = false;
  s.pluginOffer = false;
  // Its room on another worker is told by main (hangupMedia goes there too).
  s.away = null;
  const p = s.participant;
  if (!p) return;
  p.closePlainRtp();
  const room = p.room;
  if (room) {
    notify(ctx, room, { audiobridge: 'event', room: room.settings.id, leaving: p.id }, p);
    room.remove(p);
  }
  p.clearQueues();
  legLeft(ctx, s);
}

export function suspendResume(ctx: AbContext, s: AbSession | null, body: Body, suspend: boolean): Data {
  validate(body, SECRET_PARAMS);
  parseId(ctx, body, 'room', true);
  parseId(ctx, body, 'id', true);
  const room = roomOf(ctx, body);
  const p = userOf(ctx, room, body);
  if (s?.participant !== p) checkSecret(room.settings.secret, body, 'secret');
  validate(body, suspend ? SUSPEND_PARAMS : RESUME_PARAMS);
  let changed = false;
  let recap = false;
  if (suspend) {
    if (!p.suspended) {
      p.suspended = true;
      if (body['pause_events'] === true) p.pausedEvents = true;
      p.clearQueues();
      changed = true;
    }
  } else if (p.suspended) {
    p.suspended = false;
    changed = true;
    if (p.pausedEvents) {
      p.pausedEvents = false;
      recap = true;
      ctx.host.pushEvent(p.session.handle, null, {
        audiobridge: 'event',
        room: room.settings.id,
        resumed: p.id,
        participants: othersJson(ctx, room, p),
      });
    }
  }
  if (changed) {
    const ev = { audiobridge: 'event', room: room.settings.id, [suspend ? 'suspended' : 'resumed']: p.id };
    for (const q of room.participants.values()) {
      if ((q === p && recap) || (q !== p && q.pausedEvents)) continue;
      ctx.host.pushEvent(q.session.handle, null, ev);
    }
  }
  return { audiobridge: 'success' };
}

export async function join(ctx: AbContext, s: AbSession, body: Body, jsep: Jsep | null): Promise<{ event: Data; generateOffer: boolean }> {
  if (s.participant?.room || s.away !== null) throw new AbError(AbErrorCode.ALREADY_JOINED, 'Already in a room (use changeroom to join another one)');
  validate(body, JOIN_PARAMS);
  checkName(ctx, body, 'filename');
  // With an SDP the participant negotiates a PeerConnection and the plain-RTP details are ignored (as Janus).
  const rtp = body['rtp'] !== undefined && body['rtp'] !== null && !jsep ? rtpRequest(ctx, body['rtp'] as Body) : null;
  const roomId = parseId(ctx, body, 'room', true)!;
  parseId(ctx, body, 'id', false);
  const room = findRoom(ctx, roomId);
  if (rtp && !room.settings.allowRtpParticipants) throw new AbError(AbErrorCode.UNAUTHORIZED, 'Plain RTP participants not allowed in this room');
  const common = checkJoin(ctx, room, body);
  const codecName = ((body['codec'] as string | undefined) ?? 'opus').toLowerCase();
  if (codecName !== 'opus' && codecName !== 'pcmu' && codecName !== 'pcma') {
    throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (codec must opus, pcmu or pcma)');
  }
  let id = pickUserId(ctx, room, body);
  const plain = rtp ? await openPlainRtp(ctx, s, rtp.remote) : null;
  if (plain) {
    // The socket was set up asynchronously: the room, the handle or the id may have changed meanwhile.
    try {
      if (!s.handle.alive || s.participant?.room || ctx.rooms.get(room.settings.id) !== room || room.destroyed) {
        throw new AbError(AbErrorCode.NO_SUCH_ROOM, `No such room (${String(roomId)})`);
      }
      if (room.participants.has(id)) id = pickUserId(ctx, room, body);
    } catch (err) {
      plain.close();
      throw err;
    }
  }
  const p = s.participant ?? new Participant(s);
  p.closePlainRtp();
  p.plain = plain;
  p.codec = codecName as AbCodec;
  p.id = id;
  applyJoin(ctx, p, room, body, common);
  try {
    p.setupCodecs(room);
  } catch (err) {
    p.closePlainRtp();
    throw new AbError(AbErrorCode.LIBOPUS_ERROR, `Error creating Opus decoder (${(err as Error).message})`);
  }
  if (!s.started || plain) {
    p.pt = -1;
    p.extmapId = 0;
    p.dBovLevel = 0;
  }
  if (plain && rtp) {
    // Media is "up" with the first packet from the client (see plainRtpIn), not before.
    s.started = false;
    p.pt = p.codec === 'pcmu' ? 0 : p.codec === 'pcma' ? 8 : rtp.payloadType > 0 ? rtp.payloadType : 100;
    // The client says which extension id carries the level (no SDP to negotiate it).
    p.extmapId = rtp.audiolevelExt;
    if (rtp.fec && p.codec === 'opus') {
      p.fec = true;
      p.updateEncoder();
    }
  }
  s.participant = p;
  room.add(p);
  p.recordBase = null;
  recordOptions(ctx, p, body);
  if (room.settings.mjrs || p.recordWanted) startMjr(ctx, p, room);
  notify(ctx, room, { audiobridge: 'joined', room: room.settings.id, participants: [participantJson(ctx, p, room, { setup: false })] }, p);
  const event: Data = { audiobridge: 'joined', room: room.settings.id, id: p.id };
  if (p.display !== null) event['display'] = p.display;
  event['participants'] = othersJson(ctx, room, p);
  if (plain) event['rtp'] = { ip: plain.localIp, port: plain.port, payload_type: p.pt };
  const generateOffer = !plain && body['generate_offer'] === true;
  if (generateOffer) s.pluginOffer = true;
  return { event, generateOffer };
}

/** The `rtp` object of join/configure: must be an object; its members are type-checked (Janus 1.1.2 does not). */
export function rtpRequest(ctx: AbContext, v: unknown): { remote: PlainRtpRemote | null; payloadType: number; audiolevelExt: number; fec: boolean } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element type (rtp should be an object)');
  const rtp = v as Body;
  validate(rtp, RTP_PARAMS);
  const ip = rtp['ip'] as string | undefined;
  const port = rtp['port'] as number | undefined;
  if (port !== undefined && port > 65535) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (port should be a valid UDP port)');
  const pt = (rtp['payload_type'] as number | undefined) ?? 0;
  if (pt > 127) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (payload_type should be between 0 and 127)');
  const ext = (rtp['audiolevel_ext'] as number | undefined) ?? 0;
  return {
    // Without an address (or with port 0) the participant only sends; it gets no mix.
    remote: ip !== undefined && ip !== '' && port !== undefined && port > 0 ? { ip, port } : null,
    payloadType: pt,
    audiolevelExt: ext > 0 && ext < 15 ? ext : 0,
    fec: rtp['fec'] === true,
  };
}

/** A socket for a plain-RTP participant, connected to where the mix goes. */
export async function openPlainRtp(ctx: AbContext, s: AbSession, remote: PlainRtpRemote | null): Promise<PlainRtpEndpoint> {
  if (!ctx.plainPorts) throw new AbError(AbErrorCode.UNKNOWN_ERROR, 'Plain RTP participants are not available (plugin not initialized)');
  let ep;
  try {
    ep = await ctx.plainPorts.open((buf, len) => plainRtpIn(ctx, s, buf, len));
  } catch (err) {
    throw new AbError(AbErrorCode.UNKNOWN_ERROR, `Couldn't bind a local port for plain RTP (${(err as Error).message})`);
  }
  await ep.connect(remote);
  return ep;
}

/** Pin, token, admin secret, group, quality and expected_loss checks shared by join and changeroom. */
export function checkJoin(ctx: AbContext, room: Room, body: Body): JoinChecks {
  checkSecret(room.settings.pin, body, 'pin');
  if (room.settings.checkTokens) {
    const t = body['token'];
    if (typeof t !== 'string' || !room.settings.allowed.has(t)) throw new AbError(AbErrorCode.UNAUTHORIZED, 'Unauthorized (not in the allowed list)');
  }
  let admin = false;
  if (body['secret'] !== undefined) {
    checkSecret(room.settings.secret, body, 'secret');
    admin = true;
  }
  let group = 0;
  if (room.settings.groups.length > 0) {
    validate(body, [{ name: 'group', type: 'string', required: true }]);
    const g = room.settings.groups.indexOf(body['group'] as string);
    if (g < 0) throw new AbError(AbErrorCode.NO_SUCH_GROUP, `No such group (${body['group'] as string})`);
    group = g + 1;
  }
  let bitrate = room.settings.defaultBitrate;
  if (typeof body['bitrate'] === 'number') {
    bitrate = body['bitrate'];
    if (bitrate < 500 || bitrate > 512000) bitrate = room.settings.defaultBitrate;
  }
  const complexity = typeof body['quality'] === 'number' ? body['quality'] : DEFAULT_COMPLEXITY;
  if (complexity < 1 || complexity > 10) {
    throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (quality should be a positive integer between 1 and 10)');
  }
  const expectedLoss = typeof body['expected_loss'] === 'number' ? body['expected_loss'] : room.settings.defaultExpectedLoss;
  if (expectedLoss > 20) {
    throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (expected_loss should be a positive integer between 0 and 20)');
  }
  return { admin, group, complexity, expectedLoss, bitrate };
}

export function pickUserId(ctx: AbContext, room: Room, body: Body): AbId {
  const wanted = parseId(ctx, body, 'id', false);
  if (wanted !== undefined && wanted !== 0 && wanted !== '') {
    if (room.participants.has(wanted)) throw new AbError(AbErrorCode.ID_EXISTS, `User ID ${String(wanted)} already exists`);
    return wanted;
  }
  return randomId(ctx, (x) => room.participants.has(x));
}

export function applyJoin(ctx: AbContext, p: Participant, room: Room, body: Body, c: JoinChecks): void {
  p.group = c.group;
  p.admin = c.admin;
  p.display = typeof body['display'] === 'string' ? body['display'] : null;
  p.muted = body['muted'] === true;
  p.suspended = body['suspended'] === true;
  p.pausedEvents = p.suspended && body['pause_events'] === true;
  p.volume = typeof body['volume'] === 'number' ? body['volume'] : 100;
  p.spatialPosition = Math.min(100, typeof body['spatial_position'] === 'number' ? body['spatial_position'] : 50);
  p.complexity = c.complexity;
  p.bitrate = c.bitrate;
  p.expectedLoss = c.expectedLoss;
  p.userActivePackets = typeof body['audio_active_packets'] === 'number' ? body['audio_active_packets'] : 0;
  p.userLevelAverage = typeof body['audio_level_average'] === 'number' ? body['audio_level_average'] : 0;
  p.talking = false;
  p.activePackets = 0;
  p.dBovSum = 0;
  p.updateEncoder();
  void room;
}

export async function configure(ctx: AbContext, s: AbSession, body: Body, jsep: Jsep | null): Promise<{ event: Data; generateOffer: boolean }> {
  const p = s.participant;
  if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't configure (not in a room)");
  validate(body, CONFIGURE_PARAMS);
  checkName(ctx, body, 'filename');
  const room = p.room;
  // A plain-RTP participant may point its mix somewhere else (the local port stays).
  const rtp = body['rtp'] !== undefined && body['rtp'] !== null && !jsep ? rtpRequest(ctx, body['rtp']) : null;
  if (rtp && !room.settings.allowRtpParticipants) throw new AbError(AbErrorCode.UNAUTHORIZED, 'Plain RTP participants not allowed in this room');
  if (rtp && p.plain) {
    await p.plain.connect(rtp.remote);
    if (rtp.audiolevelExt > 0) p.extmapId = rtp.audiolevelExt;
  }
  if (typeof body['volume'] === 'number') p.volume = body['volume'];
  let encoderChanged = false;
  if (typeof body['bitrate'] === 'number') {
    const b = body['bitrate'];
    p.bitrate = b < 500 || b > 512000 ? 0 : b;
    encoderChanged = true;
  }
  if (typeof body['quality'] === 'number') {
    const q = body['quality'];
    if (q < 1 || q > 10) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (quality should be a positive integer between 1 and 10)');
    p.complexity = q;
    encoderChanged = true;
  }
  if (typeof body['expected_loss'] === 'number') {
    const l = body['expected_loss'];
    if (l > 20) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (expected_loss should be a positive integer between 0 and 20)');
    p.expectedLoss = l;
    encoderChanged = true;
  }
  if (typeof body['group'] === 'string' && room.settings.groups.length > 0) {
    const g = room.settings.groups.indexOf(body['group']);
    if (g < 0) throw new AbError(AbErrorCode.NO_SUCH_GROUP, `No such group (${body['group']})`);
    p.group = g + 1;
  }
  if (encoderChanged) p.updateEncoder();
  if (typeof body['record'] === 'boolean') {
    recordOptions(ctx, p, body);
    if (p.recordWanted) startMjr(ctx, p, room);
    else if (!room.settings.mjrs) p.closeMjr();
  }
  const muted = body['muted'];
  const display = body['display'];
  const spatial = body['spatial_position'];
  const spatialChange = room.settings.spatialAudio && typeof spatial === 'number';
  if (typeof muted === 'boolean' || typeof display === 'string' || spatialChange || typeof body['denoise'] === 'boolean') {
    if (typeof muted === 'boolean') {
      p.muted = muted;
      if (muted) p.clearQueues();
    }
    if (typeof display === 'string') p.display = display;
    if (spatialChange) p.spatialPosition = Math.min(100, spatial as number);
    notify(ctx, room, { audiobridge: 'event', room: room.settings.id, participants: [participantJson(ctx, p, room)] }, p);
  }
  let generateOffer = false;
  const update = body['update'] === true;
  if (update && s.pluginOffer) generateOffer = true;
  else if (typeof body['generate_offer'] === 'boolean') generateOffer = body['generate_offer'];
  if (generateOffer) s.pluginOffer = true;
  void jsep;
  return { event: { audiobridge: 'event', room: room.settings.id, result: 'ok' }, generateOffer };
}

export function changeRoom(ctx: AbContext, s: AbSession, body: Body): Data {
  validate(body, JOIN_PARAMS);
  checkName(ctx, body, 'filename');
  const roomId = parseId(ctx, body, 'room', true)!;
  const p = s.participant;
  if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't change room (not in a room in the first place)");
  if (p.room.settings.id === roomId) throw new AbError(AbErrorCode.ALREADY_JOINED, 'Already in this room');
  const room = findRoom(ctx, roomId);
  const c = checkJoin(ctx, room, body);
  const id = pickUserId(ctx, room, body);
  const old = p.room;
  // Leave the old room.
  old.remove(p);
  notify(ctx, old, { audiobridge: 'event', room: old.settings.id, leaving: p.id }, p);
  return enterRoom(ctx, p, room, body, c, id);
}

/**
 * The second half of changeroom, once the checks passed and the participant is out of its old room
 * (here, or on another worker: cross-worker.ts): into `room` as `id`; the others get `joined`, the
 * result is the `roomchanged` event.
 */
export function enterRoom(ctx: AbContext, p: Participant, room: Room, body: Body, c: JoinChecks, id: AbId): Data {
  p.id = id;
  const prevBitrate = p.bitrate;
  applyJoin(ctx, p, room, body, c);
  if (typeof body['bitrate'] !== 'number' && prevBitrate && !room.settings.defaultBitrate) p.bitrate = c.bitrate;
  try {
    p.setupCodecs(room);
  } catch (err) {
    throw new AbError(AbErrorCode.LIBOPUS_ERROR, `Error creating Opus decoder (${(err as Error).message})`);
  }
  room.add(p);
  recordOptions(ctx, p, body);
  if (room.settings.mjrs || p.recordWanted) startMjr(ctx, p, room);
  notify(ctx, room, { audiobridge: 'joined', room: room.settings.id, participants: [participantJson(ctx, p, room)] }, p);
  const event: Data = { audiobridge: 'roomchanged', room: room.settings.id, id: p.id };
  if (p.display !== null) event['display'] = p.display;
  event['participants'] = othersJson(ctx, room, p);
  return event;
}

export function leave(ctx: AbContext, s: AbSession): Data {
  const p = s.participant;
  if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't leave (not in a room)");
  const room = p.room;
  notify(ctx, room, { audiobridge: 'event', room: room.settings.id, leaving: p.id }, p);
  room.remove(p);
  p.clearQueues();
  if (p.plain) {
    // Its socket was its media: gone with the room (a WebRTC participant keeps its PeerConnection).
    p.closePlainRtp();
    s.started = false;
  }
  legLeft(ctx, s);
  return { audiobridge: 'left', room: room.settings.id, id: p.id };
}

/** A datagram on a plain-RTP participant's socket (already checked to look like RTP). */
export function plainRtpIn(ctx: AbContext, s: AbSession, packet: Buffer, len: number): void {
  const p = s.participant;
  if (!p?.plain || !p.room) return;
  if (!s.started) mediaUp(ctx, s);
  // dgram gives every datagram a Buffer of its own: the payload can be kept without a copy.
  receiveRtp(ctx, s, packet, len, true);
}

