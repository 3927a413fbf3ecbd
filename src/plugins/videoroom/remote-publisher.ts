/**
 * VideoRoom remote publishers: the requests (`add_remote_publisher`, `update_remote_publisher`,
 * `remove_remote_publisher`), Janus 1.1.2's cascading. A publisher of another VideoRoom (Janus or
 * Portunus, through its `publish_remotely`) sends its streams as plain RTP to a UDP port we open
 * (remote-feed.ts), and the room sees an ordinary publisher (`publishers` event, subscriptions,
 * simulcast, recording) without a handle. Validation order, texts and codes are Janus's.
 */
import type { Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { CODECS, type CodecName } from '../../media/sdp/negotiate.js';
import { checkKey } from './auth.js';
import { notify, type VrContext } from './context.js';
import { participantGoneEvent, publishedEvent } from './events.js';
import { noSuchRoom, VrError, VrErrorCode } from './errors.js';
import type { VrId } from './ids.js';
import { missing, Params, type Body } from './params.js';
import { Participant } from './participant.js';
import { stopPublishing } from './publishing.js';
import { RemoteFeed, RemotePublisherSession, remoteSsrc, type RemoteFeeds } from './remote-feed.js';
import type { Room } from './room.js';
import { PublishedStream, type StreamType } from './streams.js';

type Data = Record<string, unknown>;

/** Janus's codec names (janus_audiocodec_from_name / janus_videocodec_from_name) and default payload types. */
const AUDIO_CODECS: Readonly<Record<string, number>> = { opus: 111, multiopus: 111, red: 120, isac32: 104, isac16: 103, pcmu: 0, pcma: 8, g722: 9, 'l16-48': 105, l16: 106 };
const VIDEO_CODECS: Readonly<Record<string, number>> = { vp8: 96, vp9: 101, h264: 107, av1: 98, h265: 100 };

function feedsOf(ctx: VrContext): RemoteFeeds {
  if (ctx.feeds === undefined) throw new VrError(VrErrorCode.UNKNOWN_ERROR, 'Remote publishers need a media plane');
  return ctx.feeds;
}

/** Janus's JANUS_JSON_INTEGER without "positive": any integer. */
function integer(p: Params, name: string): number | undefined {
  if (!p.has(name)) return undefined;
  const v = p.body[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new VrError(VrErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be an integer)`);
  return v;
}

const STREAM_TYPES = new Set(['audio', 'video', 'data']);

/** One validated `streams` item. */
interface StreamSpec {
  mid: string;
  mindex: number;
  type: StreamType;
  codec: string | undefined;
  description: string | undefined;
  disabled: boolean | undefined;
  stereo: boolean;
  fec: boolean;
  dtx: boolean;
  simulcast: boolean;
  audioLevelExt: number;
  videoOrientExt: number;
}

/** Janus's checks of a `streams` item, in its order (parameters, type, codec). */
function streamSpec(item: unknown): StreamSpec {
  const sp = new Params(item !== null && typeof item === 'object' && !Array.isArray(item) ? (item as Body) : {});
  const mid = sp.requireString('mid');
  const mindex = sp.posInt('mindex');
  if (mindex === undefined) throw missing('mindex');
  const type = sp.requireString('type');
  const codec = sp.string('codec');
  const description = sp.string('description');
  const disabled = sp.bool('disabled');
  const stereo = sp.bool('stereo') ?? false;
  const fec = sp.bool('fec') ?? false;
  const dtx = sp.bool('dtx') ?? false;
  // Janus 1.1.2 declares these two as booleans (and then reads them as strings): a string is refused.
  sp.bool('h264_profile');
  sp.bool('vp9_profile');
  const simulcast = sp.bool('simulcast') ?? false;
  sp.bool('svc');
  const audioLevelExt = integer(sp, 'audiolevel_ext_id') ?? 0;
  const videoOrientExt = integer(sp, 'videoorient_ext_id') ?? 0;
  integer(sp, 'playoutdelay_ext_id');
  const t = type.toLowerCase();
  if (!STREAM_TYPES.has(t)) throw new VrError(VrErrorCode.INVALID_ELEMENT, 'Invalid element value (type)');
  if (t !== 'data') {
    if (codec === undefined) throw missing('codec');
    const table = t === 'audio' ? AUDIO_CODECS : VIDEO_CODECS;
    if (table[codec.toLowerCase()] === undefined) throw new VrError(VrErrorCode.MISSING_ELEMENT, 'Invalid element value (unsupported codec)');
  }
  return { mid, mindex, type: t as StreamType, codec, description, disabled, stereo, fec, dtx, simulcast, audioLevelExt, videoOrientExt };
}

function streamSpecs(p: Params, required: boolean): StreamSpec[] {
  const arr = p.array('streams');
  if (arr === undefined) {
    if (required) throw missing('streams');
    return [];
  }
  return arr.map(streamSpec);
}

/**
 * A published stream as Janus builds it for a remote publisher: mid = mindex (Janus 1.1.2 ignores the
 * `mid` it is given), the codec's default PT; `mid` instead when the caller keeps the publisher's own.
 */
function buildStream(me: Participant, room: Room, spec: StreamSpec, mindex: number, mid = String(mindex)): PublishedStream {
  const ps = new PublishedStream(me, spec.type, mindex, mid);
  ps.description = spec.description;
  ps.disabled = spec.disabled ?? false;
  if (spec.type === 'data') return ps;
  const name = spec.codec!.toLowerCase();
  const allowed = spec.type === 'audio' ? room.settings.audiocodec : room.settings.videocodec;
  // Codecs the room does not allow (or Portunus does not relay) make the stream disabled, as in Janus.
  if (!allowed.includes(name) || !(name in CODECS)) {
    ps.disabled = true;
    return ps;
  }
  const codec = name as CodecName;
  ps.codec = codec;
  ps.pt = (spec.type === 'audio' ? AUDIO_CODECS : VIDEO_CODECS)[name]!;
  ps.clockRate = CODECS[codec].clock;
  if (spec.type === 'audio') {
    ps.audioLevelExt = spec.audioLevelExt > 0 ? spec.audioLevelExt : 0;
    if (codec === 'opus' || codec === 'multiopus') {
      ps.stereo = spec.stereo;
      ps.fec = spec.fec;
      ps.dtx = spec.dtx;
      ps.fmtp = { ...(spec.stereo ? { stereo: '1' } : {}), ...(spec.fec ? { useinbandfec: '1' } : {}), ...(spec.dtx ? { usedtx: '1' } : {}) };
    }
    return ps;
  }
  ps.videoOrientExt = spec.videoOrientExt > 0 ? spec.videoOrientExt : 0;
  if (codec === 'h264') {
    ps.h264Profile = room.settings.h264_profile ?? undefined;
    ps.fmtp = { 'profile-level-id': ps.h264Profile ?? '42e01f', 'packetization-mode': '1' };
  } else if (codec === 'vp9' && room.settings.vp9_profile) {
    ps.vp9Profile = room.settings.vp9_profile;
    ps.fmtp = { 'profile-id': ps.vp9Profile };
  }
  if (spec.simulcast) ps.simSsrcs = [remoteSsrc(mindex, 0), remoteSsrc(mindex, 1), remoteSsrc(mindex, 2)];
  return ps;
}

function setStreams(me: Participant, streams: PublishedStream[]): void {
  me.media.streams = streams;
  me.media.byMid.clear();
  for (const s of streams) me.media.byMid.set(s.mid, s);
  me.media.audioCodec = streams.find((s) => s.type === 'audio' && !s.disabled)?.codec;
  me.media.videoCodec = streams.find((s) => s.type === 'video' && !s.disabled)?.codec;
}

/** The interface Janus's `iface` names (an interface name or one of its addresses); null when none matches. */
function interfaceAddress(iface: string): string | null {
  if (isIP(iface) !== 0) {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.address === iface) return iface;
    return null;
  }
  const list = networkInterfaces()[iface];
  return list?.find((a) => a.family === 'IPv4')?.address ?? list?.[0]?.address ?? null;
}

function roomWithSecret(ctx: VrContext, p: Params, id: VrId): Room {
  const room = ctx.rooms.get(id);
  if (room === undefined) throw noSuchRoom(id);
  checkKey(p, 'secret', room.settings.secret);
  return room;
}

/** Tell the room (participants, event handlers, other workers' mirrors) about the remote publisher. */
function announce(ctx: VrContext, me: Participant, event: 'published' | 'updated'): void {
  ctx.remote?.feedChanged(me);
  notify(ctx, me.room.others(me), { videoroom: 'event', room: me.room.id, publishers: [me.publisherEntry()] });
  publishedEvent(ctx, me, event);
}

export interface AddRemoteOptions {
  /**
   * Keep the `mid` of each stream as given (Portunus's cluster: a remote publisher shows the same mids
   * on every node, as its origin's publisher has). Off for the API's `add_remote_publisher`, where Janus
   * 1.1.2 names the streams by their place ("0", "1", ...). Ignored when the given mids repeat.
   */
  ownMids?: boolean;
}

export async function addRemotePublisher(ctx: VrContext, body: Body, opts: AddRemoteOptions = {}): Promise<Data> {
  const p = new Params(body);
  // Janus's order: room, id, the request's own parameters, then the streams.
  const roomId = ctx.ids.require(body.room, 'room');
  const wanted = ctx.ids.parse(body.id, 'id');
  p.string('secret');
  const display = p.string('display');
  const mcast = p.string('mcast');
  const iface = p.string('iface');
  const port = p.posInt('port') ?? 0;
  const arr = p.array('streams');
  if (arr === undefined) throw missing('streams');
  if (arr.length === 0) throw new VrError(VrErrorCode.INVALID_ELEMENT, 'Invalid element value (streams can\'t be empty)');
  const specs = arr.map(streamSpec);
  const room = roomWithSecret(ctx, p, roomId);
  if (wanted !== undefined && !ctx.ids.isUnset(wanted) && room.participants.has(wanted)) {
    throw new VrError(VrErrorCode.ID_EXISTS, `User ID ${wanted} already exists`);
  }
  let address = '0.0.0.0';
  let ip: string | undefined;
  if (iface !== undefined) {
    const a = interfaceAddress(iface);
    if (a === null) throw new VrError(VrErrorCode.UNKNOWN_ERROR, 'Invalid network interface configuration for remote publisher');
    address = a;
    ip = a;
  }
  if (mcast !== undefined) throw new VrError(VrErrorCode.UNKNOWN_ERROR, 'Could not open UDP socket for RTP stream');
  const rtcpWanted = typeof body.rtcp_port === 'number' && Number.isInteger(body.rtcp_port) ? body.rtcp_port & 0xffff : 0;
  const feeds = feedsOf(ctx);
  let rtp: Socket;
  try {
    rtp = await feeds.bind(port & 0xffff, address);
  } catch {
    throw new VrError(VrErrorCode.UNKNOWN_ERROR, 'Could not open UDP socket for RTP stream');
  }
  let rtcp: Socket;
  try {
    rtcp = await feeds.bind(rtcpWanted, address);
  } catch {
    rtp.close();
    // Janus's text for this one too.
    throw new VrError(VrErrorCode.UNKNOWN_ERROR, 'Could not open UDP socket for RTP stream');
  }
  // The room may have gone, or the id been taken, while the sockets were bound.
  if (room.destroyed || ctx.rooms.get(roomId) !== room || (wanted !== undefined && !ctx.ids.isUnset(wanted) && room.participants.has(wanted))) {
    rtp.close();
    rtcp.close();
    if (room.destroyed || ctx.rooms.get(roomId) !== room) throw noSuchRoom(roomId);
    throw new VrError(VrErrorCode.ID_EXISTS, `User ID ${wanted} already exists`);
  }
  const id = wanted !== undefined && !ctx.ids.isUnset(wanted) ? wanted : ctx.ids.random((x) => room.participants.has(x));
  const session = new RemotePublisherSession();
  const me = new Participant(id, -1, room, session);
  session.state = { kind: 'publisher', participant: me };
  if (display !== undefined) me.display = display;
  const feed = new RemoteFeed(feeds, me, rtp, rtcp);
  session.feed = feed;
  me.remoteFeed = feed;
  const ownMids = opts.ownMids === true && new Set(specs.map((s) => s.mid)).size === specs.length;
  setStreams(me, specs.map((s, i) => buildStream(me, room, s, i, ownMids ? s.mid : String(i))));
  feed.setStreams(me.media.streams);
  me.media.negotiated = true;
  me.media.active = true;
  room.participants.set(id, me);
  announce(ctx, me, 'published');
  ctx.log.info(`videoroom: remote publisher ${id} in room ${roomId} on ports ${feed.rtpPort}/${feed.rtcpPort}`, { room: roomId, id });
  const reply: Data = { videoroom: 'success', room: roomId, id };
  if (ip !== undefined) reply.ip = ip;
  reply.port = feed.rtpPort;
  reply.rtcp_port = feed.rtcpPort;
  return reply;
}

function findRemote(room: Room, id: VrId): Participant {
  const me = room.participants.get(id);
  if (me === undefined || me.remoteFeed === null || me.remoteFeed.closed) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such remote publisher (${id})`);
  return me;
}

export function updateRemotePublisher(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  const roomId = ctx.ids.require(body.room, 'room');
  const id = ctx.ids.require(body.id, 'id');
  p.string('secret');
  const display = p.string('display');
  const specs = streamSpecs(p, true);
  const room = roomWithSecret(ctx, p, roomId);
  const me = findRemote(room, id);
  if (display !== undefined) me.display = display;
  let changed = false;
  const streams = [...me.media.streams];
  for (const spec of specs) {
    const ps = me.media.byMid.get(spec.mid);
    if (ps !== undefined) {
      if (ps.description === undefined || (spec.description !== undefined && spec.description !== ps.description)) {
        ps.description = spec.description;
        changed = true;
      }
      if (spec.disabled !== undefined && spec.disabled !== ps.disabled) {
        ps.disabled = spec.disabled;
        changed = true;
      }
      continue;
    }
    // A new stream must come right after the existing ones (Janus skips it otherwise). One that reuses
    // a taken mindex under another mid would shadow that stream (Janus corrupts its tables): skipped too.
    if (spec.mindex - streams.length > 1 || streams.some((s) => s.mindex === spec.mindex)) {
      ctx.log.warn(`videoroom: remote publisher ${id}: not adding stream with mindex ${spec.mindex} (missing indexes)`, { room: roomId, id });
      continue;
    }
    streams.push(buildStream(me, room, spec, spec.mindex));
    changed = true;
  }
  if (changed) {
    setStreams(me, streams);
    me.remoteFeed!.setStreams(streams);
    announce(ctx, me, 'updated');
  }
  return { videoroom: 'success' };
}

/** The remote publisher leaves: subscribers lose its streams, the others get `leaving` (Janus sends no `unpublished`). */
export function dropRemotePublisher(ctx: VrContext, me: Participant): void {
  const room = me.room;
  me.remoteFeed?.close();
  if (room.participants.get(me.id) !== me) return;
  stopPublishing(ctx, me, false);
  room.participants.delete(me.id);
  participantGoneEvent(ctx, 'leaving', room.id, me.id);
  notify(ctx, room.participants.values(), { videoroom: 'event', room: room.id, leaving: me.id });
}

export function removeRemotePublisher(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  const roomId = ctx.ids.require(body.room, 'room');
  const id = ctx.ids.require(body.id, 'id');
  p.string('secret');
  const room = roomWithSecret(ctx, p, roomId);
  dropRemotePublisher(ctx, findRemote(room, id));
  return { videoroom: 'success' };
}
