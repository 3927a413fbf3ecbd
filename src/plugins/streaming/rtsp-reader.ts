/**
 * What an RTSP server sends on the control connection (RFC 2326), sans-IO: feed the TCP chunks as they
 * arrive; responses (status line, headers, body of Content-Length bytes) and interleaved binary frames
 * (`$`, channel, 16-bit length, packet; §10.12) come out in order. The connection (rtsp-client.ts)
 * owns the socket and closes it when `push` reports an error.
 *
 * The server is not trusted: a message may not grow past `maxMessage` bytes of buffer, and a
 * Content-Length that is not a plain decimal number is an error (a negative one used to rewind the
 * buffer, and the reader looped forever on the same bytes).
 */

export interface RtspResponse {
  status: number;
  reason: string;
  /** Header names lower-cased. */
  headers: Map<string, string>;
  body: string;
}

export interface RtspReaderSink {
  response(r: RtspResponse): void;
  interleaved(channel: number, data: Buffer): void;
}

/** Why a reader stopped: the connection is to be closed. */
export type RtspReadError = 'oversize' | 'bad-length';

const EMPTY = Buffer.alloc(0);
const HEAD_END = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^RTSP\/1\.0\s+(\d{3})\s*(.*)$/;
/** Plain decimal, no sign, no exponent; nine digits at most (bounded by maxMessage anyway). */
const CONTENT_LENGTH = /^\d{1,9}$/;

/** A response whose head is read and whose body is still arriving. */
interface Head {
  status: RegExpExecArray | null;
  headers: Map<string, string>;
  /** Offset of the body from the message's start, and the message's whole length. */
  bodyAt: number;
  total: number;
}

/**
 * Bytes `[start, end)` of `store` are live. The store grows by doubling and is written only past `end`,
 * so a frame handed out as a view of it is never overwritten; an emptied store is dropped, not reused.
 * A server trickling a message byte by byte costs linear time: the head search resumes where it
 * stopped and a parsed head is kept while its body arrives (re-concatenating and re-scanning the whole
 * buffer per chunk was quadratic: a 256 KiB response in 1-byte chunks copied ~32 GB).
 */
export class RtspReader {
  private store: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  /** Whether `store` is ours (spare capacity may be written), not a chunk handed in. */
  private owned = false;
  /** Head search done up to here (relative to `start`) for the message at `start`. */
  private scanned = 0;
  private head: Head | null = null;
  private failed: RtspReadError | null = null;

  constructor(
    private readonly maxMessage: number,
    private readonly sink: RtspReaderSink,
  ) {}

  get error(): RtspReadError | null {
    return this.failed;
  }

  /** Bytes held towards the next message. */
  get pending(): number {
    return this.end - this.start;
  }

  /** Feed one chunk. Returns null, or the error that stopped the reader (it then ignores everything). */
  push(d: Buffer): RtspReadError | null {
    if (this.failed !== null) return this.failed;
    if (d.length === 0) return null;
    this.append(d);
    for (;;) {
      const live = this.end - this.start;
      if (live === 0) {
        this.store = EMPTY;
        this.start = this.end = 0;
        this.owned = false;
        return null;
      }
      const buf = this.store;
      const at = this.start;
      if (this.head === null && buf[at] === 0x24) {
        if (live < 4) return null;
        const n = 4 + buf.readUInt16BE(at + 2);
        if (live < n) return null;
        this.start += n;
        this.sink.interleaved(buf[at + 1]!, buf.subarray(at + 4, at + n));
        continue;
      }
      let head = this.head;
      if (head === null) {
        const from = Math.max(0, this.scanned - 3);
        const rel = buf.subarray(at, this.end).indexOf(HEAD_END, from);
        if (rel < 0) {
          this.scanned = live;
          return live > this.maxMessage ? this.fail('oversize') : null;
        }
        const lines = buf.subarray(at, at + rel).toString('latin1').split('\r\n');
        const headers = new Map<string, string>();
        for (let i = 1; i < lines.length; i++) {
          const line = lines[i]!;
          const c = line.indexOf(':');
          if (c > 0) headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
        }
        const cl = headers.get('content-length');
        let len = 0;
        if (cl !== undefined) {
          if (!CONTENT_LENGTH.test(cl)) return this.fail('bad-length');
          len = Number(cl);
        }
        if (rel + 4 + len > this.maxMessage) return this.fail('oversize');
        head = { status: STATUS_LINE.exec(lines[0] ?? ''), headers, bodyAt: rel + 4, total: rel + 4 + len };
        this.head = head;
      }
      if (live < head.total) return null;
      const body = buf.subarray(at + head.bodyAt, at + head.total).toString('utf8');
      this.start += head.total;
      this.head = null;
      this.scanned = 0;
      const m = head.status;
      // A request from the server (rare: ANNOUNCE, GET_PARAMETER) is skipped.
      if (m !== null) this.sink.response({ status: Number(m[1]), reason: m[2] ?? '', headers: head.headers, body });
    }
  }

  private append(d: Buffer): void {
    const live = this.end - this.start;
    if (live === 0) {
      this.store = d;
      this.start = 0;
      this.end = d.length;
      this.owned = false;
      return;
    }
    if (this.owned && this.store.length - this.end >= d.length) {
      d.copy(this.store, this.end);
      this.end += d.length;
      return;
    }
    const next = Buffer.allocUnsafe(Math.max(2 * (live + d.length), 4096));
    this.store.copy(next, 0, this.start, this.end);
    d.copy(next, live);
    this.store = next;
    this.start = 0;
    this.end = live + d.length;
    this.owned = true;
  }

  private fail(e: RtspReadError): RtspReadError {
    this.failed = e;
    this.store = EMPTY;
    this.start = this.end = 0;
    this.head = null;
    return e;
  }
}
