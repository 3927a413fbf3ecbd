/**
 * RFC 4571 framing of ICE-TCP streams (src/media/net/rfc4571.ts): framed packets cut anywhere come out
 * whole and in order, even when the receiver scribbles over (decrypts in place) each frame it gets;
 * any bytes in any chunking never throw, never buffer more than one frame, never deliver an empty or
 * oversized frame, and an error or stop() is final.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fc, check, chunked, cutPoints, boundedHeap, mutated, rawBytes, typedOnly } from './harness.js';
import { frame, Rfc4571Reader } from '../../src/media/net/rfc4571.js';

const MAX = 1500;

const packets = fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 1000, maxLength: MAX }), fc.constant(new Uint8Array(0))), { minLength: 1, maxLength: 8 });
const cuts = cutPoints(16);


const framedStream = (ps: Uint8Array[]): Buffer => Buffer.concat(ps.map((p) => frame(p, 0, p.length)));

test('RFC 4571: framed packets cut anywhere come out whole, in order, though the receiver overwrites each frame', async () => {
  await boundedHeap(16 << 20, () => {
    check('rfc4571-chunking', [packets, cuts], (ps, at) => {
      const got: Buffer[] = [];
      const r = new Rfc4571Reader(MAX, (f) => {
        got.push(Buffer.from(f));
        f.fill(0xee); // the media path decrypts in place
      });
      for (const c of chunked(framedStream(ps), at)) assert.equal(r.push(c), null);
      const nonEmpty = ps.filter((p) => p.length > 0);
      assert.equal(got.length, nonEmpty.length);
      got.forEach((g, i) => assert.ok(g.equals(nonEmpty[i]!), `frame ${i}`));
      assert.equal(r.frames, nonEmpty.length);
      assert.equal(r.empty, ps.length - nonEmpty.length);
      assert.equal(r.pending, 0);
      assert.equal(r.error, null);
    }, 100);
  });
});

test('RFC 4571: any bytes in any chunking never throw; at most one frame buffered; errors are final', async () => {
  await boundedHeap(16 << 20, () => {
    check('rfc4571-garbage', [fc.oneof(mutated(packets.map(framedStream), 4), rawBytes(3000)), cuts, fc.integer({ min: 0, max: 20 })], (bytes, at, stopAfter) => {
      let delivered = 0;
      let bytesOut = 0;
      const r: Rfc4571Reader = new Rfc4571Reader(MAX, (f) => {
        assert.ok(f.length >= 1 && f.length <= MAX, `frame of ${f.length}`);
        delivered++;
        bytesOut += f.length + 2;
        // The connection closing for another reason while frames are being handed out.
        if (delivered === stopAfter) r.stop();
      });
      let err: string | null = null;
      for (const c of chunked(bytes, at)) {
        const e = typedOnly(() => r.push(c), []);
        if (err !== null) assert.equal(e, err, 'a stopped reader stays stopped');
        err = e ?? null;
        assert.ok(r.pending <= MAX, `pending ${r.pending}`);
      }
      if (stopAfter > 0 && delivered >= stopAfter) {
        assert.equal(delivered, stopAfter, 'nothing delivered after stop()');
        assert.equal(r.pending, 0, 'a stopped reader holds nothing');
      }
      assert.equal(r.frames, delivered);
      assert.ok(bytesOut <= bytes.length);
    }, 200);
  });
});

test('RFC 4571: a length past the bound stops the reader whatever follows', () => {
  const r = new Rfc4571Reader(MAX, () => assert.fail('no frame'));
  assert.equal(r.push(Buffer.from([(MAX + 1) >> 8])), null, 'half a header waits');
  assert.equal(r.push(Buffer.from([(MAX + 1) & 0xff, 1, 2, 3])), 'oversize');
  assert.equal(r.push(framedStream([new Uint8Array(4)])), 'oversize');
  assert.equal(r.pending, 0);
});
