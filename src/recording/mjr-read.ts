/**
 * Reading .mjr recordings back (Janus's format version 2, and the old "MEETECHO" one): the info
 * header and an index of the RTP frames ordered for playout — by timestamp (32-bit wraps unrolled),
 * then sequence number — as Janus's Record&Play orders them, so a recording written out of order
 * still plays in order. The index keeps offsets into the file's bytes: nothing is copied per frame.
 * Malformed input gives a `MjrReadError`, never a crash.
 */
import { open, readFile, stat } from 'node:fs/promises';

export class MjrReadError extends Error {}

export interface MjrHeader {
  media: 'audio' | 'video' | 'data';
  codec: string;
  fmtp?: string;
  /** Extension ids noted in the header (`x`): id -> URI. */
  extmaps: Record<number, string>;
  /** File created / first frame written, wall clock µs (0 when absent: old format). */
  createdUs: number;
  firstFrameUs: number;
  e2ee: boolean;
}

export interface MjrIndex {
  header: MjrHeader;
  bytes: Buffer;
  /** Per frame, in playout order: offset and length of the packet in `bytes`, its unrolled timestamp and seq. */
  offsets: Uint32Array;
  lengths: Uint16Array;
  timestamps: Float64Array;
  seqs: Uint16Array;
  /** Frames in the index (data recordings: `timestamps` are the messages' wall clock µs). */
  count: number;
}

/** Recordings bigger than this are refused (the index holds the whole file in memory). */
export const MJR_MAX_BYTES = 512 * 1024 * 1024;

function parseHeader(json: string): MjrHeader {
  let o: unknown;
  try {
    o = JSON.parse(json);
  } catch {
    throw new MjrReadError('invalid info header (not JSON)');
  }
  if (o === null || typeof o !== 'object') throw new MjrReadError('invalid info header');
  const h = o as Record<string, unknown>;
  const t = h['t'];
  const media = t === 'a' ? 'audio' : t === 'v' ? 'video' : t === 'd' ? 'data' : null;
  if (media === null) throw new MjrReadError(`unsupported recording type ${JSON.stringify(t)}`);
  if (typeof h['c'] !== 'string') throw new MjrReadError('missing codec in the info header');
  const extmaps: Record<number, string> = {};
  const x = h['x'];
  if (x !== null && typeof x === 'object') {
    for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
      const id = Number(k);
      if (Number.isInteger(id) && id >= 1 && id <= 14 && typeof v === 'string') extmaps[id] = v;
    }
  }
  return {
    media,
    codec: (h['c'] as string).toLowerCase(),
    ...(typeof h['f'] === 'string' && h['f'] !== '' ? { fmtp: h['f'] } : {}),
    extmaps,
    createdUs: typeof h['s'] === 'number' ? h['s'] : 0,
    firstFrameUs: typeof h['u'] === 'number' ? h['u'] : typeof h['s'] === 'number' ? h['s'] : 0,
    e2ee: h['e'] === true,
  };
}

/** Only the info header (for listing recordings: cheap, reads the start of the file). */
export async function readMjrHeader(path: string): Promise<MjrHeader> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(8 + 2 + 0xffff);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return headerOf(head.subarray(0, bytesRead)).header;
  } finally {
    await fh.close();
  }
}

function headerOf(b: Buffer): { header: MjrHeader; end: number } {
  if (b.length < 10 || b[0] !== 0x4d) throw new MjrReadError('not an .mjr file');
  const magic = b.toString('latin1', 0, 8);
  const len = b.readUInt16BE(8);
  if (magic.startsWith('MJR0')) {
    if (10 + len > b.length || len === 0) throw new MjrReadError('truncated info header');
    return { header: parseHeader(b.toString('utf8', 10, 10 + len)), end: 10 + len };
  }
  if (magic === 'MEETECHO' && len === 5) {
    const kind = b.toString('latin1', 10, 15);
    if (kind.startsWith('video')) return { header: { media: 'video', codec: 'vp8', extmaps: {}, createdUs: 0, firstFrameUs: 0, e2ee: false }, end: 15 };
    if (kind.startsWith('audio')) return { header: { media: 'audio', codec: 'opus', extmaps: {}, createdUs: 0, firstFrameUs: 0, e2ee: false }, end: 15 };
  }
  throw new MjrReadError('unsupported .mjr header');
}

/** Read and index a whole recording. */
export async function readMjrIndex(path: string): Promise<MjrIndex> {
  const st = await stat(path);
  if (!st.isFile()) throw new MjrReadError('not a file');
  if (st.size > MJR_MAX_BYTES) throw new MjrReadError(`recording too big (${st.size} bytes)`);
  return indexMjr(await readFile(path));
}

export function indexMjr(bytes: Buffer): MjrIndex {
  const { header, end } = headerOf(bytes);
  const data = header.media === 'data';
  // First pass: frame boundaries.
  const offs: number[] = [];
  const lens: number[] = [];
  let off = end;
  while (off + 10 <= bytes.length) {
    if (bytes[off] !== 0x4d || bytes[off + 1] !== 0x45) break; // "ME": a frame; anything else ends the index
    const len = bytes.readUInt16BE(off + 8);
    const start = off + 10;
    if (start + len > bytes.length) break; // a truncated last frame (recording cut short)
    if (data ? len > 8 : len >= 12 && (bytes[start]! & 0xc0) === 0x80) {
      offs.push(start);
      lens.push(len);
    }
    off = start + len;
  }
  const n = offs.length;
  const ts = new Float64Array(n);
  const seqs = new Uint16Array(n);
  if (data) {
    for (let i = 0; i < n; i++) ts[i] = bytes.readUInt32BE(offs[i]!) * 2 ** 32 + bytes.readUInt32BE(offs[i]! + 4);
  } else {
    // Unroll 32-bit timestamp wraps: a jump back by more than half the range is a wrap.
    let wraps = 0;
    let prev = -1;
    for (let i = 0; i < n; i++) {
      const t = bytes.readUInt32BE(offs[i]! + 4);
      if (prev >= 0 && t < prev && prev - t > 0x80000000) wraps++;
      else if (prev >= 0 && t > prev && t - prev > 0x80000000) wraps--;
      prev = t;
      ts[i] = t + wraps * 2 ** 32;
      seqs[i] = bytes.readUInt16BE(offs[i]! + 2);
    }
  }
  const order = Array.from({ length: n }, (_, i) => i);
  if (!data) {
    order.sort((a, b) => {
      const d = ts[a]! - ts[b]!;
      if (d !== 0) return d;
      const s = (seqs[a]! - seqs[b]! + 0x10000) & 0xffff;
      return s === 0 ? a - b : s < 0x8000 ? 1 : -1;
    });
  }
  const idx: MjrIndex = {
    header,
    bytes,
    offsets: new Uint32Array(n),
    lengths: new Uint16Array(n),
    timestamps: new Float64Array(n),
    seqs: new Uint16Array(n),
    count: n,
  };
  order.forEach((src, i) => {
    idx.offsets[i] = offs[src]!;
    idx.lengths[i] = lens[src]!;
    idx.timestamps[i] = ts[src]!;
    idx.seqs[i] = seqs[src]!;
  });
  return idx;
}
