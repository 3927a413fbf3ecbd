/**
 * RTCP common header (RFC 3550 §6.4) and a compound-packet reader that walks packets in place.
 *
 *   |V=2|P|  RC/FMT |      PT       |             length            |
 */

export const RtcpType = {
  SR: 200,
  RR: 201,
  SDES: 202,
  BYE: 203,
  APP: 204,
  RTPFB: 205,
  PSFB: 206,
  XR: 207,
} as const;

/** Feedback message types (FMT) */
export const RtpfbFmt = { NACK: 1, TransportCC: 15 } as const;
export const PsfbFmt = { PLI: 1, SLI: 2, RPSI: 3, FIR: 4, AFB: 15 } as const;

export function rtcpCount(b: Uint8Array, off: number): number {
  return b[off]! & 0x1f;
}
export function rtcpPadding(b: Uint8Array, off: number): boolean {
  return (b[off]! & 0x20) !== 0;
}
export function rtcpType(b: Uint8Array, off: number): number {
  return b[off + 1]!;
}
/** Total length in bytes of the packet at `off` (header included). */
export function rtcpPacketLength(b: Uint8Array, off: number): number {
  return (((b[off + 2]! << 8) | b[off + 3]!) + 1) * 4;
}
/** SSRC of the sender (second word) of SR/RR/feedback; first SSRC/CSRC for SDES/BYE. */
export function rtcpSenderSsrc(b: Uint8Array, off: number): number {
  return ((b[off + 4]! << 24) | (b[off + 5]! << 16) | (b[off + 6]! << 8) | b[off + 7]!) >>> 0;
}

/** Write a common header; `length` is the total packet length in bytes (multiple of 4). */
export function writeRtcpHeader(b: Uint8Array, off: number, countOrFmt: number, type: number, length: number): void {
  const words = length / 4 - 1;
  b[off] = 0x80 | (countOrFmt & 0x1f);
  b[off + 1] = type;
  b[off + 2] = (words >>> 8) & 0xff;
  b[off + 3] = words & 0xff;
}

/**
 * Iterates the packets of a compound RTCP packet without allocating. Reuse one instance:
 *
 *   const r = reader.reset(buf, len);
 *   while (r.next()) { switch (r.type) { ... r.offset, r.length, r.count ... } }
 *   if (r.error) ...
 */
export class RtcpReader {
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of the current packet. */
  offset = 0;
  /** Length in bytes of the current packet (header included, padding included). */
  length = 0;
  type = 0;
  /** RC / SC / FMT field. */
  count = 0;
  /** Set when the compound packet is malformed; next() then returns false. */
  error = false;
  private end = 0;
  private nextOff = 0;

  reset(buf: Uint8Array, len: number, start = 0): this {
    this.buf = buf;
    this.end = Math.min(len, buf.length);
    this.nextOff = start;
    this.offset = start;
    this.length = 0;
    this.error = false;
    return this;
  }

  next(): boolean {
    const b = this.buf;
    const off = this.nextOff;
    if (this.error || off >= this.end) return false;
    if (off + 4 > this.end || b[off]! >>> 6 !== 2) {
      this.error = true;
      return false;
    }
    const len = rtcpPacketLength(b, off);
    if (off + len > this.end) {
      this.error = true;
      return false;
    }
    this.offset = off;
    this.length = len;
    this.type = b[off + 1]!;
    this.count = b[off]! & 0x1f;
    this.nextOff = off + len;
    return true;
  }
}

/** True when buf[0, len) is a well-formed compound RTCP packet (lengths add up, version 2). */
export function isValidRtcpCompound(b: Uint8Array, len: number): boolean {
  if (len < 4) return false;
  const r = new RtcpReader().reset(b, len);
  let n = 0;
  while (r.next()) n++;
  return !r.error && n > 0;
}
