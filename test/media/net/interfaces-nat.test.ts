import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { discoverLocalAddresses, parseList } from '../../../src/media/net/interfaces.js';
import { applyNat11Mapping, parseNat11Mapping } from '../../../src/media/net/nat.js';
import { hostCandidate, srflxCandidate } from '../../../src/media/ice/candidate.js';

const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({ address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: null });
const v6 = (address: string, internal = false): NetworkInterfaceInfo => ({ address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal, cidr: null, scopeid: 0 });

const IFACES = {
  lo: [v4('127.0.0.1', true), v6('::1', true)],
  eth0: [v4('192.168.1.10'), v6('2001:db8::10'), v6('fe80::1')],
  eth1: [v4('10.1.2.3')],
  vmnet8: [v4('172.16.5.1')],
  docker0: [v4('172.17.0.1')],
};

const addrs = (o: Parameters<typeof discoverLocalAddresses>[0]) => discoverLocalAddresses({ interfaces: IFACES, ...o }).map((a) => a.address);

test('parseList', () => {
  assert.deepEqual(parseList(' eth0, ,192.168. ,'), ['eth0', '192.168.']);
  assert.deepEqual(parseList(undefined), []);
});

test('default: no loopback, no IPv6, ignore list by interface name prefix', () => {
  assert.deepEqual(addrs({ ignoreList: 'vmnet' }), ['192.168.1.10', '10.1.2.3', '172.17.0.1']);
  assert.deepEqual(addrs({ ignoreList: 'vmnet,docker,10.1.' }), ['192.168.1.10']);
});

test('enforce list wins over ignore list and can pick loopback explicitly', () => {
  assert.deepEqual(addrs({ enforceList: 'eth1', ignoreList: 'eth' }), ['10.1.2.3']);
  assert.deepEqual(addrs({ enforceList: '192.168.,vmnet' }), ['192.168.1.10', '172.16.5.1']);
  assert.deepEqual(addrs({ enforceList: 'lo' }), ['127.0.0.1']);
});

test('IPv6 only when enabled, link-local only on request', () => {
  assert.deepEqual(addrs({ ipv6: true, enforceList: 'eth0' }), ['192.168.1.10', '2001:db8::10']);
  assert.deepEqual(addrs({ ipv6: true, ipv6LinkLocal: true, enforceList: 'eth0' }), ['192.168.1.10', '2001:db8::10', 'fe80::1']);
});

test('falls back to loopback when nothing else is left', () => {
  assert.deepEqual(discoverLocalAddresses({ interfaces: { lo: [v4('127.0.0.1', true)], eth0: [v4('192.168.1.10')] }, ignoreList: 'eth' }).map((a) => a.address), ['127.0.0.1']);
  const real = discoverLocalAddresses();
  assert.ok(real.length > 0, 'the host has at least one usable address (loopback at worst)');
});

test('nat_1_1_mapping: replace, keep private, multiple IPs, family matching', () => {
  assert.deepEqual(parseNat11Mapping(' 203.0.113.7 , 2001:db8::7'), ['203.0.113.7', '2001:db8::7']);
  assert.throws(() => parseNat11Mapping('my.host.example'), /not an IP address/);
  const h4 = hostCandidate('10.0.0.5', 10000);
  const h6 = hostCandidate('fd00::5', 10002);
  const sr = srflxCandidate({ address: '198.51.100.1', port: 1 }, { address: '10.0.0.5', port: 10000 }, 'stun');

  const replaced = applyNat11Mapping([h4, h6, sr], ['203.0.113.7'], false);
  assert.deepEqual(replaced.map((c) => `${c.type} ${c.address}:${c.port}`), ['host 203.0.113.7:10000', 'host fd00::5:10002', 'srflx 198.51.100.1:1']);
  assert.equal(replaced[0]!.priority, h4.priority);
  assert.notEqual(replaced[0]!.foundation, h4.foundation);

  const kept = applyNat11Mapping([h4], ['203.0.113.7'], true);
  assert.deepEqual(kept.map((c) => c.address), ['10.0.0.5', '203.0.113.7']);
  assert.equal(kept[1]!.priority, h4.priority - 1);

  const multi = applyNat11Mapping([h4, h6], ['203.0.113.7', '198.51.100.9', '2001:db8::7'], false);
  assert.deepEqual(multi.map((c) => c.address), ['203.0.113.7', '198.51.100.9', '2001:db8::7']);
  assert.equal(new Set(multi.map((c) => c.priority)).size, 3, 'unique priorities');
  assert.deepEqual(applyNat11Mapping([h4], [], false), [h4]);
});
