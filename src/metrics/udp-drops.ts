/**
 * Datagrams the kernel dropped at this machine's UDP sockets bound to a port in [min, max] (or in `extra`): the
 * `drops` column of /proc/net/udp and /proc/net/udp6 (a full receive buffer: the socket's owner did
 * not read fast enough). Counted per socket while it is open, so the sum is of the media sockets open
 * now, not since startup. Read at scrape time (a few ms for thousands of sockets), never per packet.
 * Linux only: elsewhere (or without /proc) it reads 0.
 */
import { readFileSync } from 'node:fs';

export function udpDropsInPorts(min: number, max: number, extra?: ReadonlySet<number>): number {
  let drops = 0;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    let nl = text.indexOf('\n');
    while (nl >= 0 && nl < text.length - 1) {
      const end = text.indexOf('\n', nl + 1);
      const line = text.slice(nl + 1, end < 0 ? text.length : end);
      nl = end;
      // "sl local_address rem_address st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode ref pointer drops"
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13) continue;
      const local = cols[1]!;
      const port = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if ((port >= min && port <= max) || extra?.has(port) === true) drops += Number(cols[cols.length - 1]) || 0;
    }
  }
  return drops;
}
