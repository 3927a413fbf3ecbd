/**
 * Worker side of ring-stale.test.ts: a consumer (with or without maxAgeMs) that the parent can starve
 * on demand ({ block: ms } busy-loops this thread, as a media worker under CPU contention that gets no
 * turn). Each record's payload is [seq u32][write time f64, performance.timeOrigin + now()]; it checks
 * that delivered records come in order, each once, and how old each was when its handler ran.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from '../../src/workers/ring.js';

const { sab, maxAgeMs } = workerData as { sab: SharedArrayBuffer; maxAgeMs: number | null };
let delivered = 0;
let lastSeq = -1;
let disorder = 0;
let maxAge = 0;
const staleCalls: Array<[number, number, number]> = [];
const onRecord = (tag: number, meta: number, data: Buffer, offset: number): void => {
  const seq = data.readUInt32LE(offset);
  const age = performance.timeOrigin + performance.now() - data.readDoubleLE(offset + 4);
  if (age > maxAge) maxAge = age;
  // tag = seq % 3, meta = seq: the words crossed with their record
  if (seq <= lastSeq || tag !== seq % 3 || meta !== seq) disorder++;
  lastSeq = seq;
  delivered++;
};
const rx = maxAgeMs === null ? new RingConsumer(sab, onRecord) : new RingConsumer(sab, onRecord, { maxAgeMs, onStale: (tag, meta, count) => staleCalls.push([tag, meta, count]) });
parentPort!.on('message', (m: { block?: number; report?: boolean; stop?: boolean }) => {
  if (m.block !== undefined) {
    const until = performance.now() + m.block;
    while (performance.now() < until) {
      // starved: no turn for the ring
    }
    return;
  }
  if (m.stop) {
    rx.close();
    parentPort!.close();
    return;
  }
  parentPort!.postMessage({ delivered, lastSeq, disorder, maxAge, stale: rx.stale, staleCalls, pending: rx.pending });
});
rx.start();
parentPort!.postMessage({ ready: true });
