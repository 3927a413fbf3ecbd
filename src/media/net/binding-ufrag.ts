/**
 * Which of our PeerConnections a STUN Binding request is for: the local ufrag, the part of USERNAME
 * before the colon ("<our ufrag>:<their ufrag>", RFC 8445 §7.2.2). The shared-socket demultiplexers
 * (udp-mux.ts, ice-tcp.ts) route a new source by it; the ICE agent itself checks the full USERNAME
 * and MESSAGE-INTEGRITY afterwards.
 */
import { StunClass } from '../stun/constants.js';
import { parseStun } from '../stun/message.js';

/** The local ufrag a Binding request names; undefined for anything else (not STUN, not a request, no USERNAME). */
export function bindingRequestUfrag(buf: Buffer): string | undefined {
  const msg = parseStun(buf);
  if (!msg || msg.method !== 0x001 || msg.cls !== StunClass.Request) return undefined;
  const user = msg.getUsername();
  if (user === undefined) return undefined;
  const colon = user.indexOf(':');
  return colon > 0 ? user.slice(0, colon) : undefined;
}
