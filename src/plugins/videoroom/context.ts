/** Everything request handlers share: one object per plugin instance, no module-level state. */
import type { PluginHost, PluginMediaHost, PluginSession } from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import type { PathPolicy } from '../../security/paths.js';
import type { VrGeneral } from './config.js';
import type { IdCodec, VrId } from './ids.js';
import type { Participant } from './participant.js';
import type { RoomStore } from './persistence.js';
import type { Recordings } from './recording.js';
import type { Room } from './room.js';
import type { VrRtpForwarders } from './rtp-forward.js';

export interface VrContext {
  readonly general: VrGeneral;
  readonly ids: IdCodec;
  readonly rooms: Map<VrId, Room>;
  readonly host: PluginHost;
  /** The relay half of the host; null for a signalling-only host (media is then dropped). */
  readonly media: PluginMediaHost | null;
  readonly log: Logger;
  readonly store: RoomStore;
  /** Open .mjr files, closed on shutdown. */
  readonly recordings: Recordings;
  /** Which folders and file names requests may name (janus.jcfg protected_folders). */
  readonly paths: PathPolicy;
  /** RTP forwarders: shared sockets and the forwarding path. */
  readonly rtpfwd: VrRtpForwarders;
  /** Cross-worker rooms (remote.ts); absent outside the media worker pool. */
  remote?: import('./remote.js').RemoteRooms;
  /** Remote publishers' feeds (remote-feed.ts); absent without a media host. */
  feeds?: import('./remote-feed.js').RemoteFeeds;
  /** Monotonic milliseconds (performance.now in production; tests drive it). */
  now(): number;
}

/** Unsolicited event (no transaction) to each participant's handle; a gone handle is skipped by the host. */
export function notify(ctx: VrContext, to: Iterable<Participant>, data: Record<string, unknown>): void {
  for (const p of to) ctx.host.pushEvent(p.session, null, data);
}

export function reply(ctx: VrContext, session: PluginSession, transaction: string, data: Record<string, unknown>): void {
  ctx.host.pushEvent(session, transaction, data);
}
