/**
 * EchoTest (`janus.plugin.echotest`): everything a peer sends comes back to it. RTP is relayed back on
 * the same m-line, RTCP feedback (PLI/FIR/REMB, REMB capped by `bitrate`) is relayed back, data channel
 * text comes back prefixed with "Janus EchoTest here! You wrote: " and binary data unchanged — the
 * behaviour of Janus's own echo test, which the demo page echotest.html relies on.
 *
 * API (one unnamed request, always answered asynchronously with the request's transaction):
 *   { audio?: bool, video?: bool, bitrate?: int, keyframe?: bool, audiocodec?, videocodec?, videoprofile?,
 *     substream?, temporal?, fallback?, record?, filename?, opusred?, min_delay?, max_delay? } [+ JSEP offer]
 *   -> {"echotest":"event","result":"ok"} [+ JSEP answer]
 *   errors -> {"echotest":"event","error_code":41x,"error":"..."}
 *   when the PeerConnection goes away -> {"echotest":"event","result":"done"}
 * Not supported yet: recording (`record: true` is refused with 413), simulcast layer selection
 * (`substream`/`temporal` are accepted and ignored: layer 0 is echoed).
 */
import { ECHOTEST_INFO } from '../catalog.js';
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
import { PsfbFmt, RtcpReader, RtcpType } from '../../media/rtcp/header.js';
import { rembBitrate, rembEncode } from '../../media/rtcp/feedback.js';
import { buildAnswer, EXT, parseCodecList, type AnswerOptions, type CodecName, type CodecPreference } from '../../media/sdp/negotiate.js';
import { parseSdp } from '../../media/sdp/parse.js';
import { writeSdp } from '../../media/sdp/write.js';
import { codecNameOf, rtpmapOf } from '../../media/sdp/negotiate.js';
import type { MediaSection } from '../../media/sdp/types.js';

export const EchoTestError = {
  NO_MESSAGE: 411,
  INVALID_JSON: 412,
  INVALID_ELEMENT: 413,
  INVALID_SDP: 414,
} as const;

class EchoError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Per-handle state. */
export class EchoSession {
  hasAudio = false;
  hasVideo = false;
  hasData = false;
  audioActive = true;
  videoActive = true;
  audioCodec: string | null = null;
  videoCodec: string | null = null;
  /** REMB cap (bps), 0 = none. */
  bitrate = 0;
  /** Last REMB the peer reported. */
  peerBitrate = 0;
  slowlinkCount = 0;
  substream = 0;
  temporal = 2;
  hangingUp = false;
  destroyed = false;
}

const TEXT_PREFIX = 'Janus EchoTest here! You wrote: ';

/** Fields the request may carry, with their JSON type (Janus's request_parameters). */
const PARAMS: ReadonlyArray<[string, 'boolean' | 'string' | 'positive' | 'integer']> = [
  ['audio', 'boolean'],
  ['video', 'boolean'],
  ['bitrate', 'positive'],
  ['keyframe', 'boolean'],
  ['record', 'boolean'],
  ['filename', 'string'],
  ['substream', 'positive'],
  ['temporal', 'positive'],
  ['fallback', 'positive'],
  ['audiocodec', 'string'],
  ['videocodec', 'string'],
  ['videoprofile', 'string'],
  ['opusred', 'boolean'],
  ['min_delay', 'integer'],
  ['max_delay', 'integer'],
];

function validate(body: Record<string, unknown>): void {
  for (const [name, type] of PARAMS) {
    const v = body[name];
    if (v === undefined || v === null) continue;
    let ok: boolean;
    let what: string;
    switch (type) {
      case 'boolean':
        ok = typeof v === 'boolean';
        what = 'a boolean';
        break;
      case 'string':
        ok = typeof v === 'string';
        what = 'a string';
        break;
      case 'positive':
        ok = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
        what = 'a positive integer';
        break;
      default:
        ok = typeof v === 'number' && Number.isSafeInteger(v);
        what = 'an integer';
    }
    if (!ok) throw new EchoError(EchoTestError.INVALID_ELEMENT, `Invalid element type (${name} should be ${what})`);
  }
}

/** The offer's own codec order (the browser's preference) for an m-line. */
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

/** transport-cc and abs-send-time too: the core sends transport-wide feedback and stamps what it echoes. */
const AUDIO_EXTENSIONS = [EXT.mid, EXT.audioLevel, EXT.absSendTime, EXT.transportWideCc];
const VIDEO_EXTENSIONS = [EXT.mid, EXT.videoOrientation, EXT.playoutDelay, EXT.rid, EXT.repairedRid, EXT.absSendTime, EXT.transportWideCc];
const RTCP_FB = ['nack', 'nack pli', 'ccm fir', 'goog-remb', 'transport-cc'];

export class EchoTestPlugin implements Plugin {
  readonly package = ECHOTEST_INFO.package;
  readonly name = ECHOTEST_INFO.name;
  readonly author = ECHOTEST_INFO.author;
  readonly description = ECHOTEST_INFO.description;
  readonly version = ECHOTEST_INFO.version;
  readonly versionString = ECHOTEST_INFO.versionString;

  private host: PluginHost | null = null;
  private media: (PluginHost & PluginMediaHost) | null = null;
  private log: Logger | null = null;
  private readonly reader = new RtcpReader();

  init(ctx: PluginInitContext): void {
    this.host = ctx.host;
    this.media = isMediaRelayHost(ctx.host) ? ctx.host : null;
    this.log = ctx.log;
    if (!this.media) ctx.log.warn('host has no media relay: the echo test will not echo media');
  }

  destroy(): void {
    this.host = null;
    this.media = null;
  }

  createSession(session: PluginSession): void {
    session.state = new EchoSession();
  }

  destroySession(session: PluginSession): void {
    const st = session.state as EchoSession | undefined;
    if (st) st.destroyed = true;
  }

  querySession(session: PluginSession): Record<string, unknown> {
    const st = session.state as EchoSession | undefined;
    if (!st) return {};
    return {
      audio_active: st.audioActive,
      video_active: st.videoActive,
      ...(st.audioCodec ? { audio_codec: st.audioCodec } : {}),
      ...(st.videoCodec ? { video_codec: st.videoCodec } : {}),
      bitrate: st.bitrate,
      'peer-bitrate': st.peerBitrate,
      slowlink_count: st.slowlinkCount,
      hangingup: st.hangingUp ? 1 : 0,
      destroyed: st.destroyed ? 1 : 0,
    };
  }

  handleMessage(session: PluginSession, transaction: string, body: Record<string, unknown>, jsep: Jsep | null): PluginResult {
    // Like Janus: every request is queued and answered by an event carrying the same transaction.
    setImmediate(() => {
      try {
        this.process(session, transaction, body, jsep);
      } catch (err) {
        // Deferred out of the core's boundary: contained here, the handle is hung up.
        if (this.log) fault(this.log, 'plugin_hook', err, { plugin: 'janus.plugin.echotest', handle_id: session.handleId, where: 'handleMessage' });
        this.host?.closePeerConnection(session, 'Plugin error (handleMessage)');
      }
    });
    return { kind: 'wait', hint: "I'm taking my time!" };
  }

  private process(session: PluginSession, transaction: string, body: Record<string, unknown>, jsep: Jsep | null): void {
    const host = this.host;
    const st = session.state as EchoSession | undefined;
    if (!host || !st || !session.alive) return;
    let answer: Jsep | undefined;
    try {
      validate(body);
      if (body.record === true) throw new EchoError(EchoTestError.INVALID_ELEMENT, 'Recording is not supported');
      if (typeof body.audio === 'boolean') st.audioActive = body.audio;
      if (typeof body.video === 'boolean') st.videoActive = body.video;
      if (typeof body.substream === 'number') st.substream = body.substream;
      if (typeof body.temporal === 'number') st.temporal = body.temporal;
      if (typeof body.bitrate === 'number') {
        st.bitrate = body.bitrate;
        this.media?.sendRemb(session, st.bitrate);
      }
      if (body.keyframe === true || (body.video === true && st.hasVideo)) this.media?.sendPli(session, null);
      if (jsep) {
        if (jsep.type !== 'offer') throw new EchoError(EchoTestError.INVALID_SDP, `Unsupported SDP type '${jsep.type}'`);
        answer = this.answer(st, body, jsep.sdp);
      }
    } catch (err) {
      const code = err instanceof EchoError ? err.code : EchoTestError.INVALID_SDP;
      const msg = err instanceof Error ? err.message : String(err);
      host.pushEvent(session, transaction, { echotest: 'event', error_code: code, error: msg });
      return;
    }
    host.pushEvent(session, transaction, { echotest: 'event', result: 'ok' }, answer);
  }

  /** Answer the offer: echo every audio/video m-line back (sendrecv), accept the data channel. */
  private answer(st: EchoSession, body: Record<string, unknown>, sdp: string): Jsep {
    let offer;
    try {
      offer = parseSdp(sdp);
    } catch (err) {
      throw new EchoError(EchoTestError.INVALID_SDP, `Error parsing offer: ${err instanceof Error ? err.message : String(err)}`);
    }
    const acodec = typeof body.audiocodec === 'string' ? parseCodecList(body.audiocodec, 'audio') : [];
    const vcodec = typeof body.videocodec === 'string' ? parseCodecList(body.videocodec, 'video') : [];
    const vprofile = typeof body.videoprofile === 'string' ? body.videoprofile : undefined;
    let audioSeen = false;
    let videoSeen = false;
    const { description, results } = buildAnswer(offer, (m): AnswerOptions => {
      if (m.kind === 'audio') {
        const prefs: CodecPreference[] = acodec.length > 0 ? acodec : offeredOrder(m);
        return { codecs: prefs, direction: 'sendrecv', extensions: AUDIO_EXTENSIONS, rtcpFb: RTCP_FB, rtx: false, simulcast: false };
      }
      if (m.kind === 'video') {
        const base: CodecName[] = vcodec.length > 0 ? vcodec : offeredOrder(m);
        const prefs: CodecPreference[] = vprofile ? base.map((n) => (n === 'vp9' || n === 'h264' ? { name: n, profile: vprofile } : n)) : base;
        return { codecs: prefs, direction: 'sendrecv', extensions: VIDEO_EXTENSIONS, rtcpFb: RTCP_FB, rtx: false, simulcast: false };
      }
      return {};
    });
    st.hasAudio = false;
    st.hasVideo = false;
    st.hasData = false;
    results.forEach((r, i) => {
      const kind = offer.media[i]!.kind;
      if (r.rejected) return;
      if (kind === 'audio') {
        st.hasAudio = true;
        if (!audioSeen) st.audioCodec = r.codec?.name ?? null;
        audioSeen = true;
      } else if (kind === 'video') {
        st.hasVideo = true;
        if (!videoSeen) st.videoCodec = r.codec?.name ?? null;
        videoSeen = true;
      } else if (kind === 'application') st.hasData = true;
    });
    if (results.every((r) => r.rejected)) throw new EchoError(EchoTestError.INVALID_SDP, 'Nothing to negotiate in the offer (no common codec)');
    return { type: 'answer', sdp: writeSdp(description) };
  }

  setupMedia(session: PluginSession): void {
    const st = session.state as EchoSession | undefined;
    if (!st) return;
    st.hangingUp = false;
    this.log?.verb('WebRTC media is now available', { handle: session.handleId });
  }

  hangupMedia(session: PluginSession): void {
    const st = session.state as EchoSession | undefined;
    if (!st || st.hangingUp) return;
    st.hangingUp = true;
    st.audioActive = true;
    st.videoActive = true;
    st.bitrate = 0;
    st.peerBitrate = 0;
    st.slowlinkCount = 0;
    st.substream = 0;
    st.temporal = 2;
    if (!st.destroyed) this.host?.pushEvent(session, null, { echotest: 'event', result: 'done' });
  }

  // ------------------------------------------------------------------ packet path

  incomingRtp(session: PluginSession, stream: RtpStreamInfo, buf: Buffer, len: number): void {
    const st = session.state as EchoSession;
    const media = this.media;
    if (media === null || st.hangingUp) return;
    if (stream.kind === 'audio' ? !st.audioActive : !st.videoActive) return;
    if (stream.substream !== st.substream && stream.rid !== undefined) return;
    media.relayRtp(session, stream.mid, buf, len);
  }

  incomingRtcp(session: PluginSession, stream: RtpStreamInfo | null, buf: Buffer, len: number): void {
    const st = session.state as EchoSession;
    const media = this.media;
    if (media === null || st.hangingUp) return;
    // Cap the peer's REMB before it goes back (that is how `bitrate` limits the browser's encoder).
    let feedback = false;
    const r = this.reader.reset(buf, len);
    while (r.next()) {
      if (r.type !== RtcpType.PSFB) continue;
      feedback = true;
      if (r.count !== PsfbFmt.AFB || r.length < 20) continue;
      const br = rembBitrate(buf, r.offset, r.length);
      if (br < 0) continue;
      st.peerBitrate = br;
      if (st.bitrate > 0 && br > st.bitrate) {
        const { exp, mantissa } = rembEncode(st.bitrate);
        const o = r.offset + 17;
        buf[o] = ((exp & 0x3f) << 2) | ((mantissa >>> 16) & 0x03);
        buf[o + 1] = (mantissa >>> 8) & 0xff;
        buf[o + 2] = mantissa & 0xff;
      }
    }
    if (feedback) media.relayRtcp(session, stream ? stream.mid : null, buf, len);
  }

  incomingData(session: PluginSession, label: string, data: Buffer, isBinary: boolean): void {
    const st = session.state as EchoSession;
    const media = this.media;
    if (media === null || st.hangingUp) return;
    if (isBinary) media.relayData(session, label, data);
    else media.relayData(session, label, TEXT_PREFIX + data.toString('utf8'));
  }

  dataReady(session: PluginSession, label: string): void {
    this.log?.verb('data channel ready', { handle: session.handleId, label });
  }

  slowLink(session: PluginSession, info: SlowLinkInfo): void {
    const st = session.state as EchoSession | undefined;
    if (!st || st.hangingUp) return;
    st.slowlinkCount++;
    if (info.uplink) return; // the peer is losing what we echo: nothing we can change on our side
    // The peer's packets get lost on the way here: ask it to slow down (halve, floor 64 kbps for video).
    const current = st.bitrate > 0 ? st.bitrate : st.peerBitrate > 0 ? st.peerBitrate : 512_000;
    const next = Math.max(info.media === 'video' ? 64_000 : 16_000, Math.floor(current / 2));
    st.bitrate = next;
    this.media?.sendRemb(session, next);
    this.host?.pushEvent(session, null, { echotest: 'event', result: { status: 'slow_link', bitrate: next } });
  }
}
