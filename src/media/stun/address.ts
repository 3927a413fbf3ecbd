/**
 * Minimal IP address <-> bytes helpers (no DNS, no allocation beyond the result), used by the
 * STUN address attributes. IPv6 text output is RFC 5952 canonical (lowercase, longest zero run
 * compressed), which matches what Node reports for datagram sources.
 */

/** Parse dotted-quad IPv4 into `out[off..off+4)`. Returns false when not a valid IPv4 literal. */
export function writeIPv4(addr: string, out: Uint8Array, off: number): boolean {
  let part = 0;
  let digits = 0;
  let idx = 0;
  for (let i = 0; i <= addr.length; i++) {
    const c = i < addr.length ? addr.charCodeAt(i) : 46; /* '.' sentinel */
    if (c === 46) {
      if (digits === 0 || idx > 3) return false;
      out[off + idx++] = part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return false;
    } else return false;
  }
  return idx === 4;
}

/** Parse an IPv6 literal (with optional zone and embedded IPv4 tail) into `out[off..off+16)`. */
export function writeIPv6(addr: string, out: Uint8Array, off: number): boolean {
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  if (addr.startsWith('[') && addr.endsWith(']')) addr = addr.slice(1, -1);
  const dbl = addr.indexOf('::');
  if (dbl >= 0 && addr.indexOf('::', dbl + 1) >= 0) return false;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!writeIPv4(p, v4, 0)) return undefined;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (p.length === 0 || p.length > 4 || !/^[0-9a-fA-F]+$/.test(p)) return undefined;
      groups.push(parseInt(p, 16));
    }
    return groups;
  };
  let groups: number[];
  if (dbl >= 0) {
    const head = parseGroups(addr.slice(0, dbl));
    const tail = parseGroups(addr.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return false;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const g = parseGroups(addr);
    if (!g || g.length !== 8) return false;
    groups = g;
  }
  for (let i = 0; i < 8; i++) {
    out[off + 2 * i] = groups[i]! >> 8;
    out[off + 2 * i + 1] = groups[i]! & 0xff;
  }
  return true;
}

/** 4 for IPv4 literals, 6 for IPv6 literals, 0 otherwise (hostnames, mDNS names). */
export function ipFamily(addr: string): 0 | 4 | 6 {
  const scratch = new Uint8Array(16);
  if (writeIPv4(addr, scratch, 0)) return 4;
  if (addr.includes(':') && writeIPv6(addr, scratch, 0)) return 6;
  return 0;
}

export function formatIPv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function formatIPv6(b: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  // longest run of zeros (length >= 2), first one wins on ties
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (x: number): string => x.toString(16);
  if (bestStart < 0) return g.map(hex).join(':');
  return `${g.slice(0, bestStart).map(hex).join(':')}::${g.slice(bestStart + bestLen).map(hex).join(':')}`;
}

/** Canonical text form of an IP literal (so SDP and socket addresses compare equal); others unchanged. */
export function normalizeIp(addr: string): string {
  if (!addr.includes(':')) return addr;
  const b = new Uint8Array(16);
  return writeIPv6(addr, b, 0) ? formatIPv6(b, 0) : addr.toLowerCase();
}
