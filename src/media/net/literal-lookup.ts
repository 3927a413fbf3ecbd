/**
 * dgram's address lookup for media sockets: every destination is an address literal (an ICE
 * candidate's), so answer at once. The default (dns.lookup) answers a literal on the next tick, which
 * costs a closure and a tick per datagram and defers the send itself (in bench/echo.ts's profile the
 * tick machinery around doSend was a third of the server's CPU); names still go to dns.lookup.
 * dgram asks once per datagram, and a media path sends every datagram to the same address string:
 * the last literal is remembered (an identity compare) instead of parsed again (isIP is a regular
 * expression) per packet.
 */
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';

let lastLiteral = '';
let lastFamily = 0;

export function literalLookup(hostname: string, options: unknown, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  if (hostname === lastLiteral) {
    callback(null, hostname, lastFamily);
    return;
  }
  const fam = isIP(hostname);
  if (fam !== 0) {
    lastLiteral = hostname;
    lastFamily = fam;
    callback(null, hostname, fam);
    return;
  }
  dnsLookup(hostname, options as LookupOneOptions, callback);
}
