/**
 * SDES (RFC 3550 §6.5) and BYE (§6.6).
 */
import { RtcpType, writeRtcpHeader } from './header.js';

export const SdesItem = { END: 0, CNAME: 1, NAME: 2, EMAIL: 3, PHONE: 4, LOC: 5, TOOL: 6, NOTE: 7, PRIV: 8 } as const;

/** SDES with one chunk per (ssrc, cname). */
export function buildSdesCname(chunks: ReadonlyArray<{ ssrc: number; cname: string }>): Buffer {
  const enc = chunks.map((c) => ({ ssrc: c.ssrc, text: Buffer.from(c.cname, 'utf8').subarray(0, 255) }));
  let len = 4;
  // chunk: ssrc(4) + type(1) + len(1) + text + at least one null, padded to 4
  for (const c of enc) len += 4 + ((2 + c.text.length + 1 + 3) & ~3);
  const out = Buffer.alloc(len);
  writeRtcpHeader(out, 0, enc.length, RtcpType.SDES, len);
  let p = 4;
  for (const c of enc) {
    out.writeUInt32BE(c.ssrc >>> 0, p);
    out[p + 4] = SdesItem.CNAME;
    out[p + 5] = c.text.length;
    c.text.copy(out, p + 6);
    p += 4 + ((2 + c.text.length + 1 + 3) & ~3);
  }
  return out;
}

export interface SdesChunk {
  ssrc: number;
  cname?: string;
}

/** Parse the SDES packet at `off` (allocates: strings). Returns chunks with their CNAME. */
export function parseSdes(b: Buffer, off: number, len: number): SdesChunk[] {
  const n = b[off]! & 0x1f;
  const end = off + len;
  const out: SdesChunk[] = [];
  let p = off + 4;
  for (let c = 0; c < n && p + 4 <= end; c++) {
    const chunk: SdesChunk = { ssrc: b.readUInt32BE(p) };
    p += 4;
    while (p < end) {
      const type = b[p]!;
      if (type === SdesItem.END) {
        p = off + ((p - off + 4) & ~3); // the null item and padding up to the next word
        break;
      }
      if (p + 2 > end) return out;
      const l = b[p + 1]!;
      if (p + 2 + l > end) return out;
      if (type === SdesItem.CNAME) chunk.cname = b.toString('utf8', p + 2, p + 2 + l);
      p += 2 + l;
    }
    out.push(chunk);
  }
  return out;
}

export function buildBye(ssrcs: readonly number[], reason?: string): Buffer {
  const r = reason !== undefined ? Buffer.from(reason, 'utf8').subarray(0, 255) : null;
  const n = Math.min(31, ssrcs.length);
  const len = 4 + 4 * n + (r ? (1 + r.length + 3) & ~3 : 0);
  const out = Buffer.alloc(len);
  writeRtcpHeader(out, 0, n, RtcpType.BYE, len);
  for (let i = 0; i < n; i++) out.writeUInt32BE(ssrcs[i]! >>> 0, 4 + 4 * i);
  if (r) {
    out[4 + 4 * n] = r.length;
    r.copy(out, 5 + 4 * n);
  }
  return out;
}

export function parseBye(b: Buffer, off: number, len: number): { ssrcs: number[]; reason?: string } {
  const n = b[off]! & 0x1f;
  const ssrcs: number[] = [];
  let p = off + 4;
  for (let i = 0; i < n && p + 4 <= off + len; i++, p += 4) ssrcs.push(b.readUInt32BE(p));
  if (p < off + len) {
    const l = b[p]!;
    if (p + 1 + l <= off + len) return { ssrcs, reason: b.toString('utf8', p + 1, p + 1 + l) };
  }
  return { ssrcs };
}
