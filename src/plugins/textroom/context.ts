/** Everything request handlers share: one object per plugin instance, no module-level state. */
import type { PluginHost, PluginSession } from '../../core/plugin.js';
import type { WorkerBus } from '../../workers/bus.js';
import type { Logger } from '../../log.js';
import type { PostTargetPolicy } from '../../security/post-targets.js';
import type { TrGeneral } from './config.js';
import type { RoomIds, RoomId } from './ids.js';
import type { Outbox } from './outbox.js';
import type { RelayBatch } from './relay.js';
import type { RoomStore } from './persistence.js';
import type { HttpPoster } from './post.js';
import type { Room } from './room.js';

export interface TrContext {
  readonly general: TrGeneral;
  /** For plugin events (events.ts); read at call time, so a host's hooks may be added later. */
  readonly host: PluginHost;
  readonly ids: RoomIds;
  readonly rooms: Map<RoomId, Room>;
  readonly log: Logger;
  readonly out: Outbox;
  readonly poster: HttpPoster;
  /** Which backends `post` may name (general.post_allowed / post_allow_local). */
  readonly postPolicy: PostTargetPolicy;
  readonly store: RoomStore;
  /** The plugin's instances on the other media workers (null: alone, everything is local). */
  readonly link: WorkerBus<RelayBatch> | null;
}

/**
 * Where a request came from. Replies differ slightly by origin (Janus answers `created` over the
 * API but `success` on the data channel) and join/leave/message exist only on the data channel.
 */
export type Origin =
  | { kind: 'datachannel'; session: PluginSession }
  | { kind: 'api'; session: PluginSession }
  | { kind: 'admin' };
