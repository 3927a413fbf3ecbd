/**
 * WebRTC offers with many small m-lines (one Opus stream each, transport at session level, LF line
 * ends): the most m-lines per byte a client can send, to test the SDP limits (media.max_mlines,
 * media.max_sdp_size) and what a server does with an offer far over them.
 */
export function manyMlineOffer(n: number, direction: 'sendrecv' | 'sendonly' = 'sendrecv'): string {
  const mids: string[] = [];
  for (let i = 0; i < n; i++) mids.push(String(i));
  const fp = Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase().padStart(2, '0')).join(':');
  const lines = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', `a=group:BUNDLE ${mids.join(' ')}`,
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', `a=fingerprint:sha-256 ${fp}`, 'a=setup:actpass'];
  for (let i = 0; i < n; i++) lines.push('m=audio 9 UDP/TLS/RTP/SAVPF 111', `a=mid:${i}`, 'a=rtpmap:111 opus/48000/2', `a=${direction}`, 'a=rtcp-mux');
  return lines.join('\n') + '\n';
}
