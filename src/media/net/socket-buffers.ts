/**
 * The kernel buffers every media receiving socket asks for (PeerConnections' sockets, VideoRoom remote
 * publishers' RTP/RTCP ports). A single-threaded receiver needs slack for GC pauses and scheduling
 * hiccups: 2 MiB instead of the default ~200 KiB (the kernel caps it at net.core.rmem_max / wmem_max).
 */
import type { Socket } from 'node:dgram';

/** Requested SO_RCVBUF / SO_SNDBUF of each media socket. */
export const SOCKET_BUFFER_BYTES = 2 * 1024 * 1024;

/** Asks for SOCKET_BUFFER_BYTES each way on a bound socket; keeps the defaults when refused. */
export function sizeMediaSocket(socket: Socket): void {
  try {
    socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
    socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
  } catch {
    /* keep the defaults */
  }
}
