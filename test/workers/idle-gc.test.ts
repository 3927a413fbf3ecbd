/**
 * IdleGc: one full collection once a media worker has had no handles for a while, only when its heap
 * grew; and obtainGc() really gets V8's gc in a worker thread started without --expose-gc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { IdleGc } from '../../src/workers/idle-gc.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('IdleGc collects once after the last handle left and the delay passed, only if the heap grew', async () => {
  let used = 100;
  let collected = 0;
  const idle = new IdleGc({ delayMs: 20, minGrowthBytes: 50, gc: () => { collected++; used = 110; }, usedHeap: () => used });
  try {
    idle.handles(3);
    used = 400;
    idle.handles(0);
    idle.handles(1); // a handle came back before the delay: nothing
    await sleep(40);
    assert.equal(collected, 0);
    idle.handles(0);
    await sleep(40);
    assert.equal(collected, 1);
    assert.equal(idle.runs, 1);
    // Idle again with little growth since the last collection: nothing to give back.
    used = 130;
    idle.handles(0);
    await sleep(40);
    assert.equal(collected, 1);
  } finally {
    idle.stop();
  }
});

test('obtainGc() in a worker thread without --expose-gc returns a working gc and leaves no gc global behind', async () => {
  const url = new URL('../../src/workers/idle-gc.js', import.meta.url).href;
  const code = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ obtainGc }) => {
      const gc = obtainGc();
      let ran = false;
      if (gc) { gc(); ran = true; }
      const leaked = require('node:vm').runInNewContext('typeof gc');
      parentPort.postMessage({ type: typeof gc, ran, leaked, global: typeof globalThis.gc });
    });`;
  const w = new Worker(code, { eval: true, execArgv: [] });
  const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  assert.deepEqual(result, { type: 'function', ran: true, leaked: 'undefined', global: 'undefined' });
});
