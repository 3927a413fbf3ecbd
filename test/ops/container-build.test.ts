/**
 * The image build, without a container engine: scripts/container-build-check.mjs replays the
 * Dockerfile (npm ci, tsc, npm prune, runtime stage) on a clean copy of the repository and starts the
 * pruned server with the image's conf/ and ENV, then checks the health check, /janus/info, the Admin
 * API, /metrics and a graceful SIGTERM. Needs the npm registry (or a warm npm cache) for `npm ci`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers/repo.js';

test('the Dockerfile\'s build steps produce a runtime tree that serves /janus/info and stops cleanly', { timeout: 10 * 60_000 }, async () => {
  const script = join(repoRoot(), 'scripts', 'container-build-check.mjs');
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 0, out);
  for (const step of ['RUN npm ci', 'RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev', 'runtime stage: user node', 'HEALTHCHECK passes', 'GET /janus/info: Portunus', 'Admin API answers, bound to 0.0.0.0', 'GET /metrics', 'SIGTERM: exit 0']) {
    assert.ok(out.includes(`container-build-check: ${step}`), `missing step "${step}" in:\n${out}`);
  }
  assert.match(out, /container-build-check: OK\n$/);
});
