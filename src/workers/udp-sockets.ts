/**
 * Every UDP socket this worker thread opens, so that the thread can close them all before it ends.
 *
 * Why: in Node 20 a worker thread that ends (process.exit inside it, Worker.terminate() from main)
 * while one of its UDP sockets still has a datagram to deliver can abort the whole process
 * (UDPWrap::OnRecv -> AddressToJS on a terminating isolate: "FATAL ERROR: v8::FromJust Maybe value is
 * Nothing"). Seen once in CI when a test ended a worker under load. A closed socket has left the event
 * loop, so closing them all first takes the race away. The plugins' own sockets (rtp_forward, Streaming
 * sources, AudioBridge plain RTP) are counted too: they are created through the same `createSocket`.
 */
import dgram from 'node:dgram';
import { syncBuiltinESMExports } from 'node:module';

const open = new Set<dgram.Socket>();
let installed = false;

/** Call once, first thing in the worker thread, before any socket exists. */
export function trackUdpSockets(): void {
  if (installed) return;
  installed = true;
  const create = dgram.createSocket;
  const tracked = function (this: unknown, ...args: Parameters<typeof dgram.createSocket>): dgram.Socket {
    const socket = (create as (...a: unknown[]) => dgram.Socket).apply(this, args);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    return socket;
  };
  (dgram as { createSocket: unknown }).createSocket = tracked;
  // `import { createSocket } from 'node:dgram'` elsewhere sees the tracked one from now on.
  syncBuiltinESMExports();
}

export function openUdpSockets(): number {
  return open.size;
}

/** Closes every socket still open; resolves once their close callbacks have run. */
export function closeUdpSockets(): Promise<void> {
  if (open.size === 0) return Promise.resolve();
  const closing = [...open].map(
    (s) =>
      new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        try {
          s.close();
        } catch {
          resolve(); // already closed
        }
      }),
  );
  return Promise.all(closing).then(() => undefined);
}
