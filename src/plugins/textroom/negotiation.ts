/**
 * The Janus API side of the PeerConnection: `setup` (plugin offers a data-channel-only SDP),
 * `ack` (the client's answer), `restart` (ICE-restart offer). Answered asynchronously with
 * `{"textroom":"event","result":"ok"}` (+ JSEP offer), or `{"textroom":"error",...}`.
 */
import type { Jsep } from '../../core/jsep.js';
import type { PluginHost, PluginSession } from '../../core/plugin.js';
import { errorPayload, TrError, TrErrorCode } from './errors.js';
import { dataChannelOffer } from './sdp.js';
import { handleOf } from './session.js';

export const NEGOTIATION = new Set(['setup', 'ack', 'restart']);

export function negotiate(host: PluginHost, session: PluginSession, transaction: string, request: string, _jsep: Jsep | null): void {
  const handle = handleOf(session);
  const ok = { textroom: 'event', result: 'ok' };
  if (request === 'ack') {
    // The answer itself is the core's business (it already went to the media plane).
    host.pushEvent(session, transaction, ok);
    return;
  }
  if (request === 'setup') {
    if (handle.setup) {
      host.pushEvent(session, transaction, errorPayload('error', new TrError(TrErrorCode.ALREADY_SETUP, 'PeerConnection already setup')));
      return;
    }
    handle.setup = true;
    handle.sdpSessionId = Date.now() * 1000; // Janus uses the real time in microseconds
    handle.sdpVersion = 1;
    const jsep: Jsep = { type: 'offer', sdp: dataChannelOffer(handle.sdpSessionId, handle.sdpVersion) };
    // A refused offer leaves the handle as it was, so the client can try `setup` again.
    if (!host.pushEvent(session, transaction, ok, jsep)) handle.setup = false;
    return;
  }
  if (!handle.setup) {
    host.pushEvent(session, transaction, errorPayload('error', new TrError(TrErrorCode.ALREADY_SETUP, 'PeerConnection not setup')));
    return;
  }
  handle.sdpVersion++;
  host.pushEvent(session, transaction, ok, { type: 'offer', sdp: dataChannelOffer(handle.sdpSessionId, handle.sdpVersion), restart: true });
}
