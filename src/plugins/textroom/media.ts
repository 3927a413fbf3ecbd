/**
 * The narrow data-channel interface between the TextRoom plugin and the core's media plane.
 *
 * The core provides a DataChannelHost (text out) and calls the plugin's DataChannelPlugin
 * methods (text in). Everything here is synchronous: the plugin never awaits on the message
 * path, and the core must not await it either. Both are subsets of the core's plugin media
 * contract (PluginMediaHost.sendData, Plugin.incomingData in src/core/plugin.ts), so the
 * Gateway's host is picked up as the DataChannelHost at init without any glue.
 */
import type { PluginSession } from '../../core/plugin.js';

/** Largest frame the plugin accepts, and what its SDP advertises as `a=max-message-size`. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

export interface DataChannelHost {
  /**
   * Send one text (UTF-8, PPID "WebRTC String") message on the handle's data channel (the default
   * channel: TextRoom never names one). Must not throw; a frame for a handle without an open
   * channel is dropped (or buffered until it opens) by the core, never reported back.
   */
  sendData(session: PluginSession, text: string): void;
}

export interface DataChannelPlugin {
  /**
   * A message arrived on one of the handle's data channels. `binary` is true for PPID
   * "WebRTC Binary"; `data` is the payload as received (Buffer, or already-decoded string).
   */
  incomingData(session: PluginSession, label: string, data: Buffer | string, binary: boolean): void;
}

/** A PluginHost that also carries data channels (how the core may hand both over in one object). */
export function isDataChannelHost(x: unknown): x is DataChannelHost {
  return typeof x === 'object' && x !== null && typeof (x as { sendData?: unknown }).sendData === 'function';
}
