/**
 * CPU per DTLS handshake (one client and one server endpoint, src/media/dtls, in memory, no network):
 * what every subscriber's join costs the server before its first packet (issue 12's webinar).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/dtls-handshake.js [--handshakes 200]
 *   node --cpu-prof dist/bench/dtls-handshake.js    # where it goes
 *
 * Prints CPU ms per handshake (both ends together; the server's share is about half) and wall time.
 */
import { parseArgs } from 'node:util';
import { connectPair } from '../test/media/dtls/pair.js';

const { values } = parseArgs({ options: { handshakes: { type: 'string', default: '200' } } });
const N = Number(values.handshakes);

async function one(): Promise<void> {
  const p = await connectPair();
  if (!p.client.connected || !p.server.connected) throw new Error(`handshake did not complete: ${p.client.closed?.detail ?? p.server.closed?.detail ?? p.client.failed ?? p.server.failed}`);
  p.client.ep.close();
  p.server.ep.close();
}

// Warm-up (JIT, the certificates' first use).
for (let i = 0; i < 20; i++) await one();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < N; i++) await one();
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(`${N} DTLS handshakes: ${((cpu.user + cpu.system) / 1000 / N).toFixed(2)} ms CPU per handshake (client + server), ${(wall / N).toFixed(2)} ms wall`);
