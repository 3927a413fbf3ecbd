import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import {
  AES_CM_128_HMAC_SHA1_32,
  AES_CM_128_HMAC_SHA1_80,
  deriveSrtpKey,
  HmacSha1,
  LABEL_RTCP_AUTH,
  LABEL_RTP_AUTH,
  NO_ROC,
  SrtpContext,
  SrtpError,
} from '../../../src/media/srtp/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function tagOf(h: HmacSha1, msg: Uint8Array, roc = NO_ROC, tagLen = 20): string {
  const out = Buffer.alloc(tagLen);
  h.sign(msg, 0, msg.length, roc, out, 0, tagLen);
  return out.toString('hex');
}

function reference(key: Uint8Array, msg: Uint8Array, roc = NO_ROC): Buffer {
  const h = createHmac('sha1', key).update(msg);
  if (roc >= 0) {
    const r = Buffer.alloc(4);
    r.writeUInt32BE(roc);
    h.update(r);
  }
  return h.digest();
}

// RFC 2202 §3, all seven HMAC-SHA1 cases (6 and 7 use an 80-byte key: hashed first)
const RFC2202: { key: Buffer; data: Buffer; digest: string }[] = [
  { key: Buffer.alloc(20, 0x0b), data: Buffer.from('Hi There'), digest: 'b617318655057264e28bc0b6fb378c8ef146be00' },
  { key: Buffer.from('Jefe'), data: Buffer.from('what do ya want for nothing?'), digest: 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79' },
  { key: Buffer.alloc(20, 0xaa), data: Buffer.alloc(50, 0xdd), digest: '125d7342b9ac11cd91a39af48aa17b4f63f175d3' },
  {
    key: hex('0102030405060708090a0b0c0d0e0f10111213141516171819'),
    data: Buffer.alloc(50, 0xcd),
    digest: '4c9007f4026250c6bc8414f9bf50c86c2d7235da',
  },
  { key: Buffer.alloc(20, 0x0c), data: Buffer.from('Test With Truncation'), digest: '4c1a03424b55e07fe7f27be1d58bb9324a9a5a04' },
  {
    key: Buffer.alloc(80, 0xaa),
    data: Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'),
    digest: 'aa4ae5e15272d00e95705637ce8a3b55ed402112',
  },
  {
    key: Buffer.alloc(80, 0xaa),
    data: Buffer.from('Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data'),
    digest: 'e8e99d0f45237d786d6bbaa7965c7808bbff1a91',
  },
];

test('RFC 2202 HMAC-SHA1 test cases 1-7', () => {
  for (const [i, v] of RFC2202.entries()) assert.equal(tagOf(new HmacSha1(v.key), v.data), v.digest, `case ${i + 1}`);
  // case 5 also gives the 96-bit truncation
  assert.equal(tagOf(new HmacSha1(RFC2202[4]!.key), RFC2202[4]!.data, NO_ROC, 12), '4c1a03424b55e07fe7f27be1');
});

test('every message length 0..1500 (random keys and data, with and without ROC) matches createHmac', () => {
  let cases = 0;
  for (let len = 0; len <= 1500; len++) {
    const key = randomBytes(len % 7 === 0 ? randomInt(0, 100) : 20);
    const h = new HmacSha1(key);
    // message at a random offset in a bigger buffer: neither end may leak into the MAC
    const off = randomInt(0, 9);
    const buf = randomBytes(off + len + 13);
    const msg = buf.subarray(off, off + len);
    const roc = randomInt(0, 2 ** 32 - 1);
    const out = Buffer.alloc(24, 0xee);
    h.sign(buf, off, len, NO_ROC, out, 2, 20);
    assert.equal(out.subarray(2, 22).toString('hex'), reference(key, msg).toString('hex'), `len ${len}`);
    assert.equal(out[1], 0xee, 'nothing written before outOff');
    assert.equal(out[22], 0xee, 'nothing written after the tag');
    h.sign(buf, off, len, roc, out, 0, 20);
    assert.equal(out.subarray(0, 20).toString('hex'), reference(key, msg, roc).toString('hex'), `len ${len} roc ${roc}`);
    cases += 2;
  }
  // 2000 more random (key, length, ROC) draws, and the boundary ROC values
  for (let i = 0; i < 2000; i++) {
    const key = randomBytes(20);
    const msg = randomBytes(randomInt(0, 1501));
    const roc = i < 4 ? [0, 1, 0x7fffffff, 0xffffffff][i]! : randomInt(0, 2 ** 32 - 1);
    assert.equal(tagOf(new HmacSha1(key), msg, roc), reference(key, msg, roc).toString('hex'));
    cases++;
  }
  assert.equal(cases, 1501 * 2 + 2000);
});

test('truncated tags (4 and 10 bytes) sign and verify; one flipped bit anywhere fails', () => {
  const key = randomBytes(20);
  const h = new HmacSha1(key);
  for (const tagLen of [4, 10]) {
    for (const len of [12, 63, 64, 100, 1100]) {
      const buf = Buffer.concat([randomBytes(len), Buffer.alloc(tagLen)]);
      h.sign(buf, 0, len, 7, buf, len, tagLen);
      assert.equal(buf.subarray(len).toString('hex'), reference(key, buf.subarray(0, len), 7).subarray(0, tagLen).toString('hex'));
      assert.ok(h.verify(buf, 0, len, 7, buf, len, tagLen));
      assert.ok(!h.verify(buf, 0, len, 8, buf, len, tagLen), 'other ROC');
      for (const pos of [0, len >> 1, len - 1, len, len + tagLen - 1]) {
        buf[pos]! ^= 0x01;
        assert.ok(!h.verify(buf, 0, len, 7, buf, len, tagLen), `tag ${tagLen} len ${len} bit flipped at ${pos}`);
        buf[pos]! ^= 0x01;
      }
    }
  }
});

test('instances keep their own keys when interleaved (shared scratch state)', () => {
  const k1 = randomBytes(20);
  const k2 = randomBytes(20);
  const a = new HmacSha1(k1);
  const b = new HmacSha1(k2);
  const m = randomBytes(300);
  for (let i = 0; i < 3; i++) {
    assert.equal(tagOf(a, m, i), reference(k1, m, i).toString('hex'));
    assert.equal(tagOf(b, m, i), reference(k2, m, i).toString('hex'));
  }
});

/** The SRTP/SRTCP tags the context writes, recomputed with node's createHmac from the wire bytes. */
for (const p of [AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32]) {
  test(`${p.name}: SRTP and SRTCP tags equal createHmac over packet || ROC and packet || E|index`, () => {
    const key = randomBytes(16);
    const salt = randomBytes(14);
    const tx = new SrtpContext(p, key, salt);
    const rx = new SrtpContext(p, key, salt);
    const rtpAuthKey = deriveSrtpKey(key, salt, LABEL_RTP_AUTH, 20);
    const rtcpAuthKey = deriveSrtpKey(key, salt, LABEL_RTCP_AUTH, 20);
    const roc = 3;
    tx.setRoc(0xabcdef01, roc, 0xfff0);
    rx.setRoc(0xabcdef01, roc, 0xfff0);
    for (const [k, size] of [0, 1, 51, 52, 1088, 1100, 1400].entries()) {
      const buf = Buffer.alloc(12 + size + 32);
      buf[0] = 0x80;
      buf[1] = 96;
      buf.writeUInt16BE(0xfff1 + k, 2);
      buf.writeUInt32BE(0xabcdef01, 8);
      randomBytes(size).copy(buf, 12);
      const plain = Buffer.from(buf.subarray(0, 12 + size));
      const n = tx.protectRtp(buf, 12 + size);
      assert.equal(n, 12 + size + p.rtpTagLength);
      const wire = Buffer.from(buf.subarray(0, n));
      const end = 12 + size;
      assert.equal(wire.subarray(end).toString('hex'),
        reference(rtpAuthKey, wire.subarray(0, end), roc).subarray(0, p.rtpTagLength).toString('hex'), `RTP size ${size}`);
      assert.equal(rx.unprotectRtp(buf, n), 12 + size);
      assert.deepEqual(buf.subarray(0, 12 + size), plain);
      // a forged tag is refused and leaves the packet untouched
      wire[n - 1]! ^= 0x80;
      const copy = Buffer.from(wire);
      const rx2 = new SrtpContext(p, key, salt);
      rx2.setRoc(0xabcdef01, roc, 0xfff0);
      assert.equal(rx2.unprotectRtp(copy, n), SrtpError.AuthFailed);
      assert.deepEqual(copy, wire);
    }
    for (const size of [8, 28, 52, 60, 61, 500]) {
      const buf = Buffer.alloc(size + 32);
      randomBytes(size).copy(buf);
      buf[0] = 0x81;
      buf[1] = 200;
      buf.writeUInt32BE(0x01020304, 4);
      const plain = Buffer.from(buf.subarray(0, size));
      const n = tx.protectRtcp(buf, size);
      assert.equal(n, size + 4 + p.rtcpTagLength);
      assert.equal(buf.subarray(size + 4, n).toString('hex'),
        reference(rtcpAuthKey, buf.subarray(0, size + 4)).subarray(0, p.rtcpTagLength).toString('hex'), `RTCP size ${size}`);
      const tampered = Buffer.from(buf.subarray(0, n));
      tampered[size + 2]! ^= 1; // in the E|index word: authenticated
      assert.equal(new SrtpContext(p, key, salt).unprotectRtcp(tampered, n), SrtpError.AuthFailed);
      assert.equal(rx.unprotectRtcp(buf, n), size);
      assert.deepEqual(buf.subarray(0, size), plain);
    }
  });
}

test("SrtpContext hmac 'js' and 'node' give identical SRTP/SRTCP packets and accept each other's", () => {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const js = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { hmac: 'js' });
  const node = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { hmac: 'node' });
  const rxNode = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { hmac: 'node' });
  for (let seq = 0; seq < 50; seq++) {
    const a = Buffer.alloc(1200);
    a[0] = 0x80;
    a.writeUInt16BE(seq, 2);
    a.writeUInt32BE(0x5eed, 8);
    randomBytes(1000).copy(a, 12);
    const b = Buffer.from(a);
    const n = js.protectRtp(a, 1012);
    assert.equal(node.protectRtp(b, 1012), n);
    assert.deepEqual(a.subarray(0, n), b.subarray(0, n));
    assert.equal(rxNode.unprotectRtp(a, n), 1012);
    const r = Buffer.alloc(100);
    r[0] = 0x80;
    r[1] = 201;
    r.writeUInt32BE(0x5eed, 4);
    const r2 = Buffer.from(r);
    const m = js.protectRtcp(r, 40);
    assert.equal(node.protectRtcp(r2, 40), m);
    assert.deepEqual(r.subarray(0, m), r2.subarray(0, m));
    assert.equal(rxNode.unprotectRtcp(r, m), 40);
  }
});
