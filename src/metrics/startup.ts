/**
 * What the startup summary says about media reachability: the addresses Portunus will advertise in
 * its ICE candidates (host, IPv4 and with media.ipv6 IPv6, host rewritten by nat_1_1_mapping,
 * server-reflexive from STUN per family), and a
 * plain warning when none of them is reachable from the public Internet, the most common reason a
 * Janus deployment "connects but has no media".
 */
import { existsSync } from 'node:fs';
import type { JanusConfig } from '../config/types.js';

export interface AdvertisedAddress {
  type: 'host' | 'host (nat_1_1_mapping)' | 'srflx';
  address: string;
}

/** The parts of media/candidates.ts's LocalCandidates the summary reads. */
export interface CandidateView {
  readonly addresses: ReadonlyArray<{ address: string; name?: string }>;
  readonly stunUsable: boolean;
  readonly publicIp: string | null;
  readonly stunUsable6?: boolean;
  readonly publicIp6?: string | null;
  hostCandidates(port: number): { advertised: ReadonlyArray<{ address: string; type: string }> } | null;
  /** media.ipv6: the udp6 socket's host candidates ([] without IPv6 addresses). */
  hostCandidates6?(port: number): ReadonlyArray<{ address: string; type: string }>;
}

export function advertisedAddresses(c: CandidateView, config: JanusConfig): AdvertisedAddress[] {
  const out: AdvertisedAddress[] = [];
  const mapped = new Set(config.nat.nat_1_1_mapping);
  const port = config.media.rtp_port_range?.min ?? 9;
  // IPv4 first, then IPv6 (media.ipv6): an IPv6-only host still has something to advertise.
  const hosts = [...(c.hostCandidates(port)?.advertised ?? []), ...(c.hostCandidates6?.(port) ?? [])];
  for (const h of hosts) {
    if (h.type !== 'host') continue;
    const type = mapped.has(h.address) ? 'host (nat_1_1_mapping)' : 'host';
    if (!out.some((o) => o.address === h.address)) out.push({ type, address: h.address });
  }
  if (c.stunUsable && c.publicIp !== null && !out.some((o) => o.address === c.publicIp)) out.push({ type: 'srflx', address: c.publicIp });
  const ip6 = c.publicIp6 ?? null;
  if (c.stunUsable6 === true && ip6 !== null && !out.some((o) => o.address === ip6)) out.push({ type: 'srflx', address: ip6 });
  return out;
}

/** RFC 1918, CGNAT (RFC 6598), loopback, link-local, IPv6 ULA/link-local: not reachable from the Internet. */
export function isPrivateAddress(ip: string): boolean {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) || a === 0;
  }
  const l = ip.toLowerCase();
  return l === '::1' || l.startsWith('fc') || l.startsWith('fd') || l.startsWith('fe80');
}

/** True inside a Docker or Podman container. */
export function inContainer(): boolean {
  return existsSync('/.dockerenv') || existsSync('/run/.containerenv');
}

/**
 * A warning for operators, or null: no advertised address is public, so only clients on the same
 * private network(s) can reach the media ports.
 */
export function reachabilityWarning(adv: readonly AdvertisedAddress[], config: JanusConfig, container: boolean): string | null {
  if (adv.length === 0) return 'no ICE candidate address at all (check nat.ice_enforce_list / ice_ignore_list): no PeerConnection can be set up';
  if (adv.some((a) => !isPrivateAddress(a.address))) return null;
  const where = container ? 'this runs in a container, so these are the container\'s addresses; ' : '';
  const stun = config.nat.stun_server ? `the STUN server ${config.nat.stun_server}:${config.nat.stun_port} did not answer, and ` : '';
  return `every advertised media address is private (${adv.map((a) => a.address).join(', ')}): ${where}${stun}clients outside these networks will get no media. Set nat.nat_1_1_mapping to the public IP (or -1/--nat-1-1), or a reachable nat.stun_server`;
}
