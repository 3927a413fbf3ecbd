import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import {
  AEAD_AES_128_GCM,
  AES_CM_128_HMAC_SHA1_32,
  AES_CM_128_HMAC_SHA1_80,
  createSrtpSessionsFromDtls,
  deriveSrtpKey,
  LABEL_RTCP_AUTH,
  estimateSrtpIndex,
  ReplayWindow,
  splitDtlsSrtpKeyingMaterial,
  SrtpContext,
  SrtpError,
  type SrtpProfile,
} from '../../../src/media/srtp/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const PROFILES: SrtpProfile[] = [AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM];

function rtp(seq: number, ssrc = 0x11223344, payload = 160, fill = seq & 0xff): { buf: Buffer; len: number } {
  const buf = Buffer.alloc(12 + payload + 64);
  buf[0] = 0x80;
  buf[1] = 111;
  buf.writeUInt16BE(seq & 0xffff, 2);
  buf.writeUInt32BE((seq * 960) >>> 0, 4);
  buf.writeUInt32BE(ssrc >>> 0, 8);
  buf.fill(fill, 12, 12 + payload);
  return { buf, len: 12 + payload };
}

function pair(p: SrtpProfile, opts = {}): { tx: SrtpContext; rx: SrtpContext } {
  const key = randomBytes(p.keyLength);
  const salt = randomBytes(p.saltLength);
  return { tx: new SrtpContext(p, key, salt, opts), rx: new SrtpContext(p, key, salt, opts) };
}

test('libsrtp reference packet: AES_CM_128_HMAC_SHA1_80, SSRC cafebabe seq 0x1234', () => {
  const key = hex('e1f97a0d3e018be0d64fa32c06de4139');
  const salt = hex('0ec675ad498afeebb6960b3aabe6');
  const plain = hex('800f1234 decafbad cafebabe abababab abababab abababab abababab');
  const expected = hex('800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402 b78d6acc 99ea179b 8dbb');
  for (const engine of ['ecb', 'ctr'] as const) {
    const tx = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { engine });
    const buf = Buffer.alloc(64);
    plain.copy(buf);
    const n = tx.protectRtp(buf, plain.length);
    assert.equal(buf.subarray(0, n).toString('hex'), expected.toString('hex'), engine);
    const rx = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { engine });
    const m = rx.unprotectRtp(buf, n);
    assert.equal(buf.subarray(0, m).toString('hex'), plain.toString('hex'));
  }
});

test('AES-CM engines agree on large packets (JS-XOR ECB path vs native CTR path)', () => {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const a = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { engine: 'ecb' });
  const b = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt, { engine: 'ctr' });
  for (const size of [64, 1200, 1201, 1187]) {
    for (const base of [0, 1, 2, 4]) {
      const x = rtp(65535, 0x1234, size, 0x77);
      const pa = Buffer.alloc(size + 100);
      const pb = Buffer.alloc(size + 100);
      x.buf.copy(pa, base, 0, x.len);
      x.buf.copy(pb, 0, 0, x.len);
      const va = pa.subarray(base);
      const na = a.protectRtp(va, x.len);
      const nb = b.protectRtp(pb, x.len);
      assert.equal(na, nb);
      assert.equal(va.subarray(0, na).toString('hex'), pb.subarray(0, nb).toString('hex'), `size ${size} base ${base}`);
    }
  }
});

for (const p of PROFILES) {
  test(`${p.name}: RTP protect -> unprotect round trip, header extension and CSRC kept in clear`, () => {
    const { tx, rx } = pair(p);
    const { buf, len } = rtp(1000);
    // add a CSRC and a one-byte header extension: rebuild the header
    const pkt = Buffer.alloc(300);
    pkt[0] = 0x90 | 1; // V=2, X=1, CC=1
    pkt[1] = 96;
    pkt.writeUInt16BE(1000, 2);
    pkt.writeUInt32BE(1234, 4);
    pkt.writeUInt32BE(0x11223344, 8);
    pkt.writeUInt32BE(0xaabbccdd, 12);
    pkt.writeUInt16BE(0xbede, 16);
    pkt.writeUInt16BE(1, 18);
    pkt.writeUInt32BE(0x10ff0000, 20);
    buf.copy(pkt, 24, 12, len);
    const plainLen = 24 + len - 12;
    const original = Buffer.from(pkt.subarray(0, plainLen));
    const n = tx.protectRtp(pkt, plainLen);
    assert.equal(n, plainLen + p.rtpTagLength);
    assert.deepEqual(pkt.subarray(0, 24), original.subarray(0, 24), 'header in clear');
    assert.notDeepEqual(pkt.subarray(24, plainLen), original.subarray(24), 'payload encrypted');
    const m = rx.unprotectRtp(pkt, n);
    assert.equal(m, plainLen);
    assert.deepEqual(pkt.subarray(0, m), original);
  });

  test(`${p.name}: tampered RTP rejected (header, payload, tag), wrong key rejected`, () => {
    const { tx, rx } = pair(p);
    for (const pos of [1, 8, 20, -1]) {
      const { buf, len } = rtp(7);
      const n = tx.protectRtp(buf, len);
      const at = pos < 0 ? n + pos : pos;
      buf[at]! ^= 0x40;
      assert.equal(rx.unprotectRtp(buf, n), SrtpError.AuthFailed, `flip at ${at}`);
    }
    const other = pair(p).tx;
    const { buf, len } = rtp(8);
    const n = other.protectRtp(buf, len);
    assert.equal(rx.unprotectRtp(buf, n), SrtpError.AuthFailed);
    // after failures the stream still works
    const ok = rtp(9);
    const k = tx.protectRtp(ok.buf, ok.len);
    assert.equal(rx.unprotectRtp(ok.buf, k), ok.len);
  });

  test(`${p.name}: replay rejected, out-of-order within window accepted, too old rejected`, () => {
    const { tx, rx } = pair(p, { replayWindow: 64 });
    const wire = new Map<number, Buffer>();
    for (let s = 100; s < 300; s++) {
      const { buf, len } = rtp(s);
      const n = tx.protectRtp(buf, len);
      wire.set(s, Buffer.from(buf.subarray(0, n)));
    }
    const recv = (s: number): number => {
      const b = Buffer.from(wire.get(s)!);
      return rx.unprotectRtp(b, b.length);
    };
    assert.ok(recv(200) > 0);
    assert.equal(recv(200), SrtpError.Replayed);
    assert.ok(recv(190) > 0, 'late but within window');
    assert.equal(recv(190), SrtpError.Replayed);
    assert.ok(recv(250) > 0);
    assert.ok(recv(187) > 0, '63 behind the top');
    assert.equal(recv(186), SrtpError.TooOld, '64 behind the top');
    assert.equal(recv(120), SrtpError.TooOld);
  });

  test(`${p.name}: RTCP protect -> unprotect round trip, index increments, replay and tamper rejected`, () => {
    const { tx, rx } = pair(p);
    const sr = hex('80c80006 11223344 e8000000 00000000 00000000 00000001 00000064');
    const out: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const buf = Buffer.alloc(100);
      sr.copy(buf);
      const n = tx.protectRtcp(buf, sr.length);
      assert.equal(n, sr.length + 4 + p.rtcpTagLength);
      assert.notDeepEqual(buf.subarray(8, sr.length), sr.subarray(8), 'encrypted');
      const eOff = p.aead ? n - 4 : sr.length;
      assert.equal(buf.readUInt32BE(eOff), (0x80000000 | i) >>> 0, 'E bit and index');
      out.push(Buffer.from(buf.subarray(0, n)));
    }
    const b1 = Buffer.from(out[1]!);
    assert.equal(rx.unprotectRtcp(b1, b1.length), sr.length);
    assert.deepEqual(b1.subarray(0, sr.length), sr);
    const again = Buffer.from(out[1]!);
    assert.equal(rx.unprotectRtcp(again, again.length), SrtpError.Replayed);
    const b0 = Buffer.from(out[0]!);
    assert.equal(rx.unprotectRtcp(b0, b0.length), sr.length, 'older index within window');
    const t = Buffer.from(out[2]!);
    t[12]! ^= 1;
    assert.equal(rx.unprotectRtcp(t, t.length), SrtpError.AuthFailed);
  });
}

test('AES_CM_128_HMAC_SHA1_32 uses a 4-byte RTP tag and a 10-byte RTCP tag', () => {
  const { tx } = pair(AES_CM_128_HMAC_SHA1_32);
  const { buf, len } = rtp(1);
  assert.equal(tx.protectRtp(buf, len), len + 4);
  assert.equal(tx.rtcpOverhead, 14);
});

test('protect reports a Buffer without room for the tag; unprotect reports runts', () => {
  const { tx, rx } = pair(AES_CM_128_HMAC_SHA1_80);
  const buf = Buffer.alloc(20);
  buf[0] = 0x80;
  assert.equal(tx.protectRtp(buf, 20), SrtpError.BufferTooSmall);
  assert.equal(rx.unprotectRtp(buf, 15), SrtpError.Malformed);
  assert.equal(rx.unprotectRtcp(buf, 12), SrtpError.Malformed);
  buf[0] = 0x40; // version 1
  assert.equal(tx.protectRtp(Buffer.alloc(64, 0x40), 30), SrtpError.Malformed);
});

test('unencrypted SRTCP (E=0) from a peer is authenticated and accepted; flipping E fails', () => {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const rx = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt);
  const rr = hex('81c90007 11223344 55667788 00000000 00000000 00000000 00000000 00000000');
  // hand-built SRTCP with E=0: plaintext | 0|index(7) | HMAC-SHA1-80 over both, key from label 4
  const authKey = deriveSrtpKey(key, salt, LABEL_RTCP_AUTH, 20);
  const body = Buffer.concat([rr, hex('00000007')]);
  const tag = createHmac('sha1', authKey).update(body).digest().subarray(0, 10);
  const wire = Buffer.concat([body, tag]);
  const copy = Buffer.from(wire);
  assert.equal(rx.unprotectRtcp(wire, wire.length), rr.length);
  assert.deepEqual(wire.subarray(0, rr.length), rr, 'payload was not decrypted');
  copy[rr.length]! |= 0x80;
  const rx2 = new SrtpContext(AES_CM_128_HMAC_SHA1_80, key, salt);
  assert.equal(rx2.unprotectRtcp(copy, copy.length), SrtpError.AuthFailed, 'E bit is authenticated');
});

// ------------------------------------------------------------------ rollover counter

test('estimateSrtpIndex follows RFC 3711 appendix A', () => {
  assert.equal(estimateSrtpIndex(0, 65535, 0), 65536);
  assert.equal(estimateSrtpIndex(0, 65530, 5), 65536 + 5, 'loss across the wrap');
  assert.equal(estimateSrtpIndex(1, 3, 65534), 65534, 'late packet from before the wrap');
  assert.equal(estimateSrtpIndex(1, 3, 10), 65536 + 10);
  assert.equal(estimateSrtpIndex(2, 40000, 39000), 2 * 65536 + 39000);
  assert.ok(estimateSrtpIndex(0, 10, 65000) < 0, 'before the stream start');
});

for (const p of PROFILES) {
  test(`${p.name}: ROC across 65535 -> 0 with losses around the wrap and reordering`, () => {
    const { tx, rx } = pair(p);
    const sent: Array<{ seq: number; bytes: Buffer; plain: Buffer }> = [];
    // sender goes 65500 .. 65535, 0 .. 200 (two full wraps later too)
    const seqs: number[] = [];
    for (let s = 65500; s < 65536; s++) seqs.push(s);
    for (let s = 0; s <= 200; s++) seqs.push(s);
    for (const s of seqs) {
      const { buf, len } = rtp(s, 0x0badcafe, 100, (s * 7) & 0xff);
      const plain = Buffer.from(buf.subarray(0, len));
      const n = tx.protectRtp(buf, len);
      sent.push({ seq: s, bytes: Buffer.from(buf.subarray(0, n)), plain });
    }
    assert.equal(tx.getRoc(0x0badcafe), 1);
    const bySeq = new Map(sent.map((x) => [x.seq, x]));
    const deliver = (s: number): number => {
      const x = bySeq.get(s)!;
      const b = Buffer.from(x.bytes);
      const r = rx.unprotectRtp(b, b.length);
      if (r > 0) assert.deepEqual(b.subarray(0, r), x.plain, `seq ${s}`);
      return r;
    };
    // receive up to 65520, lose 65521..65535 and 0..9, then 10: ROC must advance to 1
    for (let s = 65500; s <= 65520; s++) assert.ok(deliver(s) > 0);
    assert.ok(deliver(10) > 0, 'first packet after a loss across the wrap');
    assert.equal(rx.getRoc(0x0badcafe), 1);
    // reordered: packets from before the wrap arrive late (ROC - 1)
    assert.ok(deliver(65530) > 0);
    assert.ok(deliver(65535) > 0);
    assert.equal(rx.getRoc(0x0badcafe), 1, 'late packets do not move the ROC back');
    // and post-wrap packets reordered among themselves
    assert.ok(deliver(12) > 0);
    assert.ok(deliver(11) > 0);
    assert.ok(deliver(3) > 0);
    assert.equal(deliver(65530), SrtpError.Replayed);
    for (let s = 13; s <= 200; s++) assert.ok(deliver(s) > 0, `seq ${s}`);
    assert.equal(rx.getIndex(0x0badcafe), 65536 + 200);
  });
}

test('sender re-protecting an old (pre-wrap) sequence number uses the old ROC (NACK retransmission)', () => {
  const { tx, rx } = pair(AES_CM_128_HMAC_SHA1_80);
  const early = rtp(65534);
  const keep = Buffer.from(early.buf.subarray(0, early.len));
  tx.protectRtp(early.buf, early.len); // lost on the wire
  for (const s of [65535, 0, 1]) {
    const { buf, len } = rtp(s);
    const n = tx.protectRtp(buf, len);
    assert.ok(rx.unprotectRtp(buf, n) > 0);
  }
  // retransmit 65534 after the wrap
  const rtx = Buffer.alloc(300);
  keep.copy(rtx);
  const n = tx.protectRtp(rtx, keep.length);
  assert.equal(tx.getRoc(0x11223344), 1, 'sender ROC not moved back');
  assert.equal(rx.unprotectRtp(rtx, n), keep.length);
  assert.deepEqual(rtx.subarray(0, keep.length), keep);
});

test('ROC keeps going over several wraps with 50% loss', () => {
  const { tx, rx } = pair(AEAD_AES_128_GCM);
  let ok = 0;
  for (let i = 0; i < 3 * 65536; i += 7) {
    const s = i & 0xffff;
    const { buf, len } = rtp(s, 1, 20);
    const n = tx.protectRtp(buf, len);
    if ((i / 7) % 2 === 0) {
      assert.equal(rx.unprotectRtp(buf, n), len);
      ok++;
    }
  }
  assert.ok(ok > 10000);
  assert.equal(rx.getRoc(1), 2);
});

test('per-SSRC state: two SSRCs in one context do not share ROC or replay windows', () => {
  const { tx, rx } = pair(AES_CM_128_HMAC_SHA1_80);
  for (const ssrc of [1, 2]) {
    const { buf, len } = rtp(5, ssrc);
    const n = tx.protectRtp(buf, len);
    assert.equal(rx.unprotectRtp(buf, n), len, `ssrc ${ssrc}: same seq, other SSRC is not a replay`);
  }
  assert.equal(rx.ssrcCount, 2);
  // forged packets with unknown SSRCs create no state
  for (let i = 0; i < 100; i++) {
    const f = rtp(i, 1000 + i);
    f.buf.fill(0xee, f.len, f.len + 10);
    assert.equal(rx.unprotectRtp(f.buf, f.len + 10), SrtpError.AuthFailed);
    const c = Buffer.alloc(40, 0xee);
    c.writeUInt32BE(0x80c80000, 0);
    c.writeUInt32BE(5000 + i, 4);
    assert.equal(rx.unprotectRtcp(c, 40), SrtpError.AuthFailed);
  }
  assert.equal(rx.ssrcCount, 2, 'no state for unauthenticated SSRCs');
  rx.removeSsrc(1);
  assert.equal(rx.ssrcCount, 1);
});

// ------------------------------------------------------------------ replay window

test('ReplayWindow: duplicates, window edge, large jumps', () => {
  const w = new ReplayWindow(100);
  assert.equal(w.windowSize, 128);
  assert.equal(w.check(5), 0);
  w.commit(5);
  assert.equal(w.check(5), 1);
  assert.equal(w.check(4), 0);
  w.commit(1000);
  assert.equal(w.check(5), 2);
  assert.equal(w.check(873), 0);
  assert.equal(w.check(872), 2);
  w.commit(900);
  assert.equal(w.check(900), 1);
  w.commit(1001);
  assert.equal(w.check(900), 1, 'still remembered after a small advance');
  w.commit(1000 + 128);
  assert.equal(w.check(1001), 1, '127 behind the top: still in the window');
  assert.equal(w.check(1000), 2, 'fell out of the window');
  w.commit(5000);
  assert.equal(w.check(4999), 0, 'bits cleared after a jump');
});

// ------------------------------------------------------------------ DTLS-SRTP keying

test('DTLS-SRTP keying material split by role (RFC 5764 §4.2), both profiles', () => {
  for (const p of [AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM]) {
    const total = 2 * (p.keyLength + p.saltLength);
    assert.equal(total, p.aead ? 56 : 60);
    const m = Buffer.alloc(total);
    for (let i = 0; i < total; i++) m[i] = i;
    const c = splitDtlsSrtpKeyingMaterial(m, p, 'client');
    const s = splitDtlsSrtpKeyingMaterial(m, p, 'server');
    assert.deepEqual(c.localKey, m.subarray(0, 16));
    assert.deepEqual(c.remoteKey, m.subarray(16, 32));
    assert.deepEqual(c.localSalt, m.subarray(32, 32 + p.saltLength));
    assert.deepEqual(c.remoteSalt, m.subarray(32 + p.saltLength, total));
    assert.deepEqual(s.localKey, c.remoteKey);
    assert.deepEqual(s.localSalt, c.remoteSalt);
    assert.throws(() => splitDtlsSrtpKeyingMaterial(m.subarray(0, total - 1), p, 'client'), RangeError);

    const client = createSrtpSessionsFromDtls(m, p, 'client');
    const server = createSrtpSessionsFromDtls(m, p, 'server');
    const { buf, len } = rtp(42);
    const n = client.outbound.protectRtp(buf, len);
    assert.equal(server.inbound.unprotectRtp(buf, n), len, 'client -> server');
    const r = rtp(43);
    const k = server.outbound.protectRtp(r.buf, r.len);
    const copy = Buffer.from(r.buf);
    assert.equal(client.inbound.unprotectRtp(r.buf, k), r.len, 'server -> client');
    assert.equal(server.inbound.unprotectRtp(copy, k), SrtpError.AuthFailed, 'directions use different keys');
  }
});

test('AES-CM contexts share one counter scratch: interleaved packets of different keys and sizes stay correct', () => {
  // Two independent pairs; packets of different sizes alternate between them, so each protect and
  // unprotect runs right after the other context overwrote the shared counter blocks.
  const a = pair(AES_CM_128_HMAC_SHA1_80);
  const b = pair(AES_CM_128_HMAC_SHA1_80);
  for (let i = 0; i < 20; i++) {
    const size = i % 2 === 0 ? 1200 : 100 + i;
    for (const [ctx, fill] of [[a, 0x11], [b, 0x22]] as const) {
      const { buf, len } = rtp(i, 0x1000 + fill, size, fill);
      const clear = Buffer.from(buf.subarray(0, len));
      const n = ctx.tx.protectRtp(buf, len);
      assert.ok(n > len);
      assert.notDeepEqual(buf.subarray(12, len), clear.subarray(12), 'payload encrypted');
      assert.equal(ctx.rx.unprotectRtp(buf, n), len);
      assert.deepEqual(buf.subarray(0, len), clear, `pair ${fill.toString(16)} packet ${i}`);
    }
  }
});
