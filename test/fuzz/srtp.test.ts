/**
 * SRTP/SRTCP unprotect (src/media/srtp) with garbage and with tampered real packets, for every
 * profile: it never throws, returns a length inside the input or a negative SrtpError, leaves a
 * rejected packet untouched, and never accepts a packet that differs from what the sender protected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fc, check, boundedHeap, mutated, rawBytes, typedOnly } from './harness.js';
import { SrtpContext } from '../../src/media/srtp/index.js';
import { writeRtpHeader } from '../../src/media/rtp/index.js';
import { buildReceiverReport, newReportBlock } from '../../src/media/rtcp/index.js';

const PROFILES = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM'] as const;
const KEYS: Record<(typeof PROFILES)[number], [Buffer, Buffer]> = {
  AES_CM_128_HMAC_SHA1_80: [Buffer.alloc(16, 1), Buffer.alloc(14, 2)],
  AES_CM_128_HMAC_SHA1_32: [Buffer.alloc(16, 3), Buffer.alloc(14, 4)],
  AEAD_AES_128_GCM: [Buffer.alloc(16, 5), Buffer.alloc(12, 6)],
};
const ctx = (p: (typeof PROFILES)[number]) => new SrtpContext(p, KEYS[p][0], KEYS[p][1]);

const rtpPlain = fc.record({ seq: fc.integer({ min: 0, max: 0xffff }), ts: fc.nat(), payload: fc.uint8Array({ minLength: 1, maxLength: 100 }) }).map((r) => {
  const b = Buffer.alloc(12 + r.payload.length + 32);
  writeRtpHeader(b, 96, r.seq, r.ts >>> 0, 0x12345678, false);
  b.set(r.payload, 12);
  return { b, len: 12 + r.payload.length };
});

/** Unprotect a copy of `input` (with spare room, as the receive path has); check the contract. */
function unprotect(c: SrtpContext, input: Uint8Array, rtcp: boolean): number {
  const buf = Buffer.alloc(input.length + 16, 0xaa);
  buf.set(input);
  const before = Buffer.from(buf);
  const n = typedOnly(() => (rtcp ? c.unprotectRtcp(buf, input.length) : c.unprotectRtp(buf, input.length)), []) as number;
  assert.ok(Number.isInteger(n) && n <= input.length, `result ${n} for ${input.length} bytes`);
  if (n < 0) {
    assert.ok(n >= -5, `known error code (${n})`);
    assert.deepEqual(buf, before, 'rejected packet left untouched');
  }
  return n;
}

for (const profile of PROFILES) {
  test(`SRTP ${profile}: garbage and tampered packets are rejected cleanly`, async () => {
    const tx = ctx(profile);
    // Real protected packets from the sender context, then tampered with.
    const protectedRtp = rtpPlain.map(({ b, len }) => b.subarray(0, tx.protectRtp(b, len)));
    const protectedRtcp = fc.integer({ min: 0, max: 3 }).map((n) => {
      const rr = buildReceiverReport(0x12345678, Array.from({ length: n }, () => newReportBlock()));
      const b = Buffer.alloc(rr.length + 32);
      rr.copy(b);
      return b.subarray(0, tx.protectRtcp(b, rr.length));
    });
    await boundedHeap(8 << 20, () => {
      check(`${profile} rtp tampered`, [protectedRtp.chain((p) => fc.tuple(fc.constant(Buffer.from(p)), mutated(fc.constant(Uint8Array.from(p)), 3)))], ([orig, m]) => {
        // A fresh receiver per case so the replay window does not decide for us.
        const n = unprotect(ctx(profile), m, false);
        if (!orig.equals(m)) assert.ok(n < 0, 'a tampered packet never authenticates');
      }, 700);
      check(`${profile} rtcp tampered`, [protectedRtcp.chain((p) => fc.tuple(fc.constant(Buffer.from(p)), mutated(fc.constant(Uint8Array.from(p)), 3)))], ([orig, m]) => {
        const n = unprotect(ctx(profile), m, true);
        if (!orig.equals(m)) assert.ok(n < 0, 'a tampered SRTCP packet never authenticates');
      }, 500);
      const rx = ctx(profile);
      check(`${profile} raw`, [rawBytes(120), fc.boolean()], (b, rtcp) => {
        const n = unprotect(rx, b, rtcp);
        assert.ok(n < 0, 'random bytes never authenticate');
      }, 500);
    });
  });
}
