/**
 * Recording of a room's mix to a WAV file (16-bit PCM, the room's rate, mono or stereo for spatial
 * rooms) that stays valid if the process dies: the 44-byte header is written first with the sizes of
 * what is on disk, and rewritten (RIFF and data sizes, two 4-byte pwrites) every `fixupMs` (default
 * 1 s) and at close. After a kill -9 the header describes everything written up to the last fix-up;
 * at most one interval of audio past it is on disk but not counted (players ignore it).
 *
 * Frames are appended with synchronous writes of one 20 ms frame (640 bytes at 16 kHz mono): they go
 * to the page cache, so a write costs microseconds and the data survives a process crash (not a power
 * loss: no fsync). With `tmpExt` the file is written as `<name>.<tmpExt>` and renamed at close, as
 * Janus's `record_tmp_ext` does.
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { CREATE_NOFOLLOW } from '../../security/paths.js';

const HEADER = 44;

export interface WavRecorderOptions {
  path: string;
  sampleRate: number;
  channels: 1 | 2;
  /** Header fix-up period in ms (default 1000). */
  fixupMs?: number;
  /** Write to `<path>.<tmpExt>` and rename to `path` at close. */
  tmpExt?: string | null;
  /** Clock in ms (tests). */
  now?: () => number;
}

export function wavHeader(sampleRate: number, channels: number, dataBytes: number): Buffer {
  const h = Buffer.alloc(HEADER);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16); // PCM fmt chunk size
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28); // byte rate
  h.writeUInt16LE(channels * 2, 32); // block align
  h.writeUInt16LE(16, 34); // bits per sample
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

export class WavRecorder {
  readonly path: string;
  readonly writingPath: string;
  readonly sampleRate: number;
  readonly channels: 1 | 2;
  private fd: number | null;
  private dataBytes = 0;
  private lastFixup: number;
  private readonly fixupMs: number;
  private readonly now: () => number;
  private readonly sizeBuf = Buffer.alloc(4);

  /** Creates (truncates) the file and writes the header. Throws on I/O errors. */
  constructor(opts: WavRecorderOptions) {
    this.path = opts.path;
    this.writingPath = opts.tmpExt ? `${opts.path}.${opts.tmpExt}` : opts.path;
    this.sampleRate = opts.sampleRate;
    this.channels = opts.channels;
    this.fixupMs = opts.fixupMs ?? 1000;
    this.now = opts.now ?? (() => performance.now());
    // O_NOFOLLOW: a symlink planted under the recording's name must not redirect the write elsewhere.
    this.fd = openSync(this.writingPath, CREATE_NOFOLLOW, 0o644);
    writeSync(this.fd, wavHeader(this.sampleRate, this.channels, 0), 0, HEADER, 0);
    this.lastFixup = this.now();
  }

  get open(): boolean {
    return this.fd !== null;
  }

  /** Bytes of PCM written so far. */
  get bytes(): number {
    return this.dataBytes;
  }

  /** Append one frame of interleaved samples. */
  write(pcm: Int16Array): void {
    if (this.fd === null) return;
    const b = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    // Int16Array is little-endian on every platform Node supports.
    writeSync(this.fd, b, 0, b.length, HEADER + this.dataBytes);
    this.dataBytes += b.length;
    const t = this.now();
    if (t - this.lastFixup >= this.fixupMs) {
      this.fixup();
      this.lastFixup = t;
    }
  }

  /** Rewrite the RIFF and data sizes to what has been written. */
  fixup(): void {
    if (this.fd === null) return;
    this.sizeBuf.writeUInt32LE(36 + this.dataBytes, 0);
    writeSync(this.fd, this.sizeBuf, 0, 4, 4);
    this.sizeBuf.writeUInt32LE(this.dataBytes, 0);
    writeSync(this.fd, this.sizeBuf, 0, 4, 40);
  }

  close(): void {
    if (this.fd === null) return;
    try {
      this.fixup();
    } finally {
      closeSync(this.fd);
      this.fd = null;
    }
    if (this.writingPath !== this.path) renameSync(this.writingPath, this.path);
  }
}

/** Parse a WAV file's header (tests, tools): format and the declared data size. */
export function parseWav(buf: Buffer): { sampleRate: number; channels: number; bits: number; dataOffset: number; dataBytes: number } {
  if (buf.length < HEADER || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let off = 12;
  let fmt: { sampleRate: number; channels: number; bits: number } | null = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      if (buf.readUInt16LE(off + 8) !== 1) throw new Error('not PCM');
      fmt = { channels: buf.readUInt16LE(off + 10), sampleRate: buf.readUInt32LE(off + 12), bits: buf.readUInt16LE(off + 22) };
    } else if (id === 'data') {
      if (!fmt) throw new Error('data before fmt');
      return { ...fmt, dataOffset: off + 8, dataBytes: size };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error('no data chunk');
}
