/**
 * A participant in a room on another media worker than its PeerConnection (`changeroom` across workers).
 *
 * A PeerConnection cannot move threads, so the handle has two halves:
 * - on the PeerConnection's worker ("home"), the session keeps its Participant (SSRC, sequence
 *   numbers, payload type, mid) out of any room, with `away` naming the room's worker: RTP from the
 *   PeerConnection is forwarded there untouched, and encoded mix frames that come back are packetized
 *   with the participant's own numbering and sent, so the far end sees one continuous stream whatever
 *   the room changes;
 * - on the room's worker, a Participant like any other (decoder, jitter buffer, mix slot, talk
 *   detection, events), whose session has `home` set: its mix-minus frame goes home (room.ts) instead
 *   of to a local PeerConnection.
 *
 * Media crosses on the worker bus's packet lanes (src/workers/bus.ts, opened by main when a participant
 * first moves between the two): no postMessage per packet, wake-ups batched per event-loop turn.
 *
 * Main (pooled-plugin.ts) moves the participant with three calls: `export` (its state, from the
 * worker it is on now), `attach` (on the target room's worker: every check a changeroom makes, then
 * into the room: `joined` to the others, the `roomchanged` event), `detach` (out of the old room:
 * `leaving` to the others), plus `retarget` on the home worker when neither end is home. So each
 * participant sees the same events as for a changeroom inside one worker.
 */
import type { AbContext, Body, Data } from './context.js';
import { AbError, AbErrorCode, validate } from './errors.js';
import { findRoom, parseId } from './ids.js';
import { receiveRtp } from './incoming.js';
import { JOIN_PARAMS } from './params.js';
import { checkJoin, enterRoom, pickUserId } from './participants.js';
import { checkName } from './recording.js';
import { notify } from './context.js';
import { Participant, type AbCodec, type AbSession } from './room.js';
import { writeRtpHeader } from '../../media/rtp/header.js';

/**
 * What a record on a packet lane (src/workers/bus.ts) carries. The handle id (53 bits) is split
 * over the record's two words: tag = its low 32 bits; meta = its high 21 bits, the kind (3 bits) and
 * the RTP payload type (8 bits).
 */
export enum CrossKind {
  /** An RTP packet from the handle's PeerConnection, for the room's worker (home -> room). */
  Up = 0,
  /** A mixed, encoded frame for the handle's PeerConnection (room -> home). */
  Down = 1,
  /** The participant left its room on the room's worker (leave, kick, destroy): home stops forwarding. */
  Gone = 2,
  /** The session's mid after a renegotiation on the room's worker (room -> home). */
  Meta = 3,
}

const TWO_32 = 0x100000000;

/** One record for the handle's other half on worker `to`; false when there is no lane (yet) or it is full. */
export function sendTo(ctx: AbContext, to: number, handleId: number, kind: CrossKind, pt: number, buf: Uint8Array, len: number): boolean {
  const tx = ctx.bus?.lane(to);
  if (!tx) return false;
  const meta = ((Math.floor(handleId / TWO_32) & 0x1fffff) | (kind << 21) | ((pt & 0xff) << 24)) >>> 0;
  return tx.write(handleId >>> 0, meta, buf, 0, len);
}

/** What travels with a participant to another worker: what a changeroom inside one worker keeps. */
export interface Leg {
  /** The worker of the handle's PeerConnection. */
  home: number;
  codec: AbCodec;
  pt: number;
  mid: string;
  extmapId: number;
  fec: boolean;
  bitrate: number;
  ssrc: number;
  dBovLevel: number;
  recordBase: string | null;
  started: boolean;
  pluginOffer: boolean;
  sdpSessionId: string;
  sdpVersion: number;
}

/** A control call from main for the handle's session here. Plugin errors come back as error data. */
export function crossWorkerCall(ctx: AbContext, s: AbSession, op: string, data: Data): Data {
  switch (op) {
    case 'export':
      return exportLeg(ctx, s, (data['body'] ?? {}) as Body);
    case 'attach':
      return attach(ctx, s, (data['body'] ?? {}) as Body, data['leg'] as Leg);
    case 'detach':
      detach(ctx, s, data['to'] as number);
      return {};
    case 'status':
      return { inRoom: !!s.participant?.room || s.away !== null };
    case 'retarget':
      s.away = typeof data['to'] === 'number' ? data['to'] : null;
      return {};
    default:
      throw new AbError(AbErrorCode.INVALID_REQUEST, `Unknown cross-worker operation '${op}'`);
  }
}

/** The changeroom checks that need the participant (they come first, as in a changeroom here), and its state. */
function exportLeg(ctx: AbContext, s: AbSession, body: Body): Data {
  validate(body, JOIN_PARAMS);
  checkName(ctx, body, 'filename');
  parseId(ctx, body, 'room', true);
  const p = s.participant;
  if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't change room (not in a room in the first place)");
  // Its socket is its media and lives here: a plain-RTP participant cannot be split over two workers.
  if (p.plain) throw new AbError(AbErrorCode.UNKNOWN_ERROR, 'A plain RTP participant cannot change to a room on another media worker');
  const home = s.home ?? ctx.bus?.index;
  if (home === undefined) throw new AbError(AbErrorCode.UNKNOWN_ERROR, 'Not in a media worker pool');
  const leg: Leg = {
    home,
    codec: p.codec,
    pt: p.pt,
    mid: p.mid,
    extmapId: p.extmapId,
    fec: p.fec,
    bitrate: p.bitrate,
    ssrc: p.ssrc,
    dBovLevel: p.dBovLevel,
    recordBase: p.recordBase,
    started: s.started,
    pluginOffer: s.pluginOffer,
    sdpSessionId: s.sdpSessionId,
    sdpVersion: s.sdpVersion,
  };
  return { leg };
}

/** Into a room here for a participant coming from another worker (home or away). */
function attach(ctx: AbContext, s: AbSession, body: Body, leg: Leg): Data {
  validate(body, JOIN_PARAMS);
  checkName(ctx, body, 'filename');
  const room = findRoom(ctx, parseId(ctx, body, 'room', true)!);
  const c = checkJoin(ctx, room, body);
  const id = pickUserId(ctx, room, body);
  const atHome = leg.home === ctx.bus?.index;
  let p = s.participant;
  if (!atHome || !p) {
    // A copy left from an earlier visit has nothing worth keeping.
    p?.destroyCodecs();
    p = new Participant(s);
    p.ssrc = leg.ssrc;
    p.codec = leg.codec;
    s.started = leg.started;
  }
  // The room's worker may have renegotiated: its view of the session is the newest.
  p.pt = leg.pt;
  p.mid = leg.mid;
  p.extmapId = leg.extmapId;
  p.fec = leg.fec;
  p.bitrate = leg.bitrate;
  p.dBovLevel = leg.dBovLevel;
  p.recordBase = leg.recordBase;
  s.pluginOffer = leg.pluginOffer;
  s.sdpSessionId = leg.sdpSessionId;
  s.sdpVersion = leg.sdpVersion;
  s.participant = p;
  if (atHome) {
    s.away = null;
    s.home = null;
  } else {
    s.home = leg.home;
    s.away = null;
  }
  return { event: enterRoom(ctx, p, room, body, c, id) };
}

/** Out of its room here, now that it is in a room on worker `to`. */
function detach(ctx: AbContext, s: AbSession, to: number): void {
  const p = s.participant;
  if (!p) return;
  const old = p.room;
  if (old) {
    old.remove(p);
    notify(ctx, old, { audiobridge: 'event', room: old.settings.id, leaving: p.id }, p);
  }
  p.clearQueues();
  if (s.home === null) {
    // The PeerConnection is here: keep the participant (its RTP numbering) for the frames from `to`.
    s.away = to;
    return;
  }
  p.destroyCodecs();
  s.participant = null;
  s.home = null;
  s.started = false;
}

/**
 * The participant left its room here for good (leave, kick, destroy, hangup): its home worker stops
 * forwarding its RTP here. A changeroom does not come here (its `detach` keeps the link as main says).
 */
export function legLeft(ctx: AbContext, s: AbSession): void {
  const home = s.home;
  if (home === null) return;
  s.home = null;
  sendTo(ctx, home, s.handle.handleId, CrossKind.Gone, 0, EMPTY, 0);
}

const EMPTY = new Uint8Array(0);

/** Home worker: an RTP packet from the PeerConnection of a participant whose room is on another worker. */
export function forwardUp(ctx: AbContext, s: AbSession, packet: Uint8Array, len: number): void {
  if (s.away === null || !s.started) return;
  sendTo(ctx, s.away, s.handle.handleId, CrossKind.Up, 0, packet, len);
}

/** After a renegotiation on the room's worker: the home worker sends on the (new) mid. */
export function sendMeta(ctx: AbContext, s: AbSession): void {
  const p = s.participant;
  if (s.home === null || !p) return;
  const mid = Buffer.from(p.mid, 'utf8');
  sendTo(ctx, s.home, s.handle.handleId, CrossKind.Meta, p.pt < 0 ? 255 : p.pt, mid, mid.length);
}

/**
 * A record from the other half of a participant on worker `from`. `data[offset, offset + length)` is
 * valid during the call only (the ring reuses it): what is kept is copied.
 */
export function crossRecord(ctx: AbContext, from: number, tag: number, meta: number, data: Buffer, offset: number, length: number): void {
  const handleId = (meta & 0x1fffff) * TWO_32 + tag;
  const s = ctx.byHandle.get(handleId);
  if (!s) return;
  switch (kindOf(meta)) {
    case CrossKind.Up:
      // Room's worker: as if it came from a PeerConnection here (receiveRtp copies the payload it keeps).
      if (s.home === from) receiveRtp(ctx, s, data.subarray(offset, offset + length), length, false);
      return;
    case CrossKind.Down:
      if (s.away === from) sendHome(ctx, s, meta >>> 24, data, offset, length);
      return;
    case CrossKind.Gone:
      if (s.away === from) s.away = null;
      return;
    case CrossKind.Meta:
      if (s.away === from && s.participant) s.participant.mid = data.toString('utf8', offset, offset + length);
      return;
  }
}

/** The record's kind, from its meta word as sendTo packs it. */
function kindOf(meta: number): CrossKind {
  return (meta >>> 21) & 0x7;
}

/**
 * A lane record older than the bus's LANE_MAX_AGE_MS (its worker fell behind) is skipped unless this
 * says keep it. Audio frames (Up, Down) may go: the room's jitter buffer and decoder treat the gap as
 * loss (concealment) and the home side numbers the next frame on, and a mix half a second late is
 * worth less to a conversation than a short gap. Nothing asks for a repair (no keyframes in audio).
 * Gone and Meta change the participant's state and are sent once: they are delivered however late.
 */
export function keepStale(meta: number): boolean {
  const kind = kindOf(meta);
  return kind === CrossKind.Gone || kind === CrossKind.Meta;
}

/** Worker `index` died: nothing crosses to or from it any more (main hangs up or takes out who was split). */
export function workerDown(ctx: AbContext, index: number): void {
  for (const s of ctx.sessions) {
    if (s.away === index) s.away = null;
    if (s.home === index) s.home = null;
  }
}

/** Home worker: one encoded mix frame onto the PeerConnection, numbered as the participant's own stream. */
function sendHome(ctx: AbContext, s: AbSession, pt: number, data: Buffer, offset: number, length: number): void {
  const p = s.participant;
  const host = ctx.media;
  if (!p || !host || !s.started || !s.handle.alive) return;
  const pkt = Buffer.allocUnsafe(12 + length);
  p.seq = (p.seq + 1) & 0xffff;
  p.ts = (p.ts + (p.codec === 'opus' ? 960 : 160)) >>> 0;
  writeRtpHeader(pkt, pt, p.seq, p.ts, p.ssrc, p.firstPacket);
  p.firstPacket = false;
  data.copy(pkt, 12, offset, offset + length);
  p.sent++;
  try {
    host.sendRtp(s.handle, p.mid, pkt);
  } catch (err) {
    ctx.log.warn('AudioBridge sendRtp failed', { id: p.id, err: String(err) });
  }
}
