/**
 * Offer/answer helpers for the plugins: codec choice from a preference list, answer m-sections built
 * from offer m-sections, subscriber/data-channel offers, and a per-m-line summary (mid, pt, ssrcs, rids,
 * extension ids). Pure functions over the model in types.ts; nothing here touches ICE/DTLS (see jsep.ts).
 */
import { SdpNegotiationError } from './errors.js';
import {
  type Direction,
  type Extmap,
  type Fmtp,
  type MediaSection,
  type Msid,
  type Origin,
  type Rid,
  type RtcpFb,
  type RtpMap,
  type SessionDescription,
  type Simulcast,
  emptyMediaSection,
  emptySession,
  makeFmtp,
} from './types.js';

// ---------------------------------------------------------------------------------------------------------
// Codecs and extensions

/** RTP header extension URIs VideoRoom/EchoTest negotiate. */
export const EXT = {
  mid: 'urn:ietf:params:rtp-hdrext:sdes:mid',
  rid: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  repairedRid: 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  audioLevel: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  videoOrientation: 'urn:3gpp:video-orientation',
  playoutDelay: 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
  absSendTime: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  transportWideCc: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
} as const;

/** Room flags that decide which extensions are kept (VideoRoom: audiolevel_ext, videoorient_ext, ...). */
export interface ExtensionFlags {
  audioLevel?: boolean;
  videoOrientation?: boolean;
  playoutDelay?: boolean;
  transportWideCc?: boolean;
  absSendTime?: boolean;
  /** rid + repaired-rid (rid-based simulcast). */
  simulcast?: boolean;
}

/** The extension URIs allowed for a media kind under the given flags (missing flags default to true, like VideoRoom). */
export function allowedExtensions(kind: string, flags: ExtensionFlags = {}): string[] {
  const on = (f: boolean | undefined): boolean => f !== false;
  const list: string[] = [EXT.mid];
  if (kind === 'audio' && on(flags.audioLevel)) list.push(EXT.audioLevel);
  if (kind === 'video') {
    if (on(flags.simulcast)) list.push(EXT.rid, EXT.repairedRid);
    if (on(flags.videoOrientation)) list.push(EXT.videoOrientation);
    if (on(flags.playoutDelay)) list.push(EXT.playoutDelay);
  }
  if (on(flags.absSendTime)) list.push(EXT.absSendTime);
  if (on(flags.transportWideCc)) list.push(EXT.transportWideCc);
  return list;
}

/** Assign ids 1..n (skipping 15, reserved in one-byte headers) to a list of URIs. */
export function extmapsFor(uris: readonly string[], firstId = 1): Extmap[] {
  const out: Extmap[] = [];
  let id = firstId;
  for (const uri of uris) {
    if (id === 15) id++;
    out.push({ id: id++, uri });
  }
  return out;
}

export type AudioCodecName = 'opus' | 'multiopus' | 'g722' | 'pcmu' | 'pcma' | 'isac32' | 'isac16';
export type VideoCodecName = 'vp8' | 'vp9' | 'h264' | 'av1' | 'h265';
export type CodecName = AudioCodecName | VideoCodecName;

interface CodecInfo {
  kind: 'audio' | 'video';
  /** Encoding names that identify the codec in rtpmap (case-insensitive); the first is what we write. */
  encodings: string[];
  clock: number;
  channels?: number;
  staticPt?: number;
}

export const CODECS: Readonly<Record<CodecName, CodecInfo>> = {
  opus: { kind: 'audio', encodings: ['opus'], clock: 48000, channels: 2 },
  multiopus: { kind: 'audio', encodings: ['multiopus'], clock: 48000, channels: 6 },
  g722: { kind: 'audio', encodings: ['G722'], clock: 8000, staticPt: 9 },
  pcmu: { kind: 'audio', encodings: ['PCMU'], clock: 8000, staticPt: 0 },
  pcma: { kind: 'audio', encodings: ['PCMA'], clock: 8000, staticPt: 8 },
  isac32: { kind: 'audio', encodings: ['ISAC'], clock: 32000 },
  isac16: { kind: 'audio', encodings: ['ISAC'], clock: 16000 },
  vp8: { kind: 'video', encodings: ['VP8'], clock: 90000 },
  vp9: { kind: 'video', encodings: ['VP9'], clock: 90000 },
  h264: { kind: 'video', encodings: ['H264'], clock: 90000 },
  av1: { kind: 'video', encodings: ['AV1', 'AV1X'], clock: 90000 },
  h265: { kind: 'video', encodings: ['H265'], clock: 90000 },
};

const STATIC_PTS: Readonly<Record<number, RtpMap>> = {
  0: { pt: 0, codec: 'PCMU', clock: 8000 },
  8: { pt: 8, codec: 'PCMA', clock: 8000 },
  9: { pt: 9, codec: 'G722', clock: 8000 },
};

/** Not a primary media codec: never picked as "the" payload type of an m-line. */
const AUX_ENCODINGS: ReadonlySet<string> = new Set(['rtx', 'red', 'ulpfec', 'flexfec-03', 'telephone-event', 'cn']);

/** The codec name (`opus`, `h264`, ...) an rtpmap corresponds to, if we know it. */
export function codecNameOf(map: RtpMap): CodecName | undefined {
  const enc = map.codec.toLowerCase();
  for (const [name, info] of Object.entries(CODECS) as [CodecName, CodecInfo][]) {
    if (info.clock === map.clock && info.encodings.some((e) => e.toLowerCase() === enc)) return name;
  }
  return undefined;
}

/** The rtpmap of a payload type, including the static ones (0, 8, 9) that may come without an rtpmap. */
export function rtpmapOf(section: MediaSection, pt: number): RtpMap | undefined {
  return section.rtpmaps.find((r) => r.pt === pt) ?? STATIC_PTS[pt];
}

export function fmtpOf(section: MediaSection, pt: number): Fmtp | undefined {
  return section.fmtps.find((f) => f.pt === pt);
}

/** An entry of a preference list: `'h264'`, or with a profile: `{ name: 'h264', profile: '42e01f' }`. */
export type CodecPreference = CodecName | { name: CodecName; profile?: string };

export interface PickOptions {
  /** Preferred H.264 profile-level-id (VideoRoom `h264_profile`): exact match first, then same profile any level. */
  h264Profile?: string;
  /** Required VP9 profile-id (VideoRoom `vp9_profile`); absent in the offer means 0. */
  vp9Profile?: string;
  /** Required H.264 packetization-mode; when unset, mode 1 is preferred but 0 accepted. */
  h264PacketizationMode?: 0 | 1;
}

export interface NegotiatedCodec {
  name: CodecName;
  pt: number;
  rtpmap: RtpMap;
  fmtp?: Fmtp;
  /** rtcp-fb lines that apply to `pt` (its own and `*` ones), as offered. */
  rtcpFbs: RtcpFb[];
  rtx?: { pt: number; rtpmap: RtpMap; fmtp: Fmtp };
}

function rtxFor(section: MediaSection, primary: number): NegotiatedCodec['rtx'] {
  for (const f of section.formats) {
    const p = Number(f);
    const map = section.rtpmaps.find((r) => r.pt === p);
    if (!map || map.codec.toLowerCase() !== 'rtx') continue;
    const fmtp = fmtpOf(section, p);
    if (fmtp && fmtp.params['apt'] === String(primary)) return { pt: p, rtpmap: map, fmtp };
  }
  return undefined;
}

/** Higher is better; -1 means not acceptable. */
function score(name: CodecName, fmtp: Fmtp | undefined, wantedProfile: string | undefined, opts: PickOptions): number {
  const params = fmtp?.params ?? {};
  if (name === 'h264') {
    let s = 0;
    const mode = params['packetization-mode'] === '1' ? 1 : 0;
    if (opts.h264PacketizationMode !== undefined) {
      if (mode !== opts.h264PacketizationMode) return -1;
    } else if (mode === 1) s += 1;
    const want = (wantedProfile ?? opts.h264Profile)?.toLowerCase();
    if (want !== undefined) {
      const got = (params['profile-level-id'] ?? '42000a').toLowerCase();
      if (got === want) s += 4;
      else if (got.slice(0, 4) === want.slice(0, 4)) s += 2;
      else return -1;
    }
    return s;
  }
  if (name === 'vp9') {
    const want = wantedProfile ?? opts.vp9Profile;
    const got = params['profile-id'] ?? '0';
    if (want !== undefined) return got === want ? 1 : -1;
    return got === '0' ? 1 : 0;
  }
  return 0;
}

/**
 * Pick a codec for an m-line: the first preference the section offers; among several payload types of
 * that codec, the best-matching one (H.264 profile/packetization-mode, VP9 profile), then offer order.
 * Returns undefined when nothing in the list is offered.
 */
export function pickCodec(
  section: MediaSection,
  preferences: readonly CodecPreference[],
  opts: PickOptions = {},
): NegotiatedCodec | undefined {
  for (const pref of preferences) {
    const name = typeof pref === 'string' ? pref : pref.name;
    const wantedProfile = typeof pref === 'string' ? undefined : pref.profile;
    const info = CODECS[name];
    if (!info) continue;
    let best: { pt: number; map: RtpMap; fmtp: Fmtp | undefined; s: number } | undefined;
    for (const f of section.formats) {
      if (!/^\d+$/.test(f)) continue;
      const p = Number(f);
      const map = rtpmapOf(section, p);
      if (!map || codecNameOf(map) !== name) continue;
      const fmtp = fmtpOf(section, p);
      const s = score(name, fmtp, wantedProfile, opts);
      if (s < 0) continue;
      if (!best || s > best.s) best = { pt: p, map, fmtp, s };
    }
    if (best) {
      const codec: NegotiatedCodec = {
        name,
        pt: best.pt,
        rtpmap: { ...best.map, pt: best.pt },
        rtcpFbs: section.rtcpFbs.filter((fb) => fb.pt === best!.pt || fb.pt === '*'),
      };
      if (best.fmtp) codec.fmtp = best.fmtp;
      const rtx = rtxFor(section, best.pt);
      if (rtx) codec.rtx = rtx;
      return codec;
    }
  }
  return undefined;
}

/** Parse a VideoRoom-style comma list (`"opus,pcmu"`) into preferences, dropping unknown names. */
export function parseCodecList(list: string, kind: 'audio' | 'video'): CodecName[] {
  return list
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s): s is CodecName => s in CODECS && CODECS[s as CodecName].kind === kind);
}

// ---------------------------------------------------------------------------------------------------------
// Answers

/** The answer direction given the offer's direction and what we are willing to do. */
export function answerDirection(offered: Direction, ours: Direction = 'sendrecv'): Direction {
  const weSend = (ours === 'sendrecv' || ours === 'sendonly') && (offered === 'sendrecv' || offered === 'recvonly');
  const weRecv = (ours === 'sendrecv' || ours === 'recvonly') && (offered === 'sendrecv' || offered === 'sendonly');
  return weSend && weRecv ? 'sendrecv' : weSend ? 'sendonly' : weRecv ? 'recvonly' : 'inactive';
}

/** Our own outgoing stream on an m-line: SSRC (+ RTX SSRC for a FID group), cname, msid. */
export interface SendStream {
  ssrc: number;
  rtxSsrc?: number;
  cname: string;
  msid?: Msid;
}

export interface AnswerOptions {
  /** false rejects the section (port 0). Default true. */
  accept?: boolean;
  /** Codec preference list for RTP sections (required to accept audio/video). */
  codecs?: readonly CodecPreference[];
  pick?: PickOptions;
  /** What we are willing to do on this m-line (publisher: 'recvonly'; echo: 'sendrecv'). Default 'sendrecv'. */
  direction?: Direction;
  /** Extension URIs we keep (offered id is reused). Default: `allowedExtensions(kind)`. */
  extensions?: readonly string[];
  /** rtcp-fb kinds we keep, as `type[ subtype]`. Default: nack, nack pli, ccm fir, goog-remb, transport-cc. */
  rtcpFb?: readonly string[];
  /** Keep the codec's RTX payload type if offered. Default true. */
  rtx?: boolean;
  /** Accept rid-based simulcast (offer `send` rids become answer `recv` rids). Default true. */
  simulcast?: boolean;
  /** fmtp overrides for the chosen codec; null removes a parameter (e.g. `{ usedtx: '1' }`). */
  fmtp?: Record<string, string | null>;
  /** Our stream, when the answer direction includes send. */
  send?: SendStream;
  /** Data channel answer parameters. */
  sctpPort?: number;
  maxMessageSize?: number;
}

export interface AnswerResult {
  section: MediaSection;
  rejected: boolean;
  reason?: string;
  codec?: NegotiatedCodec;
}

const DEFAULT_RTCP_FB = ['nack', 'nack pli', 'ccm fir', 'goog-remb', 'transport-cc'];
export const DEFAULT_SCTP_PORT = 5000;
export const DEFAULT_MAX_MESSAGE_SIZE = 262144;

/** A rejected answer section: port 0, the offer's kind/protocol/first format and mid, inactive. */
export function rejectedSection(offer: MediaSection): MediaSection {
  const formats = offer.formats.length > 0 ? [offer.formats[0]!] : [offer.kind === 'application' ? 'webrtc-datachannel' : '0'];
  const m = emptyMediaSection(offer.kind, offer.protocol, formats, 0);
  m.connection = { netType: 'IN', addrType: 'IP4', address: '0.0.0.0' };
  if (offer.mid !== undefined) m.mid = offer.mid;
  if (offer.kind !== 'application') m.direction = 'inactive';
  return m;
}

function reject(offer: MediaSection, reason: string): AnswerResult {
  return { section: rejectedSection(offer), rejected: true, reason };
}

function addSendStream(m: MediaSection, send: SendStream): void {
  if (send.msid) m.msids.push({ ...send.msid });
  const lines = (ssrc: number): void => {
    m.ssrcs.push({ ssrc, attribute: 'cname', value: send.cname });
    if (send.msid) {
      m.ssrcs.push({ ssrc, attribute: 'msid', value: send.msid.track !== undefined ? `${send.msid.stream} ${send.msid.track}` : send.msid.stream });
    }
  };
  if (send.rtxSsrc !== undefined) m.ssrcGroups.push({ semantics: 'FID', ssrcs: [send.ssrc, send.rtxSsrc] });
  lines(send.ssrc);
  if (send.rtxSsrc !== undefined) lines(send.rtxSsrc);
}

function isRejectedOffer(m: MediaSection): boolean {
  return m.port === 0 && !m.bundleOnly;
}

/** Build the answer m-section for one offer m-section. Never throws for content reasons: it rejects instead. */
export function answerMediaSection(offer: MediaSection, opts: AnswerOptions = {}, sessionDirection?: Direction): AnswerResult {
  if (opts.accept === false) return reject(offer, 'declined');
  if (isRejectedOffer(offer)) return reject(offer, 'rejected in the offer');

  if (offer.kind === 'application') {
    if (!/SCTP/i.test(offer.protocol)) return reject(offer, `unsupported protocol ${offer.protocol}`);
    const m = emptyMediaSection('application', offer.protocol, [...offer.formats]);
    if (offer.mid !== undefined) m.mid = offer.mid;
    if (offer.protocol === 'DTLS/SCTP') {
      // Legacy (pre RFC 8841) syntax: format is the SCTP port, described by a=sctpmap.
      const sctpmap = offer.attributes.find((a) => a.name === 'sctpmap');
      if (sctpmap) m.attributes.push({ ...sctpmap });
    } else {
      m.sctpPort = opts.sctpPort ?? DEFAULT_SCTP_PORT;
      m.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    }
    return { section: m, rejected: false };
  }

  if (offer.kind !== 'audio' && offer.kind !== 'video') return reject(offer, `unsupported media ${offer.kind}`);
  if (!/RTP\/S?AVPF?/.test(offer.protocol)) return reject(offer, `unsupported protocol ${offer.protocol}`);
  const codec = pickCodec(offer, opts.codecs ?? [], opts.pick);
  if (!codec) return reject(offer, 'no common codec');

  const m = emptyMediaSection(offer.kind, offer.protocol, [String(codec.pt)]);
  if (offer.mid !== undefined) m.mid = offer.mid;
  const offered = offer.direction ?? sessionDirection ?? 'sendrecv';
  m.direction = answerDirection(offered, opts.direction ?? 'sendrecv');
  m.rtcpMux = offer.rtcpMux;
  m.rtcpRsize = offer.rtcpRsize;

  // Extensions: the allowed ones the offer has, with the offer's ids.
  const allowed = new Set(opts.extensions ?? allowedExtensions(offer.kind));
  const wantRids = opts.simulcast !== false && offer.rids.some((r) => r.direction === 'send') && (m.direction === 'recvonly' || m.direction === 'sendrecv');
  if (wantRids) {
    allowed.add(EXT.rid);
    allowed.add(EXT.repairedRid);
  }
  const seenExt = new Set<number>();
  for (const e of offer.extmaps) {
    if (!allowed.has(e.uri) || seenExt.has(e.id)) continue;
    seenExt.add(e.id);
    m.extmaps.push({ id: e.id, uri: e.uri });
  }
  m.extmapAllowMixed = offer.extmapAllowMixed;
  const twcc = m.extmaps.some((e) => e.uri === EXT.transportWideCc);

  // Codec lines.
  m.rtpmaps.push({ ...codec.rtpmap });
  const fbAllowed = new Set(opts.rtcpFb ?? DEFAULT_RTCP_FB);
  if (!twcc) fbAllowed.delete('transport-cc');
  const seenFb = new Set<string>();
  for (const fb of codec.rtcpFbs) {
    const k = fb.subtype !== undefined ? `${fb.type} ${fb.subtype}` : fb.type;
    if (!fbAllowed.has(k) || seenFb.has(k)) continue;
    seenFb.add(k);
    const out: RtcpFb = { pt: codec.pt, type: fb.type };
    if (fb.subtype !== undefined) out.subtype = fb.subtype;
    m.rtcpFbs.push(out);
  }
  const params: Record<string, string> = { ...(codec.fmtp?.params ?? {}) };
  for (const [k, v] of Object.entries(opts.fmtp ?? {})) {
    if (v === null) delete params[k];
    else params[k] = v;
  }
  if (Object.keys(params).length > 0) m.fmtps.push(makeFmtp(codec.pt, params));
  const result: NegotiatedCodec = { ...codec, rtcpFbs: m.rtcpFbs.map((f) => ({ ...f })) };
  if (m.fmtps[0]) result.fmtp = m.fmtps[0];
  else delete result.fmtp;
  if (codec.rtx && opts.rtx !== false) {
    m.formats.push(String(codec.rtx.pt));
    m.rtpmaps.push({ ...codec.rtx.rtpmap });
    m.fmtps.push(makeFmtp(codec.rtx.pt, { apt: String(codec.pt) }));
  } else delete result.rtx;

  // Simulcast: what they send, we receive.
  if (wantRids) {
    const sendRids = offer.rids.filter((r) => r.direction === 'send');
    m.rids = sendRids.map((r) => ({ id: r.id, direction: 'recv', payloads: [], params: {} }));
    const streams = offer.simulcast?.send ?? sendRids.map((r) => [{ rid: r.id, paused: false }]);
    m.simulcast = { recv: streams.map((alts) => alts.map((a) => ({ ...a }))) };
  }

  if (opts.send && (m.direction === 'sendonly' || m.direction === 'sendrecv')) addSendStream(m, opts.send);
  return { section: m, rejected: false, codec: result };
}

export interface SessionAnswerOptions {
  origin?: Partial<Origin>;
  sessionName?: string;
}

/**
 * Build a whole answer: one answer m-section per offer m-section (same order, same mids), a BUNDLE
 * group of the accepted mids, `msid-semantic: WMS *`. ICE/DTLS attributes are added later by the core (jsep.ts).
 */
export function buildAnswer(
  offer: SessionDescription,
  perMedia: (section: MediaSection, mindex: number) => AnswerOptions,
  opts: SessionAnswerOptions = {},
): { description: SessionDescription; results: AnswerResult[] } {
  const d = emptySession(opts.origin);
  if (opts.sessionName !== undefined) d.name = opts.sessionName;
  d.msidSemantic = { semantic: 'WMS', ids: ['*'] };
  d.extmapAllowMixed = offer.extmapAllowMixed;
  const results = offer.media.map((m, i) => answerMediaSection(m, perMedia(m, i), offer.direction));
  d.media = results.map((r) => r.section);
  const mids = d.media.filter((m) => m.port !== 0 && m.mid !== undefined).map((m) => m.mid!);
  if (mids.length > 0) d.groups.push({ semantics: 'BUNDLE', mids });
  return { description: d, results };
}

// ---------------------------------------------------------------------------------------------------------
// Offers

export interface OfferCodec {
  name: CodecName;
  pt: number;
  /** fmtp parameters; default per codec (opus: minptime=10;useinbandfec=1, h264: profile 42e01f mode 1). */
  fmtp?: Record<string, string>;
  /** rtcp-fb as `type[ subtype]`; default video: ccm fir, nack, nack pli, goog-remb (+transport-cc with its extension); audio: (transport-cc). */
  rtcpFb?: readonly string[];
  /** Payload type of the RTX stream for this codec (video). */
  rtxPt?: number;
}

export interface OfferRtpSpec {
  kind: 'audio' | 'video';
  mid: string;
  /** Default 'sendonly' (a subscriber m-line). */
  direction?: Direction;
  codec: OfferCodec;
  extensions?: readonly Extmap[];
  send?: SendStream;
  /** A removed/inactive slot: port 0 and inactive (mid kept, for m-line recycling). */
  disabled?: boolean;
  rtcpRsize?: boolean;
}

export interface OfferDataSpec {
  kind: 'application';
  mid: string;
  sctpPort?: number;
  maxMessageSize?: number;
  disabled?: boolean;
}

export type OfferSpec = OfferRtpSpec | OfferDataSpec;

export const RTP_PROTOCOL = 'UDP/TLS/RTP/SAVPF';
export const SCTP_PROTOCOL = 'UDP/DTLS/SCTP';

function defaultFmtp(c: OfferCodec): Record<string, string> | undefined {
  if (c.fmtp) return c.fmtp;
  switch (c.name) {
    case 'opus':
      return { minptime: '10', useinbandfec: '1' };
    case 'h264':
      return { 'level-asymmetry-allowed': '1', 'packetization-mode': '1', 'profile-level-id': '42e01f' };
    default:
      return undefined;
  }
}

function parseFbKey(k: string): { type: string; subtype?: string } {
  const sp = k.indexOf(' ');
  return sp < 0 ? { type: k } : { type: k.slice(0, sp), subtype: k.slice(sp + 1) };
}

/** One offer m-section (subscriber media or a data channel). */
export function offerMediaSection(spec: OfferSpec): MediaSection {
  if (spec.kind === 'application') {
    const m = emptyMediaSection('application', SCTP_PROTOCOL, ['webrtc-datachannel'], spec.disabled ? 0 : 9);
    m.mid = spec.mid;
    m.sctpPort = spec.sctpPort ?? DEFAULT_SCTP_PORT;
    m.maxMessageSize = spec.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    return m;
  }
  const c = spec.codec;
  const info = CODECS[c.name];
  if (!info || info.kind !== spec.kind) throw new SdpNegotiationError(`codec ${c.name} is not a ${spec.kind} codec`);
  const formats = [String(c.pt)];
  if (c.rtxPt !== undefined) formats.push(String(c.rtxPt));
  const m = emptyMediaSection(spec.kind, RTP_PROTOCOL, formats, spec.disabled ? 0 : 9);
  m.mid = spec.mid;
  m.rtcpMux = true;
  m.rtcpRsize = spec.rtcpRsize ?? false;
  if (spec.disabled) {
    m.direction = 'inactive';
    m.rtpmaps.push({ pt: c.pt, codec: info.encodings[0]!, clock: info.clock, ...(info.channels ? { channels: info.channels } : {}) });
    return m;
  }
  m.direction = spec.direction ?? 'sendonly';
  m.extmaps = (spec.extensions ?? []).map((e) => ({ ...e }));
  const twcc = m.extmaps.some((e) => e.uri === EXT.transportWideCc);
  m.rtpmaps.push({ pt: c.pt, codec: info.encodings[0]!, clock: info.clock, ...(info.channels ? { channels: info.channels } : {}) });
  const fbs = c.rtcpFb ?? (spec.kind === 'video' ? ['ccm fir', 'nack', 'nack pli', 'goog-remb', 'transport-cc'] : ['transport-cc']);
  for (const k of fbs) {
    if (k === 'transport-cc' && !twcc && c.rtcpFb === undefined) continue;
    m.rtcpFbs.push({ pt: c.pt, ...parseFbKey(k) });
  }
  const fmtp = defaultFmtp(c);
  if (fmtp && Object.keys(fmtp).length > 0) m.fmtps.push(makeFmtp(c.pt, fmtp));
  if (c.rtxPt !== undefined) {
    m.rtpmaps.push({ pt: c.rtxPt, codec: 'rtx', clock: info.clock });
    m.fmtps.push(makeFmtp(c.rtxPt, { apt: String(c.pt) }));
  }
  if (spec.send && m.direction !== 'recvonly' && m.direction !== 'inactive') {
    const send = c.rtxPt === undefined ? { ...spec.send, rtxSsrc: undefined } : spec.send;
    if (send.rtxSsrc === undefined) delete send.rtxSsrc;
    addSendStream(m, send);
  }
  return m;
}

/** A whole offer (subscriber or data-channel-only), BUNDLE of the enabled mids, `msid-semantic: WMS *`. */
export function buildOffer(specs: readonly OfferSpec[], opts: SessionAnswerOptions = {}): SessionDescription {
  const mids = new Set<string>();
  for (const s of specs) {
    if (mids.has(s.mid)) throw new SdpNegotiationError(`duplicate mid ${s.mid}`);
    mids.add(s.mid);
  }
  const d = emptySession(opts.origin);
  if (opts.sessionName !== undefined) d.name = opts.sessionName;
  d.msidSemantic = { semantic: 'WMS', ids: ['*'] };
  d.media = specs.map(offerMediaSection);
  const bundle = d.media.filter((m) => m.port !== 0).map((m) => m.mid!);
  if (bundle.length > 0) d.groups.push({ semantics: 'BUNDLE', mids: bundle });
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// Summaries

export interface MediaInfo {
  mindex: number;
  mid?: string;
  kind: string;
  port: number;
  /** Port 0 without bundle-only. */
  rejected: boolean;
  /** Effective direction (media, else session, else sendrecv). */
  direction: Direction;
  /** The first primary (non-RTX/RED/FEC/DTMF/CN) payload type, i.e. the negotiated one in an answer. */
  pt?: number;
  codec?: CodecName;
  rtpmap?: RtpMap;
  fmtp?: Fmtp;
  rtxPt?: number;
  /** Every SSRC mentioned (ssrc lines and groups), in order of first appearance. */
  ssrcs: number[];
  /** Media SSRCs: the ssrcs minus the second member of each FID group. */
  mediaSsrcs: number[];
  /** FID groups as [media, rtx] pairs. */
  fid: [number, number][];
  /** The SIM group (SSRC simulcast), low to high as written. */
  sim?: number[];
  cname?: string;
  msid?: Msid;
  rids: Rid[];
  simulcast?: Simulcast;
  /** Extension id by URI. */
  extmapIds: Record<string, number>;
}

/** Summarise one m-section (see `MediaInfo`). */
export function describeMediaSection(m: MediaSection, mindex: number, sessionDirection?: Direction): MediaInfo {
  const info: MediaInfo = {
    mindex,
    kind: m.kind,
    port: m.port,
    rejected: isRejectedOffer(m),
    direction: m.direction ?? sessionDirection ?? 'sendrecv',
    ssrcs: [],
    mediaSsrcs: [],
    fid: [],
    rids: m.rids.map((r) => ({ ...r, payloads: [...r.payloads], params: { ...r.params } })),
    extmapIds: Object.fromEntries(m.extmaps.map((e) => [e.uri, e.id])),
  };
  if (m.mid !== undefined) info.mid = m.mid;
  if (m.simulcast) info.simulcast = m.simulcast;
  if (m.kind === 'audio' || m.kind === 'video') {
    for (const f of m.formats) {
      if (!/^\d+$/.test(f)) continue;
      const p = Number(f);
      const map = rtpmapOf(m, p);
      if (map && AUX_ENCODINGS.has(map.codec.toLowerCase())) continue;
      info.pt = p;
      if (map) {
        info.rtpmap = map;
        const name = codecNameOf(map);
        if (name) info.codec = name;
      }
      const fmtp = fmtpOf(m, p);
      if (fmtp) info.fmtp = fmtp;
      const rtx = rtxFor(m, p);
      if (rtx) info.rtxPt = rtx.pt;
      break;
    }
  }
  const seen = new Set<number>();
  const add = (s: number): void => {
    if (!seen.has(s)) {
      seen.add(s);
      info.ssrcs.push(s);
    }
  };
  for (const g of m.ssrcGroups) g.ssrcs.forEach(add);
  for (const s of m.ssrcs) add(s.ssrc);
  const rtxSsrcs = new Set<number>();
  for (const g of m.ssrcGroups) {
    if (g.semantics === 'FID' && g.ssrcs.length >= 2) {
      info.fid.push([g.ssrcs[0]!, g.ssrcs[1]!]);
      rtxSsrcs.add(g.ssrcs[1]!);
    } else if (g.semantics === 'SIM' && info.sim === undefined) info.sim = [...g.ssrcs];
  }
  info.mediaSsrcs = info.ssrcs.filter((s) => !rtxSsrcs.has(s));
  const cname = m.ssrcs.find((s) => s.attribute === 'cname');
  if (cname?.value !== undefined) info.cname = cname.value;
  if (m.msids[0]) info.msid = { ...m.msids[0] };
  else {
    const sm = m.ssrcs.find((s) => s.attribute === 'msid' && s.value !== undefined);
    if (sm?.value) {
      const [stream, track] = sm.value.split(' ');
      info.msid = track !== undefined ? { stream: stream!, track } : { stream: stream! };
    }
  }
  return info;
}

/** Summarise every m-section of a description. */
export function describeMedia(d: SessionDescription): MediaInfo[] {
  return d.media.map((m, i) => describeMediaSection(m, i, d.direction));
}
