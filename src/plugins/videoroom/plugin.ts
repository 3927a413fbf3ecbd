/**
 * janus.plugin.videoroom entry point: routes requests to the sync table (management.ts) or the
 * async publisher flow (publisher.ts), and owns handle lifecycle. Media-plane requests answer an
 * explicit 499 "not supported yet" until the media plane lands.
 */
import type { Jsep } from '../../core/jsep.js';
import type { Plugin, PluginInitContext, PluginResult, PluginSession } from '../../core/plugin.js';
import { readGeneral, readRooms } from './config.js';
import { notify, type VrContext } from './context.js';
import { errorData, mediaPending, VrError, VrErrorCode } from './errors.js';
import { IdCodec, type VrId } from './ids.js';
import { SYNC_REQUESTS } from './management.js';
import { removeParticipant } from './membership.js';
import { requestName, type Body } from './params.js';
import { handleState, type HandleState } from './participant.js';
import { RoomStore } from './persistence.js';
import { configure, join, leave } from './publisher.js';
import { Room } from './room.js';

type Data = Record<string, unknown>;

const ASYNC_REQUESTS = new Set([
  'join', 'joinandconfigure', 'configure', 'publish', 'unpublish', 'start', 'pause', 'switch', 'leave', 'subscribe', 'unsubscribe', 'update',
]);
const SUBSCRIBER_REQUESTS = new Set(['start', 'pause', 'switch', 'subscribe', 'unsubscribe', 'update']);

function unknownRequest(name: string): VrError {
  return new VrError(VrErrorCode.INVALID_REQUEST, `Unknown request '${name}'`);
}

export class VideoRoomPlugin implements Plugin {
  readonly package = 'janus.plugin.videoroom';
  readonly name = 'JANUS VideoRoom plugin';
  readonly author = 'Portunus';
  readonly description = 'A videoconferencing SFU (room management; media plane pending)';
  readonly version = 1;
  readonly versionString = '0.0.1';

  private ctx: VrContext | null = null;
  /** Async requests run one at a time, in arrival order, after the core has sent its ack. */
  private queue: Promise<void> = Promise.resolve();

  init(init: PluginInitContext): void {
    const log = init.log;
    const general = readGeneral(init.config, log);
    const ids = new IdCodec(general.stringIds);
    const rooms = new Map<VrId, Room>();
    for (const r of readRooms(init.config, general, ids, log)) {
      const room = new Room(r.id, r.settings);
      if (r.allowed !== null) {
        room.addAllowed(r.allowed);
        room.aclEnabled = true;
      }
      rooms.set(r.id, room);
    }
    this.ctx = { general, ids, rooms, host: init.host, log, store: new RoomStore(init.config, ids, log) };
    log.info(`videoroom: ${rooms.size} room(s) from ${init.config.file}; ${ids.stringIds ? 'string' : 'numeric'} IDs`);
  }

  async destroy(): Promise<void> {
    await this.queue;
    this.ctx?.rooms.clear();
    this.ctx = null;
  }

  /** The initialised context; every entry point after init goes through here. */
  private get c(): VrContext {
    if (this.ctx === null) throw new Error('videoroom plugin used before init');
    return this.ctx;
  }

  /** Resolves once every async request received so far has been answered. */
  whenIdle(): Promise<void> {
    return this.queue;
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
    if (sync !== undefined) return { kind: 'ok', data: await this.runSync(() => sync(this.c, body)) };
    if (!ASYNC_REQUESTS.has(request)) return { kind: 'ok', data: errorData(unknownRequest(request)) };
    this.enqueue(() => this.processAsync(session, transaction, request, body, jsep));
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
    if (sync === undefined) return errorData(unknownRequest(request));
    return this.runSync(() => sync(this.c, body));
  }

  /** The PeerConnection went away: the participant stays in the room, only its media state ends. */
  hangupMedia(session: PluginSession): void {
    const state = handleState(session);
    if (state.kind !== 'publisher') return;
    const me = state.participant;
    if (!me.media.active) return;
    me.media.reset();
    notify(this.c, me.room.others(me), { videoroom: 'event', room: me.room.id, unpublished: me.id });
  }

  destroySession(session: PluginSession): void {
    const state = handleState(session);
    if (state.kind === 'publisher' && this.ctx !== null) removeParticipant(this.ctx, state.participant, 'detach');
    session.state = { kind: 'idle' } satisfies HandleState;
  }

  querySession(session: PluginSession): Data {
    const state = handleState(session);
    // Janus reports only its teardown flags for a handle that is not (or no longer) in a room.
    if (state.kind !== 'publisher') return { hangingup: 0, destroyed: 0 };
    const me = state.participant;
    const info: Data = { type: 'publisher', room: me.room.id, id: me.id, private_id: me.privateId };
    if (me.display !== null) info.display = me.display;
    info.publishing = me.media.active;
    if (me.media.bitrate > 0) info.bitrate = me.media.bitrate;
    info.hangingup = 0;
    info.destroyed = 0;
    return info;
  }

  private async runSync(fn: () => Data | Promise<Data>): Promise<Data> {
    try {
      return await fn();
    } catch (err) {
      return this.errorOf(err);
    }
  }

  private errorOf(err: unknown): Data {
    if (err instanceof VrError) return errorData(err);
    this.ctx?.log.error(`videoroom: unexpected failure: ${(err as Error)?.stack ?? String(err)}`);
    return errorData(new VrError(VrErrorCode.UNKNOWN_ERROR, 'Unknown error'));
  }

  private enqueue(task: () => void): void {
    // setImmediate: the core sends its `ack` when handleMessage resolves; the event must come after it.
    this.queue = this.queue.then(() => new Promise<void>((resolve) => setImmediate(() => {
      try {
        task();
      } finally {
        resolve();
      }
    })));
  }

  private processAsync(session: PluginSession, transaction: string, request: string, body: Body, jsep: Jsep | null): void {
    if (!session.alive || this.ctx === null) return;
    const ctx = this.ctx;
    let data: Data;
    try {
      data = this.asyncRequest(ctx, session, request, body, jsep);
    } catch (err) {
      data = this.errorOf(err);
    }
    ctx.host.pushEvent(session, transaction, data);
  }

  private asyncRequest(ctx: VrContext, session: PluginSession, request: string, body: Body, jsep: Jsep | null): Data {
    if (jsep !== null) throw mediaPending(`'${request}' with a JSEP ${jsep.type}`);
    if (request === 'publish' || request === 'joinandconfigure') throw mediaPending('Publishing');
    const state = handleState(session);
    // On a publisher handle these are simply wrong (423, as Janus); elsewhere they need a subscriber handle.
    if (SUBSCRIBER_REQUESTS.has(request) && state.kind !== 'publisher') throw mediaPending('Subscriptions');
    if (request === 'join') return join(ctx, session, state, body);
    if (state.kind === 'idle') throw new VrError(VrErrorCode.JOIN_FIRST, 'Invalid request on unconfigured participant');
    if (state.kind === 'gone') throw new VrError(VrErrorCode.NO_SUCH_ROOM, 'No such room');
    const me = state.participant;
    switch (request) {
      case 'configure':
        return configure(ctx, me, body);
      case 'leave':
        return leave(ctx, me);
      case 'unpublish':
        throw new VrError(VrErrorCode.NOT_PUBLISHED, "Can't unpublish, not published");
      default:
        throw unknownRequest(request);
    }
  }
}
