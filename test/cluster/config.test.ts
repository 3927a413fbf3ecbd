/** janus.jcfg `cluster` (Portunus only): defaults, values, and refusals naming file, line and key. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadGatewayConfig } from '../../src/config/schema.js';
import { defaultNodeName, redactUrl } from '../../src/cluster/cluster.js';

async function load(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'cluster-cfg-'));
  writeFileSync(join(dir, 'janus.jcfg'), text);
  return { dir, cfg: await loadGatewayConfig({ configsFolder: dir }) };
}

async function refusal(text: string): Promise<string> {
  try {
    await load(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.replace(/^.*janus\.jcfg/, 'janus.jcfg');
  }
  return assert.fail('accepted');
}

test('off by default; the TTL follows the heartbeat unless set', async () => {
  const { cfg } = await load('general: {\n}\n');
  assert.deepEqual(cfg.janus.cluster, { enabled: false, redis: null, node_name: null, public_ip: null, api_url: null, prefix: 'portunus', heartbeat_ms: 2000, node_ttl_ms: 7000 });
  const c2 = (await load('cluster: {\n  enabled = true\n  redis = "redis://10.0.0.9:6380/2"\n  node_name = "sfu-1"\n  public_ip = "203.0.113.7"\n  heartbeat_ms = 500\n}\n')).cfg;
  assert.deepEqual(c2.janus.cluster, { enabled: true, redis: 'redis://10.0.0.9:6380/2', node_name: 'sfu-1', public_ip: '203.0.113.7', api_url: null, prefix: 'portunus', heartbeat_ms: 500, node_ttl_ms: 2500 });
  assert.deepEqual(c2.warnings, [], 'no unknown-key warnings');
});

test('refusals name file, line and key', async () => {
  assert.equal(await refusal('cluster: {\n  enabled = true\n}\n'), 'janus.jcfg:2: cluster.redis: cluster.enabled = true needs a Redis URL (e.g. redis = "redis://127.0.0.1:6379")');
  assert.equal(await refusal('cluster: {\n  redis = "http://x"\n}\n'), 'janus.jcfg:2: cluster.redis: expected a redis/rediss URL, got "http://x"');
  assert.match(await refusal('cluster: {\n\n  node_name = "a b"\n}\n'), /^janus\.jcfg:3: cluster\.node_name: expected 1-64 characters/);
  assert.match(await refusal('cluster: {\n  heartbeat_ms = 1000\n  node_ttl_ms = 800\n}\n'), /^janus\.jcfg:3: cluster\.node_ttl_ms: 800 must be longer than heartbeat_ms/);
  assert.match(await refusal('cluster: {\n  heartbeat_ms = 5\n}\n'), /^janus\.jcfg:2: cluster\.heartbeat_ms: 5 is out of range/);
});

test('the default node name is usable in keys; passwords stay out of logs', () => {
  assert.match(defaultNodeName(), /^[A-Za-z0-9._-]+-\d+$/);
  assert.equal(redactUrl('redis://user:hunter2@r:6379/0'), 'redis://user:***@r:6379/0');
  assert.equal(redactUrl('nope'), '(invalid URL)');
});
