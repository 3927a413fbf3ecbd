/**
 * A plugin's media hooks bound to one of its sessions, as the media plane's MediaSink: what a Peer calls
 * for every packet of that handle. Used by the gateway (plugins on the main thread) and by a media worker
 * (src/workers/plugin-worker.ts), so both give plugins the same guarantees: nothing reaches a session
 * that is no longer alive, and a hook that throws never propagates into the packet path.
 *
 * A hook that throws is a fault of this handle (boundary `plugin_media`): counted every time, logged
 * once per PeerConnection (the packet path must not flood the log), and the handle's PeerConnection is
 * hung up (`close`), since the plugin's state for it can no longer be trusted. Other handles of the same
 * plugin keep their media.
 */
import type { Logger } from '../log.js';
import { countFault, fault } from './fault.js';
import type { MediaSink } from './media-plane.js';
import type { Plugin, PluginSession } from './plugin.js';

export function pluginMediaSink(p: Plugin, s: PluginSession, log: Logger, sessionId: number, close?: (reason: string) => void): MediaSink {
  let failed = false;
  const failure = (hook: string, err: unknown): void => {
    if (failed) {
      countFault('plugin_media');
      return;
    }
    failed = true;
    fault(log, 'plugin_media', err, { plugin: p.package, session_id: sessionId, handle_id: s.handleId, where: hook });
    // Not from inside the packet path: the hangup closes the very PeerConnection that called us.
    if (close) queueMicrotask(() => close(`Plugin error (${hook})`));
  };
  return {
    incomingRtp: (stream, buf, len) => {
      if (!s.alive || !p.incomingRtp) return;
      try {
        p.incomingRtp(s, stream, buf, len);
      } catch (err) {
        failure('incomingRtp', err);
      }
    },
    incomingRtcp: (stream, buf, len) => {
      if (!s.alive || !p.incomingRtcp) return;
      try {
        p.incomingRtcp(s, stream, buf, len);
      } catch (err) {
        failure('incomingRtcp', err);
      }
    },
    incomingData: (label, data, isBinary) => {
      if (!s.alive || !p.incomingData) return;
      try {
        p.incomingData(s, label, data, isBinary);
      } catch (err) {
        failure('incomingData', err);
      }
    },
    dataReady: (label) => {
      if (!s.alive || !p.dataReady) return;
      try {
        p.dataReady(s, label);
      } catch (err) {
        failure('dataReady', err);
      }
    },
  };
}
