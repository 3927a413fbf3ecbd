/**
 * VideoRoom recording, as Janus does it: one .mjr per published stream (audio, video, data) in the
 * room's rec_dir, named `videoroom-<room>-user-<id>-<µs>-<audio|video|data>-<mindex>` or
 * `<filename>-<type>-<mindex>` when the publisher gave a `filename`. Recorders exist while the
 * publisher records (room `record`, `configure` record, `enable_recording`) and its media is
 * negotiated; they close on record=false, unpublish/hangup, leave, kick, room destruction, detach
 * and shutdown.
 *
 * Simulcast video: like Janus, one file with the best layer, switched at keyframes (the encoder
 * keeps the first SSRC and continuous seq/ts across switches).
 */
import { isH264Keyframe } from '../../codecs/h264.js';
import { isVp8Keyframe } from '../../codecs/vp8.js';
import { isVp9Keyframe } from '../../codecs/vp9.js';
import type { RtpStreamInfo } from '../../core/plugin.js';
import { EXT } from '../../media/sdp/negotiate.js';
import { rtpHeaderLength } from '../../media/rtp/header.js';
import { MjrFile, mjrSupports, type MjrInfo } from '../../recording/mjr.js';
import type { VrContext } from './context.js';
import type { Participant } from './participant.js';
import type { PublishedStream } from './streams.js';

/** A simulcast layer silent for this long (ms) no longer holds the recording. */
const LAYER_TIMEOUT_MS = 250;

/** Every open recording of the plugin, so shutdown can flush and close them all. */
export class Recordings {
  private readonly open = new Set<MjrFile>();
  private readonly closing = new Set<Promise<void>>();

  add(f: MjrFile): void {
    this.open.add(f);
  }

  close(f: MjrFile): void {
    if (!this.open.delete(f)) return;
    const p = f.close().finally(() => this.closing.delete(p));
    this.closing.add(p);
  }

  /** Files still open (tests, diagnostics). */
  get size(): number {
    return this.open.size;
  }

  /** Close everything and wait until every file is flushed and closed. */
  async closeAll(): Promise<void> {
    for (const f of [...this.open]) this.close(f);
    await Promise.allSettled([...this.closing]);
  }

  /** Wait for the closes already started (tests). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.closing]);
  }
}

/** Per-stream recording state (on PublishedStream). */
export interface StreamRecorder {
  file: MjrFile;
  /** Simulcast: layer being recorded (-1: none yet). */
  layer: number;
}

let lastUs = 0;
/**
 * Wall clock in µs, as Janus stamps its file names; strictly increasing, so two recordings of one
 * stream started within the same microsecond (stop/start) never share a name and overwrite each other.
 */
function wallClockUs(): number {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  lastUs = us > lastUs ? us : lastUs + 1;
  return lastUs;
}

function mediaOf(ps: PublishedStream): MjrInfo['media'] {
  return ps.type;
}

/** The file name Janus would choose (without .mjr), relative to rec_dir. */
export function recordingName(me: Participant, ps: PublishedStream, nowUs: number): string {
  if (me.recordingBase !== null) return `${me.recordingBase}-${ps.type}-${ps.mindex}`;
  return `videoroom-${String(me.room.id)}-user-${String(me.id)}-${nowUs}-${ps.type}-${ps.mindex}`;
}

function infoOf(ps: PublishedStream): MjrInfo | null {
  if (ps.type === 'data') return { media: 'data', codec: 'text', ...(ps.description !== undefined ? { description: ps.description } : {}) };
  const codec = ps.codec;
  if (codec === undefined || !mjrSupports(ps.type, codec)) return null;
  const info: MjrInfo = { media: mediaOf(ps), codec };
  // Profiles matter to post-processing for these codecs; Opus/VP8 parameters do not.
  if (codec === 'h264' || codec === 'vp9' || codec === 'av1' || codec === 'h265') {
    const f = Object.entries(ps.fmtp).map(([k, v]) => `${k}=${v}`).join(';');
    if (f !== '') info.fmtp = f;
  }
  if (ps.description !== undefined) info.description = ps.description;
  if (ps.type === 'video' && ps.videoOrientExt > 0) info.extmaps = { [ps.videoOrientExt]: EXT.videoOrientation };
  return info;
}

/** Open the recorder of one stream (no-op if it has one, or cannot be recorded). */
export function startStreamRecording(ctx: VrContext, me: Participant, ps: PublishedStream): void {
  if (ps.recorder !== null || ps.disabled) return;
  const info = infoOf(ps);
  if (info === null) {
    ctx.log.warn(`videoroom: cannot record ${ps.type} stream ${ps.mid} of ${me.id} in room ${me.room.id} (codec ${ps.codec ?? 'none'})`);
    return;
  }
  const name = `${recordingName(me, ps, wallClockUs())}.mjr`;
  const dir = me.room.settings.rec_dir;
  // Without rec_dir, Janus writes relative to its working directory. Checked again here (not only at
  // the request): a symlink may have turned rec_dir into a protected folder since, and jcfg rooms'
  // rec_dir were never checked (Janus's recorder refuses protected folders too).
  const target = ctx.paths.fileIn(dir, name);
  if ('problem' in target) {
    ctx.log.error(`videoroom: not recording ${ps.type} of ${me.id} in room ${me.room.id}: ${target.problem}`, { room: me.room.id, id: me.id, rec_dir: dir, name });
    return;
  }
  const path = target.path;
  const file = new MjrFile(path, info, {
    createFolder: me.room.recDirConfigured,
    onError: (err) => ctx.log.error(`videoroom: couldn't record ${ps.type} of ${me.id} in room ${me.room.id} to ${path}: ${err.message}`, { room: me.room.id, id: me.id, path }),
  });
  ps.recorder = { file, layer: -1 };
  ctx.recordings.add(file);
  ctx.log.info(`videoroom: recording ${ps.type} of ${me.id} in room ${me.room.id} to ${path}`, { room: me.room.id, id: me.id, path });
}

/** Start recording every stream of a publisher (and ask for keyframes so the video starts decodable). */
export function startRecording(ctx: VrContext, me: Participant): void {
  for (const ps of me.media.streams) {
    const had = ps.recorder !== null;
    startStreamRecording(ctx, me, ps);
    if (!had && ps.recorder !== null && ps.type === 'video' && me.media.active) ctx.media?.sendPli(me.session, ps.mid);
  }
}

export function stopStreamRecording(ctx: VrContext, ps: PublishedStream): void {
  const r = ps.recorder;
  if (r === null) return;
  ps.recorder = null;
  ctx.recordings.close(r.file);
  ctx.log.info(`videoroom: closed ${ps.type} recording ${r.file.path} (${r.file.frames} frames)`, { path: r.file.path });
}

export function stopRecording(ctx: VrContext, streams: readonly PublishedStream[]): void {
  for (const ps of streams) stopStreamRecording(ctx, ps);
}

/**
 * Turn a publisher's recording on or off (configure `record`, enable_recording). Files open now only
 * if its media is up; otherwise when it publishes.
 */
export function setRecording(ctx: VrContext, me: Participant, on: boolean): void {
  const before = me.recordingActive;
  me.recordingActive = on;
  if (on === before) return;
  if (!on) stopRecording(ctx, me.media.streams);
  else if (me.media.active) startRecording(ctx, me);
}

// ---------------------------------------------------------------------- packet path

/** Record one RTP packet of a stream that has a recorder. Synchronous, no I/O. */
export function recordRtp(ps: PublishedStream, r: StreamRecorder, info: RtpStreamInfo, buf: Buffer, len: number, now: number): void {
  if (ps.type === 'video' && ps.simulcast) {
    const layer = ps.layerOf(info);
    if (layer !== r.layer) {
      // Move to a better layer, or off a layer that went silent, only at a keyframe of the new one.
      const current = r.layer;
      const currentAlive = current >= 0 && now - ps.lastLayerMs[current]! <= LAYER_TIMEOUT_MS;
      if (currentAlive && layer < current) return;
      if (!isKeyframe(ps, buf, len)) return;
      r.layer = layer;
    }
  }
  r.file.writeRtp(buf, len);
}

function isKeyframe(ps: PublishedStream, buf: Buffer, len: number): boolean {
  const hdr = rtpHeaderLength(buf, len);
  if (hdr < 0) return false;
  const payLen = len - hdr - (buf[0]! & 0x20 ? buf[len - 1]! : 0);
  if (payLen <= 0) return false;
  switch (ps.codec) {
    case 'vp8':
      return isVp8Keyframe(buf, hdr, payLen);
    case 'vp9':
      return isVp9Keyframe(buf, hdr, payLen);
    case 'h264':
      return isH264Keyframe(buf, hdr, payLen);
    default:
      return false;
  }
}
