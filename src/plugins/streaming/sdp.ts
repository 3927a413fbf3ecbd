/**
 * The offer a viewer gets on `watch`: one sendonly m-line per chosen stream with the mountpoint's
 * codec and payload type (packets are relayed with their payload type unchanged), our SSRC, and
 * one data channel m-line when a data stream is chosen.
 */
import type { Jsep } from '../../core/jsep.js';
import { buildOffer, EXT, type OfferSpec } from '../../media/sdp/negotiate.js';
import { writeSdp } from '../../media/sdp/write.js';
import type { ViewerStream } from './viewer-stream.js';

const VIDEO_FB = ['ccm fir', 'nack', 'nack pli', 'goog-remb'];
const MID_EXT = 4;
/** transport-wide-cc on video m-lines of an auto_layers mountpoint (the id VideoRoom subscribers get too). */
export const TWCC_EXT = 3;

function fmtpOf(raw: string | null): Record<string, string> | undefined {
  if (raw === null) return undefined;
  const out: Record<string, string> = {};
  for (const part of raw.split(';')) {
    const p = part.trim();
    if (p.length === 0) continue;
    const eq = p.indexOf('=');
    if (eq < 0) out[p] = '';
    else out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  return out;
}

/**
 * `autoLayers` (Portunus only): video m-lines also carry transport-cc (extension and feedback) and
 * RTX, so the core has an estimate towards the viewer and can probe for more; otherwise the offer
 * is Janus's.
 */
export function viewerOffer(streams: readonly ViewerStream[], mountpointId: string | number, autoLayers = false): Jsep {
  const specs: OfferSpec[] = [];
  let data = false;
  for (const v of streams) {
    const s = v.stream.spec;
    if (s.type === 'data') {
      // one SCTP association carries every data stream
      if (!data) specs.push({ kind: 'application', mid: v.mid });
      data = true;
      continue;
    }
    const fmtp = fmtpOf(s.fmtp);
    const cc = autoLayers && s.type === 'video';
    const pt = s.pt!;
    const rtxPt = cc && v.rtxSsrc !== 0 ? (pt === 97 ? 98 : pt < 127 ? pt + 1 : 97) : undefined;
    specs.push({
      kind: s.type,
      mid: v.mid,
      direction: 'sendonly',
      codec: {
        name: s.codec!,
        pt,
        ...(fmtp !== undefined ? { fmtp } : {}),
        rtcpFb: s.type === 'video' ? (cc ? [...VIDEO_FB, 'transport-cc'] : VIDEO_FB) : [],
        ...(rtxPt !== undefined ? { rtxPt } : {}),
      },
      extensions: cc ? [{ id: MID_EXT, uri: EXT.mid }, { id: TWCC_EXT, uri: EXT.transportWideCc }] : [{ id: MID_EXT, uri: EXT.mid }],
      send: { ssrc: v.ssrc, cname: 'janus', msid: { stream: s.msid ?? 'janus', track: `janus${v.mid}` }, ...(rtxPt !== undefined ? { rtxSsrc: v.rtxSsrc } : {}) },
    });
  }
  return { type: 'offer', sdp: writeSdp(buildOffer(specs, { sessionName: `Mountpoint ${String(mountpointId)}` })) };
}
