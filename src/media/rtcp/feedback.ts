/**
 * RTCP feedback (RFC 4585 §6): generic NACK, PLI; FIR (RFC 5104 §4.3.1); REMB
 * (draft-alvestrand-rmcat-remb). Common layout:
 *
 *   header (FMT, PT=205/206) | SSRC of packet sender | SSRC of media source | FCI ...
 */
import { PsfbFmt, RtcpType, RtpfbFmt, writeRtcpHeader } from './header.js';

export function fbMediaSsrc(b: Uint8Array, off: number): number {
  return ((b[off + 8]! << 24) | (b[off + 9]! << 16) | (b[off + 10]! << 8) | b[off + 11]!) >>> 0;
}
/** Rewrite the media source SSRC in place (SFU: subscriber's view -> publisher's SSRC). */
export function setFbMediaSsrc(b: Uint8Array, off: number, ssrc: number): void {
  b[off + 8] = (ssrc >>> 24) & 0xff;
  b[off + 9] = (ssrc >>> 16) & 0xff;
  b[off + 10] = (ssrc >>> 8) & 0xff;
  b[off + 11] = ssrc & 0xff;
}
export function setFbSenderSsrc(b: Uint8Array, off: number, ssrc: number): void {
  b[off + 4] = (ssrc >>> 24) & 0xff;
  b[off + 5] = (ssrc >>> 16) & 0xff;
  b[off + 6] = (ssrc >>> 8) & 0xff;
  b[off + 7] = ssrc & 0xff;
}

export function isNack(b: Uint8Array, off: number): boolean {
  return b[off + 1] === RtcpType.RTPFB && (b[off]! & 0x1f) === RtpfbFmt.NACK;
}
export function isPli(b: Uint8Array, off: number): boolean {
  return b[off + 1] === RtcpType.PSFB && (b[off]! & 0x1f) === PsfbFmt.PLI;
}
export function isFir(b: Uint8Array, off: number): boolean {
  return b[off + 1] === RtcpType.PSFB && (b[off]! & 0x1f) === PsfbFmt.FIR;
}
export function isRemb(b: Uint8Array, off: number, len: number): boolean {
  return (
    b[off + 1] === RtcpType.PSFB &&
    (b[off]! & 0x1f) === PsfbFmt.AFB &&
    len >= 20 &&
    b[off + 12] === 0x52 && // 'R'
    b[off + 13] === 0x45 && // 'E'
    b[off + 14] === 0x4d && // 'M'
    b[off + 15] === 0x42 // 'B'
  );
}

// ------------------------------------------------------------------ generic NACK

/**
 * Expand the NACK at `off` (length `len`) into sequence numbers, appended to `out`.
 * Returns how many were appended. Each FCI is PID (lost seq) + BLP (bit i: PID+i+1 also lost).
 */
export function parseNack(b: Uint8Array, off: number, len: number, out: number[]): number {
  const start = out.length;
  for (let p = off + 12; p + 4 <= off + len; p += 4) {
    const pid = (b[p]! << 8) | b[p + 1]!;
    const blp = (b[p + 2]! << 8) | b[p + 3]!;
    out.push(pid);
    for (let i = 0; i < 16; i++) if (blp & (1 << i)) out.push((pid + i + 1) & 0xffff);
  }
  return out.length - start;
}

/**
 * Pack sequence numbers into PID/BLP pairs (wrap-aware: each pair covers pid .. pid+16 mod 2^16).
 * The input need not be sorted; duplicates are ignored. Returns the FCI words as [pid, blp, ...].
 */
export function packNack(seqs: readonly number[]): number[] {
  // sort by distance from the first element so a wrap (65535, 0, 1) stays in order
  if (seqs.length === 0) return [];
  const ref = seqs[0]! & 0xffff;
  const sorted = [...new Set(seqs.map((s) => s & 0xffff))].sort(
    (a, b) => ((((a - ref) & 0xffff) << 16) >> 16) - ((((b - ref) & 0xffff) << 16) >> 16),
  );
  const out: number[] = [];
  let i = 0;
  while (i < sorted.length) {
    const pid = sorted[i]!;
    let blp = 0;
    i++;
    while (i < sorted.length) {
      const d = (sorted[i]! - pid) & 0xffff;
      if (d < 1 || d > 16) break;
      blp |= 1 << (d - 1);
      i++;
    }
    out.push(pid, blp);
  }
  return out;
}

export function buildNack(senderSsrc: number, mediaSsrc: number, seqs: readonly number[]): Buffer {
  const pairs = packNack(seqs);
  const len = 12 + (pairs.length / 2) * 4;
  const out = Buffer.alloc(len);
  writeRtcpHeader(out, 0, RtpfbFmt.NACK, RtcpType.RTPFB, len);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  out.writeUInt32BE(mediaSsrc >>> 0, 8);
  for (let i = 0, p = 12; i < pairs.length; i += 2, p += 4) {
    out.writeUInt16BE(pairs[i]!, p);
    out.writeUInt16BE(pairs[i + 1]!, p + 2);
  }
  return out;
}

// ------------------------------------------------------------------ PLI / FIR

export function writePli(out: Uint8Array, off: number, senderSsrc: number, mediaSsrc: number): number {
  writeRtcpHeader(out, off, PsfbFmt.PLI, RtcpType.PSFB, 12);
  setFbSenderSsrc(out, off, senderSsrc);
  setFbMediaSsrc(out, off, mediaSsrc);
  return 12;
}

export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const out = Buffer.alloc(12);
  writePli(out, 0, senderSsrc, mediaSsrc);
  return out;
}

/** FIR: media source SSRC field is 0; each FCI entry names the SSRC and a command seq nr. */
export function buildFir(senderSsrc: number, entries: ReadonlyArray<{ ssrc: number; seqNr: number }>): Buffer {
  const len = 12 + 8 * entries.length;
  const out = Buffer.alloc(len);
  writeRtcpHeader(out, 0, PsfbFmt.FIR, RtcpType.PSFB, len);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  out.writeUInt32BE(0, 8);
  entries.forEach((e, i) => {
    out.writeUInt32BE(e.ssrc >>> 0, 12 + 8 * i);
    out[16 + 8 * i] = e.seqNr & 0xff;
  });
  return out;
}

export function parseFir(b: Buffer, off: number, len: number): Array<{ ssrc: number; seqNr: number }> {
  const out: Array<{ ssrc: number; seqNr: number }> = [];
  for (let p = off + 12; p + 8 <= off + len; p += 8) out.push({ ssrc: b.readUInt32BE(p), seqNr: b[p + 4]! });
  return out;
}

/** Whether a FIR at `off` targets `ssrc`; returns its seq nr or -1 (no allocation). */
export function firSeqNrFor(b: Buffer, off: number, len: number, ssrc: number): number {
  for (let p = off + 12; p + 8 <= off + len; p += 8) if (b.readUInt32BE(p) === ssrc >>> 0) return b[p + 4]!;
  return -1;
}

// ------------------------------------------------------------------ REMB

/** Split a bitrate into 6-bit exponent and 18-bit mantissa (mantissa * 2^exp <= bitrate). */
export function rembEncode(bitrate: number): { exp: number; mantissa: number } {
  let m = Math.max(0, Math.floor(bitrate));
  let exp = 0;
  while (m > 0x3ffff && exp < 63) {
    m = Math.floor(m / 2);
    exp++;
  }
  return { exp, mantissa: m };
}

export function buildRemb(senderSsrc: number, bitrate: number, ssrcs: readonly number[]): Buffer {
  const n = Math.min(255, ssrcs.length);
  const len = 20 + 4 * n;
  const out = Buffer.alloc(len);
  writeRtcpHeader(out, 0, PsfbFmt.AFB, RtcpType.PSFB, len);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  out.writeUInt32BE(0, 8);
  out.write('REMB', 12, 'ascii');
  const { exp, mantissa } = rembEncode(bitrate);
  out[16] = n;
  out[17] = (exp << 2) | (mantissa >>> 16);
  out[18] = (mantissa >>> 8) & 0xff;
  out[19] = mantissa & 0xff;
  for (let i = 0; i < n; i++) out.writeUInt32BE(ssrcs[i]! >>> 0, 20 + 4 * i);
  return out;
}

/** Bitrate (bps) of the REMB at `off`, or -1 if it is not a REMB. */
export function rembBitrate(b: Uint8Array, off: number, len: number): number {
  if (!isRemb(b, off, len)) return -1;
  const exp = b[off + 17]! >>> 2;
  const mantissa = ((b[off + 17]! & 3) << 16) | (b[off + 18]! << 8) | b[off + 19]!;
  return mantissa * 2 ** exp;
}

export function parseRemb(b: Buffer, off: number, len: number): { bitrate: number; ssrcs: number[] } | null {
  const bitrate = rembBitrate(b, off, len);
  if (bitrate < 0) return null;
  const n = b[off + 16]!;
  const ssrcs: number[] = [];
  for (let i = 0; i < n && off + 24 + 4 * i <= off + len; i++) ssrcs.push(b.readUInt32BE(off + 20 + 4 * i));
  return { bitrate, ssrcs };
}
