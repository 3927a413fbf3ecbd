/**
 * dgram's address lookup for media sockets: every destination is an address literal (an ICE
 * candidate's), so answer at once. The default (dns.lookup) answers a literal on the next tick, which
 * costs a closure and a tick per datagram and defers the send itself (in bench/echo.ts's profile the
 * tick machinery around doSend was a third of the server's CPU); names still go to dns.lookup.
 */
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';

export function literalLookup(hostname: string, options: unknown, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const fam = isIP(hostname);
  if (fam !== 0) {
    callback(null, hostname, fam);
    return;
  }
  dnsLookup(hostname, options as LookupOneOptions, callback);
}
