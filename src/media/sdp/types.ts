/**
 * The typed session description model (RFC 8866 + the WebRTC attributes of RFC 8829/8843/8853/8841/8840).
 *
 * Shape rules:
 * - Every field the parser understands has a typed home; anything else is kept verbatim in `attributes`
 *   (for `a=` lines) or `extraLines` (for other line types), in the order it appeared.
 * - Optional scalars are `undefined` when the line is absent; flags are booleans; repeated lines are arrays
 *   (never undefined), so a freshly built model can be written without null checks.
 * - `parseSdp(writeSdp(x))` deep-equals `x` for every `x` produced by `parseSdp` (the parser puts rtcp-fb and
 *   fmtp lines in rtpmap order, which is the order the writer emits them in).
 */

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export type SetupRole = 'actpass' | 'active' | 'passive' | 'holdconn';
export type MediaKind = 'audio' | 'video' | 'application' | (string & {});

/** `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`. Ids are strings: browsers use 19-digit values. */
export interface Origin {
  username: string;
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

/** `c=<nettype> <addrtype> <connection-address>` */
export interface Connection {
  netType: string;
  addrType: string;
  address: string;
}

/** `b=<bwtype>:<bandwidth>` (AS, TIAS, CT, ...) */
export interface Bandwidth {
  type: string;
  value: number;
}

/** `t=<start> <stop>` */
export interface Timing {
  start: number;
  stop: number;
}

/** A line of a type the model has no field for (`i=`, `u=`, `e=`, `p=`, `r=`, `z=`, `k=`, or unknown letters). */
export interface ExtraLine {
  type: string;
  value: string;
}

/** An unknown `a=` line: `a=<name>` (value undefined) or `a=<name>:<value>` (value may be ''). */
export interface Attribute {
  name: string;
  value?: string;
}

/** `a=group:<semantics> <mid>...` */
export interface Group {
  semantics: string;
  mids: string[];
}

/** `a=msid-semantic: <semantic> <id>...` (Chrome: `WMS *` or `WMS <stream ids>`) */
export interface MsidSemantic {
  semantic: string;
  ids: string[];
}

/** `a=fingerprint:<hash-func> <value>` */
export interface Fingerprint {
  hash: string;
  value: string;
}

/** `a=rtpmap:<pt> <codec>/<clock>[/<channels>]` */
export interface RtpMap {
  pt: number;
  codec: string;
  clock: number;
  channels?: number;
}

/**
 * `a=fmtp:<pt> <params>`. `raw` is what the writer emits (and what the parser saw); `params` is the parsed view
 * (`key=value` pairs split on `;`, a token without `=` maps to ''). Build new ones with `makeFmtp` so both agree.
 */
export interface Fmtp {
  pt: number;
  params: Record<string, string>;
  raw: string;
}

/** `a=rtcp-fb:<pt|*> <type> [<subtype>]`, e.g. `nack pli`, `ccm fir`, `goog-remb`, `transport-cc`. */
export interface RtcpFb {
  pt: number | '*';
  type: string;
  subtype?: string;
}

/** `a=extmap:<id>[/<direction>] <uri> [<extension attributes>]` */
export interface Extmap {
  id: number;
  direction?: Direction;
  uri: string;
  attributes?: string;
}

/** `a=ssrc:<ssrc> <attribute>[:<value>]` */
export interface SsrcAttr {
  ssrc: number;
  attribute: string;
  value?: string;
}

/** `a=ssrc-group:<semantics> <ssrc>...` (FID, SIM, FEC-FR, ...) */
export interface SsrcGroup {
  semantics: string;
  ssrcs: number[];
}

/** `a=msid:<stream id> [<track id>]` */
export interface Msid {
  stream: string;
  track?: string;
}

/** `a=rid:<id> <send|recv> [pt=<fmt>,<fmt>...;<restriction>=<value>...]` */
export interface Rid {
  id: string;
  direction: 'send' | 'recv';
  /** The `pt=` restriction, empty when absent. */
  payloads: number[];
  /** The other restrictions (`max-width`, `max-fps`, ...), in order. */
  params: Record<string, string>;
}

/** One simulcast stream alternative: `h`, or `~h` when paused. */
export interface SimulcastRid {
  rid: string;
  paused: boolean;
}

/** `a=simulcast:[send <streams>] [recv <streams>]`: streams split by `;`, alternatives within a stream by `,`. */
export interface Simulcast {
  send?: SimulcastRid[][];
  recv?: SimulcastRid[][];
}

/** `a=rtcp:<port> [<nettype> <addrtype> <address>]` */
export interface RtcpAttr {
  port: number;
  connection?: Connection;
}

export interface MediaSection {
  kind: MediaKind;
  port: number;
  /** The `/<n>` after the port (rare). */
  numPorts?: number;
  protocol: string;
  /** Payload types for RTP (as strings, exactly as written), `webrtc-datachannel` for SCTP. */
  formats: string[];
  connection?: Connection;
  bandwidths: Bandwidth[];
  mid?: string;
  /** Absent means sendrecv (or the session-level direction). */
  direction?: Direction;
  iceUfrag?: string;
  icePwd?: string;
  iceOptions?: string[];
  fingerprints: Fingerprint[];
  setup?: SetupRole;
  rtcp?: RtcpAttr;
  rtcpMux: boolean;
  rtcpRsize: boolean;
  extmapAllowMixed: boolean;
  rtpmaps: RtpMap[];
  fmtps: Fmtp[];
  rtcpFbs: RtcpFb[];
  extmaps: Extmap[];
  ssrcs: SsrcAttr[];
  ssrcGroups: SsrcGroup[];
  msids: Msid[];
  rids: Rid[];
  simulcast?: Simulcast;
  /** Candidates in trickle form: `candidate:<foundation> <component> ...` (the `a=` removed). */
  candidates: string[];
  endOfCandidates: boolean;
  sctpPort?: number;
  maxMessageSize?: number;
  bundleOnly: boolean;
  attributes: Attribute[];
  extraLines: ExtraLine[];
}

export interface SessionDescription {
  version: number;
  origin: Origin;
  name: string;
  connection?: Connection;
  bandwidths: Bandwidth[];
  timing: Timing;
  groups: Group[];
  msidSemantic?: MsidSemantic;
  iceUfrag?: string;
  icePwd?: string;
  iceOptions?: string[];
  iceLite: boolean;
  fingerprints: Fingerprint[];
  setup?: SetupRole;
  direction?: Direction;
  extmapAllowMixed: boolean;
  extmaps: Extmap[];
  endOfCandidates: boolean;
  attributes: Attribute[];
  extraLines: ExtraLine[];
  media: MediaSection[];
}

/** An empty media section with every array/flag initialised. */
export function emptyMediaSection(kind: MediaKind, protocol: string, formats: string[], port = 9): MediaSection {
  return {
    kind,
    port,
    protocol,
    formats,
    bandwidths: [],
    fingerprints: [],
    rtcpMux: false,
    rtcpRsize: false,
    extmapAllowMixed: false,
    rtpmaps: [],
    fmtps: [],
    rtcpFbs: [],
    extmaps: [],
    ssrcs: [],
    ssrcGroups: [],
    msids: [],
    rids: [],
    candidates: [],
    endOfCandidates: false,
    bundleOnly: false,
    attributes: [],
    extraLines: [],
  };
}

/** An empty session with defaults (`v=0`, `s=-`, `t=0 0`). */
export function emptySession(origin?: Partial<Origin>): SessionDescription {
  return {
    version: 0,
    origin: {
      username: '-',
      sessionId: String(Date.now()) + String(Math.floor(Math.random() * 1e6)).padStart(6, '0'),
      sessionVersion: '1',
      netType: 'IN',
      addrType: 'IP4',
      address: '127.0.0.1',
      ...origin,
    },
    name: '-',
    bandwidths: [],
    timing: { start: 0, stop: 0 },
    groups: [],
    iceLite: false,
    fingerprints: [],
    extmapAllowMixed: false,
    extmaps: [],
    endOfCandidates: false,
    attributes: [],
    extraLines: [],
    media: [],
  };
}

/** Parse fmtp parameter text (`a=1;b=2`) into an ordered record. Safe for keys like `__proto__`. */
export function parseFmtpParams(raw: string): Record<string, string> {
  const entries: [string, string][] = [];
  for (const part of raw.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq < 0) entries.push([p, '']);
    else entries.push([p.slice(0, eq).trim(), p.slice(eq + 1).trim()]);
  }
  return Object.fromEntries(entries);
}

/** Format an fmtp parameter record (`{a:'1',b:'2'}` → `a=1;b=2`; '' values are written as bare tokens). */
export function formatFmtpParams(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    .join(';');
}

/** Build an fmtp whose `raw` and `params` agree. */
export function makeFmtp(pt: number, params: Record<string, string>): Fmtp {
  const raw = formatFmtpParams(params);
  return { pt, params: parseFmtpParams(raw), raw };
}
