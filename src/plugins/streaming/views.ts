/** The JSON shapes of a mountpoint in `list`, `info` and `created`, keys in Janus's order. */
import { CODECS } from '../../media/sdp/negotiate.js';
import type { Mountpoint } from './mountpoint.js';
import type { StreamSpec } from './spec.js';

type Data = Record<string, unknown>;

export function rtpmapOf(s: StreamSpec): string | null {
  if (s.codec === null) return null;
  const c = CODECS[s.codec];
  return `${c.encodings[0]}/${c.clock}${c.channels !== undefined && s.codec === 'opus' ? `/${c.channels}` : ''}`;
}

export function listEntry(mp: Mountpoint, now: number): Data {
  const out: Data = { id: mp.id, type: mp.typeName, description: mp.description };
  if (mp.metadata !== null) out.metadata = mp.metadata;
  out.enabled = mp.enabled;
  out.media = mp.streams.map((st) => {
    const m: Data = { mid: st.spec.mid, type: st.spec.type, label: st.spec.label };
    if (st.spec.msid !== null) m.msid = st.spec.msid;
    m.age_ms = Math.max(0, Math.round(now - st.lastReceived));
    return m;
  });
  return out;
}

/** `admin`: the right secret was given, or the mountpoint has none (then ports and names are shown). */
export function infoView(mp: Mountpoint, admin: boolean, now: number): Data {
  const out: Data = { id: mp.id };
  if (admin) out.name = mp.name;
  out.description = mp.description;
  if (mp.metadata !== null) out.metadata = mp.metadata;
  if (admin) {
    if (mp.secret !== null) out.secret = mp.secret;
    if (mp.pin !== null) out.pin = mp.pin;
    if (mp.isPrivate) out.is_private = true;
  }
  out.enabled = mp.enabled;
  if (mp.spec.autoLayers) out.auto_layers = true; // Portunus only: absent (as in Janus) when off
  if (admin) out.viewers = mp.viewerSessions.size;
  out.type = mp.typeName;
  if (mp.spec.type === 'live' || mp.spec.type === 'ondemand') {
    if (admin && mp.spec.filename !== null) out.filename = mp.spec.filename;
  }
  if (mp.spec.type === 'rtsp' && admin && mp.spec.url !== null) out.url = mp.spec.url;
  const ports = mp.source?.ports;
  out.media = mp.streams.map((st, i) => {
    const s = st.spec;
    const m: Data = { mindex: i, type: s.type, mid: s.mid, label: s.label };
    if (s.msid !== null) m.msid = s.msid;
    if (s.pt !== null) m.pt = s.pt;
    if (s.codec !== null) m.codec = s.codec;
    const rtpmap = rtpmapOf(s);
    if (rtpmap !== null) m.rtpmap = rtpmap;
    if (s.fmtp !== null) m.fmtp = s.fmtp;
    if (s.simulcast) m.videosimulcast = true;
    if (s.type === 'data' && s.datatype === 'binary') m.datatype = 'binary';
    if (admin && mp.spec.type === 'rtp') {
      const p = ports?.[i];
      m.port = p?.[0] ?? s.port;
      if (s.simulcast) {
        m.port2 = p?.[1] ?? s.port2;
        m.port3 = p?.[2] ?? s.port3;
      }
      if (s.rtcpport !== null) m.rtcpport = mp.source?.rtcpPorts?.[i] || s.rtcpport;
      if (s.mcast !== null) m.mcast = s.mcast;
      if (s.iface !== null) m.iface = s.iface;
    }
    if (st.recorder !== null) m.recording = true;
    m.age_ms = Math.max(0, Math.round(now - st.lastReceived));
    return m;
  });
  return out;
}

/** The `stream` object of a `created` reply: ports bound (multistream `ports`, or legacy `audio_port`...). */
export function createdStream(mp: Mountpoint): Data {
  const out: Data = { id: mp.id, type: mp.typeName, description: mp.description, is_private: mp.isPrivate };
  if (mp.spec.type !== 'rtp') return out;
  const ports = mp.source?.ports ?? [];
  // the RTCP port bound (where a sender's RTCP must go for PLIs to come back), as Janus reports it
  const rtcp = (i: number): number => mp.source?.rtcpPorts?.[i] ?? 0;
  if (mp.spec.legacy) {
    mp.streams.forEach((st, i) => {
      const p = ports[i] ?? [0, 0, 0];
      out[`${st.spec.type}_port`] = p[0];
      if (rtcp(i) > 0) out[`${st.spec.type}_rtcp_port`] = rtcp(i);
      if (st.spec.simulcast) {
        out[`${st.spec.type}_port_2`] = p[1];
        out[`${st.spec.type}_port_3`] = p[2];
      }
    });
    return out;
  }
  out.ports = mp.streams.map((st, i) => {
    const p = ports[i] ?? [0, 0, 0];
    const e: Data = { type: st.spec.type, mid: st.spec.mid };
    if (st.spec.msid !== null) e.msid = st.spec.msid;
    e.port = p[0];
    if (rtcp(i) > 0) e.rtcp_port = rtcp(i);
    if (st.spec.simulcast) {
      e.port_2 = p[1];
      e.port_3 = p[2];
    }
    return e;
  });
  return out;
}
