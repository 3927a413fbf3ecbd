#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner, in two phases:
// everything but the browser tests two files at a time, then the Chromium tests one file at a
// time (each drives several browsers and servers; on a 2-core machine running them side by side
// only makes them slow and flaky). A filter argument (substring of the path) narrows the run:
// `node test/run.mjs config`. The last line sums both phases: "tests: N passed, M failed".
import { readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('../dist/test/', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (filters.length === 0 || filters.some((f) => p.includes(f)))) files.push(p);
  }
})(root);
if (files.length === 0) {
  console.error('no test files found under', root);
  process.exit(1);
}
const isBrowser = (p) => p.includes(`${sep}browser${sep}`);
const phases = [
  { files: files.filter((p) => !isBrowser(p)), concurrency: 2 },
  { files: files.filter(isBrowser), concurrency: 1 },
].filter((ph) => ph.files.length > 0);

function run(phase) {
  return new Promise((resolve) => {
    // A test file gets 20 minutes at most (the whole suite takes ~19), and its process exits once its tests are done
    // even if something still holds its event loop (a server a failed hook never got to stop): one stuck
    // file must fail, not hold the whole run until CI's limit.
    const args = ['--test', `--test-concurrency=${phase.concurrency}`, '--test-timeout=1200000', '--test-force-exit', '--test-reporter=spec', ...phase.files];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const counts = { pass: 0, fail: 0 };
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const text = tail + chunk.toString();
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^ℹ (pass|fail) (\d+)/.exec(line);
        if (m) counts[m[1]] = Number(m[2]);
      }
    });
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), counts }));
  });
}

let passed = 0;
let failed = 0;
let exitCode = 0;
for (const phase of phases) {
  const r = await run(phase);
  passed += r.counts.pass;
  failed += r.counts.fail;
  if (r.code !== 0) exitCode = r.code;
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(exitCode !== 0 ? exitCode : failed > 0 ? 1 : 0);
