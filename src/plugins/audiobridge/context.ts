/**
 * What every AudioBridge request handler shares: one object per plugin instance (no module-level
 * state), and the events the handlers send to a room's participants.
 */
import type { JcfgDocument, PluginHost } from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import { PathPolicy } from '../../security/paths.js';
import type { MediaHost } from './media.js';
import type { WorkerBus } from '../../workers/bus.js';
import type { PlainRtpPorts } from './plain-rtp.js';
import type { AbId, AbSession, EngineOptions, Participant, Room } from './room.js';

export type Body = Record<string, unknown>;
export type Data = Record<string, unknown>;

export class AbContext {
  host!: PluginHost;
  media: MediaHost | null = null;
  config!: JcfgDocument;
  readonly rooms = new Map<AbId, Room>();
  readonly sessions = new Set<AbSession>();
  /** The same sessions by handle id (frames from other workers name the handle). */
  readonly byHandle = new Map<number, AbSession>();
  /** In a pool worker: the other workers (participants whose room and PeerConnection are apart; no control messages). */
  bus: WorkerBus<never> | null = null;
  adminKey: string | null = null;
  lockRtpForward = false;
  lockPlayFile = false;
  stringIds = false;
  recordTmpExt: string | null = null;
  /** Sockets of plain-RTP participants (set up in init). */
  plainPorts: PlainRtpPorts | null = null;
  /** Forwarder stream ids in use, over all rooms (Janus keeps them unique per plugin). */
  readonly streamIds = new Set<number>();
  /** Which paths requests may name: janus.jcfg's protected_folders (tests inject one). */
  paths: PathPolicy;

  constructor(
    public log: Logger,
    readonly engine: EngineOptions,
    paths: PathPolicy | null,
  ) {
    this.paths = paths ?? new PathPolicy();
  }
}

/** Push an unsolicited event to every participant of `room` except `except` (and those with paused events). */
export function notify(ctx: AbContext, room: Room, data: Data, except: Participant | null): void {
  for (const q of room.participants.values()) {
    if (q === except || q.pausedEvents) continue;
    ctx.host.pushEvent(q.session.handle, null, data);
  }
}

export function participantJson(ctx: AbContext, p: Participant, room: Room, opts: { setup?: boolean; talking?: boolean } = {}): Data {
  const o: Data = { id: p.id };
  if (p.display !== null) o['display'] = p.display;
  o['setup'] = opts.setup ?? p.session.started;
  o['muted'] = p.muted;
  if (opts.talking && p.extmapId > 0) o['talking'] = p.talking;
  if (room.settings.spatialAudio) o['spatial_position'] = p.spatialPosition;
  if (p.suspended) o['suspended'] = true;
  return o;
}

export function othersJson(ctx: AbContext, room: Room, me: Participant): Data[] {
  const list: Data[] = [];
  for (const q of room.participants.values()) if (q !== me) list.push(participantJson(ctx, q, room, { talking: true }));
  return list;
}

