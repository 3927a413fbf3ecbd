/**
 * SDP text → `SessionDescription`. One linear pass over the lines; every malformed line the model
 * cares about raises `SdpParseError` (never a crash, never a loop that depends on content).
 * Accepts CRLF (RFC 8866) and, leniently, bare LF; blank lines are skipped.
 */
import { SdpParseError } from './errors.js';
import {
  emptySession,
  type Attribute,
  type Bandwidth,
  type Connection,
  type Direction,
  type Extmap,
  type Fingerprint,
  type MediaSection,
  type Rid,
  type RtcpFb,
  type SessionDescription,
  type SetupRole,
  type Simulcast,
  type SimulcastRid,
  emptyMediaSection,
  parseFmtpParams,
} from './types.js';

export interface ParseOptions {
  /** Reject texts longer than this many characters (default 1 MiB). */
  maxLength?: number;
}

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);
const SETUP_ROLES: ReadonlySet<string> = new Set(['actpass', 'active', 'passive', 'holdconn']);
const UINT = /^\d+$/;
const TOKEN_SPLIT = /[ \t]+/;

/** Internal: thrown by helpers, rethrown with the line number by the driver. */
class LineError extends Error {}

function fail(reason: string): never {
  throw new LineError(reason);
}

function uint(text: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!UINT.test(text)) fail(`${what} is not a number`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n > max) fail(`${what} out of range`);
  return n;
}

function tokens(text: string): string[] {
  const t = text.trim();
  return t === '' ? [] : t.split(TOKEN_SPLIT);
}

function pt(text: string): number {
  return uint(text, 'payload type', 127);
}

function parseConnection(value: string): Connection {
  const t = tokens(value);
  if (t.length !== 3) fail('c= needs <nettype> <addrtype> <address>');
  return { netType: t[0]!, addrType: t[1]!, address: t[2]! };
}

function parseBandwidth(value: string): Bandwidth {
  const colon = value.indexOf(':');
  if (colon <= 0) fail('b= needs <type>:<value>');
  return { type: value.slice(0, colon).trim(), value: uint(value.slice(colon + 1).trim(), 'bandwidth') };
}

function parseFingerprint(value: string): Fingerprint {
  const t = tokens(value);
  if (t.length !== 2) fail('fingerprint needs <hash> <value>');
  return { hash: t[0]!.toLowerCase(), value: t[1]! };
}

function parseExtmap(value: string): Extmap {
  const m = /^(\d+)(?:\/(\w+))?[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(value.trim());
  if (!m) fail('extmap needs <id>[/<direction>] <uri>');
  const id = uint(m[1]!, 'extmap id', 65535);
  const ext: Extmap = { id, uri: m[3]! };
  if (m[2] !== undefined) {
    if (!DIRECTIONS.has(m[2])) fail('bad extmap direction');
    ext.direction = m[2] as Direction;
  }
  if (m[4] !== undefined && m[4].trim() !== '') ext.attributes = m[4].trim();
  return ext;
}

function parseRid(value: string): Rid {
  const t = tokens(value);
  if (t.length < 2) fail('rid needs <id> <send|recv>');
  const [id, dir] = t as [string, string];
  if (dir !== 'send' && dir !== 'recv') fail('rid direction must be send or recv');
  const rid: Rid = { id, direction: dir, payloads: [], params: {} };
  const entries: [string, string][] = [];
  for (const part of t.slice(2).join(' ').split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    const key = eq < 0 ? p : p.slice(0, eq);
    const val = eq < 0 ? '' : p.slice(eq + 1);
    if (key === 'pt') {
      for (const f of val.split(',')) rid.payloads.push(pt(f.trim()));
    } else entries.push([key, val]);
  }
  rid.params = Object.fromEntries(entries);
  return rid;
}

function parseSimulcastStreams(text: string): SimulcastRid[][] {
  // Old drafts wrote `send rid=h;m;l`.
  const body = text.startsWith('rid=') ? text.slice(4) : text;
  const streams: SimulcastRid[][] = [];
  for (const s of body.split(';')) {
    const alts: SimulcastRid[] = [];
    for (const a of s.split(',')) {
      const paused = a.startsWith('~');
      const rid = paused ? a.slice(1) : a;
      if (rid === '') fail('empty simulcast rid');
      alts.push({ rid, paused });
    }
    streams.push(alts);
  }
  return streams;
}

function parseSimulcast(value: string): Simulcast {
  const t = tokens(value);
  if (t.length === 0 || t.length % 2 !== 0) fail('simulcast needs <send|recv> <streams> pairs');
  const sc: Simulcast = {};
  for (let i = 0; i < t.length; i += 2) {
    const dir = t[i]!;
    if (dir !== 'send' && dir !== 'recv') fail('simulcast direction must be send or recv');
    if (sc[dir] !== undefined) fail(`duplicate simulcast ${dir}`);
    sc[dir] = parseSimulcastStreams(t[i + 1]!);
  }
  return sc;
}

function parseSetup(value: string): SetupRole {
  const v = value.trim();
  if (!SETUP_ROLES.has(v)) fail('bad setup role');
  return v as SetupRole;
}

function parseGroupTokens(value: string): { semantics: string; rest: string[] } {
  const t = tokens(value);
  if (t.length === 0) fail('empty group');
  return { semantics: t[0]!, rest: t.slice(1) };
}

function nonEmpty(value: string, what: string): string {
  const v = value.trim();
  if (v === '' || /\s/.test(v)) fail(`bad ${what}`);
  return v;
}

/** Handle an `a=` line that may appear at session or media level. Returns false if not one of those. */
function sharedAttribute(
  target: SessionDescription | MediaSection,
  name: string,
  value: string | undefined,
): boolean {
  const v = value ?? '';
  switch (name) {
    case 'ice-ufrag':
      target.iceUfrag = nonEmpty(v, 'ice-ufrag');
      return true;
    case 'ice-pwd':
      target.icePwd = nonEmpty(v, 'ice-pwd');
      return true;
    case 'ice-options':
      target.iceOptions = tokens(v);
      return true;
    case 'fingerprint':
      target.fingerprints.push(parseFingerprint(v));
      return true;
    case 'setup':
      target.setup = parseSetup(v);
      return true;
    case 'extmap-allow-mixed':
      target.extmapAllowMixed = true;
      return true;
    case 'end-of-candidates':
      target.endOfCandidates = true;
      return true;
    case 'sendrecv':
    case 'sendonly':
    case 'recvonly':
    case 'inactive':
      if (value !== undefined) return false;
      target.direction = name;
      return true;
    default:
      return false;
  }
}

function sessionAttribute(s: SessionDescription, name: string, value: string | undefined): void {
  if (sharedAttribute(s, name, value)) return;
  const v = value ?? '';
  switch (name) {
    case 'group': {
      const g = parseGroupTokens(v);
      s.groups.push({ semantics: g.semantics, mids: g.rest });
      return;
    }
    case 'msid-semantic': {
      const g = parseGroupTokens(v);
      s.msidSemantic = { semantic: g.semantics, ids: g.rest };
      return;
    }
    case 'ice-lite':
      s.iceLite = true;
      return;
    case 'extmap':
      s.extmaps.push(parseExtmap(v));
      return;
    default:
      s.attributes.push(value === undefined ? { name } : { name, value });
  }
}

function mediaAttribute(m: MediaSection, name: string, value: string | undefined): void {
  if (sharedAttribute(m, name, value)) return;
  const v = value ?? '';
  switch (name) {
    case 'mid':
      m.mid = nonEmpty(v, 'mid');
      return;
    case 'rtcp-mux':
      m.rtcpMux = true;
      return;
    case 'rtcp-rsize':
      m.rtcpRsize = true;
      return;
    case 'bundle-only':
      m.bundleOnly = true;
      return;
    case 'rtcp': {
      const t = tokens(v);
      if (t.length !== 1 && t.length !== 4) fail('rtcp needs <port> [<nettype> <addrtype> <address>]');
      m.rtcp = { port: uint(t[0]!, 'rtcp port', 65535) };
      if (t.length === 4) m.rtcp.connection = { netType: t[1]!, addrType: t[2]!, address: t[3]! };
      return;
    }
    case 'rtpmap': {
      const mm = /^(\d+)[ \t]+([^/\s]+)\/(\d+)(?:\/(\d+))?$/.exec(v.trim());
      if (!mm) fail('rtpmap needs <pt> <codec>/<clock>[/<channels>]');
      const map = { pt: pt(mm[1]!), codec: mm[2]!, clock: uint(mm[3]!, 'clock rate') } as MediaSection['rtpmaps'][number];
      if (mm[4] !== undefined) map.channels = uint(mm[4], 'channels', 255);
      m.rtpmaps.push(map);
      return;
    }
    case 'fmtp': {
      const mm = /^(\d+)(?:[ \t]+(.*))?$/.exec(v.trim());
      if (!mm) fail('fmtp needs <pt> <params>');
      const raw = (mm[2] ?? '').trim();
      m.fmtps.push({ pt: pt(mm[1]!), params: parseFmtpParams(raw), raw });
      return;
    }
    case 'rtcp-fb': {
      const t = tokens(v);
      if (t.length < 2 || t.length > 3) fail('rtcp-fb needs <pt|*> <type> [<subtype>]');
      const fb: RtcpFb = { pt: t[0] === '*' ? '*' : pt(t[0]!), type: t[1]! };
      if (t[2] !== undefined) fb.subtype = t[2];
      m.rtcpFbs.push(fb);
      return;
    }
    case 'extmap':
      m.extmaps.push(parseExtmap(v));
      return;
    case 'ssrc': {
      const mm = /^(\d+)[ \t]+([^:\s]+)(?::(.*))?$/.exec(v.trim());
      if (!mm) fail('ssrc needs <ssrc> <attribute>[:<value>]');
      const a: MediaSection['ssrcs'][number] = { ssrc: uint(mm[1]!, 'ssrc', 0xffffffff), attribute: mm[2]! };
      if (mm[3] !== undefined) a.value = mm[3];
      m.ssrcs.push(a);
      return;
    }
    case 'ssrc-group': {
      const g = parseGroupTokens(v);
      if (g.rest.length === 0) fail('ssrc-group without ssrcs');
      m.ssrcGroups.push({ semantics: g.semantics, ssrcs: g.rest.map((x) => uint(x, 'ssrc', 0xffffffff)) });
      return;
    }
    case 'msid': {
      const t = tokens(v);
      if (t.length < 1 || t.length > 2) fail('msid needs <stream> [<track>]');
      m.msids.push(t.length === 2 ? { stream: t[0]!, track: t[1]! } : { stream: t[0]! });
      return;
    }
    case 'rid':
      m.rids.push(parseRid(v));
      return;
    case 'simulcast':
      if (m.simulcast !== undefined) fail('duplicate simulcast');
      m.simulcast = parseSimulcast(v);
      return;
    case 'candidate':
      if (v.trim() === '') fail('empty candidate');
      m.candidates.push(`candidate:${v}`);
      return;
    case 'sctp-port':
      m.sctpPort = uint(v.trim(), 'sctp-port', 65535);
      return;
    case 'max-message-size':
      m.maxMessageSize = uint(v.trim(), 'max-message-size');
      return;
    default:
      m.attributes.push(value === undefined ? { name } : { name, value });
  }
}

function parseMediaLine(value: string): MediaSection {
  const t = tokens(value);
  if (t.length < 3) fail('m= needs <media> <port> <proto> <fmt>...');
  const [kind, portText, protocol] = t as [string, string, string];
  const slash = portText.indexOf('/');
  const port = uint(slash < 0 ? portText : portText.slice(0, slash), 'port', 65535);
  const m = emptyMediaSection(kind, protocol, t.slice(3), port);
  if (slash >= 0) m.numPorts = uint(portText.slice(slash + 1), 'number of ports', 65535);
  if (m.formats.length === 0 && port !== 0) fail('m= without formats');
  return m;
}

/** Put fmtp and rtcp-fb entries in rtpmap order (stable), the order the writer emits them in. */
function canonicalize(m: MediaSection): void {
  if (m.rtpmaps.length === 0) return;
  const rank = new Map<number | '*', number>();
  m.rtpmaps.forEach((r, i) => {
    if (!rank.has(r.pt)) rank.set(r.pt, i);
  });
  const key = (p: number | '*'): number => rank.get(p) ?? Number.MAX_SAFE_INTEGER;
  const sortStable = <T extends { pt: number | '*' }>(arr: T[]): T[] =>
    arr
      .map((x, i) => [x, i] as const)
      .sort((a, b) => key(a[0].pt) - key(b[0].pt) || a[1] - b[1])
      .map(([x]) => x);
  m.fmtps = sortStable(m.fmtps);
  m.rtcpFbs = sortStable(m.rtcpFbs);
}

/** Parse an SDP. Throws `SdpParseError` (a `SdpError`, Janus 465) on malformed input. */
export function parseSdp(text: string, options: ParseOptions = {}): SessionDescription {
  if (typeof text !== 'string') throw new SdpParseError(0, '', 'SDP is not a string');
  const maxLength = options.maxLength ?? 1 << 20;
  if (text.length > maxLength) throw new SdpParseError(0, '', `SDP longer than ${maxLength} characters`);
  const lines = text.split(/\r\n|\n|\r/);

  let session: SessionDescription | undefined;
  let seenO = false;
  let seenS = false;
  let seenT = false;
  let current: MediaSection | undefined;
  let lineNo = 0;
  let line = '';
  try {
    for (lineNo = 1; lineNo <= lines.length; lineNo++) {
      line = lines[lineNo - 1]!;
      if (line === '') continue;
      if (line.length < 2 || line[1] !== '=' || !/^[a-zA-Z]$/.test(line[0]!)) fail('not a <type>=<value> line');
      const type = line[0]!;
      const value = line.slice(2);
      if (session === undefined) {
        if (type !== 'v') fail('SDP must start with v=');
        if (value.trim() !== '0') fail('unsupported SDP version');
        // Blank origin and name until the o= and s= lines fill them.
        session = { ...emptySession(), origin: { username: '', sessionId: '', sessionVersion: '', netType: '', addrType: '', address: '' }, name: '' };
        continue;
      }
      if (type === 'm') {
        if (!seenO || !seenS || !seenT) fail('m= before o=, s= and t=');
        current = parseMediaLine(value);
        session.media.push(current);
        continue;
      }
      if (current === undefined) {
        switch (type) {
          case 'v':
            fail('duplicate v=');
          // falls through (fail never returns)
          case 'o': {
            if (seenO) fail('duplicate o=');
            const t = tokens(value);
            if (t.length !== 6) fail('o= needs 6 fields');
            session.origin = {
              username: t[0]!,
              sessionId: t[1]!,
              sessionVersion: t[2]!,
              netType: t[3]!,
              addrType: t[4]!,
              address: t[5]!,
            };
            seenO = true;
            continue;
          }
          case 's':
            if (seenS) fail('duplicate s=');
            session.name = value;
            seenS = true;
            continue;
          case 't': {
            if (seenT) {
              // Several t= lines are legal; keep the extra ones verbatim.
              session.extraLines.push({ type, value });
              continue;
            }
            const t = tokens(value);
            if (t.length !== 2) fail('t= needs <start> <stop>');
            session.timing = { start: uint(t[0]!, 'start time'), stop: uint(t[1]!, 'stop time') };
            seenT = true;
            continue;
          }
          case 'c':
            if (session.connection !== undefined) fail('duplicate c=');
            session.connection = parseConnection(value);
            continue;
          case 'b':
            session.bandwidths.push(parseBandwidth(value));
            continue;
          case 'a': {
            const colon = value.indexOf(':');
            if (colon === 0) fail('attribute without a name');
            if (colon < 0) sessionAttribute(session, value, undefined);
            else sessionAttribute(session, value.slice(0, colon), value.slice(colon + 1));
            continue;
          }
          default:
            session.extraLines.push({ type, value });
            continue;
        }
      }
      switch (type) {
        case 'v':
        case 'o':
        case 's':
        case 't':
          fail(`${type}= inside a media section`);
        // falls through (fail never returns)
        case 'c':
          if (current.connection !== undefined) fail('duplicate c=');
          current.connection = parseConnection(value);
          continue;
        case 'b':
          current.bandwidths.push(parseBandwidth(value));
          continue;
        case 'a': {
          const colon = value.indexOf(':');
          if (colon === 0) fail('attribute without a name');
          if (colon < 0) mediaAttribute(current, value, undefined);
          else mediaAttribute(current, value.slice(0, colon), value.slice(colon + 1));
          continue;
        }
        default:
          current.extraLines.push({ type, value });
      }
    }
  } catch (e) {
    if (e instanceof LineError) throw new SdpParseError(lineNo, line, e.message);
    throw e;
  }
  if (session === undefined) throw new SdpParseError(0, '', 'empty SDP');
  if (!seenO) throw new SdpParseError(0, '', 'missing o=');
  if (!seenS) throw new SdpParseError(0, '', 'missing s=');
  if (!seenT) throw new SdpParseError(0, '', 'missing t=');
  for (const m of session.media) canonicalize(m);
  return session;
}

/** Convenience for unknown-attribute lookups: the first attribute named `name` in a list. */
export function findAttribute(attrs: readonly Attribute[], name: string): Attribute | undefined {
  return attrs.find((a) => a.name === name);
}
