/** Everything request handlers share: one object per plugin instance, no module-level state. */
import type { PluginHost, PluginMediaHost, PluginSession } from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import type { UdpPortAllocator } from '../../media/net/port-allocator.js';
import type { PathPolicy } from '../../security/paths.js';
import type { StGeneral } from './config.js';
import type { IdCodec, MpId } from './ids.js';
import type { Mountpoint } from './mountpoint.js';
import type { MountpointStore } from './persistence.js';
import type { MountpointSpec } from './spec.js';

export interface StContext {
  readonly general: StGeneral;
  readonly ids: IdCodec;
  readonly mountpoints: Map<MpId, Mountpoint>;
  readonly host: PluginHost;
  /** The relay half of the host; null for a signalling-only host (media is then dropped). */
  readonly media: PluginMediaHost | null;
  readonly log: Logger;
  readonly store: MountpointStore;
  /** UDP ports for `port = 0` (the plugin's rtp_port_range). */
  readonly ports: UdpPortAllocator;
  readonly paths: PathPolicy;
  /** Monotonic milliseconds. */
  now(): number;
  /** Build a mountpoint and start its source (sockets bound before this resolves). */
  startMountpoint(id: MpId, spec: MountpointSpec): Promise<Mountpoint>;
  /** Stop a mountpoint: its viewers are told and hung up, its source closed. */
  stopMountpoint(mp: Mountpoint): void;
}

export function event(ctx: StContext, session: PluginSession, transaction: string | null, data: Record<string, unknown>): void {
  ctx.host.pushEvent(session, transaction, data);
}
