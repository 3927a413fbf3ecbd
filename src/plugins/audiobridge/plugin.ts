/**
 * janus.plugin.audiobridge: an audio MCU. Rooms come from `room-<id>` categories of the plugin's jcfg
 * (or `create`); each participant's audio is decoded, mixed and sent back as a per-listener mix-minus.
 *
 * Requests: synchronous ones answer at once (`success` + plugindata), `join`, `configure`, `changeroom`,
 * `leave`, `hangup` are asynchronous (ack, then an event with the same transaction). Errors are
 * plugin-level: `{"audiobridge":"event","error_code":48x,"error":"..."}`.
 * Media: see media.ts (incomingRtp / sendRtp) and room.ts (mixing engine).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { CfgValue, JanusConfig } from '../../config/types.js';
import { cfgBool, cfgInt, cfgString, cfgStringList } from '../../config/values.js';
import type { Jsep } from '../../core/jsep.js';
import type { JcfgDocument, Plugin, PluginHost, PluginInitContext, PluginMetrics, PluginResult, PluginSession } from '../../core/plugin.js';
import { performance } from 'node:perf_hooks';
import { log as rootLog, type Logger } from '../../log.js';
import { readAudioLevel } from '../../media/rtp/extensions.js';
import { rtpHeaderLength, rtpPayloadType, rtpSeq, rtpTimestamp, rtpPaddingLength } from '../../media/rtp/header.js';
import { AbError, AbErrorCode, checkSecret, errorData, validate, type ParamSpec } from './errors.js';
import { isMediaHost, type MediaHost, type RtpStreamInfo } from './media.js';
import { AbSession, Participant, Room, type AbCodec, type AbId, type EngineOptions, type RoomSettings } from './room.js';
import { PlainRtpPorts, type PlainRtpEndpoint, type PlainRtpRemote } from './plain-rtp.js';
import { forwarderSrtpContext, resolveForwardHost, type ForwardCodec, type ForwarderSpec, type ForwarderSrtp } from './forwarder.js';
import { buildAudioAnswer, buildAudioOffer, parseOffer, readAnswer } from './sdp.js';
import { Announcement, AnnouncementFileError, loadAnnouncementFile } from './announcement.js';
import { PathPolicy } from '../../security/paths.js';
import { MjrFile } from '../../recording/mjr.js';

export const AUDIOBRIDGE_PACKAGE = 'janus.plugin.audiobridge';
const RATES = [8000, 12000, 16000, 24000, 48000];
const MAX_GROUPS = 5;
const DEFAULT_COMPLEXITY = 4;

type Body = Record<string, unknown>;
type Data = Record<string, unknown>;

const CREATE_PARAMS: ParamSpec[] = [
  { name: 'description', type: 'string' },
  { name: 'secret', type: 'string' },
  { name: 'pin', type: 'string' },
  { name: 'is_private', type: 'boolean' },
  { name: 'allowed', type: 'array' },
  { name: 'sampling_rate', type: 'positive' },
  { name: 'sampling', type: 'positive' },
  { name: 'spatial_audio', type: 'boolean' },
  { name: 'record', type: 'boolean' },
  { name: 'record_file', type: 'string' },
  { name: 'record_dir', type: 'string' },
  { name: 'mjrs', type: 'boolean' },
  { name: 'mjrs_dir', type: 'string' },
  { name: 'allow_rtp_participants', type: 'boolean' },
  { name: 'permanent', type: 'boolean' },
  { name: 'audiolevel_ext', type: 'boolean' },
  { name: 'audiolevel_event', type: 'boolean' },
  { name: 'audio_active_packets', type: 'positive' },
  { name: 'audio_level_average', type: 'positive' },
  { name: 'default_expectedloss', type: 'positive' },
  { name: 'default_bitrate', type: 'positive' },
  { name: 'denoise', type: 'boolean' },
  { name: 'groups', type: 'array' },
];
const EDIT_PARAMS: ParamSpec[] = [
  { name: 'secret', type: 'string' },
  { name: 'new_description', type: 'string' },
  { name: 'new_secret', type: 'string' },
  { name: 'new_pin', type: 'string' },
  { name: 'new_is_private', type: 'boolean' },
  { name: 'new_record_dir', type: 'string' },
  { name: 'new_mjrs_dir', type: 'string' },
  { name: 'permanent', type: 'boolean' },
];
const JOIN_PARAMS: ParamSpec[] = [
  { name: 'display', type: 'string' },
  { name: 'token', type: 'string' },
  { name: 'group', type: 'string' },
  { name: 'muted', type: 'boolean' },
  { name: 'suspended', type: 'boolean' },
  { name: 'pause_events', type: 'boolean' },
  { name: 'codec', type: 'string' },
  { name: 'bitrate', type: 'positive' },
  { name: 'quality', type: 'positive' },
  { name: 'expected_loss', type: 'positive' },
  { name: 'volume', type: 'positive' },
  { name: 'spatial_position', type: 'positive' },
  { name: 'audio_level_average', type: 'positive' },
  { name: 'audio_active_packets', type: 'positive' },
  { name: 'denoise', type: 'boolean' },
  { name: 'record', type: 'boolean' },
  { name: 'filename', type: 'string' },
  { name: 'generate_offer', type: 'boolean' },
  { name: 'rtp', type: 'object' },
  { name: 'secret', type: 'string' },
];
const CONFIGURE_PARAMS: ParamSpec[] = [
  { name: 'muted', type: 'boolean' },
  { name: 'bitrate', type: 'positive' },
  { name: 'quality', type: 'positive' },
  { name: 'expected_loss', type: 'positive' },
  { name: 'volume', type: 'positive' },
  { name: 'group', type: 'string' },
  { name: 'spatial_position', type: 'positive' },
  { name: 'denoise', type: 'boolean' },
  { name: 'record', type: 'boolean' },
  { name: 'filename', type: 'string' },
  { name: 'display', type: 'string' },
  { name: 'generate_offer', type: 'boolean' },
  { name: 'update', type: 'boolean' },
];
const RTP_PARAMS: ParamSpec[] = [
  { name: 'ip', type: 'string' },
  { name: 'port', type: 'positive' },
  { name: 'payload_type', type: 'positive' },
  { name: 'audiolevel_ext', type: 'positive' },
  { name: 'fec', type: 'boolean' },
];
const SECRET_PARAMS: ParamSpec[] = [{ name: 'secret', type: 'string' }];
const RTP_FORWARD_PARAMS: ParamSpec[] = [
  { name: 'group', type: 'string' },
  { name: 'ssrc', type: 'positive' },
  { name: 'codec', type: 'string' },
  { name: 'ptype', type: 'positive' },
  { name: 'port', type: 'positive', required: true },
  { name: 'host', type: 'string', required: true },
  { name: 'host_family', type: 'string' },
  { name: 'srtp_suite', type: 'positive' },
  { name: 'srtp_crypto', type: 'string' },
  { name: 'always_on', type: 'boolean' },
];
const STOP_RTP_FORWARD_PARAMS: ParamSpec[] = [{ name: 'stream_id', type: 'positive', required: true }];
const ADMIN_KEY_PARAMS: ParamSpec[] = [{ name: 'admin_key', type: 'string', required: true }];
const ALLOWED_PARAMS: ParamSpec[] = [
  { name: 'secret', type: 'string' },
  { name: 'action', type: 'string', required: true },
  { name: 'allowed', type: 'array' },
];
const SUSPEND_PARAMS: ParamSpec[] = [
  { name: 'pause_events', type: 'boolean' },
  { name: 'stop_record', type: 'boolean' },
];
const RESUME_PARAMS: ParamSpec[] = [
  { name: 'record', type: 'boolean' },
  { name: 'filename', type: 'string' },
];
const RECORD_PARAMS: ParamSpec[] = [
  { name: 'record', type: 'boolean', required: true },
  { name: 'record_file', type: 'string' },
  { name: 'record_dir', type: 'string' },
];

const PLAY_FILE_PARAMS: ParamSpec[] = [
  { name: 'secret', type: 'string' },
  { name: 'group', type: 'string' },
  { name: 'file_id', type: 'string' },
  { name: 'filename', type: 'string', required: true },
  { name: 'loop', type: 'boolean' },
];
const FILE_ID_PARAMS: ParamSpec[] = [
  { name: 'secret', type: 'string' },
  { name: 'file_id', type: 'string', required: true },
];

const MJRS_PARAMS: ParamSpec[] = [
  { name: 'secret', type: 'string' },
  { name: 'mjrs', type: 'boolean', required: true },
  { name: 'mjrs_dir', type: 'string' },
];

const ASYNC = new Set(['join', 'configure', 'changeroom', 'leave', 'hangup']);

/** A forwarder's payload type when the request names none. */
function defaultPtype(codec: ForwardCodec): number {
  return codec === 'pcmu' ? 0 : codec === 'pcma' ? 8 : 100;
}

function random53(): number {
  const n = Number(randomBytes(8).readBigUInt64BE() & 0x1fffffffffffffn);
  return n === 0 ? 1 : n;
}

export interface AudioBridgeOptions extends EngineOptions {
  log?: Logger;
  /** Which paths requests may name; default: from janus.jcfg's protected_folders (tests inject one). */
  paths?: PathPolicy;
}

export class AudioBridgePlugin implements Plugin {
  readonly package = AUDIOBRIDGE_PACKAGE;
  readonly name = 'JANUS AudioBridge plugin';
  readonly author = 'Meetecho s.r.l.';
  readonly description = 'This is a plugin implementing an audio conference bridge for Janus, mixing Opus streams.';
  readonly version = 13;
  readonly versionString = '0.0.13';

  private host!: PluginHost;
  private media: MediaHost | null = null;
  private config!: JcfgDocument;
  private log: Logger;
  private readonly engine: EngineOptions;
  private readonly rooms = new Map<AbId, Room>();
  private readonly sessions = new Set<AbSession>();
  private adminKey: string | null = null;
  private lockRtpForward = false;
  private lockPlayFile = false;
  private stringIds = false;
  private recordTmpExt: string | null = null;
  private paths: PathPolicy | null = null;
  /** Async requests run one at a time, in arrival order, like Janus's handler thread. */
  private queue: Promise<void> = Promise.resolve();
  /** Sockets of plain-RTP participants (set up in init). */
  private plainPorts: PlainRtpPorts | null = null;
  /** Forwarder stream ids in use, over all rooms (Janus keeps them unique per plugin). */
  private readonly streamIds = new Set<number>();

  constructor(opts: AudioBridgeOptions = {}) {
    this.log = opts.log ?? rootLog.child({ plugin: AUDIOBRIDGE_PACKAGE });
    const { log: _l, paths, ...engine } = opts;
    this.engine = engine;
    this.paths = paths ?? null;
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  init(ctx: PluginInitContext): void {
    this.host = ctx.host;
    this.config = ctx.config;
    if (ctx.log) this.log = ctx.log;
    if (isMediaHost(ctx.host)) this.media = ctx.host;
    const general = ctx.config.category('general') ?? {};
    this.plainPorts = PlainRtpPorts.fromConfig(
      ctx.gateway as JanusConfig | undefined,
      cfgString(general['local_ip']) ?? null,
      cfgString(general['rtp_port_range']) ?? null,
      this.log,
    );
    // Portunus-only: `shared_encoder = false` gives every listener its own encoder (Janus's way), for
    // like-for-like benchmarks.
    const shared = cfgBool(general['shared_encoder'], true);
    if (shared === false) this.engine.sharedEncoder = false;
    this.adminKey = cfgString(general['admin_key']) ?? null;
    this.lockRtpForward = this.adminKey !== null && (cfgBool(general['lock_rtp_forward'], false) ?? false);
    this.lockPlayFile = this.adminKey !== null && (cfgBool(general['lock_play_file'], false) ?? false);
    this.stringIds = cfgBool(general['string_ids'], false) ?? false;
    this.recordTmpExt = cfgString(general['record_tmp_ext']) ?? null;
    if (this.paths === null) this.paths = PathPolicy.fromGateway(ctx.gateway as JanusConfig | undefined);
    for (const name of ctx.config.categoryNames()) {
      if (name.toLowerCase() === 'general') continue;
      try {
        const room = this.roomFromConfig(name, ctx.config.category(name) ?? {});
        if (room) {
          room.foldersConfigured = true;
          this.rooms.set(room.settings.id, room);
          if (room.settings.record) this.startRecording(room);
          this.staticForwarder(room, name, ctx.config.category(name) ?? {}).catch((err: unknown) => {
            this.log.error(`Can't add the static RTP forwarder of room '${name}': ${String(err)}`);
          });
        }
      } catch (err) {
        this.log.error(`Can't add the AudioBridge room '${name}': ${(err as Error).message}`, { line: ctx.config.categoryLine(name) });
      }
    }
    this.log.info('JANUS AudioBridge plugin initialized!', { rooms: this.rooms.size });
  }

  destroy(): void {
    for (const r of this.rooms.values()) {
      this.dropForwarders(r);
      r.destroy();
      for (const p of r.participants.values()) {
        p.closePlainRtp();
        p.closeMjr();
        p.destroyCodecs();
      }
    }
    this.rooms.clear();
    // Participants that left their room keep no socket, but a join still waiting for its port may.
    for (const s of this.sessions) s.participant?.closePlainRtp();
  }

  setMediaHost(host: MediaHost): void {
    this.media = host;
  }

  /** For tests/diagnostics. */
  getRoom(id: AbId): Room | undefined {
    return this.rooms.get(id);
  }

  createSession(session: PluginSession): void {
    const s = new AbSession(session);
    session.state = s;
    this.sessions.add(s);
  }

  destroySession(session: PluginSession): void {
    const s = this.stateOf(session);
    if (!s) return;
    this.hangupInternal(s);
    s.participant?.destroyCodecs();
    s.participant = null;
    this.sessions.delete(s);
    session.state = undefined;
  }

  /** Counts for /metrics, private rooms included; mixer lag = how far the worst running room's clock is behind now. */
  metrics(): PluginMetrics {
    let participants = 0;
    let lagMs = 0;
    const now = performance.now();
    for (const r of this.rooms.values()) {
      participants += r.participants.size;
      const c = r.clockInfo();
      if (c.running) lagMs = Math.max(lagMs, now - c.dueMs);
    }
    return { rooms: this.rooms.size, participants, mixerLagSeconds: lagMs / 1000 };
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
    if (s) this.mediaUp(s);
  }

  /** Media flows (PeerConnection up, or a plain-RTP participant's first packet): others see `setup`. */
  private mediaUp(s: AbSession): void {
    if (!s.participant) return;
    s.started = true;
    const p = s.participant;
    const room = p.room;
    if (!room) return;
    this.notify(room, { audiobridge: 'event', room: room.settings.id, participants: [this.participantJson(p, room, { setup: true })] }, p);
  }

  hangupMedia(session: PluginSession): void {
    const s = this.stateOf(session);
    if (!s) return;
    this.hangupInternal(s);
  }

  /** The PeerConnection is gone: the participant leaves its room (others get `leaving`). */
  private hangupInternal(s: AbSession): void {
    s.started = false;
    s.pluginOffer = false;
    const p = s.participant;
    if (!p) return;
    p.closePlainRtp();
    const room = p.room;
    if (room) {
      this.notify(room, { audiobridge: 'event', room: room.settings.id, leaving: p.id }, p);
      room.remove(p);
    }
    p.clearQueues();
  }

  // ------------------------------------------------------------------------------------------ media

  incomingRtp(session: PluginSession, stream: RtpStreamInfo, packet: Buffer, len: number = packet.length): void {
    const s = session.state as AbSession | undefined;
    if (!s || stream.kind !== 'audio' || s.participant?.plain) return;
    // The core may reuse `packet`: keep a copy of the payload.
    this.receiveRtp(s, packet, len, false);
  }

  /** A datagram on a plain-RTP participant's socket (already checked to look like RTP). */
  private plainRtpIn(s: AbSession, packet: Buffer, len: number): void {
    const p = s.participant;
    if (!p?.plain || !p.room) return;
    if (!s.started) this.mediaUp(s);
    // dgram gives every datagram a Buffer of its own: the payload can be kept without a copy.
    this.receiveRtp(s, packet, len, true);
  }

  /**
   * The one RTP input path, WebRTC and plain RTP alike: payload-type and header checks, audio level,
   * then the payload into the jitter buffer (`owned`: `packet` is ours to keep, else it is copied).
   */
  private receiveRtp(s: AbSession, packet: Buffer, len: number, owned: boolean): void {
    const p = s.participant;
    if (!p || !s.started || !p.room || !p.jitter) return;
    const room = p.room;
    if (p.muted || p.suspended || (room.muted && !p.admin)) return;
    if (len > packet.length) return;
    const hl = rtpHeaderLength(packet, len);
    if (hl < 0) return;
    const pt = rtpPayloadType(packet);
    if ((p.codec === 'pcmu' && pt !== 0) || (p.codec === 'pcma' && pt !== 8)) return;
    if (p.codec === 'opus' && p.pt >= 0 && pt !== p.pt) return;
    const end = len - rtpPaddingLength(packet, len);
    if (end <= hl) return;
    // The packet as received (MjrFile copies it into its own buffer; no I/O here).
    p.mjr?.writeRtp(packet, len);
    if (p.extmapId > 0) this.audioLevel(p, room, readAudioLevel(packet, len, p.extmapId));
    const payload = owned ? packet.subarray(hl, end) : Buffer.from(packet.subarray(hl, end));
    p.jitter.put(rtpSeq(packet), rtpTimestamp(packet), payload);
  }

  incomingRtcp(): void {
    /* Receiver reports are not used by the mixer. */
  }

  /** Talk detection from the RFC 6464 level: average over audio_active_packets vs audio_level_average. */
  private audioLevel(p: Participant, room: Room, raw: number): void {
    if (raw < 0) return;
    const level = raw & 0x7f;
    p.dBovLevel = level;
    if (!room.settings.audiolevelEvent) return;
    const packets = p.userActivePackets > 0 ? p.userActivePackets : room.settings.audioActivePackets;
    const average = p.userLevelAverage > 0 ? p.userLevelAverage : room.settings.audioLevelAverage;
    p.dBovSum += level;
    p.activePackets++;
    if (p.activePackets < packets) return;
    const talking = p.dBovSum / p.activePackets < average;
    p.activePackets = 0;
    p.dBovSum = 0;
    if (talking === p.talking) return;
    p.talking = talking;
    this.notify(room, { audiobridge: talking ? 'talking' : 'stopped-talking', room: room.settings.id, id: p.id }, null);
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
        this.log.error('AudioBridge async request failed', { err: String(err) });
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
    this.log.error('AudioBridge request failed', { err: String(err) });
    return new AbError(AbErrorCode.UNKNOWN_ERROR, (err as Error)?.message ?? String(err));
  }

  private stateOf(session: PluginSession): AbSession | undefined {
    const s = session.state;
    return s instanceof AbSession ? s : undefined;
  }

  // ------------------------------------------------------------------------------------------ ids

  /** A room/participant ID from a request. string_ids accepts a non-negative integer room as its decimal string. */
  private parseId(body: Body, name: string, required: boolean): AbId | undefined {
    const v = body[name];
    if (v === undefined || v === null) {
      if (required) throw new AbError(AbErrorCode.MISSING_ELEMENT, `Missing mandatory element (${name})`);
      return undefined;
    }
    if (this.stringIds) {
      if (typeof v === 'string') return v;
      if (name === 'room' && typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
      throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be a string)`);
    }
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
    throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be a positive integer)`);
  }

  private findRoom(id: AbId): Room {
    const r = this.rooms.get(id);
    if (!r || r.destroyed) throw new AbError(AbErrorCode.NO_SUCH_ROOM, `No such room (${String(id)})`);
    return r;
  }

  /** `room` required + lookup. */
  private roomOf(body: Body): Room {
    return this.findRoom(this.parseId(body, 'room', true)!);
  }

  private userOf(room: Room, body: Body): Participant {
    const id = this.parseId(body, 'id', true)!;
    const p = room.participants.get(id);
    if (!p) throw new AbError(AbErrorCode.NO_SUCH_USER, `No such user ${String(id)} in room ${room.idString}`);
    return p;
  }

  private randomId(taken: (id: AbId) => boolean): AbId {
    for (;;) {
      const id: AbId = this.stringIds ? randomUUID() : random53();
      if (!taken(id)) return id;
    }
  }

  // ------------------------------------------------------------------------------------------ events

  /** Push an unsolicited event to every participant of `room` except `except` (and those with paused events). */
  private notify(room: Room, data: Data, except: Participant | null): void {
    for (const q of room.participants.values()) {
      if (q === except || q.pausedEvents) continue;
      this.host.pushEvent(q.session.handle, null, data);
    }
  }

  private participantJson(p: Participant, room: Room, opts: { setup?: boolean; talking?: boolean } = {}): Data {
    const o: Data = { id: p.id };
    if (p.display !== null) o['display'] = p.display;
    o['setup'] = opts.setup ?? p.session.started;
    o['muted'] = p.muted;
    if (opts.talking && p.extmapId > 0) o['talking'] = p.talking;
    if (room.settings.spatialAudio) o['spatial_position'] = p.spatialPosition;
    if (p.suspended) o['suspended'] = true;
    return o;
  }

  private othersJson(room: Room, me: Participant): Data[] {
    const list: Data[] = [];
    for (const q of room.participants.values()) if (q !== me) list.push(this.participantJson(q, room, { talking: true }));
    return list;
  }

  // ------------------------------------------------------------------------------------------ sync requests

  private async sync(s: AbSession | null, request: string, body: Body): Promise<Data> {
    switch (request) {
      case 'create':
        return this.create(body);
      case 'edit':
        return this.edit(body);
      case 'destroy':
        return this.destroyRoom(body);
      case 'exists': {
        const id = this.parseId(body, 'room', true)!;
        return { audiobridge: 'success', room: id, exists: this.rooms.has(id) };
      }
      case 'list':
        return this.list(body);
      case 'allowed':
        return this.allowed(body);
      case 'mute':
      case 'unmute':
        return this.muteUser(body, request === 'mute');
      case 'mute_room':
      case 'unmute_room':
        return this.muteRoom(body, request === 'mute_room');
      case 'kick':
        return this.kick(body);
      case 'kick_all':
        return this.kickAll(body);
      case 'listparticipants': {
        const room = this.roomOf(body);
        const list = [...room.participants.values()].map((p) => this.participantJson(p, room, { talking: true }));
        return { audiobridge: 'participants', room: room.settings.id, participants: list };
      }
      case 'resetdecoder': {
        const p = s?.participant;
        if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't reset (not in a room)");
        p.resetDecoder = true;
        return { audiobridge: 'success' };
      }
      case 'suspend':
      case 'resume':
        return this.suspendResume(s, body, request === 'suspend');
      case 'enable_recording': {
        validate(body, RECORD_PARAMS);
        const room = this.roomOf(body);
        checkSecret(room.settings.secret, body, 'secret');
        this.checkFolder(body, 'record_dir');
        this.checkName(body, 'record_file');
        if (typeof body['record_dir'] === 'string') room.foldersConfigured = false;
        const record = body['record'] === true;
        if (typeof body['record_file'] === 'string') room.settings.recordFile = body['record_file'];
        if (typeof body['record_dir'] === 'string') room.settings.recordDir = body['record_dir'];
        if (record !== room.settings.record) {
          room.settings.record = record;
          if (record) {
            if (!this.startRecording(room)) {
              room.settings.record = false;
              throw new AbError(AbErrorCode.UNKNOWN_ERROR, 'Error starting the recording of the mix');
            }
          } else room.stopRecording();
        }
        return { audiobridge: 'success', record: room.settings.record };
      }
      case 'enable_mjrs': {
        validate(body, MJRS_PARAMS);
        const room = this.roomOf(body);
        checkSecret(room.settings.secret, body, 'secret');
        this.checkFolder(body, 'mjrs_dir');
        if (typeof body['mjrs_dir'] === 'string') room.foldersConfigured = false;
        const mjrs = body['mjrs'] as boolean;
        if (typeof body['mjrs_dir'] === 'string') room.settings.mjrsDir = body['mjrs_dir'];
        room.settings.mjrs = mjrs;
        for (const p of room.participants.values()) {
          if (mjrs) this.startMjr(p, room);
          else p.closeMjr();
        }
        return { audiobridge: 'success', mjrs };
      }
      case 'rtp_forward':
        return this.rtpForward(body);
      case 'stop_rtp_forward':
        return this.stopRtpForward(body);
      case 'listforwarders':
        return this.listForwarders(body);
      case 'play_file':
        return this.playFile(body);
      case 'is_playing': {
        const { room, fileId } = this.announcementRequest(body, FILE_ID_PARAMS);
        const a = room.announcements.get(fileId!);
        return { audiobridge: 'success', room: room.settings.id, file_id: fileId, playing: !!a && a.started && !a.done };
      }
      case 'stop_file': {
        const { room, fileId } = this.announcementRequest(body, FILE_ID_PARAMS);
        // As in Janus, an unknown (or finished) file_id is not an error.
        room.stopAnnouncement(fileId!);
        return { audiobridge: 'success', room: room.settings.id, file_id: fileId };
      }
      case 'stop_all_files': {
        const { room } = this.announcementRequest(body, SECRET_PARAMS);
        const ids = [...room.announcements.keys()];
        for (const id of ids) room.stopAnnouncement(id);
        return { audiobridge: 'success', room: room.settings.id, file_id_list: ids };
      }
      case 'listannouncements': {
        const { room } = this.announcementRequest(body, SECRET_PARAMS);
        const list: Data[] = [];
        for (const a of room.announcements.values()) list.push({ file_id: a.fileId, filename: a.filename, playing: a.started && !a.done, loop: a.loop });
        return { audiobridge: 'announcements', room: room.settings.id, announcements: list };
      }
      default:
        throw new AbError(AbErrorCode.INVALID_REQUEST, `Unknown request '${String(body['request'])}'`);
    }
  }

  private async create(body: Body): Promise<Data> {
    validate(body, CREATE_PARAMS);
    const wanted = this.parseId(body, 'room', false);
    if (this.adminKey !== null) checkSecret(this.adminKey, body, 'admin_key');
    this.checkFolder(body, 'record_dir');
    this.checkFolder(body, 'mjrs_dir');
    this.checkName(body, 'record_file');
    const allowed = body['allowed'] as unknown[] | undefined;
    if (allowed && !allowed.every((a) => typeof a === 'string')) {
      throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element in the allowed array (not a string)');
    }
    const groups = body['groups'] as unknown[] | undefined;
    if (groups && groups.length > MAX_GROUPS) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Too many groups specified (max ${MAX_GROUPS} allowed)`);
    if (groups && !groups.every((a) => typeof a === 'string')) {
      throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element in the groups array (not a string)');
    }
    let id: AbId;
    if (wanted !== undefined && wanted !== 0 && wanted !== '') {
      if (this.rooms.has(wanted)) throw new AbError(AbErrorCode.ROOM_EXISTS, `Room ${String(wanted)} already exists`);
      id = wanted;
    } else id = this.randomId((x) => this.rooms.has(x));
    const rate = (body['sampling_rate'] ?? body['sampling'] ?? 16000) as number;
    if (!RATES.includes(rate)) throw new AbError(AbErrorCode.UNKNOWN_ERROR, `Unsupported sampling rate ${rate}`);
    const levelEvent = body['audiolevel_event'] === true;
    const loss = body['default_expectedloss'] as number | undefined;
    const bitrate = body['default_bitrate'] as number | undefined;
    const desc = body['description'] as string | undefined;
    const settings: RoomSettings = {
      id,
      description: desc !== undefined && desc !== '' ? desc : `Room ${String(id)}`,
      secret: (body['secret'] as string | undefined) ?? null,
      pin: (body['pin'] as string | undefined) ?? null,
      isPrivate: body['is_private'] === true,
      samplingRate: rate,
      spatialAudio: body['spatial_audio'] === true,
      audiolevelExt: body['audiolevel_ext'] !== false,
      audiolevelEvent: levelEvent,
      audioActivePackets: levelEvent && (body['audio_active_packets'] as number) > 0 ? (body['audio_active_packets'] as number) : 100,
      audioLevelAverage: levelEvent && (body['audio_level_average'] as number) > 0 ? (body['audio_level_average'] as number) : 25,
      defaultExpectedLoss: loss !== undefined && loss <= 20 ? loss : 0,
      defaultBitrate: bitrate !== undefined && bitrate >= 500 && bitrate <= 512000 ? bitrate : 0,
      denoise: false,
      record: body['record'] === true,
      recordFile: (body['record_file'] as string | undefined) ?? null,
      recordDir: (body['record_dir'] as string | undefined) ?? null,
      mjrs: body['mjrs'] === true,
      mjrsDir: (body['mjrs_dir'] as string | undefined) ?? null,
      allowRtpParticipants: body['allow_rtp_participants'] === true,
      groups: [...new Set((groups as string[] | undefined) ?? [])],
      allowed: new Set((allowed as string[] | undefined) ?? []),
      checkTokens: allowed !== undefined,
    };
    const room = this.newRoom(settings);
    this.rooms.set(id, room);
    if (settings.record) this.startRecording(room);
    let permanent = false;
    if (body['permanent'] === true) permanent = await this.persist(room);
    return { audiobridge: 'created', room: id, permanent };
  }

  private async edit(body: Body): Promise<Data> {
    validate(body, EDIT_PARAMS);
    const room = this.roomOf(body);
    checkSecret(room.settings.secret, body, 'secret');
    this.checkFolder(body, 'new_record_dir');
    this.checkFolder(body, 'new_mjrs_dir');
    if (typeof body['new_record_dir'] === 'string' || typeof body['new_mjrs_dir'] === 'string') room.foldersConfigured = false;
    const st = room.settings;
    const desc = body['new_description'] as string | undefined;
    if (desc) st.description = desc;
    if (typeof body['new_is_private'] === 'boolean') st.isPrivate = body['new_is_private'];
    const secret = body['new_secret'] as string | undefined;
    if (secret) st.secret = secret;
    const pin = body['new_pin'] as string | undefined;
    if (pin !== undefined) st.pin = pin === '' ? null : pin;
    if (typeof body['new_record_dir'] === 'string') st.recordDir = body['new_record_dir'];
    if (typeof body['new_mjrs_dir'] === 'string') st.mjrsDir = body['new_mjrs_dir'];
    let permanent = false;
    if (body['permanent'] === true) permanent = await this.persist(room);
    return { audiobridge: 'edited', room: st.id, permanent };
  }

  /** Room gone (destroy request, or its clock failed): participants get `destroyed` and are hung up. */
  private teardownRoom(room: Room, reason: string): void {
    const id = room.settings.id;
    if (this.rooms.get(id) === room) this.rooms.delete(id);
    for (const p of [...room.participants.values()]) {
      this.host.pushEvent(p.session.handle, null, { audiobridge: 'destroyed', room: id });
      room.remove(p);
      p.clearQueues();
      if (p.plain) {
        p.closePlainRtp();
        p.session.started = false;
      }
      this.host.closePeerConnection(p.session.handle, reason);
    }
    this.dropForwarders(room);
    room.destroy();
  }

  private async destroyRoom(body: Body): Promise<Data> {
    validate(body, [{ name: 'permanent', type: 'boolean' }]);
    const room = this.roomOf(body);
    checkSecret(room.settings.secret, body, 'secret');
    const id = room.settings.id;
    this.teardownRoom(room, 'Room destroyed');
    let permanent = false;
    if (body['permanent'] === true) {
      this.config.removeCategory(`room-${String(id)}`);
      permanent = await this.save();
    }
    return { audiobridge: 'destroyed', room: id, permanent };
  }

  private list(body: Body): Data {
    let showPrivate = false;
    if (this.adminKey !== null) {
      const k = body['admin_key'];
      if (typeof k === 'string' && k.length > 0) {
        checkSecret(this.adminKey, body, 'admin_key');
        showPrivate = true;
      }
    }
    const list: Data[] = [];
    for (const r of this.rooms.values()) {
      if (r.destroyed || (r.settings.isPrivate && !showPrivate)) continue;
      list.push({
        room: r.settings.id,
        description: r.settings.description,
        sampling_rate: r.settings.samplingRate,
        spatial_audio: r.settings.spatialAudio,
        pin_required: r.settings.pin !== null,
        record: r.settings.record,
        muted: r.muted,
        num_participants: r.participants.size,
      });
    }
    return { audiobridge: 'success', list };
  }

  private allowed(body: Body): Data {
    validate(body, ALLOWED_PARAMS);
    const id = this.parseId(body, 'room', true)!;
    const action = (body['action'] as string).toLowerCase();
    if (!['enable', 'disable', 'add', 'remove'].includes(action)) {
      throw new AbError(AbErrorCode.INVALID_ELEMENT, `Unsupported action '${body['action'] as string}' (allowed)`);
    }
    const room = this.findRoom(id);
    checkSecret(room.settings.secret, body, 'secret');
    const st = room.settings;
    if (action === 'enable') st.checkTokens = true;
    else if (action === 'disable') st.checkTokens = false;
    else {
      const list = body['allowed'] as unknown[] | undefined;
      if (list) {
        if (!list.every((a) => typeof a === 'string')) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element in the allowed array (not a string)');
        for (const t of list as string[]) {
          if (action === 'add') st.allowed.add(t);
          else st.allowed.delete(t);
        }
      }
    }
    const out: Data = { audiobridge: 'success', room: st.id };
    if (action !== 'disable') out['allowed'] = [...st.allowed];
    return out;
  }

  private muteUser(body: Body, muted: boolean): Data {
    validate(body, SECRET_PARAMS);
    this.parseId(body, 'room', true);
    this.parseId(body, 'id', true);
    const room = this.roomOf(body);
    checkSecret(room.settings.secret, body, 'secret');
    const p = this.userOf(room, body);
    if (p.muted === muted) return { audiobridge: 'success' };
    p.muted = muted;
    if (muted) p.clearQueues();
    this.notify(room, { audiobridge: 'event', room: room.settings.id, participants: [this.participantJson(p, room)] }, null);
    return { audiobridge: 'success', room: room.settings.id };
  }

  private muteRoom(body: Body, muted: boolean): Data {
    validate(body, SECRET_PARAMS);
    const room = this.roomOf(body);
    checkSecret(room.settings.secret, body, 'secret');
    if (room.muted === muted) return { audiobridge: 'success' };
    room.muted = muted;
    if (muted) for (const p of room.participants.values()) if (!p.admin) p.clearQueues();
    this.notify(room, { audiobridge: 'event', room: room.settings.id, muted }, null);
    return { audiobridge: 'success', room: room.settings.id };
  }

  private kick(body: Body): Data {
    validate(body, SECRET_PARAMS);
    this.parseId(body, 'room', true);
    this.parseId(body, 'id', true);
    const room = this.roomOf(body);
    checkSecret(room.settings.secret, body, 'secret');
    const p = this.userOf(room, body);
    this.notify(room, { audiobridge: 'event', room: room.settings.id, kicked: p.id }, null);
    this.host.closePeerConnection(p.session.handle, 'Kicked');
    // Without a PeerConnection there is no hangup to remove them: do it here (others get `leaving`).
    this.hangupInternal(p.session);
    return { audiobridge: 'success' };
  }

  private kickAll(body: Body): Data {
    validate(body, SECRET_PARAMS);
    const room = this.roomOf(body);
    checkSecret(room.settings.secret, body, 'secret');
    for (const p of [...room.participants.values()]) {
      this.host.pushEvent(p.session.handle, null, { audiobridge: 'event', room: room.settings.id, kicked_all: p.id });
      this.host.closePeerConnection(p.session.handle, 'Kicked');
      room.remove(p);
      p.session.started = false;
      p.session.pluginOffer = false;
      p.clearQueues();
      p.closePlainRtp();
    }
    return { audiobridge: 'success' };
  }

  private suspendResume(s: AbSession | null, body: Body, suspend: boolean): Data {
    validate(body, SECRET_PARAMS);
    this.parseId(body, 'room', true);
    this.parseId(body, 'id', true);
    const room = this.roomOf(body);
    const p = this.userOf(room, body);
    if (s?.participant !== p) checkSecret(room.settings.secret, body, 'secret');
    validate(body, suspend ? SUSPEND_PARAMS : RESUME_PARAMS);
    let changed = false;
    let recap = false;
    if (suspend) {
      if (!p.suspended) {
        p.suspended = true;
        if (body['pause_events'] === true) p.pausedEvents = true;
        p.clearQueues();
        changed = true;
      }
    } else if (p.suspended) {
      p.suspended = false;
      changed = true;
      if (p.pausedEvents) {
        p.pausedEvents = false;
        recap = true;
        this.host.pushEvent(p.session.handle, null, {
          audiobridge: 'event',
          room: room.settings.id,
          resumed: p.id,
          participants: this.othersJson(room, p),
        });
      }
    }
    if (changed) {
      const ev = { audiobridge: 'event', room: room.settings.id, [suspend ? 'suspended' : 'resumed']: p.id };
      for (const q of room.participants.values()) {
        if ((q === p && recap) || (q !== p && q.pausedEvents)) continue;
        this.host.pushEvent(q.session.handle, null, ev);
      }
    }
    return { audiobridge: 'success' };
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
          ({ event, generateOffer } = await this.join(s, body, jsep));
          break;
        case 'configure':
          ({ event, generateOffer } = await this.configure(s, body, jsep));
          break;
        case 'changeroom':
          event = this.changeRoom(s, body);
          break;
        case 'hangup':
          this.host.closePeerConnection(s.handle, 'Janus API');
          // No PeerConnection means no hangupMedia from the core: a plain-RTP participant leaves here.
          if (s.participant?.plain) this.hangupInternal(s);
          event = { audiobridge: 'hangingup' };
          break;
        default:
          event = this.leave(s);
      }
      if (!jsep && !generateOffer) {
        this.host.pushEvent(s.handle, transaction, event);
        return;
      }
      const out = this.negotiate(s, jsep, generateOffer);
      this.host.pushEvent(s.handle, transaction, event, out);
    } catch (err) {
      this.host.pushEvent(s.handle, transaction, errorData(this.asAbError(err)));
    }
  }

  private async join(s: AbSession, body: Body, jsep: Jsep | null): Promise<{ event: Data; generateOffer: boolean }> {
    if (s.participant?.room) throw new AbError(AbErrorCode.ALREADY_JOINED, 'Already in a room (use changeroom to join another one)');
    validate(body, JOIN_PARAMS);
    this.checkName(body, 'filename');
    // With an SDP the participant negotiates a PeerConnection and the plain-RTP details are ignored (as Janus).
    const rtp = body['rtp'] !== undefined && body['rtp'] !== null && !jsep ? this.rtpRequest(body['rtp'] as Body) : null;
    const roomId = this.parseId(body, 'room', true)!;
    this.parseId(body, 'id', false);
    const room = this.findRoom(roomId);
    if (rtp && !room.settings.allowRtpParticipants) throw new AbError(AbErrorCode.UNAUTHORIZED, 'Plain RTP participants not allowed in this room');
    const common = this.checkJoin(room, body);
    const codecName = ((body['codec'] as string | undefined) ?? 'opus').toLowerCase();
    if (codecName !== 'opus' && codecName !== 'pcmu' && codecName !== 'pcma') {
      throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (codec must opus, pcmu or pcma)');
    }
    let id = this.pickUserId(room, body);
    const plain = rtp ? await this.openPlainRtp(s, rtp.remote) : null;
    if (plain) {
      // The socket was set up asynchronously: the room, the handle or the id may have changed meanwhile.
      try {
        if (!s.handle.alive || s.participant?.room || this.rooms.get(room.settings.id) !== room || room.destroyed) {
          throw new AbError(AbErrorCode.NO_SUCH_ROOM, `No such room (${String(roomId)})`);
        }
        if (room.participants.has(id)) id = this.pickUserId(room, body);
      } catch (err) {
        plain.close();
        throw err;
      }
    }
    const p = s.participant ?? new Participant(s);
    p.closePlainRtp();
    p.plain = plain;
    p.codec = codecName as AbCodec;
    p.id = id;
    this.applyJoin(p, room, body, common);
    try {
      p.setupCodecs(room);
    } catch (err) {
      p.closePlainRtp();
      throw new AbError(AbErrorCode.LIBOPUS_ERROR, `Error creating Opus decoder (${(err as Error).message})`);
    }
    if (!s.started || plain) {
      p.pt = -1;
      p.extmapId = 0;
      p.dBovLevel = 0;
    }
    if (plain && rtp) {
      // Media is "up" with the first packet from the client (see plainRtpIn), not before.
      s.started = false;
      p.pt = p.codec === 'pcmu' ? 0 : p.codec === 'pcma' ? 8 : rtp.payloadType > 0 ? rtp.payloadType : 100;
      // The client says which extension id carries the level (no SDP to negotiate it).
      p.extmapId = rtp.audiolevelExt;
      if (rtp.fec && p.codec === 'opus') {
        p.fec = true;
        p.updateEncoder();
      }
    }
    s.participant = p;
    room.add(p);
    p.recordBase = null;
    this.recordOptions(p, body);
    if (room.settings.mjrs || p.recordWanted) this.startMjr(p, room);
    this.notify(room, { audiobridge: 'joined', room: room.settings.id, participants: [this.participantJson(p, room, { setup: false })] }, p);
    const event: Data = { audiobridge: 'joined', room: room.settings.id, id: p.id };
    if (p.display !== null) event['display'] = p.display;
    event['participants'] = this.othersJson(room, p);
    if (plain) event['rtp'] = { ip: plain.localIp, port: plain.port, payload_type: p.pt };
    const generateOffer = !plain && body['generate_offer'] === true;
    if (generateOffer) s.pluginOffer = true;
    return { event, generateOffer };
  }

  /** The `rtp` object of join/configure: must be an object; its members are type-checked (Janus 1.1.2 does not). */
  private rtpRequest(v: unknown): { remote: PlainRtpRemote | null; payloadType: number; audiolevelExt: number; fec: boolean } {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element type (rtp should be an object)');
    const rtp = v as Body;
    validate(rtp, RTP_PARAMS);
    const ip = rtp['ip'] as string | undefined;
    const port = rtp['port'] as number | undefined;
    if (port !== undefined && port > 65535) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (port should be a valid UDP port)');
    const pt = (rtp['payload_type'] as number | undefined) ?? 0;
    if (pt > 127) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (payload_type should be between 0 and 127)');
    const ext = (rtp['audiolevel_ext'] as number | undefined) ?? 0;
    return {
      // Without an address (or with port 0) the participant only sends; it gets no mix.
      remote: ip !== undefined && ip !== '' && port !== undefined && port > 0 ? { ip, port } : null,
      payloadType: pt,
      audiolevelExt: ext > 0 && ext < 15 ? ext : 0,
      fec: rtp['fec'] === true,
    };
  }

  /** A socket for a plain-RTP participant, connected to where the mix goes. */
  private async openPlainRtp(s: AbSession, remote: PlainRtpRemote | null): Promise<PlainRtpEndpoint> {
    if (!this.plainPorts) throw new AbError(AbErrorCode.UNKNOWN_ERROR, 'Plain RTP participants are not available (plugin not initialized)');
    let ep;
    try {
      ep = await this.plainPorts.open((buf, len) => this.plainRtpIn(s, buf, len));
    } catch (err) {
      throw new AbError(AbErrorCode.UNKNOWN_ERROR, `Couldn't bind a local port for plain RTP (${(err as Error).message})`);
    }
    await ep.connect(remote);
    return ep;
  }

  /** Pin, token, admin secret, group, quality and expected_loss checks shared by join and changeroom. */
  private checkJoin(room: Room, body: Body): { admin: boolean; group: number; complexity: number; expectedLoss: number; bitrate: number } {
    checkSecret(room.settings.pin, body, 'pin');
    if (room.settings.checkTokens) {
      const t = body['token'];
      if (typeof t !== 'string' || !room.settings.allowed.has(t)) throw new AbError(AbErrorCode.UNAUTHORIZED, 'Unauthorized (not in the allowed list)');
    }
    let admin = false;
    if (body['secret'] !== undefined) {
      checkSecret(room.settings.secret, body, 'secret');
      admin = true;
    }
    let group = 0;
    if (room.settings.groups.length > 0) {
      validate(body, [{ name: 'group', type: 'string', required: true }]);
      const g = room.settings.groups.indexOf(body['group'] as string);
      if (g < 0) throw new AbError(AbErrorCode.NO_SUCH_GROUP, `No such group (${body['group'] as string})`);
      group = g + 1;
    }
    let bitrate = room.settings.defaultBitrate;
    if (typeof body['bitrate'] === 'number') {
      bitrate = body['bitrate'];
      if (bitrate < 500 || bitrate > 512000) bitrate = room.settings.defaultBitrate;
    }
    const complexity = typeof body['quality'] === 'number' ? body['quality'] : DEFAULT_COMPLEXITY;
    if (complexity < 1 || complexity > 10) {
      throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (quality should be a positive integer between 1 and 10)');
    }
    const expectedLoss = typeof body['expected_loss'] === 'number' ? body['expected_loss'] : room.settings.defaultExpectedLoss;
    if (expectedLoss > 20) {
      throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (expected_loss should be a positive integer between 0 and 20)');
    }
    return { admin, group, complexity, expectedLoss, bitrate };
  }

  private pickUserId(room: Room, body: Body): AbId {
    const wanted = this.parseId(body, 'id', false);
    if (wanted !== undefined && wanted !== 0 && wanted !== '') {
      if (room.participants.has(wanted)) throw new AbError(AbErrorCode.ID_EXISTS, `User ID ${String(wanted)} already exists`);
      return wanted;
    }
    return this.randomId((x) => room.participants.has(x));
  }

  private applyJoin(p: Participant, room: Room, body: Body, c: ReturnType<AudioBridgePlugin['checkJoin']>): void {
    p.group = c.group;
    p.admin = c.admin;
    p.display = typeof body['display'] === 'string' ? body['display'] : null;
    p.muted = body['muted'] === true;
    p.suspended = body['suspended'] === true;
    p.pausedEvents = p.suspended && body['pause_events'] === true;
    p.volume = typeof body['volume'] === 'number' ? body['volume'] : 100;
    p.spatialPosition = Math.min(100, typeof body['spatial_position'] === 'number' ? body['spatial_position'] : 50);
    p.complexity = c.complexity;
    p.bitrate = c.bitrate;
    p.expectedLoss = c.expectedLoss;
    p.userActivePackets = typeof body['audio_active_packets'] === 'number' ? body['audio_active_packets'] : 0;
    p.userLevelAverage = typeof body['audio_level_average'] === 'number' ? body['audio_level_average'] : 0;
    p.talking = false;
    p.activePackets = 0;
    p.dBovSum = 0;
    p.updateEncoder();
    void room;
  }

  private async configure(s: AbSession, body: Body, jsep: Jsep | null): Promise<{ event: Data; generateOffer: boolean }> {
    const p = s.participant;
    if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't configure (not in a room)");
    validate(body, CONFIGURE_PARAMS);
    this.checkName(body, 'filename');
    const room = p.room;
    // A plain-RTP participant may point its mix somewhere else (the local port stays).
    const rtp = body['rtp'] !== undefined && body['rtp'] !== null && !jsep ? this.rtpRequest(body['rtp']) : null;
    if (rtp && !room.settings.allowRtpParticipants) throw new AbError(AbErrorCode.UNAUTHORIZED, 'Plain RTP participants not allowed in this room');
    if (rtp && p.plain) {
      await p.plain.connect(rtp.remote);
      if (rtp.audiolevelExt > 0) p.extmapId = rtp.audiolevelExt;
    }
    if (typeof body['volume'] === 'number') p.volume = body['volume'];
    let encoderChanged = false;
    if (typeof body['bitrate'] === 'number') {
      const b = body['bitrate'];
      p.bitrate = b < 500 || b > 512000 ? 0 : b;
      encoderChanged = true;
    }
    if (typeof body['quality'] === 'number') {
      const q = body['quality'];
      if (q < 1 || q > 10) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (quality should be a positive integer between 1 and 10)');
      p.complexity = q;
      encoderChanged = true;
    }
    if (typeof body['expected_loss'] === 'number') {
      const l = body['expected_loss'];
      if (l > 20) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Invalid element (expected_loss should be a positive integer between 0 and 20)');
      p.expectedLoss = l;
      encoderChanged = true;
    }
    if (typeof body['group'] === 'string' && room.settings.groups.length > 0) {
      const g = room.settings.groups.indexOf(body['group']);
      if (g < 0) throw new AbError(AbErrorCode.NO_SUCH_GROUP, `No such group (${body['group']})`);
      p.group = g + 1;
    }
    if (encoderChanged) p.updateEncoder();
    if (typeof body['record'] === 'boolean') {
      this.recordOptions(p, body);
      if (p.recordWanted) this.startMjr(p, room);
      else if (!room.settings.mjrs) p.closeMjr();
    }
    const muted = body['muted'];
    const display = body['display'];
    const spatial = body['spatial_position'];
    const spatialChange = room.settings.spatialAudio && typeof spatial === 'number';
    if (typeof muted === 'boolean' || typeof display === 'string' || spatialChange || typeof body['denoise'] === 'boolean') {
      if (typeof muted === 'boolean') {
        p.muted = muted;
        if (muted) p.clearQueues();
      }
      if (typeof display === 'string') p.display = display;
      if (spatialChange) p.spatialPosition = Math.min(100, spatial as number);
      this.notify(room, { audiobridge: 'event', room: room.settings.id, participants: [this.participantJson(p, room)] }, p);
    }
    let generateOffer = false;
    const update = body['update'] === true;
    if (update && s.pluginOffer) generateOffer = true;
    else if (typeof body['generate_offer'] === 'boolean') generateOffer = body['generate_offer'];
    if (generateOffer) s.pluginOffer = true;
    void jsep;
    return { event: { audiobridge: 'event', room: room.settings.id, result: 'ok' }, generateOffer };
  }

  private changeRoom(s: AbSession, body: Body): Data {
    validate(body, JOIN_PARAMS);
    this.checkName(body, 'filename');
    const roomId = this.parseId(body, 'room', true)!;
    const p = s.participant;
    if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't change room (not in a room in the first place)");
    if (p.room.settings.id === roomId) throw new AbError(AbErrorCode.ALREADY_JOINED, 'Already in this room');
    const room = this.findRoom(roomId);
    const c = this.checkJoin(room, body);
    const id = this.pickUserId(room, body);
    const old = p.room;
    // Leave the old room.
    old.remove(p);
    this.notify(old, { audiobridge: 'event', room: old.settings.id, leaving: p.id }, p);
    p.id = id;
    const prevBitrate = p.bitrate;
    this.applyJoin(p, room, body, c);
    if (typeof body['bitrate'] !== 'number' && prevBitrate && !room.settings.defaultBitrate) p.bitrate = c.bitrate;
    try {
      p.setupCodecs(room);
    } catch (err) {
      throw new AbError(AbErrorCode.LIBOPUS_ERROR, `Error creating Opus decoder (${(err as Error).message})`);
    }
    room.add(p);
    this.recordOptions(p, body);
    if (room.settings.mjrs || p.recordWanted) this.startMjr(p, room);
    this.notify(room, { audiobridge: 'joined', room: room.settings.id, participants: [this.participantJson(p, room)] }, p);
    const event: Data = { audiobridge: 'roomchanged', room: room.settings.id, id: p.id };
    if (p.display !== null) event['display'] = p.display;
    event['participants'] = this.othersJson(room, p);
    return event;
  }

  private leave(s: AbSession): Data {
    const p = s.participant;
    if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't leave (not in a room)");
    const room = p.room;
    this.notify(room, { audiobridge: 'event', room: room.settings.id, leaving: p.id }, p);
    room.remove(p);
    p.clearQueues();
    if (p.plain) {
      // Its socket was its media: gone with the room (a WebRTC participant keeps its PeerConnection).
      p.closePlainRtp();
      s.started = false;
    }
    return { audiobridge: 'left', room: room.settings.id, id: p.id };
  }

  /** SDP step of join/configure: answer an offer, take an answer, or make our own offer. */
  private negotiate(s: AbSession, jsep: Jsep | null, generateOffer: boolean): Jsep | undefined {
    if (jsep?.e2ee === true) throw new AbError(AbErrorCode.INVALID_ELEMENT, 'Media encryption unsupported by this plugin');
    if (jsep && jsep.type === 'offer' && s.pluginOffer) throw new AbError(AbErrorCode.INVALID_SDP, 'Received an offer on a plugin-offered session');
    if (jsep && jsep.type === 'answer' && !s.pluginOffer) throw new AbError(AbErrorCode.INVALID_SDP, "Received an answer when we didn't send an offer");
    let parsed;
    if (jsep) {
      try {
        parsed = parseOffer(jsep.sdp);
      } catch (err) {
        throw new AbError(AbErrorCode.INVALID_SDP, `Error parsing ${jsep.sdp}: ${(err as Error).message}`);
      }
    }
    const p = s.participant;
    if (jsep?.type === 'offer') {
      if (jsep.update) s.sdpVersion++;
      else {
        s.sdpVersion = 1;
        s.sdpSessionId = String(Date.now() * 1000 + Math.floor(Math.random() * 1000));
      }
    }
    if (jsep?.type === 'answer' && parsed) {
      if (p) {
        const a = readAnswer(parsed);
        p.pt = a.pt;
        p.mid = a.mid;
        p.extmapId = a.audioLevelId > 0 && p.room?.settings.audiolevelExt ? a.audioLevelId : 0;
        if (a.fec && p.codec === 'opus') {
          p.fec = true;
          p.updateEncoder();
        }
      }
      return undefined;
    }
    if (!p || !p.room) throw new AbError(AbErrorCode.NOT_JOINED, "Can't handle SDP (not in a room)");
    const room = p.room;
    const params = {
      codec: p.codec,
      samplingRate: room.settings.samplingRate,
      stereo: room.settings.spatialAudio,
      audioLevelExt: room.settings.audiolevelExt,
      ssrc: p.ssrc,
      sessionName: `AudioBridge ${room.idString}`,
      sessionId: s.sdpSessionId,
      sessionVersion: s.sdpVersion,
    };
    if (jsep && parsed) {
      const ans = buildAudioAnswer(parsed, params);
      if (ans.fec) {
        p.fec = true;
        p.updateEncoder();
      }
      p.pt = ans.pt;
      p.mid = ans.mid;
      p.extmapId = ans.audioLevelId > 0 && room.settings.audiolevelExt ? ans.audioLevelId : 0;
      return { type: 'answer', sdp: ans.sdp };
    }
    if (s.sdpVersion > 1 || s.started) s.sdpVersion++;
    const off = buildAudioOffer({ ...params, fec: p.fec || p.codec === 'opus' });
    p.mid = off.mid;
    return { type: 'offer', sdp: off.sdp };
  }

  // ------------------------------------------------------------------------------------------ forwarders

  /** `admin_key` when lock_rtp_forward is on (checked after the request's own parameters, as in Janus). */
  private checkForwardLock(body: Body): void {
    if (!this.lockRtpForward || this.adminKey === null) return;
    validate(body, ADMIN_KEY_PARAMS);
    checkSecret(this.adminKey, body, 'admin_key');
  }

  private async rtpForward(body: Body): Promise<Data> {
    validate(body, RTP_FORWARD_PARAMS);
    const roomId = this.parseId(body, 'room', true)!;
    this.checkForwardLock(body);
    const ssrc = body['ssrc'] as number | undefined;
    if (ssrc !== undefined && ssrc > 0xffffffff) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid SSRC (${ssrc})`);
    const codecName = body['codec'] as string | undefined;
    let codec: ForwardCodec = 'opus';
    if (codecName !== undefined) {
      const c = codecName.toLowerCase();
      if (c !== 'opus' && c !== 'pcmu' && c !== 'pcma') throw new AbError(AbErrorCode.INVALID_ELEMENT, `Unsupported codec (${codecName})`);
      codec = c;
    }
    // Janus 1.1.2 defaults the payload type to the codec's static one (0 PCMU, 8 PCMA), else 100.
    const ptype = (body['ptype'] as number | undefined) ?? defaultPtype(codec);
    if (ptype > 127) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid payload type (${ptype})`);
    const port = body['port'] as number;
    if (port === 0 || port > 65535) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid port number (${port})`);
    const host = body['host'] as string;
    const family = this.hostFamily(body['host_family'] as string | undefined);
    if (family === null) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Unsupported protocol family (${body['host_family'] as string})`);
    let address: string;
    try {
      address = await resolveForwardHost(host, family);
    } catch {
      throw new AbError(AbErrorCode.INVALID_ELEMENT, `Could not resolve address (${host})...`);
    }
    const alwaysOn = body['always_on'] === true;
    let srtp: ForwarderSrtp | null = null;
    // As in Janus, SRTP needs both the suite and the key; either one alone means plain RTP.
    if (body['srtp_suite'] !== undefined && body['srtp_suite'] !== null && typeof body['srtp_crypto'] === 'string') {
      const suite = body['srtp_suite'] as number;
      if (suite !== 32 && suite !== 80) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid SRTP suite (${suite})`);
      srtp = { suite, crypto: body['srtp_crypto'] };
      try {
        forwarderSrtpContext(srtp);
      } catch {
        throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid SRTP crypto (${srtp.crypto})`);
      }
    }
    // The address lookup may have taken a while: look the room up now.
    const room = this.findRoom(roomId);
    checkSecret(room.settings.secret, body, 'secret');
    let group = 0;
    const groupName = room.settings.groups.length > 0 && typeof body['group'] === 'string' ? body['group'] : null;
    if (groupName !== null) {
      group = room.settings.groups.indexOf(groupName) + 1;
      if (group === 0) throw new AbError(AbErrorCode.NO_SUCH_GROUP, 'No such group');
    }
    const streamId = this.addForwarder(room, { host: address, port, ssrc: ssrc ?? null, codec, ptype, group, alwaysOn, srtp });
    const out: Data = { audiobridge: 'success', room: room.settings.id };
    if (groupName !== null) out['group'] = groupName;
    out['stream_id'] = streamId;
    out['host'] = address;
    out['port'] = port;
    return out;
  }

  /** `host_family` as a lookup family (0: any); null when unsupported. */
  private hostFamily(v: string | undefined): 4 | 6 | 0 | null {
    if (v === undefined) return 0;
    const f = v.toLowerCase();
    return f === 'ipv4' ? 4 : f === 'ipv6' ? 6 : null;
  }

  /** Add a forwarder to `room` with a fresh (or the wanted) stream id; returns the id. */
  private addForwarder(room: Room, spec: Omit<ForwarderSpec, 'streamId'>, wanted = 0): number {
    let streamId = wanted;
    if (streamId === 0 || this.streamIds.has(streamId)) {
      do streamId = randomBytes(4).readUInt32BE() || 1;
      while (this.streamIds.has(streamId));
    }
    try {
      room.forwarders.add({ ...spec, streamId });
    } catch (err) {
      throw new AbError(AbErrorCode.UNKNOWN_ERROR, `Could not create the RTP forwarder (${(err as Error).message})`);
    }
    this.streamIds.add(streamId);
    room.refreshClock();
    this.log.verb('AudioBridge: RTP forwarder added', { room: room.idString, stream_id: streamId, host: spec.host, port: spec.port, codec: spec.codec });
    return streamId;
  }

  private stopRtpForward(body: Body): Data {
    validate(body, STOP_RTP_FORWARD_PARAMS);
    const roomId = this.parseId(body, 'room', true)!;
    this.checkForwardLock(body);
    const streamId = body['stream_id'] as number;
    const room = this.findRoom(roomId);
    checkSecret(room.settings.secret, body, 'secret');
    // As in Janus, an unknown stream_id is not an error: the forwarder is gone either way.
    if (room.forwarders.remove(streamId)) {
      this.streamIds.delete(streamId);
      room.refreshClock();
    }
    return { audiobridge: 'success', room: room.settings.id, stream_id: streamId };
  }

  private listForwarders(body: Body): Data {
    const room = this.roomOf(body);
    checkSecret(room.settings.secret, body, 'secret');
    const list: Data[] = [];
    for (const f of room.forwarders.all()) {
      const s = f.spec;
      const o: Data = { stream_id: s.streamId };
      const groupName = s.group > 0 ? room.settings.groups[s.group - 1] : undefined;
      if (groupName !== undefined) o['group'] = groupName;
      o['ip'] = s.host;
      o['port'] = s.port;
      o['ssrc'] = f.ssrc;
      o['codec'] = s.codec;
      o['ptype'] = s.ptype;
      if (s.srtp) o['srtp'] = true;
      o['always_on'] = s.alwaysOn;
      list.push(o);
    }
    return { audiobridge: 'forwarders', room: room.settings.id, rtp_forwarders: list };
  }

  private dropForwarders(room: Room): void {
    for (const f of room.forwarders.all()) this.streamIds.delete(f.spec.streamId);
    room.forwarders.close();
  }

  /**
   * The static forwarder of a `room-<id>` category (rtp_forward_host/_port/...): what Janus creates at
   * startup. Invalid settings are logged and skip the forwarder, never the room.
   */
  private async staticForwarder(room: Room, name: string, c: Record<string, CfgValue>): Promise<void> {
    const host = cfgString(c['rtp_forward_host']);
    const port = cfgInt(c['rtp_forward_port'], 0) ?? 0;
    if (host === undefined || host === '' || port === 0) return;
    const fail = (why: string): void => this.log.error(`Can't add the static RTP forwarder of room '${name}': ${why}`);
    if (port < 0 || port > 65535) return fail(`invalid port (${port})`);
    const id = cfgInt(c['rtp_forward_id'], 0) ?? 0;
    if (id < 0 || id > 0xffffffff) return fail(`invalid forwarder ID (${id})`);
    const ssrc = cfgInt(c['rtp_forward_ssrc'], 0) ?? 0;
    if (ssrc < 0 || ssrc > 0xffffffff) return fail(`invalid SSRC (${ssrc})`);
    const codecName = (cfgString(c['rtp_forward_codec']) ?? 'opus').toLowerCase();
    if (codecName !== 'opus' && codecName !== 'pcmu' && codecName !== 'pcma') return fail(`unsupported codec (${codecName})`);
    const ptype = cfgInt(c['rtp_forward_ptype'], defaultPtype(codecName)) ?? defaultPtype(codecName);
    if (ptype < 0 || ptype > 127) return fail(`invalid payload type (${ptype})`);
    let group = 0;
    const groupName = cfgString(c['rtp_forward_group']);
    if (groupName !== undefined && room.settings.groups.length > 0) {
      group = room.settings.groups.indexOf(groupName) + 1;
      if (group === 0) return fail(`invalid group name (${groupName})`);
    }
    const family = this.hostFamily(cfgString(c['rtp_forward_host_family']));
    if (family === null) return fail('unsupported protocol family');
    let srtp: ForwarderSrtp | null = null;
    const suite = cfgInt(c['rtp_forward_srtp_suite'], 0) ?? 0;
    const crypto = cfgString(c['rtp_forward_srtp_crypto']);
    if (suite !== 0) {
      if (suite !== 32 && suite !== 80) return fail('invalid SRTP suite');
      if (crypto !== undefined) srtp = { suite, crypto };
    }
    let address: string;
    try {
      address = await resolveForwardHost(host, family);
    } catch {
      return fail(`could not resolve address (${host})`);
    }
    if (room.destroyed || this.rooms.get(room.settings.id) !== room) return;
    try {
      this.addForwarder(room, { host: address, port, ssrc: ssrc > 0 ? ssrc : null, codec: codecName, ptype, group, alwaysOn: cfgBool(c['rtp_forward_always_on'], false) ?? false, srtp }, id);
    } catch (err) {
      fail((err as Error).message);
    }
  }

  // ------------------------------------------------------------------------------------------ announcements

  /**
   * The checks every announcement request starts with, in Janus 1.1.2's order: `room` and the
   * request's own parameters, `admin_key` when lock_play_file is on, the room, its secret.
   */
  private announcementRequest(body: Body, params: ParamSpec[]): { room: Room; fileId: string | undefined } {
    const roomId = this.parseId(body, 'room', true)!;
    validate(body, params);
    if (this.lockPlayFile && this.adminKey !== null) {
      validate(body, ADMIN_KEY_PARAMS);
      checkSecret(this.adminKey, body, 'admin_key');
    }
    const room = this.findRoom(roomId);
    checkSecret(room.settings.secret, body, 'secret');
    return { room, fileId: body['file_id'] as string | undefined };
  }

  private async playFile(body: Body): Promise<Data> {
    const { room, fileId: wanted } = this.announcementRequest(body, PLAY_FILE_PARAMS);
    let group = 0;
    if (room.settings.groups.length > 0) {
      // Mandatory in a room with groups, as for participants (it only matters to group forwarders).
      validate(body, [{ name: 'group', type: 'string', required: true }]);
      group = room.settings.groups.indexOf(body['group'] as string) + 1;
      if (group === 0) throw new AbError(AbErrorCode.NO_SUCH_GROUP, `No such group (${body['group'] as string})`);
    }
    const taken = (id: string): AbError => new AbError(AbErrorCode.ID_EXISTS, `File ID exists (${id})`);
    if (wanted !== undefined && room.announcements.has(wanted)) throw taken(wanted);
    const filename = body['filename'] as string;
    let stream;
    try {
      const problem = this.pathPolicy.pathProblem(filename);
      if (problem !== null) throw new AnnouncementFileError(problem, false);
      stream = await loadAnnouncementFile(filename);
    } catch (err) {
      this.log.warn('AudioBridge: cannot play file', { room: room.idString, filename, err: err instanceof Error ? err.message : String(err) });
      // Janus's words for a file it cannot open, for every failure (missing, unreadable, protected,
      // too large, not Ogg/Opus): the caller learns nothing about files it may not read.
      throw new AbError(AbErrorCode.UNKNOWN_ERROR, 'Error opening file');
    }
    // The file was read asynchronously: the room may be gone, the file_id taken meanwhile.
    if (room.destroyed || this.rooms.get(room.settings.id) !== room) throw new AbError(AbErrorCode.NO_SUCH_ROOM, `No such room (${room.idString})`);
    let fileId = wanted;
    if (fileId === undefined) {
      do fileId = randomUUID();
      while (room.announcements.has(fileId));
    } else if (room.announcements.has(fileId)) throw taken(fileId);
    let a: Announcement;
    try {
      a = new Announcement({ fileId, filename, loop: body['loop'] === true, group }, stream, room.settings.samplingRate, room.mixer.newSlot());
    } catch (err) {
      throw new AbError(AbErrorCode.LIBOPUS_ERROR, `Error creating Opus decoder (${(err as Error).message})`);
    }
    room.addAnnouncement(a);
    this.log.verb('AudioBridge: announcement added', { room: room.idString, file_id: fileId, filename, loop: a.loop, packets: stream.packets.length });
    return { audiobridge: 'success', room: room.settings.id, file_id: fileId };
  }

  // ------------------------------------------------------------------------------------------ recording

  /**
   * A folder a request names (record_dir, mjrs_dir, new_*): no `..`, not in a protected folder.
   * Refused with 484; the reason goes to the log only.
   */
  private checkFolder(body: Body, key: string): void {
    const dir = body[key];
    if (typeof dir !== 'string') return;
    const problem = this.pathPolicy.pathProblem(dir);
    if (problem === null) return;
    this.log.warn(`AudioBridge: refused ${key} ${JSON.stringify(dir)}: ${problem}`);
    throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid element (${key})`);
  }

  /** A file name a request gives (record_file, filename): a bare name in its folder. */
  private checkName(body: Body, key: string): void {
    const name = body[key];
    if (typeof name !== 'string' || name === '') return;
    const problem = PathPolicy.nameProblem(name);
    if (problem === null) return;
    this.log.warn(`AudioBridge: refused ${key} ${JSON.stringify(name)}: ${problem}`);
    throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid element (${key})`);
  }

  private get pathPolicy(): PathPolicy {
    this.paths ??= new PathPolicy();
    return this.paths;
  }

  /** `record` / `filename` of join, configure and changeroom. */
  private recordOptions(p: Participant, body: Body): void {
    p.recordWanted = body['record'] === true;
    if (typeof body['filename'] === 'string' && body['filename'] !== '') p.recordBase = body['filename'];
  }

  /**
   * Where a participant's .mjr goes, named as Janus names it: `<filename>-audio.mjr` when join/configure
   * gave a filename, else `audiobridge-<room>-user-<id>-<µs>-audio.mjr`; in the room's mjrs_dir (else
   * relative to the working directory, as Janus).
   */
  mjrPath(p: Participant, room: Room): string {
    const name = `${p.recordBase ?? `audiobridge-${room.idString}-user-${String(p.id)}-${Date.now() * 1000}`}-audio.mjr`;
    const dir = room.settings.mjrsDir;
    return dir ? `${dir.replace(/\/+$/, '')}/${name}` : name;
  }

  /** Start recording what `p` sends (nothing when it already is, as Janus). The file opens asynchronously. */
  private startMjr(p: Participant, room: Room): void {
    if (p.mjr) return;
    const path = this.mjrPath(p, room);
    // Checked when the file opens too: a symlink may have appeared, and jcfg folders are not checked before.
    const problem = this.pathPolicy.pathProblem(path);
    if (problem !== null) {
      this.log.error("AudioBridge: not recording the participant's audio", { room: room.idString, id: String(p.id), file: path, err: problem });
      return;
    }
    try {
      p.mjr = new MjrFile(path, { media: 'audio', codec: p.codec }, {
        createFolder: room.foldersConfigured,
        onError: (err) => this.log.error("AudioBridge: Couldn't write the participant's audio recording", { room: room.idString, id: String(p.id), file: path, err: err.message }),
      });
      this.log.info("AudioBridge: recording participant's audio", { room: room.idString, id: String(p.id), file: path });
    } catch (err) {
      this.log.error("AudioBridge: Couldn't open an audio recording file for this participant", { room: room.idString, file: path, err: String(err) });
    }
  }

  /** Where the mix of `room` is recorded: record_dir/record_file, or janus-audioroom-<room>-<µs>.wav. */
  recordingPath(room: Room): string {
    const st = room.settings;
    const file = st.recordFile ?? `janus-audioroom-${room.idString}-${Date.now() * 1000}.wav`;
    return st.recordDir ? `${st.recordDir.replace(/\/+$/, '')}/${file}` : file;
  }

  private startRecording(room: Room): boolean {
    const path = this.recordingPath(room);
    const problem = this.pathPolicy.pathProblem(path);
    if (problem !== null) {
      this.log.error('AudioBridge: cannot record the mix', { room: room.idString, file: path, err: problem });
      return false;
    }
    try {
      room.startRecording(path, this.recordTmpExt);
      this.log.info('AudioBridge: recording the mix', { room: room.idString, file: path });
      return true;
    } catch (err) {
      this.log.error('AudioBridge: cannot record the mix', { room: room.idString, file: path, err: String(err) });
      return false;
    }
  }

  // ------------------------------------------------------------------------------------------ config

  private newRoom(settings: RoomSettings): Room {
    const room = new Room(settings, this.engine, () => this.media, this.log);
    room.onFault = (reason) => this.teardownRoom(room, reason);
    room.onAnnouncement = (a, event) => {
      this.notify(room, { audiobridge: event === 'started' ? 'announcement-started' : 'announcement-stopped', room: room.settings.id, file_id: a.fileId }, null);
    };
    return room;
  }

  private roomFromConfig(name: string, c: Record<string, CfgValue>): Room | null {
    const raw = name.startsWith('room-') ? name.slice(5) : name;
    if (c['sampling_rate'] === undefined) {
      this.log.error(`Can't add the AudioBridge room '${name}', missing mandatory information (sampling_rate)`);
      return null;
    }
    let id: AbId;
    if (this.stringIds) id = raw;
    else {
      if (!/^[0-9]+$/.test(raw) || Number(raw) === 0 || !Number.isSafeInteger(Number(raw)) || String(Number(raw)) !== raw) {
        this.log.error(`Can't add the AudioBridge room, ID '${raw}' is not numeric...`);
        return null;
      }
      id = Number(raw);
    }
    if (this.rooms.has(id)) {
      this.log.error(`Can't add the AudioBridge room, room ${raw} already exists...`);
      return null;
    }
    const rate = cfgInt(c['sampling_rate'], 16000);
    if (rate === undefined || !RATES.includes(rate)) {
      this.log.error(`Unsupported sampling rate ${String(cfgString(c['sampling_rate']))}...`);
      return null;
    }
    const bool = (k: string, d: boolean): boolean => cfgBool(c[k], d) ?? d;
    const str = (k: string): string | null => cfgString(c[k]) ?? null;
    const levelEvent = bool('audiolevel_event', false);
    const app = cfgInt(c['audio_active_packets'], 100) ?? 100;
    const ala = cfgInt(c['audio_level_average'], 25) ?? 25;
    const loss = cfgInt(c['default_expectedloss'], 0) ?? 0;
    const br = cfgInt(c['default_bitrate'], 0) ?? 0;
    const desc = str('description');
    const groups = [...new Set(cfgStringList(c['groups']) ?? [])].slice(0, MAX_GROUPS);
    const settings: RoomSettings = {
      id,
      description: desc !== null && desc !== '' ? desc : name,
      secret: str('secret'),
      pin: str('pin'),
      isPrivate: bool('is_private', false),
      samplingRate: rate,
      spatialAudio: bool('spatial_audio', false),
      audiolevelExt: bool('audiolevel_ext', true),
      audiolevelEvent: levelEvent,
      audioActivePackets: app > 0 ? app : 100,
      audioLevelAverage: ala > 0 ? ala : 25,
      defaultExpectedLoss: loss >= 0 && loss <= 20 ? loss : 0,
      defaultBitrate: br >= 500 && br <= 512000 ? br : 0,
      denoise: false,
      record: bool('record', false),
      recordFile: str('record_file'),
      recordDir: str('record_dir'),
      mjrs: bool('mjrs', false),
      mjrsDir: str('mjrs_dir'),
      allowRtpParticipants: bool('allow_rtp_participants', false),
      groups,
      allowed: new Set(),
      checkTokens: false,
    };
    return this.newRoom(settings);
  }

  /** The room as a jcfg category (what `permanent` writes back). */
  private roomCategory(room: Room): Record<string, CfgValue> {
    const st = room.settings;
    const c: Record<string, CfgValue> = { description: st.description };
    if (st.isPrivate) c['is_private'] = true;
    c['sampling_rate'] = st.samplingRate;
    if (st.secret !== null) c['secret'] = st.secret;
    if (st.pin !== null) c['pin'] = st.pin;
    if (st.audiolevelExt) {
      c['audiolevel_ext'] = true;
      if (st.audiolevelEvent) {
        c['audiolevel_event'] = true;
        c['audio_active_packets'] = st.audioActivePackets;
        c['audio_level_average'] = st.audioLevelAverage;
      }
    } else c['audiolevel_ext'] = false;
    if (st.defaultExpectedLoss) c['default_expectedloss'] = st.defaultExpectedLoss;
    if (st.defaultBitrate) c['default_bitrate'] = st.defaultBitrate;
    if (st.allowRtpParticipants) c['allow_rtp_participants'] = true;
    if (st.groups.length > 0) c['groups'] = [...st.groups];
    if (st.recordFile !== null) {
      c['record'] = true;
      c['record_file'] = st.recordFile;
    }
    if (st.recordDir !== null) c['record_dir'] = st.recordDir;
    if (st.mjrs) c['mjrs'] = true;
    if (st.mjrsDir !== null) c['mjrs_dir'] = st.mjrsDir;
    if (st.spatialAudio) c['spatial_audio'] = true;
    return c;
  }

  private async persist(room: Room): Promise<boolean> {
    try {
      this.config.setCategory(`room-${room.idString}`, this.roomCategory(room));
    } catch (err) {
      this.log.error('Cannot store the room in the configuration', { err: String(err) });
      return false;
    }
    return this.save();
  }

  private async save(): Promise<boolean> {
    try {
      await this.config.save();
      return true;
    } catch (err) {
      this.log.error('Cannot save the AudioBridge configuration', { file: this.config.file, err: String(err) });
      return false;
    }
  }
}
