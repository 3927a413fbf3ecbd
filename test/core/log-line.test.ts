/**
 * Worker threads log without pino (issue 12, base memory: ~5 MB of RSS per media worker) and write the
 * lines main's pino writes: same keys in the same order, pino's level numbers, an Error as pino's err.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pinoType from 'pino';
import { jsonLine } from '../../src/log-line.js';

const logModule = new URL('../../src/log.js', import.meta.url).href;

test("jsonLine writes the line pino writes for the same record", () => {
  const pino = createRequire(import.meta.url)('pino') as typeof pinoType;
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const p = pino({ customLevels: { verb: 25 }, base: undefined, messageKey: 'msg', level: 'trace', timestamp: () => ',"time":1234' }, sink);
  const err = new Error('boom');
  const fields = { worker: 'media-1', handle_id: 7, session_id: 9, nested: { a: [1, 'x', null], s: 'q"uote' }, big: 5n, err };
  p.warn(fields, 'a "quoted" message\n');
  const ours = jsonLine(40, 1234, fields, 'a "quoted" message\n');
  assert.deepEqual(JSON.parse(ours), JSON.parse(out));
  assert.equal(ours.replace(/"stack":"[^"]*"/, ''), out.replace(/"stack":"[^"]*"/, ''), 'same text, key order included');
  assert.equal(jsonLine(30, 5, undefined, 'plain'), '{"level":30,"time":5,"msg":"plain"}\n');
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.match(jsonLine(50, 5, { circular }, 'x'), /^\{"level":50,"time":5,"log_error":".*","msg":"x"\}\n$/, 'never throws');
});

test('a worker thread logs to stdout without loading pino; main loads it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portunus-log-'));
  const pinoCount = `Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('/node_modules/pino/')).length`;
  writeFileSync(
    join(dir, 'worker.mjs'),
    `import { parentPort } from 'node:worker_threads';
     import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
     const m = await import(${JSON.stringify(logModule)});
     m.log.child({ worker: 'media-3' }).warn('from the worker', { handle_id: 5 });
     parentPort.postMessage(${pinoCount});`,
  );
  writeFileSync(
    join(dir, 'main.mjs'),
    `import { Worker } from 'node:worker_threads';
     import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
     const w = new Worker(new URL('./worker.mjs', import.meta.url));
     w.once('message', async (pinoInWorker) => {
       const m = await import(${JSON.stringify(logModule)});
       m.log.info('from main');
       console.log(JSON.stringify({ pinoInWorker, pinoInMain: ${pinoCount} }));
       await w.terminate();
     });`,
  );
  try {
    const r = spawnSync(process.execPath, [join(dir, 'main.mjs')], { encoding: 'utf8', env: { ...process.env, PORTUNUS_LOG_PRETTY: '0' }, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const fromWorker = lines.find((l) => l.msg === 'from the worker');
    assert.ok(fromWorker, r.stdout);
    assert.equal(fromWorker.level, 40);
    assert.equal(fromWorker.worker, 'media-3');
    assert.equal(fromWorker.handle_id, 5);
    assert.equal(typeof fromWorker.time, 'number');
    assert.ok(lines.some((l) => l.msg === 'from main' && l.level === 30), r.stdout);
    const counts = lines.find((l) => 'pinoInWorker' in l)!;
    assert.equal(counts.pinoInWorker, 0, 'no pino module in the worker');
    assert.ok((counts.pinoInMain as number) > 0, 'main logs through pino');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
