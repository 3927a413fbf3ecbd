/**
 * The protected-record layer (src/media/dtls/record-protection.ts) and the connected endpoint's
 * application-data path: mutated records and garbage never throw, never open (no forgery), never
 * deliver anything but what was really sent, and never end the association.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fc, check, checkAsync, boundedHeap, mutated, noStrayErrors, rawBytes, typedOnly } from './harness.js';
import { PROTECTED_RECORD_OVERHEAD, RecordProtection, deriveRecordKeys } from '../../src/media/dtls/record-protection.js';
import { CT_ALERT, CT_APPLICATION_DATA, CT_HANDSHAKE } from '../../src/media/dtls/record.js';
import { connectPair } from '../media/dtls/pair.js';

const keys = deriveRecordKeys(randomBytes(48), randomBytes(32), randomBytes(32));

/** One to four sealed records back to back, with the plaintexts. */
function sealedDatagram(tx: RecordProtection, seqBase: () => number): fc.Arbitrary<{ d: Buffer; pts: Buffer[] }> {
  return fc.array(fc.record({ ct: fc.constantFrom(CT_APPLICATION_DATA, CT_APPLICATION_DATA, CT_ALERT, CT_HANDSHAKE), pt: fc.uint8Array({ maxLength: 300 }) }),
    { minLength: 1, maxLength: 4 }).map((rs) => {
    const out = Buffer.alloc(rs.reduce((n, r) => n + r.pt.length + PROTECTED_RECORD_OVERHEAD, 0));
    let off = 0;
    for (const r of rs) off += tx.seal(r.ct, seqBase(), r.pt, 0, r.pt.length, out, off);
    return { d: out, pts: rs.map((r) => Buffer.from(r.pt)) };
  });
}

test('RecordProtection.open: mutated records never throw and never authenticate', async () => {
  let seq = 0;
  const tx = new RecordProtection(keys, 'client', 1);
  const arb = fc.oneof(
    sealedDatagram(tx, () => seq++).chain(({ d }) => mutated(fc.constant(new Uint8Array(d)), 4).map((m) => ({ orig: d, m }))),
    rawBytes(200).map((m) => ({ orig: Buffer.alloc(0), m })),
  );
  await boundedHeap(8 << 20, () => {
    check('dtls record open', [arb, fc.nat(), fc.nat()], ({ orig, m }, a, b) => {
      const rx = new RecordProtection(keys, 'server', 1, { engine: (a & 1) === 0 ? 'js' : 'native' });
      const off = m.length === 0 ? 0 : a % m.length;
      const len = m.length - off === 0 ? 0 : b % (m.length - off + 1);
      const copy = Buffer.from(m);
      const r = typedOnly(() => rx.open(copy, off, len), []);
      assert.equal(typeof r, 'number');
      if (r! >= 0) {
        // only a record exactly as sealed opens: the bytes it covers appear unmodified in the original
        const rec = m.subarray(off, off + len);
        assert.ok(orig.indexOf(rec) >= 0, 'an authenticated record is a genuine one');
      }
      // out-of-range offsets and lengths are refused, not thrown
      assert.ok(rx.open(copy, m.length + 1, 30) < 0);
      assert.ok(rx.open(copy, 0, m.length + 1) < 0);
    }, 400);
  });
});

test('connected endpoint: mutated, replayed and injected application data never throw or forge', async () => {
  const p = await connectPair();
  const sentTexts = new Set<string>();
  // genuine datagrams from the client, not delivered yet
  const genuine: Buffer[] = [];
  for (let i = 0; i < 30; i++) {
    const n = 1 + (i % 4);
    for (let k = 0; k < n; k++) {
      const t = `m${i}.${k}.${'x'.repeat((i * 37 + k * 11) % 400)}`;
      sentTexts.add(t);
      p.client.ep.queue(Buffer.from(t));
    }
    p.client.ep.flush();
    genuine.push(Buffer.from(p.client.sent.at(-1)!));
  }
  const arb = fc.array(fc.oneof(
    fc.nat().map((i) => genuine[i % genuine.length]!),
    mutated(fc.nat().map((i) => new Uint8Array(genuine[i % genuine.length]!)), 3),
    rawBytes(120).map((b) => { if (b.length) b[0] = 20 + (b[0]! % 4); return b; }),
  ), { minLength: 1, maxLength: 12 });
  await noStrayErrors(async () => {
    await checkAsync('dtls connected app data', [arb], async (ds) => {
      for (const d of ds) p.server.ep.handleDatagram(Buffer.from(d), p.now);
      assert.equal(p.server.ep.state, 'connected', 'nothing an attacker can send without the keys ends it');
      for (const r of p.server.received) assert.ok(sentTexts.has(r.toString()), 'delivered only what was sent');
    }, 120);
  });
  // every genuine message was delivered at most once
  const seen = p.server.received.map(String);
  assert.equal(new Set(seen).size, seen.length, 'no message delivered twice (replay window)');
  assert.ok(seen.length > 0);
});
