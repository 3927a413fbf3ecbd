/** docs/operations.md and the README's operations section stay in step with the code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultJanusConfig } from '../../src/config/schema.js';
import { HTTP_KEYS, JANUS_KEYS, WS_KEYS } from '../../src/config/schema-keys.js';
import { Gateway } from '../../src/core/gateway.js';
import { PassThroughMediaPlane } from '../../src/core/media-plane.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { repoRoot } from '../helpers/repo.js';

const OPS = readFileSync(join(repoRoot(), 'docs', 'operations.md'), 'utf8');
const README = readFileSync(join(repoRoot(), 'README.md'), 'utf8');

test('docs/operations.md names every configuration key Portunus knows, file by file', () => {
  const missing: string[] = [];
  for (const [file, spec] of [['janus.jcfg', JANUS_KEYS], ['janus.transport.http.jcfg', HTTP_KEYS], ['janus.transport.websockets.jcfg', WS_KEYS]] as const) {
    const part = OPS.slice(OPS.indexOf(`**\`${file}\`**`));
    assert.ok(part.length < OPS.length, `no table for ${file}`);
    for (const [section, keys] of Object.entries(spec)) {
      for (const key of Object.keys(keys)) if (!part.includes(`\`${key}\``)) missing.push(`${file} ${section}.${key}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('docs/operations.md lists every portunus_ metric the registry serves', async () => {
  const gateway = new Gateway({ config: defaultJanusConfig('/x'), plugins: [] });
  const m = createMetrics({ gateway, media: new PassThroughMediaPlane(), defaultMetrics: false });
  const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
  assert.ok(names.includes('portunus_peerconnections') && names.includes('portunus_sessions'));
  assert.deepEqual(names.filter((n) => !OPS.includes(`\`${n}\``)), []);
  await gateway.stop();
});

test('the README and docs walk through ports, firewalls, NAT, priority and limits with commands', () => {
  for (const doc of [OPS, README]) {
    for (const s of ['8088', '8188', '10000-10500', '7088', '7089', 'sudo ufw allow 10000:10500/udp', 'firewall-cmd --permanent', 'iptables -A INPUT -p udp --dport 10000:10500', 'nat_1_1_mapping', 'stun_server', 'renice -n -10 -p $(pgrep -f dist/src/main.js)', 'ulimit -n 65536', 'LimitNOFILE', 'handle_info', 'PORTUNUS_ADMIN_IP', 'janus_container', 'podman-compose up -d']) {
      assert.ok(doc.includes(s), `${doc === OPS ? 'docs/operations.md' : 'README.md'} lacks "${s}"`);
    }
  }
  assert.match(README, /docs\/operations\.md/);
});
