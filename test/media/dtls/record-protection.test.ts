/**
 * Our protected-record layer (src/media/dtls/record-protection.ts) against werift-dtls's own record
 * cipher for the same keys, plus tampering, replay and epochs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { createCipher } from 'werift-dtls/lib/dtls/src/cipher/create.js';
import { SessionType } from 'werift-dtls/lib/dtls/src/cipher/suites/abstract.js';
import {
  OPEN_AUTH_FAILED, OPEN_MALFORMED, OPEN_REPLAY, OPEN_WRONG_EPOCH, PROTECTED_RECORD_OVERHEAD, RecordProtection,
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, deriveRecordKeys, type RecordKeys,
} from '../../../src/media/dtls/record-protection.js';
import { CT_APPLICATION_DATA, parseRecords } from '../../../src/media/dtls/record.js';
import type { GcmEngine } from '../../../src/media/dtls/gcm.js';

const engines: GcmEngine[] = ['js', 'native', 'auto'];

function material(): { ms: Buffer; cr: Buffer; sr: Buffer; keys: RecordKeys } {
  const ms = randomBytes(48);
  const cr = randomBytes(32);
  const sr = randomBytes(32);
  return { ms, cr, sr, keys: deriveRecordKeys(ms, cr, sr) };
}

function werift(ms: Buffer, cr: Buffer, sr: Buffer) {
  const c = createCipher(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
  c.init(ms, sr, cr);
  return c;
}

function seal(rp: RecordProtection, seq: number, pt: Buffer, ct = CT_APPLICATION_DATA): Buffer {
  const out = Buffer.alloc(pt.length + PROTECTED_RECORD_OVERHEAD);
  assert.equal(rp.seal(ct, seq, pt, 0, pt.length, out, 0), out.length);
  return out;
}

test('key block: the same keys and implicit nonces as werift derives', () => {
  const { ms, cr, sr, keys } = material();
  const w = werift(ms, cr, sr);
  assert.ok(keys.clientWriteKey.equals(w.clientWriteKey!));
  assert.ok(keys.serverWriteKey.equals(w.serverWriteKey!));
  assert.ok(keys.clientWriteIv.equals(w.clientNonce!.subarray(0, 4)));
  assert.ok(keys.serverWriteIv.equals(w.serverNonce!.subarray(0, 4)));
});

test('our records are byte for byte werift\'s, and each side opens the other\'s', () => {
  const { ms, cr, sr, keys } = material();
  const w = werift(ms, cr, sr);
  for (const e of engines) {
    const client = new RecordProtection(keys, 'client', 1, { engine: e });
    const server = new RecordProtection(keys, 'server', 1, { engine: e });
    for (let i = 0; i < 200; i++) {
      const len = i < 100 ? randomInt(0, 1300) : randomInt(0, 16_385);
      const pt = randomBytes(len);
      const seq = i * 7 + randomInt(7) + (i === 199 ? 2 ** 40 : 0);
      const header = { type: CT_APPLICATION_DATA, version: 0xfefd, epoch: 1, sequenceNumber: seq };
      // client -> server
      const rec = seal(client, seq, pt);
      const parsed = parseRecords(rec);
      assert.ok(parsed.ok && parsed.records.length === 1);
      assert.equal(parsed.records[0]!.seq, seq);
      assert.ok(rec.subarray(13).equals(w.encrypt(SessionType.CLIENT, pt, header)), `${e}: same bytes as werift, len ${len}`);
      assert.ok(w.decrypt(SessionType.SERVER, rec.subarray(13), header).equals(pt), 'werift opens ours');
      assert.equal(server.open(rec, 0, rec.length), len);
      assert.ok(rec.subarray(21, 21 + len).equals(pt), 'opened in place');
      // server -> client, from werift's record
      const theirs = Buffer.concat([rec.subarray(0, 13), w.encrypt(SessionType.SERVER, pt, header)]);
      assert.equal(client.open(theirs, 0, theirs.length), len);
      assert.ok(theirs.subarray(21, 21 + len).equals(pt));
    }
  }
});

test('tampered records fail authentication and are not delivered; the replay window does not move', () => {
  const { keys } = material();
  for (const e of engines) {
    const client = new RecordProtection(keys, 'client', 1, { engine: e });
    const server = new RecordProtection(keys, 'server', 1, { engine: e });
    for (let i = 0; i < 60; i++) {
      const pt = randomBytes(randomInt(1, 1500));
      const rec = seal(client, 100 + i, pt);
      const bad = Buffer.from(rec);
      // anywhere but the length field (that is "malformed", tested below); header bytes are in the AAD
      let at = randomInt(bad.length - 2);
      if (at >= 11) at += 2;
      bad[at]! ^= 1 << randomInt(8);
      const r = server.open(bad, 0, bad.length);
      assert.ok(r === OPEN_AUTH_FAILED || r === OPEN_WRONG_EPOCH || r === OPEN_MALFORMED || r === OPEN_REPLAY, `${e}: ${r}`);
      // the genuine record still opens (the failed one did not mark its sequence number as seen)
      assert.equal(server.open(rec, 0, rec.length), pt.length);
    }
    assert.ok(server.stats.authFailed > 0);
  }
});

test('malformed: short, length field disagreeing, out of range', () => {
  const { keys } = material();
  const client = new RecordProtection(keys, 'client', 1);
  const server = new RecordProtection(keys, 'server', 1);
  const rec = seal(client, 1, randomBytes(10));
  assert.equal(server.open(rec, 0, 20), OPEN_MALFORMED);
  assert.equal(server.open(rec, 0, rec.length - 1), OPEN_MALFORMED);
  assert.equal(server.open(rec, 5, rec.length), OPEN_MALFORMED);
  assert.equal(server.open(Buffer.alloc(0), 0, 0), OPEN_MALFORMED);
  const wrongLen = Buffer.from(rec);
  wrongLen.writeUInt16BE(wrongLen.readUInt16BE(11) + 1, 11);
  assert.equal(server.open(wrongLen, 0, wrongLen.length), OPEN_MALFORMED);
  // seal refuses what it cannot represent
  const out = Buffer.alloc(20_000);
  assert.equal(client.seal(CT_APPLICATION_DATA, 2 ** 48, Buffer.alloc(1), 0, 1, out, 0), -1);
  assert.equal(client.seal(CT_APPLICATION_DATA, 3, Buffer.alloc(16_385), 0, 16_385, out, 0), -1);
  assert.equal(server.open(rec, 0, rec.length), 10, 'the real one still opens');
});

test('replay: a record opens once; reordering within the window is fine, older than it is refused', () => {
  const { keys } = material();
  const client = new RecordProtection(keys, 'client', 1);
  const server = new RecordProtection(keys, 'server', 1);
  const recs = new Map<number, Buffer>();
  for (const s of [0, 1, 2, 3, 10, 70, 71, 200]) recs.set(s, seal(client, s, Buffer.from(`r${s}`)));
  const open = (s: number): number => { const b = Buffer.from(recs.get(s)!); return server.open(b, 0, b.length); };
  assert.equal(open(3), 2);
  assert.equal(open(3), OPEN_REPLAY);
  assert.equal(open(1), 2, 'older but inside the window');
  assert.equal(open(1), OPEN_REPLAY);
  assert.equal(open(70), 3);
  assert.equal(open(10), 3, '60 behind the top: inside a 64 window');
  assert.equal(open(2), OPEN_REPLAY, '68 behind the top: outside the window');
  assert.equal(open(0), OPEN_REPLAY);
  assert.equal(open(200), 4);
  assert.equal(open(71), OPEN_REPLAY);
  assert.equal(server.stats.replayed, 5);
});

test('epochs: a layer opens only its own epoch; the next epoch\'s keys open the next epoch\'s records', () => {
  const a = material();
  const b = material();
  const c1 = new RecordProtection(a.keys, 'client', 1);
  const s1 = new RecordProtection(a.keys, 'server', 1);
  const c2 = new RecordProtection(b.keys, 'client', 2);
  const s2 = new RecordProtection(b.keys, 'server', 2);
  const r1 = seal(c1, 5, Buffer.from('one'));
  const r2 = seal(c2, 0, Buffer.from('two'));
  assert.equal(r2.readUInt16BE(3), 2);
  assert.equal(s2.open(Buffer.from(r1), 0, r1.length), OPEN_WRONG_EPOCH);
  assert.equal(s1.open(Buffer.from(r2), 0, r2.length), OPEN_WRONG_EPOCH);
  // epoch 2's keys on an epoch-1 header (relabelled): the epoch is authenticated data
  const relabelled = Buffer.from(r1);
  relabelled.writeUInt16BE(2, 3);
  assert.equal(s2.open(relabelled, 0, relabelled.length), OPEN_AUTH_FAILED);
  assert.equal(s1.open(r1, 0, r1.length), 3);
  assert.equal(s2.open(r2, 0, r2.length), 3);
  assert.equal(r2.subarray(21, 24).toString(), 'two');
});

test('records several to a buffer, opened at their offsets', () => {
  const { keys } = material();
  const client = new RecordProtection(keys, 'client', 1);
  const server = new RecordProtection(keys, 'server', 1);
  const out = Buffer.alloc(1200);
  let off = 0;
  const msgs = ['a', 'bb', 'a longer one', ''];
  msgs.forEach((m, i) => { off += client.seal(CT_APPLICATION_DATA, i + 1, Buffer.from(m), 0, m.length, out, off); });
  const dg = out.subarray(0, off);
  const { records, ok } = parseRecords(dg);
  assert.ok(ok);
  assert.equal(records.length, 4);
  let o = 0;
  for (let i = 0; i < records.length; i++) {
    const len = records[i]!.raw.length;
    assert.equal(server.open(dg, o, len), msgs[i]!.length);
    assert.equal(dg.subarray(o + 21, o + 21 + msgs[i]!.length).toString(), msgs[i]);
    o += len;
  }
});

test('an epoch that protects no record (or only the handshake\'s) holds no GHASH tables and pins no pool slab; the next record builds them and seals correctly', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const arrayBuffers = () => {
    gc();
    gc();
    return process.memoryUsage().arrayBuffers;
  };
  const { keys } = material();
  const N = 60;
  const keep: RecordProtection[] = [];
  const garbage: string[] = [];
  const before = arrayBuffers();
  for (let i = 0; i < N; i++) {
    const rp = new RecordProtection(keys, i % 2 ? 'client' : 'server', 1, { engine: 'js' });
    // Half of them protected a record (the handshake's Finished) and were released after it, as
    // DtlsEndpoint does once connected.
    if (i % 4 < 2) {
      seal(rp, 0, Buffer.alloc(12));
      rp.releaseTables();
    }
    keep.push(rp);
    // Other small Buffers from Node's shared pool meanwhile (packets, strings): their slabs must die.
    for (let k = 0; k < 4; k++) garbage.push(Buffer.from('x'.repeat(3000)).toString('latin1', 0, 1));
  }
  const per = (arrayBuffers() - before) / N;
  // Before: two 4 kB GHASH tables per epoch, and the IV copies pinned up to two 8 kB pool slabs.
  assert.ok(per < 2048, `${Math.round(per)} bytes per RecordProtection`);
  assert.equal(garbage.length, 4 * N);
  // Lazily built tables seal and open as before (the werift comparisons above use them too).
  const { keys: k2 } = material();
  const client = new RecordProtection(k2, 'client', 1, { engine: 'js' });
  const server = new RecordProtection(k2, 'server', 1, { engine: 'js' });
  const first = seal(client, 4, Buffer.alloc(12));
  assert.equal(server.open(first, 0, first.length), 12);
  client.releaseTables();
  server.releaseTables();
  const pt = randomBytes(100);
  const rec = seal(client, 5, pt);
  const copy = Buffer.from(rec);
  const n = server.open(copy, 0, copy.length);
  assert.equal(n, pt.length);
  assert.ok(copy.subarray(21, 21 + n).equals(pt));
});
