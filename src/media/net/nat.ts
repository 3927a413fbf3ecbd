/**
 * nat.nat_1_1_mapping / nat.keep_private_host: advertise public addresses for host candidates when
 * the server sits behind a 1:1 NAT (e.g. a cloud VM).
 *
 * `nat_1_1_mapping` is a comma list of public IPs (several for a DMZ between two 1:1 NATs). Each
 * host candidate gets one advertised copy per public IP of the same family, with the public address
 * (still type host, own foundation). Without keep_private_host the private candidates are replaced;
 * with it they are kept too. Copies get priority - 1 (when the private one is kept) - index, so
 * priorities stay unique.
 *
 * The ICE agent must still know the private candidate as the socket's base: add the private host
 * candidate first (`agent.addLocalCandidate(private, socketId)`), then the advertised ones.
 */
import { ipFamily } from '../stun/address.js';
import { computeFoundation, type IceCandidate } from '../ice/candidate.js';

export function parseNat11Mapping(v: string | readonly string[] | undefined): string[] {
  if (v === undefined) return [];
  const arr = typeof v === 'string' ? v.split(',') : v;
  const out: string[] = [];
  for (const raw of arr) {
    const s = raw.trim();
    if (s.length === 0) continue;
    if (ipFamily(s) === 0) throw new RangeError(`nat_1_1_mapping: "${s}" is not an IP address`);
    out.push(s);
  }
  return out;
}

export function applyNat11Mapping(candidates: readonly IceCandidate[], publicIps: readonly string[], keepPrivateHost: boolean): IceCandidate[] {
  if (publicIps.length === 0) return candidates.map((c) => ({ ...c }));
  const out: IceCandidate[] = [];
  for (const c of candidates) {
    if (c.type !== 'host') {
      out.push({ ...c });
      continue;
    }
    const fam = ipFamily(c.address);
    const mapped = publicIps.filter((ip) => ipFamily(ip) === fam && ip !== c.address);
    if (mapped.length === 0) {
      out.push({ ...c });
      continue;
    }
    if (keepPrivateHost) out.push({ ...c });
    for (const [i, ip] of mapped.entries()) {
      out.push({
        ...c,
        address: ip,
        foundation: computeFoundation('host', ip, c.transport),
        priority: c.priority - (keepPrivateHost ? 1 : 0) - i,
      });
    }
  }
  return out;
}
