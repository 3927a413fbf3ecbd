/**
 * The media part of Admin `handle_info` in Janus 1.x's layout: `webrtc.{ice,dtls,extensions,bwe,media}`
 * plus the top-level keys the PeerConnection owns (`agent-created`, `agent-started`, `ice-mode`,
 * `ice-role`, the media `flags`). Built from a snapshot a Peer takes of its own state (peer.ts
 * `info()`), so this module is pure: snapshot in, JSON out. Words and units are Janus's:
 * ICE states "gathering", "connecting", "connected", "ready", "failed", "disconnected"; DTLS states
 * "created", "trying", "connected", "failed"; times in monotonic microseconds (core/monotonic.ts).
 * Portunus-only figures sit under keys Janus does not use (`errors`, `portunus`).
 */
import { monotonicUs } from '../core/monotonic.js';
import type { DtlsState, DtlsStats } from './dtls/endpoint.js';
import type { IceState } from './ice/agent.js';
import { serializeCandidate, type IceCandidate } from './ice/candidate.js';
import type { MediaSection, SessionDescription } from './sdp/types.js';
import type { InboundStreamStats, OutboundStreamStats, RtpSessionStats } from './session/types.js';

export const TWCC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
const REPAIRED_RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';

/** One audio/video m-line as the Peer negotiated it. */
export interface LineSnapshot {
  mid: string;
  mindex: number;
  kind: 'audio' | 'video';
  send: boolean;
  recv: boolean;
  localSsrc: number;
  localRtxSsrc: number;
  clockRate: number;
  pt: number;
  codec: string | undefined;
  nack: boolean;
  rtxPt: number;
}

export interface PeerSnapshot {
  iceLite: boolean;
  controlling: boolean | null;
  iceState: IceState;
  /** performance.now() ms of this thread, -1 while unknown. */
  agentCreatedAt: number;
  agentStartedAt: number;
  iceConnectedAt: number;
  localCandidates: IceCandidate[];
  remoteCandidates: IceCandidate[];
  selectedPair: { local: IceCandidate; remote: IceCandidate } | null;
  up: boolean;
  iceRestart: boolean;
  wantData: boolean;
  fingerprint: string;
  remoteFingerprint: { hash: string; value: string } | null;
  dtlsRole: 'client' | 'server' | null;
  dtls: {
    state: DtlsState;
    stats: DtlsStats;
    appStats: {
      packetsIn: number; bytesIn: number; packetsOut: number; bytesOut: number;
      datagramsOut?: number; coalesced?: number; authFailed?: number; replayed?: number;
    };
    startedAt: number;
    connectedAt: number;
  } | null;
  srtpProfileName: string;
  sctp: boolean;
  lines: LineSnapshot[];
  session: RtpSessionStats;
  localDesc: SessionDescription | null;
  remoteDesc: SessionDescription | null;
  minNackQueueMs: number;
  errors: Record<string, number>;
}

/** Our ICE agent's states in Janus's words (janus_ice_state names). */
function iceStateWord(s: IceState, up: boolean): string {
  switch (s) {
    case 'new':
      return 'gathering';
    case 'checking':
      return 'connecting';
    // Janus says "ready" once a nominated pair carries traffic; a controlled agent with regular
    // nomination can sit in "connected" while DTLS and media already run over the selected pair.
    case 'connected':
      return up ? 'ready' : 'connected';
    case 'completed':
      return 'ready';
    case 'failed':
      return 'failed';
    default:
      return 'disconnected';
  }
}

function dtlsStateWord(s: DtlsState | undefined): string {
  switch (s) {
    case 'connecting':
      return 'trying';
    case 'connected':
      return 'connected';
    case 'closed':
      return 'failed';
    default:
      return 'created';
  }
}

/** Our SRTP profile names (RFC 5764) in OpenSSL's words, which Janus reports. */
const SRTP_WORDS: Record<string, string> = {
  AES_CM_128_HMAC_SHA1_80: 'SRTP_AES128_CM_SHA1_80',
  AES_CM_128_HMAC_SHA1_32: 'SRTP_AES128_CM_SHA1_32',
  AEAD_AES_128_GCM: 'SRTP_AEAD_AES_128_GCM',
  AEAD_AES_256_GCM: 'SRTP_AEAD_AES_256_GCM',
};

/** Janus lists candidates without the `candidate:` prefix. */
function candidateText(c: IceCandidate): string {
  return serializeCandidate(c).slice('candidate:'.length);
}

const us = (ms: number): number => monotonicUs(ms);

/** Link quality 0-100 from received vs lost packets; 0 while nothing was counted (like Janus). */
function quality(received: number, lost: number): number {
  const total = received + Math.max(0, lost);
  return total > 0 ? Math.round((100 * received) / total) : 0;
}

/** The RTCP figures Janus keeps per inbound layer (`main`, `sim1`, `sim2`). */
function rtcpBlock(clockRate: number, rttMs: number | null, inbound: InboundStreamStats | undefined, out: OutboundStreamStats | undefined): Record<string, number> {
  const outPackets = out?.packets ?? 0;
  const remoteLost = out?.remoteLost ?? 0;
  // out-link-quality: loss the remote reports in its last RR; out-media-link-quality: cumulative,
  // after our retransmissions repaired what they could.
  const reported = out !== undefined && outPackets > 0 && (rttMs ?? 0) > 0;
  const outLink = reported ? Math.round(100 * (1 - out!.remoteFractionLost / 256)) : 0;
  const outMedia = reported ? quality(outPackets, Math.max(0, remoteLost - out!.retransmitted)) : 0;
  return {
    base: clockRate,
    // RTT is the PeerConnection's, reported on the main layer only (like Janus).
    ...(rttMs !== null ? { rtt: Math.round(rttMs) } : {}),
    lost: Math.max(0, inbound?.lost ?? 0),
    'lost-by-remote': Math.max(0, remoteLost),
    'jitter-local': Math.round(inbound?.jitterMs ?? 0),
    'jitter-remote': Math.round(out?.remoteJitterMs ?? 0),
    // in-link-quality counts packets we had to ask for again as lost; in-media-link-quality only
    // what stayed lost after retransmission.
    'in-link-quality': inbound ? quality(inbound.packets - inbound.rtxPackets, inbound.lost + inbound.rtxPackets) : 0,
    'in-media-link-quality': inbound ? quality(inbound.packets, inbound.lost) : 0,
    'out-link-quality': outLink,
    'out-media-link-quality': outMedia,
  };
}

function directionOf(l: LineSnapshot): string {
  return l.send && l.recv ? 'sendrecv' : l.send ? 'sendonly' : l.recv ? 'recvonly' : 'inactive';
}

/** Simulcast by rid: the rids highest layer first, the extension ids, and the order the client listed them in. */
function ridSimulcast(inbound: InboundStreamStats[], rm: MediaSection | undefined, ext: Record<string, number>): Record<string, unknown> | null {
  const withRid = inbound.filter((s) => s.rid !== undefined);
  const ridExt = ext[RID_URI];
  if (withRid.length === 0 || ridExt === undefined) return null;
  const rid = [...withRid].sort((a, b) => (b.substream ?? 0) - (a.substream ?? 0)).map((s) => s.rid!);
  const first = rm?.rids.find((r) => r.direction === 'send')?.id;
  const firstLayer = withRid.find((s) => s.rid === first)?.substream ?? 0;
  return {
    rid,
    'rid-ext-id': ridExt,
    ...(ext[REPAIRED_RID_URI] !== undefined ? { 'ridrtx-ext-id': ext[REPAIRED_RID_URI] } : {}),
    'rid-order': firstLayer === 0 ? 'lmh' : 'hml',
  };
}

function mediumInfo(p: PeerSnapshot, l: LineSnapshot, rm: MediaSection | undefined, ext: Record<string, number>): Record<string, unknown> {
  const st = p.session;
  const inbound = st.inbound.filter((s) => s.mid === l.mid).sort((a, b) => (a.substream ?? 0) - (b.substream ?? 0));
  const out = st.outbound.find((s) => s.mid === l.mid);
  const rtt = out && out.rttMs > 0 ? out.rttMs : st.rttMs;

  // Inbound layers by substream (0 = the only one without simulcast). Keys only for SSRCs known.
  const layer = (n: number): InboundStreamStats | undefined => inbound.find((s) => (s.substream ?? 0) === n);
  const ssrc: Record<string, number> = {};
  if (l.localSsrc) ssrc.ssrc = l.localSsrc;
  if (l.rtxPt >= 0 && l.localRtxSsrc !== 0) ssrc['ssrc-rtx'] = l.localRtxSsrc;
  for (let n = 0; n < 3; n++) {
    const s = layer(n);
    if (s) ssrc[n === 0 ? 'ssrc-peer' : `ssrc-peer-sim-${n}`] = s.ssrc;
  }
  for (let n = 0; n < 3; n++) {
    const s = layer(n);
    if (s?.rtxSsrc !== undefined) ssrc[n === 0 ? 'ssrc-peer-rtx' : `ssrc-peer-sim-${n}-rtx`] = s.rtxSsrc;
  }

  const codecs: Record<string, unknown> = {};
  if (l.pt >= 0) codecs.pt = l.pt;
  if (l.rtxPt >= 0) codecs['rtx-pt'] = l.rtxPt;
  if (l.codec !== undefined) codecs.codec = l.codec;

  const rtcp: Record<string, unknown> = { main: rtcpBlock(l.clockRate, rtt, layer(0), out) };
  for (let n = 1; n < 3; n++) {
    const s = layer(n);
    if (s) rtcp[`sim${n}`] = rtcpBlock(l.clockRate, null, s, undefined);
  }

  const layerStats = (s: InboundStreamStats | undefined): Record<string, number> => {
    const o: Record<string, number> = { packets: s?.packets ?? 0, bytes: s?.bytes ?? 0, bytes_lastsec: s?.bytesLastSec ?? 0 };
    if (l.nack) o.nacks = s?.nacksSent ?? 0;
    return o;
  };
  // The main layer's figures at the top, the other simulcast layers nested (Janus's layout).
  const statsIn: Record<string, unknown> = layerStats(layer(0));
  if (l.nack) statsIn.retransmissions = inbound.reduce((n, s) => n + s.rtxPackets, 0);
  for (let n = 1; n < 3; n++) {
    const s = layer(n);
    if (s) statsIn[`video-simulcast-${n}`] = layerStats(s);
  }
  const statsOut = { packets: out?.packets ?? 0, bytes: out?.bytes ?? 0, bytes_lastsec: out?.bytesLastSec ?? 0, nacks: out?.nacksReceived ?? 0 };

  const m: Record<string, unknown> = { type: l.kind, mindex: l.mindex, mid: l.mid };
  // The client's msid. (Janus 1.1.2 adds local-stream/local-track only for msids a plugin sets
  // explicitly, not for the ones in a plugin's answer, so an EchoTest shows none: neither do we.)
  const rmsid = rm?.msids[0];
  if (rmsid) m.msid = { 'remote-stream': rmsid.stream, ...(rmsid.track !== undefined ? { 'remote-track': rmsid.track } : {}) };
  Object.assign(m, {
    do_nacks: l.nack,
    'nack-queue-ms': l.nack ? Math.min(5000, Math.max(p.minNackQueueMs, Math.round(2 * st.rttMs))) : 0,
    ssrc,
  });
  const rids = ridSimulcast(inbound, rm, ext);
  if (rids) m['rid-simulcast'] = rids;
  Object.assign(m, {
    direction: { send: l.send, recv: l.recv },
    ...(Object.keys(codecs).length > 0 ? { codecs } : {}),
    rtcp,
    stats: { in: statsIn, out: statsOut },
    // Portunus only: what the Janus layout has no place for.
    portunus: {
      direction: directionOf(l),
      receiving: inbound.some((s) => s.receiving),
      plis: { in: out ? out.plisReceived : 0, out: inbound.reduce((n, s) => n + s.plisSent, 0) },
      firs: { in: out ? out.firsReceived : 0, out: inbound.reduce((n, s) => n + s.firsSent, 0) },
      retransmitted: out?.retransmitted ?? 0,
      // What went out on our RTX SSRC (as its SR says) and how many report blocks came back about it.
      ...(out?.rtxSsrc !== undefined ? { rtx: { packets: out.rtxPackets ?? 0, octets: out.rtxOctets ?? 0, reports: out.rtxReports ?? 0 } } : {}),
      ...(inbound.some((s) => s.rid !== undefined) ? { rids: inbound.map((s) => s.rid ?? null) } : {}),
    },
  });
  return m;
}

/** Negotiated header extensions by URI: ids in our description whose URI the other side has too. */
function extensions(local: SessionDescription | null, remote: SessionDescription | null): Record<string, number> {
  const out: Record<string, number> = {};
  if (local === null || remote === null) return out;
  const remoteUris = new Set<string>();
  for (const m of remote.media) for (const e of m.extmaps) remoteUris.add(e.uri);
  for (const m of local.media) {
    if (m.port === 0 && !m.bundleOnly) continue;
    for (const e of m.extmaps) if (remoteUris.has(e.uri) && out[e.uri] === undefined) out[e.uri] = e.id;
  }
  return out;
}

export function buildMediaInfo(p: PeerSnapshot): Record<string, unknown> {
  const pair = p.selectedPair;
  const ice: Record<string, unknown> = { stream_id: 1, component_id: 1, state: iceStateWord(p.iceState, p.up) };
  // Host candidates (and the configured 1:1 NAT ones) are known when the agent is created.
  if (p.agentCreatedAt >= 0) ice.gathered = us(p.agentCreatedAt);
  if (p.iceConnectedAt >= 0) ice.connected = us(p.iceConnectedAt);
  ice['local-candidates'] = p.localCandidates.map(candidateText);
  ice['remote-candidates'] = p.remoteCandidates.map(candidateText);
  if (pair) ice['selected-pair'] = `${pair.local.address}:${pair.local.port} [${pair.local.type},${pair.local.transport}] <-> ${pair.remote.address}:${pair.remote.port} [${pair.remote.type},${pair.remote.transport}]`;
  // Janus 1.1.2 reports -1 here on every PeerConnection (a 0.x stream field it no longer sets).
  ice.ready = -1;

  const d = p.dtls;
  const dtls: Record<string, unknown> = { fingerprint: p.fingerprint };
  if (p.remoteFingerprint) {
    dtls['remote-fingerprint'] = p.remoteFingerprint.value;
    dtls['remote-fingerprint-hash'] = p.remoteFingerprint.hash;
  }
  Object.assign(dtls, {
    'dtls-role': p.dtlsRole === 'client' ? 'active' : p.dtlsRole === 'server' ? 'passive' : 'actpass',
    'dtls-state': dtlsStateWord(d?.state),
    retransmissions: d?.stats.retransmits ?? 0,
    // The peer's certificate matched the SDP fingerprint (we never complete a handshake otherwise).
    valid: d !== null && d.connectedAt >= 0,
    'srtp-profile': p.srtpProfileName ? (SRTP_WORDS[p.srtpProfileName] ?? p.srtpProfileName) : 'none',
    ready: p.up,
  });
  if (d && d.startedAt >= 0) dtls['handshake-started'] = us(d.startedAt);
  if (d && d.connectedAt >= 0) dtls.connected = us(d.connectedAt);
  dtls['sctp-association'] = p.sctp;
  dtls.stats = {
    in: { packets: d?.appStats.packetsIn ?? 0, bytes: d?.appStats.bytesIn ?? 0 },
    out: { packets: d?.appStats.packetsOut ?? 0, bytes: d?.appStats.bytesOut ?? 0 },
  };
  // Portunus only: the whole datagram picture, handshake included.
  // Application data: datagrams sent, records that shared a datagram, records refused (bad tag, replay).
  if (d) {
    const a = d.appStats;
    dtls.portunus = { ...d.stats, app: { datagramsOut: a.datagramsOut ?? 0, coalesced: a.coalesced ?? 0, authFailed: a.authFailed ?? 0, replayed: a.replayed ?? 0 } };
  }

  const ext = extensions(p.localDesc, p.remoteDesc);
  const twccId = ext[TWCC_URI];
  const bwe: Record<string, unknown> = { twcc: twccId !== undefined, 'twcc-ext-id': twccId ?? 0 };
  // Portunus only: the send-side estimate towards this peer from its transport-cc feedback.
  if (p.session.bwe !== undefined) bwe.portunus = { ...p.session.bwe };

  const media: Record<string, unknown> = {};
  const byMid = new Map(p.lines.map((l) => [l.mid, l]));
  const desc = p.localDesc ?? p.remoteDesc;
  if (desc) {
    desc.media.forEach((m, i) => {
      const mid = m.mid ?? String(i);
      const line = byMid.get(mid);
      const rm = p.remoteDesc?.media[i];
      // Keyed by mid, like Janus (Janus's own m-lines have mid = mindex).
      if (line) media[mid] = mediumInfo(p, line, rm, ext);
      else if (m.kind === 'application' && m.port !== 0 && p.wantData && d) {
        media[mid] = {
          type: 'data',
          mindex: i,
          mid,
          stats: { in: { packets: d.appStats.packetsIn, bytes: d.appStats.bytesIn }, out: { packets: d.appStats.packetsOut, bytes: d.appStats.bytesOut } },
        };
      }
    });
  }

  const st = p.session;
  return {
    ...(p.agentCreatedAt >= 0 ? { 'agent-created': us(p.agentCreatedAt) } : {}),
    ...(p.agentStartedAt >= 0 ? { 'agent-started': us(p.agentStartedAt) } : {}),
    ...(p.controlling !== null ? { 'ice-mode': p.iceLite ? 'lite' : 'full', 'ice-role': p.controlling ? 'controlling' : 'controlled' } : {}),
    flags: {
      ready: p.up,
      'ice-restart': p.iceRestart,
      'data-channels': p.wantData,
      'has-audio': p.lines.some((l) => l.kind === 'audio'),
      'has-video': p.lines.some((l) => l.kind === 'video'),
      // Portunus only negotiates data channels in the RFC 8841 form (a=sctp-port), the "new" one.
      'new-datachan-sdp': p.wantData,
      'rfc4588-rtx': p.lines.some((l) => l.rtxPt >= 0),
    },
    webrtc: {
      ice,
      dtls,
      extensions: ext,
      bwe,
      media,
      // Portunus only: receive-path drop counters and the REMB figures.
      errors: { ...p.errors },
      portunus: { rtt: Math.round(st.rttMs), 'remb-sent': st.rembSent, 'remb-received': st.rembReceived },
    },
  };
}
