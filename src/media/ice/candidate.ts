/**
 * ICE candidates (RFC 8445 section 5.1, SDP grammar from RFC 8839 section 5.1):
 * types, priority formula, foundations, and `candidate:` line parse/serialize (with the
 * WebRTC extensions `generation`, `ufrag`, `network-id`, `network-cost`, and `tcptype`).
 */
import { crc32 } from '../stun/crc32.js';
import { ipFamily, normalizeIp } from '../stun/address.js';

export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay';
export type CandidateTransport = 'udp' | 'tcp';
export type TcpType = 'active' | 'passive' | 'so';

export interface IceCandidate {
  foundation: string;
  /** 1 = RTP (the only component used with BUNDLE + rtcp-mux), 2 = RTCP. */
  component: number;
  transport: CandidateTransport;
  priority: number;
  /** IP literal, or an mDNS name ending in `.local`. */
  address: string;
  port: number;
  type: CandidateType;
  relatedAddress?: string;
  relatedPort?: number;
  tcpType?: TcpType;
  generation?: number;
  ufrag?: string;
  networkId?: number;
  networkCost?: number;
  /** Other `name value` extension pairs, preserved in order. */
  extensions?: [string, string][];
}

/** Recommended type preferences (RFC 8445 5.1.2.2). */
export const TYPE_PREFERENCE: Readonly<Record<CandidateType, number>> = {
  host: 126,
  prflx: 110,
  srflx: 100,
  relay: 0,
};

/** priority = 2^24 * typePref + 2^8 * localPref + (256 - componentId) */
export function computePriority(type: CandidateType | number, localPreference: number, component: number): number {
  const tp = typeof type === 'number' ? type : TYPE_PREFERENCE[type];
  return (tp * 0x1000000 + (localPreference & 0xffff) * 0x100 + (256 - component)) >>> 0;
}

/**
 * Local preference for a host address: IPv6 before IPv4 (RFC 8421 flavour), and within a
 * family by interface order. `index` is the interface index (0 = first).
 */
export function localPreference(family: 4 | 6, index: number): number {
  const base = family === 6 ? 60000 : 30000;
  return Math.max(0, base - index * 10);
}

/**
 * Foundation: equal for candidates with the same type, base IP, server (for srflx/relay) and
 * transport (RFC 8445 5.1.1.3). Deterministic across runs.
 */
export function computeFoundation(
  type: CandidateType,
  baseAddress: string,
  transport: CandidateTransport = 'udp',
  serverAddress = '',
): string {
  return String(crc32(Buffer.from(`${type}|${normalizeIp(baseAddress)}|${transport}|${serverAddress}`)));
}

/** mDNS-obfuscated host candidates (draft-ietf-mmusic-mdns-ice-candidates) use `<uuid>.local`. */
export function isMdnsAddress(address: string): boolean {
  return address.toLowerCase().endsWith('.local');
}

/**
 * Can a check or media be sent to this address and port? Refuses what parses but is no peer: port 0,
 * the unspecified address (0.0.0.0, ::), IPv4 broadcast, multicast (224.0.0.0/4, ff00::/8). A candidate
 * that fails this never forms a pair (and so never becomes a send destination).
 */
export function isUsableDestination(address: string, port: number): boolean {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return false;
  const fam = ipFamily(address);
  if (fam === 4) {
    const first = Number(address.slice(0, address.indexOf('.')));
    if (first === 0 || first >= 224) return false; // 0/8 "this network", multicast 224/4, reserved 240/4 + broadcast
    return true;
  }
  if (fam === 6) {
    const a = normalizeIp(address).toLowerCase();
    if (a === '::' || a.startsWith('ff')) return false;
    return true;
  }
  return false;
}

export class CandidateParseError extends Error {
  constructor(message: string, readonly line: string) {
    super(`${message}: ${line}`);
    this.name = 'CandidateParseError';
  }
}

const TYPES = new Set<string>(['host', 'srflx', 'prflx', 'relay']);

function uint(s: string | undefined, max: number): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/**
 * Parse a candidate attribute: accepts `a=candidate:...`, `candidate:...` or the bare value.
 * Transport is case-insensitive (`UDP` is common). Throws CandidateParseError.
 */
export function parseCandidate(line: string): IceCandidate {
  let s = line.trim();
  if (s.startsWith('a=')) s = s.slice(2);
  if (s.startsWith('candidate:')) s = s.slice(10);
  const t = s.split(/\s+/);
  if (t.length < 8) throw new CandidateParseError('too few fields in candidate', line);
  const [foundation, comp, transportRaw, prio, address, portS, typ, typeS] = t as [string, string, string, string, string, string, string, string];
  if (!/^[A-Za-z0-9+/]{1,32}$/.test(foundation)) throw new CandidateParseError('bad foundation', line);
  const component = uint(comp, 256);
  if (!component) throw new CandidateParseError('bad component', line);
  const transport = transportRaw.toLowerCase();
  if (transport !== 'udp' && transport !== 'tcp') throw new CandidateParseError(`unsupported transport ${transportRaw}`, line);
  const priority = uint(prio, 0xffffffff);
  if (priority === undefined) throw new CandidateParseError('bad priority', line);
  const port = uint(portS, 65535);
  // Port 0 is not a transport address (RFC 8445 5.1.1): nothing can be sent to it (socket.send throws).
  if (port === undefined || port === 0) throw new CandidateParseError('bad port', line);
  if (typ !== 'typ' || !TYPES.has(typeS)) throw new CandidateParseError('bad candidate type', line);
  if (ipFamily(address) === 0 && !isMdnsAddress(address)) throw new CandidateParseError('bad connection address', line);
  const c: IceCandidate = {
    foundation,
    component,
    transport,
    priority,
    address: normalizeIp(address),
    port,
    type: typeS as CandidateType,
  };
  for (let i = 8; i + 1 < t.length; i += 2) {
    const k = t[i]!;
    const v = t[i + 1]!;
    switch (k) {
      case 'raddr':
        c.relatedAddress = normalizeIp(v);
        break;
      case 'rport': {
        const p = uint(v, 65535);
        if (p === undefined) throw new CandidateParseError('bad rport', line);
        c.relatedPort = p;
        break;
      }
      case 'tcptype':
        if (v !== 'active' && v !== 'passive' && v !== 'so') throw new CandidateParseError('bad tcptype', line);
        c.tcpType = v;
        break;
      case 'generation':
        c.generation = uint(v, 0xffffffff);
        break;
      case 'ufrag':
        c.ufrag = v;
        break;
      case 'network-id':
        c.networkId = uint(v, 0xffffffff);
        break;
      case 'network-cost':
        c.networkCost = uint(v, 0xffffffff);
        break;
      default:
        (c.extensions ??= []).push([k, v]);
    }
  }
  if (t.length % 2 !== 0) throw new CandidateParseError('dangling extension name', line);
  return c;
}

/** Like parseCandidate but returns undefined on error. */
export function tryParseCandidate(line: string): IceCandidate | undefined {
  try {
    return parseCandidate(line);
  } catch {
    return undefined;
  }
}

/** Serialize as `candidate:...` (no `a=` prefix, no CRLF). */
export function serializeCandidate(c: IceCandidate): string {
  let s = `candidate:${c.foundation} ${c.component} ${c.transport} ${c.priority} ${c.address} ${c.port} typ ${c.type}`;
  if (c.relatedAddress !== undefined) s += ` raddr ${c.relatedAddress} rport ${c.relatedPort ?? 0}`;
  if (c.tcpType !== undefined) s += ` tcptype ${c.tcpType}`;
  if (c.generation !== undefined) s += ` generation ${c.generation}`;
  if (c.ufrag !== undefined) s += ` ufrag ${c.ufrag}`;
  if (c.networkId !== undefined) s += ` network-id ${c.networkId}`;
  if (c.networkCost !== undefined) s += ` network-cost ${c.networkCost}`;
  if (c.extensions) for (const [k, v] of c.extensions) s += ` ${k} ${v}`;
  return s;
}

/** Convenience constructor for a local host candidate. */
export function hostCandidate(address: string, port: number, opts: { component?: number; localPreference?: number; transport?: CandidateTransport } = {}): IceCandidate {
  const component = opts.component ?? 1;
  const transport = opts.transport ?? 'udp';
  const fam = ipFamily(address) === 6 ? 6 : 4;
  return {
    foundation: computeFoundation('host', address, transport),
    component,
    transport,
    priority: computePriority('host', opts.localPreference ?? localPreference(fam, 0), component),
    address: normalizeIp(address),
    port,
    type: 'host',
  };
}

/**
 * Type preference of TCP host candidates: below every UDP type a host can have (host 126, prflx 110,
 * srflx 100), so a working UDP pair always outranks a TCP one (RFC 6544 4.2 leaves the value to us;
 * libwebrtc uses the same 90).
 */
export const TCP_HOST_TYPE_PREFERENCE = 90;
/** RFC 6544 4.2 direction preference of a passive host candidate (active 6, passive 4, S-O 2). */
const TCP_PASSIVE_DIRECTION_PREF = 4;

/**
 * A passive ICE-TCP host candidate (RFC 6544): we accept connections on `port`, never connect out.
 * local preference = 2^13 * direction-pref + other-pref (the interface order).
 */
export function tcpPassiveCandidate(address: string, port: number, opts: { component?: number; otherPreference?: number } = {}): IceCandidate {
  const component = opts.component ?? 1;
  const other = Math.max(0, Math.min(0x1fff, opts.otherPreference ?? 0x1fff));
  return {
    foundation: computeFoundation('host', address, 'tcp'),
    component,
    transport: 'tcp',
    priority: computePriority(TCP_HOST_TYPE_PREFERENCE, TCP_PASSIVE_DIRECTION_PREF * 0x2000 + other, component),
    address: normalizeIp(address),
    port,
    type: 'host',
    tcpType: 'passive',
  };
}

/** Convenience constructor for a server-reflexive candidate discovered through `server`. */
export function srflxCandidate(mapped: { address: string; port: number }, base: { address: string; port: number }, server: string, opts: { component?: number; localPreference?: number } = {}): IceCandidate {
  const component = opts.component ?? 1;
  const fam = ipFamily(base.address) === 6 ? 6 : 4;
  return {
    foundation: computeFoundation('srflx', base.address, 'udp', server),
    component,
    transport: 'udp',
    priority: computePriority('srflx', opts.localPreference ?? localPreference(fam, 0), component),
    address: normalizeIp(mapped.address),
    port: mapped.port,
    type: 'srflx',
    relatedAddress: normalizeIp(base.address),
    relatedPort: base.port,
  };
}

/**
 * Candidate pair priority (RFC 8445 6.1.2.3): 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0), where G is
 * the controlling agent's candidate priority. Exceeds 2^53, hence bigint.
 */
export function pairPriority(controllingPrio: number, controlledPrio: number): bigint {
  const g = BigInt(controllingPrio);
  const d = BigInt(controlledPrio);
  const min = g < d ? g : d;
  const max = g < d ? d : g;
  return (min << 32n) + 2n * max + (g > d ? 1n : 0n);
}
