/**
 * One plugin in a media worker thread of its own: a PooledPlugin over a private pool of one worker.
 * This is what `media_worker = true` in a plugin's jcfg meant before the pool (and what tests that
 * want exactly one plugin in one thread build).
 */
import type { JanusConfig } from '../config/types.js';
import type { Plugin } from '../core/plugin.js';
import type { Logger } from '../log.js';
import type { MediaRuntimeSettings } from '../media/peer.js';
import type { WebRtcMediaPlane } from '../media/plane.js';
import { PooledPlugin } from './pooled-plugin.js';
import { WorkerPool } from './pool.js';

export interface WorkerPluginOptions {
  describe: Plugin;
  module: string;
  exportName: string;
  pluginOptions?: Record<string, unknown>;
  plane: WebRtcMediaPlane;
  config: JanusConfig;
  settings: () => MediaRuntimeSettings;
  log?: Logger;
  logLevel?: () => number;
}

export class WorkerPlugin extends PooledPlugin {
  constructor(opts: WorkerPluginOptions) {
    const pool = new WorkerPool({
      size: 1,
      plane: opts.plane,
      config: opts.config,
      settings: opts.settings,
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    });
    super({ describe: opts.describe, module: opts.module, exportName: opts.exportName, ...(opts.pluginOptions ? { pluginOptions: opts.pluginOptions } : {}), pool });
  }
}
