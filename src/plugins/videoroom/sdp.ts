/**
 * SDP for the VideoRoom: the answer to a publisher's offer (codecs from the room's preference lists,
 * the room's header extensions, simulcast accepted) and the offer we make a subscriber (one sendonly
 * m-line per subscribed stream with the publisher's codec and our own SSRC, inactive m-lines kept
 * for reuse, one data channel m-line for every subscribed data stream).
 */
import type { Jsep } from '../../core/jsep.js';
import {
  buildAnswer,
  buildOffer,
  describeMediaSection,
  EXT,
  type AnswerOptions,
  type CodecName,
  type CodecPreference,
  type OfferSpec,
} from '../../media/sdp/negotiate.js';
import { parseSdp } from '../../media/sdp/parse.js';
import type { Extmap, MediaSection } from '../../media/sdp/types.js';
import { writeSdp } from '../../media/sdp/write.js';
import { VrError, VrErrorCode } from './errors.js';
import type { Participant } from './participant.js';
import type { RoomSettings } from './room-settings.js';
import { PublishedStream, type StreamType, type SubStream } from './streams.js';

/**
 * transport-cc both ways (room `transport_wide_cc_ext`, default on as in Janus): publishers get
 * transport-wide feedback from the core, subscribers' packets carry our own transport-wide sequence
 * numbers (the core stamps them) and their feedback drives the core's bandwidth estimate.
 */
const twccOn = (s: RoomSettings): boolean => s.transport_wide_cc_ext;

const VIDEO_FB = ['ccm fir', 'nack', 'nack pli', 'goog-remb'];

/**
 * Extension ids of every subscriber m-line (fixed, so a forwarded packet's extension block is
 * built once per incoming packet and valid for every subscriber). Same ids as Chrome's own.
 */
export const SUB_EXT = { audioLevel: 1, absSendTime: 2, transportCc: 3, mid: 4, playoutDelay: 12, videoOrientation: 13 } as const;

export interface PublishRequest {
  audiocodec?: string;
  videocodec?: string;
  descriptions?: Array<{ mid: string; description: string }>;
}

function codecPrefs(list: string[], override: string | undefined, kind: 'audio' | 'video', s: RoomSettings): CodecPreference[] {
  let names = list;
  if (override !== undefined) {
    const wanted = override.split(',').map((c) => c.trim().toLowerCase()).filter((c) => list.includes(c));
    if (wanted.length > 0) names = wanted;
  }
  return names.map((n) => {
    if (kind === 'video' && n === 'h264' && s.h264_profile) return { name: 'h264', profile: s.h264_profile };
    if (kind === 'video' && n === 'vp9' && s.vp9_profile) return { name: 'vp9', profile: s.vp9_profile };
    return n as CodecName;
  });
}

function parseOffer(sdp: string): ReturnType<typeof parseSdp> {
  try {
    return parseSdp(sdp);
  } catch (err) {
    throw new VrError(VrErrorCode.INVALID_SDP, `Error parsing SDP: ${(err as Error).message}`);
  }
}

export interface PublisherAnswer {
  jsep: Jsep;
  streams: PublishedStream[];
}

/**
 * Answer a publisher's offer. `previous` streams (renegotiation) are reused by mid so subscribers
 * stay bound to them; new mids get new streams.
 */
export function answerPublisher(
  me: Participant,
  offerJsep: Jsep,
  req: PublishRequest,
  previous: readonly PublishedStream[],
): PublisherAnswer {
  const s = me.room.settings;
  const offer = parseOffer(offerJsep.sdp);
  const audioPrefs = codecPrefs(s.audiocodec, req.audiocodec, 'audio', s);
  const videoPrefs = codecPrefs(s.videocodec, req.videocodec, 'video', s);
  // As Janus 1.1.2 answers Chrome: transport-cc on video only, no abs-send-time (we estimate nothing from it).
  const audioExt = [EXT.mid, ...(s.audiolevel_ext ? [EXT.audioLevel] : [])];
  const videoExt = [
    EXT.mid,
    EXT.rid,
    EXT.repairedRid,
    ...(s.videoorient_ext ? [EXT.videoOrientation] : []),
    ...(s.playoutdelay_ext ? [EXT.playoutDelay] : []),
    ...(twccOn(s) ? [EXT.transportWideCc] : []),
  ];
  const { description, results } = buildAnswer(
    offer,
    (m: MediaSection): AnswerOptions => {
      if (m.kind === 'audio') {
        return {
          codecs: audioPrefs,
          direction: 'recvonly',
          extensions: audioExt,
          rtcpFb: [],
          rtx: false,
          simulcast: false,
          fmtp: { minptime: null, useinbandfec: s.opus_fec ? '1' : null, usedtx: s.opus_dtx ? '1' : null },
        };
      }
      if (m.kind === 'video') {
        return { codecs: videoPrefs, direction: 'recvonly', extensions: videoExt, rtcpFb: [...VIDEO_FB, ...(twccOn(s) ? ['transport-cc'] : [])], rtx: false, simulcast: true };
      }
      return {};
    },
    { sessionName: `VideoRoom ${me.room.id}` },
  );
  const byMid = new Map(previous.map((p) => [p.mid, p]));
  const streams: PublishedStream[] = [];
  results.forEach((r, i) => {
    const om = offer.media[i]!;
    const type: StreamType | null = om.kind === 'audio' ? 'audio' : om.kind === 'video' ? 'video' : om.kind === 'application' ? 'data' : null;
    if (type === null) return;
    const mid = om.mid ?? String(i);
    let ps = byMid.get(mid);
    if (ps === undefined || ps.type !== type) ps = new PublishedStream(me, type, i, mid);
    ps.mindex = i;
    ps.disabled = r.rejected;
    const desc = req.descriptions?.find((d) => d.mid === mid);
    if (desc !== undefined) ps.description = desc.description;
    if (type !== 'data') {
      const offered = describeMediaSection(om, i, offer.direction);
      const answered = describeMediaSection(r.section, i);
      ps.codec = r.codec?.name;
      ps.pt = r.codec?.pt ?? -1;
      ps.clockRate = r.codec?.rtpmap.clock ?? (type === 'audio' ? 48000 : 90000);
      ps.fmtp = { ...(r.codec?.fmtp?.params ?? {}) };
      ps.audioLevelExt = answered.extmapIds[EXT.audioLevel] ?? 0;
      ps.videoOrientExt = answered.extmapIds[EXT.videoOrientation] ?? 0;
      ps.rids = answered.rids.map((x) => x.id);
      ps.ridHml = offerJsep.rid_order !== 'lmh';
      ps.simSsrcs = offered.sim ?? [];
      if (type === 'audio' && ps.codec === 'opus') {
        ps.fec = ps.fmtp['useinbandfec'] === '1';
        ps.dtx = ps.fmtp['usedtx'] === '1';
        ps.stereo = ps.fmtp['stereo'] === '1';
      }
      ps.h264Profile = ps.codec === 'h264' ? ps.fmtp['profile-level-id'] : undefined;
      ps.vp9Profile = ps.codec === 'vp9' && ps.fmtp['profile-id'] !== undefined ? ps.fmtp['profile-id'] : undefined;
    }
    streams.push(ps);
  });
  if (streams.length === 0 || streams.every((p) => p.disabled)) {
    throw new VrError(VrErrorCode.INVALID_SDP, 'No media in the offer that the room accepts (check audiocodec/videocodec)');
  }
  return { jsep: { type: 'answer', sdp: writeSdp(description) }, streams };
}

const DEFAULT_PT: Record<string, { codec: CodecName; pt: number }> = {
  audio: { codec: 'opus', pt: 111 },
  video: { codec: 'vp8', pt: 96 },
};

/**
 * Transport-wide extensions of subscriber video m-lines, as Janus offers them (the core stamps their
 * values per PeerConnection); audio carries neither, so only video counts in the estimate.
 */
function transportExtensions(s: RoomSettings): Extmap[] {
  return [{ id: SUB_EXT.absSendTime, uri: EXT.absSendTime }, ...(twccOn(s) ? [{ id: SUB_EXT.transportCc, uri: EXT.transportWideCc }] : [])];
}

function subscriberExtensions(type: 'audio' | 'video', s: RoomSettings): Extmap[] {
  if (type === 'audio') {
    return [...(s.audiolevel_ext ? [{ id: SUB_EXT.audioLevel, uri: EXT.audioLevel }] : []), { id: SUB_EXT.mid, uri: EXT.mid }];
  }
  return [
    ...transportExtensions(s),
    { id: SUB_EXT.mid, uri: EXT.mid },
    ...(s.playoutdelay_ext ? [{ id: SUB_EXT.playoutDelay, uri: EXT.playoutDelay }] : []),
    ...(s.videoorient_ext ? [{ id: SUB_EXT.videoOrientation, uri: EXT.videoOrientation }] : []),
  ];
}

/** The fmtp a subscriber m-line advertises: the publisher's negotiated parameters that describe the stream. */
function offerFmtp(sub: SubStream): Record<string, string> {
  if (sub.codec === 'opus') {
    const o: Record<string, string> = {};
    if (sub.fmtp['useinbandfec'] === '1') o.useinbandfec = '1';
    if (sub.fmtp['usedtx'] === '1') o.usedtx = '1';
    if (sub.fmtp['stereo'] === '1') o.stereo = '1';
    return o;
  }
  return { ...sub.fmtp };
}

/** The whole offer for a subscriber's current m-line table. */
export function subscriberOffer(streams: readonly SubStream[], s: RoomSettings, roomId: string | number, useMsid: boolean): Jsep {
  const specs: OfferSpec[] = streams.map((sub): OfferSpec => {
    if (sub.type === 'data') return { kind: 'application', mid: sub.mid };
    const kind = sub.type;
    const codec = sub.codec ?? DEFAULT_PT[kind]!.codec;
    const pt = sub.pt >= 0 ? sub.pt : DEFAULT_PT[kind]!.pt;
    const src = sub.source;
    if (src === null) {
      return { kind, mid: sub.mid, direction: 'inactive', codec: { name: codec, pt, fmtp: offerFmtp(sub), rtcpFb: kind === 'video' ? VIDEO_FB : [] }, extensions: [{ id: SUB_EXT.mid, uri: EXT.mid }] };
    }
    // RTX next to video, as Janus offers it (any payload type the m-line does not use).
    const rtxPt = kind === 'video' && sub.rtxSsrc !== 0 ? (pt === 97 ? 98 : pt < 127 ? pt + 1 : 97) : undefined;
    const msid = useMsid ? { stream: `janus${String(src.owner.id)}`, track: `janus${String(src.owner.id)}${src.mid}` } : { stream: 'janus', track: `janus${sub.mid}` };
    return {
      kind,
      mid: sub.mid,
      direction: 'sendonly',
      codec: { name: codec, pt, fmtp: offerFmtp(sub), rtcpFb: [...(kind === 'video' ? VIDEO_FB : []), ...(twccOn(s) ? ['transport-cc'] : [])], ...(rtxPt !== undefined ? { rtxPt } : {}) },
      extensions: subscriberExtensions(kind, s),
      send: { ssrc: sub.ssrc, cname: 'janus', msid, ...(rtxPt !== undefined ? { rtxSsrc: sub.rtxSsrc } : {}) },
    };
  });
  const d = buildOffer(specs, { sessionName: `VideoRoom ${String(roomId)}` });
  return { type: 'offer', sdp: writeSdp(d) };
}
