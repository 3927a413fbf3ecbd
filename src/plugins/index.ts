/**
 * The plugins Portunus ships, and Janus's `plugins.disable` list semantics (library file names
 * like "libjanus_videoroom.so", or package names).
 */
import type { Plugin } from '../core/plugin.js';
import { AudioBridgePlugin } from './audiobridge/plugin.js';
import { EchoTestPlugin } from './echotest/plugin.js';
import { RecordPlayPlugin } from './recordplay/plugin.js';
import { StreamingPlugin } from './streaming/plugin.js';
import { TextRoomPlugin } from './textroom/plugin.js';
import { VideoCallPlugin } from './videocall/plugin.js';
import { VideoRoomPlugin } from './videoroom/plugin.js';

export function builtinPlugins(): Plugin[] {
  return [
    new AudioBridgePlugin(),
    new EchoTestPlugin(),
    new TextRoomPlugin(),
    new VideoRoomPlugin(),
    // Main thread only (not WORKER_CAPABLE): a call's two handles relay to each other directly.
    new VideoCallPlugin(),
    // Main thread only: its playout clock is one timer for every viewer.
    new RecordPlayPlugin(),
    new StreamingPlugin(),
  ];
}

/**
 * Plugins that can run in the media worker pool (src/workers): the module and export each worker loads,
 * and whether they do unless their jcfg says otherwise (`general: { media_worker = true|false }`).
 * With `media_workers` (janus.jcfg `media`) above 0 every one of them does by default: their rooms and
 * PeerConnections are spread over the workers, the main thread keeps transports, sessions and routing.
 * `media_workers = 0` keeps them all on the main thread.
 */
export const WORKER_CAPABLE: Readonly<Record<string, { module: string; exportName: string; byDefault: boolean }>> = {
  'janus.plugin.audiobridge': { module: new URL('./audiobridge/plugin.js', import.meta.url).href, exportName: 'AudioBridgePlugin', byDefault: true },
  'janus.plugin.videoroom': { module: new URL('./videoroom/plugin.js', import.meta.url).href, exportName: 'VideoRoomPlugin', byDefault: true },
  'janus.plugin.echotest': { module: new URL('./echotest/plugin.js', import.meta.url).href, exportName: 'EchoTestPlugin', byDefault: true },
  'janus.plugin.textroom': { module: new URL('./textroom/plugin.js', import.meta.url).href, exportName: 'TextRoomPlugin', byDefault: true },
  'janus.plugin.streaming': { module: new URL('./streaming/plugin.js', import.meta.url).href, exportName: 'StreamingPlugin', byDefault: true },
};

/** "janus.plugin.videoroom" is disabled by "libjanus_videoroom.so" or by its own name. */
export function isDisabled(pkg: string, disable: readonly string[]): boolean {
  const short = pkg.split('.').pop() ?? pkg;
  return disable.some((d) => {
    const name = d.trim();
    return name === pkg || name === `libjanus_${short}.so` || name === `libjanus_${short}`;
  });
}
