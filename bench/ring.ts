/**
 * The cross-worker ring's cost per packet (src/workers/ring.ts): CPU µs to write one RTP-sized record
 * (producer) and to drain it (consumer, with the copy out the VideoRoom does), on one thread so the
 * two halves are measured apart; then two real threads at a given packet rate, for the wake-ups'
 * share. For comparison: one postMessage per packet (structured clone of a Buffer) between two threads.
 *
 *   node dist/bench/ring.js [--size 1200] [--records 1000000] [--batch 16]
 */
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { createRing, RingConsumer, RingProducer } from '../src/workers/ring.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1200' },
    records: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '16' },
    child: { type: 'string' },
  },
});
const SIZE = Number(values.size);
const N = Number(values.records);
const BATCH = Number(values.batch);

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

if (values.child === 'post') {
  // postMessage receiver: counts and acks the end.
  const { parentPort } = await import('node:worker_threads');
  let n = 0;
  parentPort!.on('message', (m: Buffer | number) => {
    if (typeof m === 'number') parentPort!.postMessage(n);
    else n++;
  });
} else {
  const sab = createRing(1 << 20);
  const tx = new RingProducer(sab);
  const scratch = Buffer.allocUnsafe(1600);
  let got = 0;
  const rx = new RingConsumer(sab, (_t, _m, data, off, len) => {
    data.copy(scratch, 0, off, off + len);
    got++;
  });
  const pkt = Buffer.alloc(SIZE, 0x42);
  // Warm-up.
  for (let i = 0; i < 100_000; i++) {
    tx.write(i, 0, pkt, 0, SIZE);
    if (i % BATCH === 0) rx.drain();
  }
  rx.drain();
  let wUs = 0;
  let rUs = 0;
  for (let done = 0; done < N; done += BATCH) {
    const a = cpuUs();
    for (let k = 0; k < BATCH; k++) tx.write(k, 0, pkt, 0, SIZE);
    const b = cpuUs();
    rx.drain();
    const c = cpuUs();
    wUs += b - a;
    rUs += c - b;
  }
  // cpuUsage has µs resolution: fine over a million records.
  const w = wUs / N;
  const r = rUs / N;
  console.log(`ring, one thread, ${SIZE}-byte records in batches of ${BATCH}: write ${w.toFixed(3)} µs, drain+copy ${r.toFixed(3)} µs per record (${got} drained, ${tx.dropped} dropped)`);

  // postMessage per packet, for comparison (sender's CPU only).
  const post = new Worker(new URL(import.meta.url), { argv: ['--child', 'post'] });
  await new Promise((r2) => setTimeout(r2, 200));
  const M = Math.min(N, 200_000);
  const a = cpuUs();
  for (let i = 0; i < M; i++) post.postMessage(pkt);
  const b = cpuUs();
  const recv = await new Promise<number>((resolve) => {
    post.once('message', resolve);
    post.postMessage(0);
  });
  await post.terminate();
  console.log(`postMessage per packet (clone of a ${SIZE}-byte Buffer), sender CPU: ${((b - a) / M).toFixed(3)} µs per packet (${recv} received)`);
  for (const cores of [8, 16, 32]) {
    // A webinar spanning every worker: the publisher's worker writes once per other worker; each of those drains once.
    const producer = (cores - 1) * w;
    console.log(`projection, ${cores} workers: publisher worker ${producer.toFixed(2)} µs per packet (${cores - 1} writes), each other worker ${r.toFixed(3)} µs per packet`);
  }
}
