/**
 * The core's JSEP step. Outgoing: a plugin writes media (codecs, directions, ssrcs) and the core merges in
 * the PeerConnection's transport (ICE credentials, ice-lite, DTLS fingerprint and role, candidates, BUNDLE).
 * Incoming: the core pulls the remote transport out of the client's SDP and validates it; any problem is an
 * `SdpError`, which the core turns into 465 "Invalid SDP".
 */
import { SdpValidationError } from './errors.js';
import { parseSdp } from './parse.js';
import type { Connection, Fingerprint, MediaSection, SessionDescription, SetupRole } from './types.js';
import { writeSdp } from './write.js';

// ---------------------------------------------------------------------------------------------------------
// Candidates (only what the merge needs; full parsing lives in src/media/ice/)

export interface CandidateAddress {
  component: number;
  transport: string;
  address: string;
  port: number;
  type: string;
}

/** Pull component/transport/address/port/type out of `candidate:...` (or `a=candidate:...`). Undefined if malformed. */
export function candidateAddress(candidate: string): CandidateAddress | undefined {
  let c = candidate.trim();
  if (c.startsWith('a=')) c = c.slice(2);
  if (c.startsWith('candidate:')) c = c.slice(10);
  const t = c.split(/[ \t]+/);
  if (t.length < 8 || t[6] !== 'typ') return undefined;
  const component = Number(t[1]);
  const port = Number(t[5]);
  if (!Number.isInteger(component) || !Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  return { component, transport: t[2]!.toLowerCase(), address: t[4]!, port, type: t[7]! };
}

function isIpLiteral(a: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(a) || (a.includes(':') && /^[0-9a-fA-F:.]+$/.test(a));
}

/** The default candidate for `c=`/port: the first component-1 UDP candidate with an IP literal address. */
export function defaultCandidate(candidates: readonly string[]): CandidateAddress | undefined {
  for (const c of candidates) {
    const a = candidateAddress(c);
    if (a && a.component === 1 && a.transport === 'udp' && isIpLiteral(a.address)) return a;
  }
  return undefined;
}

function normalizeCandidate(c: string): string {
  let v = c.trim();
  if (v.startsWith('a=')) v = v.slice(2);
  return v.startsWith('candidate:') ? v : `candidate:${v}`;
}

// ---------------------------------------------------------------------------------------------------------
// Fingerprints

const HASH_BYTES: Readonly<Record<string, number>> = {
  'sha-1': 20,
  'sha-224': 28,
  'sha-256': 32,
  'sha-384': 48,
  'sha-512': 64,
};

/** True when `value` is `XX:XX:...` with the right number of bytes for `hash`. */
export function isValidFingerprint(f: Fingerprint): boolean {
  const bytes = HASH_BYTES[f.hash.toLowerCase()];
  if (bytes === undefined) return false;
  return f.value.length === bytes * 3 - 1 && /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*$/.test(f.value);
}

// ---------------------------------------------------------------------------------------------------------
// Outgoing

export interface LocalTransport {
  iceUfrag: string;
  icePwd: string;
  iceLite?: boolean;
  /** `AB:CD:...` of our DTLS certificate. */
  fingerprint: string;
  /** Default 'sha-256'. */
  fingerprintHash?: string;
  setup: 'actpass' | 'active' | 'passive';
  /** Our candidates (`candidate:...`), already gathered. */
  candidates?: readonly string[];
  /** Add `a=end-of-candidates` (gathering done / no trickle). */
  endOfCandidates?: boolean;
  /** Advertise `a=ice-options:trickle`. Default true. */
  trickle?: boolean;
  /** Candidates on every bundled m-line instead of only the first (the BUNDLE tag). Default false. */
  candidatesOnAllMedia?: boolean;
  /** Write a BUNDLE group of all non-rejected mids. Default true. */
  bundle?: boolean;
}

function isRejected(m: MediaSection): boolean {
  return m.port === 0 && !m.bundleOnly;
}

function stripTransport(m: MediaSection): void {
  delete m.iceUfrag;
  delete m.icePwd;
  delete m.iceOptions;
  delete m.setup;
  delete m.rtcp;
  m.fingerprints = [];
  m.candidates = [];
  m.endOfCandidates = false;
}

/**
 * Merge our transport into a plugin-generated description (a copy; the input is not modified).
 * Throws `SdpValidationError` for unusable transport attributes, `SdpParseError` if `sdp` is unparsable text.
 */
export function mergeTransport(sdp: SessionDescription | string, t: LocalTransport): SessionDescription {
  const d: SessionDescription = typeof sdp === 'string' ? parseSdp(sdp) : structuredClone(sdp);
  if (!t.iceUfrag || /\s/.test(t.iceUfrag) || !t.icePwd || /\s/.test(t.icePwd)) {
    throw new SdpValidationError('missing or malformed local ICE credentials');
  }
  const fp: Fingerprint = { hash: (t.fingerprintHash ?? 'sha-256').toLowerCase(), value: t.fingerprint };
  if (!isValidFingerprint(fp)) throw new SdpValidationError('missing or malformed local DTLS fingerprint');
  if (d.media.length === 0) throw new SdpValidationError('no m-lines');

  d.iceLite = t.iceLite === true;
  delete d.iceUfrag;
  delete d.icePwd;
  delete d.iceOptions;
  delete d.setup;
  d.fingerprints = [];
  d.endOfCandidates = false;

  const candidates = (t.candidates ?? []).map(normalizeCandidate);
  const def = defaultCandidate(candidates);
  const conn: Connection = def
    ? { netType: 'IN', addrType: def.address.includes(':') ? 'IP6' : 'IP4', address: def.address }
    : { netType: 'IN', addrType: 'IP4', address: '0.0.0.0' };
  const port = def ? def.port : 9;

  let first = true;
  const mids: string[] = [];
  const usedMids = new Set(d.media.map((m) => m.mid).filter((x): x is string => x !== undefined));
  d.media.forEach((m, i) => {
    stripTransport(m);
    if (isRejected(m)) {
      m.connection = { netType: 'IN', addrType: 'IP4', address: '0.0.0.0' };
      return;
    }
    if (m.mid === undefined) {
      let mid = String(i);
      while (usedMids.has(mid)) mid = `${mid}_`;
      usedMids.add(mid);
      m.mid = mid;
    }
    mids.push(m.mid);
    m.iceUfrag = t.iceUfrag;
    m.icePwd = t.icePwd;
    if (t.trickle !== false) m.iceOptions = ['trickle'];
    m.fingerprints = [{ ...fp }];
    m.setup = t.setup;
    if (m.kind === 'audio' || m.kind === 'video') m.rtcpMux = true;
    if (!m.bundleOnly) {
      m.port = port;
      m.connection = { ...conn };
    } else m.connection = { netType: 'IN', addrType: 'IP4', address: '0.0.0.0' };
    if (first || t.candidatesOnAllMedia) {
      m.candidates = [...candidates];
      m.endOfCandidates = t.endOfCandidates === true;
    }
    first = false;
  });
  d.groups = d.groups.filter((g) => g.semantics !== 'BUNDLE');
  if (t.bundle !== false && mids.length > 0) d.groups.unshift({ semantics: 'BUNDLE', mids });
  return d;
}

/** `mergeTransport` from text to text. */
export function mergeTransportSdp(sdp: string, t: LocalTransport): string {
  return writeSdp(mergeTransport(sdp, t));
}

// ---------------------------------------------------------------------------------------------------------
// Incoming

export interface RemoteMediaTransport {
  mindex: number;
  mid?: string;
  rejected: boolean;
  bundleOnly: boolean;
  /** Effective credentials (media level, else session level). */
  iceUfrag?: string;
  icePwd?: string;
  fingerprints: Fingerprint[];
  setup?: SetupRole;
  candidates: string[];
  endOfCandidates: boolean;
}

export interface RemoteTransport {
  /** Credentials of the transport in use (the BUNDLE tag m-line, else the first usable one). */
  iceUfrag: string;
  icePwd: string;
  iceLite: boolean;
  /** All valid fingerprints of that transport. */
  fingerprints: Fingerprint[];
  /** The one to verify the DTLS certificate against: sha-256 if offered, else the strongest valid one. */
  fingerprint: Fingerprint;
  /** Their DTLS role; when absent: 'actpass' for an offer, 'active' for an answer (RFC 4145/8842 defaults). */
  setup: SetupRole;
  setupExplicit: boolean;
  /** Mids of the first BUNDLE group, if any. */
  bundle?: string[];
  /** The mid (or mindex as text when there is no mid) of the m-line whose transport is used. */
  transportMid: string;
  /** Candidates per mid (mindex as text for m-lines without mid). */
  candidates: Record<string, string[]>;
  /** Every candidate in SDP order. */
  allCandidates: string[];
  /** `a=ice-options:trickle` present (session or the transport m-line). */
  trickle: boolean;
  /** `a=end-of-candidates` present (session or any usable m-line). */
  endOfCandidates: boolean;
  /** ufrag or pwd differ from the previous remote description. */
  iceRestart: boolean;
  media: RemoteMediaTransport[];
}

export interface RemoteOptions {
  type: 'offer' | 'answer';
  /** The previous remote description's credentials, for ICE-restart detection. */
  previous?: { iceUfrag: string; icePwd?: string };
}

const HASH_PREFERENCE = ['sha-256', 'sha-384', 'sha-512', 'sha-224', 'sha-1'];

/** Extract and validate the remote transport. Throws `SdpValidationError` (or `SdpParseError` for text). */
export function extractRemoteTransport(sdp: SessionDescription | string, opts: RemoteOptions): RemoteTransport {
  const d = typeof sdp === 'string' ? parseSdp(sdp) : sdp;
  if (d.media.length === 0) throw new SdpValidationError('no m-lines');

  const media: RemoteMediaTransport[] = d.media.map((m, i) => {
    const r: RemoteMediaTransport = {
      mindex: i,
      rejected: isRejected(m),
      bundleOnly: m.bundleOnly,
      fingerprints: m.fingerprints.length > 0 ? m.fingerprints : d.fingerprints,
      candidates: [...m.candidates],
      endOfCandidates: m.endOfCandidates,
    };
    if (m.mid !== undefined) r.mid = m.mid;
    const ufrag = m.iceUfrag ?? d.iceUfrag;
    const pwd = m.icePwd ?? d.icePwd;
    const setup = m.setup ?? d.setup;
    if (ufrag !== undefined) r.iceUfrag = ufrag;
    if (pwd !== undefined) r.icePwd = pwd;
    if (setup !== undefined) r.setup = setup;
    return r;
  });

  const bundleGroup = d.groups.find((g) => g.semantics === 'BUNDLE');
  const usable = media.filter((m) => !m.rejected);
  if (usable.length === 0) throw new SdpValidationError('every m-line is rejected');
  const mids = new Set<string>();
  for (const m of usable) {
    if (m.mid !== undefined) {
      if (mids.has(m.mid)) throw new SdpValidationError(`duplicate mid ${m.mid}`, m.mindex, m.mid);
      mids.add(m.mid);
    }
    if (!m.iceUfrag || !m.icePwd) throw new SdpValidationError('missing ICE ufrag/pwd', m.mindex, m.mid);
    if (m.fingerprints.length === 0) throw new SdpValidationError('missing DTLS fingerprint', m.mindex, m.mid);
    if (m.setup === 'holdconn') throw new SdpValidationError('unsupported DTLS setup holdconn', m.mindex, m.mid);
    if (opts.type === 'answer' && m.setup === 'actpass') throw new SdpValidationError('answer with setup actpass', m.mindex, m.mid);
  }
  // BUNDLE tag: the first mid of the group that is usable.
  let tag = usable[0]!;
  if (bundleGroup) {
    const found = bundleGroup.mids.map((mid) => usable.find((m) => m.mid === mid)).find((m) => m !== undefined);
    if (found) tag = found;
  }
  const fingerprints = tag.fingerprints.filter(isValidFingerprint).map((f) => ({ hash: f.hash.toLowerCase(), value: f.value }));
  if (fingerprints.length === 0) throw new SdpValidationError('no valid DTLS fingerprint', tag.mindex, tag.mid);
  const fingerprint = HASH_PREFERENCE.map((h) => fingerprints.find((f) => f.hash === h)).find((f) => f !== undefined)!;

  const tagSection = d.media[tag.mindex]!;
  const iceOptions = [...(d.iceOptions ?? []), ...(tagSection.iceOptions ?? [])];
  const candidates: Record<string, string[]> = {};
  const allCandidates: string[] = [];
  for (const m of media) {
    if (m.rejected) continue;
    const key = m.mid ?? String(m.mindex);
    candidates[key] = [...m.candidates];
    allCandidates.push(...m.candidates);
  }
  const result: RemoteTransport = {
    iceUfrag: tag.iceUfrag!,
    icePwd: tag.icePwd!,
    iceLite: d.iceLite,
    fingerprints,
    fingerprint,
    setup: tag.setup ?? (opts.type === 'offer' ? 'actpass' : 'active'),
    setupExplicit: tag.setup !== undefined,
    transportMid: tag.mid ?? String(tag.mindex),
    candidates,
    allCandidates,
    trickle: iceOptions.includes('trickle'),
    endOfCandidates: d.endOfCandidates || usable.some((m) => m.endOfCandidates),
    iceRestart:
      opts.previous !== undefined &&
      (opts.previous.iceUfrag !== tag.iceUfrag || (opts.previous.icePwd !== undefined && opts.previous.icePwd !== tag.icePwd)),
    media,
  };
  if (bundleGroup) result.bundle = [...bundleGroup.mids];
  return result;
}
