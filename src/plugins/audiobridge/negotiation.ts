/** The SDP step of join/configure: answer an offer, take an answer, or make the plugin's own offer. */
import type { Jsep } from '../../core/jsep.js';
import type { AbContext } from './context.js';
import { AbError, AbErrorCode } from './errors.js';
import type { AbSession } from './room.js';
import { buildAudioAnswer, buildAudioOffer, parseOffer, readAnswer } from './sdp.js';

/** SDP step of join/configure: answer an offer, take an answer, or make our own offer. */
export function negotiate(ctx: AbContext, s: AbSession, jsep: Jsep | null, generateOffer: boolean): Jsep | undefined {
  if (jsep?.e2ee === true) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Media encryption unsupported by this plugin');
  if (jsep && jsep.type === 'offer' && s.pluginOffer) throw new AbError(AbErrorCode.INVALID_SDP, 'Received an offer on a plugin-offered session');
  if (jsep && jsep.type === 'answer' && !s.pluginOffer) throw new AbError(AbErrorCode.INVALID_SDP, "Received an answer when we didn't send an offer");
  let parsed;
  if (jsep) {
    try {
      parsed = parseOffer(jsep.sdp);
    } catch (err) {
      throw new AbError(AbErrorCode.INVALID_SDP, `Error parsing ${jsep.sdp}: ${(err as Error).message}`);
    }
  }
  const p = s.participant;
  if (jsep?.type === 'offer') {
    if (jsep.update) s.sdpVersion++;
    else {
      s.sdpVersion = 1;
      s.sdpSessionId = String(Date.now() * 1000 + Math.floor(Math.random() * 1000));
    }
  }
  if (jsep?.type === 'answer' && parsed) {
    if (p) {
      const a = readAnswer(parsed);
      p.pt = a.pt;
      p.mid = a.mid;
      p.extmapId = a.audioLevelId > 0 && p.room?.settings.audiolevelExt ? a.audioLevelId : 0;
      if (a.fec && p.codec === 'opus') {
        p.fec = true;
        p.updateEncoder();
      }
    }
    return undefined;
  }
  if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't handle SDP (not in a room)");
  const room = p.room;
  const params = {
    codec: p.codec,
    samplingRate: room.settings.samplingRate,
    stereo: room.settings.spatialAudio,
    audioLevelExt: room.settings.audiolevelExt,
    ssrc: p.ssrc,
    sessionName: `AudioBridge ${room.idString}`,
    sessionId: s.sdpSessionId,
    sessionVersion: s.sdpVersion,
  };
  if (jsep && parsed) {
    const ans = buildAudioAnswer(parsed, params);
    if (ans.fec) {
      p.fec = true;
      p.updateEncoder();
    }
    p.pt = ans.pt;
    p.mid = ans.mid;
    p.extmapId = ans.audioLevelId > 0 && room.settings.audiolevelExt ? ans.audioLevelId : 0;
    return { type: 'answer', sdp: ans.sdp };
  }
  if (s.sdpVersion > 1 || s.started) s.sdpVersion++;
  const off = buildAudioOffer({ ...params, fec: p.fec || p.codec === 'opus' });
  p.mid = off.mid;
  return { type: 'offer', sdp: off.sdp };
}

