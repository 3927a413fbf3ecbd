/**
 * Rough cost of the EchoTest packet path (not a test; run: node dist-media/test/media/peer/bench-echo.js).
 * A client Peer (our modules) sends N SRTP video packets of 1000 bytes to Portunus's EchoTest in the same
 * process. Reports:
 *  - listener: wall time inside the server socket's 'message' listener per echoed packet (demux, SRTP
 *    unprotect, stats, plugin, copy + SSRC rewrite + NACK store, SRTP protect, dgram send) — synchronous,
 *    so this is CPU;
 *  - process: whole-process CPU (user+sys) per echoed packet divided by two (client and server do the same
 *    work: one protect + send, one receive + unprotect), which includes libuv/Node receive overhead.
 */
import { performance } from 'node:perf_hooks';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, waitFor } from './helpers.js';

const N = Number(process.env.N ?? 20000);
const w = await makeWorld();
const c = await makeClient();
const [s, h] = await w.attachEcho();
await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'neg', body: {}, jsep: { type: 'offer', sdp: clientOffer(c) } });
const ev = await waitFor('answer', () => w.client.events.find((e) => e.transaction === 'neg' && e.jsep));
applyAnswer(c, (ev.jsep as { sdp: string }).sdp);
await waitFor('up', () => c.up);
const server = w.plane.peerOf(h)!;
const sock = (server as unknown as { socket: import('node:dgram').Socket }).socket;
const listener = sock.listeners('message')[0] as (m: Buffer, r: unknown) => void;
sock.off('message', listener);
let inListener = 0;
let counted = 0;
sock.on('message', (m: Buffer, r: unknown) => {
  const t = performance.now();
  listener(m, r);
  if (m[0]! >> 6 === 2 && m[1]! < 192) {
    inListener += performance.now() - t;
    counted++;
  }
});
const payload = Buffer.alloc(1000, 7);
let received = 0;
c.rtp.length = 0;
const origPush = c.rtp.push.bind(c.rtp);
c.rtp.push = (...items) => {
  received += items.length;
  return 0 && origPush(...items);
};
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let sent = 0;
await new Promise<void>((resolve) => {
  const burst = (): void => {
    for (let i = 0; i < (Number(process.env.BURST ?? 8)) && sent < N; i++, sent++) c.peer.sendRtp('1', rtpPacket(96, sent & 0xffff, sent * 3000, 1, payload), 1012);
    if (sent < N) setTimeout(burst, 1);
    else resolve();
  };
  burst();
});
await waitFor('echoes', () => received >= N * 0.99, 30_000).catch(() => undefined);
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuUs = cpu.user + cpu.system;
console.log(
  JSON.stringify({
    packets: N,
    echoed: received,
    wall_ms: Math.round(wall),
    rate_pps: Math.round((received / wall) * 1000),
    listener_us_per_packet: +((inListener * 1000) / counted).toFixed(2),
    process_cpu_us_per_packet_half: +(cpuUs / received / 2).toFixed(2),
    retransmitted: server.stats.retransmitted,
  }),
);
c.close();
await w.stop();
