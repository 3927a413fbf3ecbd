/**
 * The plugin's data-channel-only offer. Only the plugin's part: the core merges ICE credentials,
 * DTLS fingerprint/setup and candidates (and may rewrite the placeholder connection address).
 * Janus names the single m-line mid "0" (observed from Janus 1.1.2's setup offer).
 */
import { MAX_MESSAGE_BYTES } from './media.js';

export function dataChannelOffer(sessionId: number, version: number): string {
  return [
    'v=0',
    `o=- ${sessionId} ${version} IN IP4 127.0.0.1`,
    's=Janus TextRoom plugin',
    't=0 0',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    'a=mid:0',
    'a=sctp-port:5000',
    `a=max-message-size:${MAX_MESSAGE_BYTES}`,
    '',
  ].join('\r\n');
}
