/** A minimal .mjr reader for the tests (ours; independent of the writer's code paths). */
import { readFileSync } from 'node:fs';
import { ensureSystemPackage } from '../helpers/system.js';

/** Janus's post-processor (Debian janus-tools), installed when missing and possible. */
export function janusPpRec(): string {
  return ensureSystemPackage('janus-tools', '/usr/bin/janus-pp-rec');
}

export interface MjrFrame {
  /** Milliseconds since the first frame (frame header). */
  ms: number;
  bytes: Buffer;
}

export interface ParsedMjr {
  magic: string;
  headerText: string | null;
  header: Record<string, unknown> | null;
  frames: MjrFrame[];
}

export function parseMjr(buf: Buffer): ParsedMjr {
  const magic = buf.subarray(0, 8).toString('latin1');
  if (buf.length <= 8) return { magic, headerText: null, header: null, frames: [] };
  const hlen = buf.readUInt16BE(8);
  const headerText = buf.subarray(10, 10 + hlen).toString('utf8');
  const frames: MjrFrame[] = [];
  let off = 10 + hlen;
  while (off < buf.length) {
    if (off + 10 > buf.length) throw new Error(`truncated frame header at ${off}`);
    const tag = buf.subarray(off, off + 4).toString('latin1');
    if (tag !== 'MEET') throw new Error(`bad frame tag '${tag}' at ${off}`);
    const ms = buf.readUInt32BE(off + 4);
    const len = buf.readUInt16BE(off + 8);
    if (off + 10 + len > buf.length) throw new Error(`truncated frame at ${off}`);
    frames.push({ ms, bytes: buf.subarray(off + 10, off + 10 + len) });
    off += 10 + len;
  }
  return { magic, headerText, header: JSON.parse(headerText) as Record<string, unknown>, frames };
}

export function readMjr(path: string): ParsedMjr {
  return parseMjr(readFileSync(path));
}

/** Ogg pages of a file: [granule position, page sequence], checking the capture pattern of each. */
export function oggPages(buf: Buffer): Array<{ granule: bigint; seq: number; firstPacket: Buffer }> {
  const pages: Array<{ granule: bigint; seq: number; firstPacket: Buffer }> = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.subarray(off, off + 4).toString('latin1') !== 'OggS') throw new Error(`no OggS at ${off}`);
    const granule = buf.readBigInt64LE(off + 6);
    const seq = buf.readUInt32LE(off + 18);
    const nseg = buf[off + 26]!;
    let body = 0;
    let first = -1;
    let acc = 0;
    for (let i = 0; i < nseg; i++) {
      const l = buf[off + 27 + i]!;
      body += l;
      acc += l;
      if (first < 0 && l < 255) first = acc;
    }
    const start = off + 27 + nseg;
    pages.push({ granule, seq, firstPacket: buf.subarray(start, start + (first < 0 ? body : first)) });
    off = start + body;
  }
  return pages;
}
