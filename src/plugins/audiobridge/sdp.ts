/**
 * AudioBridge SDP: answer the client's offer with one audio m-line (the participant's codec; Opus by
 * default) and reject everything else, or build our own offer (`generate_offer`). Opus gets AudioBridge's
 * fmtp (maxplaybackrate = mixing rate, stereo for spatial rooms, useinbandfec as offered).
 */
import {
  EXT,
  answerMediaSection,
  buildOffer,
  describeMediaSection,
  emptySession,
  makeFmtp,
  parseSdp,
  rejectedSection,
  writeSdp,
  type SessionDescription,
} from '../../media/sdp/index.js';
import type { AbCodec } from './room.js';

export interface AudioNegotiation {
  sdp: string;
  /** Negotiated payload type, -1 when the audio m-line was rejected. */
  pt: number;
  mid: string;
  /** Audio-level extension id (0 when not negotiated). */
  audioLevelId: number;
  /** The peer asked for in-band FEC (useinbandfec=1). */
  fec: boolean;
}

export interface AnswerParams {
  codec: AbCodec;
  samplingRate: number;
  stereo: boolean;
  audioLevelExt: boolean;
  ssrc: number;
  sessionName: string;
  sessionId: string;
  sessionVersion: number;
}

function opusFmtp(rate: number, stereo: boolean, fec: boolean): Record<string, string> {
  return {
    maxplaybackrate: String(rate),
    stereo: stereo ? '1' : '0',
    'sprop-stereo': stereo ? '1' : '0',
    useinbandfec: fec ? '1' : '0',
  };
}

/** Parse an SDP, throwing the parser's error (callers turn it into 493). */
export function parseOffer(sdp: string): SessionDescription {
  return parseSdp(sdp);
}

export function buildAudioAnswer(offer: SessionDescription, a: AnswerParams): AudioNegotiation {
  const d = emptySession({ sessionId: a.sessionId, sessionVersion: String(a.sessionVersion) });
  d.name = a.sessionName;
  d.msidSemantic = { semantic: 'WMS', ids: ['*'] };
  d.extmapAllowMixed = offer.extmapAllowMixed;
  let accepted = false;
  let result: AudioNegotiation = { sdp: '', pt: -1, mid: '0', audioLevelId: 0, fec: false };
  offer.media.forEach((m, i) => {
    if (m.kind !== 'audio' || accepted) {
      d.media.push(rejectedSection(m));
      return;
    }
    accepted = true;
    const info = describeMediaSection(m, i, offer.direction);
    const extensions = [EXT.mid, ...(a.audioLevelExt ? [EXT.audioLevel] : [])];
    const r = answerMediaSection(
      m,
      {
        codecs: [a.codec],
        direction: 'sendrecv',
        extensions,
        rtcpFb: ['transport-cc'],
        rtx: false,
        simulcast: false,
        send: { ssrc: a.ssrc, cname: 'janus', msid: { stream: 'janus', track: 'janusa0' } },
      },
      offer.direction,
    );
    d.media.push(r.section);
    if (r.rejected || !r.codec) return;
    const offeredFmtp = r.codec.fmtp?.params ?? info.fmtp?.params ?? {};
    const fec = a.codec === 'opus' && offeredFmtp['useinbandfec'] === '1';
    if (a.codec === 'opus') {
      r.section.fmtps = [makeFmtp(r.codec.pt, opusFmtp(a.samplingRate, a.stereo, fec))];
    } else {
      r.section.fmtps = [];
    }
    result = {
      sdp: '',
      pt: r.codec.pt,
      mid: m.mid ?? String(i),
      audioLevelId: r.section.extmaps.find((e) => e.uri === EXT.audioLevel)?.id ?? 0,
      fec,
    };
  });
  const mids = d.media.filter((m) => m.port !== 0 && m.mid !== undefined).map((m) => m.mid!);
  if (mids.length > 0) d.groups.push({ semantics: 'BUNDLE', mids });
  result.sdp = writeSdp(d);
  return result;
}

export function buildAudioOffer(a: AnswerParams & { fec: boolean }): AudioNegotiation {
  const pt = a.codec === 'pcmu' ? 0 : a.codec === 'pcma' ? 8 : 100;
  const extensions = [{ id: 1, uri: EXT.mid }, ...(a.audioLevelExt ? [{ id: 2, uri: EXT.audioLevel }] : [])];
  const d = buildOffer(
    [
      {
        kind: 'audio',
        mid: '0',
        direction: 'sendrecv',
        codec: { name: a.codec, pt, ...(a.codec === 'opus' ? { fmtp: opusFmtp(a.samplingRate, a.stereo, a.fec) } : {}), rtcpFb: [] },
        extensions,
        send: { ssrc: a.ssrc, cname: 'janus', msid: { stream: 'janus', track: 'janusa0' } },
      },
    ],
    { origin: { sessionId: a.sessionId, sessionVersion: String(a.sessionVersion) }, sessionName: a.sessionName },
  );
  return { sdp: writeSdp(d), pt, mid: '0', audioLevelId: a.audioLevelExt ? 2 : 0, fec: a.fec };
}

/** What the client's answer to our offer says (pt, mid, audio-level id). */
export function readAnswer(answer: SessionDescription): Omit<AudioNegotiation, 'sdp'> {
  const idx = answer.media.findIndex((m) => m.kind === 'audio');
  if (idx < 0) return { pt: -1, mid: '0', audioLevelId: 0, fec: false };
  const info = describeMediaSection(answer.media[idx]!, idx, answer.direction);
  return {
    pt: info.rejected || info.pt === undefined ? -1 : info.pt,
    mid: info.mid ?? String(idx),
    audioLevelId: info.extmapIds[EXT.audioLevel] ?? 0,
    fec: info.fmtp?.params['useinbandfec'] === '1',
  };
}
