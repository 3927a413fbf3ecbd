/**
 * Our AES-128-GCM (src/media/dtls/gcm.ts) against NIST's test vectors and Node's own GCM, both engines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes, randomInt } from 'node:crypto';
import { GcmKey, Ghash, GCM_JS_MAX_BYTES, SEAL_BATCH, SealKeystream, type GcmEngine } from '../../../src/media/dtls/gcm.js';

function nodeSeal(key: Buffer, iv: Buffer, aad: Buffer, pt: Buffer): Buffer {
  const c = createCipheriv('aes-128-gcm', key, iv, { authTagLength: 16 });
  c.setAAD(aad);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

function ourSeal(k: GcmKey, iv: Buffer, aad: Buffer, pt: Buffer): Buffer {
  const buf = Buffer.alloc(pt.length + 16);
  pt.copy(buf);
  k.sealInPlace(iv, aad, 0, aad.length, buf, 0, pt.length);
  return buf;
}

const engines: GcmEngine[] = ['js', 'native', 'auto'];

test('NIST GCM test cases 1 and 2 (zero key and IV)', () => {
  const key = Buffer.alloc(16);
  const iv = Buffer.alloc(12);
  for (const e of engines) {
    const k = new GcmKey(key, e);
    assert.equal(ourSeal(k, iv, Buffer.alloc(0), Buffer.alloc(0)).toString('hex'), '58e2fccefa7e3061367f1d57a4e7455a', e);
    assert.equal(ourSeal(k, iv, Buffer.alloc(0), Buffer.alloc(16)).toString('hex'),
      '0388dace60b6a392f328c2b971b2fe78' + 'ab6e47d42cec13bdf53a67b21257bddf', e);
  }
});

test('NIST GCM test case 4 (60-byte plaintext, 20-byte AAD)', () => {
  const key = Buffer.from('feffe9928665731c6d6a8f9467308308', 'hex');
  const iv = Buffer.from('cafebabefacedbaddecaf888', 'hex');
  const pt = Buffer.from('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39', 'hex');
  const aad = Buffer.from('feedfacedeadbeeffeedfacedeadbeefabaddad2', 'hex');
  const ct = '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091';
  const tag = '5bc94fbc3221a5db94fae95ae7121a47';
  for (const e of engines) assert.equal(ourSeal(new GcmKey(key, e), iv, aad, pt).toString('hex'), ct + tag, e);
});

test('every length 0..1500 and random draws match Node, and open inverts seal', () => {
  const key = randomBytes(16);
  const ks = engines.map((e) => new GcmKey(key, e));
  const check = (len: number, aadLen: number): void => {
    const iv = randomBytes(12);
    const aad = randomBytes(aadLen);
    const pt = randomBytes(len);
    const want = nodeSeal(key, iv, aad, pt);
    for (const k of ks) {
      const got = ourSeal(k, iv, aad, pt);
      assert.ok(got.equals(want), `${k.engine} len ${len} aad ${aadLen}`);
      assert.ok(k.openInPlace(iv, aad, 0, aad.length, got, 0, len), `${k.engine} open len ${len}`);
      assert.ok(got.subarray(0, len).equals(pt));
    }
  };
  for (let len = 0; len <= 1500; len++) check(len, 13);
  for (let i = 0; i < 300; i++) check(randomInt(0, 17_000), randomInt(0, 40));
});

test('a flipped bit anywhere (ciphertext, tag, AAD, nonce) fails open and leaves the buffer as it was', () => {
  const key = randomBytes(16);
  for (const e of engines) {
    const k = new GcmKey(key, e);
    for (const len of [0, 1, 15, 16, 17, 200, 1200, 3000]) {
      const iv = randomBytes(12);
      const aad = randomBytes(13);
      const sealed = ourSeal(k, iv, aad, randomBytes(len));
      for (let trial = 0; trial < 24; trial++) {
        const buf = Buffer.from(sealed);
        const a = Buffer.from(aad);
        const n = Buffer.from(iv);
        const where = trial % 3;
        if (where === 0) { const i = randomInt(buf.length); buf[i]! ^= 1 << randomInt(8); }
        else if (where === 1) { const i = randomInt(a.length); a[i]! ^= 1 << randomInt(8); }
        else { const i = randomInt(12); n[i]! ^= 1 << randomInt(8); }
        const before = Buffer.from(buf);
        assert.equal(k.openInPlace(n, a, 0, a.length, buf, 0, len), false, `${e} len ${len} trial ${trial}`);
        assert.ok(buf.equals(before), 'untouched on failure');
      }
    }
  }
});

test('GHASH is linear: H(a) ^ H(b) = H(a ^ b) for single blocks', () => {
  const h = randomBytes(16);
  const g = new Ghash(h);
  const out = (x: Buffer): Buffer => {
    g.reset();
    g.update(x, 0, 16);
    const o = Buffer.alloc(16);
    g.finishInto(Buffer.alloc(16), 0, o, 0);
    return o;
  };
  for (let i = 0; i < 50; i++) {
    const a = randomBytes(16);
    const b = randomBytes(16);
    const x = Buffer.alloc(16);
    for (let j = 0; j < 16; j++) x[j] = a[j]! ^ b[j]!;
    const ha = out(a);
    const hb = out(b);
    const hx = out(x);
    for (let j = 0; j < 16; j++) assert.equal(ha[j]! ^ hb[j]!, hx[j]!);
  }
});

test('sealing from keystream made ahead (sealInPlaceSeq) gives Node\'s bytes for every record, whatever the sequence and lengths', () => {
  const key = randomBytes(16);
  const prefix = randomBytes(4);
  const k = new GcmKey(key, 'auto');
  const batch = new SealKeystream();
  const nonceOf = (epoch: number, seq: number): Buffer => {
    const n = Buffer.alloc(12);
    prefix.copy(n, 0);
    n.writeUInt16BE(epoch, 4);
    n.writeUIntBE(seq, 6, 6);
    return n;
  };
  // consecutive records (the usual case), lengths that grow past the batch's slot, a jump forward,
  // one back, sequence numbers above 2^32, and lengths the JS engine does not take (refused)
  const seqs: Array<[number, number]> = [];
  for (let s = 1; s <= 3 * SEAL_BATCH + 3; s++) seqs.push([s, s < 10 ? 200 : randomInt(0, GCM_JS_MAX_BYTES + 1)]);
  seqs.push([1000, 16], [1001, 17], [999, 300], [2 ** 40 + 5, 100], [2 ** 40 + 6, 384], [2 ** 48 - 2, 31], [2 ** 48 - 1, 0]);
  let batched = 0;
  for (const [seq, len] of seqs) {
    const epoch = seq % 3;
    const aad = randomBytes(13);
    const pt = randomBytes(len);
    const buf = Buffer.alloc(len + 16);
    pt.copy(buf);
    assert.ok(k.sealInPlaceSeq(batch, prefix, epoch, seq, aad, 0, 13, buf, 0, len), `seq ${seq} len ${len}`);
    assert.ok(buf.equals(nodeSeal(key, nonceOf(epoch, seq), aad, pt)), `seq ${seq} len ${len} epoch ${epoch}`);
    batched++;
  }
  assert.equal(batched, seqs.length);
  const big = Buffer.alloc(GCM_JS_MAX_BYTES + 1 + 16);
  assert.equal(k.sealInPlaceSeq(batch, prefix, 1, 7, Buffer.alloc(13), 0, 13, big, 0, GCM_JS_MAX_BYTES + 1), false, 'long records go to the native engine');
  assert.equal(new GcmKey(key, 'native').sealInPlaceSeq(new SealKeystream(), prefix, 1, 7, Buffer.alloc(13), 0, 13, big, 0, 10), false);
});
