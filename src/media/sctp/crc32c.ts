/**
 * CRC32c (Castagnoli, reflected polynomial 0x82F63B78): the SCTP packet checksum (RFC 9260 appendix B).
 * Slicing-by-4 over four 256-entry tables: SCTP checksums every packet it sends and receives, and a
 * byte-at-a-time loop costs ~4x more on 1 KB packets. (src/media/stun/crc32.ts is the other, IEEE, CRC.)
 */
const T0 = new Int32Array(256);
const T1 = new Int32Array(256);
const T2 = new Int32Array(256);
const T3 = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  T0[n] = c;
}
for (let n = 0; n < 256; n++) {
  T1[n] = (T0[n]! >>> 8) ^ T0[T0[n]! & 0xff]!;
  T2[n] = (T1[n]! >>> 8) ^ T0[T1[n]! & 0xff]!;
  T3[n] = (T2[n]! >>> 8) ^ T0[T2[n]! & 0xff]!;
}

/** CRC32c of buf[start, end), as an unsigned 32-bit number. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = ~0;
  let i = start;
  const end4 = start + ((end - start) & ~3);
  while (i < end4) {
    c ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    c = T3[c & 0xff]! ^ T2[(c >>> 8) & 0xff]! ^ T1[(c >>> 16) & 0xff]! ^ T0[c >>> 24]!;
    i += 4;
  }
  while (i < end) c = T0[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * The checksum of an SCTP packet computed with its checksum field taken as zero, without modifying
 * the packet (RFC 9260 §6.8). The value is stored little-endian in bytes 8..11.
 */
export function sctpChecksum(pkt: Uint8Array, len = pkt.length): number {
  let c = ~0;
  for (let i = 0; i < 8; i++) c = T0[(c ^ pkt[i]!) & 0xff]! ^ (c >>> 8);
  for (let i = 0; i < 4; i++) c = T0[c & 0xff]! ^ (c >>> 8);
  let i = 12;
  const end4 = 12 + ((len - 12) & ~3);
  while (i < end4) {
    c ^= pkt[i]! | (pkt[i + 1]! << 8) | (pkt[i + 2]! << 16) | (pkt[i + 3]! << 24);
    c = T3[c & 0xff]! ^ T2[(c >>> 8) & 0xff]! ^ T1[(c >>> 16) & 0xff]! ^ T0[c >>> 24]!;
    i += 4;
  }
  while (i < len) c = T0[(c ^ pkt[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
