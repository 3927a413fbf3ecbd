/**
 * VideoCall (`janus.plugin.videocall`): 1:1 calls through the gateway, as Janus's plugin of the same
 * name. A handle registers a username; `call` relays the caller's offer to the callee
 * (`incomingcall`), `accept` relays the callee's answer back (`accepted` on both sides); media then
 * flows browser -> gateway -> browser over two PeerConnections (relay.ts). Every request is answered
 * asynchronously with an event carrying its transaction; errors are `{videocall:"event",error_code,error}`
 * with Janus's codes (errors.ts).
 *
 * Requests: list, register {username}, call {username} + offer, accept + answer,
 * set {audio?, video?, bitrate?, record?, filename?, substream?, temporal?, fallback?, restart?} [+ JSEP
 * to renegotiate: the other side gets `update`], hangup {reason?}.
 * Events: registered, calling, incomingcall, accepted, update, set, hangup, simulcast, slow_link.
 */
import { VIDEOCALL_INFO } from '../catalog.js';
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
import { MjrFile, mjrSupports, type MjrMedia } from '../../recording/mjr.js';
import { PathPolicy } from '../../security/paths.js';
import { validate, VcError, VcErrorCode } from './errors.js';
import { CallRelay, type CallSide } from './relay.js';
import { answerForCaller, offerForCallee, relayUpdate } from './sdp.js';
import { VcSession } from './session.js';

const PKG = VIDEOCALL_INFO.package;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class VideoCallPlugin implements Plugin {
  readonly package = VIDEOCALL_INFO.package;
  readonly name = VIDEOCALL_INFO.name;
  readonly author = VIDEOCALL_INFO.author;
  readonly description = VIDEOCALL_INFO.description;
  readonly version = VIDEOCALL_INFO.version;
  readonly versionString = VIDEOCALL_INFO.versionString;

  private host: PluginHost | null = null;
  private media: PluginMediaHost | null = null;
  private relay: CallRelay | null = null;
  private log: Logger | null = null;
  private notifyEvents = true;
  private paths: PathPolicy = new PathPolicy();
  /** Every attached handle, in attach order (`list` answers in this order). */
  private readonly sessions = new Set<VcSession>();
  private readonly usernames = new Map<string, VcSession>();
  private readonly openFiles = new Set<MjrFile>();

  constructor(private readonly pathPolicy: PathPolicy | null = null) {}

  init(ctx: PluginInitContext): void {
    this.host = ctx.host;
    this.log = ctx.log;
    this.paths = this.pathPolicy ?? PathPolicy.fromGateway(ctx.gateway);
    const general = ctx.config.category('general') ?? {};
    const ev = general['events'];
    this.notifyEvents = !(ev === false || (typeof ev === 'string' && /^(no|false|0)$/i.test(ev)));
    if (isMediaRelayHost(ctx.host)) {
      this.media = ctx.host;
      this.relay = new CallRelay(ctx.host, {
        layerChanged: (to, what, value) => this.layerChanged(to as VcSession, what, value),
        recordRtp: (from, stream, buf, len) => {
          const f = (from as VcSession).recorders[stream.kind];
          if (f !== null) f.writeRtp(buf, len);
        },
        slowLink: (to, estimate) => this.estimateSlowLink(to as VcSession, estimate),
      });
    } else ctx.log.warn('host has no media relay: calls will carry no media');
  }

  async destroy(): Promise<void> {
    const files = [...this.openFiles];
    this.openFiles.clear();
    await Promise.allSettled(files.map((f) => f.close()));
    this.host = null;
    this.media = null;
    this.relay = null;
  }

  createSession(session: PluginSession): void {
    const st = new VcSession(session);
    session.state = st;
    this.sessions.add(st);
  }

  destroySession(session: PluginSession): void {
    const st = session.state as VcSession | undefined;
    if (!st || st.destroyed) return;
    this.hangupInternal(st, 'Remote WebRTC hangup');
    st.destroyed = true;
    this.sessions.delete(st);
    if (st.username !== null && this.usernames.get(st.username) === st) this.usernames.delete(st.username);
  }

  querySession(session: PluginSession): Record<string, unknown> {
    const st = session.state as VcSession | undefined;
    if (!st) return {};
    return {
      state: st.peer ? 'incall' : 'idle',
      ...(st.username !== null ? { username: st.username } : {}),
      ...(st.peer?.username ? { peer: st.peer.username } : {}),
      audio_active: st.audioActive,
      video_active: st.videoActive,
      ...(st.audioCodec ? { audio_codec: st.audioCodec } : {}),
      ...(st.videoCodec ? { video_codec: st.videoCodec } : {}),
      bitrate: st.bitrate,
      'peer-bitrate': st.peerBitrate,
      slowlink_count: st.slowlinkCount,
      // Portunus: the send-side estimate towards this user (transport-cc) and the REMB cap it puts on the other side.
      ...(st.estimate > 0 ? { bwe: { estimate: Math.round(st.estimate), 'peer-remb': st.peer?.rembCap ?? 0 } } : {}),
      ...(st.simulcast ? { simulcast: true, substream_target: st.inbound.targetLayer, temporal_target: st.inbound.targetTemporal } : {}),
      ...(st.recorders.audio || st.recorders.video || st.recorders.data ? { recording: this.recordingInfo(st) } : {}),
      incall: st.incall ? 1 : 0,
      hangingup: st.hangingUp ? 1 : 0,
      destroyed: st.destroyed ? 1 : 0,
    };
  }

  handleMessage(session: PluginSession, transaction: string, body: Record<string, unknown>, jsep: Jsep | null): PluginResult {
    // Like Janus: every request is queued and answered by an event with the same transaction.
    setImmediate(() => {
      try {
        this.process(session, transaction, body, jsep);
      } catch (err) {
        if (this.log) fault(this.log, 'plugin_hook', err, { plugin: PKG, handle_id: session.handleId, where: 'handleMessage' });
        this.host?.closePeerConnection(session, 'Plugin error (handleMessage)');
      }
    });
    return { kind: 'wait', hint: "I'm taking my time!" };
  }

  // ------------------------------------------------------------------ requests

  private process(session: PluginSession, transaction: string, body: Record<string, unknown>, jsep: Jsep | null): void {
    const host = this.host;
    const st = session.state as VcSession | undefined;
    if (!host || !st || st.destroyed || !session.alive) return;
    let result: Record<string, unknown> | undefined;
    try {
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new VcError(VcErrorCode.INVALID_JSON, 'JSON error: not an object');
      validate(body, [['request', 'string', true]]);
      const request = String(body['request']);
      switch (request.toLowerCase()) {
        case 'list':
          result = { list: [...this.sessions].filter((s) => s.username !== null).map((s) => s.username) };
          break;
        case 'register':
          result = this.register(st, body);
          break;
        case 'call':
          result = this.call(st, body, jsep);
          break;
        case 'accept':
          result = this.accept(st, jsep);
          break;
        case 'set':
          result = this.set(st, body, jsep);
          break;
        case 'hangup':
          result = this.hangup(st, body);
          break;
        default:
          throw new VcError(VcErrorCode.INVALID_REQUEST, `Unknown request (${request})`);
      }
    } catch (err) {
      const code = err instanceof VcError ? err.code : VcErrorCode.UNKNOWN_ERROR;
      host.pushEvent(session, transaction, { videocall: 'event', error_code: code, error: errorText(err) });
      return;
    }
    host.pushEvent(session, transaction, { videocall: 'event', ...(result !== undefined ? { result } : {}) });
  }

  private register(st: VcSession, body: Record<string, unknown>): Record<string, unknown> {
    if (st.username !== null) throw new VcError(VcErrorCode.ALREADY_REGISTERED, `Already registered (${st.username})`);
    validate(body, [['username', 'string', true]]);
    const name = body['username'] as string;
    if (this.usernames.has(name)) throw new VcError(VcErrorCode.USERNAME_TAKEN, `Username '${name}' already taken`);
    st.username = name;
    this.usernames.set(name, st);
    this.event(st, { event: 'registered', username: name });
    return { event: 'registered', username: name };
  }

  /** Errors of `call` also tear down the caller's PeerConnection attempt, as Janus does. */
  private refuseCall(st: VcSession, code: number, text: string): never {
    this.host?.closePeerConnection(st.session, text);
    throw new VcError(code, text);
  }

  private call(st: VcSession, body: Record<string, unknown>, jsep: Jsep | null): Record<string, unknown> {
    if (st.username === null) this.refuseCall(st, VcErrorCode.REGISTER_FIRST, 'Register a username first');
    if (st.peer !== null) this.refuseCall(st, VcErrorCode.ALREADY_IN_CALL, 'Already in a call');
    if (st.incall) this.refuseCall(st, VcErrorCode.ALREADY_IN_CALL, 'Already in a call (but no peer)');
    try {
      validate(body, [['username', 'string', true]]);
    } catch (err) {
      this.host?.closePeerConnection(st.session, 'Invalid call request');
      throw err;
    }
    const name = body['username'] as string;
    if (name === st.username) this.refuseCall(st, VcErrorCode.USE_ECHO_TEST, "You can't call yourself... use the EchoTest for that");
    const callee = this.usernames.get(name);
    if (callee === undefined || callee.destroyed) this.refuseCall(st, VcErrorCode.NO_SUCH_USERNAME, `Username '${name}' doesn't exist`);
    if (callee.incall || callee.peer !== null) {
      this.event(st, { event: 'hangup', reason: 'User busy' });
      this.host?.closePeerConnection(st.session, 'User busy');
      return { event: 'hangup', username: st.username, reason: 'User busy' };
    }
    if (!jsep) throw new VcError(VcErrorCode.MISSING_SDP, 'Missing SDP');
    let relayed;
    try {
      relayed = offerForCallee(jsep.sdp);
    } catch (err) {
      throw new VcError(VcErrorCode.INVALID_SDP, `Error parsing offer: ${errorText(err)}`);
    }
    st.incall = true;
    callee.incall = true;
    st.peer = callee;
    callee.peer = st;
    st.hasAudio = relayed.hasAudio;
    st.hasVideo = relayed.hasVideo;
    st.hasData = relayed.hasData;
    st.callerOffer = jsep.sdp;
    st.callerSimulcast = relayed.simulcast;
    st.simulcast = relayed.simulcast.length > 0;
    st.hangingUp = false;
    const offer: Jsep = { type: 'offer', sdp: relayed.sdp, ...(jsep.e2ee ? { e2ee: true } : {}) };
    if (!this.host!.pushEvent(callee.session, null, { videocall: 'event', result: { event: 'incomingcall', username: st.username } }, offer)) {
      this.log?.warn(`videocall: could not offer ${st.username}'s call to ${name}`);
    }
    this.event(st, { event: 'calling' });
    return { event: 'calling' };
  }

  private accept(st: VcSession, jsep: Jsep | null): Record<string, unknown> {
    const caller = st.peer;
    if (caller === null || !st.incall || !caller.incall) throw new VcError(VcErrorCode.NO_CALL, 'No incoming call to accept');
    if (!jsep) throw new VcError(VcErrorCode.MISSING_SDP, 'Missing SDP');
    let relayed;
    try {
      relayed = answerForCaller(jsep.sdp, caller.callerOffer, caller.callerSimulcast);
    } catch (err) {
      throw new VcError(VcErrorCode.INVALID_SDP, `Error parsing answer: ${errorText(err)}`);
    }
    st.hasAudio = relayed.hasAudio && relayed.audioCodec !== null;
    st.hasVideo = relayed.hasVideo && relayed.videoCodec !== null;
    st.hasData = relayed.hasData;
    st.audioCodec = caller.audioCodec = relayed.audioCodec;
    st.videoCodec = caller.videoCodec = relayed.videoCodec;
    if (relayed.audioCodec === null) caller.hasAudio = false;
    if (relayed.videoCodec === null) caller.hasVideo = false;
    st.hangingUp = false;
    const answer: Jsep = { type: 'answer', sdp: relayed.sdp, ...(jsep.e2ee ? { e2ee: true } : {}) };
    this.host!.pushEvent(caller.session, null, { videocall: 'event', result: { event: 'accepted', username: st.username } }, answer);
    caller.callerOffer = null;
    this.event(st, { event: 'accepted' });
    return { event: 'accepted' };
  }

  private set(st: VcSession, body: Record<string, unknown>, jsep: Jsep | null): Record<string, unknown> {
    validate(body, [
      ['audio', 'boolean'],
      ['video', 'boolean'],
      ['bitrate', 'positive'],
      ['record', 'boolean'],
      ['filename', 'string'],
      ['restart', 'boolean'],
    ]);
    const layer = (name: string): number | undefined => {
      const v = body[name];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > 2) throw new VcError(VcErrorCode.INVALID_ELEMENT, `Invalid value (${name} should be 0, 1 or 2)`);
      return v;
    };
    const substream = layer('substream');
    const temporal = layer('temporal');
    const fallback = body['fallback'];
    if (fallback !== undefined && (typeof fallback !== 'number' || !Number.isSafeInteger(fallback) || fallback < 0)) {
      throw new VcError(VcErrorCode.INVALID_ELEMENT, 'Invalid value (fallback should be a positive integer)');
    }
    const peer = st.peer;
    if (typeof body['audio'] === 'boolean') st.audioActive = body['audio'];
    if (typeof body['video'] === 'boolean') {
      if (!st.videoActive && body['video']) this.media?.sendPli(st.session, null);
      st.videoActive = body['video'];
    }
    if (typeof body['bitrate'] === 'number') {
      st.bitrate = body['bitrate'];
      // Within the estimate towards the other side when there is one (relay.ts updateEstimate).
      const est = peer?.estimate ?? 0;
      st.rembCap = est > 0 ? Math.round(st.bitrate > 0 ? Math.min(st.bitrate, est) : est) : 0;
      this.media?.sendRemb(st.session, st.rembCap > 0 ? st.rembCap : st.bitrate);
    }
    if (typeof fallback === 'number') st.inbound.fallbackUs = fallback;
    const firstVideo = (): { currentLayer: number; currentTemporal: number } | undefined => {
      for (const l of st.inbound.lines.values()) if (l.currentLayer >= 0 || l.currentTemporal >= 0) return l;
      return undefined;
    };
    if (substream !== undefined) {
      st.inbound.targetLayer = substream;
      const cur = firstVideo()?.currentLayer ?? -1;
      if (cur === substream) this.host?.pushEvent(st.session, null, { videocall: 'event', result: { event: 'simulcast', videocodec: st.videoCodec, substream: cur } });
      else if (peer) this.media?.sendPli(peer.session, null);
    }
    if (temporal !== undefined) {
      st.inbound.targetTemporal = temporal;
      const cur = firstVideo()?.currentTemporal ?? -1;
      if (st.videoCodec === 'vp8' && cur === temporal) this.host?.pushEvent(st.session, null, { videocall: 'event', result: { event: 'simulcast', videocodec: st.videoCodec, temporal: cur } });
      else if (peer) this.media?.sendPli(peer.session, null);
    }
    if (typeof body['record'] === 'boolean') {
      if (jsep) {
        st.hasAudio = /\bm=audio/.test(jsep.sdp);
        st.hasVideo = /\bm=video/.test(jsep.sdp);
        st.hasData = jsep.sdp.includes('DTLS/SCTP');
      }
      if (body['record']) this.startRecording(st, typeof body['filename'] === 'string' ? body['filename'] : null);
      else this.stopRecording(st);
    }
    if (this.eventsOn()) {
      const rec = st.recorders.audio || st.recorders.video || st.recorders.data ? { recording: this.recordingInfo(st) } : {};
      this.event(st, { event: 'configured', audio_active: st.audioActive, video_active: st.videoActive, bitrate: st.bitrate, ...rec });
    }
    if (body['restart'] === true && !jsep?.update) this.log?.warn("videocall: got a 'restart' request, but no SDP update: ignored");
    if (jsep?.update && peer !== null) {
      let sdp: string;
      try {
        sdp = relayUpdate(jsep.sdp);
      } catch (err) {
        throw new VcError(VcErrorCode.INVALID_SDP, `Error parsing SDP: ${errorText(err)}`);
      }
      this.host?.pushEvent(peer.session, null, { videocall: 'event', result: { event: 'update' } }, { type: jsep.type, sdp });
    }
    return { event: 'set' };
  }

  private hangup(st: VcSession, body: Record<string, unknown>): Record<string, unknown> {
    const r = body['reason'];
    const reason = typeof r === 'string' ? r : 'We did the hangup';
    const peer = st.peer;
    this.event(st, { event: 'hangup', reason: 'Explicit hangup' });
    // Unlinked first: closing the PeerConnections below ends no call any more (no second hangup event).
    if (peer !== null) this.unlink(st, peer);
    else st.incall = false;
    this.host?.closePeerConnection(st.session, 'Explicit hangup');
    if (peer !== null) {
      this.host?.pushEvent(peer.session, null, { videocall: 'event', result: { event: 'hangup', username: st.username, reason } });
      if (this.eventsOn()) this.host?.notifyEvent?.(peer.session, { event: 'hangup', reason: 'Remote hangup' });
      this.host?.closePeerConnection(peer.session, 'Remote hangup');
    }
    return { event: 'hangup', ...(st.username !== null ? { username: st.username } : {}), reason: 'Explicit hangup' };
  }

  /** Both sides back to idle: recordings closed, media state reset. */
  private unlink(a: VcSession, b: VcSession): void {
    for (const s of [a, b]) {
      if (s.peer === a || s.peer === b) s.peer = null;
      s.incall = false;
      this.stopRecording(s);
      s.resetMedia();
    }
  }

  /** The PeerConnection went away (or the handle): the call ends for both sides. */
  private hangupInternal(st: VcSession, reason: string): void {
    if (st.hangingUp) return;
    st.hangingUp = true;
    try {
      st.mediaUp = false;
      this.stopRecording(st);
      const peer = st.peer;
      if (peer !== null) {
        this.unlink(st, peer);
        this.host?.pushEvent(peer.session, null, { videocall: 'event', result: { event: 'hangup', username: st.username, reason } });
        if (this.eventsOn()) this.host?.notifyEvent?.(peer.session, { event: 'hangup', reason });
        this.host?.closePeerConnection(peer.session, reason);
      } else {
        st.incall = false;
        st.resetMedia();
      }
    } finally {
      st.hangingUp = false;
    }
  }

  /** The estimate towards `to` fell: Janus's slow_link shape, with the estimate as `current-bitrate` (as VideoRoom's auto_layers). */
  private estimateSlowLink(to: VcSession, estimate: number): void {
    if (to.destroyed || to.hangingUp) return;
    to.slowlinkCount++;
    this.host?.pushEvent(to.session, null, { videocall: 'event', result: { event: 'slow_link', media: 'video', 'current-bitrate': estimate } });
  }

  private layerChanged(to: VcSession, what: 'substream' | 'temporal', value: number): void {
    this.host?.pushEvent(to.session, null, { videocall: 'event', result: { event: 'simulcast', videocodec: to.peer?.videoCodec ?? to.videoCodec, [what]: value } });
  }

  private eventsOn(): boolean {
    return this.notifyEvents && (this.host?.eventsEnabled?.() ?? false);
  }

  private event(st: VcSession, info: Record<string, unknown>): void {
    if (this.eventsOn()) this.host?.notifyEvent?.(st.session, info);
  }

  // ------------------------------------------------------------------ recording

  private recordingInfo(st: VcSession): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of ['audio', 'video', 'data'] as const) {
      const f = st.recorders[k];
      if (f) out[k] = f.path;
    }
    return out;
  }

  /** Like Janus: `<filename>-audio.mjr` etc., or videocall-<me>-<peer>-<µs>-audio.mjr in the working directory. */
  private startRecording(st: VcSession, base: string | null): void {
    if (base !== null) {
      const problem = this.paths.pathProblem(base);
      if (problem !== null) {
        this.log?.error(`videocall: not recording ${st.username ?? '?'}: ${problem}`, { filename: base });
        return;
      }
    }
    const now = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    const prefix = base ?? `videocall-${st.username ?? 'unknown'}-${st.peer?.username ?? 'unknown'}-${now}`;
    const open = (media: MjrMedia, codec: string | null): MjrFile | null => {
      if (st.recorders[media] !== null) return st.recorders[media];
      if (codec === null || !mjrSupports(media, codec)) return null;
      const path = `${prefix}-${media}.mjr`;
      const file = new MjrFile(path, { media, codec }, {
        createFolder: false,
        onError: (err) => this.log?.error(`videocall: couldn't record ${media} of ${st.username ?? '?'} to ${path}: ${err.message}`),
      });
      this.openFiles.add(file);
      this.log?.info(`videocall: recording ${media} of ${st.username ?? '?'} to ${path}`);
      return file;
    };
    if (st.hasAudio) st.recorders.audio = open('audio', st.audioCodec);
    if (st.hasVideo) {
      const had = st.recorders.video !== null;
      st.recorders.video = open('video', st.videoCodec);
      if (!had && st.recorders.video !== null) this.media?.sendPli(st.session, null);
    }
    if (st.hasData) st.recorders.data = open('data', 'text');
  }

  private stopRecording(st: VcSession): void {
    for (const k of ['audio', 'video', 'data'] as const) {
      const f = st.recorders[k];
      if (f === null) continue;
      st.recorders[k] = null;
      this.openFiles.delete(f);
      void f.close();
      this.log?.info(`videocall: closed ${k} recording ${f.path} (${f.frames} frames)`);
    }
  }

  // ------------------------------------------------------------------ media

  setupMedia(session: PluginSession): void {
    const st = session.state as VcSession | undefined;
    if (!st || st.destroyed) return;
    st.mediaUp = true;
    st.hangingUp = false;
    // This side can receive now: have the other side start with a keyframe, and apply our own cap.
    if (st.peer !== null && st.peer.mediaUp) {
      this.media?.sendPli(st.peer.session, null);
      this.media?.sendPli(st.session, null);
    }
    if (st.bitrate > 0) this.media?.sendRemb(session, st.bitrate);
  }

  hangupMedia(session: PluginSession): void {
    const st = session.state as VcSession | undefined;
    // As in Janus, closing a PeerConnection that never came up (a refused `call`) leaves the call as it is.
    if (!st || st.destroyed || !st.mediaUp) return;
    this.hangupInternal(st, 'Remote WebRTC hangup');
  }

  incomingRtp(session: PluginSession, stream: RtpStreamInfo, buf: Buffer, len: number): void {
    const st = session.state as VcSession;
    const peer = st.peer;
    const relay = this.relay;
    if (relay === null || peer === null || !peer.mediaUp || st.hangingUp) return;
    relay.rtp(st, peer, stream, buf, len);
  }

  incomingRtcp(session: PluginSession, stream: RtpStreamInfo | null, buf: Buffer, len: number): void {
    const st = session.state as VcSession;
    const peer = st.peer;
    const relay = this.relay;
    if (relay === null || peer === null || st.hangingUp) return;
    relay.rtcp(st, peer as CallSide, stream, buf, len);
  }

  incomingData(session: PluginSession, label: string, data: Buffer, isBinary: boolean): void {
    const st = session.state as VcSession;
    const peer = st.peer;
    if (this.media === null || peer === null || !peer.dataReady || data.length === 0) return;
    st.recorders.data?.writeData(data);
    this.media.relayData(peer.session, label, isBinary ? data : data.toString('utf8'));
  }

  dataReady(session: PluginSession): void {
    const st = session.state as VcSession | undefined;
    if (st && !st.destroyed && !st.hangingUp) st.dataReady = true;
  }

  slowLink(session: PluginSession, info: SlowLinkInfo): void {
    const st = session.state as VcSession | undefined;
    if (!st || st.destroyed) return;
    st.slowlinkCount++;
    if (info.uplink) return;
    this.host?.pushEvent(session, null, {
      videocall: 'event',
      result: { event: 'slow_link', media: info.media, ...(info.media === 'video' ? { 'current-bitrate': st.bitrate } : {}) },
    });
  }
}
