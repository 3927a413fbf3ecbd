/**
 * The one ufrag -> PeerConnection registry of a media plane, shared by every listener that routes a new
 * source by the STUN USERNAME of its first check: the single-port UDP socket(s) (udp-mux.ts, one per
 * address family) and the ICE-TCP listener (ice-tcp.ts). A PeerConnection registers one route per
 * ufrag, naming what it is on each of them; each listener picks its own field.
 *
 * Why one registry: the two listeners used to keep a map each and the PeerConnection registered with
 * both, so uniqueness had to be checked against both and the two could drift apart on an ICE restart.
 *
 * One-port mode (port-reader.ts): the main thread owns the process's single socket and hands each new
 * source to a thread by the FIRST CHARACTER of the ufrag its check names, without any registry of its
 * own (nothing to keep in step across threads). So every plane draws its ufrags with its own first
 * character (`prefix`); the rest of the ufrag is random, and uniqueness inside the plane is checked here.
 */
import { randomBytes } from 'node:crypto';
import type { IceTcpOwner } from './ice-tcp.js';

/** The ICE ufrag/pwd alphabet (RFC 8445 ice-char). Plane i in one-port mode draws ufrags starting with ICE_CHARS[i]. */
export const ICE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Random ice-chars. */
export function iceString(n: number): string {
  const b = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ICE_CHARS[b[i]! & 63];
  return s;
}

/** What one ufrag routes to, per listener (a field is absent where the PeerConnection is not on that listener). */
export interface UfragRoute {
  /** The PeerConnection's view of the IPv4 single-port socket (a UdpMuxPort). */
  udp4?: unknown;
  /** Its view of the IPv6 single-port socket. */
  udp6?: unknown;
  /** Its owner object on the ICE-TCP listener. */
  tcp?: IceTcpOwner;
}

export class UfragRouter {
  private readonly routes = new Map<string, UfragRoute>();

  /** `prefix`: the first character of every ufrag this plane draws (one-port mode); '' for none. */
  constructor(public prefix = '') {}

  get size(): number {
    return this.routes.size;
  }

  lookup(ufrag: string): UfragRoute | undefined {
    return this.routes.get(ufrag);
  }

  isTaken(ufrag: string): boolean {
    return this.routes.has(ufrag);
  }

  /** A ufrag nobody here uses, with this plane's prefix (4 ice-chars, 8 after many collisions). */
  fresh(): string {
    let u = this.prefix + iceString(4 - this.prefix.length);
    for (let i = 0; this.routes.has(u) && i < 64; i++) u = this.prefix + iceString((i < 32 ? 4 : 8) - this.prefix.length);
    return u;
  }

  register(ufrag: string, route: UfragRoute): void {
    this.routes.set(ufrag, route);
  }

  /** Forget `ufrag` if it still routes to `route` (ICE restart: the old ufrag goes; close). */
  unregister(ufrag: string, route: UfragRoute): void {
    if (this.routes.get(ufrag) === route) this.routes.delete(ufrag);
  }

  clear(): void {
    this.routes.clear();
  }
}
