/** 16-bit RTP sequence number arithmetic (RFC 1982 style). */

/** Signed distance a - b in [-32768, 32767]. */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

/** True when a is newer than b (a != b and within half the space ahead). */
export function seqNewer(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

/** Signed distance of 32-bit timestamps a - b. */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}
