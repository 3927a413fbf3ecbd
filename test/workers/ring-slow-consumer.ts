/**
 * Worker side of ring-starve.test.ts: a consumer that is slower than its producer (each record costs
 * `costUs` of CPU, as a fan-out to many subscribers does on a starved core). It answers every message
 * from the parent with a pong and keeps a 10 ms timer, so the test sees whether this thread's event loop
 * still gets turns while the ring never runs empty.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from '../../src/workers/ring.js';

const { sab, costUs } = workerData as { sab: SharedArrayBuffer; costUs: number };
let records = 0;
const rx = new RingConsumer(sab, () => {
  const until = performance.now() + costUs / 1000;
  while (performance.now() < until) {
    // burn CPU: the record's work
  }
  records++;
});
let lastTick = performance.now();
let maxTimerGapMs = 0;
const timer = setInterval(() => {
  const now = performance.now();
  if (now - lastTick > maxTimerGapMs) maxTimerGapMs = now - lastTick;
  lastTick = now;
}, 10);
parentPort!.on('message', (m: { ping?: number; stop?: boolean }) => {
  if (m.stop) {
    rx.close();
    clearInterval(timer);
    parentPort!.close();
    return;
  }
  parentPort!.postMessage({ pong: m.ping, records, maxTimerGapMs });
});
rx.start();
parentPort!.postMessage({ ready: true });
