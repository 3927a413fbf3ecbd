/**
 * A publisher's data-channel messages on the packet lane to the workers with subscribers of its data
 * stream (remote.ts keeps the `want` bookkeeping: a mirror's data stream asks for its records like an
 * audio or video stream does; the lanes end up in PublishedStream.remoteOut).
 *
 * Why the packet lane and not the control lane: a chat or game state channel can carry hundreds of
 * messages a second, and the lane costs a copy into shared memory where a control message costs a
 * structured clone, a postMessage and a relay through main, each. The lane also keeps a message in
 * order with the publisher's RTP records of the same worker pair.
 *
 * Record: tag = the data stream's key; meta = DATA | BINARY? | LABEL? | the label's UTF-8 byte length
 * (16 bits); payload = the label's bytes, then the message's. RTP records of the lane carry only the
 * simulcast layer (0..2) in meta, so the DATA bit tells the two apart.
 */
import { LANE_BYTES } from '../../workers/bus.js';
import type { PublishedStream } from './streams.js';

/** meta bits (the top ones: RTP records use the low bits for the layer). */
const DATA = 0x8000_0000;
const BINARY = 0x4000_0000;
/** A label was given (null and '' differ: null means "the subscriber's first open channel"). */
const LABEL = 0x2000_0000;
const LABEL_BYTES = 0xffff;

/**
 * Largest payload one ring record takes (ring.ts refuses records above a quarter of its size, header
 * and padding included); a bigger message is dropped and counted (`tooLarge`), never split: the
 * receiving side would have to reassemble, and SCTP's default max-message-size (256 KiB) is the same
 * order as this bound anyway.
 */
export const MAX_DATA_RECORD = (LANE_BYTES >>> 2) - 16;

/** Whether a packet-lane record is a data-channel message (else an RTP packet). */
export function isDataRecord(meta: number): boolean {
  return (meta & DATA) !== 0;
}

/** Room side: writes each message once per worker that wants the data stream. */
export class DataLaneWriter {
  /** Label and message in one run of bytes (a record is one copy from one buffer); grows, never per message. */
  private scratch = Buffer.allocUnsafe(4096);
  /** Messages not written because they exceed MAX_DATA_RECORD (diagnostics). */
  tooLarge = 0;

  write(ps: PublishedStream, label: string | null, data: Buffer, isBinary: boolean): void {
    const lanes = ps.remoteOut;
    if (lanes.length === 0) return;
    const labelLen = label === null ? 0 : Buffer.byteLength(label, 'utf8');
    const total = labelLen + data.length;
    if (labelLen > LABEL_BYTES || total > MAX_DATA_RECORD) {
      this.tooLarge++;
      return;
    }
    if (total > this.scratch.length) {
      let size = this.scratch.length;
      while (size < total) size *= 2;
      this.scratch = Buffer.allocUnsafe(Math.min(size, MAX_DATA_RECORD));
    }
    const buf = this.scratch;
    if (label !== null) buf.write(label, 0, labelLen, 'utf8');
    data.copy(buf, labelLen);
    const meta = (DATA | (isBinary ? BINARY : 0) | (label !== null ? LABEL : 0) | labelLen) >>> 0;
    for (let i = 0; i < lanes.length; i++) lanes[i]!.write(ps.remoteKey, meta, buf, 0, total);
  }
}

/** What a data record carries, decoded for the relay (forward.ts relayData). */
export type DataRelay = (ps: PublishedStream, label: string | null, payload: string | Buffer) => void;

/** Mirror side: decodes a record and hands it to the local path's fan-out. */
export class DataLaneReader {
  /** The label of the last record, decoded once: a stream's messages nearly always share one channel. */
  private lastLabelBytes: Buffer = Buffer.alloc(0);
  private lastLabel = '';

  constructor(private readonly relay: DataRelay) {}

  read(ps: PublishedStream, meta: number, data: Buffer, offset: number, length: number): void {
    const labelLen = meta & LABEL_BYTES;
    if (labelLen > length) return;
    const label = (meta & LABEL) !== 0 ? this.label(data, offset, labelLen) : null;
    const start = offset + labelLen;
    const end = offset + length;
    // The ring's bytes are reused once this returns: a binary message is copied out, a text one decoded.
    const payload = (meta & BINARY) !== 0 ? Buffer.from(data.subarray(start, end)) : data.toString('utf8', start, end);
    this.relay(ps, label, payload);
  }

  private label(data: Buffer, offset: number, len: number): string {
    const last = this.lastLabelBytes;
    if (last.length === len && data.compare(last, 0, len, offset, offset + len) === 0) return this.lastLabel;
    this.lastLabelBytes = Buffer.from(data.subarray(offset, offset + len));
    this.lastLabel = this.lastLabelBytes.toString('utf8');
    return this.lastLabel;
  }
}
