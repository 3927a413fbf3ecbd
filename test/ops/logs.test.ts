/**
 * Logs follow Janus's debug_level (-d): 3 prints warnings but no info, 4 adds info (the startup
 * summary), 5 adds the per-session lines, which carry session_id / handle_id. The startup summary
 * names the version, config folder, plugins, transports, ports and the advertised media addresses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advertisedAddresses, isPrivateAddress, reachabilityWarning } from '../../src/metrics/startup.js';
import type { NetworkInterfaceInfo } from 'node:os';
import { defaultJanusConfig } from '../../src/config/schema.js';
import { LocalCandidates } from '../../src/media/candidates.js';
import { VERSION_STRING } from '../../src/version.js';
import { postJson, startServer } from './server.js';

const INFO = 30;
const WARN = 40;
const VERB = 25;

test('-d 3: warnings are printed, info lines are not', { timeout: 30_000 }, async () => {
  const s = await startServer(['-d', '3'], { extraJanus: '  bogus_key = 1' });
  try {
    await s.ready();
    const sid = ((await postJson(s.api, { janus: 'create', transaction: 't' })).data as { id: number }).id;
    assert.ok(sid > 0);
    await new Promise((r) => setTimeout(r, 100));
    const lines = s.lines();
    assert.ok(lines.some((l) => l.level === WARN && /bogus_key/.test(l.msg)), `the unknown key warning:\n${s.stdout()}`);
    assert.ok(lines.some((l) => l.level === WARN && /every advertised media address is private \(127\.0\.0\.1\)/.test(l.msg)), 'the reachability warning (media on 127.0.0.1 only)');
    assert.deepEqual(lines.filter((l) => l.level < WARN), [], 'nothing below warning at -d 3');
    assert.ok(!s.stdout().includes('started'));
  } finally {
    await s.stop();
  }
});

test('-d 4: the info startup summary appears; verbose per-session lines do not', { timeout: 30_000 }, async () => {
  const s = await startServer(['-d', '4']);
  try {
    await s.ready();
    await postJson(s.api, { janus: 'create', transaction: 't' });
    await new Promise((r) => setTimeout(r, 100));
    const started = await s.waitLine((l) => l.msg === `Portunus ${VERSION_STRING} started`);
    assert.equal(started.level, INFO);
    assert.equal(s.lines().filter((l) => l.level === VERB).length, 0, 'no verbose lines at -d 4');
    assert.ok(!s.lines().some((l) => l.msg === 'session created'));
  } finally {
    await s.stop();
  }
});

test('-d 5: per-session lines carry session_id and handle_id; the startup summary has versions, folders, plugins, transports, ports, advertised addresses', { timeout: 30_000 }, async () => {
  const s = await startServer(['-d', '5', '--nat-1-1', '203.0.113.7']);
  try {
    await s.ready();
    const sid = ((await postJson(s.api, { janus: 'create', transaction: 'c' })).data as { id: number }).id;
    const hid = ((await postJson(`${s.api}/${sid}`, { janus: 'attach', plugin: 'janus.plugin.echotest', transaction: 'a' })).data as { id: number }).id;
    await postJson(`${s.api}/${sid}/${hid}`, { janus: 'detach', transaction: 'd' });
    await postJson(`${s.api}/${sid}`, { janus: 'destroy', transaction: 'x' });
    const created = await s.waitLine((l) => l.msg === 'session created');
    assert.equal(created.session_id, sid);
    assert.equal(created.level, VERB);
    const attached = await s.waitLine((l) => l.msg === 'handle attached');
    assert.deepEqual([attached.session_id, attached.handle_id, attached.plugin], [sid, hid, 'janus.plugin.echotest']);
    const destroyed = await s.waitLine((l) => l.msg === 'session destroyed');
    assert.equal(destroyed.session_id, sid);
    // No line uses the old `session` / `handle` names, and every line naming a handle names its session.
    for (const l of s.lines()) {
      assert.ok(!('session' in l) && !('handle' in l), `old field names in ${JSON.stringify(l)}`);
      if (l.handle_id !== undefined) assert.ok(l.session_id !== undefined, `handle without session: ${JSON.stringify(l)}`);
    }

    // The startup summary.
    const started = await s.waitLine((l) => l.msg === `Portunus ${VERSION_STRING} started`);
    assert.equal(typeof started.configs_folder, 'string');
    assert.match(String(started.config), /janus\.jcfg$/);
    assert.deepEqual([...(started.plugins as string[])].sort(), ['janus.plugin.audiobridge', 'janus.plugin.echotest', 'janus.plugin.recordplay', 'janus.plugin.streaming', 'janus.plugin.textroom', 'janus.plugin.videocall', 'janus.plugin.videoroom']);
    assert.deepEqual(started.transports, ['janus.transport.http', 'janus.transport.websockets']);
    const http = await s.waitLine((l) => l.msg === 'transport janus.transport.http');
    assert.deepEqual(http.api, { host: '127.0.0.1', port: s.ports.http });
    assert.deepEqual(http.admin, { host: '127.0.0.1', port: s.ports.admin });
    const ws = await s.waitLine((l) => l.msg === 'transport janus.transport.websockets');
    assert.deepEqual(ws.api, { host: '127.0.0.1', port: s.ports.ws });
    const metrics = await s.waitLine((l) => l.msg === 'metrics');
    assert.equal(metrics.url, `http://127.0.0.1:${s.ports.metrics}/metrics`);
    const media = await s.waitLine((l) => l.msg === 'media');
    assert.match(String(media.rtp_port_range), /^\d+-\d+$/);
    assert.deepEqual(media.local_addresses, ['127.0.0.1']);
    assert.deepEqual(media.advertised, [{ type: 'host (nat_1_1_mapping)', address: '203.0.113.7' }]);
    assert.equal(media.stun, 'off');
    assert.ok(!s.lines().some((l) => /every advertised media address is private/.test(l.msg)), 'a public 1:1 address: no reachability warning');
  } finally {
    await s.stop();
  }
});

test('-d 4 with media.ipv6: the media line lists the IPv6 local and advertised host addresses too (issue 14)', { timeout: 30_000 }, async () => {
  const s = await startServer(['-d', '4'], { media: '  ipv6 = true', enforce: '127.0.0.1,::1' });
  try {
    await s.ready();
    const media = await s.waitLine((l) => l.msg === 'media');
    assert.deepEqual(media.local_addresses, ['127.0.0.1', '::1']);
    assert.deepEqual(media.advertised, [
      { type: 'host', address: '127.0.0.1' },
      { type: 'host', address: '::1' },
    ]);
    assert.ok(s.lines().some((l) => /every advertised media address is private \(127\.0\.0\.1, ::1\)/.test(l.msg)), 'the reachability warning names both');
  } finally {
    await s.stop();
  }
});

test('advertised addresses: IPv6 hosts and their nat_1_1_mapping from the real LocalCandidates; an IPv6-only host is not "no address at all"', async () => {
  const cfg = defaultJanusConfig('/x');
  cfg.media.rtp_port_range = { min: 10000, max: 10500 };
  const nic = (address: string, family: 'IPv4' | 'IPv6') => ({ address, family, internal: false, netmask: family === 'IPv4' ? '255.255.255.0' : 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:01', cidr: null, scopeid: 0 }) as NetworkInterfaceInfo;
  const dual = await LocalCandidates.create({ ipv6: true, interfaces: { eth0: [nic('192.168.1.10', 'IPv4'), nic('2001:db8::10', 'IPv6'), nic('fd00:1::5', 'IPv6')] } });
  assert.deepEqual(advertisedAddresses(dual, cfg), [
    { type: 'host', address: '192.168.1.10' },
    { type: 'host', address: '2001:db8::10' },
    { type: 'host', address: 'fd00:1::5' },
  ]);
  cfg.nat.nat_1_1_mapping = ['2001:db8:ffff::7'];
  const mapped = await LocalCandidates.create({ ipv6: true, nat11Mapping: cfg.nat.nat_1_1_mapping, interfaces: { eth0: [nic('192.168.1.10', 'IPv4'), nic('fd00:1::5', 'IPv6')] } });
  const adv = advertisedAddresses(mapped, cfg);
  assert.ok(adv.some((a) => a.type === 'host (nat_1_1_mapping)' && a.address === '2001:db8:ffff::7'), JSON.stringify(adv));
  assert.equal(reachabilityWarning(adv, cfg, false), null, 'a public IPv6 1:1 address is reachable');
  cfg.nat.nat_1_1_mapping = [];
  const v6only = await LocalCandidates.create({ ipv6: true, interfaces: { eth0: [nic('2001:db8::10', 'IPv6')] } });
  assert.deepEqual(advertisedAddresses(v6only, cfg), [{ type: 'host', address: '2001:db8::10' }]);
  assert.equal(reachabilityWarning(advertisedAddresses(v6only, cfg), cfg, false), null);
});

test('advertised addresses and the reachability warning', () => {
  const cfg = defaultJanusConfig('/x');
  cfg.media.rtp_port_range = { min: 10000, max: 10500 };
  const view = (hosts: string[], srflx: string | null) => ({
    addresses: hosts.map((address) => ({ address })),
    stunUsable: srflx !== null,
    publicIp: srflx,
    hostCandidates: (port: number) => {
      assert.equal(port, 10000);
      return { advertised: hosts.map((address) => ({ address, type: 'host' })) };
    },
  });
  assert.deepEqual(advertisedAddresses(view(['10.0.0.5'], '198.51.100.9'), cfg), [
    { type: 'host', address: '10.0.0.5' },
    { type: 'srflx', address: '198.51.100.9' },
  ]);
  for (const ip of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '127.0.0.1', '169.254.1.1', 'fd00::1', 'fe80::1']) assert.equal(isPrivateAddress(ip), true, ip);
  for (const ip of ['172.32.0.1', '8.8.8.8', '203.0.113.7', '2001:db8::1']) assert.equal(isPrivateAddress(ip), false, ip);
  cfg.nat.stun_server = 'stun.example.org';
  cfg.nat.stun_port = 3478;
  const w = reachabilityWarning([{ type: 'host', address: '172.17.0.2' }], cfg, true);
  assert.match(w ?? '', /172\.17\.0\.2/);
  assert.match(w ?? '', /container/);
  assert.match(w ?? '', /stun\.example\.org:3478 did not answer/);
  assert.match(w ?? '', /nat_1_1_mapping/);
  assert.equal(reachabilityWarning([{ type: 'host', address: '172.17.0.2' }, { type: 'srflx', address: '198.51.100.9' }], cfg, true), null);
  assert.match(reachabilityWarning([], cfg, false) ?? '', /no ICE candidate address/);
});
