/**
 * The sources of `live` and `ondemand` mountpoints: an audio file played out in real time as RTP.
 * Ogg/Opus (`.opus`/`.ogg`, packets as they are in the file, timed by their TOC) and, as in
 * Janus's samples, raw G.711 (`.alaw` → PCMA, `.mulaw` → PCMU, 20 ms packets). Both loop forever.
 * `live`: one playout shared by every viewer (through the ordinary packet path); `ondemand`: each
 * viewer gets its own playout from the start of the file once its PeerConnection is up.
 */
import { readFileSync } from 'node:fs';
import type { PluginMediaHost } from '../../core/plugin.js';
import { parseOggOpus } from '../../codecs/ogg.js';
import { deliverRtp } from './fanout.js';
import type { MediaSource, Mountpoint, MpStream } from './mountpoint.js';
import type { SourceDeps } from './rtp-source.js';
import type { ViewerStream } from './viewer-stream.js';

/** Samples at 48 kHz in one Opus packet (RFC 6716 §3.1: the TOC byte's config and frame count). */
export function opusPacketSamples(p: Buffer): number {
  if (p.length < 1) return 960;
  const toc = p[0]!;
  const config = toc >> 3;
  let frame: number;
  if (config < 12) frame = [480, 960, 1920, 2880][config & 3]!; // SILK: 10, 20, 40, 60 ms
  else if (config < 16) frame = [480, 960][config & 1]!; // hybrid: 10, 20 ms
  else frame = [120, 240, 480, 960][config & 3]!; // CELT: 2.5, 5, 10, 20 ms
  const code = toc & 3;
  const count = code === 0 ? 1 : code === 3 ? (p.length > 1 ? p[1]! & 0x3f : 1) : 2;
  return frame * Math.max(1, count);
}

interface Track {
  codec: 'opus' | 'pcma' | 'pcmu';
  clock: number;
  /** Payloads with their durations (in clock ticks). */
  payloads: Buffer[];
  ticks: number[];
}

export function loadTrack(filename: string): Track {
  const data = readFileSync(filename);
  const lower = filename.toLowerCase();
  if (lower.endsWith('.alaw') || lower.endsWith('.mulaw')) {
    const payloads: Buffer[] = [];
    for (let off = 0; off + 160 <= data.length; off += 160) payloads.push(data.subarray(off, off + 160));
    if (payloads.length === 0) throw new Error(`${filename}: shorter than one 20 ms G.711 packet`);
    return { codec: lower.endsWith('.alaw') ? 'pcma' : 'pcmu', clock: 8000, payloads, ticks: payloads.map(() => 160) };
  }
  const ogg = parseOggOpus(data);
  return { codec: 'opus', clock: 48000, payloads: ogg.packets, ticks: ogg.packets.map(opusPacketSamples) };
}

/** One real-time playout of a track: packets go to `emit` when their time has come. */
class Playout {
  private readonly scratch = Buffer.alloc(12 + 1500);
  private index = 0;
  private seq = Math.floor(Math.random() * 0x8000);
  private ts = Math.floor(Math.random() * 0x7fffffff);
  private readonly ssrc = (Math.floor(Math.random() * 0xfffffff0) + 1) >>> 0;
  private sentTicks = 0;
  private readonly start: number;

  constructor(
    private readonly track: Track,
    private readonly pt: number,
    now: number,
    private readonly emit: (buf: Buffer, len: number, now: number) => void,
  ) {
    this.start = now;
  }

  /** Send what is due at `now` (ms), at most a second's worth at once after a stall. */
  tick(now: number): void {
    const due = ((now - this.start) * this.track.clock) / 1000;
    let budget = 100;
    while (this.sentTicks <= due && budget-- > 0) {
      const payload = this.track.payloads[this.index]!;
      const n = Math.min(payload.length, this.scratch.length - 12);
      const b = this.scratch;
      b[0] = 0x80;
      b[1] = this.pt & 0x7f;
      b.writeUInt16BE(this.seq, 2);
      b.writeUInt32BE(this.ts >>> 0, 4);
      b.writeUInt32BE(this.ssrc, 8);
      payload.copy(b, 12, 0, n);
      this.emit(b, 12 + n, now);
      const ticks = this.track.ticks[this.index]!;
      this.seq = (this.seq + 1) & 0xffff;
      this.ts = (this.ts + ticks) >>> 0;
      this.sentTicks += ticks;
      this.index = (this.index + 1) % this.track.payloads.length;
    }
  }
}

const TICK_MS = 10;

class FileSource implements MediaSource {
  readonly ports: Array<[number, number, number]>;
  private timer: NodeJS.Timeout | null = null;
  private shared: Playout | null = null;
  private readonly private = new Map<ViewerStream, Playout>();
  private readonly stream: MpStream;

  constructor(
    private readonly mp: Mountpoint,
    private readonly track: Track,
    private readonly deps: SourceDeps,
  ) {
    this.ports = mp.streams.map(() => [0, 0, 0]);
    this.stream = mp.streams[0]!;
    const media = deps.media;
    if (mp.spec.type === 'live' && media !== null) {
      this.shared = new Playout(track, this.stream.spec.pt!, deps.now(), (b, len, now) => deliverRtp(media, this.stream, 0, b, len, now));
    }
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private tick(): void {
    try {
      const now = this.deps.now();
      this.shared?.tick(now);
      for (const p of this.private.values()) p.tick(now);
    } catch (err) {
      this.deps.log.error(`streaming: ${this.mp.name} file playout failure: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  viewerUp(v: ViewerStream): void {
    const media: PluginMediaHost | null = this.deps.media;
    if (this.mp.spec.type !== 'ondemand' || media === null || this.private.has(v)) return;
    const st = this.stream;
    this.private.set(v, new Playout(this.track, st.spec.pt!, this.deps.now(), (b, len, now) => {
      st.lastReceived = now;
      if (!v.active || !v.send) return;
      if (v.rewriter.rewrite(b, now)) media.relayRtp(v.session, v.mid, b, len);
    }));
  }

  viewerGone(v: ViewerStream): void {
    this.private.delete(v);
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.private.clear();
    this.shared = null;
  }
}

const STATIC_PT = { pcmu: 0, pcma: 8 } as const;

/** Load the file (refused now if unreadable or not a supported format) and start the playout. */
export function openFileSource(mp: Mountpoint, deps: SourceDeps): MediaSource {
  const track = loadTrack(mp.spec.filename!);
  const st = mp.streams[0]!;
  if (st.spec.codec === null) st.spec.codec = track.codec;
  else if (st.spec.codec !== track.codec) throw new Error(`${mp.spec.filename}: the file is ${track.codec}, the mountpoint says ${st.spec.codec}`);
  if (st.spec.pt === null) st.spec.pt = track.codec === 'opus' ? 111 : STATIC_PT[track.codec];
  return new FileSource(mp, track, deps);
}
