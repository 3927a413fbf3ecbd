/**
 * What the client sees when the media plane refuses a JSEP a plugin produced (an answer or offer over
 * the SDP limits, or one the merge cannot use). The plugin's event would otherwise go out without
 * its JSEP or not at all: after an `ack` the client would wait forever. Instead the event's data is
 * replaced by the error shape every Janus plugin uses (`{"<plugin>":"event","error_code":N,"error":...}`)
 * with the core's 465 (JANUS_ERROR_JSEP_INVALID_SDP), so janus.js hands it to `onmessage`.
 */
import { ErrorCode } from './errors.js';

/** A JSEP the media plane would not take, with the reason (logged and sent to the client). */
export interface RefusedJsep {
  readonly refused: string;
}

export function isRefused(v: unknown): v is RefusedJsep {
  return typeof v === 'object' && v !== null && typeof (v as RefusedJsep).refused === 'string';
}

/** `janus.plugin.videoroom` -> `{ videoroom: 'event', error_code: 465, error }`. */
export function refusedJsepData(pluginPackage: string, reason: string): Record<string, unknown> {
  const name = pluginPackage.slice(pluginPackage.lastIndexOf('.') + 1);
  return { [name]: 'event', error_code: ErrorCode.JSEP_INVALID_SDP, error: reason };
}
