/** Where a listener binds, from Janus's `ip` / `interface` pair (an explicit IP wins over a device name). */
import { networkInterfaces } from 'node:os';

export function bindAddress(ip: string | null, iface: string | null, fallback: string | undefined): string | undefined {
  if (ip) return ip;
  if (iface) {
    const list = networkInterfaces()[iface];
    const v4 = list?.find((a) => a.family === 'IPv4') ?? list?.[0];
    if (v4) return v4.address;
    // Janus also accepts an IP in `interface`.
    return iface;
  }
  return fallback;
}

export interface ListenAddress {
  host: string;
  port: number;
}
