/**
 * Playout of a recording to one viewer: the frames of each .mjr go out at the pace of their RTP
 * timestamps, audio and video aligned on the files' first-frame wall clocks (`u` in the headers), and
 * starting at the first video keyframe (audio before it is skipped too), so the viewer's decoder gets
 * a picture at once. One plugin-wide ticker drives every player; a tick sends what is due, copying
 * each packet once into a scratch buffer where the header extensions (ids of the recording's
 * PeerConnection, meaningless to the viewer's) are dropped and the payload type set to the offer's.
 * Video gets one extension element of its own: a zeroed transport-wide sequence number the core
 * stamps as the packet leaves (Portunus: the play offer negotiates transport-cc, so the core has an
 * estimate towards the viewer).
 */
import { isH264Keyframe } from '../../codecs/h264.js';
import { isVp8Keyframe } from '../../codecs/vp8.js';
import { isVp9Keyframe } from '../../codecs/vp9.js';
import type { PluginMediaHost, PluginSession } from '../../core/plugin.js';
import type { MjrIndex } from '../../recording/mjr-read.js';

export interface PlayTrack {
  index: MjrIndex;
  mid: string;
  pt: number;
  clockRate: number;
  /** Next frame to send. */
  pos: number;
  /** Timeline position (µs) of each frame is firstFrameUs + (ts - ts0) / clock; cached origin. */
  ts0: number;
  originUs: number;
  /** Extension id of the transport-wide sequence number element the core fills in (0: none). */
  twccExt: number;
}

function rtpHeaderEnd(b: Buffer, off: number, len: number): number {
  if (len < 12) return -1;
  let h = 12 + (b[off]! & 0x0f) * 4;
  if (b[off]! & 0x10) {
    if (h + 4 > len) return -1;
    h += 4 + b.readUInt16BE(off + h + 2) * 4;
  }
  return h <= len ? h : -1;
}

function isKeyframe(codec: string, b: Buffer, off: number, len: number): boolean {
  const h = rtpHeaderEnd(b, off, len);
  if (h < 0) return false;
  const pay = len - h - (b[off]! & 0x20 ? b[off + len - 1]! : 0);
  if (pay <= 0) return false;
  const view = b.subarray(off, off + len);
  switch (codec) {
    case 'vp8':
      return isVp8Keyframe(view, h, pay);
    case 'vp9':
      return isVp9Keyframe(view, h, pay);
    case 'h264':
      return isH264Keyframe(view, h, pay);
    default:
      return true;
  }
}

export function makeTrack(index: MjrIndex, mid: string, pt: number, twccExt = 0): PlayTrack {
  const clockRate = index.header.media === 'video' ? 90000 : index.header.codec === 'pcmu' || index.header.codec === 'pcma' || index.header.codec === 'g722' ? 8000 : 48000;
  return { index, mid, pt, clockRate, pos: 0, ts0: index.count > 0 ? index.timestamps[0]! : 0, originUs: index.header.firstFrameUs, twccExt };
}

/** Average bitrate of a track over its whole length (bps; 0 when it spans no time). */
export function trackBitrate(t: PlayTrack): number {
  const idx = t.index;
  if (idx.count < 2) return 0;
  let bytes = 0;
  for (let i = 0; i < idx.count; i++) bytes += idx.lengths[i]!;
  const secs = (idx.timestamps[idx.count - 1]! - idx.timestamps[0]!) / t.clockRate;
  return secs > 0 ? (bytes * 8) / secs : 0;
}

function timeUs(t: PlayTrack, i: number): number {
  return t.originUs + ((t.index.timestamps[i]! - t.ts0) * 1e6) / t.clockRate;
}

export class Player {
  private startMs = 0;
  /** Timeline origin (µs): the first keyframe's time, or the earliest first frame. */
  private t0Us = 0;
  running = false;
  packets = 0;

  constructor(
    readonly session: PluginSession,
    readonly tracks: PlayTrack[],
  ) {
    const video = tracks.find((t) => t.index.header.media === 'video');
    if (video && video.index.count > 0) {
      const codec = video.index.header.codec;
      let k = 0;
      while (k < video.index.count && !isKeyframe(codec, video.index.bytes, video.index.offsets[k]!, video.index.lengths[k]!)) k++;
      if (k === video.index.count) k = 0; // no keyframe found: play from the start anyway
      // Back to the first packet of that frame (same timestamp).
      while (k > 0 && video.index.timestamps[k - 1] === video.index.timestamps[k]) k--;
      video.pos = k;
      this.t0Us = timeUs(video, k);
      for (const t of tracks) if (t !== video) while (t.pos < t.index.count && timeUs(t, t.pos) < this.t0Us) t.pos++;
    } else {
      this.t0Us = Math.min(...tracks.filter((t) => t.index.count > 0).map((t) => timeUs(t, 0)));
    }
  }

  start(nowMs: number): void {
    this.startMs = nowMs;
    this.running = true;
  }

  get done(): boolean {
    return this.tracks.every((t) => t.pos >= t.index.count);
  }

  /** Send every frame whose time has come. Returns false once everything was sent. */
  tick(nowMs: number, media: PluginMediaHost, scratch: Buffer): boolean {
    if (!this.running) return true;
    const elapsedUs = (nowMs - this.startMs) * 1000;
    for (const t of this.tracks) {
      const idx = t.index;
      while (t.pos < idx.count && timeUs(t, t.pos) - this.t0Us <= elapsedUs) {
        const n = this.copy(idx, t.pos, scratch, t.twccExt);
        t.pos++;
        if (n < 0) continue;
        scratch[1] = (scratch[1]! & 0x80) | (t.pt & 0x7f);
        this.packets++;
        media.relayRtp(this.session, t.mid, scratch, n);
      }
    }
    return !this.done;
  }

  /**
   * The frame's packet into `out` without its header extension block (with only a zeroed
   * transport-wide element `twccExt`, when not 0); returns its length or -1.
   */
  private copy(idx: MjrIndex, i: number, out: Buffer, twccExt: number): number {
    const off = idx.offsets[i]!;
    const len = idx.lengths[i]!;
    const b = idx.bytes;
    const h = rtpHeaderEnd(b, off, len);
    const ext = twccExt > 0 ? 8 : 0;
    if (h < 0 || len + ext > out.length) return -1;
    const fixed = 12 + (b[off]! & 0x0f) * 4;
    b.copy(out, 0, off, off + fixed);
    if (ext === 0) out[0] = out[0]! & ~0x10;
    else {
      // One-byte header block of one word: the 2-byte element and a padding byte.
      out[0] = out[0]! | 0x10;
      out[fixed] = 0xbe;
      out[fixed + 1] = 0xde;
      out[fixed + 2] = 0;
      out[fixed + 3] = 1;
      out[fixed + 4] = (twccExt << 4) | 1;
      out[fixed + 5] = 0;
      out[fixed + 6] = 0;
      out[fixed + 7] = 0;
    }
    b.copy(out, fixed + ext, off + h, off + len);
    return fixed + ext + (len - h);
  }
}
