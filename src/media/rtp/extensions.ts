/**
 * RTP header extensions (RFC 8285): one-byte (profile 0xBEDE) and two-byte (0x100x) forms.
 * Lookup by id returns a packed number instead of an object: (dataOffset << 8) | dataLength,
 * or -1 when absent. Use extOffset()/extLength() to unpack. Strings (mid/rid) are read on demand.
 */

export const EXT_PROFILE_ONE_BYTE = 0xbede;
export const EXT_PROFILE_TWO_BYTE = 0x1000;

export function extOffset(packed: number): number {
  return packed >>> 8;
}
export function extLength(packed: number): number {
  return packed & 0xff;
}

/**
 * Where the extension block is: returns packed (offset of the first element << 8 | 0) with the
 * profile in the result of rtpExtensionProfile(). -1 if the packet has no (valid) extension.
 */
function extBlock(b: Uint8Array, len: number): number {
  if (len < 12 || (b[0]! & 0x10) === 0) return -1;
  const start = 12 + (b[0]! & 0x0f) * 4;
  if (start + 4 > len) return -1;
  const words = (b[start + 2]! << 8) | b[start + 3]!;
  if (start + 4 + words * 4 > len) return -1;
  return start;
}

/** The extension profile (0xBEDE, 0x100x, or another value), or -1 without an extension. */
export function rtpExtensionProfile(b: Uint8Array, len: number): number {
  const s = extBlock(b, len);
  return s < 0 ? -1 : (b[s]! << 8) | b[s + 1]!;
}

/**
 * Find extension element `id`; returns (offset << 8) | length of its data, or -1.
 * Works for both RFC 8285 forms; other profiles return -1.
 */
export function findRtpExtension(b: Uint8Array, len: number, id: number): number {
  const s = extBlock(b, len);
  if (s < 0) return -1;
  const profile = (b[s]! << 8) | b[s + 1]!;
  const end = s + 4 + ((b[s + 2]! << 8) | b[s + 3]!) * 4;
  let p = s + 4;
  if (profile === EXT_PROFILE_ONE_BYTE) {
    while (p < end) {
      const h = b[p]!;
      if (h === 0) {
        p++; // padding
        continue;
      }
      const eid = h >>> 4;
      if (eid === 15) return -1; // reserved: stop
      const l = (h & 0x0f) + 1;
      if (p + 1 + l > end) return -1;
      if (eid === id) return ((p + 1) << 8) | l;
      p += 1 + l;
    }
    return -1;
  }
  if ((profile & 0xfff0) === EXT_PROFILE_TWO_BYTE) {
    while (p < end) {
      const eid = b[p]!;
      if (eid === 0) {
        p++;
        continue;
      }
      if (p + 2 > end) return -1;
      const l = b[p + 1]!;
      if (p + 2 + l > end) return -1;
      if (eid === id) return ((p + 2) << 8) | l;
      p += 2 + l;
    }
  }
  return -1;
}

export interface RtpExtensionElement {
  id: number;
  offset: number;
  length: number;
}

/** All elements (allocates; for diagnostics and tests, not the packet path). */
export function listRtpExtensions(b: Uint8Array, len: number): RtpExtensionElement[] {
  const out: RtpExtensionElement[] = [];
  for (let id = 1; id < 256; id++) {
    const r = findRtpExtension(b, len, id);
    if (r >= 0) out.push({ id, offset: extOffset(r), length: extLength(r) });
  }
  return out;
}

// ------------------------------------------------------------------ typed helpers

/**
 * RFC 6464 audio level: returns the raw byte (V bit 0x80 | level 0..127 in -dBov), or -1.
 * Use audioLevelVoice()/audioLevelDbov() to split it.
 */
export function readAudioLevel(b: Uint8Array, len: number, id: number): number {
  const r = findRtpExtension(b, len, id);
  return r < 0 || extLength(r) < 1 ? -1 : b[extOffset(r)]!;
}
export function audioLevelVoice(raw: number): boolean {
  return (raw & 0x80) !== 0;
}
/** Level as -dBov: 0 is loudest, 127 silence. */
export function audioLevelDbov(raw: number): number {
  return raw & 0x7f;
}

/** abs-send-time: 24-bit 6.18 fixed-point seconds; returns the raw value or -1. */
export function readAbsSendTime(b: Uint8Array, len: number, id: number): number {
  const r = findRtpExtension(b, len, id);
  if (r < 0 || extLength(r) < 3) return -1;
  const o = extOffset(r);
  return (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
}
/** Raw 6.18 value -> milliseconds within the 64 s wrap. */
export function absSendTimeToMs(raw: number): number {
  return (raw * 1000) / 262144;
}
/** Milliseconds -> raw 6.18 value (mod 64 s). */
export function absSendTimeFromMs(ms: number): number {
  return Math.round((ms * 262144) / 1000) & 0xffffff;
}
/** Overwrite an existing abs-send-time element in place; false if absent. */
export function writeAbsSendTime(b: Uint8Array, len: number, id: number, raw: number): boolean {
  const r = findRtpExtension(b, len, id);
  if (r < 0 || extLength(r) < 3) return false;
  const o = extOffset(r);
  b[o] = (raw >>> 16) & 0xff;
  b[o + 1] = (raw >>> 8) & 0xff;
  b[o + 2] = raw & 0xff;
  return true;
}

/** transport-wide-cc sequence number (16 bits) or -1. */
export function readTransportSeq(b: Uint8Array, len: number, id: number): number {
  const r = findRtpExtension(b, len, id);
  if (r < 0 || extLength(r) < 2) return -1;
  const o = extOffset(r);
  return (b[o]! << 8) | b[o + 1]!;
}
/** Overwrite the transport-wide sequence number in place (per-subscriber renumbering). */
export function writeTransportSeq(b: Uint8Array, len: number, id: number, seq: number): boolean {
  const r = findRtpExtension(b, len, id);
  if (r < 0 || extLength(r) < 2) return false;
  const o = extOffset(r);
  b[o] = (seq >>> 8) & 0xff;
  b[o + 1] = seq & 0xff;
  return true;
}

/** String element (sdes:mid, rtp-stream-id, repaired-rtp-stream-id): allocates, read on demand. */
export function readExtensionString(b: Uint8Array, len: number, id: number): string | undefined {
  const r = findRtpExtension(b, len, id);
  if (r < 0) return undefined;
  const o = extOffset(r);
  let l = extLength(r);
  while (l > 0 && b[o + l - 1] === 0) l--; // tolerate trailing NULs
  return Buffer.from(b.buffer, b.byteOffset + o, l).toString('utf8');
}

/** Compare a string element with an ASCII value without allocating. */
export function extensionEquals(b: Uint8Array, len: number, id: number, ascii: string): boolean {
  const r = findRtpExtension(b, len, id);
  if (r < 0) return false;
  const o = extOffset(r);
  let l = extLength(r);
  while (l > 0 && b[o + l - 1] === 0) l--;
  if (l !== ascii.length) return false;
  for (let i = 0; i < l; i++) if (b[o + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

/**
 * Build a header-extension block (for tests and for packets we originate). Chooses the one-byte
 * form when every id is 1..14 and every length 1..16, else the two-byte form. Returns the bytes
 * (profile, length and padded elements).
 */
export function buildExtensionBlock(elements: ReadonlyArray<{ id: number; data: Uint8Array }>): Buffer {
  const oneByte = elements.every((e) => e.id >= 1 && e.id <= 14 && e.data.length >= 1 && e.data.length <= 16);
  let body = 0;
  for (const e of elements) body += (oneByte ? 1 : 2) + e.data.length;
  const padded = (body + 3) & ~3;
  const out = Buffer.alloc(4 + padded);
  out.writeUInt16BE(oneByte ? EXT_PROFILE_ONE_BYTE : EXT_PROFILE_TWO_BYTE, 0);
  out.writeUInt16BE(padded / 4, 2);
  let p = 4;
  for (const e of elements) {
    if (oneByte) {
      out[p++] = (e.id << 4) | (e.data.length - 1);
    } else {
      out[p++] = e.id;
      out[p++] = e.data.length;
    }
    out.set(e.data, p);
    p += e.data.length;
  }
  return out;
}
