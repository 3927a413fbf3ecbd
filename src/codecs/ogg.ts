/**
 * Ogg (RFC 3533) pages and packets, and Ogg/Opus (RFC 7845) files: what AudioBridge announcements
 * (`play_file`) play. Read-only and sans-IO: the caller reads the file (asynchronously) and hands
 * the bytes over; nothing here throws on bad input except `parseOggOpus`, whose OggError says what
 * is wrong with the file.
 *
 * Like libogg, a page whose checksum does not match is skipped (the reader resynchronises on the next
 * capture pattern), so a file with a damaged page still plays, minus that page.
 */

export class OggError extends Error {
  override readonly name = 'OggError';
}

export interface OggPage {
  /** Byte offset of the page in the file. */
  offset: number;
  /** Header type flags: 1 continued packet, 2 first page (BOS), 4 last page (EOS). */
  flags: number;
  granule: bigint;
  serial: number;
  seq: number;
  /** Lacing values. */
  segments: Uint8Array;
  body: Buffer;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/** The Ogg checksum (CRC-32, polynomial 0x04c11db7, MSB first, no reflection, initial value 0). */
export function oggCrc(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

const CAPTURE = 0x5367674f; // "OggS" read little-endian
const HEADER = 27;

/** The page at `off` if it is a complete, well-formed page with a matching checksum. */
function pageAt(buf: Buffer, off: number): OggPage | null {
  if (off + HEADER > buf.length || buf.readUInt32LE(off) !== CAPTURE || buf[off + 4] !== 0) return null;
  const nseg = buf[off + 26]!;
  if (off + HEADER + nseg > buf.length) return null;
  let bodyLen = 0;
  for (let i = 0; i < nseg; i++) bodyLen += buf[off + HEADER + i]!;
  const end = off + HEADER + nseg + bodyLen;
  if (end > buf.length) return null;
  // The checksum is computed with its own field zeroed.
  const stored = buf.readUInt32LE(off + 22);
  let crc = 0;
  for (let i = off; i < end; i++) {
    const b = i >= off + 22 && i < off + 26 ? 0 : buf[i]!;
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff]!) >>> 0;
  }
  if (crc !== stored) return null;
  return {
    offset: off,
    flags: buf[off + 5]!,
    granule: buf.readBigInt64LE(off + 6),
    serial: buf.readUInt32LE(off + 14),
    seq: buf.readUInt32LE(off + 18),
    segments: buf.subarray(off + HEADER, off + HEADER + nseg),
    body: buf.subarray(off + HEADER + nseg, end),
  };
}

/** Every valid page of `buf`, in order; garbage and damaged pages are skipped. */
export function oggPages(buf: Buffer): OggPage[] {
  const pages: OggPage[] = [];
  let off = 0;
  while (off + HEADER <= buf.length) {
    const p = pageAt(buf, off);
    if (p) {
      pages.push(p);
      off += HEADER + p.segments.length + p.body.length;
      continue;
    }
    // Resynchronise on the next capture pattern.
    const next = buf.indexOf('OggS', off + 1, 'latin1');
    if (next < 0) break;
    off = next;
  }
  return pages;
}

/**
 * The packets of one logical stream (the first one in the file unless `serial` is given), joined
 * across pages. A packet cut short by a lost page is dropped, not returned half.
 */
export function oggPackets(pages: readonly OggPage[], serial?: number): Buffer[] {
  const want = serial ?? pages[0]?.serial;
  const packets: Buffer[] = [];
  let parts: Buffer[] = [];
  let lastSeq = -1;
  for (const p of pages) {
    if (p.serial !== want) continue;
    // A gap in the page sequence means a lost page: whatever packet was open is incomplete.
    if (lastSeq >= 0 && p.seq !== ((lastSeq + 1) >>> 0)) parts = [];
    // A page that does not continue a packet while one is open: the open one is incomplete. A page
    // that continues a packet we never saw the start of: skip up to that packet's end.
    let skipping = false;
    if (!(p.flags & 1)) parts = [];
    else if (parts.length === 0) skipping = true;
    lastSeq = p.seq;
    let pos = 0;
    let start = 0;
    for (let i = 0; i < p.segments.length; i++) {
      const l = p.segments[i]!;
      pos += l;
      if (l < 255) {
        if (skipping) {
          skipping = false;
          start = pos;
          continue;
        }
        parts.push(p.body.subarray(start, pos));
        packets.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
        parts = [];
        start = pos;
      }
    }
    if (start < pos && !skipping) parts.push(p.body.subarray(start, pos));
  }
  return packets;
}

export interface OggOpusStream {
  channels: number;
  /** Samples (at 48 kHz) to discard at the start of the decoded stream. */
  preSkip: number;
  /** The sample rate of the original input (informational). */
  inputRate: number;
  /** Output gain in Q7.8 dB (informational). */
  outputGain: number;
  /** The audio packets, in order (header packets excluded). */
  packets: Buffer[];
}

/**
 * An Ogg/Opus file: the OpusHead and OpusTags header packets, then the audio packets of the first
 * Opus stream. Throws OggError when the file is not Ogg/Opus or carries no audio.
 */
export function parseOggOpus(buf: Buffer): OggOpusStream {
  const pages = oggPages(buf);
  if (pages.length === 0) throw new OggError('not an Ogg file');
  // The Opus stream is the one whose first packet is an OpusHead (a file may multiplex others).
  const head = pages.find((p) => p.flags & 2 && p.body.length >= 19 && p.body.subarray(0, 8).toString('latin1') === 'OpusHead');
  if (!head) throw new OggError('no Opus stream in the Ogg file');
  const packets = oggPackets(pages, head.serial);
  const h = packets[0];
  if (!h || h.length < 19 || h.subarray(0, 8).toString('latin1') !== 'OpusHead') throw new OggError('invalid OpusHead');
  const version = h[8]!;
  // Major version 0 is the only one defined; minor versions are compatible.
  if (version >> 4 !== 0) throw new OggError(`unsupported Ogg/Opus version ${version}`);
  const channels = h[9]!;
  if (channels === 0) throw new OggError('OpusHead with zero channels');
  const preSkip = h.readUInt16LE(10);
  const inputRate = h.readUInt32LE(12);
  const outputGain = h.readInt16LE(16);
  const tags = packets[1];
  if (!tags || tags.subarray(0, 8).toString('latin1') !== 'OpusTags') throw new OggError('missing OpusTags');
  const audio: Buffer[] = [];
  for (let i = 2; i < packets.length; i++) if (packets[i]!.length > 0) audio.push(packets[i]!);
  if (audio.length === 0) throw new OggError('no audio packets in the Ogg/Opus file');
  return { channels, preSkip, inputRate, outputGain, packets: audio };
}
