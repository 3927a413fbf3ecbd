/** Ogg/Opus files for the announcement tests: a small writer (RFC 7845 layout) and a tone encoder. */
import { writeFileSync } from 'node:fs';
import { createOpusEncoder } from '../../../src/codecs/opus.js';
import { oggCrc } from '../../../src/codecs/ogg.js';
import { toneFrame } from './net.js';

function page(flags: number, granule: bigint, serial: number, seq: number, packets: Buffer[]): Buffer {
  const lacing: number[] = [];
  for (const p of packets) {
    let n = p.length;
    while (n >= 255) {
      lacing.push(255);
      n -= 255;
    }
    lacing.push(n);
  }
  if (lacing.length > 255) throw new Error('too many segments for one page');
  const body = Buffer.concat(packets);
  const h = Buffer.alloc(27 + lacing.length);
  h.write('OggS', 0, 'latin1');
  h[4] = 0;
  h[5] = flags;
  h.writeBigInt64LE(granule, 6);
  h.writeUInt32LE(serial, 14);
  h.writeUInt32LE(seq, 18);
  h[26] = lacing.length;
  Buffer.from(lacing).copy(h, 27);
  const pg = Buffer.concat([h, body]);
  pg.writeUInt32LE(oggCrc(pg), 22);
  return pg;
}

export interface OggOpusOptions {
  channels?: number;
  preSkip?: number;
  serial?: number;
  /** Audio packets per page. */
  perPage?: number;
  /** Samples (48 kHz) per packet, for the granule positions. */
  packetSamples?: number;
}

/** An Ogg/Opus file holding `packets` (OpusHead page, OpusTags page, then the audio pages). */
export function writeOggOpus(packets: Buffer[], o: OggOpusOptions = {}): Buffer {
  const channels = o.channels ?? 1;
  const preSkip = o.preSkip ?? 312;
  const serial = o.serial ?? 0x5eed;
  const perPage = o.perPage ?? 50;
  const ps = o.packetSamples ?? 960;
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head[8] = 1;
  head[9] = channels;
  head.writeUInt16LE(preSkip, 10);
  head.writeUInt32LE(48000, 12);
  head.writeInt16LE(0, 16);
  head[18] = 0;
  const vendor = Buffer.from('portunus-test', 'utf8');
  const tags = Buffer.alloc(8 + 4 + vendor.length + 4);
  tags.write('OpusTags', 0, 'latin1');
  tags.writeUInt32LE(vendor.length, 8);
  vendor.copy(tags, 12);
  tags.writeUInt32LE(0, 12 + vendor.length);
  const pages: Buffer[] = [page(2, 0n, serial, 0, [head]), page(0, 0n, serial, 1, [tags])];
  let seq = 2;
  for (let i = 0; i < packets.length; i += perPage) {
    const chunk = packets.slice(i, i + perPage);
    const last = i + perPage >= packets.length;
    pages.push(page(last ? 4 : 0, BigInt(preSkip + (i + chunk.length) * ps), serial, seq++, chunk));
  }
  return Buffer.concat(pages);
}

/** `seconds` of a sine tone as Opus packets (48 kHz mono, 20 ms). */
export function toneOpusPackets(freq: number, seconds: number, amp = 8000): Buffer[] {
  const enc = createOpusEncoder({ sampleRate: 48000, channels: 1, complexity: 5 });
  const out: Buffer[] = [];
  try {
    for (let f = 0; f < Math.round(seconds * 50); f++) out.push(enc.encode(toneFrame(freq, 48000, f, amp)));
  } finally {
    enc.destroy();
  }
  return out;
}

/** Write a tone as an Ogg/Opus file; returns the path. */
export function writeToneFile(path: string, freq: number, seconds: number, amp = 8000): string {
  writeFileSync(path, writeOggOpus(toneOpusPackets(freq, seconds, amp)));
  return path;
}
