import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { applyCli, CliError, parseArgs } from '../../src/cli.js';
import { defaultJanusConfig } from '../../src/config/schema.js';
import { VERSION_STRING, versionNumber } from '../../src/version.js';
import { isDisabled } from '../../src/plugins/index.js';

test('CLI: long, short, inline and separate values', () => {
  const o = parseArgs(['-F', '/etc/x', '--config=/etc/x/j.jcfg', '-d5', '--admin-secret', 'adm', '-a', 'api', '-A', '-S', 'stun.example:3478', '--nat-1-1=1.2.3.4,5.6.7.8', '-r', '10000-10500', '-i', '10.0.0.1']);
  assert.deepEqual(o, {
    help: false,
    version: false,
    configsFolder: '/etc/x',
    configFile: '/etc/x/j.jcfg',
    debugLevel: 5,
    adminSecret: 'adm',
    apiSecret: 'api',
    tokenAuth: true,
    stunServer: { host: 'stun.example', port: 3478 },
    nat11: ['1.2.3.4', '5.6.7.8'],
    rtpPortRange: { min: 10000, max: 10500 },
    interface: '10.0.0.1',
  });
  assert.equal(parseArgs(['-h']).help, true);
  assert.equal(parseArgs(['--version']).version, true);
  assert.equal(parseArgs(['-V']).version, true);
});

test('CLI: bad input is a CliError with a useful message', () => {
  assert.throws(() => parseArgs(['--nope']), (e: unknown) => e instanceof CliError && /unknown option '--nope'/.test(e.message));
  assert.throws(() => parseArgs(['-d', '9']), /out of range/);
  assert.throws(() => parseArgs(['-d', 'x']), /not a number/);
  assert.throws(() => parseArgs(['-F']), /needs a value/);
  assert.throws(() => parseArgs(['-S', 'nohost']), /host:port/);
  assert.throws(() => parseArgs(['-r', '500-100']), /above/);
  assert.throws(() => parseArgs(['--token-auth=yes']), /takes no value/);
});

test('CLI overrides the configuration', () => {
  const cfg = defaultJanusConfig('/x');
  cfg.general.api_secret = 'from-file';
  applyCli(cfg, parseArgs(['-a', 'from-cli', '-d', '7', '-S', 'stun.l.google.com:19302', '-r', '2000-3000', '--admin-secret', 'z']));
  assert.equal(cfg.general.api_secret, 'from-cli');
  assert.equal(cfg.general.debug_level, 7);
  assert.equal(cfg.general.admin_secret, 'z');
  assert.equal(cfg.nat.stun_server, 'stun.l.google.com');
  assert.equal(cfg.nat.stun_port, 19302);
  assert.deepEqual(cfg.media.rtp_port_range, { min: 2000, max: 3000 });
  assert.equal(cfg.media.single_port, 0, 'single_port off by default');
  applyCli(cfg, parseArgs(['--single-port=10000']));
  assert.equal(cfg.media.single_port, 10000);
  assert.throws(() => parseArgs(['--single-port', '70000']), /out of range/);
  const untouched = defaultJanusConfig('/x');
  applyCli(untouched, parseArgs([]));
  assert.deepEqual(untouched, defaultJanusConfig('/x'));
});

test('version matches package.json; Janus-style number', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(VERSION_STRING, pkg.version);
  assert.equal(versionNumber('1.1.2'), 1102);
  assert.equal(versionNumber('1.4.2'), 1402);
});

test('plugins.disable accepts library names and package names', () => {
  assert.equal(isDisabled('janus.plugin.videoroom', ['libjanus_echotest.so', 'libjanus_videoroom.so']), true);
  assert.equal(isDisabled('janus.plugin.videoroom', ['janus.plugin.videoroom']), true);
  assert.equal(isDisabled('janus.plugin.videoroom', ['libjanus_audiobridge.so']), false);
});
