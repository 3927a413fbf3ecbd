/**
 * Which URLs a client may make the server POST to (TextRoom `post`). A room's backend is chosen by
 * whoever creates or edits the room, so without a policy the server fetches any URL a client picks
 * (SSRF): its own loopback services, the cloud metadata endpoint. The policy:
 *  - only http: and https: URLs;
 *  - with an allow-list (`post_allowed`), only URLs under one of its entries (same scheme, host and
 *    port, path under the entry's path); the operator named those, so they may be local;
 *  - otherwise any host whose every address is routable: loopback (127/8, ::1), link-local
 *    (169.254/16, fe80::/10, which holds the metadata endpoints 169.254.169.254 and fd00:ec2::254 is
 *    listed on its own), unspecified (0.0.0.0/8, ::) and their IPv4-mapped forms are refused,
 *    unless the operator allows local targets (`post_allow_local`);
 *  - names are checked when the request is sent: the connection goes to the address that was checked
 *    (a `lookup` that filters), so a name that resolves elsewhere later (DNS rebinding) gains nothing.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

export interface PostPolicyOptions {
  /** URL prefixes the operator allows; empty: any public target. */
  allowed?: readonly string[];
  /** Allow loopback, link-local and metadata targets (tests, a backend on the same host). */
  allowLocal?: boolean;
}

interface AllowEntry {
  protocol: string;
  host: string;
  path: string;
}

/** What `net.connect`'s `lookup` option is called with and answers (Node's LookupFunction shape). */
type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
export type PolicyLookup = (hostname: string, options: { all?: boolean; family?: number | string }, cb: LookupCallback) => void;

export class PostTargetPolicy {
  private readonly allowed: AllowEntry[];
  readonly allowLocal: boolean;

  constructor(opts: PostPolicyOptions = {}) {
    this.allowLocal = opts.allowLocal === true;
    this.allowed = [];
    for (const a of opts.allowed ?? []) {
      try {
        const u = new URL(a);
        this.allowed.push({ protocol: u.protocol, host: u.host, path: u.pathname });
      } catch {
        // An entry that is not a URL allows nothing (the config reader warns about it).
      }
    }
  }

  /** Whether an allow-list is configured. */
  get restricted(): boolean {
    return this.allowed.length > 0;
  }

  /**
   * Why `url` may not be a backend, or null. Synchronous (create/edit must not wait for DNS): names are
   * checked again, resolved, when a message is sent.
   */
  problem(url: string): string | null {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return 'not a URL';
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `scheme ${u.protocol} not allowed`;
    if (this.listed(u)) return null;
    if (this.allowed.length > 0) return 'not in post_allowed';
    if (this.allowLocal) return null;
    const host = hostOf(u);
    if (isIP(host) !== 0) return isLocalAddress(host) ? `local address ${host}` : null;
    const h = host.toLowerCase().replace(/\.$/, '');
    if (h === 'localhost' || h.endsWith('.localhost')) return `local name ${host}`;
    return null;
  }

  /**
   * The DNS lookup for sending to `url`: resolves as usual and keeps only addresses the policy allows
   * (all of them for an allow-listed or local-allowed target); none left is an error, and no connection.
   */
  lookupFor(url: URL): PolicyLookup {
    const open = this.allowLocal || this.listed(url);
    return (hostname, options, cb) => {
      dnsLookup(hostname, { all: true, family: typeof options.family === 'number' ? options.family : 0 }, (err, addrs) => {
        if (err) return cb(err, []);
        const ok = open ? addrs : addrs.filter((a) => !isLocalAddress(a.address));
        if (ok.length === 0) {
          const e: NodeJS.ErrnoException = new Error(`${hostname} resolves only to local addresses (refused by the post policy)`);
          e.code = 'EPOSTPOLICY';
          return cb(e, []);
        }
        if (options.all) return cb(null, ok);
        cb(null, ok[0]!.address, ok[0]!.family);
      });
    };
  }

  /** Literal-address targets skip the lookup: checked here at send time. */
  literalRefused(url: URL): boolean {
    const host = hostOf(url);
    return isIP(host) !== 0 && !this.allowLocal && !this.listed(url) && isLocalAddress(host);
  }

  private listed(u: URL): boolean {
    for (const a of this.allowed) {
      if (a.protocol !== u.protocol || a.host !== u.host) continue;
      if (a.path === '/' || u.pathname === a.path || u.pathname.startsWith(a.path.endsWith('/') ? a.path : `${a.path}/`)) return true;
    }
    return false;
  }
}

/** The URL's host without IPv6 brackets. */
function hostOf(u: URL): string {
  const h = u.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** Loopback, link-local, unspecified or cloud metadata (IPv4, IPv6, IPv4-mapped/compatible IPv6). */
export function isLocalAddress(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) return isLocalV4(v4Number(ip));
  if (v !== 6) return false;
  const w = v6Words(ip);
  if (w === null) return true; // unparsable: refuse rather than guess
  const v4tail = ((w[6]! << 16) | w[7]!) >>> 0;
  const zeroTo = (n: number): boolean => w.slice(0, n).every((x) => x === 0);
  if (zeroTo(5) && w[5] === 0xffff) return isLocalV4(v4tail); // ::ffff:a.b.c.d
  if (zeroTo(6)) return v4tail <= 1 || isLocalV4(v4tail); // ::, ::1, deprecated ::a.b.c.d
  if ((w[0]! & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  // fd00:ec2::254, AWS's IPv6 metadata endpoint.
  if (w[0] === 0xfd00 && w[1] === 0x0ec2 && w.slice(2, 7).every((x) => x === 0) && w[7] === 0x254) return true;
  return false;
}

function isLocalV4(n: number): boolean {
  const a = n >>> 24;
  if (a === 127 || a === 0) return true; // loopback, "this network" / unspecified
  if (a === 169 && ((n >>> 16) & 0xff) === 254) return true; // link-local, 169.254.169.254 metadata
  return false;
}

function v4Number(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** The 8 16-bit words of an IPv6 address (zone id dropped, embedded dotted quad handled), or null. */
function v6Words(ip: string): number[] | null {
  let s = ip.split('%')[0]!.toLowerCase();
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    const n = v4Number(s.slice(lastColon + 1));
    tail.push(n >>> 16, n & 0xffff);
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((x) => parseInt(x, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - tail.length - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 0) return null;
  const words = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...rest, ...tail];
  if (words.length !== 8 || words.some((x) => Number.isNaN(x) || x < 0 || x > 0xffff)) return null;
  return words;
}
