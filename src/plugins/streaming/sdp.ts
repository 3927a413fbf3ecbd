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

export function viewerOffer(streams: readonly ViewerStream[], mountpointId: string | number): Jsep {
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
    specs.push({
      kind: s.type,
      mid: v.mid,
      direction: 'sendonly',
      codec: { name: s.codec!, pt: s.pt!, ...(fmtp !== undefined ? { fmtp } : {}), rtcpFb: s.type === 'video' ? VIDEO_FB : [] },
      extensions: [{ id: MID_EXT, uri: EXT.mid }],
      send: { ssrc: v.ssrc, cname: 'janus', msid: { stream: s.msid ?? 'janus', track: `janus${v.mid}` } },
    });
  }
  return { type: 'offer', sdp: writeSdp(buildOffer(specs, { sessionName: `Mountpoint ${String(mountpointId)}` })) };
}
