/**
 * NTP timestamps for RTCP (RFC 3550 §4): seconds since 1900-01-01 and a 32-bit binary fraction.
 * From Unix-epoch milliseconds: frac = floor(ms_within_second * 2^32 / 1000), exact for integer
 * (and fractional) milliseconds: 500 ms -> 0x80000000, 250 ms -> 0x40000000, 1 ms -> 4294967.
 */

/** Seconds between 1900-01-01 and 1970-01-01. */
export const NTP_UNIX_OFFSET = 2208988800;
const TWO32 = 4294967296;

/** NTP seconds (32 bits, wraps in 2036) for Unix-epoch milliseconds. */
export function ntpSeconds(unixMs: number): number {
  return (Math.floor(unixMs / 1000) + NTP_UNIX_OFFSET) % TWO32;
}

/** NTP fraction (32 bits) for Unix-epoch milliseconds. */
export function ntpFraction(unixMs: number): number {
  const rem = unixMs - Math.floor(unixMs / 1000) * 1000;
  const f = Math.floor((rem * TWO32) / 1000);
  return f > 0xffffffff ? 0xffffffff : f;
}

/** Unix-epoch milliseconds for an NTP timestamp (era 0). */
export function ntpToUnixMs(sec: number, frac: number): number {
  return (sec - NTP_UNIX_OFFSET) * 1000 + (frac * 1000) / TWO32;
}

/** The middle 32 bits (16.16 fixed point) used for LSR and RTT. */
export function ntpMiddle32(sec: number, frac: number): number {
  return (((sec & 0xffff) << 16) | (frac >>> 16)) >>> 0;
}

/** ntpMiddle32 of a Unix-epoch time. */
export function ntpMiddle32FromMs(unixMs: number): number {
  return ntpMiddle32(ntpSeconds(unixMs), ntpFraction(unixMs));
}

/**
 * Round-trip time from a report block (RFC 3550 §6.4.1): A - LSR - DLSR in 1/65536 s, where A is
 * the middle 32 bits of the NTP time the report arrived. Returns ms, or -1 when LSR is 0 (no SR
 * received yet) or the result is negative (clock trouble).
 */
export function rttFromReport(arrivalMiddle32: number, lsr: number, dlsr: number): number {
  if (lsr === 0) return -1;
  const units = (arrivalMiddle32 - lsr - dlsr) >>> 0;
  if (units > 0x80000000) return -1;
  return (units * 1000) / 65536;
}
