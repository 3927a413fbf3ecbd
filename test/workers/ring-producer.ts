/** Worker side of ring.test.ts: writes `count` records (tag = sequence, payload bytes derived from it) into the ring. */
import { parentPort, workerData } from 'node:worker_threads';
import { RingProducer } from '../../src/workers/ring.js';

const { sab, count } = workerData as { sab: SharedArrayBuffer; count: number };
const tx = new RingProducer(sab);
const buf = Buffer.alloc(1200);
let i = 0;
let dropped = 0;
// Bursts of 500 per event-loop turn, as a media worker's socket poll delivers them; a full ring is
// retried on the next turn so all `count` records cross (the drop path has its own test).
function burst(): void {
  const end = Math.min(count, i + 500);
  while (i < end) {
    const len = 40 + (i % 1100);
    buf.writeUInt32BE(i >>> 0, 0);
    buf[len - 1] = i & 0xff;
    if (!tx.write(i, i * 7, buf, 0, len)) {
      dropped++;
      break;
    }
    i++;
  }
  if (i < count) setImmediate(burst);
  else parentPort!.postMessage({ done: true, dropped });
}
burst();
