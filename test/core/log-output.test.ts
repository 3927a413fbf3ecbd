/**
 * log-output.ts on a real pipe: a reader that stops reading never makes a write wait; past the bound
 * lines are dropped and counted, and when the reader reads again the lines come whole and in order,
 * with one warning where the gap is that says how many are missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { LineOutput } from '../../src/log-output.js';

test('a full pipe: writes never wait, lines past the bound are dropped, counted and reported once writing resumes', { timeout: 60_000 }, async () => {
  // `cat` copies our pipe into one we read: stop reading ours and both fill up.
  const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
  const fd = (cat.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  assert.ok(fd > 2, `the pipe's fd (${fd})`);
  let got = '';
  cat.stdout.on('data', (d: Buffer) => (got += d.toString()));
  cat.stdout.pause();
  try {
    const out = new LineOutput((n) => `{"dropped":${n}}\n`, fd, 16 * 1024);
    const N = 20_000;
    let slowest = 0;
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      out.write(`{"i":${i},"pad":"${'x'.repeat(80)}"}\n`);
      slowest = Math.max(slowest, performance.now() - t);
    }
    // ~2 MB into ~300 kB of pipes, cat's buffer and a 16 kB queue.
    assert.ok(out.dropped > 0, 'lines were dropped');
    assert.ok(out.pending <= 16 * 1024);
    assert.ok(slowest < 250, `a write waited ${slowest.toFixed(0)} ms`);
    const dropped = out.dropped;

    cat.stdout.resume();
    const end = Date.now() + 30_000;
    while (!got.includes('"dropped"') || out.pending > 0) {
      assert.ok(Date.now() < end, 'the queue drained and the warning came');
      await new Promise((r) => setTimeout(r, 20));
    }
    out.write('{"i":-1}\n');
    while (!got.includes('{"i":-1}')) {
      assert.ok(Date.now() < end, 'a line after the gap');
      await new Promise((r) => setTimeout(r, 20));
    }
    const lines = got.trim().split('\n').map((l) => JSON.parse(l) as { i?: number; dropped?: number });
    const warnings = lines.filter((l) => l.dropped !== undefined);
    assert.equal(warnings.length, 1, 'one warning');
    assert.equal(warnings[0]!.dropped, dropped);
    const seen = lines.filter((l) => l.i !== undefined && l.i >= 0).map((l) => l.i!);
    for (let k = 1; k < seen.length; k++) assert.ok(seen[k]! > seen[k - 1]!, 'in order');
    assert.equal(seen.length + dropped, N, 'every line either written or counted dropped');
    // The warning sits where the gap is: after the last line before it, before the next one.
    const w = lines.findIndex((l) => l.dropped !== undefined);
    const before = lines[w - 1]!.i!;
    const after = lines[w + 1]?.i;
    assert.ok(after === -1 || after === undefined || after > before + 1, `gap at the warning (${before} -> ${after})`);
    assert.equal(out.dropped, dropped, 'nothing more dropped');
  } finally {
    cat.kill();
  }
});
