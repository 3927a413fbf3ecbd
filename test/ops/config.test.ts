/** The Portunus-only `metrics` section of janus.transport.http.jcfg, and the container's PORTUNUS_ADMIN_IP. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultHttpConfig, loadGatewayConfig } from '../../src/config/schema.js';
import { repoRoot } from '../helpers/repo.js';
import { startServer } from './server.js';

test('metrics section: defaults off, read when present, bad values refused, misplaced keys relocated with a warning', async () => {
  assert.deepEqual(defaultHttpConfig().metrics, { metrics: false, metrics_port: 7089, metrics_ip: null, metrics_interface: null, metrics_base_path: '/metrics', metrics_secret: false });
  const bundled = await loadGatewayConfig({ configsFolder: join(repoRoot(), 'conf') });
  assert.deepEqual(bundled.http.metrics, { metrics: true, metrics_port: 7089, metrics_ip: '127.0.0.1', metrics_interface: null, metrics_base_path: '/metrics', metrics_secret: false });
  assert.deepEqual(bundled.warnings.filter((w) => w.file.endsWith('http.jcfg')), [], 'the bundled file has no unknown keys');

  const dir = mkdtempSync(join(tmpdir(), 'portunus-metrics-conf-'));
  try {
    writeFileSync(join(dir, 'janus.transport.http.jcfg'), 'metrics: {\n  metrics = true\n  metrics_port = 9999\n  metrics_base_path = "/prom/"\n  metrics_secret = true\n}\nadmin: {\n  metrics_ip = "10.0.0.1"\n}\n');
    const cfg = await loadGatewayConfig({ configsFolder: dir });
    assert.deepEqual(cfg.http.metrics, { metrics: true, metrics_port: 9999, metrics_ip: '10.0.0.1', metrics_interface: null, metrics_base_path: '/prom', metrics_secret: true });
    assert.ok(cfg.warnings.some((w) => w.key === 'admin.metrics_ip' && /'metrics' section/.test(w.message)), JSON.stringify(cfg.warnings));
    writeFileSync(join(dir, 'janus.transport.http.jcfg'), 'metrics: {\n  metrics_port = 70000\n}\n');
    await assert.rejects(loadGatewayConfig({ configsFolder: dir }), /metrics\.metrics_port.*port number/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PORTUNUS_ADMIN_IP rebinds the Admin API and /metrics (the container case)', { timeout: 30_000 }, async () => {
  const s = await startServer(['-d', '4'], { env: { PORTUNUS_ADMIN_IP: '0.0.0.0' } });
  try {
    await s.ready();
    const http = await s.waitLine((l) => l.msg === 'transport janus.transport.http');
    assert.deepEqual(http.admin, { host: '0.0.0.0', port: s.ports.admin });
    assert.deepEqual(http.api, { host: '127.0.0.1', port: s.ports.http }, 'the public API keeps its conf/ address');
    const note = await s.waitLine((l) => /^PORTUNUS_ADMIN_IP=0\.0\.0\.0/.test(l.msg));
    assert.equal(note.level, 30, 'an admin_secret is set: info, not a warning');
    const m = await s.waitLine((l) => l.msg === 'metrics');
    assert.equal(m.url, `http://127.0.0.1:${s.ports.metrics}/metrics`);
  } finally {
    await s.stop();
  }
});
