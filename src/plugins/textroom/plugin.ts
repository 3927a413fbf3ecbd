/**
 * janus.plugin.textroom entry point: wires config, rooms and the data-channel host together and
 * routes Janus API / Admin API / data-channel traffic. Data-channel requests run synchronously in
 * incomingData; only `permanent` saves and backend POSTs are asynchronous, and neither is awaited
 * by anything on the message path.
 */
import { TEXTROOM_INFO } from '../catalog.js';
import { fault } from '../../core/fault.js';
import type { Jsep } from '../../core/jsep.js';
import type { Plugin, PluginHost, PluginInitContext, PluginMetrics, PluginResult, PluginSession } from '../../core/plugin.js';
import { readGeneral, readRooms } from './config.js';
import type { TrContext } from './context.js';
import { handleFrame, runForwarded } from './datachannel.js';
import { errorPayload, TrError, TrErrorCode, type Data } from './errors.js';
import { RoomIds, type RoomId } from './ids.js';
import { isDataChannelHost, type DataChannelHost, type DataChannelPlugin } from './media.js';
import { leaveAll, removeParticipant } from './membership.js';
import { negotiate, NEGOTIATION } from './negotiation.js';
import { Outbox } from './outbox.js';
import { Params } from './params.js';
import { RoomStore } from './persistence.js';
import { HttpPoster, type PosterOptions } from './post.js';
import { PostTargetPolicy } from '../../security/post-targets.js';
import { isManagement, runManagement, type Outcome } from './requests.js';
import { isRelayBatch, MemberRelay, RelayOp, type RelayBatch } from './relay.js';
import type { BusMember, WorkerBus } from '../../workers/bus.js';
import { forgetFlights, forwardDone } from './request-order.js';
import { Room } from './room.js';
import { handleOf } from './session.js';

export interface TextRoomOptions {
  /** Where data-channel frames go; otherwise the init host is used if it has `sendData`, or attachDataChannels later. */
  dataChannels?: DataChannelHost;
  /** Backend POST timeout / in-flight bound. */
  post?: PosterOptions;
}

function unknownRequest(name: string): Data {
  return errorPayload('event', new TrError(TrErrorCode.INVALID_REQUEST, `Unknown request '${name}'`));
}

/** A handler that produced no reply where one was due (Janus says "Invalid response"). */
function orInvalid(out: Outcome): Data {
  return out ?? errorPayload('error', new TrError(TrErrorCode.UNKNOWN_ERROR, 'Invalid response'));
}

export class TextRoomPlugin implements Plugin, DataChannelPlugin, BusMember<RelayBatch> {
  readonly package = TEXTROOM_INFO.package;
  readonly name = TEXTROOM_INFO.name;
  readonly author = TEXTROOM_INFO.author;
  readonly description = TEXTROOM_INFO.description;
  readonly version = TEXTROOM_INFO.version;
  readonly versionString = TEXTROOM_INFO.versionString;

  private ctx: TrContext | null = null;
  private host: PluginHost | null = null;
  private dataChannels: DataChannelHost | null;
  /** setup/ack/restart events, one at a time, each after the core's `ack` went out. */
  private queue: Promise<void> = Promise.resolve();
  /** The handles attached here, for frames relayed from other media workers (by handle id). */
  private readonly sessions = new Map<number, PluginSession>();

  constructor(private readonly opts: TextRoomOptions = {}) {
    this.dataChannels = opts.dataChannels ?? null;
  }

  init(init: PluginInitContext): void {
    const log = init.log;
    const general = readGeneral(init.config, log);
    const ids = new RoomIds(general.stringIds);
    const rooms = new Map<RoomId, Room>();
    const postPolicy = new PostTargetPolicy({ allowed: general.postAllowed, allowLocal: general.postAllowLocal });
    for (const r of readRooms(init.config, ids, log)) {
      rooms.set(r.id, new Room(r.id, r.settings));
      const post = r.settings.post;
      if (post !== null) {
        // The operator's own rooms are kept; messages to a target the policy refuses are dropped (logged).
        const problem = postPolicy.problem(post);
        if (problem === null) log.info(`textroom: room ${r.id} posts to ${post}`);
        else log.warn(`textroom: room ${r.id}: post target ${post} is refused by the post policy (${problem}); allow it with post_allowed or post_allow_local`);
      }
    }
    if (this.dataChannels === null && isDataChannelHost(init.host)) this.dataChannels = init.host;
    this.host = init.host;
    // Several workers: members and rooms may sit apart (relay.ts); alone, everything is local.
    const link = init.bus !== undefined && init.bus.workers > 1 ? (init.bus as WorkerBus<RelayBatch>) : null;
    this.ctx = {
      general,
      host: init.host,
      ids,
      rooms,
      log,
      out: new Outbox(() => this.dataChannels, general.json, log, link !== null ? new MemberRelay(link) : null),
      poster: new HttpPoster(log, this.opts.post, postPolicy),
      postPolicy,
      store: new RoomStore(init.config, ids, log),
      link,
    };
    log.info(`textroom: ${rooms.size} room(s) from ${init.config.file}; ${ids.stringIds ? 'string' : 'numeric'} IDs`);
  }

  /** Connect the media plane's data channels (when it was not available at construction/init). */
  attachDataChannels(host: DataChannelHost): void {
    this.dataChannels = host;
  }

  async destroy(): Promise<void> {
    await this.queue;
    this.ctx?.poster.close();
    this.ctx?.rooms.clear();
    this.ctx = null;
  }

  /** Resolves once every queued setup/ack/restart has been answered (tests, orderly shutdown). */
  whenIdle(): Promise<void> {
    return this.queue;
  }

  /** Room lookup for tests and diagnostics (read-only use). */
  room(id: RoomId): Room | undefined {
    return this.ctx?.rooms.get(id);
  }

  createSession(session: PluginSession): void {
    handleOf(session);
    this.sessions.set(session.handleId, session);
  }

  async handleMessage(session: PluginSession, transaction: string, body: Data, jsep: Jsep | null): Promise<PluginResult> {
    const ctx = this.ctx;
    const host = this.host;
    if (ctx === null || host === null) return { kind: 'error', reason: 'Plugin not initialized' };
    let name: string;
    try {
      name = new Params(body).requireString('request');
    } catch (err) {
      return { kind: 'ok', data: errorPayload('event', err as TrError) };
    }
    if (isManagement(name)) return { kind: 'ok', data: orInvalid(await runManagement(ctx, { kind: 'api', session }, name, body)) };
    const key = name.toLowerCase();
    if (!NEGOTIATION.has(key)) return { kind: 'ok', data: unknownRequest(name) };
    this.enqueue(() => {
      if (session.alive && !handleOf(session).destroyed) negotiate(host, session, transaction, key, jsep);
    });
    return { kind: 'wait' };
  }

  async handleAdminMessage(body: Data): Promise<Data> {
    const ctx = this.ctx;
    if (ctx === null) return errorPayload('event', new TrError(TrErrorCode.UNKNOWN_ERROR, 'Plugin not initialized'));
    let name: string;
    try {
      name = new Params(body).requireString('request');
    } catch (err) {
      return errorPayload('event', err as TrError);
    }
    if (!isManagement(name)) return unknownRequest(name);
    return orInvalid(await runManagement(ctx, { kind: 'admin' }, name, body));
  }

  incomingData(session: PluginSession, _label: string, data: Buffer | string, binary: boolean): void {
    const ctx = this.ctx;
    if (ctx === null || !session.alive || handleOf(session).destroyed) return;
    try {
      handleFrame(ctx, session, data, binary);
    } catch (err) {
      // handleFrame already turns request failures into replies; this is a last line of defence.
      ctx.log.error(`textroom: data-channel message from handle ${session.handleId} failed: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  /** The PeerConnection went away: leave every room. A new `setup` is then allowed (Janus refuses it with 416). */
  hangupMedia(session: PluginSession): void {
    const handle = handleOf(session);
    if (this.ctx !== null) leaveAll(this.ctx, session);
    // Rooms on other workers: main hangs the handle up there too (its members leave there).
    handle.remote.clear();
    handle.waiting.length = 0;
    handle.inFlight = 0;
    handle.setup = false;
  }

  destroySession(session: PluginSession): void {
    const handle = handleOf(session);
    if (this.ctx !== null) leaveAll(this.ctx, session);
    handle.remote.clear();
    handle.destroyed = true;
    if (this.sessions.get(session.handleId) === session) this.sessions.delete(session.handleId);
  }

  // ------------------------------------------------------------------ the other media workers (relay.ts)

  /** A batch from a room's worker: frames for members whose data channel is here, and their memberships. */
  busMessage(from: number, payload: RelayBatch): void {
    const ctx = this.ctx;
    if (ctx === null || !isRelayBatch(payload)) return;
    const { frames, ops } = payload;
    for (let i = 0; i < ops.length; i += 3) {
      const session = this.sessions.get(ops[i + 1] as number);
      if (session === undefined || !session.alive) continue;
      const arg = ops[i + 2]!;
      switch (ops[i]) {
        case RelayOp.Request:
          this.direct(session, from, frames[arg as number]);
          break;
        case RelayOp.Frame: {
          const frame = frames[arg as number];
          if (typeof frame === 'string') ctx.out.sendText(session, frame);
          break;
        }
        case RelayOp.Joined:
          handleOf(session).remote.set(arg, from);
          break;
        case RelayOp.Left: {
          const remote = handleOf(session).remote;
          if (remote.get(arg) === from) remote.delete(arg);
          break;
        }
        case RelayOp.Done:
          forwardDone(session);
          break;
      }
    }
  }

  /** A member's data-channel request for a room here, from the worker its data channel is on. */
  forwarded(session: PluginSession, from: number, body: Data): void {
    const ctx = this.ctx;
    // The member's worker holds its later requests until this one is done: it must hear, whatever happens.
    let told = false;
    const done = (): void => {
      if (told) return;
      told = true;
      if (ctx?.link && from !== ctx.link.index) ctx.out.relay?.done(from, session.handleId);
      else forwardDone(session);
    };
    try {
      if (ctx !== null && session.alive && !handleOf(session).destroyed) runForwarded(ctx, session, body, done);
      else done();
    } catch (err) {
      ctx?.log.error(`textroom: forwarded request from handle ${session.handleId} failed: ${(err as Error)?.stack ?? String(err)}`);
      done();
    }
  }

  /** A member's request that came straight from its worker (relay.ts Request): run as if main had forwarded it. */
  private direct(session: PluginSession, from: number, text: string | undefined): void {
    let body: unknown;
    try {
      body = typeof text === 'string' ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    // The member's worker parsed it before sending: anything else is not from our peer; it is still answered (done).
    this.forwarded(session, from, body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Data) : {});
  }

  /** The merged answer to a forwarded `list` (or why a forwarded request could not run). */
  forwardReply(session: PluginSession, tag: string | null, data: Data | null, error: string | null): void {
    const ctx = this.ctx;
    if (ctx === null || !session.alive) return;
    const reply = data ?? errorPayload('error', new TrError(TrErrorCode.UNKNOWN_ERROR, error ?? 'No answer'));
    ctx.out.send(session, tag === null ? reply : { ...reply, transaction: tag });
    forwardDone(session);
  }

  /**
   * Worker `index` died. Its rooms are gone (jcfg rooms come back empty): members here hear
   * `destroyed`, as when a room is destroyed, and may join again. Its data channels are gone: their
   * members leave the rooms here (`leave` to the others).
   */
  busDown(index: number): void {
    const ctx = this.ctx;
    if (ctx === null) return;
    for (const session of this.sessions.values()) {
      const handle = handleOf(session);
      if (handle.inFlight > 0) forgetFlights(session);
      for (const [room, w] of [...handle.remote]) {
        if (w !== index) continue;
        handle.remote.delete(room);
        ctx.out.send(session, { textroom: 'destroyed', room });
      }
      if (ctx.link?.homeOf(session) === index) for (const me of [...handle.rooms.values()]) removeParticipant(ctx, me, false);
    }
  }

  /** Counts for /metrics, private rooms included. */
  metrics(): PluginMetrics {
    let participants = 0;
    for (const r of this.ctx?.rooms.values() ?? []) participants += r.participants.size;
    return { rooms: this.ctx?.rooms.size ?? 0, participants };
  }

  querySession(session: PluginSession): Data {
    const handle = handleOf(session);
    return {
      setup: handle.setup,
      destroyed: handle.destroyed,
      rooms: [...handle.rooms.values()].map((p) => ({ room: p.room.id, ...Room.describe(p) })),
      // Portunus only: rooms on other media workers this handle is in (their worker has the details).
      ...(handle.remote.size > 0 ? { portunus: { rooms_on_other_workers: [...handle.remote].map(([room, worker]) => ({ room, worker })) } } : {}),
    };
  }

  private enqueue(task: () => void): void {
    // setImmediate: the core sends its `ack` when handleMessage resolves; the event must follow it.
    this.queue = this.queue.then(
      () =>
        new Promise<void>((resolve) =>
          setImmediate(() => {
            try {
              task();
            } catch (err) {
              if (this.ctx) fault(this.ctx.log, 'plugin_timer', err, { plugin: 'janus.plugin.textroom', where: 'negotiation' });
            } finally {
              resolve();
            }
          }),
        ),
    );
  }
}
