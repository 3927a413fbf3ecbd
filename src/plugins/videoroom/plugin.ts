/**
 * janus.plugin.videoroom entry point: routes requests to the sync table (management.ts), the
 * publisher flow (publisher.ts, publishing.ts) or the subscriber flow (subscriber.ts), owns the
 * handle lifecycle, and hands the packet path to the Forwarder (forward.ts).
 */
import { autoLayersInfo } from './auto-layers.js';
import { replyOf, RequestQueue } from '../request-queue.js';
import { VIDEOROOM_INFO } from '../catalog.js';
import { fault } from '../../core/fault.js';
import type { Jsep } from '../../core/jsep.js';
import {
  isMediaRelayHost,
  type Plugin,
  type PluginInitContext,
  type PluginMetrics,
  type PluginResult,
  type PluginSession,
  type RtpStreamInfo,
} from '../../core/plugin.js';
import type { BusMember, WorkerBus } from '../../workers/bus.js';
import { readGeneral, readRooms } from './config.js';
import type { VrContext } from './context.js';
import { errorData, VrError, VrErrorCode } from './errors.js';
import { participantGoneEvent, subscribedEvent } from './events.js';
import { Forwarder } from './forward.js';
import { IdCodec, type VrId } from './ids.js';
import { SYNC_REQUESTS } from './management.js';
import { CLUSTER_REQUESTS } from './cluster-link.js';
import { removeParticipant } from './membership.js';
import { Params, requestName, type Body } from './params.js';
import { handleState, type HandleState } from './participant.js';
import { RoomStore } from './persistence.js';
import { Recordings } from './recording.js';
import { PathPolicy } from '../../security/paths.js';
import { configure, join, leave, unpublish, type AsyncReply } from './publisher.js';
import { publisherUp, stopPublishing } from './publishing.js';
import { Room } from './room.js';
import { VrRtpForwarders } from './rtp-forward.js';
import { closeSubscriber, requestKeyframes, subscriberRequest } from './subscriber.js';
import { RemoteRooms, type VrBusMessage } from './remote.js';
import { isDataRecord } from './lane-data.js';
import { RemoteFeeds, wrapHost, wrapMediaHost } from './remote-feed.js';

type Data = Record<string, unknown>;

const ASYNC_REQUESTS = new Set([
  'join', 'joinandconfigure', 'configure', 'publish', 'unpublish', 'start', 'pause', 'switch', 'leave', 'subscribe', 'unsubscribe', 'update',
]);
const SUBSCRIBER_ONLY = new Set(['start', 'pause', 'switch', 'subscribe', 'unsubscribe', 'update']);

function unknownRequest(name: string): VrError {
  return new VrError(VrErrorCode.INVALID_REQUEST, `Unknown request '${name}'`);
}

export class VideoRoomPlugin implements Plugin, BusMember<VrBusMessage> {
  readonly package = VIDEOROOM_INFO.package;
  readonly name = VIDEOROOM_INFO.name;
  readonly author = VIDEOROOM_INFO.author;
  readonly description = VIDEOROOM_INFO.description;
  readonly version = VIDEOROOM_INFO.version;
  readonly versionString = VIDEOROOM_INFO.versionString;

  private ctx: VrContext | null = null;
  /** Tests may inject a path policy; otherwise it comes from janus.jcfg's protected_folders. */
  constructor(private readonly paths: PathPolicy | null = null) {}
  private forwarder: Forwarder | null = null;
  private clock: () => number = () => performance.now();
  /** Async requests run one at a time, in arrival order, after the core has sent its ack. */
  /** Async requests one at a time, in arrival order. */
  private readonly requests = new RequestQueue('janus.plugin.videoroom', () => this.ctx?.log ?? null);

  init(init: PluginInitContext): void {
    const log = init.log;
    const general = readGeneral(init.config, log);
    const ids = new IdCodec(general.stringIds);
    const rooms = new Map<VrId, Room>();
    for (const r of readRooms(init.config, general, ids, log)) {
      const room = new Room(r.id, r.settings);
      room.recDirConfigured = true;
      if (r.allowed !== null) {
        room.addAllowed(r.allowed);
        room.aclEnabled = true;
      }
      rooms.set(r.id, room);
    }
    // Remote publishers have no handle: keyframe requests and teardown for them go to their feed.
    const host = wrapHost(init.host);
    const media = isMediaRelayHost(host) ? wrapMediaHost(host) : null;
    if (media === null) log.warn('videoroom: the host has no media relay: media will not be forwarded');
    const now = (): number => this.clock();
    const rtpfwd = new VrRtpForwarders(log, (ps) => {
      ps.lastPliMs = now();
      media?.sendPli(ps.owner.session, ps.mid);
    }, now);
    this.ctx = { general, ids, rooms, host, media, log, store: new RoomStore(init.config, ids, log), recordings: new Recordings(), paths: this.paths ?? PathPolicy.fromGateway(init.gateway), rtpfwd, now };
    this.forwarder = media !== null ? new Forwarder(this.ctx, media) : null;
    const forwarder = this.forwarder;
    if (forwarder !== null) {
      this.ctx.feeds = new RemoteFeeds(this.ctx, {
        rtp: (me, info, buf, len) => forwarder.publisherRtp(me, info, buf, len),
        data: (me, data, isBinary) => forwarder.publisherData(me, null, data, isBinary),
      });
    }
    if (init.bus !== undefined && forwarder !== null) {
      this.ctx.remote = new RemoteRooms(this.ctx, init.bus as WorkerBus<VrBusMessage>, {
        rtp: (me, info, buf, len) => {
          try {
            forwarder.publisherRtp(me, info, buf, len);
          } catch (err) {
            this.ctx?.log.error(`videoroom: remote packet path failure: ${(err as Error)?.stack ?? String(err)}`);
          }
        },
        keyframe: (ps) => forwarder.keyframeRequest(ps, now()),
        data: (ps, label, payload) => {
          try {
            forwarder.relayData(ps, label, payload);
          } catch (err) {
            this.ctx?.log.error(`videoroom: remote data path failure: ${(err as Error)?.stack ?? String(err)}`);
          }
        },
      });
    }
    log.info(`videoroom: ${rooms.size} room(s) from ${init.config.file}; ${ids.stringIds ? 'string' : 'numeric'} IDs`);
  }

  async destroy(): Promise<void> {
    await this.requests.idle;
    // Shutdown: every recording is flushed and closed before the plugin goes.
    await this.ctx?.recordings.closeAll();
    this.ctx?.rtpfwd.close();
    this.ctx?.feeds?.close();
    this.ctx?.rooms.clear();
    this.ctx = null;
    this.forwarder = null;
  }

  /** Replace the clock (monotonic ms) the packet path and rate limits use: tests drive time. */
  setClock(now: () => number): void {
    this.clock = now;
  }

  /** Packets handed to relayRtp so far (benchmark, diagnostics). */
  get forwardedPackets(): number {
    return this.forwarder?.forwarded ?? 0;
  }

  /** The initialised context; every entry point after init goes through here. */
  private get c(): VrContext {
    if (this.ctx === null) throw new Error('videoroom plugin used before init');
    return this.ctx;
  }

  /** Resolves once every async request received so far has been answered. */
  whenIdle(): Promise<void> {
    return this.requests.idle;
  }

  /** Open recordings and a way to wait for the ones being closed (tests, diagnostics). */
  get recordings(): Recordings | undefined {
    return this.ctx?.recordings;
  }

  /** Room lookup for tests and diagnostics (read-only use). */
  room(id: VrId): Room | undefined {
    return this.c.rooms.get(id);
  }

  createSession(session: PluginSession): void {
    session.state = { kind: 'idle' } satisfies HandleState;
  }

  async handleMessage(session: PluginSession, transaction: string, body: Body, jsep: Jsep | null): Promise<PluginResult> {
    let request: string;
    try {
      request = requestName(body);
    } catch (err) {
      return { kind: 'ok', data: this.errorOf(err) };
    }
    const sync = SYNC_REQUESTS.get(request);
    if (sync !== undefined) return { kind: 'ok', data: await replyOf(() => sync(this.c, body, session), (e) => this.errorOf(e)) };
    if (!ASYNC_REQUESTS.has(request)) return { kind: 'ok', data: errorData(unknownRequest(request)) };
    this.requests.push(() => this.processAsync(session, transaction, request, body, jsep));
    return { kind: 'wait' };
  }

  async handleAdminMessage(body: Body): Promise<Data> {
    let request: string;
    try {
      request = requestName(body);
    } catch (err) {
      return this.errorOf(err);
    }
    const sync = SYNC_REQUESTS.get(request);
    if (sync !== undefined) return replyOf(() => sync(this.c, body, null), (e) => this.errorOf(e));
    // The cluster layer's own requests (cluster-link.ts): Admin only, never from a handle.
    const link = CLUSTER_REQUESTS.get(request);
    if (link === undefined) return errorData(unknownRequest(request));
    return replyOf(() => link(this.c, body), (e) => this.errorOf(e));
  }

  /** The PeerConnection is up: a publisher is announced; a subscriber's sources are asked for keyframes. */
  setupMedia(session: PluginSession): void {
    const ctx = this.ctx;
    if (ctx === null) return;
    const state = handleState(session);
    if (state.kind === 'publisher') publisherUp(ctx, state.participant);
    else if (state.kind === 'subscriber') {
      requestKeyframes(ctx, state.subscriber.streams, true);
      subscribedEvent(ctx, session, state.subscriber.room.id);
    }
  }

  /**
   * The PeerConnection went away. A publisher stays in the room, only its media ends (others get
   * `unpublished`, subscribers lose its streams); a subscription ends.
   */
  hangupMedia(session: PluginSession): void {
    const ctx = this.ctx;
    if (ctx === null) return;
    const state = handleState(session);
    if (state.kind === 'publisher') {
      const me = state.participant;
      const hadMedia = me.media.negotiated || me.media.active;
      stopPublishing(ctx, me, true);
      if (hadMedia && me.room.participants.get(me.id) === me) participantGoneEvent(ctx, 'unpublished', me.room.id, me.id);
      this.forwarder?.invalidate();
    } else if (state.kind === 'subscriber') {
      const sub = state.subscriber;
      closeSubscriber(sub);
      session.state = { kind: 'gone', room: sub.room.id } satisfies HandleState;
    }
  }

  destroySession(session: PluginSession): void {
    const state = handleState(session);
    if (state.kind === 'publisher' && this.ctx !== null) removeParticipant(this.ctx, state.participant, 'detach');
    if (state.kind === 'subscriber') closeSubscriber(state.subscriber);
    this.forwarder?.invalidate();
    session.state = { kind: 'idle' } satisfies HandleState;
  }

  // ---------------------------------------------------------------- other media workers (remote.ts)

  busCall(op: string, args: Record<string, unknown>): unknown {
    const r = this.ctx?.remote;
    if (r === undefined) throw new Error('videoroom: no cross-worker rooms here');
    const out = r.busCall(op, args);
    this.forwarder?.invalidate();
    return out;
  }

  busMessage(from: number, msg: VrBusMessage): void {
    try {
      this.ctx?.remote?.busMessage(from, msg);
      this.forwarder?.invalidate();
    } catch (err) {
      if (this.ctx) fault(this.ctx.log, 'worker', err, { plugin: this.package, where: `bus message ${String(msg.op)}` });
    }
  }

  busPacket(from: number, tag: number, meta: number, data: Buffer, offset: number, length: number): void {
    this.ctx?.remote?.busPacket(from, tag, meta, data, offset, length);
  }

  /** Lane records of a mirror stream were too old to deliver (bus.ts LANE_MAX_AGE_MS): remote.ts asks for a keyframe. */
  busStale(from: number, tag: number): void {
    try {
      this.ctx?.remote?.stale(from, tag);
    } catch (err) {
      if (this.ctx) fault(this.ctx.log, 'worker', err, { plugin: this.package, where: 'bus stale' });
    }
  }

  busDown(index: number): void {
    this.ctx?.remote?.busDown(index);
    this.forwarder?.invalidate();
  }

  /**
   * For a bus that skips lane records too old to be worth delivering (late RTP is useless, a keyframe
   * repairs the gap): a data-channel message is delivered however late, as SCTP would (reliable,
   * ordered by default), since nothing would ever repair its loss.
   */
  busKeepStale(_from: number, _tag: number, meta: number): boolean {
    return isDataRecord(meta);
  }

  /** Ring records received from other workers (tests, bench). */
  get remoteReceived(): number {
    return this.ctx?.remote?.received ?? 0;
  }

  /** Counts for /metrics, private rooms included. */
  metrics(): PluginMetrics {
    let participants = 0;
    for (const r of this.ctx?.rooms.values() ?? []) participants += r.participants.size;
    const udpPorts = this.ctx?.feeds?.livePorts() ?? [];
    return { rooms: this.ctx?.rooms.size ?? 0, participants, ...(udpPorts.length > 0 ? { udpPorts } : {}) };
  }

  querySession(session: PluginSession): Data {
    const state = handleState(session);
    if (state.kind === 'subscriber') {
      const sub = state.subscriber;
      return {
        type: 'subscriber',
        room: sub.room.id,
        ...(sub.owner !== undefined ? { private_id: sub.owner.privateId } : {}),
        started: sub.started,
        paused: sub.paused,
        autoupdate: sub.autoupdate,
        streams: sub.streamList(),
        // Portunus only: what auto_layers last decided with.
        ...(sub.room.settings.auto_layers ? { auto_layers: { estimate: Math.round(sub.autoEstimate), paused: sub.streams.filter((s) => s.autoPaused).map((s) => s.mid), evaluations: this.forwarder?.autoLayers.evaluations ?? 0, queue_downs: sub.autoQueueDowns, queue_ms: sub.autoQueueMs, last: autoLayersInfo(sub.autoLast, sub.autoLast.map((c) => c.line.mid)) } } : {}),
        hangingup: 0,
        destroyed: 0,
      };
    }
    // Janus reports only its teardown flags for a handle that is not (or no longer) in a room.
    if (state.kind !== 'publisher') return { hangingup: 0, destroyed: 0 };
    const me = state.participant;
    const info: Data = { type: 'publisher', room: me.room.id, id: me.id, private_id: me.privateId };
    if (me.display !== null) info.display = me.display;
    info.publishing = me.media.active;
    if (me.media.bitrate > 0) info.bitrate = me.media.bitrate;
    if (me.media.negotiated) info.streams = me.media.streams.map((s) => ({ ...s.entry(false), packets: s.packets, subscribers: s.subscribers.length }));
    info.hangingup = 0;
    info.destroyed = 0;
    return info;
  }

  // ---------------------------------------------------------------- packet path (synchronous, never throws)

  incomingRtp(session: PluginSession, stream: RtpStreamInfo, buf: Buffer, len: number): void {
    const f = this.forwarder;
    const state = session.state as HandleState | undefined;
    if (f === null || state === undefined || state.kind !== 'publisher') return;
    try {
      f.publisherRtp(state.participant, stream, buf, len);
    } catch (err) {
      this.ctx?.log.error(`videoroom: packet path failure: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  incomingRtcp(session: PluginSession, stream: RtpStreamInfo | null, buf: Buffer, len: number): void {
    const f = this.forwarder;
    const state = session.state as HandleState | undefined;
    if (f === null || state === undefined || state.kind !== 'subscriber') return;
    try {
      f.subscriberRtcp(state.subscriber, stream, buf, len);
    } catch (err) {
      this.ctx?.log.error(`videoroom: RTCP path failure: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  incomingData(session: PluginSession, label: string, data: Buffer, isBinary: boolean): void {
    const f = this.forwarder;
    const state = session.state as HandleState | undefined;
    if (f === null || state === undefined || state.kind !== 'publisher') return;
    try {
      f.publisherData(state.participant, label, data, isBinary);
    } catch (err) {
      this.ctx?.log.error(`videoroom: data path failure: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  private errorOf(err: unknown): Data {
    if (err instanceof VrError) return errorData(err);
    this.ctx?.log.error(`videoroom: unexpected failure: ${(err as Error)?.stack ?? String(err)}`);
    return errorData(new VrError(VrErrorCode.UNKNOWN_ERROR, 'Unknown error'));
  }

  private processAsync(session: PluginSession, transaction: string, request: string, body: Body, jsep: Jsep | null): void {
    if (!session.alive || this.ctx === null) return;
    const ctx = this.ctx;
    let out: AsyncReply | null;
    try {
      out = this.asyncRequest(ctx, session, transaction, request, body, jsep);
    } catch (err) {
      out = { data: this.errorOf(err) };
    }
    this.forwarder?.invalidate();
    if (out === null) return;
    if (out.jsep !== undefined) {
      const ok = ctx.host.pushEvent(session, transaction, out.data, out.jsep);
      // The media plane refused our answer: the publisher is not negotiated after all.
      if (!ok) {
        const st = handleState(session);
        if (st.kind === 'publisher' && !st.participant.media.active) stopPublishing(ctx, st.participant, false);
      }
    } else ctx.host.pushEvent(session, transaction, out.data);
  }

  private asyncRequest(ctx: VrContext, session: PluginSession, transaction: string, request: string, body: Body, jsep: Jsep | null): AsyncReply | null {
    const state = handleState(session);
    if (state.kind === 'subscriber') {
      const data = subscriberRequest(ctx, state.subscriber, request, body, jsep, transaction);
      return data === null ? null : { data };
    }
    if (request === 'join' || request === 'joinandconfigure') {
      if (jsep !== null && request === 'join') throw new VrError(VrErrorCode.INVALID_ELEMENT, "Unexpected JSEP offer in 'join' (use 'joinandconfigure' or 'publish')");
      if (request === 'joinandconfigure' && state.kind === 'idle') {
        const ptype = new Params(body).string('ptype');
        if (ptype !== undefined && ptype !== 'publisher') throw new VrError(VrErrorCode.INVALID_ELEMENT, 'Invalid element (ptype)');
      }
      const joined = join(ctx, session, state, body, transaction);
      if (joined === null || request === 'join') return joined === null ? null : { data: joined };
      const now = handleState(session);
      if (now.kind !== 'publisher') return { data: joined };
      try {
        const r = configure(ctx, now.participant, body, jsep, 'publish');
        return r.jsep !== undefined ? { data: joined, jsep: r.jsep } : { data: joined };
      } catch (err) {
        // The join half stands only if the publish half worked, so the client can retry on this handle.
        removeParticipant(ctx, now.participant, 'detach');
        session.state = { kind: 'idle' } satisfies HandleState;
        throw err;
      }
    }
    if (state.kind === 'idle') throw new VrError(VrErrorCode.JOIN_FIRST, 'Invalid request on unconfigured participant');
    if (state.kind === 'gone') throw new VrError(VrErrorCode.NO_SUCH_ROOM, 'No such room');
    const me = state.participant;
    if (SUBSCRIBER_ONLY.has(request)) throw new VrError(VrErrorCode.INVALID_REQUEST, `Unknown request '${request}'`);
    switch (request) {
      case 'configure':
      case 'publish':
        return configure(ctx, me, body, jsep, request);
      case 'leave':
        return { data: leave(ctx, me) };
      case 'unpublish':
        return { data: unpublish(ctx, me) };
      default:
        throw unknownRequest(request);
    }
  }
}
