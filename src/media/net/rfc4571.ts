/**
 * RFC 4571 framing: every packet on an ICE-TCP stream (RFC 6544) is prefixed with its length as a
 * 16-bit big-endian integer. `Rfc4571Reader` is sans-IO: feed it the stream's chunks as they arrive,
 * it calls `onFrame` once per complete packet.
 *
 * A frame that lies whole inside one chunk is handed out as a view of that chunk (no copy, as a UDP
 * datagram is a fresh Buffer); one split across chunks is assembled in a Buffer of its own. Either way
 * the receiver owns the Buffer (the media path decrypts in place and may queue early DTLS).
 */

export const FRAME_HEADER = 2;

/** Why a reader stopped accepting data. */
export type FramingError = 'oversize' | 'stopped';

export class Rfc4571Reader {
  /** Bytes of a frame split across chunks (allocated only then). */
  private partial: Buffer | null = null;
  private partialFill = 0;
  /** A length header split across chunks: its first byte. */
  private headHi = -1;
  private failed: FramingError | null = null;
  /** Frames delivered so far. */
  frames = 0;
  /** Zero-length frames seen (skipped: nothing to deliver). */
  empty = 0;

  /**
   * @param maxFrame frames longer than this stop the reader (`push` returns 'oversize'): a peer that
   *   announces a 60 KiB packet on a media stream is broken or hostile, and buffering it costs memory.
   */
  constructor(
    private readonly maxFrame: number,
    private readonly onFrame: (frame: Buffer) => void,
  ) {}

  get error(): FramingError | null {
    return this.failed;
  }

  /** Bytes buffered towards the next frame (for stall detection). */
  get pending(): number {
    return this.partial !== null ? this.partialFill : this.headHi >= 0 ? 1 : 0;
  }

  /** Feed one chunk. Returns null, or the error that stopped the reader (it then ignores everything). */
  push(chunk: Buffer): FramingError | null {
    if (this.failed !== null) return this.failed;
    let off = 0;
    const end = chunk.length;
    while (off < end) {
      if (this.partial !== null) {
        const want = this.partial.length - this.partialFill;
        const take = Math.min(want, end - off);
        chunk.copy(this.partial, this.partialFill, off, off + take);
        this.partialFill += take;
        off += take;
        if (this.partialFill === this.partial.length) {
          const f = this.partial;
          this.partial = null;
          this.partialFill = 0;
          this.deliver(f);
          if (this.failed !== null) return this.failed;
        }
        continue;
      }
      let len: number;
      if (this.headHi >= 0) {
        len = (this.headHi << 8) | chunk[off]!;
        this.headHi = -1;
        off += 1;
      } else if (end - off >= FRAME_HEADER) {
        len = chunk.readUInt16BE(off);
        off += FRAME_HEADER;
      } else {
        this.headHi = chunk[off]!;
        off += 1;
        continue;
      }
      if (len > this.maxFrame) {
        this.failed = 'oversize';
        return this.failed;
      }
      if (len === 0) {
        this.empty++;
        continue;
      }
      if (end - off >= len) {
        this.deliver(chunk.subarray(off, off + len));
        off += len;
        if (this.failed !== null) return this.failed;
        continue;
      }
      this.partial = Buffer.allocUnsafe(len);
      this.partialFill = end - off;
      chunk.copy(this.partial, 0, off, end);
      off = end;
    }
    return null;
  }

  /** Stop: later pushes are ignored (the connection is being closed for another reason). */
  stop(): void {
    if (this.failed === null) this.failed = 'stopped';
    // Nothing is held for a frame that will never complete (pending reads 0).
    this.partial = null;
    this.partialFill = 0;
    this.headHi = -1;
  }

  private deliver(f: Buffer): void {
    this.frames++;
    this.onFrame(f);
  }
}

/** One framed packet: a new Buffer with the 2-byte length and `len` bytes of `buf` from `off`. */
export function frame(buf: Uint8Array, off: number, len: number): Buffer {
  if (len > 0xffff) throw new RangeError(`RFC 4571 frame too long (${len} bytes)`);
  const out = Buffer.allocUnsafe(len + FRAME_HEADER);
  out[0] = len >>> 8;
  out[1] = len & 0xff;
  out.set(buf.subarray(off, off + len), FRAME_HEADER);
  return out;
}
