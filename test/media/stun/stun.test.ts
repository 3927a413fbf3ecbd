import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  StunAttr,
  StunBuilder,
  StunClass,
  StunMessageType,
  crc32,
  formatIPv6,
  isStunPacket,
  longTermKey,
  normalizeIp,
  parseStun,
  stunClassOf,
  stunMethodOf,
  stunType,
  verifyFingerprint,
  verifyMessageIntegrity,
  writeIPv6,
} from '../../../src/media/stun/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 5769 2.1: sample request (padding bytes are 0x20 on purpose)
const SAMPLE_REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);
// RFC 5769 2.2: IPv4 response
const IPV4_RESPONSE = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);
// RFC 5769 2.3: IPv6 response
const IPV6_RESPONSE = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);
const PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';
const TID = hex('b7 e7 a7 01 bc 34 d6 86 fa 87 df ae');

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(Buffer.alloc(0)), 0);
  // chaining equals one pass
  const b = Buffer.from('hello, world');
  assert.equal(crc32(b, 5, b.length, crc32(b, 0, 5)), crc32(b));
});

test('message type helpers', () => {
  assert.equal(stunType(0x001, StunClass.SuccessResponse), 0x0101);
  assert.equal(stunType(0x001, StunClass.ErrorResponse), 0x0111);
  assert.equal(stunClassOf(0x0111), StunClass.ErrorResponse);
  assert.equal(stunMethodOf(0x0111), 1);
  assert.equal(stunMethodOf(stunType(0xabc, StunClass.Indication)), 0xabc);
});

test('RFC 5769 sample request: parse, integrity, fingerprint', () => {
  assert.ok(isStunPacket(SAMPLE_REQUEST));
  const m = parseStun(SAMPLE_REQUEST);
  assert.ok(m);
  assert.equal(m.type, StunMessageType.BindingRequest);
  assert.equal(m.cls, StunClass.Request);
  assert.deepEqual(m.transactionId, TID);
  assert.equal(m.getSoftware(), 'STUN test client');
  assert.equal(m.getPriority(), 0x6e0001ff);
  assert.equal(m.getIceControlled(), 0x932ff9b151263b36n);
  assert.equal(m.getUsername(), 'evtj:h6vY');
  assert.ok(verifyMessageIntegrity(m, PASSWORD));
  assert.ok(!verifyMessageIntegrity(m, 'wrong'));
  assert.ok(verifyFingerprint(m));
  assert.deepEqual(m.unknownComprehensionRequired(), []);
});

test('RFC 5769 IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853', () => {
  const m = parseStun(IPV4_RESPONSE);
  assert.ok(m);
  assert.equal(m.type, StunMessageType.BindingSuccess);
  assert.equal(m.getSoftware(), 'test vector');
  assert.deepEqual(m.getXorMappedAddress(), { family: 4, address: '192.0.2.1', port: 32853 });
  assert.ok(verifyMessageIntegrity(m, PASSWORD));
  assert.ok(verifyFingerprint(m));
});

test('RFC 5769 IPv6 response: XOR-MAPPED-ADDRESS 2001:db8:1234:5678:11:2233:4455:6677', () => {
  const m = parseStun(IPV6_RESPONSE);
  assert.ok(m);
  assert.deepEqual(m.getXorMappedAddress(), {
    family: 6,
    address: '2001:db8:1234:5678:11:2233:4455:6677',
    port: 32853,
  });
  assert.ok(verifyMessageIntegrity(m, PASSWORD));
  assert.ok(verifyFingerprint(m));
});

test('builder reproduces all three RFC 5769 vectors byte for byte (incl. MI and FINGERPRINT)', () => {
  const req = new StunBuilder(StunMessageType.BindingRequest, TID)
    .software('STUN test client')
    .priority(0x6e0001ff)
    .iceControlled(0x932ff9b151263b36n)
    .username('evtj:h6vY', 0x20)
    .build({ integrityKey: PASSWORD, fingerprint: true });
  assert.deepEqual(req, SAMPLE_REQUEST);
  const v4 = new StunBuilder(StunMessageType.BindingSuccess, TID)
    .software('test vector', 0x20)
    .xorMappedAddress('192.0.2.1', 32853)
    .build({ integrityKey: PASSWORD, fingerprint: true });
  assert.deepEqual(v4, IPV4_RESPONSE);
  const v6 = new StunBuilder(StunMessageType.BindingSuccess, TID)
    .software('test vector', 0x20)
    .xorMappedAddress('2001:db8:1234:5678:11:2233:4455:6677', 32853)
    .build({ integrityKey: PASSWORD, fingerprint: true });
  assert.deepEqual(v6, IPV6_RESPONSE);
  // default zero padding still verifies
  const z = parseStun(new StunBuilder(StunMessageType.BindingSuccess, TID).software('test vector').build({ integrityKey: PASSWORD, fingerprint: true }));
  assert.ok(z && verifyMessageIntegrity(z, PASSWORD) && verifyFingerprint(z));
});

test('round trip of every attribute', () => {
  const msg = new StunBuilder(StunMessageType.BindingError)
    .username('a:b')
    .priority(123456)
    .useCandidate()
    .iceControlling(0xffffffffffffffffn)
    .nomination(7)
    .errorCode(487)
    .unknownAttributes([0x0033, 0x7777])
    .mappedAddress('10.0.0.1', 5000)
    .xorMappedAddress('::1', 6000)
    .software('portunus')
    .build({ integrityKey: 'pw', fingerprint: true });
  const m = parseStun(msg);
  assert.ok(m);
  assert.equal(m.cls, StunClass.ErrorResponse);
  assert.equal(m.getUsername(), 'a:b');
  assert.equal(m.getPriority(), 123456);
  assert.ok(m.hasUseCandidate());
  assert.equal(m.getIceControlling(), 0xffffffffffffffffn);
  assert.equal(m.getIceControlled(), undefined);
  assert.equal(m.getNomination(), 7);
  assert.deepEqual(m.getErrorCode(), { code: 487, reason: 'Role Conflict' });
  assert.deepEqual(m.getUnknownAttributes(), [0x0033, 0x7777]);
  assert.deepEqual(m.getMappedAddress(), { family: 4, address: '10.0.0.1', port: 5000 });
  assert.deepEqual(m.getXorMappedAddress(), { family: 6, address: '::1', port: 6000 });
  assert.equal(m.getSoftware(), 'portunus');
  assert.ok(verifyMessageIntegrity(m, 'pw'));
  assert.ok(verifyFingerprint(m));
});

test('tampering breaks integrity and fingerprint; attributes after MI are ignored', () => {
  const bytes = new StunBuilder(StunMessageType.BindingRequest).username('x:y').build({ integrityKey: 'k', fingerprint: true });
  const t = Buffer.from(bytes);
  t[24] ^= 1; // inside USERNAME
  const m = parseStun(t);
  assert.ok(m);
  assert.ok(!verifyMessageIntegrity(m, 'k'));
  assert.ok(!verifyFingerprint(m));

  // an attribute between MI and FINGERPRINT is not exposed
  const withTrailer = new StunBuilder(StunMessageType.BindingRequest).username('u').build({ integrityKey: 'k' });
  const extra = Buffer.concat([withTrailer, hex('00 24 00 04 00 00 00 01')]);
  extra.writeUInt16BE(extra.length - 20, 2);
  const m2 = parseStun(extra);
  assert.ok(m2);
  assert.equal(m2.getPriority(), undefined);
});

test('rejects malformed messages', () => {
  assert.equal(parseStun(Buffer.alloc(10)), undefined);
  const ok = new StunBuilder(StunMessageType.BindingRequest).username('abc').build();
  const badCookie = Buffer.from(ok);
  badCookie[4] = 0;
  assert.equal(parseStun(badCookie), undefined);
  const badLen = Buffer.from(ok);
  badLen.writeUInt16BE(ok.length, 2);
  assert.equal(parseStun(badLen), undefined);
  const overrun = Buffer.from(ok);
  overrun.writeUInt16BE(200, 22); // USERNAME length beyond the end
  assert.equal(parseStun(overrun), undefined);
  const rtp = Buffer.alloc(40);
  rtp[0] = 0x80;
  assert.ok(!isStunPacket(rtp));
  // attribute after FINGERPRINT
  const fp = new StunBuilder(StunMessageType.BindingRequest).build({ fingerprint: true });
  const after = Buffer.concat([fp, hex('00 25 00 00')]);
  after.writeUInt16BE(after.length - 20, 2);
  assert.equal(parseStun(after), undefined);
});

test('unknown comprehension-required attributes are reported', () => {
  const m = parseStun(new StunBuilder(StunMessageType.BindingRequest).add(0x0031, Buffer.from([1])).add(0x8031, Buffer.from([1])).build());
  assert.ok(m);
  assert.deepEqual(m.unknownComprehensionRequired(), [0x0031]);
});

test('IPv6 helpers and long-term key', () => {
  const b = new Uint8Array(16);
  assert.ok(writeIPv6('2001:DB8::ffff:1.2.3.4', b, 0));
  assert.equal(formatIPv6(b, 0), '2001:db8::ffff:102:304');
  assert.equal(normalizeIp('FE80:0:0:0:0:0:0:1'), 'fe80::1');
  assert.ok(!writeIPv6('1::2::3', b, 0));
  assert.equal(longTermKey('user', 'realm', 'pass').length, 16);
});
