/**
 * Announcements (`play_file`): an Ogg/Opus file mixed into a room like a participant who is always
 * talking. The file is read and parsed before the announcement exists (plugin.ts, asynchronously),
 * so the mixer tick only decodes packets that are already in memory: 20 ms of PCM per tick at the
 * room's rate, whatever the packets' durations (a packet longer than a frame is spread over several
 * ticks). Pre-skip (RFC 7845) is honoured at the start and after every loop.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { createOpusDecoder, type OpusDecoder, type OpusSampleRate } from '../../codecs/opus.js';
import { OggError, parseOggOpus, type OggOpusStream } from '../../codecs/ogg.js';
import type { MixSlot } from './mixer.js';

/** Files larger than this are refused: an announcement is held in memory while it plays. */
export const MAX_ANNOUNCEMENT_BYTES = 64 * 1024 * 1024;

export class AnnouncementFileError extends Error {
  override readonly name = 'AnnouncementFileError';
  constructor(
    message: string,
    /** The file could not be opened (missing, unreadable): Janus's "Error opening file". */
    readonly notFound: boolean,
  ) {
    super(message);
  }
}

/** Read and parse an Ogg/Opus file without blocking the event loop. Throws AnnouncementFileError. */
export async function loadAnnouncementFile(path: string): Promise<OggOpusStream> {
  let buf: Buffer;
  try {
    // One open: the size checked is the size of the file read (no swap between stat and read), and
    // no more than the limit is ever read whatever the file grows to meanwhile.
    // O_NONBLOCK: a FIFO or device named here must not hold a file-system thread waiting for a writer.
    const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new AnnouncementFileError('not a regular file', true);
      if (st.size > MAX_ANNOUNCEMENT_BYTES) throw new AnnouncementFileError(`file too large (${st.size} bytes, at most ${MAX_ANNOUNCEMENT_BYTES})`, false);
      buf = Buffer.allocUnsafe(st.size);
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      buf = buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof AnnouncementFileError) throw err;
    throw new AnnouncementFileError((err as NodeJS.ErrnoException).code ?? String(err), true);
  }
  try {
    return parseOggOpus(buf);
  } catch (err) {
    throw new AnnouncementFileError(err instanceof OggError ? err.message : String(err), false);
  }
}

export interface AnnouncementSpec {
  fileId: string;
  filename: string;
  loop: boolean;
  /** 1-based group of the room (0: none), for group forwarders. */
  group: number;
}

export class Announcement {
  readonly fileId: string;
  readonly filename: string;
  readonly loop: boolean;
  readonly group: number;
  /** Mixed at least once (announcement-started sent): what `is_playing` reports. */
  started = false;
  /** Reached its end (one-shot) or gave up on undecodable data. */
  done = false;
  /** Packets that failed to decode (skipped). */
  decodeErrors = 0;
  private readonly decoder: OpusDecoder;
  private readonly packets: Buffer[];
  private readonly preSkip: number;
  /** This tick's 20 ms frame (reused). */
  private readonly frame: Int16Array;
  private next = 0;
  /** Decoded samples not played yet (from a packet longer than what the last frame needed). */
  private pending: Int16Array | null = null;
  private pendingOff = 0;
  private skip: number;
  /** Consecutive packets that failed to decode: a whole pass of them means the file is unplayable. */
  private failures = 0;

  constructor(
    spec: AnnouncementSpec,
    stream: OggOpusStream,
    rate: number,
    readonly slot: MixSlot,
  ) {
    this.fileId = spec.fileId;
    this.filename = spec.filename;
    this.loop = spec.loop;
    this.group = spec.group;
    this.packets = stream.packets;
    // Mono at the room's rate: libopus downmixes a stereo file; the mixer pans it like a participant.
    this.decoder = createOpusDecoder(rate as OpusSampleRate, 1);
    this.frame = new Int16Array(rate / 50);
    this.preSkip = Math.round((stream.preSkip * rate) / 48000);
    this.skip = this.preSkip;
  }

  /**
   * The next 20 ms of the file, or null when it has ended (then `done` is set). Never throws: a packet
   * that does not decode is skipped.
   */
  nextFrame(): Int16Array | null {
    if (this.done) return null;
    const out = this.frame;
    let filled = 0;
    while (filled < out.length) {
      const p = this.pending;
      if (p !== null && this.pendingOff < p.length) {
        let off = this.pendingOff;
        if (this.skip > 0) {
          const s = Math.min(this.skip, p.length - off);
          this.skip -= s;
          off += s;
        }
        const n = Math.min(out.length - filled, p.length - off);
        for (let i = 0; i < n; i++) out[filled + i] = p[off + i]!;
        filled += n;
        this.pendingOff = off + n;
        continue;
      }
      if (!this.decodeNext()) break;
    }
    if (filled === 0) {
      this.done = true;
      return null;
    }
    // The file ended inside this frame: the rest is silence.
    if (filled < out.length) out.fill(0, filled);
    return out;
  }

  /** Decode the next packet into `pending`; false at the end of a one-shot file (or an unplayable one). */
  private decodeNext(): boolean {
    for (;;) {
      if (this.next >= this.packets.length) {
        if (!this.loop) return false;
        this.next = 0;
        this.decoder.reset();
        this.skip = this.preSkip;
      }
      const pkt = this.packets[this.next++]!;
      try {
        this.pending = this.decoder.decode(pkt);
        this.pendingOff = 0;
        this.failures = 0;
        return true;
      } catch {
        this.decodeErrors++;
        if (++this.failures > this.packets.length) {
          this.done = true;
          return false;
        }
      }
    }
  }

  destroy(): void {
    this.done = true;
    this.pending = null;
    try {
      this.decoder.destroy();
    } catch {
      /* already gone */
    }
  }
}
