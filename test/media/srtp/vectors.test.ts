import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AesCmXor,
  AEAD_AES_128_GCM,
  aesCmKeystream,
  deriveSrtpKey,
  deriveSrtpSessionKeys,
  LABEL_RTP_AUTH,
  LABEL_RTP_ENCRYPTION,
  LABEL_RTP_SALT,
  SrtpContext,
  SrtpError,
} from '../../../src/media/srtp/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 3711 appendix B.2
const B2_KEY = hex('2B7E151628AED2A6ABF7158809CF4F3C');
const B2_IV = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');

test('RFC 3711 B.2: AES-CM keystream blocks 0..2 and 0xfeff..0xff01', () => {
  const ks = aesCmKeystream(B2_KEY, B2_IV, 0xff02 * 16);
  assert.equal(ks.subarray(0, 48).toString('hex').toUpperCase(),
    'E03EAD0935C95E80E166B16DD92B4EB4' + 'D23513162B02D0F72A43A2FE4A5F97AB' + '41E95B3BB0A2E8DD477901E4FCA894C0');
  assert.equal(ks.subarray(0xfeff * 16, 0xff02 * 16).toString('hex').toUpperCase(),
    'EC8CDF7398607CB0F2D21675EA9EA1E4' + '362B7C3C6773516318A077D7FC5073AE' + '6A2CC3787889374FBEB4C81B17BA6C44');
});

for (const engine of ['ecb', 'ctr'] as const) {
  test(`RFC 3711 B.2: packet-path AES-CM XOR (${engine} engine) gives the same keystream`, () => {
    const x = new AesCmXor(B2_KEY, engine);
    const buf = Buffer.alloc(0xff02 * 16 + 5);
    x.xor(B2_IV, buf, 5, buf.length);
    assert.equal(buf.subarray(5, 5 + 16).toString('hex').toUpperCase(), 'E03EAD0935C95E80E166B16DD92B4EB4');
    assert.equal(buf.subarray(5 + 0xff01 * 16, 5 + 0xff02 * 16).toString('hex').toUpperCase(), '6A2CC3787889374FBEB4C81B17BA6C44');
    // odd length: partial last block
    const small = Buffer.alloc(21);
    x.xor(B2_IV, small, 0, 21);
    assert.equal(small.toString('hex').toUpperCase(), 'E03EAD0935C95E80E166B16DD92B4EB4D23513162B');
  });
}

// RFC 3711 appendix B.3
const B3_MASTER_KEY = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
const B3_MASTER_SALT = hex('0EC675AD498AFEEBB6960B3AABE6');

test('RFC 3711 B.3: key derivation of cipher key, salt and auth key', () => {
  assert.equal(deriveSrtpKey(B3_MASTER_KEY, B3_MASTER_SALT, LABEL_RTP_ENCRYPTION, 16).toString('hex').toUpperCase(),
    'C61E7A93744F39EE10734AFE3FF7A087');
  assert.equal(deriveSrtpKey(B3_MASTER_KEY, B3_MASTER_SALT, LABEL_RTP_SALT, 14).toString('hex').toUpperCase(),
    '30CBBC08863D8C85D49DB34A9AE1');
  assert.equal(deriveSrtpKey(B3_MASTER_KEY, B3_MASTER_SALT, LABEL_RTP_AUTH, 20).toString('hex').toUpperCase(),
    'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  const all = deriveSrtpSessionKeys(B3_MASTER_KEY, B3_MASTER_SALT, 16, 14, 20);
  assert.equal(all.rtpKey.toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
  assert.notDeepEqual(all.rtcpKey, all.rtpKey, 'SRTCP labels give different keys');
  assert.equal(all.rtcpAuthKey.length, 20);
});

test('KDF with a non-zero key derivation rate mixes index DIV kdr into the IV', () => {
  const a = deriveSrtpKey(B3_MASTER_KEY, B3_MASTER_SALT, LABEL_RTP_ENCRYPTION, 16, 0x10000, 0x10000);
  const b = deriveSrtpKey(B3_MASTER_KEY, B3_MASTER_SALT, LABEL_RTP_ENCRYPTION, 16, 0xffff, 0x10000);
  assert.equal(b.toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087', 'r = 0 is the kdr=0 key');
  assert.notDeepEqual(a, b);
});

// RFC 7714 §16 / §17: session key 00..0f, session salt "Quid pro quo"
const GCM_KEYS = {
  rtpKey: hex('000102030405060708090a0b0c0d0e0f'),
  rtpSalt: hex('517569642070726f2071756f'),
  rtpAuthKey: Buffer.alloc(0),
  rtcpKey: hex('000102030405060708090a0b0c0d0e0f'),
  rtcpSalt: hex('517569642070726f2071756f'),
  rtcpAuthKey: Buffer.alloc(0),
};
const GCM_RTP_PLAIN = hex(`8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976
  69736120 696e2070 61727465 73207472 6573`);
const GCM_RTP_PROTECTED = hex(`8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5
  0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce`);
const GCM_RTCP_PLAIN = hex(`81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61
  deadbeef deadbeef deadbeef deadbeef deadbeef`);
const GCM_RTCP_PROTECTED = hex(`81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d
  c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4`);

test('RFC 7714 §16.1.1: AEAD_AES_128_GCM SRTP encryption', () => {
  const ctx = SrtpContext.fromSessionKeys(AEAD_AES_128_GCM, GCM_KEYS);
  const buf = Buffer.alloc(200);
  GCM_RTP_PLAIN.copy(buf);
  const n = ctx.protectRtp(buf, GCM_RTP_PLAIN.length);
  assert.equal(n, GCM_RTP_PROTECTED.length);
  assert.equal(buf.subarray(0, n).toString('hex'), GCM_RTP_PROTECTED.toString('hex'));
});

test('RFC 7714 §16.1.2: AEAD_AES_128_GCM SRTP decryption, and a flipped bit fails', () => {
  const ctx = SrtpContext.fromSessionKeys(AEAD_AES_128_GCM, GCM_KEYS);
  const buf = Buffer.from(GCM_RTP_PROTECTED);
  const n = ctx.unprotectRtp(buf, buf.length);
  assert.equal(n, GCM_RTP_PLAIN.length);
  assert.equal(buf.subarray(0, n).toString('hex'), GCM_RTP_PLAIN.toString('hex'));

  const ctx2 = SrtpContext.fromSessionKeys(AEAD_AES_128_GCM, GCM_KEYS);
  const bad = Buffer.from(GCM_RTP_PROTECTED);
  bad[20]! ^= 0x01;
  assert.equal(ctx2.unprotectRtp(bad, bad.length), SrtpError.AuthFailed);
  bad[20]! ^= 0x01;
  assert.equal(bad.toString('hex'), GCM_RTP_PROTECTED.toString('hex'), 'rejected packet left untouched');
});

test('RFC 7714 §17.1: AEAD_AES_128_GCM SRTCP encryption with index 0x5d4', () => {
  const ctx = SrtpContext.fromSessionKeys(AEAD_AES_128_GCM, GCM_KEYS);
  ctx.setRtcpSendIndex(0x4d617273, 0x5d4);
  const buf = Buffer.alloc(200);
  GCM_RTCP_PLAIN.copy(buf);
  const n = ctx.protectRtcp(buf, GCM_RTCP_PLAIN.length);
  assert.equal(buf.subarray(0, n).toString('hex'), GCM_RTCP_PROTECTED.toString('hex'));
});

test('RFC 7714 §17.1: AEAD_AES_128_GCM SRTCP decryption; tampering and replay rejected', () => {
  const ctx = SrtpContext.fromSessionKeys(AEAD_AES_128_GCM, GCM_KEYS);
  const bad = Buffer.from(GCM_RTCP_PROTECTED);
  bad[30]! ^= 0x08;
  assert.equal(ctx.unprotectRtcp(bad, bad.length), SrtpError.AuthFailed);
  const buf = Buffer.from(GCM_RTCP_PROTECTED);
  const n = ctx.unprotectRtcp(buf, buf.length);
  assert.equal(buf.subarray(0, n).toString('hex'), GCM_RTCP_PLAIN.toString('hex'));
  const again = Buffer.from(GCM_RTCP_PROTECTED);
  assert.equal(ctx.unprotectRtcp(again, again.length), SrtpError.Replayed);
  // changing the index (bound via IV and AAD) breaks authentication
  const idx = Buffer.from(GCM_RTCP_PROTECTED);
  idx[idx.length - 1] = 0xd5;
  assert.equal(ctx.unprotectRtcp(idx, idx.length), SrtpError.AuthFailed);
});

test('AES-CM XOR: word-aligned and unaligned packet offsets give the reference keystream', () => {
  const ref = aesCmKeystream(B2_KEY, B2_IV, 1000);
  const x = new AesCmXor(B2_KEY, 'ecb');
  for (const [base, start] of [[0, 16], [0, 13], [3, 12], [4, 12]] as const) {
    const ab = Buffer.alloc(2048);
    const buf = ab.subarray(base, base + 1500);
    buf.fill(0x5a);
    x.xor(B2_IV, buf, start, start + 1000);
    for (let i = 0; i < 1000; i++) assert.equal(buf[start + i], ref[i]! ^ 0x5a, `base ${base} start ${start} byte ${i}`);
    assert.equal(buf[start - 1], 0x5a, 'bytes before untouched');
    assert.equal(buf[start + 1000], 0x5a, 'bytes after untouched');
  }
});
