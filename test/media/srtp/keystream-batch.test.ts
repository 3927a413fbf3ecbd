import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { AES_CM_128_HMAC_SHA1_80, BATCH, MAX_SLOT, SrtpContext } from '../../../src/media/srtp/index.js';

/**
 * protectRtp with and without keystream batches must give the same bytes for any send pattern, and
 * unprotectRtp (batched by default since the receive side batches too, and unbatched) must give back
 * the plain packet: in order, with gaps, with older indices (retransmissions, reordering).
 */
function compare(sends: { ssrc: number; seq: number; payload: number; at?: number }[]): number {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const batched = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { keystreamBatch: true });
  const plain = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { keystreamBatch: false });
  const rx = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { disableReplayCheck: true });
  const rxPlain = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { disableReplayCheck: true, keystreamBatch: false });
  let checked = 0;
  for (const [i, p] of sends.entries()) {
    const at = p.at ?? 0;
    const a = Buffer.alloc(at + 12 + p.payload + 16);
    a[at] = 0x80;
    a[at + 1] = 96;
    a.writeUInt16BE(p.seq & 0xffff, at + 2);
    a.writeUInt32BE(p.ssrc >>> 0, at + 8);
    randomBytes(p.payload).copy(a, at + 12);
    const b = Buffer.from(a);
    const clear = Buffer.from(a.subarray(at, at + 12 + p.payload));
    const va = a.subarray(at);
    const vb = b.subarray(at);
    const n = batched.protectRtp(va, 12 + p.payload);
    assert.equal(plain.protectRtp(vb, 12 + p.payload), n);
    assert.equal(va.subarray(0, n).toString('hex'), vb.subarray(0, n).toString('hex'), `send #${i} ${JSON.stringify(p)}`);
    for (const r of [rx, rxPlain]) {
      r.setRoc(p.ssrc, batched.getRoc(p.ssrc));
      // at an odd offset too: the receive side XORs into whatever buffer the socket gave
      const copy = Buffer.alloc(n + (at ^ 1));
      va.copy(copy, at ^ 1, 0, n);
      const view = copy.subarray(at ^ 1);
      assert.equal(r.unprotectRtp(view, n), 12 + p.payload, `send #${i} unprotects`);
      assert.equal(view.subarray(0, 12 + p.payload).toString('hex'), clear.toString('hex'), `send #${i} decrypts (${r === rx ? 'batched' : 'unbatched'})`);
    }
    checked++;
  }
  return checked;
}

test('keystream batches: in-order video and audio streams interleaved, odd buffer offsets', () => {
  const sends = [];
  for (let k = 0; k < 5 * BATCH; k++) {
    sends.push({ ssrc: 0x1111, seq: 100 + k, payload: 1000 + (k % 7) * 13, at: k % 3 });
    sends.push({ ssrc: 0x2222, seq: 5000 + k, payload: 80 + (k % 5) });
  }
  assert.equal(compare(sends), 10 * BATCH);
});

test('keystream batches: gaps, retransmissions of older indices, growing packets, over MAX_SLOT, empty payload', () => {
  const seqs = [10, 11, 20, 12, 13, 14, 9, 30, 31, 31, 32, 40];
  const sends = seqs.map((seq, k) => ({ ssrc: 7, seq, payload: [0, 15, 16, 17, 200, 1200, MAX_SLOT - 12, MAX_SLOT, 1500, 20, 1400, 3][k]! }));
  assert.equal(compare(sends), seqs.length);
});

test('keystream batches: across the ROC wrap (seq 65530 -> 10) and random patterns', () => {
  const sends = [];
  for (let seq = 65530; seq < 65536 + 10; seq++) sends.push({ ssrc: 0xdeadbeef, seq, payload: 300 });
  assert.equal(compare(sends), sends.length);
  const rnd = [];
  let seq = randomInt(0, 65536);
  for (let k = 0; k < 300; k++) {
    seq += randomInt(-2, 12);
    rnd.push({ ssrc: [1, 2, 3][k % 3]!, seq: seq & 0xffff, payload: randomInt(0, 1600), at: randomInt(0, 4) });
  }
  assert.equal(compare(rnd), 300);
});

test('keystream batches follow the stream rate: a 30 packets/s stream holds a few packets of keystream, a fast one 8; same bytes either way', async () => {
  const { AesCmXor } = await import('../../../src/media/srtp/aes-cm.js');
  const { batchXor, KeystreamBatch, MIN_BATCH } = await import('../../../src/media/srtp/keystream-batch.js');
  const x = new AesCmXor(randomBytes(16), 'ecb');
  const salt = randomBytes(14);
  const slow = new KeystreamBatch();
  const fast = new KeystreamBatch();
  const buf = Buffer.alloc(1100);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // 24 packets 33 ms apart (30/s), and between them bursts of a fast stream (~8 packets per ms).
  for (let i = 0; i < 24; i++) {
    assert.ok(batchXor(slow, x, salt, 0x1111, 1000 + i, buf, 12, 1100));
    for (let j = 0; j < 8; j++) assert.ok(batchXor(fast, x, salt, 0x2222, 5000 + i * 8 + j, buf, 12, 1100));
    await sleep(33);
  }
  assert.ok(slow.count >= MIN_BATCH && slow.count <= 4, `slow stream batch ${slow.count}`);
  assert.ok(slow.ks!.length <= 4 * 1104, `slow stream holds ${slow.ks!.length} bytes`);
  assert.equal(fast.count, BATCH);
  // Whatever the batch size, the bytes are those of the unbatched protect: a 30 packets/s stream.
  const key = randomBytes(16);
  const salt2 = randomBytes(14);
  const batched = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt2, { keystreamBatch: true });
  const plain = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt2, { keystreamBatch: false });
  for (let i = 0; i < 16; i++) {
    const a = Buffer.alloc(12 + 1000 + 16);
    a[0] = 0x80;
    a[1] = 96;
    a.writeUInt16BE(100 + i, 2);
    a.writeUInt32BE(7, 8);
    randomBytes(1000).copy(a, 12);
    const b = Buffer.from(a);
    const n = batched.protectRtp(a, 1012);
    assert.equal(plain.protectRtp(b, 1012), n);
    assert.equal(a.toString('hex'), b.toString('hex'), `packet ${i}`);
    await sleep(33);
  }
});

test('receive-side keystream batches: a stream received in order, with loss and reordering, decrypts as unbatched; forged packets make no batch', () => {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const tx = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt);
  const rxBatched = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt);
  const rxPlain = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { keystreamBatch: false });
  const packets: { clear: Buffer; wire: Buffer }[] = [];
  for (let k = 0; k < 6 * BATCH; k++) {
    const a = Buffer.alloc(12 + 900 + 16);
    a[0] = 0x80;
    a[1] = 96;
    a.writeUInt16BE((65500 + k) & 0xffff, 2);
    a.writeUInt32BE(0x5151, 8);
    randomBytes(900).copy(a, 12);
    const clear = Buffer.from(a.subarray(0, 912));
    const n = tx.protectRtp(a, 912);
    packets.push({ clear, wire: Buffer.from(a.subarray(0, n)) });
  }
  // Received: every third packet of the second batch lost, two pairs swapped, one far-late arrival.
  const order: number[] = [];
  for (let k = 0; k < packets.length; k++) if (!(k >= BATCH && k < 2 * BATCH && k % 3 === 0)) order.push(k);
  [order[3], order[4]] = [order[4]!, order[3]!];
  [order[20], order[21]] = [order[21]!, order[20]!];
  const late = BATCH + 3 - (BATCH % 3); // lost above (k % 3 === 0), arrives last: older than every batch made since
  assert.ok(!order.includes(late));
  order.push(late);
  // A forged packet of a new SSRC fails authentication and leaves no state behind.
  const forged = Buffer.from(packets[0]!.wire);
  forged.writeUInt32BE(0x9999, 8);
  assert.ok(rxBatched.unprotectRtp(forged, forged.length) < 0);
  assert.equal(rxBatched.ssrcCount, 0);
  for (const k of order) {
    const p = packets[k]!;
    for (const rx of [rxBatched, rxPlain]) {
      const b = Buffer.from(p.wire);
      assert.equal(rx.unprotectRtp(b, b.length), 912, `packet ${k}`);
      assert.ok(b.subarray(0, 912).equals(p.clear), `packet ${k} decrypts (${rx === rxBatched ? 'batched' : 'unbatched'})`);
    }
  }
  // A replay is still refused after the batch made its keystream.
  const again = Buffer.from(packets[5]!.wire);
  assert.ok(rxBatched.unprotectRtp(again, again.length) < 0);
});
