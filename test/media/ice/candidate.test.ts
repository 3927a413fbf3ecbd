import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CandidateParseError,
  computeFoundation,
  computePriority,
  hostCandidate,
  isMdnsAddress,
  pairPriority,
  parseCandidate,
  serializeCandidate,
  srflxCandidate,
  tryParseCandidate,
} from '../../../src/media/ice/candidate.js';

test('priority formula (RFC 8445 5.1.2.1)', () => {
  assert.equal(computePriority('host', 65535, 1), 2130706431); // the classic 126<<24 | 65535<<8 | 255
  assert.equal(computePriority('srflx', 65535, 1), 1694498815);
  assert.equal(computePriority('relay', 0, 2), 254);
  assert.equal(computePriority('prflx', 1, 1), 110 * 2 ** 24 + 256 + 255);
});

test('pair priority (RFC 8445 6.1.2.3) uses bigint and orders by controlling side', () => {
  const g = 2130706431;
  const d = 1694498815;
  assert.equal(pairPriority(g, d), (BigInt(d) << 32n) + 2n * BigInt(g) + 1n);
  assert.equal(pairPriority(d, g), (BigInt(d) << 32n) + 2n * BigInt(g));
  assert.ok(pairPriority(g, d) > pairPriority(d, g));
});

test('foundation: same for same type/base/transport/server, different otherwise', () => {
  assert.equal(computeFoundation('host', '10.0.0.1'), computeFoundation('host', '10.0.0.1'));
  assert.notEqual(computeFoundation('host', '10.0.0.1'), computeFoundation('host', '10.0.0.2'));
  assert.notEqual(computeFoundation('host', '10.0.0.1'), computeFoundation('srflx', '10.0.0.1'));
  assert.notEqual(computeFoundation('srflx', '10.0.0.1', 'udp', 'a'), computeFoundation('srflx', '10.0.0.1', 'udp', 'b'));
  assert.match(computeFoundation('relay', '::1'), /^\d{1,10}$/);
});

test('parse a Chrome host candidate with extensions', () => {
  const c = parseCandidate('candidate:842163049 1 udp 1677729535 192.0.2.10 46154 typ srflx raddr 10.0.0.5 rport 46154 generation 0 ufrag EsAw network-id 1 network-cost 10');
  assert.deepEqual(c, {
    foundation: '842163049',
    component: 1,
    transport: 'udp',
    priority: 1677729535,
    address: '192.0.2.10',
    port: 46154,
    type: 'srflx',
    relatedAddress: '10.0.0.5',
    relatedPort: 46154,
    generation: 0,
    ufrag: 'EsAw',
    networkId: 1,
    networkCost: 10,
  });
  assert.equal(
    serializeCandidate(c),
    'candidate:842163049 1 udp 1677729535 192.0.2.10 46154 typ srflx raddr 10.0.0.5 rport 46154 generation 0 ufrag EsAw network-id 1 network-cost 10',
  );
});

test('parse: a= prefix, uppercase UDP, tcp with tcptype, mDNS, IPv6, unknown extensions', () => {
  const a = parseCandidate('a=candidate:1 1 UDP 2122260223 4f9e2c1a-1b2c-4d5e-8f90-1234567890ab.local 54321 typ host generation 0');
  assert.equal(a.transport, 'udp');
  assert.ok(isMdnsAddress(a.address));
  const t = parseCandidate('candidate:2 1 tcp 1518280447 10.0.0.1 9 typ host tcptype active foo bar');
  assert.equal(t.tcpType, 'active');
  assert.deepEqual(t.extensions, [['foo', 'bar']]);
  assert.equal(serializeCandidate(t), 'candidate:2 1 tcp 1518280447 10.0.0.1 9 typ host tcptype active foo bar');
  const v6 = parseCandidate('candidate:3 1 udp 2122262783 2001:DB8:0:0::1 5000 typ host');
  assert.equal(v6.address, '2001:db8::1');
  assert.ok(!isMdnsAddress('10.0.0.1'));
});

test('parse errors', () => {
  assert.throws(() => parseCandidate('candidate:1 1 udp 1 10.0.0.1 5000 typ bogus'), CandidateParseError);
  assert.throws(() => parseCandidate('candidate:1 1 sctp 1 10.0.0.1 5000 typ host'), /unsupported transport/);
  assert.throws(() => parseCandidate('candidate:1 1 udp 1 10.0.0.1 99999 typ host'), /bad port/);
  assert.throws(() => parseCandidate('candidate:1 1 udp 1 not_an_ip 5000 typ host'), /bad connection address/);
  assert.throws(() => parseCandidate('candidate:1 1 udp 1 10.0.0.1'), /too few/);
  assert.throws(() => parseCandidate('candidate:1 1 udp 1 10.0.0.1 5000 typ host generation'), /dangling/);
  assert.equal(tryParseCandidate('garbage'), undefined);
});

test('constructors: host and srflx', () => {
  const h = hostCandidate('10.0.0.1', 5000);
  assert.equal(h.type, 'host');
  assert.equal(h.priority >>> 24, 126);
  const s = srflxCandidate({ address: '203.0.113.5', port: 40000 }, { address: '10.0.0.1', port: 5000 }, 'stun.example.org:3478');
  assert.equal(s.priority >>> 24, 100);
  assert.equal(s.relatedAddress, '10.0.0.1');
  assert.equal(serializeCandidate(s), `candidate:${s.foundation} 1 udp ${s.priority} 203.0.113.5 40000 typ srflx raddr 10.0.0.1 rport 5000`);
  assert.deepEqual(parseCandidate(serializeCandidate(s)), s);
});
