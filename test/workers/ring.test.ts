/**
 * The SharedArrayBuffer ring (src/workers/ring.ts): records cross in order with their bytes, the
 * ring wraps, a full ring drops and counts instead of blocking, wake-ups come in batches, and two real
 * worker threads exchange a million records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createRing, metaFlags, metaSubstream, metaTemporal, packMeta, RingConsumer, RingProducer } from '../../src/workers/ring.js';

function payload(i: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let k = 0; k < len; k++) b[k] = (i + k) & 0xff;
  return b;
}

test('records come out in order with their tag, meta and bytes, across many wraps', () => {
  const sab = createRing(4096);
  const tx = new RingProducer(sab);
  const got: Array<[number, number, Buffer]> = [];
  const rx = new RingConsumer(sab, (tag, meta, data, off, len) => got.push([tag, meta, Buffer.from(data.subarray(off, off + len))]));
  let next = 0;
  for (let round = 0; round < 200; round++) {
    // odd lengths so padding and the WRAP marker land everywhere
    for (let k = 0; k < 3; k++, next++) assert.equal(tx.write(next, packMeta(k, 2, 0x8001), payload(next, 37 + ((next * 13) % 900)), 0, 37 + ((next * 13) % 900)), true);
    rx.drain();
  }
  assert.equal(got.length, next);
  for (let i = 0; i < next; i++) {
    const [tag, meta, bytes] = got[i]!;
    assert.equal(tag, i);
    assert.equal(metaSubstream(meta), i % 3);
    assert.equal(metaTemporal(meta), 2);
    assert.equal(metaFlags(meta), 0x8001);
    assert.deepEqual(bytes, payload(i, 37 + ((i * 13) % 900)));
  }
  assert.equal(tx.dropped, 0);
  assert.equal(tx.written, next);
});

test('an offset/length slice of a bigger buffer is what crosses; zero-length records too', () => {
  const sab = createRing(4096);
  const tx = new RingProducer(sab);
  const got: string[] = [];
  const rx = new RingConsumer(sab, (_t, _m, data, off, len) => got.push(Buffer.from(data.subarray(off, off + len)).toString()));
  tx.write(1, 0, Buffer.from('xxhelloyy'), 2, 5);
  tx.write(2, 0, Buffer.alloc(0), 0, 0);
  assert.equal(rx.drain(), 2);
  assert.deepEqual(got, ['hello', '']);
});

test('a full ring drops and counts, never blocks; it takes records again once drained', () => {
  const sab = createRing(4096);
  const tx = new RingProducer(sab);
  let n = 0;
  const rx = new RingConsumer(sab, () => n++);
  const p = Buffer.alloc(496);
  let ok = 0;
  for (let i = 0; i < 20; i++) if (tx.write(i, 0, p, 0, p.length)) ok++;
  // 512 bytes per record (16-byte header) in 4096: 8 fit
  assert.equal(ok, 8);
  assert.equal(tx.dropped, 12);
  assert.equal(rx.dropped, 12);
  assert.equal(rx.drain(), 8);
  assert.equal(tx.write(99, 0, p, 0, p.length), true);
  assert.equal(rx.drain(), 1);
  assert.equal(n, 9);
  // bigger than a quarter of the ring: refused, counted
  assert.equal(tx.write(1, 0, Buffer.alloc(2000), 0, 2000), false);
  assert.equal(tx.dropped, 13);
});

test('a consumer handler that throws loses only its record', () => {
  const sab = createRing(4096);
  const tx = new RingProducer(sab);
  const tags: number[] = [];
  const rx = new RingConsumer(sab, (tag) => {
    if (tag === 2) throw new Error('boom');
    tags.push(tag);
  });
  for (let i = 1; i <= 3; i++) tx.write(i, 0, Buffer.alloc(10), 0, 10);
  rx.drain();
  assert.deepEqual(tags, [1, 3]);
});

test('createRing refuses sizes that are not a power of two', () => {
  assert.throws(() => createRing(5000), RangeError);
  assert.throws(() => createRing(1024), RangeError);
  assert.throws(() => new RingProducer(new SharedArrayBuffer(64 + 5000)), RangeError);
});

test('same thread: the consumer wakes by itself once per batch, not per record', async () => {
  const sab = createRing(1 << 16);
  const tx = new RingProducer(sab);
  const batches: number[] = [];
  let cur = 0;
  let seen = 0;
  const rx = new RingConsumer(sab, () => {
    cur++;
    seen++;
  });
  rx.start();
  const flushBatch = (): void => {
    if (cur > 0) batches.push(cur);
    cur = 0;
  };
  for (let b = 0; b < 5; b++) {
    for (let i = 0; i < 50; i++) tx.write(i, 0, Buffer.alloc(100), 0, 100);
    const deadline = Date.now() + 5000;
    while (seen < (b + 1) * 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    flushBatch();
  }
  rx.close();
  assert.equal(seen, 250);
  // every batch of 50 written in one turn arrived in one drain
  assert.deepEqual(batches, [50, 50, 50, 50, 50]);
  assert.equal(tx.closed, true);
});

test('two worker threads: 1M records cross in order with their bytes', { timeout: 180_000 }, async () => {
  const count = 1_000_000;
  const sab = createRing(1 << 20);
  let expected = 0;
  let bad = 0;
  const rx = new RingConsumer(sab, (tag, meta, data, off, len) => {
    if (tag !== expected >>> 0 || meta !== ((expected * 7) >>> 0) || len !== 40 + (expected % 1100)) bad++;
    else if (data[off + len - 1] !== (expected & 0xff) || data[off] !== (expected >>> 24)) bad++;
    expected++;
  });
  rx.start();
  const worker = new Worker(new URL('./ring-producer.js', import.meta.url), { workerData: { sab, count } });
  const started = process.hrtime.bigint();
  const done = await new Promise<{ dropped: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const deadline = Date.now() + 60_000;
  while (expected < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  rx.close();
  await worker.terminate();
  const wakeDrains = rx.batches;
  assert.equal(expected, count);
  assert.equal(bad, 0);
  // Batched: far fewer drains with records than records.
  assert.ok(wakeDrains < count / 10, `drains ${wakeDrains}`);
  console.log(`# 1M records over the ring in ${ms.toFixed(0)} ms (${((ms * 1000) / count).toFixed(2)} µs/record end to end), ${wakeDrains} drains, producer retried full ring ${done.dropped} times`);
});
