/**
 * Asynchronous participant requests on a publisher-type handle: `join` (either ptype: a subscriber
 * join is handed to subscriber.ts), `joinandconfigure`, `configure`/`publish` (with or without an
 * offer), `unpublish`, `leave`. Their answers are events pushed with the request's transaction.
 */
import { randomInt } from 'node:crypto';
import type { Jsep } from '../../core/jsep.js';
import type { PluginSession } from '../../core/plugin.js';
import { notify, type VrContext } from './context.js';
import { configuredEvent, joinedEvent, participantGoneEvent } from './events.js';
import { VrError, VrErrorCode } from './errors.js';
import { removeParticipant } from './membership.js';
import { Params, type Body } from './params.js';
import { Participant, type HandleState } from './participant.js';
import { configuredReply, negotiatePublisher, publisherUpdated, sendRemb, stopPublishing } from './publishing.js';
import { setRecording } from './recording.js';
import { safeEqual } from './secrets.js';
import { missing } from './params.js';
import { joinSubscriber } from './subscriber.js';
import { PathPolicy } from '../../security/paths.js';

type Data = Record<string, unknown>;

const PTYPES = new Set(['publisher', 'subscriber', 'listener']);

/** `join`; null when the reply (a subscriber's `attached` + offer) was already pushed. */
export function join(ctx: VrContext, session: PluginSession, state: HandleState, body: Body, transaction: string): Data | null {
  // A handle that already joined is refused before the request is validated at all, as Janus does.
  if (state.kind === 'publisher') throw new VrError(VrErrorCode.ALREADY_JOINED, 'Already in as a publisher on this handle');
  if (state.kind === 'subscriber') throw new VrError(VrErrorCode.ALREADY_JOINED, 'Already in as a subscriber on this handle');
  if (state.kind === 'gone') throw new VrError(VrErrorCode.ALREADY_JOINED, 'Not in a room (create a new handle)');
  const p = new Params(body);
  const ptype = p.requireString('ptype');
  const roomId = ctx.ids.require(body.room, 'room');
  // A subscriber may join a room of another media worker through its mirror here (remote.ts).
  const room = ctx.rooms.get(roomId) ?? (ptype === 'subscriber' || ptype === 'listener' ? ctx.remote?.mirrorRoom(roomId) : undefined);
  if (room === undefined) throw new VrError(VrErrorCode.NO_SUCH_ROOM, `No such room (${roomId})`);
  // The pin is checked before the role, as Janus does (a subscriber needs it too).
  const pin = p.string('pin');
  if (room.settings.pin !== null) {
    if (pin === undefined) throw missing('pin');
    if (!safeEqual(pin, room.settings.pin)) throw new VrError(VrErrorCode.UNAUTHORIZED, 'Unauthorized (wrong pin)');
  }
  if (!PTYPES.has(ptype)) throw new VrError(VrErrorCode.INVALID_ELEMENT, 'Invalid element (ptype)');
  if (ptype !== 'publisher') return joinSubscriber(ctx, session, room, body, transaction);

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
  // Mirrors first: with the answer the client may subscribe, with its private id, on another worker.
  ctx.remote?.memberJoined(me);
  session.state = { kind: 'publisher', participant: me } satisfies HandleState;
  ctx.log.verb(`videoroom: ${id} joined room ${room.id}`, { room: room.id, id, handle: session.handleId });

  if (room.settings.notify_joining) notify(ctx, others, { videoroom: 'event', room: room.id, joining: me.identity() });
  const data: Data = {
    videoroom: 'joined',
    room: room.id,
    description: room.settings.description,
    id,
    private_id: privateId,
    publishers: room.activePublishers().map((x) => x.publisherEntry(true)),
  };
  if (room.settings.notify_joining) data.attendees = others.filter((x) => !x.media.active).map((x) => x.identity());
  joinedEvent(ctx, me, token);
  return data;
}

export interface AsyncReply {
  data: Data;
  jsep?: Jsep;
}

/**
 * `configure` (and `publish`) on a publisher handle: bitrate, keyframe, per-stream send and
 * keyframe, display/metadata, and with a JSEP offer a (re)negotiation answered with the
 * `configured` reply + answer.
 */
export function configure(ctx: VrContext, me: Participant, body: Body, jsep: Jsep | null, request: 'configure' | 'publish' = 'configure'): AsyncReply {
  const p = new Params(body);
  const bitrate = p.posInt('bitrate');
  const keyframe = p.bool('keyframe');
  const record = p.bool('record');
  const filename = p.string('filename');
  const activePackets = p.posInt('audio_active_packets');
  const levelAverage = p.posInt('audio_level_average');
  const streams = p.array('streams');
  p.array('descriptions');
  p.string('audiocodec');
  p.string('videocodec');
  p.bool('update');
  p.bool('restart');
  // Deprecated booleans janus.js still sends (`audio: true, video: true`): accepted, no effect.
  p.bool('audio');
  p.bool('video');
  p.bool('data');
  const display = p.string('display');
  const metadata = p.any('metadata');
  const perStream: Array<{ mid: string; send: boolean | undefined; keyframe: boolean | undefined }> = [];
  for (const item of streams ?? []) {
    const sp = new Params((item ?? {}) as Body);
    perStream.push({ mid: sp.requireString('mid'), send: sp.bool('send'), keyframe: sp.bool('keyframe') });
    sp.any('min_delay');
    sp.any('max_delay');
  }
  if (filename !== undefined && PathPolicy.nameProblem(filename) !== null) {
    // A recording's name stays in rec_dir: no separators, no `..` (Janus takes a path here).
    ctx.log.warn(`videoroom: refused recording filename ${JSON.stringify(filename)} of ${me.id} in room ${me.room.id}: ${PathPolicy.nameProblem(filename)!}`);
    throw new VrError(VrErrorCode.INVALID_ELEMENT, 'Invalid element (filename)');
  }
  if (request === 'publish' && me.media.active && jsep !== null && jsep.update !== true) {
    throw new VrError(VrErrorCode.ALREADY_PUBLISHED, 'Can\'t publish, already published');
  }
  // Recording first: a `publish` with record:true records from its own negotiation on, as in Janus.
  if (record !== undefined || filename !== undefined) configureRecording(ctx, me, body, record, filename);
  let answer: Jsep | undefined;
  const renegotiation = me.media.active;
  if (jsep !== null) answer = negotiatePublisher(ctx, me, jsep, body);
  if (activePackets !== undefined) me.media.audioActivePackets = activePackets;
  if (levelAverage !== undefined) me.media.audioLevelAverage = levelAverage;
  if (bitrate !== undefined) {
    me.media.bitrate = bitrate;
    sendRemb(ctx, me);
  }
  let sendChanged = false;
  for (const ps of perStream) {
    const stream = me.media.byMid.get(ps.mid);
    if (stream === undefined) continue;
    if (ps.send !== undefined && ps.send !== stream.send) sendChanged = true;
    if (ps.send !== undefined) stream.send = ps.send;
    if (ps.keyframe === true) ctx.media?.sendPli(me.session, ps.mid);
  }
  if (keyframe === true) ctx.media?.sendPli(me.session, null);
  const changed = (display !== undefined && display !== me.display) || metadata !== undefined;
  if (display !== undefined) me.display = display;
  if (metadata !== undefined) me.metadata = metadata;
  const room = me.room;
  configuredEvent(ctx, me);
  if (changed) {
    const ev: Data = { videoroom: 'event', id: me.id, display: me.display ?? '' };
    if (me.metadata !== undefined) ev.metadata = me.metadata;
    notify(ctx, room.others(me), ev);
  }
  // Mirrors on other workers gate the streams (send) and name the publisher (feed_display) as here;
  // a renegotiation tells them below anyway.
  if ((sendChanged || changed) && !(answer !== undefined && renegotiation)) ctx.remote?.feedChanged(me);
  if (answer !== undefined) {
    if (renegotiation) publisherUpdated(ctx, me);
    return { data: configuredReply(me), jsep: answer };
  }
  return { data: { videoroom: 'event', room: room.id, configured: 'ok' } };
}

/**
 * `record` / `filename` of configure. With `lock_record` (and a room secret) they need the secret;
 * like Janus, a missing or wrong one leaves the recording state alone and the request still succeeds.
 */
function configureRecording(ctx: VrContext, me: Participant, body: Body, record: boolean | undefined, filename: string | undefined): void {
  const s = me.room.settings;
  if (s.lock_record && s.secret !== null) {
    const given = body.secret;
    if (typeof given !== 'string' || !safeEqual(given, s.secret)) {
      ctx.log.warn(`videoroom: recording of ${me.id} in room ${me.room.id} is locked (lock_record): record/filename ignored without the room secret`, { room: me.room.id, id: me.id });
      return;
    }
  }
  if (filename !== undefined) me.recordingBase = filename;
  if (record !== undefined) setRecording(ctx, me, record);
}

export function unpublish(ctx: VrContext, me: Participant): Data {
  if (!me.media.active) throw new VrError(VrErrorCode.NOT_PUBLISHED, "Can't unpublish, not published");
  stopPublishing(ctx, me, true);
  // Before the hangup: by then the media is reset, so hangupMedia does not report it again.
  participantGoneEvent(ctx, 'unpublished', me.room.id, me.id);
  ctx.host.closePeerConnection(me.session, 'unpublish');
  return { videoroom: 'event', room: me.room.id, unpublished: 'ok' };
}

export function leave(ctx: VrContext, me: Participant): Data {
  const roomId = me.room.id;
  removeParticipant(ctx, me, 'leave');
  return { videoroom: 'event', room: roomId, leaving: 'ok' };
}
