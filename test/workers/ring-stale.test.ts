/**
 * The ring's latency bound (ring.ts, option maxAgeMs): a consumer that falls behind skips the records
 * that are too old when it reaches them, counts them (`stale`, on both ends) and hears once per tag and
 * drain (onStale), instead of delivering seconds-old packets (a loaded bench measured subscribers 15-24 s
 * behind, with no gap). Fresh records still arrive in order, each exactly once; without the option
 * nothing is skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createRing, RingConsumer, RingProducer } from '../../src/workers/ring.js';

/** Blocks this thread (the records written before get older; a timer would let the consumer run). */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // wait
  }
}

test('same thread: records older than maxAgeMs are skipped and counted, fresh ones delivered in order, once per tag reported', () => {
  const sab = createRing(1 << 16);
  const tx = new RingProducer(sab);
  const got: number[] = [];
  const calls: Array<[number, number, number]> = [];
  const rx = new RingConsumer(sab, (tag, _meta, data, off) => got.push(tag * 1000 + data.readUInt32LE(off)), {
    maxAgeMs: 50,
    onStale: (tag, meta, count) => calls.push([tag, meta, count]),
  });
  const p = Buffer.alloc(64);
  // Old: tags 1 and 2 interleaved, 10 records each (meta: the index; the first of each tag is reported).
  for (let i = 0; i < 20; i++) {
    p.writeUInt32LE(i, 0);
    tx.write(1 + (i % 2), i, p, 0, p.length);
  }
  spin(120);
  // Fresh: tag 3.
  for (let i = 0; i < 5; i++) {
    p.writeUInt32LE(i, 0);
    tx.write(3, 100 + i, p, 0, p.length);
  }
  assert.equal(rx.drain(), 5);
  assert.deepEqual(got, [3000, 3001, 3002, 3003, 3004]);
  assert.equal(rx.stale, 20);
  assert.equal(tx.stale, 20, 'the producer reads the same count');
  assert.equal(rx.dropped, 0);
  // One call per tag for the whole run, not one per record.
  assert.deepEqual(calls, [
    [1, 0, 10],
    [2, 1, 10],
  ]);
  assert.equal(rx.pending, false);
  // Nothing more to skip or report; the ring takes and delivers records again.
  p.writeUInt32LE(7, 0);
  tx.write(3, 0, p, 0, p.length);
  assert.equal(rx.drain(), 1);
  assert.equal(got.at(-1), 3007);
  assert.equal(rx.stale, 20);
  assert.equal(calls.length, 2);
});

test('same thread: more stale tags than one drain tracks are all reported, counts add up', () => {
  const sab = createRing(1 << 16);
  const tx = new RingProducer(sab);
  const counts = new Map<number, number>();
  const rx = new RingConsumer(sab, () => assert.fail('nothing is fresh'), {
    maxAgeMs: 20,
    onStale: (tag, _meta, count) => counts.set(tag, (counts.get(tag) ?? 0) + count),
  });
  for (let i = 0; i < 200; i++) tx.write(i % 40, 0, Buffer.alloc(8), 0, 8);
  spin(60);
  assert.equal(rx.drain(), 0);
  assert.equal(rx.stale, 200);
  assert.equal(counts.size, 40);
  for (const [, n] of counts) assert.equal(n, 5);
});

test('same thread: keep() exempts the old records it names (control records among packets), order kept', () => {
  const sab = createRing(1 << 16);
  const tx = new RingProducer(sab);
  const got: number[] = [];
  const asked: number[] = [];
  const rx = new RingConsumer(sab, (tag) => got.push(tag), {
    maxAgeMs: 30,
    // meta 1: a control record
    keep: (tag, meta) => (asked.push(tag), meta === 1),
  });
  for (let i = 0; i < 6; i++) tx.write(i, i === 2 || i === 4 ? 1 : 0, Buffer.alloc(8), 0, 8);
  spin(80);
  tx.write(6, 0, Buffer.alloc(8), 0, 8);
  assert.equal(rx.drain(), 3);
  assert.deepEqual(got, [2, 4, 6]);
  assert.equal(rx.stale, 4);
  assert.deepEqual(asked, [0, 1, 2, 3, 4, 5], 'asked about the old records only');
});

test('same thread: without maxAgeMs old records are delivered as before', () => {
  const sab = createRing(1 << 16);
  const tx = new RingProducer(sab);
  const got: number[] = [];
  const rx = new RingConsumer(sab, (tag) => got.push(tag));
  for (let i = 0; i < 20; i++) tx.write(i, 0, Buffer.alloc(16), 0, 16);
  spin(120);
  assert.equal(rx.drain(), 20);
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(rx.stale, 0);
});

test('same thread: maxAgeMs must be a number >= 0', () => {
  const sab = createRing(4096);
  assert.throws(() => new RingConsumer(sab, () => undefined, { maxAgeMs: -1 }), RangeError);
  assert.throws(() => new RingConsumer(sab, () => undefined, { maxAgeMs: Number.NaN }), RangeError);
});

type Report = { ready?: boolean; delivered: number; lastSeq: number; disorder: number; maxAge: number; stale: number; staleCalls: Array<[number, number, number]>; pending: boolean };

/**
 * A producer on this thread writes ~5 records per ms for 1.5 s into a consumer worker that is starved
 * for 800 ms in the middle. Returns what the consumer saw.
 */
async function starvedConsumer(maxAgeMs: number | null): Promise<{ r: Report; written: number; dropped: number; stale: number }> {
  const sab = createRing(1 << 20);
  const tx = new RingProducer(sab);
  const worker = new Worker(new URL('./ring-stale-consumer.js', import.meta.url), { workerData: { sab, maxAgeMs } });
  const replies: Report[] = [];
  let wake: (() => void) | null = null;
  worker.on('message', (m: Report) => {
    replies.push(m);
    wake?.();
  });
  const next = async (): Promise<Report> => {
    const deadline = Date.now() + 30_000;
    while (replies.length === 0 && Date.now() < deadline) await new Promise<void>((r) => ((wake = r), setTimeout(r, 50)));
    wake = null;
    const m = replies.shift();
    assert.ok(m, 'the consumer worker answered');
    return m;
  };
  try {
    assert.ok((await next()).ready);
    const p = Buffer.alloc(100);
    let seq = 0;
    const t0 = performance.now();
    let blocked = false;
    while (performance.now() - t0 < 1500) {
      const target = Math.floor((performance.now() - t0) * 5);
      while (seq < target) {
        p.writeUInt32LE(seq, 0);
        p.writeDoubleLE(performance.timeOrigin + performance.now(), 4);
        tx.write(seq % 3, seq, p, 0, p.length);
        seq++;
      }
      if (!blocked && performance.now() - t0 > 300) {
        blocked = true;
        worker.postMessage({ block: 800 });
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    // Let the consumer catch up with what is left, then ask.
    let r: Report;
    const deadline = Date.now() + 20_000;
    do {
      await new Promise((res) => setTimeout(res, 100));
      worker.postMessage({ report: true });
      r = await next();
    } while ((r.pending || r.delivered + r.stale + tx.dropped < tx.written) && Date.now() < deadline);
    return { r, written: tx.written, dropped: tx.dropped, stale: tx.stale };
  } finally {
    worker.postMessage({ stop: true });
    await worker.terminate();
  }
}

test('two threads: a starved consumer with maxAgeMs skips what aged out, delivers the rest in order, each once', { timeout: 120_000 }, async () => {
  const maxAgeMs = 200;
  const { r, written, dropped, stale } = await starvedConsumer(maxAgeMs);
  console.log(`# bounded: ${written} written, ${r.delivered} delivered, ${r.stale} stale, ${dropped} dropped, max age at delivery ${r.maxAge.toFixed(1)} ms, ${r.staleCalls.length} onStale calls`);
  assert.equal(dropped, 0, 'the ring had room: only age skips records here');
  assert.ok(r.stale > 0, 'the 800 ms starvation aged records out');
  assert.equal(stale, r.stale, 'both ends read the same count');
  assert.equal(r.disorder, 0, 'delivered in order, each once, with their tag and meta');
  assert.equal(r.delivered + r.stale, written, 'every record is either delivered or counted stale');
  assert.equal(r.lastSeq, written - 1, 'the newest record arrived');
  // Handler-side age: the ring's bound (+1 ms truncation) plus slack for a preempted thread on a busy machine.
  assert.ok(r.maxAge <= maxAgeMs + 100, `a record was ${r.maxAge.toFixed(1)} ms old when delivered`);
  assert.equal(r.staleCalls.reduce((n, c) => n + c[2], 0), r.stale, 'onStale counts add up to the stale count');
  // Reported per tag and drain (3 tags here), never per record.
  assert.ok(r.staleCalls.length * 20 <= r.stale, `${r.staleCalls.length} onStale calls for ${r.stale} records`);
  for (const [tag, meta] of r.staleCalls) assert.equal(meta % 3, tag, 'meta is that of a skipped record of the tag');
});

test('two threads: without maxAgeMs the same starvation delivers everything, late', { timeout: 120_000 }, async () => {
  const { r, written, dropped } = await starvedConsumer(null);
  console.log(`# unbounded: ${written} written, ${r.delivered} delivered, max age at delivery ${r.maxAge.toFixed(1)} ms`);
  assert.equal(dropped, 0);
  assert.equal(r.stale, 0);
  assert.equal(r.disorder, 0);
  assert.equal(r.delivered, written);
  // The starvation shows up as delay: what the bound above removes.
  assert.ok(r.maxAge > 500, `max age ${r.maxAge.toFixed(1)} ms`);
});
