/**
 * STUN (src/media/stun): parseStun returns a message or undefined for any datagram, and every
 * accessor the ICE agent calls on a parsed message answers without throwing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fc, check, boundedHeap, mutated, rawBytes, typedOnly } from './harness.js';
import {
  parseStun, StunBuilder, StunAttr, StunMessageType, verifyFingerprint, verifyMessageIntegrity, isStunPacket,
  type StunMessage,
} from '../../src/media/stun/index.js';

const TYPES = Object.values(StunMessageType);
// MESSAGE-INTEGRITY and FINGERPRINT have fixed sizes and positions; the builder adds the real ones.
const ATTRS = [...Object.values(StunAttr), 0x0000, 0x0003, 0x7fff, 0x8000, 0xffff].filter((t) => t !== StunAttr.MessageIntegrity && t !== StunAttr.Fingerprint);

/** A valid STUN message built from arbitrary attributes (known and unknown, right and wrong sizes). */
const validStun: fc.Arbitrary<Uint8Array> = fc
  .record({
    type: fc.oneof(fc.constantFrom(...TYPES), fc.integer({ min: 0, max: 0x3fff })),
    tid: fc.uint8Array({ minLength: 12, maxLength: 12 }),
    attrs: fc.array(
      fc.oneof(
        fc.record({ t: fc.constantFrom(...ATTRS), v: fc.uint8Array({ maxLength: 40 }) }),
        fc.record({ t: fc.constant(StunAttr.XorMappedAddress as number), v: fc.constantFrom(Buffer.from('0001a1b2e1ba65a3', 'hex'), Buffer.from('0002a1b2' + '00'.repeat(16), 'hex'), Buffer.from('0003', 'hex')) }),
        fc.record({ t: fc.constant(StunAttr.ErrorCode as number), v: fc.uint8Array({ minLength: 0, maxLength: 8 }) }),
      ),
      { maxLength: 8 },
    ),
    username: fc.option(fc.string({ maxLength: 30 })),
    mi: fc.boolean(),
    fp: fc.boolean(),
  })
  .map((r) => {
    const b = new StunBuilder(r.type, r.tid);
    if (r.username !== null) b.username(r.username);
    for (const a of r.attrs) b.add(a.t, a.v);
    return b.build({ ...(r.mi ? { integrityKey: 'pwd' } : {}), fingerprint: r.fp });
  });

/** Everything the agent and the STUN client read from a request or response. */
function readAll(m: StunMessage): void {
  void m.cls;
  void m.method;
  m.transactionKey();
  m.getUsername();
  m.getSoftware();
  m.getRealm();
  m.getNonce();
  m.getPriority();
  m.getIceControlling();
  m.getIceControlled();
  m.getNomination();
  m.hasUseCandidate();
  m.getXorMappedAddress();
  m.getMappedAddress();
  m.getErrorCode();
  m.getUnknownAttributes();
  m.unknownComprehensionRequired();
  verifyFingerprint(m);
  verifyMessageIntegrity(m, 'pwd');
}

function parseAndRead(buf: Buffer): void {
  const m = typedOnly(() => parseStun(buf), []);
  if (m === undefined) return;
  assert.equal(isStunPacket(buf), true);
  typedOnly(() => readAll(m), []);
  const x = m.getXorMappedAddress();
  if (x) assert.ok(x.port >= 0 && x.port <= 0xffff && (x.family === 4 || x.family === 6));
}

test('STUN: valid messages parse and read back', () => {
  check('stun valid', [validStun], (v) => {
    const m = parseStun(Buffer.from(v));
    assert.ok(m, 'a built message parses');
    readAll(m);
  }, 300);
});

test('STUN: mutated messages parse to a message or undefined, accessors never throw', async () => {
  await boundedHeap(8 << 20, () => {
    check('stun mutated', [mutated(validStun, 5)], parseAndRead, 3000);
  });
});

test('STUN: raw bytes with a STUN header prefix', () => {
  // Random bytes almost never pass isStunPacket; give them a consistent header so the attribute walk runs.
  const headed = fc.tuple(fc.integer({ min: 0, max: 0x3fff }), fc.uint8Array({ maxLength: 200 })).map(([t, body]) => {
    const len = body.length & ~3;
    const b = Buffer.alloc(20 + len);
    b.writeUInt16BE(t, 0);
    b.writeUInt16BE(len, 2);
    b.writeUInt32BE(0x2112a442, 4);
    b.set(body.subarray(0, len), 20);
    return b;
  });
  check('stun headed', [headed], parseAndRead, 2000);
  check('stun raw', [rawBytes(120)], parseAndRead, 1000);
});
