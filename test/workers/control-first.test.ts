/**
 * Main's calls before queued media work (src/workers/control-first.ts): a real worker thread runs one
 * long task of media work (3 s of 2 ms units); main's ping, posted while it runs, is answered within
 * the task (serveControl between units takes it off the port), in order with the messages before it.
 * The control run without the polls shows the ping waits for the whole task: what a burst of joins saw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

type Msg = { ready?: boolean; workStart?: boolean; workDone?: boolean; pong?: number };

async function run(poll: boolean): Promise<{ pongs: number[]; pongBeforeDone: boolean; latencyMs: number }> {
  const worker = new Worker(new URL('./control-first-worker.js', import.meta.url), { workerData: { unitMs: 2, units: 1500, poll } });
  const seen: Msg[] = [];
  const waiters: Array<() => void> = [];
  worker.on('message', (m: Msg) => {
    seen.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const until = async (pred: () => boolean, ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out; seen ${JSON.stringify(seen)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  try {
    await until(() => seen.some((m) => m.ready), 30_000);
    worker.postMessage({ work: true });
    await until(() => seen.some((m) => m.workStart), 30_000);
    const sent = performance.now();
    worker.postMessage({ ping: 1 });
    worker.postMessage({ ping: 2 });
    await until(() => seen.filter((m) => m.pong !== undefined).length === 2, 60_000);
    const latencyMs = performance.now() - sent;
    await until(() => seen.some((m) => m.workDone), 60_000);
    const iPong = seen.findIndex((m) => m.pong !== undefined);
    const iDone = seen.findIndex((m) => m.workDone);
    return { pongs: seen.filter((m) => m.pong !== undefined).map((m) => m.pong!), pongBeforeDone: iPong < iDone, latencyMs };
  } finally {
    await worker.terminate();
  }
}

test('a worker busy with one long media task answers main between units', { timeout: 180_000 }, async () => {
  const r = await run(true);
  assert.deepEqual(r.pongs, [1, 2], 'in the order posted');
  assert.equal(r.pongBeforeDone, true, `pong only after the 3 s task (${r.latencyMs.toFixed(0)} ms)`);
  console.log(`# with polls: ping answered in ${r.latencyMs.toFixed(1)} ms while the task ran`);
});

test('control: without the polls the same ping waits for the whole task', { timeout: 180_000 }, async () => {
  const r = await run(false);
  assert.deepEqual(r.pongs, [1, 2]);
  assert.equal(r.pongBeforeDone, false);
  console.log(`# without polls: ping answered in ${r.latencyMs.toFixed(1)} ms (after the task)`);
});
