import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  ConfigSyntaxError,
  defaultHttpConfig,
  defaultJanusConfig,
  defaultWsConfig,
  loadGatewayConfig,
} from '../../src/config/schema.js';
import { HTTP_KEYS, JANUS_KEYS, WS_KEYS, type FileSpec } from '../../src/config/schema-keys.js';
import { ensureSystemPackage } from '../helpers/system.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'schema-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('defaults match Janus (and Portunus loopback admin)', () => {
  const j = defaultJanusConfig('/cfg');
  assert.equal(j.file, null);
  assert.equal(j.general.configs_folder, '/cfg');
  assert.equal(j.general.debug_level, 4);
  assert.equal(j.general.session_timeout, 60);
  assert.equal(j.general.candidates_timeout, 45);
  assert.equal(j.general.reclaim_session_timeout, 0);
  assert.equal(j.general.server_name, 'MyJanusInstance');
  assert.equal(j.general.admin_secret, null);
  assert.equal(j.media.min_nack_queue, 200);
  assert.equal(j.media.rtp_port_range, null);
  assert.equal(j.media.dtls_mtu, 1200);
  assert.equal(j.media.twcc_period, 200);
  assert.equal(j.media.no_media_timer, 1);
  assert.equal(j.nat.stun_port, 3478);
  assert.deepEqual(j.nat.ice_ignore_list, ['vmnet']);
  assert.equal(j.nat.turn_type, 'udp');
  assert.equal(j.certificates.dtls_accept_selfsigned, true);
  const h = defaultHttpConfig();
  assert.deepEqual([h.general.port, h.general.secure_port, h.general.base_path, h.general.json, h.general.http], [8088, 8089, '/janus', 'compact', true]);
  assert.deepEqual([h.admin.admin_http, h.admin.admin_port, h.admin.admin_secure_port, h.admin.admin_base_path, h.admin.admin_ip], [false, 7088, 7889, '/admin', null]);
  const w = defaultWsConfig();
  assert.deepEqual([w.general.ws, w.general.ws_port, w.general.wss_port, w.admin.admin_ws, w.admin.admin_ws_port, w.admin.admin_wss_port], [true, 8188, 8989, false, 7188, 7989]);
  // Fresh objects every call: callers may mutate them.
  assert.notEqual(defaultJanusConfig().general, defaultJanusConfig().general);
});

test('every key with a reader exists in the typed defaults (no silently dropped settings)', () => {
  const check = (spec: FileSpec, target: Record<string, unknown>, name: string) => {
    for (const [section, keys] of Object.entries(spec)) {
      for (const [key, reader] of Object.entries(keys)) {
        if (reader) assert.ok(key in ((target[section] ?? {}) as object), `${name} ${section}.${key}`);
      }
    }
  };
  check(JANUS_KEYS, defaultJanusConfig() as unknown as Record<string, unknown>, 'janus');
  check(HTTP_KEYS, defaultHttpConfig() as unknown as Record<string, unknown>, 'http');
  check(WS_KEYS, defaultWsConfig() as unknown as Record<string, unknown>, 'ws');
});

test('the seed conf/ folder loads with the user intent honoured', async () => {
  const cfg = await loadGatewayConfig({ configsFolder: join(ROOT, 'conf') });
  assert.equal(cfg.janus.file, join(ROOT, 'conf', 'janus.jcfg'));
  assert.equal(cfg.janus.general.admin_secret, 'janus_key');
  assert.equal(cfg.janus.general.debug_level, 4);
  assert.deepEqual(cfg.janus.media.rtp_port_range, { min: 10000, max: 10500 });
  assert.equal(cfg.janus.media.dtls_mtu, 1200);
  assert.equal(cfg.janus.nat.stun_server, 'stun.l.google.com');
  assert.equal(cfg.janus.nat.stun_port, 19302);
  assert.equal(cfg.janus.nat.ice_lite, false);
  assert.equal(cfg.janus.nat.ice_tcp, false);
  assert.deepEqual(cfg.janus.nat.nat_1_1_mapping, []);
  const adminWarn = cfg.warnings.filter((w) => w.key.startsWith('admin.'));
  assert.deepEqual(adminWarn.map((w) => [w.key, w.line]), [['admin.admin_secret', 2], ['admin.debug_level', 3]]);
  for (const w of adminWarn) {
    assert.equal(w.file, join(ROOT, 'conf', 'janus.jcfg'));
    assert.match(w.message, /from the 'general' section, not 'admin'/);
  }
  assert.equal(cfg.warnings.length, 2, JSON.stringify(cfg.warnings));
  // Our transport files.
  assert.equal(cfg.http.file, join(ROOT, 'conf', 'janus.transport.http.jcfg'));
  assert.deepEqual([cfg.http.general.port, cfg.http.general.base_path, cfg.http.general.json], [8088, '/janus', 'compact']);
  assert.deepEqual([cfg.http.admin.admin_http, cfg.http.admin.admin_port, cfg.http.admin.admin_ip], [true, 7088, '127.0.0.1']);
  assert.deepEqual([cfg.ws.general.ws, cfg.ws.general.ws_port], [true, 8188]);
  assert.deepEqual([cfg.ws.admin.admin_ws, cfg.ws.admin.admin_ws_port, cfg.ws.admin.admin_ws_ip], [true, 7188, '127.0.0.1']);
  assert.equal(cfg.pluginConfigPath('janus.plugin.videoroom'), join(ROOT, 'conf', 'janus.plugin.videoroom.jcfg'));
});

test('missing files give defaults; configFile overrides janus.jcfg', async () => {
  const empty = folder({});
  const cfg = await loadGatewayConfig({ configsFolder: empty });
  assert.deepEqual(cfg.janus, defaultJanusConfig(empty));
  assert.deepEqual(cfg.http, defaultHttpConfig());
  assert.deepEqual(cfg.ws, defaultWsConfig());
  assert.deepEqual(cfg.warnings, []);
  const other = join(folder({ 'custom.jcfg': 'general: { server_name = "X" }' }), 'custom.jcfg');
  const c2 = await loadGatewayConfig({ configsFolder: empty, configFile: other });
  assert.equal(c2.janus.general.server_name, 'X');
  assert.equal(c2.janus.file, other);
});

test('a legacy janus.cfg alone is reported, not silently ignored', async () => {
  const dir = folder({ 'janus.cfg': '[general]\ndebug_level = 5\n' });
  const cfg = await loadGatewayConfig({ configsFolder: dir });
  assert.equal(cfg.janus.general.debug_level, 4);
  assert.match(cfg.warnings[0]!.message, /legacy INI configuration is not supported/);
});

test('values: lenient types, lists, arrays, nullable strings', async () => {
  const dir = folder({
    'janus.jcfg': [
      'general: { debug_level = "6"; session_timeout = 0; token_auth = "yes"; server_name = 42; protected_folders = ["/bin", "/usr"] }',
      'media: { rtp_port_range = " 20000 - 40000 " ; ipv6 = 1; single_port = 10000 }',
      'nat: { nat_1_1_mapping = "1.2.3.4, 5.6.7.8"; ice_nomination = "Regular"; turn_type = "tls"; ice_ignore_list = "" }',
      'plugins: { disable = "libjanus_voicemail.so,libjanus_recordplay.so" }',
      'events: { broadcast = true; stats_period = 5 }',
    ].join('\n'),
    'janus.transport.http.jcfg': 'general: { port = "8080"; base_path = "/api/"; acl = "127.,10." }\nadmin: { admin_http = "true" }\ncors: { allow_origin = "https://x" ; enforce_cors = true }',
    'janus.transport.websockets.jcfg': 'general: { ws_port = 9000; pingpong_trigger = 30; pingpong_timeout = 10; ws_acl = ["127."] }',
  });
  const { janus, http, ws, warnings } = await loadGatewayConfig({ configsFolder: dir });
  assert.deepEqual(warnings, []);
  assert.equal(janus.general.debug_level, 6);
  assert.equal(janus.general.session_timeout, 0);
  assert.equal(janus.general.token_auth, true);
  assert.equal(janus.general.server_name, '42');
  assert.deepEqual(janus.general.protected_folders, ['/bin', '/usr']);
  assert.deepEqual(janus.media.rtp_port_range, { min: 20000, max: 40000 });
  assert.equal(janus.media.ipv6, true);
  assert.equal(janus.media.single_port, 10000);
  assert.deepEqual(janus.nat.nat_1_1_mapping, ['1.2.3.4', '5.6.7.8']);
  assert.equal(janus.nat.ice_nomination, 'regular');
  assert.equal(janus.nat.turn_type, 'tls');
  assert.deepEqual(janus.nat.ice_ignore_list, []);
  assert.deepEqual(janus.plugins.disable, ['libjanus_voicemail.so', 'libjanus_recordplay.so']);
  assert.deepEqual([janus.events.broadcast, janus.events.stats_period], [true, 5]);
  assert.deepEqual([http.general.port, http.general.base_path, http.general.acl], [8080, '/api', ['127.', '10.']]);
  assert.equal(http.admin.admin_http, true);
  assert.deepEqual(http.cors, { allow_origin: 'https://x', enforce_cors: true });
  assert.deepEqual([ws.general.ws_port, ws.general.pingpong_trigger, ws.general.pingpong_timeout, ws.general.ws_acl], [9000, 30, 10, ['127.']]);
});

const INVALID: Array<[file: string, text: string, line: number, key: string, reason: RegExp]> = [
  ['janus.jcfg', 'general: {\n\tdebug_level = 12\n}', 2, 'general.debug_level', /12 is out of range \(0-7\)/],
  ['janus.jcfg', '# c\n\nmedia: {\n  dtls_mtu = 1200\n\n\n  rtp_port_range = "abc"\n}', 7, 'media.rtp_port_range', /expected "min-max"/],
  ['janus.jcfg', 'media: { rtp_port_range = "40000-20000" }', 1, 'media.rtp_port_range', /min <= max/],
  ['janus.jcfg', 'media: { rtp_port_range = "1-70000" }', 1, 'media.rtp_port_range', /1-65535/],
  ['janus.jcfg', 'media: { single_port = 70000 }', 1, 'media.single_port', /out of range/],
  ['janus.jcfg', 'media: {\n worker_call_timeout = 0 }', 2, 'media.worker_call_timeout', /out of range \(1-3600\)/],
  ['janus.jcfg', 'media: { worker_call_timeout = "20s" }', 1, 'media.worker_call_timeout', /expected an integer/],
  ['janus.jcfg', 'nat: {\n stun_port = "abc" }', 2, 'nat.stun_port', /expected a port number/],
  ['janus.jcfg', 'nat: { ice_nomination = "x" }', 1, 'nat.ice_nomination', /expected one of "regular", "aggressive", got "x"/],
  ['janus.jcfg', 'nat: { turn_type = "sctp" }', 1, 'nat.turn_type', /expected one of "udp", "tcp", "tls"/],
  ['janus.jcfg', 'general: { session_timeout = -1 }', 1, 'general.session_timeout', /out of range/],
  ['janus.jcfg', 'general: { server_name = ["a"] }', 1, 'general.server_name', /expected a string/],
  ['janus.jcfg', 'admin: {\n debug_level = "loud" }', 2, 'admin.debug_level', /expected an integer, got "loud"/],
  ['janus.transport.http.jcfg', 'general: { port = "http" }', 1, 'general.port', /expected a port number \(1-65535\), got "http"/],
  ['janus.transport.http.jcfg', 'general: { port = 0 }', 1, 'general.port', /expected a port number/],
  ['janus.transport.http.jcfg', 'general: {\n json = "weird" }', 2, 'general.json', /expected one of "compact", "indented", "plain"/],
  ['janus.transport.http.jcfg', 'general: { base_path = "janus" }', 1, 'general.base_path', /starting with "\/"/],
  ['janus.transport.websockets.jcfg', 'admin: { admin_ws_port = 1.5 }', 1, 'admin.admin_ws_port', /expected a port number/],
];

for (const [file, text, line, key, reason] of INVALID) {
  test(`ConfigError: ${file} ${key} (${text.replace(/\s+/g, ' ')})`, async () => {
    const dir = folder({ [file]: text });
    await assert.rejects(loadGatewayConfig({ configsFolder: dir }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.file, join(dir, file));
      assert.equal(e.line, line);
      assert.equal(e.key, key);
      assert.ok(e.message.startsWith(`${join(dir, file)}:${line}: ${key}: `), e.message);
      assert.match(e.message, reason);
      return true;
    });
  });
}

test('syntax errors in a config file reject with ConfigSyntaxError', async () => {
  const dir = folder({ 'janus.transport.websockets.jcfg': 'general: {\n ws_port 8188\n}' });
  await assert.rejects(loadGatewayConfig({ configsFolder: dir }), (e: unknown) => e instanceof ConfigSyntaxError && e.line === 2 && e.column === 10);
});

test('warnings: unknown keys, keys of another file, ambiguous keys, top level, unknown empty section', async () => {
  const dir = folder({
    'janus.jcfg': [
      'general: { debug_levle = 5 }', // 1 typo
      'media: { admin_http = true }', // 2 belongs to the http file
      'nat: { cert_pem = "/x.pem" }', // 3 certificates in janus.jcfg: one home -> moved
      'stun_server = "stun.example.org"', // 4 top level, one home -> moved
      'extra: { }', // 5
      'plugins: { disable = "a" }',
      'oops: { disable = "b" }', // 7 disable lives in plugins/transports/loggers/events
    ].join('\n'),
    'janus.transport.http.jcfg': 'general: { admin_port = 7000 }\nadmin: { port = 9000 }\n',
  });
  const { janus, http, warnings } = await loadGatewayConfig({ configsFolder: dir });
  const byKey = new Map(warnings.map((w) => [w.key, w]));
  assert.match(byKey.get('general.debug_levle')!.message, /unknown setting 'general.debug_levle'/);
  assert.equal(byKey.get('general.debug_levle')!.line, 1);
  assert.match(byKey.get('media.admin_http')!.message, /janus.transport.http.jcfg \[admin\]/);
  assert.match(byKey.get('nat.cert_pem')!.message, /'certificates' section, not 'nat'/);
  assert.equal(janus.certificates.cert_pem, '/x.pem');
  assert.match(byKey.get('stun_server')!.message, /'nat' section \(not at top level\)/);
  assert.equal(byKey.get('stun_server')!.line, 4);
  assert.equal(janus.nat.stun_server, 'stun.example.org');
  assert.match(byKey.get('extra')!.message, /unknown section 'extra'/);
  assert.match(byKey.get('oops.disable')!.message, /one of: plugins, transports, loggers, events/);
  assert.deepEqual(janus.plugins.disable, ['a']);
  // Same-file relocation in a transport file too.
  assert.equal(http.admin.admin_port, 7000);
  assert.equal(http.general.port, 9000);
  assert.equal(byKey.get('general.admin_port')!.file, join(dir, 'janus.transport.http.jcfg'));
  for (const w of warnings) assert.ok(w.file && w.line !== undefined, JSON.stringify(w));
});

test('a key in its own section wins over a misplaced copy, whatever the order', async () => {
  const dir = folder({ 'janus.jcfg': 'admin: { admin_secret = "misplaced" }\ngeneral: { admin_secret = "proper" }\n' });
  const { janus, warnings } = await loadGatewayConfig({ configsFolder: dir });
  assert.equal(janus.general.admin_secret, 'proper');
  assert.ok(warnings.some((w) => w.key === 'admin.admin_secret' && /already set at line 2/.test(w.message)));
});

test('Janus quirks kept: bad booleans read as false with a warning; candidates_timeout 0 ignored', async () => {
  const dir = folder({ 'janus.jcfg': 'nat: { ice_lite = "maybe" }\ngeneral: { candidates_timeout = 0 }' });
  const { janus, warnings } = await loadGatewayConfig({ configsFolder: dir });
  assert.equal(janus.nat.ice_lite, false);
  assert.equal(janus.general.candidates_timeout, 45);
  assert.ok(warnings.some((w) => w.key === 'nat.ice_lite' && /not a boolean/.test(w.message)));
  assert.ok(warnings.some((w) => w.key === 'general.candidates_timeout' && /using the default 45/.test(w.message)));
});

test('configs_folder in the file does not override the folder we were given', async () => {
  const dir = folder({ 'janus.jcfg': 'general: { configs_folder = "/elsewhere" }' });
  const { janus, warnings } = await loadGatewayConfig({ configsFolder: dir });
  assert.equal(janus.general.configs_folder, dir);
  assert.ok(warnings.some((w) => w.key === 'general.configs_folder'));
});

test('the stock Janus 1.1.2 configs load with no warnings', async () => {
  ensureSystemPackage('janus', '/etc/janus/janus.jcfg');
  const dir = mkdtempSync(join(tmpdir(), 'schema-etc-'));
  for (const f of ['janus.jcfg', 'janus.transport.http.jcfg', 'janus.transport.websockets.jcfg']) cpSync(join('/etc/janus', f), join(dir, f));
  const { janus, http, ws, warnings } = await loadGatewayConfig({ configsFolder: dir });
  assert.deepEqual(
    warnings.filter((w) => w.key !== 'general.configs_folder'),
    [],
  );
  assert.equal(janus.general.admin_secret, 'janusoverlord');
  assert.ok(janus.general.protected_folders.includes('/usr'));
  assert.deepEqual(janus.nat.ice_ignore_list, ['vmnet']);
  assert.equal(http.general.port, 8088);
  assert.equal(ws.general.ws_port, 8188);
});
