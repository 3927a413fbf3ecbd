/**
 * The media contract AudioBridge relies on; it is the core's (src/core/plugin.ts), narrowed:
 *
 * Incoming: the core calls `plugin.incomingRtp(session, stream, buf, len)` synchronously from its packet
 * path with a decrypted RTP packet `buf[0, len)` of the handle's PeerConnection; `buf` is only valid during
 * the call, so the plugin copies the payload it keeps. RTCP (`incomingRtcp`) is ignored by the mixer.
 *
 * Outgoing: the plugin calls `host.sendRtp(session, mid, packet)` (the core's alias of
 * `relayRtp(session, mid, packet, packet.length)`) with a complete plain RTP packet; the core rewrites the
 * SSRC to the m-line's local SSRC (the plugin already uses the SSRC it put in the SDP), SRTP-protects and
 * sends it. Sequence numbers and timestamps are the plugin's, continuous per participant.
 *
 * Wiring: the Gateway's PluginHost implements PluginMediaHost (detected with a `sendRtp` function at
 * `init()`); `setMediaHost()` can replace it (tests, benchmarks).
 */
import type { PluginMediaHost } from '../../core/plugin.js';

export type { RtpStreamInfo } from '../../core/plugin.js';

/** The one host method the mixer needs. */
export type MediaHost = Pick<PluginMediaHost, 'sendRtp'>;

export function isMediaHost(x: unknown): x is MediaHost {
  return typeof x === 'object' && x !== null && typeof (x as { sendRtp?: unknown }).sendRtp === 'function';
}
