/**
 * A plugin's media hooks bound to one of its sessions, as the media plane's MediaSink: what a Peer calls
 * for every packet of that handle. Used by the gateway (plugins on the main thread) and by a media worker
 * (src/workers/plugin-worker.ts), so both give plugins the same guarantees: nothing reaches a session
 * that is no longer alive, and a hook that throws is logged once per PeerConnection, never propagated
 * into the packet path.
 */
import type { Logger } from '../log.js';
import type { MediaSink } from './media-plane.js';
import type { Plugin, PluginSession } from './plugin.js';

export function pluginMediaSink(p: Plugin, s: PluginSession, log: Logger, sessionId: number): MediaSink {
  let warned = false;
  const failed = (hook: string, err: unknown): void => {
    if (warned) return; // once per PeerConnection: the packet path must not flood the log
    warned = true;
    log.warn(`plugin ${hook} threw`, { plugin: p.package, session_id: sessionId, handle_id: s.handleId, err: err instanceof Error ? err.stack : String(err) });
  };
  return {
    incomingRtp: (stream, buf, len) => {
      if (!s.alive || !p.incomingRtp) return;
      try {
        p.incomingRtp(s, stream, buf, len);
      } catch (err) {
        failed('incomingRtp', err);
      }
    },
    incomingRtcp: (stream, buf, len) => {
      if (!s.alive || !p.incomingRtcp) return;
      try {
        p.incomingRtcp(s, stream, buf, len);
      } catch (err) {
        failed('incomingRtcp', err);
      }
    },
    incomingData: (label, data, isBinary) => {
      if (!s.alive || !p.incomingData) return;
      try {
        p.incomingData(s, label, data, isBinary);
      } catch (err) {
        failed('incomingData', err);
      }
    },
    dataReady: (label) => {
      if (!s.alive || !p.dataReady) return;
      try {
        p.dataReady(s, label);
      } catch (err) {
        failed('dataReady', err);
      }
    },
  };
}
