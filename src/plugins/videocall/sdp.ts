/**
 * VideoCall does not negotiate media itself: the caller's offer becomes our offer to the callee and
 * the callee's answer our answer to the caller, so both browsers agree on codecs, payload types and
 * extension ids and packets cross unchanged. What must not cross is per-PeerConnection state: SSRCs
 * (the core announces its own) and rid simulcast (the callee receives one layer, which we pick).
 * transport-cc crosses, as in Janus: each PeerConnection negotiates it with the core, which sends
 * transport-wide feedback to the sender and stamps its own sequence numbers towards the receiver,
 * whose feedback gives the estimate that caps the sender (relay.ts updateEstimate).
 */
import { codecNameOf, EXT, rtpmapOf } from '../../media/sdp/negotiate.js';
import { parseSdp } from '../../media/sdp/parse.js';
import type { MediaSection, SessionDescription } from '../../media/sdp/types.js';
import { writeSdp } from '../../media/sdp/write.js';

const SIMULCAST_EXT = new Set<string>([EXT.rid, EXT.repairedRid]);

function stripPerPeer(m: MediaSection, keepSimulcastExt: boolean): void {
  m.ssrcs = [];
  m.ssrcGroups = [];
  m.rids = [];
  delete m.simulcast;
  m.extmaps = m.extmaps.filter((e) => keepSimulcastExt || !SIMULCAST_EXT.has(e.uri));
  m.candidates = [];
  m.endOfCandidates = false;
}

/** Simulcast rids the caller offered to send on one m-line (empty: none). */
export interface CallerSimulcast {
  mindex: number;
  rids: string[];
}

export interface RelayedOffer {
  sdp: string;
  simulcast: CallerSimulcast[];
  hasAudio: boolean;
  hasVideo: boolean;
  hasData: boolean;
}

/** The caller's offer as we offer it to the callee. Throws on an unparsable SDP. */
export function offerForCallee(callerSdp: string): RelayedOffer {
  const d = parseSdp(callerSdp);
  const simulcast: CallerSimulcast[] = [];
  d.media.forEach((m, i) => {
    const rids = m.rids.filter((r) => r.direction === 'send').map((r) => r.id);
    if (m.kind === 'video' && rids.length > 0) simulcast.push({ mindex: i, rids });
    stripPerPeer(m, false);
  });
  return { sdp: writeSdp(d), simulcast, ...kinds(d) };
}

function kinds(d: SessionDescription): { hasAudio: boolean; hasVideo: boolean; hasData: boolean } {
  const live = d.media.filter((m) => m.port !== 0 || m.bundleOnly);
  return {
    hasAudio: live.some((m) => m.kind === 'audio'),
    hasVideo: live.some((m) => m.kind === 'video'),
    hasData: live.some((m) => m.kind === 'application'),
  };
}

export interface RelayedAnswer {
  sdp: string;
  audioCodec: string | null;
  videoCodec: string | null;
  hasAudio: boolean;
  hasVideo: boolean;
  hasData: boolean;
}

/** The first codec of the first live m-line of a kind (what the two browsers ended up using). */
function firstCodec(d: SessionDescription, kind: 'audio' | 'video'): string | null {
  for (const m of d.media) {
    if (m.kind !== kind || (m.port === 0 && !m.bundleOnly)) continue;
    for (const f of m.formats) {
      const map = /^\d+$/.test(f) ? rtpmapOf(m, Number(f)) : undefined;
      const name = map ? codecNameOf(map) : undefined;
      if (name) return name;
    }
  }
  return null;
}

/**
 * The callee's answer as we answer the caller. When the caller offered rid simulcast, the answer
 * accepts it (recv rids, the rid extensions the caller offered): we receive every layer and pick one.
 */
export function answerForCaller(calleeSdp: string, callerSdp: string | null, simulcast: readonly CallerSimulcast[]): RelayedAnswer {
  const d = parseSdp(calleeSdp);
  const offer = callerSdp !== null ? parseSdp(callerSdp) : null;
  d.media.forEach((m, i) => {
    stripPerPeer(m, false);
    const sim = simulcast.find((s) => s.mindex === i);
    const om = offer?.media[i];
    if (!sim || !om || m.kind !== 'video' || (m.port === 0 && !m.bundleOnly)) return;
    m.rids = sim.rids.map((id) => ({ id, direction: 'recv' as const, payloads: [], params: {} }));
    m.simulcast = { recv: sim.rids.map((rid) => [{ rid, paused: false }]) };
    for (const e of om.extmaps) if (SIMULCAST_EXT.has(e.uri) && !m.extmaps.some((x) => x.id === e.id)) m.extmaps.push({ ...e });
  });
  return { sdp: writeSdp(d), audioCodec: firstCodec(d, 'audio'), videoCodec: firstCodec(d, 'video'), ...kinds(d) };
}

/** A renegotiation (`set` with a JSEP) relayed to the other side as is, minus the per-peer parts. */
export function relayUpdate(sdp: string): string {
  const d = parseSdp(sdp);
  for (const m of d.media) stripPerPeer(m, false);
  return writeSdp(d);
}
