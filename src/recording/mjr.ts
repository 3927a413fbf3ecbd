/**
 * Janus's .mjr recordings (format version 2), so `janus-pp-rec` and every tool built for Janus
 * recordings read ours.
 *
 * Layout: "MJR00002"; on the first frame a big-endian u16 length + a JSON info header
 * (`t` a|v|d, `c` codec, `f` fmtp?, `d` description?, `x` extmaps?, `s` created µs, `u` first
 * frame µs, `e` e2ee?); then per frame "MEET", u32 milliseconds since the first frame, u16 length,
 * and the RTP packet (data frames: an 8-byte wall-clock µs prefix counted in the length, then the
 * message). Like Janus, RTP sequence numbers and timestamps are rebased to start at 1 / 0 and stay
 * continuous across SSRC changes, and the first SSRC is kept for the whole file, so a stream that
 * switches sources (simulcast layers) post-processes as one.
 *
 * MjrEncoder is sans-IO (bytes into a caller's buffer). MjrFile adds the file: frames are copied
 * into a pending chunk and written in batches by an asynchronous flush, so the packet path never
 * touches the file system; open failures are reported once, never thrown at the packet path.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CREATE_NOFOLLOW } from '../security/paths.js';

export type MjrMedia = 'audio' | 'video' | 'data';

export interface MjrInfo {
  media: MjrMedia;
  /** Janus's codec name: opus, multiopus, pcmu, pcma, g722, vp8, vp9, h264, av1, h265; `text` for data. */
  codec: string;
  fmtp?: string;
  description?: string;
  /** RTP header extensions to note in the header (`x`): id -> URI. */
  extmaps?: Record<number, string>;
  e2ee?: boolean;
}

export const MJR_MAGIC = 'MJR00002';
const FRAME_MAGIC = 0x4d454554; // "MEET"
/** Frame header: "MEET", u32 relative ms, u16 length. */
const FRAME_HEADER = 10;
/** Frames are bounded by the u16 length field. */
export const MJR_MAX_FRAME = 0xffff;

/** Codecs Janus's recorder accepts, by medium (anything else would make janus-pp-rec refuse the file). */
const CODECS: Record<MjrMedia, ReadonlySet<string>> = {
  audio: new Set(['opus', 'multiopus', 'pcmu', 'pcma', 'g722']),
  video: new Set(['vp8', 'vp9', 'h264', 'av1', 'h265']),
  data: new Set(['text', 'binary']),
};

export function mjrSupports(media: MjrMedia, codec: string): boolean {
  return CODECS[media].has(codec.toLowerCase());
}

/**
 * jansson's default dump (", " and ": " separators, insertion order): what Janus writes, so our
 * headers are byte-for-byte the same shape as a Janus recording's.
 */
function janssonDump(o: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    const val = v !== null && typeof v === 'object' ? janssonDump(v as Record<string, unknown>) : JSON.stringify(v);
    parts.push(`${JSON.stringify(k)}: ${val}`);
  }
  return `{${parts.join(', ')}}`;
}

export interface MjrClocks {
  /** Wall clock, microseconds since the epoch. */
  realUs(): number;
  /** Monotonic clock, milliseconds. */
  monoMs(): number;
}

export const systemClocks: MjrClocks = {
  realUs: () => Date.now() * 1000,
  monoMs: () => performance.now(),
};

/**
 * Encodes one recording: the magic, the info header (lazily, at the first frame, as Janus does:
 * `u` is when media actually started) and frames. Writes into a caller-provided buffer.
 */
export class MjrEncoder {
  readonly created: number;
  private started = -1;
  private headerBytes: Buffer | null = null;
  // RTP rebasing (Janus's switching context): output = input - base + basePrev.
  private ssrc = -1;
  private firstSsrc = 0;
  private baseSeq = 0;
  private baseTs = 0;
  private baseSeqPrev = 0;
  private baseTsPrev = 0;
  private lastSeq = 0;
  private lastTs = 0;
  private lastMs = -1;
  private readonly khz: number;
  frames = 0;

  constructor(
    readonly info: MjrInfo,
    private readonly clocks: MjrClocks = systemClocks,
  ) {
    this.created = Math.floor(clocks.realUs());
    this.khz = info.media === 'video' ? 90 : 48;
  }

  /** "MJR00002": the first bytes of the file. */
  static magic(): Buffer {
    return Buffer.from(MJR_MAGIC, 'latin1');
  }

  /** Whether the info header has been produced (i.e. a frame was encoded). */
  get headerWritten(): boolean {
    return this.headerBytes !== null;
  }

  private header(): Buffer {
    const i = this.info;
    const o: Record<string, unknown> = { t: i.media === 'audio' ? 'a' : i.media === 'video' ? 'v' : 'd', c: i.codec };
    if (i.fmtp !== undefined && i.fmtp !== '') o.f = i.fmtp;
    if (i.description !== undefined) o.d = i.description;
    if (i.extmaps !== undefined) {
      const x: Record<string, string> = {};
      let any = false;
      for (const [id, uri] of Object.entries(i.extmaps)) {
        const n = Number(id);
        if (n >= 1 && n <= 14) {
          x[String(n)] = uri;
          any = true;
        }
      }
      if (any) o.x = x;
    }
    o.s = this.created;
    o.u = Math.floor(this.clocks.realUs());
    if (i.e2ee === true) o.e = true;
    const json = Buffer.from(janssonDump(o), 'utf8');
    const b = Buffer.allocUnsafe(2 + json.length);
    b.writeUInt16BE(json.length, 0);
    json.copy(b, 2);
    return b;
  }

  /**
   * Bytes the next frame of `len` payload bytes needs at most (the info header included the first
   * time). Callers size their buffer with this before encodeRtp/encodeData.
   */
  needed(len: number): number {
    return FRAME_HEADER + len + (this.info.media === 'data' ? 8 : 0) + (this.headerBytes === null ? 2 + 1024 : 0);
  }

  /**
   * Encode an RTP packet (buf[0..len)) at out[off..); returns the new offset, or `off` when the
   * packet is not RTP-shaped (nothing written).
   */
  encodeRtp(buf: Buffer, len: number, out: Buffer, off: number): number {
    if (len < 12 || len > MJR_MAX_FRAME || (buf[0]! & 0xc0) !== 0x80) return off;
    const now = this.clocks.monoMs();
    off = this.frameStart(out, off, now, len);
    buf.copy(out, off, 0, len);
    // Rebase seq/ts in the copy (the caller's packet is untouched: subscribers still need it).
    const ssrc = buf.readUInt32BE(8);
    const seq = buf.readUInt16BE(2);
    const ts = buf.readUInt32BE(4);
    if (ssrc !== this.ssrc) {
      if (this.ssrc === -1) this.firstSsrc = ssrc;
      this.ssrc = ssrc;
      this.baseSeq = seq;
      this.baseTs = ts;
      this.baseSeqPrev = this.lastSeq;
      this.baseTsPrev = this.lastTs;
      if (this.lastMs >= 0) {
        // A new source continues where the old one stopped, shifted by the time in between.
        const gap = Math.max(1, Math.round((now - this.lastMs) * this.khz));
        this.baseTsPrev = (this.baseTsPrev + gap) >>> 0;
      }
    }
    this.lastSeq = (seq - this.baseSeq + this.baseSeqPrev + 1) & 0xffff;
    this.lastTs = (ts - this.baseTs + this.baseTsPrev) >>> 0;
    this.lastMs = now;
    out.writeUInt16BE(this.lastSeq, off + 2);
    out.writeUInt32BE(this.lastTs, off + 4);
    out.writeUInt32BE(this.firstSsrc, off + 8);
    this.frames++;
    return off + len;
  }

  /** Encode a data channel message; returns the new offset (unchanged if too big for a frame). */
  encodeData(data: Buffer, out: Buffer, off: number): number {
    if (data.length === 0 || data.length + 8 > MJR_MAX_FRAME) return off;
    off = this.frameStart(out, off, this.clocks.monoMs(), data.length + 8);
    const us = Math.floor(this.clocks.realUs());
    out.writeUInt32BE(Math.floor(us / 2 ** 32), off);
    out.writeUInt32BE(us >>> 0, off + 4);
    data.copy(out, off + 8);
    this.frames++;
    return off + 8 + data.length;
  }

  private frameStart(out: Buffer, off: number, now: number, len: number): number {
    if (this.headerBytes === null) {
      this.headerBytes = this.header();
      this.started = now;
      off += this.headerBytes.copy(out, off);
    }
    out.writeUInt32BE(FRAME_MAGIC, off);
    out.writeUInt32BE(Math.max(0, Math.floor(now - this.started)) >>> 0, off + 4);
    out.writeUInt16BE(len, off + 8);
    return off + FRAME_HEADER;
  }
}

export interface MjrFileOptions {
  clocks?: MjrClocks;
  /** Called once if the file cannot be created or written (the recording then drops its frames). */
  onError?: (err: Error) => void;
  /** Flush pending bytes at least this often (ms). */
  flushMs?: number;
  /** Bytes kept in memory while the disk is slow; beyond this, frames are dropped (and counted). */
  maxPendingBytes?: number;
  /**
   * Create a missing folder (mkdir -p, as Janus does). Only for folders the operator configured: a
   * folder a request named must already exist (src/security/paths.ts). Default true.
   */
  createFolder?: boolean;
}

const CHUNK = 64 * 1024;

/**
 * One .mjr file. `writeRtp`/`writeData` are synchronous and do no I/O: they append to the current
 * chunk; full chunks (and, every flushMs, the partial one) go to the disk in order, one write at a
 * time. `close()` flushes everything and closes the file; it is idempotent.
 */
export class MjrFile {
  readonly encoder: MjrEncoder;
  private fh: FileHandle | null = null;
  private chunk: Buffer = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly opened: Promise<boolean>;
  private state: 'opening' | 'open' | 'failed' | 'closing' | 'closed' = 'opening';
  private closing: Promise<void> | null = null;
  private readonly flushMs: number;
  private readonly maxPending: number;
  /** Frames dropped (file failed, or the disk too slow to keep up). */
  dropped = 0;
  /** Bytes handed to the file system so far. */
  written = 0;
  error: Error | null = null;

  constructor(
    readonly path: string,
    info: MjrInfo,
    private readonly opts: MjrFileOptions = {},
  ) {
    this.encoder = new MjrEncoder(info, opts.clocks);
    this.flushMs = opts.flushMs ?? 250;
    this.maxPending = opts.maxPendingBytes ?? 8 * 1024 * 1024;
    this.opened = this.openFile();
  }

  get frames(): number {
    return this.encoder.frames;
  }

  get failed(): boolean {
    return this.state === 'failed';
  }

  /** Resolves true once the file exists with its magic, false if it could not be created. */
  ready(): Promise<boolean> {
    return this.opened;
  }

  private async openFile(): Promise<boolean> {
    try {
      // Janus creates a missing recordings folder (mkdir -p, 0755); we do only for configured folders.
      if (this.opts.createFolder !== false) await mkdir(dirname(this.path), { recursive: true, mode: 0o755 });
      // O_NOFOLLOW: a symlink planted under the recording's name must not redirect the write elsewhere.
      const fh = await open(this.path, CREATE_NOFOLLOW, 0o644);
      await fh.write(MjrEncoder.magic());
      this.written += MJR_MAGIC.length;
      this.fh = fh;
      if (this.state === 'opening') this.state = 'open';
      this.kick();
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  private fail(err: unknown): void {
    if (this.error !== null) return;
    this.error = err instanceof Error ? err : new Error(String(err));
    if (this.state !== 'closed') this.state = 'failed';
    this.queue.length = 0;
    this.queued = 0;
    this.used = 0;
    try {
      this.opts.onError?.(this.error);
    } catch {
      // A reporting callback must not turn a failed recording into a crash.
    }
  }

  writeRtp(buf: Buffer, len: number): void {
    if (!this.reserve(this.encoder.needed(len))) return;
    this.used = this.encoder.encodeRtp(buf, len, this.chunk, this.used);
    this.armTimer();
  }

  writeData(data: Buffer): void {
    if (!this.reserve(this.encoder.needed(data.length))) return;
    this.used = this.encoder.encodeData(data, this.chunk, this.used);
    this.armTimer();
  }

  /** Make room for `n` bytes in the current chunk; false (frame dropped) when we cannot write. */
  private reserve(n: number): boolean {
    if (this.state !== 'open' && this.state !== 'opening') {
      this.dropped++;
      return false;
    }
    if (this.used + n <= this.chunk.length) return true;
    if (this.queued + this.used > this.maxPending) {
      this.dropped++;
      return false;
    }
    this.rotate(Math.max(CHUNK, n));
    this.kick();
    return true;
  }

  /** Move the filled part of the chunk to the write queue and start a fresh chunk. */
  private rotate(size = CHUNK): void {
    if (this.used > 0) {
      this.queue.push(this.chunk.subarray(0, this.used));
      this.queued += this.used;
    }
    this.chunk = Buffer.allocUnsafe(size);
    this.used = 0;
  }

  private armTimer(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.used > 0 && (this.state === 'open' || this.state === 'opening')) this.rotate();
      this.kick();
    }, this.flushMs);
    this.timer.unref();
  }

  /** Start the writer loop if it is idle and there is something to write. */
  private kick(): void {
    if (this.writing !== null || this.fh === null || this.queue.length === 0) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
      if (this.queue.length > 0 && this.state !== 'failed') this.kick();
    });
  }

  private async drain(): Promise<void> {
    const fh = this.fh;
    while (fh !== null && this.queue.length > 0 && this.state !== 'failed') {
      // Batch every queued chunk into one writev.
      const bufs = this.queue.splice(0, this.queue.length);
      const total = bufs.reduce((a, b) => a + b.length, 0);
      this.queued -= total;
      try {
        await fh.writev(bufs);
        this.written += total;
      } catch (err) {
        this.fail(err);
      }
    }
  }

  /** Flush everything pending and close the file. Safe to call more than once. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = (async () => {
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      const ok = await this.opened;
      if (this.state !== 'failed') this.state = 'closing';
      if (ok && this.error === null) {
        this.rotate(0);
        while (this.writing !== null || this.queue.length > 0) {
          if (this.writing === null) this.kick();
          await this.writing;
          if (this.error !== null) break;
        }
      }
      try {
        await this.fh?.close();
      } catch (err) {
        this.fail(err);
      }
      this.fh = null;
      this.state = 'closed';
    })();
    return this.closing;
  }
}
