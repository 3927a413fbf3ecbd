/**
 * RTP fixed header accessors (RFC 3550 §5.1) straight over a Buffer: no parse object per packet.
 *
 *   0                   1                   2                   3
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   |                           timestamp                           |
 *   |           synchronization source (SSRC) identifier            |
 *   |            contributing source (CSRC) identifiers  ...        |
 */

export const RTP_HEADER_MIN = 12;

export function rtpVersion(b: Uint8Array): number {
  return b[0]! >>> 6;
}
export function rtpPadding(b: Uint8Array): boolean {
  return (b[0]! & 0x20) !== 0;
}
export function rtpExtension(b: Uint8Array): boolean {
  return (b[0]! & 0x10) !== 0;
}
export function rtpCsrcCount(b: Uint8Array): number {
  return b[0]! & 0x0f;
}
export function rtpMarker(b: Uint8Array): boolean {
  return (b[1]! & 0x80) !== 0;
}
export function rtpPayloadType(b: Uint8Array): number {
  return b[1]! & 0x7f;
}
export function rtpSeq(b: Uint8Array): number {
  return (b[2]! << 8) | b[3]!;
}
export function rtpTimestamp(b: Uint8Array): number {
  return ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
}
export function rtpSsrc(b: Uint8Array): number {
  return ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0;
}
export function rtpCsrc(b: Uint8Array, i: number): number {
  const o = 12 + 4 * i;
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function setRtpSeq(b: Uint8Array, seq: number): void {
  b[2] = (seq >>> 8) & 0xff;
  b[3] = seq & 0xff;
}
export function setRtpTimestamp(b: Uint8Array, ts: number): void {
  b[4] = (ts >>> 24) & 0xff;
  b[5] = (ts >>> 16) & 0xff;
  b[6] = (ts >>> 8) & 0xff;
  b[7] = ts & 0xff;
}
export function setRtpSsrc(b: Uint8Array, ssrc: number): void {
  b[8] = (ssrc >>> 24) & 0xff;
  b[9] = (ssrc >>> 16) & 0xff;
  b[10] = (ssrc >>> 8) & 0xff;
  b[11] = ssrc & 0xff;
}
export function setRtpPayloadType(b: Uint8Array, pt: number): void {
  b[1] = (b[1]! & 0x80) | (pt & 0x7f);
}
export function setRtpMarker(b: Uint8Array, marker: boolean): void {
  b[1] = marker ? b[1]! | 0x80 : b[1]! & 0x7f;
}

/**
 * Length of the header (fixed part, CSRCs and header extension), i.e. the payload offset, or -1
 * when buf[0, len) is not a well-formed RTP packet (version, lengths, padding).
 */
export function rtpHeaderLength(b: Uint8Array, len: number): number {
  if (len < 12 || b.length < len) return -1;
  const b0 = b[0]!;
  if (b0 >>> 6 !== 2) return -1;
  let n = 12 + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (n + 4 > len) return -1;
    n += 4 + ((b[n + 2]! << 8) | b[n + 3]!) * 4;
  }
  if (n > len) return -1;
  if (b0 & 0x20) {
    const pad = b[len - 1]!;
    if (pad === 0 || n + pad > len) return -1;
  }
  return n;
}

/** Alias: the payload starts right after the header. */
export const rtpPayloadOffset = rtpHeaderLength;

/** Payload length without padding, or -1 if malformed. */
export function rtpPayloadLength(b: Uint8Array, len: number): number {
  const h = rtpHeaderLength(b, len);
  if (h < 0) return -1;
  return len - h - (b[0]! & 0x20 ? b[len - 1]! : 0);
}

/** Padding byte count (0 without the P bit). */
export function rtpPaddingLength(b: Uint8Array, len: number): number {
  return b[0]! & 0x20 ? b[len - 1]! : 0;
}

/** RFC 5761 / RFC 7983 demux: first byte 128..191 and second byte's PT in 64..95 means RTCP. */
export function isRtcp(b: Uint8Array, len: number): boolean {
  if (len < 2) return false;
  const pt = b[1]!;
  return b[0]! >>> 6 === 2 && pt >= 192 && pt <= 223;
}

/** RTP (not RTCP) by the same demux rule. */
export function isRtp(b: Uint8Array, len: number): boolean {
  if (len < 12) return false;
  const pt = b[1]!;
  return b[0]! >>> 6 === 2 && !(pt >= 192 && pt <= 223);
}

/** Write a minimal 12-byte header (no CSRC, no extension); returns 12. */
export function writeRtpHeader(
  b: Uint8Array,
  pt: number,
  seq: number,
  ts: number,
  ssrc: number,
  marker = false,
): number {
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  setRtpSeq(b, seq);
  setRtpTimestamp(b, ts);
  setRtpSsrc(b, ssrc);
  return 12;
}
