/**
 * Record&Play (`janus.plugin.recordplay`), as Janus's plugin of the same name: `record` a WebRTC
 * PeerConnection to .mjr files (plus the `<id>.nfo` Janus writes) in the folder `general.path` of
 * janus.plugin.recordplay.jcfg, and `play` recordings of that folder back (ours, Janus's, VideoRoom's
 * with a hand-written .nfo). `list`, `update` and `configure` are answered synchronously; `record`,
 * `play`, `start`, `stop`, `pause`, `resume` with an event carrying the transaction. Every file a
 * request leads to is a bare name inside the folder (`filename` naming a path is refused).
 */
import { RECORDPLAY_INFO } from '../catalog.js';
import { mkdirSync } from 'node:fs';
import { fault } from '../../core/fault.js';
import type { Jsep } from '../../core/jsep.js';
import {
  isMediaRelayHost,
  type Plugin,
  type PluginHost,
  type PluginInitContext,
  type PluginMediaHost,
  type PluginResult,
  type PluginSession,
  type RtpStreamInfo,
  type SlowLinkInfo,
} from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import { readMjrIndex } from '../../recording/mjr-read.js';
import { MjrFile, mjrSupports, type MjrMedia } from '../../recording/mjr.js';
import { buildAnswer, buildOffer, EXT, extmapsFor, parseCodecList, type CodecName, type CodecPreference } from '../../media/sdp/negotiate.js';
import { codecNameOf, rtpmapOf } from '../../media/sdp/negotiate.js';
import { parseSdp } from '../../media/sdp/parse.js';
import { writeSdp } from '../../media/sdp/write.js';
import type { MediaSection } from '../../media/sdp/types.js';
import { PathPolicy } from '../../security/paths.js';
import { RpError, RpErrorCode, validate } from './errors.js';
import { Library, recordingDate, type Recording } from './library.js';
import { makeTrack, Player, trackBitrate, type PlayTrack } from './player.js';
/** How often a viewer's estimate is read, and the least gap between two estimate slow_link events. */
const BWE_EVAL_MS = 500;
const SLOWLINK_EVENT_MS = 5000;

const PKG = RECORDPLAY_INFO.package;
const AUDIO_PT = 111;
const VIDEO_PT = 100;
const TICK_MS = 5;

class RpSession {
  recorder = false;
  recording: Recording | null = null;
  /**
   * The recording or playout a hang-up just ended: janus.js's stop() sends `stop` and then hangs up,
   * and the browser's DTLS close can beat the request here; its `stopped` must still name the id.
   */
  lastId: number | null = null;
  files: { audio: MjrFile | null; video: MjrFile | null; data: MjrFile | null } = { audio: null, video: null, data: null };
  /** The mids recorded (first audio and first video m-line). */
  audioMid: string | null = null;
  videoMid: string | null = null;
  paused = false;
  player: Player | null = null;
  /** Player: the estimate towards the viewer (0: unknown), the recording's average bitrate, estimate bookkeeping. */
  estimate = 0;
  recordingBps = 0;
  bweNextAt = 0;
  lastSlowLinkMs = -Infinity;
  tracks: PlayTrack[] | null = null;
  videoBitrate = 1024 * 1024;
  keyframeIntervalMs = 15000;
  lastKeyframeMs = 0;
  rembStartup = 4;
  lastRembMs = 0;
  active = false;
  hangingUp = false;
  destroyed = false;
  constructor(readonly session: PluginSession) {}
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function offeredOrder(m: MediaSection): CodecName[] {
  const out: CodecName[] = [];
  for (const f of m.formats) {
    if (!/^\d+$/.test(f)) continue;
    const map = rtpmapOf(m, Number(f));
    const name = map ? codecNameOf(map) : undefined;
    if (name && !out.includes(name)) out.push(name);
  }
  return out;
}

export class RecordPlayPlugin implements Plugin {
  readonly package = RECORDPLAY_INFO.package;
  readonly name = RECORDPLAY_INFO.name;
  readonly author = RECORDPLAY_INFO.author;
  readonly description = RECORDPLAY_INFO.description;
  readonly version = RECORDPLAY_INFO.version;
  readonly versionString = RECORDPLAY_INFO.versionString;

  private host: PluginHost | null = null;
  private media: PluginMediaHost | null = null;
  private log: Logger | null = null;
  private library: Library | null = null;
  private notifyEvents = true;
  private readonly sessions = new Set<RpSession>();
  private readonly players = new Set<RpSession>();
  private ticker: NodeJS.Timeout | null = null;
  private readonly scratch = Buffer.allocUnsafe(1600);

  constructor(private readonly pathPolicy: PathPolicy | null = null) {}

  async init(ctx: PluginInitContext): Promise<void> {
    this.host = ctx.host;
    this.log = ctx.log;
    this.media = isMediaRelayHost(ctx.host) ? ctx.host : null;
    const general = ctx.config.category('general') ?? {};
    const ev = general['events'];
    this.notifyEvents = !(ev === false || (typeof ev === 'string' && /^(no|false|0)$/i.test(ev)));
    const path = general['path'];
    if (typeof path !== 'string' || path === '') {
      ctx.log.fatal('recordplay: no recordings path (general.path) in janus.plugin.recordplay.jcfg: the plugin refuses every handle');
      return;
    }
    const policy = this.pathPolicy ?? PathPolicy.fromGateway(ctx.gateway);
    const problem = policy.pathProblem(path);
    if (problem !== null) {
      ctx.log.fatal(`recordplay: recordings path ${path} refused (${problem}): the plugin refuses every handle`);
      return;
    }
    try {
      mkdirSync(path, { recursive: true });
    } catch (err) {
      ctx.log.fatal(`recordplay: couldn't create the recordings folder ${path}: ${errorText(err)}`);
      return;
    }
    this.library = new Library(path, ctx.log);
    await this.library.update();
  }

  async destroy(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    const closing: Promise<void>[] = [];
    for (const st of this.sessions) for (const k of ['audio', 'video', 'data'] as const) if (st.files[k]) closing.push(st.files[k]!.close());
    await Promise.allSettled(closing);
    this.host = null;
    this.media = null;
  }

  createSession(session: PluginSession): void {
    if (this.library === null) throw new Error('Record&Play has no recordings folder');
    const st = new RpSession(session);
    session.state = st;
    this.sessions.add(st);
  }

  destroySession(session: PluginSession): void {
    const st = session.state as RpSession | undefined;
    if (!st || st.destroyed) return;
    this.hangup(st);
    st.destroyed = true;
    this.sessions.delete(st);
    this.players.delete(st);
  }

  querySession(session: PluginSession): Record<string, unknown> {
    const st = session.state as RpSession | undefined;
    if (!st) return {};
    return {
      type: st.recorder ? 'recorder' : st.recording ? 'player' : 'none',
      ...(st.recording ? { recording_id: st.recording.id, recording_name: st.recording.name, ...(st.recording.e2ee ? { e2ee: true } : {}) } : {}),
      // Portunus: the estimate towards a viewer (transport-cc) and what the recording needs.
      ...(st.estimate > 0 ? { bwe: { estimate: Math.round(st.estimate), 'recording-bitrate': Math.round(st.recordingBps) } } : {}),
      hangingup: st.hangingUp ? 1 : 0,
      destroyed: st.destroyed ? 1 : 0,
    };
  }

  handleAdminMessage(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return (async () => {
      try {
        validate(body, [['request', 'string', true]]);
        const request = String(body['request']);
        if (request.toLowerCase() !== 'update') throw new RpError(RpErrorCode.INVALID_REQUEST, `Unknown request '${request}'`);
        await this.library?.update();
        return { recordplay: 'ok' };
      } catch (err) {
        return { recordplay: 'event', error_code: err instanceof RpError ? err.code : RpErrorCode.UNKNOWN_ERROR, error: errorText(err) };
      }
    })();
  }

  async handleMessage(session: PluginSession, transaction: string, body: Record<string, unknown>, jsep: Jsep | null): Promise<PluginResult> {
    const st = session.state as RpSession | undefined;
    const fail = (code: number, error: string): PluginResult => ({ kind: 'ok', data: { recordplay: 'event', error_code: code, error } });
    if (!st || st.destroyed) return fail(RpErrorCode.UNKNOWN_ERROR, 'Session has already been destroyed...');
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return fail(RpErrorCode.INVALID_JSON, 'JSON error: not an object');
    try {
      validate(body, [['request', 'string', true]]);
    } catch (err) {
      return fail((err as RpError).code, errorText(err));
    }
    const request = String(body['request']).toLowerCase();
    switch (request) {
      case 'update':
        await this.library?.update();
        return { kind: 'ok', data: { recordplay: 'ok' } };
      case 'list':
        return { kind: 'ok', data: { recordplay: 'list', list: this.list() } };
      case 'configure':
        try {
          validate(body, [
            ['video-bitrate-max', 'positive'],
            ['video-keyframe-interval', 'positive'],
          ]);
        } catch (err) {
          return fail((err as RpError).code, errorText(err));
        }
        if (typeof body['video-bitrate-max'] === 'number') st.videoBitrate = body['video-bitrate-max'];
        if (typeof body['video-keyframe-interval'] === 'number') st.keyframeIntervalMs = body['video-keyframe-interval'];
        return {
          kind: 'ok',
          data: { recordplay: 'configure', status: 'ok', settings: { 'video-keyframe-interval': st.keyframeIntervalMs, 'video-bitrate-max': st.videoBitrate } },
        };
      case 'record':
      case 'play':
      case 'start':
      case 'stop':
      case 'pause':
      case 'resume':
        {
          // What `stop` stops is what was active when it was asked: janus.js sends a `hangup` right
          // after it, which may tear the session down before the queued request runs.
          const activeId = st.recording?.id ?? (request === 'stop' && st.lastId !== null ? st.lastId : undefined);
          if (request === 'stop') st.lastId = null;
          setImmediate(() => {
            this.process(st, request, transaction, body, jsep, activeId).catch((err) => {
              if (this.log) fault(this.log, 'plugin_hook', err, { plugin: PKG, handle_id: session.handleId, where: 'handleMessage' });
              this.host?.closePeerConnection(session, 'Plugin error (handleMessage)');
            });
          });
        }
        return { kind: 'wait' };
      default:
        return fail(RpErrorCode.INVALID_REQUEST, `Unknown request '${String(body['request'])}'`);
    }
  }

  private list(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const r of this.library?.recordings.values() ?? []) {
      if (!r.completed) continue;
      out.push({
        id: r.id,
        name: r.name,
        date: r.date,
        audio: r.audio !== null,
        ...(r.audioCodec ? { audio_codec: r.audioCodec } : {}),
        ...(r.opusredPt > 0 ? { audio_red: true } : {}),
        video: r.video !== null,
        ...(r.videoCodec ? { video_codec: r.videoCodec } : {}),
        data: r.data !== null,
      });
    }
    return out;
  }

  private eventsOn(): boolean {
    return this.notifyEvents && (this.host?.eventsEnabled?.() ?? false);
  }

  private notify(st: RpSession, info: Record<string, unknown>): void {
    if (this.eventsOn()) this.host?.notifyEvent?.(st.session, info);
  }

  // ------------------------------------------------------------------ asynchronous requests

  private async process(st: RpSession, request: string, transaction: string, body: Record<string, unknown>, jsep: Jsep | null, activeId: number | undefined): Promise<void> {
    const host = this.host;
    if (!host || st.destroyed || !st.session.alive) return;
    let result: Record<string, unknown> | undefined;
    let out: Jsep | undefined;
    try {
      switch (request) {
        case 'record':
          ({ result, jsep: out } = this.record(st, body, jsep));
          break;
        case 'play':
          ({ result, jsep: out } = await this.play(st, body, jsep));
          break;
        case 'start':
          if (st.tracks === null) throw new RpError(RpErrorCode.INVALID_STATE, "Not a playout session, can't start");
          if (!jsep) throw new RpError(RpErrorCode.MISSING_ELEMENT, 'Missing SDP answer');
          result = { status: 'playing' };
          if (st.recording) this.notify(st, { event: 'playing', id: st.recording.id });
          break;
        case 'stop':
          result = { status: 'stopped', ...(activeId !== undefined ? { id: activeId } : {}) };
          if (activeId !== undefined) this.notify(st, { event: 'stopped', id: activeId });
          break;
        default: {
          const pause = request === 'pause';
          if (st.recording) {
            result = { status: pause ? 'paused' : 'resumed', id: st.recording.id };
            this.notify(st, { event: pause ? 'paused' : 'resumed', id: st.recording.id });
            if (st.paused !== pause) {
              st.paused = pause;
              if (!pause) this.media?.sendPli(st.session, null);
            }
          }
        }
      }
    } catch (err) {
      const code = err instanceof RpError ? err.code : RpErrorCode.UNKNOWN_ERROR;
      host.pushEvent(st.session, transaction, { recordplay: 'event', error_code: code, error: errorText(err) });
      return;
    }
    st.hangingUp = false;
    host.pushEvent(st.session, transaction, { recordplay: 'event', ...(result !== undefined ? { result } : {}) }, out);
    // Tear the PeerConnection down after the answer: hangupMedia does the rest (files, .nfo, "done").
    if (request === 'stop') host.closePeerConnection(st.session, 'Stopped');
  }

  private record(st: RpSession, body: Record<string, unknown>, jsep: Jsep | null): { result: Record<string, unknown>; jsep: Jsep } {
    const lib = this.library!;
    if (!jsep || jsep.type !== 'offer') throw new RpError(RpErrorCode.MISSING_ELEMENT, 'Missing SDP offer');
    validate(body, [
      ['name', 'nonempty', true],
      ['id', 'positive'],
      ['filename', 'string'],
      ['audiocodec', 'string'],
      ['videocodec', 'string'],
      ['videoprofile', 'string'],
      ['opusred', 'boolean'],
      ['textdata', 'boolean'],
      ['update', 'boolean'],
    ]);
    let offer;
    try {
      offer = parseSdp(jsep.sdp);
    } catch (err) {
      throw new RpError(RpErrorCode.INVALID_SDP, `Error parsing offer: ${errorText(err)}`);
    }
    if (jsep.update) {
      if (!st.recorder || !st.recording) throw new RpError(RpErrorCode.INVALID_STATE, "Not a recording session, can't update");
    } else if (st.recorder || st.recording) {
      throw new RpError(RpErrorCode.INVALID_STATE, 'Already recording or playing');
    }
    const filename = typeof body['filename'] === 'string' ? body['filename'] : null;
    if (filename !== null && PathPolicy.nameProblem(filename) !== null) {
      throw new RpError(RpErrorCode.INVALID_ELEMENT, `Invalid filename (${PathPolicy.nameProblem(filename)})`);
    }
    let id = typeof body['id'] === 'number' ? body['id'] : 0;
    if (!jsep.update) {
      if (id > 0 && lib.recordings.has(id)) throw new RpError(RpErrorCode.RECORDING_EXISTS, `Recording ${id} already exists`);
      if (id === 0) id = lib.freshId();
    } else id = st.recording!.id;
    const acodecs: CodecPreference[] = typeof body['audiocodec'] === 'string' ? parseCodecList(body['audiocodec'], 'audio') : [];
    const vcodecs: CodecName[] = typeof body['videocodec'] === 'string' ? parseCodecList(body['videocodec'], 'video') : [];
    const vprofile = typeof body['videoprofile'] === 'string' ? body['videoprofile'] : undefined;
    let audioDone = false;
    let videoDone = false;
    const { description, results } = buildAnswer(offer, (m) => {
      const offeredDir = m.direction ?? offer.direction ?? 'sendrecv';
      if (m.kind === 'audio' && !audioDone && offeredDir !== 'recvonly' && offeredDir !== 'inactive') {
        audioDone = true;
        return { codecs: acodecs.length ? acodecs : offeredOrder(m), direction: 'recvonly', extensions: [EXT.mid, EXT.audioLevel], rtx: false, simulcast: false };
      }
      if (m.kind === 'video' && !videoDone && offeredDir !== 'recvonly' && offeredDir !== 'inactive') {
        videoDone = true;
        const base = vcodecs.length ? vcodecs : offeredOrder(m);
        const prefs: CodecPreference[] = vprofile ? base.map((n) => (n === 'vp9' || n === 'h264' ? { name: n, profile: vprofile } : n)) : base;
        return { codecs: prefs, direction: 'recvonly', extensions: [EXT.mid, EXT.videoOrientation], rtx: false, simulcast: false };
      }
      if (m.kind === 'application') return {};
      return { accept: false };
    });
    description.name = `Recording ${id}`;
    if (!jsep.update) {
      const rec: Recording = {
        id,
        name: body['name'] as string,
        date: recordingDate(),
        audio: null,
        video: null,
        data: null,
        audioCodec: null,
        audioFmtp: null,
        videoCodec: null,
        videoFmtp: null,
        opusredPt: 0,
        e2ee: jsep.e2ee === true,
        completed: false,
      };
      const base = filename ?? `rec-${id}`;
      results.forEach((r, i) => {
        const m = offer.media[i]!;
        if (r.rejected) return;
        const codec = r.codec?.name ?? null;
        const mid = m.mid ?? String(i);
        if (m.kind === 'audio' && codec && mjrSupports('audio', codec) && rec.audio === null) {
          rec.audio = `${base}-audio`;
          rec.audioCodec = codec;
          st.audioMid = mid;
          st.files.audio = this.openFile(lib, rec.audio, 'audio', codec, undefined, rec.e2ee);
        } else if (m.kind === 'video' && codec && mjrSupports('video', codec) && rec.video === null) {
          rec.video = `${base}-video`;
          rec.videoCodec = codec;
          const fmtp = codec === 'vp9' || codec === 'h264' || codec === 'av1' || codec === 'h265' ? r.codec?.fmtp?.raw : undefined;
          rec.videoFmtp = fmtp ?? null;
          st.videoMid = mid;
          st.files.video = this.openFile(lib, rec.video, 'video', codec, fmtp, rec.e2ee);
        } else if (m.kind === 'application' && rec.data === null) {
          rec.data = `${base}-data`;
          st.files.data = this.openFile(lib, rec.data, 'data', body['textdata'] === false ? 'binary' : 'text', undefined, false);
        }
      });
      if (rec.audio === null && rec.video === null) {
        this.closeFiles(st);
        throw new RpError(RpErrorCode.INVALID_SDP, 'No audio or video we can record in the offer');
      }
      st.recorder = true;
      st.recording = rec;
      st.lastId = null;
      st.paused = false;
      lib.recordings.set(id, rec);
      this.notify(st, { event: 'recording', id, audio: st.files.audio !== null, video: st.files.video !== null, data: st.files.data !== null });
    }
    return { result: { status: 'recording', id }, jsep: { type: 'answer', sdp: writeSdp(description), ...(st.recording?.e2ee ? { e2ee: true } : {}) } };
  }

  private openFile(lib: Library, base: string, media: MjrMedia, codec: string, fmtp: string | undefined, e2ee: boolean): MjrFile {
    const path = lib.path(base);
    this.log?.info(`recordplay: recording ${media} to ${path}`);
    return new MjrFile(path, { media, codec, ...(fmtp ? { fmtp } : {}), ...(e2ee ? { e2ee: true } : {}) }, {
      onError: (err) => this.log?.error(`recordplay: couldn't record ${media} to ${path}: ${err.message}`),
    });
  }

  private closeFiles(st: RpSession): Promise<void> {
    const all: Promise<void>[] = [];
    for (const k of ['audio', 'video', 'data'] as const) {
      const f = st.files[k];
      if (!f) continue;
      st.files[k] = null;
      all.push(f.close());
    }
    return Promise.allSettled(all).then(() => undefined);
  }

  private async play(st: RpSession, body: Record<string, unknown>, jsep: Jsep | null): Promise<{ result: Record<string, unknown>; jsep: Jsep }> {
    if (jsep) throw new RpError(RpErrorCode.INVALID_ELEMENT, "A play request can't contain an SDP");
    validate(body, [
      ['id', 'positive', true],
      ['restart', 'boolean'],
    ]);
    if (st.recorder || st.tracks !== null) throw new RpError(RpErrorCode.INVALID_STATE, 'Already recording or playing');
    const id = body['id'] as number;
    const rec = this.library!.recordings.get(id);
    if (!rec || !rec.completed || (rec.audioCodec === null && rec.videoCodec === null)) throw new RpError(RpErrorCode.NOT_FOUND, 'No such recording');
    const lib = this.library!;
    if (rec.closing) await rec.closing;
    let warning: string | undefined;
    const specs: Parameters<typeof buildOffer>[0][number][] = [];
    const tracks: PlayTrack[] = [];
    if (rec.audio && rec.audioCodec) {
      try {
        const idx = await readMjrIndex(lib.path(rec.audio));
        const pt = rec.audioCodec === 'pcmu' ? 0 : rec.audioCodec === 'pcma' ? 8 : rec.audioCodec === 'g722' ? 9 : AUDIO_PT;
        const mid = String(specs.length);
        specs.push({ kind: 'audio', mid, direction: 'sendonly', codec: { name: rec.audioCodec as CodecName, pt }, extensions: extmapsFor([EXT.mid]) });
        tracks.push(makeTrack(idx, mid, pt));
      } catch (err) {
        this.log?.warn(`recordplay: audio of recording ${id}: ${errorText(err)}`);
        warning = 'Broken audio file, playing video only';
      }
    }
    if (rec.video && rec.videoCodec) {
      try {
        const idx = await readMjrIndex(lib.path(rec.video));
        const mid = String(specs.length);
        const fmtp = rec.videoFmtp ? Object.fromEntries(rec.videoFmtp.split(';').filter((p) => p.includes('=')).map((p) => [p.slice(0, p.indexOf('=')).trim(), p.slice(p.indexOf('=') + 1).trim()])) : undefined;
        // Portunus: transport-cc on video (Janus 1.1.2 offers none), so the core has an estimate towards the viewer.
        const ext = extmapsFor([EXT.mid, EXT.transportWideCc]);
        specs.push({ kind: 'video', mid, direction: 'sendonly', codec: { name: rec.videoCodec as CodecName, pt: VIDEO_PT, ...(fmtp ? { fmtp } : {}), rtcpFb: ['ccm fir', 'nack', 'nack pli', 'goog-remb', 'transport-cc'] }, extensions: ext });
        tracks.push(makeTrack(idx, mid, VIDEO_PT, ext.find((e) => e.uri === EXT.transportWideCc)!.id));
      } catch (err) {
        this.log?.warn(`recordplay: video of recording ${id}: ${errorText(err)}`);
        warning = 'Broken video file, playing audio only';
      }
    }
    if (tracks.length === 0) throw new RpError(RpErrorCode.INVALID_RECORDING, 'Error opening recording files');
    const offer = buildOffer(specs, { sessionName: `Recording ${id}` });
    st.recording = rec;
    st.recorder = false;
    st.tracks = tracks;
    st.estimate = st.recordingBps = st.bweNextAt = 0;
    st.lastSlowLinkMs = -Infinity;
    this.notify(st, { event: 'playout', id, audio: tracks.some((t) => t.index.header.media === 'audio'), video: tracks.some((t) => t.index.header.media === 'video'), data: false });
    return { result: { status: 'preparing', id, ...(warning ? { warning } : {}) }, jsep: { type: 'offer', sdp: writeSdp(offer), ...(rec.e2ee ? { e2ee: true } : {}) } };
  }

  // ------------------------------------------------------------------ media

  setupMedia(session: PluginSession): void {
    const st = session.state as RpSession | undefined;
    if (!st || st.destroyed) return;
    st.active = true;
    st.hangingUp = false;
    if (st.recorder) {
      st.rembStartup = 4;
      this.media?.sendPli(session, null);
      st.lastKeyframeMs = performance.now();
      return;
    }
    if (st.tracks !== null && this.media !== null) {
      st.player = new Player(session, st.tracks);
      st.player.start(performance.now());
      this.players.add(st);
      this.ticker ??= setInterval(() => this.tick(), TICK_MS);
    }
  }

  /**
   * The estimate towards a viewer (transport-cc, Portunus only): read twice a second, shown in
   * handle_info, and told as slow_link (at most every 5 s, `current-bitrate` = the estimate, as
   * VideoRoom's auto_layers does) while it is below what the recording needs. A file cannot be sent
   * at a lower rate: the application decides what to do (stop, pick another recording).
   */
  private updateEstimate(st: RpSession, media: PluginMediaHost, now: number): void {
    st.bweNextAt = now + BWE_EVAL_MS;
    if (st.recordingBps === 0 && st.tracks !== null) for (const t of st.tracks) st.recordingBps += trackBitrate(t);
    const est = media.bandwidthEstimate?.(st.session, st.recordingBps * 1.3) ?? 0;
    st.estimate = est;
    if (est <= 0 || est >= st.recordingBps || now - st.lastSlowLinkMs < SLOWLINK_EVENT_MS) return;
    st.lastSlowLinkMs = now;
    this.host?.pushEvent(st.session, null, { recordplay: 'event', result: { status: 'slow_link', media: 'video', 'current-bitrate': Math.round(est), uplink: 1 } });
  }

  /** The playout clock: every active player sends what is due; a finished one ends its PeerConnection. */
  private tick(): void {
    const media = this.media;
    if (media === null) return;
    const now = performance.now();
    for (const st of this.players) {
      const p = st.player;
      if (p === null || st.hangingUp) {
        this.players.delete(st);
        continue;
      }
      if (now >= st.bweNextAt) this.updateEstimate(st, media, now);
      let more: boolean;
      try {
        more = p.tick(now, media, this.scratch);
      } catch (err) {
        if (this.log) fault(this.log, 'plugin_hook', err, { plugin: PKG, handle_id: st.session.handleId, where: 'playout' });
        more = false;
      }
      if (!more) {
        this.players.delete(st);
        this.host?.closePeerConnection(st.session, 'Playout finished');
      }
    }
    if (this.players.size === 0 && this.ticker !== null) {
      clearInterval(this.ticker);
      this.ticker = null;
    }
  }

  hangupMedia(session: PluginSession): void {
    const st = session.state as RpSession | undefined;
    if (!st || st.destroyed) return;
    this.hangup(st);
  }

  private hangup(st: RpSession): void {
    if (st.hangingUp) return;
    const had = st.active || st.recording !== null;
    st.active = false;
    st.hangingUp = true;
    try {
      if (had) this.host?.pushEvent(st.session, null, { recordplay: 'event', result: 'done' });
      this.players.delete(st);
      st.player = null;
      st.tracks = null;
      const rec = st.recording;
      const wasRecorder = st.recorder;
      const closed = this.closeFiles(st);
      if (wasRecorder && rec !== null && this.library !== null) {
        // Listed (and playable) at once, as in Janus; a playout waits for the files to be flushed.
        const lib = this.library;
        rec.completed = true;
        rec.closing = closed.then(() => lib.complete(rec)).finally(() => delete rec.closing);
      }
      st.lastId = rec?.id ?? null;
      st.recording = null;
      st.recorder = false;
      st.audioMid = null;
      st.videoMid = null;
      st.paused = false;
    } finally {
      st.hangingUp = false;
    }
  }

  incomingRtp(session: PluginSession, stream: RtpStreamInfo, buf: Buffer, len: number): void {
    const st = session.state as RpSession;
    if (!st.recorder || st.paused || st.hangingUp) return;
    if (stream.substream !== 0) return; // simulcast: the first layer is the one recorded
    if (stream.kind === 'audio') {
      if (stream.mid === st.audioMid) st.files.audio?.writeRtp(buf, len);
      return;
    }
    if (stream.mid !== st.videoMid) return;
    st.files.video?.writeRtp(buf, len);
    // Keep the sender's encoder where we want it: REMB at start (ramping up) and every 5 s, and a
    // keyframe every video-keyframe-interval.
    const now = performance.now();
    const media = this.media;
    if (media === null) return;
    if (st.rembStartup > 0 || now - st.lastRembMs >= 5000) {
      const br = st.rembStartup > 0 ? Math.floor(st.videoBitrate / st.rembStartup--) : st.videoBitrate;
      media.sendRemb(session, br);
      st.lastRembMs = now;
    }
    if (st.keyframeIntervalMs > 0 && now - st.lastKeyframeMs >= st.keyframeIntervalMs) {
      media.sendPli(session, null);
      st.lastKeyframeMs = now;
    }
  }

  incomingData(session: PluginSession, _label: string, data: Buffer): void {
    const st = session.state as RpSession;
    if (!st.recorder || st.paused || st.hangingUp || data.length === 0) return;
    st.files.data?.writeData(data);
  }

  slowLink(session: PluginSession, info: SlowLinkInfo): void {
    const st = session.state as RpSession | undefined;
    if (!st || st.destroyed) return;
    this.host?.pushEvent(session, null, {
      recordplay: 'event',
      result: { status: 'slow_link', media: info.media, ...(info.media === 'video' ? { 'current-bitrate': st.videoBitrate } : {}), uplink: info.uplink ? 0 : 1 },
    });
  }
}
