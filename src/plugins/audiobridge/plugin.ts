/**
 * janus.plugin.audiobridge: an audio MCU. Rooms come from `room-<id>` categories of the plugin's jcfg
 * (or `create`); each participant's audio is decoded, mixed and sent back as a per-listener mix-minus.
 *
 * This file is the entry point: the handle lifecycle and the dispatch of requests. Synchronous ones
 * answer at once (`success` + plugindata): management.ts (rooms), rtp-forward.ts, announcements.ts,
 * recording.ts; `join`, `configure`, `changeroom`, `leave`, `hangup` are asynchronous (ack, then an
 * event with the same transaction): participants.ts, with negotiation.ts for the SDP. Errors are
 * plugin-level: `{"audiobridge":"event","error_code":48x,"error":"..."}`.
 * Media: incoming.ts (RTP in), room.ts (mixing engine, RTP out), media.ts (the host contract).
 */
import { AUDIOBRIDGE_INFO } from '../catalog.js';
import type { JanusConfig } from '../../config/types.js';
import { cfgBool, cfgString } from '../../config/values.js';
import type { Jsep } from '../../core/jsep.js';
import type { Plugin, PluginInitContext, PluginMetrics, PluginResult, PluginSession } from '../../core/plugin.js';
import { performance } from 'node:perf_hooks';
import { log as rootLog, type Logger } from '../../log.js';
import { PathPolicy } from '../../security/paths.js';
import { isPlaying, listAnnouncements, playFile, stopAllFiles, stopFile } from './announcements.js';
import { roomFromConfig } from './config.js';
import { AbContext, type Body, type Data } from './context.js';
import { AbError, AbErrorCode, errorData, validate } from './errors.js';
import { receiveRtp } from './incoming.js';
import { allowed, create, destroyRoom, edit, exists, kick, kickAll, list, listParticipants, muteRoom, muteUser } from './management.js';
import { isMediaHost, type MediaHost, type RtpStreamInfo } from './media.js';
import { negotiate } from './negotiation.js';
import { changeRoom, configure, hangupInternal, join, leave, mediaUp, resetDecoder, suspendResume } from './participants.js';
import { PlainRtpPorts } from './plain-rtp.js';
import { enableMjrs, enableRecording, mjrPath, recordingPath, startRecording } from './recording.js';
import { AbSession, type AbId, type EngineOptions, type Participant, type Room } from './room.js';
import { crossRecord, crossWorkerCall, forwardUp, keepStale, sendMeta, workerDown } from './cross-worker.js';
import type { BusMember, WorkerBus } from '../../workers/bus.js';
import { dropForwarders, listForwarders, rtpForward, staticForwarder, stopRtpForward } from './rtp-forward.js';

export const AUDIOBRIDGE_PACKAGE = AUDIOBRIDGE_INFO.package;

const ASYNC = new Set(['join', 'configure', 'changeroom', 'leave', 'hangup']);

export interface AudioBridgeOptions extends EngineOptions {
  log?: Logger;
  /** Which paths requests may name; default: from janus.jcfg's protected_folders (tests inject one). */
  paths?: PathPolicy;
}

export class AudioBridgePlugin implements Plugin, BusMember<never> {
  readonly package = AUDIOBRIDGE_INFO.package;
  readonly name = AUDIOBRIDGE_INFO.name;
  readonly author = AUDIOBRIDGE_INFO.author;
  readonly description = AUDIOBRIDGE_INFO.description;
  readonly version = AUDIOBRIDGE_INFO.version;
  readonly versionString = AUDIOBRIDGE_INFO.versionString;

  private readonly ctx: AbContext;
  /** Whether the path policy was injected (else it comes from janus.jcfg at init). */
  private readonly pathsGiven: boolean;
  /** Async requests run one at a time, in arrival order, like Janus's handler thread. */
  private queue: Promise<void> = Promise.resolve();

  constructor(opts: AudioBridgeOptions = {}) {
    const { log, paths, ...engine } = opts;
    this.ctx = new AbContext(log ?? rootLog.child({ plugin: AUDIOBRIDGE_PACKAGE }), engine, paths ?? null);
    this.pathsGiven = paths !== undefined;
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  init(init: PluginInitContext): void {
    const ctx = this.ctx;
    ctx.host = init.host;
    ctx.config = init.config;
    if (init.log) ctx.log = init.log;
    if (isMediaHost(init.host)) ctx.media = init.host;
    ctx.bus = (init.bus as WorkerBus<never> | undefined) ?? null;
    const general = init.config.category('general') ?? {};
    ctx.plainPorts = PlainRtpPorts.fromConfig(
      init.gateway as JanusConfig | undefined,
      cfgString(general['local_ip']) ?? null,
      cfgString(general['rtp_port_range']) ?? null,
      ctx.log,
    );
    // Portunus-only: `shared_encoder = false` gives every listener its own encoder (Janus's way), for
    // like-for-like benchmarks.
    const shared = cfgBool(general['shared_encoder'], true);
    if (shared === false) ctx.engine.sharedEncoder = false;
    ctx.adminKey = cfgString(general['admin_key']) ?? null;
    ctx.lockRtpForward = ctx.adminKey !== null && (cfgBool(general['lock_rtp_forward'], false) ?? false);
    ctx.lockPlayFile = ctx.adminKey !== null && (cfgBool(general['lock_play_file'], false) ?? false);
    ctx.stringIds = cfgBool(general['string_ids'], false) ?? false;
    ctx.recordTmpExt = cfgString(general['record_tmp_ext']) ?? null;
    if (!this.pathsGiven) ctx.paths = PathPolicy.fromGateway(init.gateway as JanusConfig | undefined);
    for (const name of init.config.categoryNames()) {
      if (name.toLowerCase() === 'general') continue;
      try {
        const room = roomFromConfig(ctx, name, init.config.category(name) ?? {});
        if (room) {
          room.foldersConfigured = true;
          ctx.rooms.set(room.settings.id, room);
          if (room.settings.record) startRecording(ctx, room);
          staticForwarder(ctx, room, name, init.config.category(name) ?? {}).catch((err: unknown) => {
            ctx.log.error(`Can't add the static RTP forwarder of room '${name}': ${String(err)}`);
          });
        }
      } catch (err) {
        ctx.log.error(`Can't add the AudioBridge room '${name}': ${(err as Error).message}`, { line: init.config.categoryLine(name) });
      }
    }
    ctx.log.info('JANUS AudioBridge plugin initialized!', { rooms: ctx.rooms.size });
  }

  destroy(): void {
    const ctx = this.ctx;
    for (const r of ctx.rooms.values()) {
      dropForwarders(ctx, r);
      r.destroy();
      for (const p of r.participants.values()) {
        p.closePlainRtp();
        p.closeMjr();
        p.destroyCodecs();
      }
    }
    ctx.rooms.clear();
    // Participants that left their room keep no socket, but a join still waiting for its port may.
    for (const s of ctx.sessions) s.participant?.closePlainRtp();
  }

  setMediaHost(host: MediaHost): void {
    this.ctx.media = host;
  }

  /** For tests/diagnostics. */
  getRoom(id: AbId): Room | undefined {
    return this.ctx.rooms.get(id);
  }

  /** Where a participant's .mjr goes (tests/diagnostics; see recording.ts). */
  mjrPath(p: Participant, room: Room): string {
    return mjrPath(this.ctx, p, room);
  }

  /** Where the mix of `room` is recorded (tests/diagnostics; see recording.ts). */
  recordingPath(room: Room): string {
    return recordingPath(this.ctx, room);
  }

  createSession(session: PluginSession): void {
    const s = new AbSession(session);
    session.state = s;
    this.ctx.sessions.add(s);
    this.ctx.byHandle.set(session.handleId, s);
  }

  destroySession(session: PluginSession): void {
    const s = this.stateOf(session);
    if (!s) return;
    hangupInternal(this.ctx, s);
    s.participant?.destroyCodecs();
    s.participant = null;
    this.ctx.sessions.delete(s);
    if (this.ctx.byHandle.get(session.handleId) === s) this.ctx.byHandle.delete(session.handleId);
    session.state = undefined;
  }

  /** Counts for /metrics, private rooms included; mixer lag = how far the worst running room's clock is behind now. */
  metrics(): PluginMetrics {
    let participants = 0;
    let lagMs = 0;
    const now = performance.now();
    for (const r of this.ctx.rooms.values()) {
      participants += r.participants.size;
      const c = r.clockInfo();
      if (c.running) lagMs = Math.max(lagMs, now - c.dueMs);
    }
    return { rooms: this.ctx.rooms.size, participants, mixerLagSeconds: lagMs / 1000 };
  }

  querySession(session: PluginSession): Record<string, unknown> {
    const s = this.stateOf(session);
    const info: Data = {};
    const p = s?.participant ?? null;
    info['state'] = p && p.room ? 'inroom' : 'idle';
    if (p) {
      if (p.room) info['room'] = p.room.settings.id;
      info['id'] = p.id;
      if (p.display !== null) info['display'] = p.display;
      if (p.admin) info['admin'] = true;
      info['muted'] = p.muted;
      info['active'] = !!s?.started;
      info['buffer-in'] = p.jitter?.size ?? 0;
      if (p.room?.settings.spatialAudio) info['spatial_position'] = p.spatialPosition;
      if (p.extmapId > 0) {
        info['audio-level-dBov'] = p.dBovLevel;
        info['talking'] = p.talking;
      }
      info['fec'] = p.fec;
      if (p.fec) info['expected-loss'] = p.expectedLoss;
      if (p.bitrate) info['opus-bitrate'] = p.bitrate;
      info['suspended'] = p.suspended;
    }
    if (s?.pluginOffer) info['plugin-offer'] = true;
    info['started'] = !!s?.started;
    return info;
  }


  setupMedia(session: PluginSession): void {
    const s = this.stateOf(session);
    if (s) mediaUp(this.ctx, s);
  }

  hangupMedia(session: PluginSession): void {
    const s = this.stateOf(session);
    if (!s) return;
    hangupInternal(this.ctx, s);
  }

  // ------------------------------------------------------------------------------------------ media

  incomingRtp(session: PluginSession, stream: RtpStreamInfo, packet: Buffer, len: number = packet.length): void {
    const s = session.state as AbSession | undefined;
    if (!s || stream.kind !== 'audio' || s.participant?.plain) return;
    // Its room is on another worker: the packet goes there as it is (copied into the link's batch).
    if (s.away !== null) return forwardUp(this.ctx, s, packet, len);
    // The core may reuse `packet`: keep a copy of the payload.
    receiveRtp(this.ctx, s, packet, len, false);
  }

  /** A record from a participant's other half on another media worker (cross-worker.ts; bus.ts packet lane). */
  busPacket(from: number, tag: number, meta: number, data: Buffer, offset: number, length: number): void {
    crossRecord(this.ctx, from, tag, meta, data, offset, length);
  }

  /** A lane record too old to deliver (bus.ts LANE_MAX_AGE_MS): only audio may be lost (cross-worker.ts keepStale). */
  busKeepStale(_from: number, _tag: number, meta: number): boolean {
    return keepStale(meta);
  }

  /** Main moving a participant between workers (cross-worker.ts): plugin errors come back as error data. */
  busCall(op: string, args: Data): Data {
    const handleId = args['handleId'];
    const s = typeof handleId === 'number' ? this.ctx.byHandle.get(handleId) : undefined;
    if (!s) return errorData(new AbError(AbErrorCode.UNKNOWN_ERROR, 'No session associated with this handle...'));
    try {
      return crossWorkerCall(this.ctx, s, op, args);
    } catch (err) {
      return errorData(this.asAbError(err));
    }
  }

  /** Worker `index` died (bus.ts): nothing crosses to or from it any more. */
  busDown(index: number): void {
    workerDown(this.ctx, index);
  }

  incomingRtcp(): void {
    /* Receiver reports are not used by the mixer. */
  }

  // ------------------------------------------------------------------------------------------ messages

  handleMessage(session: PluginSession, transaction: string, body: Body, jsep: Jsep | null): PluginResult | Promise<PluginResult> {
    const s = this.stateOf(session);
    if (!s) return { kind: 'ok', data: errorData(new AbError(AbErrorCode.UNKNOWN_ERROR, 'No session associated with this handle...')) };
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return { kind: 'ok', data: errorData(new AbError(AbErrorCode.INVALID_JSON, 'JSON error: not an object')) };
    }
    try {
      validate(body, [{ name: 'request', type: 'string', required: true }]);
    } catch (e) {
      return { kind: 'ok', data: errorData(e as AbError) };
    }
    const request = (body['request'] as string).toLowerCase();
    if (ASYNC.has(request)) {
      this.queue = this.queue.then(() => this.handleAsync(s, transaction, request, body, jsep)).catch((err) => {
        this.ctx.log.error('AudioBridge async request failed', { err: String(err) });
      });
      return { kind: 'wait' };
    }
    return this.sync(s, request, body).then(
      (data) => ({ kind: 'ok', data }) as PluginResult,
      (err) => ({ kind: 'ok', data: errorData(this.asAbError(err)) }) as PluginResult,
    );
  }

  async handleAdminMessage(body: Body): Promise<Record<string, unknown>> {
    try {
      validate(body, [{ name: 'request', type: 'string', required: true }]);
      return await this.sync(null, (body['request'] as string).toLowerCase(), body);
    } catch (err) {
      return errorData(this.asAbError(err));
    }
  }

  private asAbError(err: unknown): AbError {
    if (err instanceof AbError) return err;
    this.ctx.log.error('AudioBridge request failed', { err: String(err) });
    return new AbError(AbErrorCode.UNKNOWN_ERROR, (err as Error)?.message ?? String(err));
  }

  private stateOf(session: PluginSession): AbSession | undefined {
    const s = session.state;
    return s instanceof AbSession ? s : undefined;
  }


  // ------------------------------------------------------------------------------------------ sync requests

  private async sync(s: AbSession | null, request: string, body: Body): Promise<Data> {
    const ctx = this.ctx;
    switch (request) {
      case 'create':
        return create(ctx, body);
      case 'edit':
        return edit(ctx, body);
      case 'destroy':
        return destroyRoom(ctx, body);
      case 'exists':
        return exists(ctx, body);
      case 'list':
        return list(ctx, body);
      case 'allowed':
        return allowed(ctx, body);
      case 'mute':
      case 'unmute':
        return muteUser(ctx, body, request === 'mute');
      case 'mute_room':
      case 'unmute_room':
        return muteRoom(ctx, body, request === 'mute_room');
      case 'kick':
        return kick(ctx, body);
      case 'kick_all':
        return kickAll(ctx, body);
      case 'listparticipants':
        return listParticipants(ctx, body);
      case 'resetdecoder':
        return resetDecoder(s);
      case 'suspend':
      case 'resume':
        return suspendResume(ctx, s, body, request === 'suspend');
      case 'enable_recording':
        return enableRecording(ctx, body);
      case 'enable_mjrs':
        return enableMjrs(ctx, body);
      case 'rtp_forward':
        return rtpForward(ctx, body);
      case 'stop_rtp_forward':
        return stopRtpForward(ctx, body);
      case 'listforwarders':
        return listForwarders(ctx, body);
      case 'play_file':
        return playFile(ctx, body);
      case 'is_playing':
        return isPlaying(ctx, body);
      case 'stop_file':
        return stopFile(ctx, body);
      case 'stop_all_files':
        return stopAllFiles(ctx, body);
      case 'listannouncements':
        return listAnnouncements(ctx, body);
      default:
        throw new AbError(AbErrorCode.INVALID_REQUEST, `Unknown request '${String(body['request'])}'`);
    }
  }

  // ------------------------------------------------------------------------------------------ async requests

  private async handleAsync(s: AbSession, transaction: string, request: string, body: Body, jsep: Jsep | null): Promise<void> {
    if (!s.handle.alive) return;
    try {
      if (jsep && jsep.type !== 'offer' && jsep.type !== 'answer') {
        throw new AbError(AbErrorCode.INVALID_SDP, `Unsupported SDP type '${String(jsep.type)}'\n`);
      }
      let event: Data;
      let generateOffer = false;
      switch (request) {
        case 'join':
          ({ event, generateOffer } = await join(this.ctx, s, body, jsep));
          break;
        case 'configure':
          ({ event, generateOffer } = await configure(this.ctx, s, body, jsep));
          break;
        case 'changeroom':
          event = changeRoom(this.ctx, s, body);
          break;
        case 'hangup':
          this.ctx.host.closePeerConnection(s.handle, 'Janus API');
          // No PeerConnection means no hangupMedia from the core: a plain-RTP participant leaves here.
          if (s.participant?.plain) hangupInternal(this.ctx, s);
          event = { audiobridge: 'hangingup' };
          break;
        default:
          event = leave(this.ctx, s);
      }
      if (!jsep && !generateOffer) {
        this.ctx.host.pushEvent(s.handle, transaction, event);
        return;
      }
      const out = negotiate(this.ctx, s, jsep, generateOffer);
      sendMeta(this.ctx, s);
      this.ctx.host.pushEvent(s.handle, transaction, event, out);
    } catch (err) {
      this.ctx.host.pushEvent(s.handle, transaction, errorData(this.asAbError(err)));
    }
  }
}
