/**
 * UDP port allocation inside Janus' `rtp_port_range` (media.rtp_port_range, default 10000-60000).
 * Ports are handed out round-robin so a just-released port is not reused immediately; ports that
 * are busy (EADDRINUSE/EACCES, another process) are skipped. When every port in the range has been
 * tried, allocate() rejects with `no free UDP port in rtp_port_range MIN-MAX`.
 */
import { createSocket, type Socket, type SocketType } from 'node:dgram';
import { literalLookup } from './literal-lookup.js';

export interface PortRange {
  min: number;
  max: number;
}

/** Parse "10000-60000" (Janus syntax). A single "0" or "0-0" means any port (OS-assigned). */
export function parsePortRange(s: string): PortRange {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5}))?\s*$/.exec(s);
  if (!m) throw new RangeError(`invalid rtp_port_range "${s}" (expected MIN-MAX)`);
  let min = Number(m[1]);
  let max = m[2] === undefined ? min : Number(m[2]);
  if (min > max) [min, max] = [max, min];
  if (max > 65535) throw new RangeError(`invalid rtp_port_range "${s}" (ports go up to 65535)`);
  return { min, max };
}

export interface AllocatedSocket {
  socket: Socket;
  port: number;
  address: string;
}

export interface PortAllocatorOptions {
  range: PortRange | string;
  /** Default bind address (e.g. "0.0.0.0", a specific interface address, or "::"). */
  address?: string;
  type?: SocketType;
}

export class PortRangeExhaustedError extends Error {
  constructor(readonly range: PortRange) {
    super(`no free UDP port in rtp_port_range ${range.min}-${range.max}`);
    this.name = 'PortRangeExhaustedError';
  }
}

function bindSocket(type: SocketType, port: number, address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // udp6 stays IPv6-only: a dual-stack socket on "::" would also claim the port for IPv4 and collide
    // with the udp4 socket of another PeerConnection on the same port number.
    const socket = createSocket({ type, reuseAddr: false, lookup: literalLookup, ...(type === 'udp6' ? { ipv6Only: true } : {}) });
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export class UdpPortAllocator {
  readonly range: PortRange;
  private readonly address: string;
  private readonly type: SocketType;
  private cursor: number;
  private readonly used = new Set<number>();

  constructor(opts: PortAllocatorOptions) {
    this.range = typeof opts.range === 'string' ? parsePortRange(opts.range) : opts.range;
    this.address = opts.address ?? '0.0.0.0';
    this.type = opts.type ?? (this.address.includes(':') ? 'udp6' : 'udp4');
    this.cursor = this.range.min;
  }

  /** Number of ports currently held by sockets from this allocator. */
  get inUse(): number {
    return this.used.size;
  }

  /**
   * Bind a socket on the next free port of the range. The port is released when the socket closes.
   * Rejects with PortRangeExhaustedError when no port is free, or with the bind error for errors
   * other than "busy" (e.g. EADDRNOTAVAIL for an address that is not local).
   */
  async allocate(address: string = this.address): Promise<AllocatedSocket> {
    const { min, max } = this.range;
    if (min === 0) {
      const socket = await bindSocket(this.type, 0, address);
      return { socket, port: socket.address().port, address };
    }
    const size = max - min + 1;
    for (let tried = 0; tried < size; tried++) {
      const port = this.cursor;
      this.cursor = port >= max ? min : port + 1;
      if (this.used.has(port)) continue;
      this.used.add(port); // reserve while binding (concurrent allocate calls)
      try {
        const socket = await bindSocket(this.type, port, address);
        socket.once('close', () => this.used.delete(port));
        return { socket, port, address };
      } catch (err) {
        this.used.delete(port);
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
      }
    }
    throw new PortRangeExhaustedError(this.range);
  }
}
