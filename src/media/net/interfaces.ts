/**
 * Local address discovery for host candidates, honouring Janus' nat.ice_enforce_list and
 * nat.ice_ignore_list.
 *
 * Rules:
 * - Both lists are comma-separated; an entry matches an interface whose name starts with it
 *   ("eth" matches eth0) or an address that starts with it ("192.168." or a full address).
 * - If ice_enforce_list is non-empty, only matching addresses are used and ice_ignore_list is not
 *   consulted (as in Janus). Otherwise addresses matching ice_ignore_list are dropped
 *   (Janus' default ignore list is "vmnet").
 * - Loopback/internal addresses are skipped unless nothing else survives the filters (then the
 *   loopback ones are returned, so a laptop with no network still works), or unless the enforce
 *   list names them explicitly.
 * - IPv6 addresses only when `ipv6` is true; link-local IPv6 (fe80::/10) only with `ipv6LinkLocal`.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export interface LocalAddress {
  /** Interface name, e.g. "eth0". */
  name: string;
  address: string;
  family: 4 | 6;
  internal: boolean;
}

export interface DiscoverOptions {
  enforceList?: string | readonly string[];
  ignoreList?: string | readonly string[];
  ipv6?: boolean;
  ipv6LinkLocal?: boolean;
  /** Injected for tests; defaults to os.networkInterfaces(). */
  interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]>;
}

/** Split a Janus comma list, trimming blanks. */
export function parseList(v: string | readonly string[] | undefined): string[] {
  if (v === undefined) return [];
  const arr = typeof v === 'string' ? v.split(',') : v;
  return arr.map((s) => s.trim()).filter((s) => s.length > 0);
}

function matches(list: readonly string[], name: string, address: string): boolean {
  return list.some((e) => name.startsWith(e) || address.startsWith(e));
}

function familyOf(info: NetworkInterfaceInfo): 4 | 6 {
  const f = info.family as string | number;
  return f === 'IPv6' || f === 6 ? 6 : 4;
}

export function discoverLocalAddresses(opts: DiscoverOptions = {}): LocalAddress[] {
  const ifaces = opts.interfaces ?? networkInterfaces();
  const enforce = parseList(opts.enforceList);
  const ignore = parseList(opts.ignoreList);
  const picked: LocalAddress[] = [];
  const loopback: LocalAddress[] = [];
  for (const [name, infos] of Object.entries(ifaces)) {
    for (const info of infos ?? []) {
      const family = familyOf(info);
      if (family === 6 && !opts.ipv6) continue;
      const address = info.address.split('%')[0]!;
      if (family === 6 && /^fe[89ab]/i.test(address) && !opts.ipv6LinkLocal) continue;
      const entry: LocalAddress = { name, address, family, internal: info.internal };
      if (enforce.length > 0) {
        if (!matches(enforce, name, address)) continue;
        picked.push(entry); // explicitly enforced, loopback included
        continue;
      }
      if (matches(ignore, name, address)) continue;
      (info.internal ? loopback : picked).push(entry);
    }
  }
  return picked.length > 0 ? picked : loopback;
}
