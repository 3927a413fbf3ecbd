/**
 * udp-sockets.ts: a worker thread knows every UDP socket it opened (also through a named
 * `import { createSocket }` of a module loaded before tracking started) and closes them all, so that
 * it can end without a datagram racing the isolate's teardown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

test('a worker tracks the sockets of modules using named imports and closes them all before exiting', async () => {
  const tracker = new URL('../../src/workers/udp-sockets.js', import.meta.url).href;
  const allocator = new URL('../../src/media/net/port-allocator.js', import.meta.url).href;
  const code = `
    const { parentPort } = require('node:worker_threads');
    (async () => {
      // The allocator module is loaded first: its createSocket binding must follow the tracked one.
      const { UdpPortAllocator } = await import(${JSON.stringify(allocator)});
      const t = await import(${JSON.stringify(tracker)});
      t.trackUdpSockets();
      const { createSocket } = await import('node:dgram');
      const a = createSocket('udp4');
      await new Promise((r) => a.bind(0, '127.0.0.1', r));
      const alloc = new UdpPortAllocator({ range: { min: 0, max: 0 } });
      const b = await alloc.allocate('127.0.0.1').catch((e) => ({ error: String(e) }));
      const before = t.openUdpSockets();
      await t.closeUdpSockets();
      parentPort.postMessage({ before, after: t.openUdpSockets(), allocated: !b.error, err: b.error ?? null });
    })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
  const w = new Worker(code, { eval: true });
  const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  assert.deepEqual(result, { before: 2, after: 0, allocated: true, err: null });
});
