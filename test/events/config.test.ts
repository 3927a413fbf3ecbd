/** Event handler configuration: janus.jcfg `events`, the backends' own files, and docs/operations.md naming every key. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, defaultJanusConfig, defaultSampleEvhConfig, defaultWsEvhConfig, loadGatewayConfig } from '../../src/config/schema.js';
import { SAMPLEEVH_KEYS, WSEVH_KEYS } from '../../src/config/schema-keys.js';
import { createEventBus } from '../../src/events/index.js';
import { log } from '../../src/log.js';
import { repoRoot } from '../helpers/repo.js';

function withFolder(files: Record<string, string>, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portunus-evh-conf-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('defaults are Janus\'s', () => {
  assert.deepEqual(defaultJanusConfig('/x').events, { broadcast: false, disable: [], stats_period: 1, combine_media_stats: false });
  const s = defaultSampleEvhConfig();
  assert.deepEqual([s.enabled, s.events, s.grouping, s.json, s.max_retransmissions, s.retransmissions_backoff], [false, ['all'], true, 'indented', 5, 100]);
  assert.deepEqual([defaultWsEvhConfig().enabled, defaultWsEvhConfig().subprotocol], [false, null]);
});

test('the backends\' files are read with file:line warnings and errors; the bundled sample loads cleanly', async () => {
  const bundled = await loadGatewayConfig({ configsFolder: join(repoRoot(), 'conf') });
  assert.equal(bundled.eventHandlers.sampleevh.enabled, false);
  assert.deepEqual(bundled.warnings.filter((w) => /eventhandler/.test(w.file)), []);
  assert.equal(createEventBus(bundled.janus, bundled.eventHandlers, log), null, 'off by default');

  await withFolder(
    {
      'janus.jcfg': 'events: {\n  broadcast = true\n  stats_period = -2\n}\n',
      'janus.eventhandler.sampleevh.jcfg':
        'general: {\n  enabled = true\n  events = "sessions, handles,bogus"\n  grouping = false\n  json = "compact"\n  backend = "http://127.0.0.1:9/x"\n  max_retransmissions = -1\n  backend_user = "u"\n  colour = "red"\n}\n',
      'janus.eventhandler.wsevh.jcfg': 'general: {\n  enabled = true\n  backend = "ws://127.0.0.1:9/"\n  subprotocol = "p"\n}\n',
    },
    async (dir) => {
      const cfg = await loadGatewayConfig({ configsFolder: dir });
      const s = cfg.eventHandlers.sampleevh;
      assert.deepEqual([s.enabled, s.events, s.grouping, s.json, s.backend, s.max_retransmissions, s.backend_user], [true, ['sessions', 'handles'], false, 'compact', 'http://127.0.0.1:9/x', 5, 'u']);
      assert.equal(cfg.janus.events.stats_period, 1);
      const w = (key: string) => cfg.warnings.find((x) => x.key === key);
      assert.match(w('general.events')?.message ?? '', /unknown event type "bogus"/);
      assert.equal(w('general.events')?.line, 3);
      assert.match(w('general.max_retransmissions')?.message ?? '', /default 5/);
      assert.match(w('general.colour')?.message ?? '', /unknown setting/);
      assert.match(w('events.stats_period')?.message ?? '', /default 1/);
      assert.equal(cfg.eventHandlers.wsevh.subprotocol, 'p');
      const bus = createEventBus(cfg.janus, cfg.eventHandlers, log);
      assert.deepEqual(bus?.handlers.map((h) => [h.package, h.mask]), [['janus.eventhandler.sampleevh', 3], ['janus.eventhandler.wsevh', 0x1ff]]);
      await bus?.close(0);
      cfg.janus.events.disable = ['libjanus_wsevh.so'];
      const bus2 = createEventBus(cfg.janus, cfg.eventHandlers, log);
      assert.deepEqual(bus2?.handlers.map((h) => h.package), ['janus.eventhandler.sampleevh']);
      await bus2?.close(0);
      cfg.janus.events.broadcast = false;
      assert.equal(createEventBus(cfg.janus, cfg.eventHandlers, log), null);
    },
  );

  await withFolder({ 'janus.eventhandler.sampleevh.jcfg': 'general: {\n  enabled = true\n  backend = "ftp://nope"\n}\n' }, async (dir) => {
    await assert.rejects(loadGatewayConfig({ configsFolder: dir }), (e: unknown) => e instanceof ConfigError && /sampleevh\.jcfg:3.*general\.backend.*http\/https URL/.test(e.message));
  });
  await withFolder({ 'janus.jcfg': 'events: {\n  stats_period = 0\n}\n', 'janus.eventhandler.wsevh.jcfg': 'general: {\n  json = "fancy"\n}\n' }, async (dir) => {
    await assert.rejects(loadGatewayConfig({ configsFolder: dir }), /wsevh\.jcfg:2.*general\.json/);
  });
  await withFolder({ 'janus.jcfg': 'events: {\n  stats_period = 0\n}\n' }, async (dir) => {
    assert.equal((await loadGatewayConfig({ configsFolder: dir })).janus.events.stats_period, 0, '0 turns media statistics off');
  });
});

test('docs/operations.md names every key of the event handler files', () => {
  const ops = readFileSync(join(repoRoot(), 'docs', 'operations.md'), 'utf8');
  const missing: string[] = [];
  for (const [file, spec] of [['janus.eventhandler.sampleevh.jcfg', SAMPLEEVH_KEYS], ['janus.eventhandler.wsevh.jcfg', WSEVH_KEYS]] as const) {
    const part = ops.slice(ops.indexOf(`**\`${file}\`**`));
    assert.ok(part.length < ops.length, `no table for ${file}`);
    for (const [section, keys] of Object.entries(spec)) for (const key of Object.keys(keys)) if (!part.includes(`\`${key}\``)) missing.push(`${file} ${section}.${key}`);
  }
  assert.deepEqual(missing, []);
});
