/**
 * Every shipped plugin, constructed at once (tests and tools that run them all in one thread). The
 * server itself loads plugins through catalog.ts, only where they run.
 */
import type { Plugin } from '../core/plugin.js';
import { AudioBridgePlugin } from './audiobridge/plugin.js';
import { EchoTestPlugin } from './echotest/plugin.js';
import { RecordPlayPlugin } from './recordplay/plugin.js';
import { StreamingPlugin } from './streaming/plugin.js';
import { TextRoomPlugin } from './textroom/plugin.js';
import { VideoCallPlugin } from './videocall/plugin.js';
import { VideoRoomPlugin } from './videoroom/plugin.js';

export { isDisabled, WORKER_CAPABLE } from './catalog.js';

/** One of each, in PLUGIN_CATALOG's order. */
export function builtinPlugins(): Plugin[] {
  return [new AudioBridgePlugin(), new EchoTestPlugin(), new TextRoomPlugin(), new VideoRoomPlugin(), new VideoCallPlugin(), new RecordPlayPlugin(), new StreamingPlugin()];
}
