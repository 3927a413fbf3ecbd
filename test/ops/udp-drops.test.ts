/**
 * portunus_udp_receive_drops reads the kernel's per-socket drop counter (src/metrics/udp-drops.ts):
 * a socket whose owning thread does not read while datagrams arrive overflows its receive buffer,
 * and the drops show for its port, not for others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { udpDropsInPorts } from '../../src/metrics/udp-drops.js';

// The receiver: a small receive buffer on a thread that then stops reading (a stalled media worker).
const RECEIVER = `
const { parentPort } = require('node:worker_threads');
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
s.bind(0, '127.0.0.1', () => {
  s.setRecvBufferSize(4096);
  parentPort.postMessage({ port: s.address().port });
  parentPort.once('message', () => {
    // stall until told to go on (the datagrams arrive meanwhile), then report and close
    const flag = new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(flag, 0, 0, 1500);
    parentPort.postMessage({ stalled: true });
    parentPort.once('message', () => s.close(() => parentPort.postMessage({ closed: true })));
  });
});
`;

test('drops at a socket that is not read show for its port only', { skip: process.platform !== 'linux' }, async () => {
  const w = new Worker(RECEIVER, { eval: true });
  const next = () => new Promise<Record<string, unknown>>((r) => w.once('message', r));
  const { port } = (await next()) as { port: number };
  assert.equal(udpDropsInPorts(port, port), 0);
  const stalled = next();
  w.postMessage('stall');
  await new Promise((r) => setTimeout(r, 100));
  const tx = createSocket('udp4');
  const payload = Buffer.alloc(1000, 7);
  for (let i = 0; i < 200; i++) await new Promise<void>((r) => tx.send(payload, port, '127.0.0.1', () => r()));
  await stalled;
  const drops = udpDropsInPorts(port, port);
  assert.ok(drops > 100, `${drops} drops for 200 datagrams into a 4 kB buffer`);
  // A port named outside the range (a VideoRoom remote publisher's) counts too.
  assert.equal(udpDropsInPorts(1, 0, new Set([port])), drops);
  assert.equal(udpDropsInPorts(1, 0, new Set([tx.address().port])), 0);
  // another port (the sender's own) has none
  assert.equal(udpDropsInPorts(tx.address().port, tx.address().port), 0);
  tx.close();
  const closed = next();
  w.postMessage('close');
  await closed;
  await w.terminate();
});
