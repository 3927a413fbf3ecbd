import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rfc4571Reader, frame } from '../../../src/media/net/rfc4571.js';

function collect(max = 4096): { r: Rfc4571Reader; got: Buffer[] } {
  const got: Buffer[] = [];
  const r = new Rfc4571Reader(max, (f) => got.push(Buffer.from(f)));
  return { r, got };
}

const pkts = [Buffer.from('hello'), Buffer.alloc(1200, 7), Buffer.from([0x80, 0x60, 1, 2]), Buffer.alloc(300, 0xab)];
const stream = Buffer.concat(pkts.map((p) => frame(p, 0, p.length)));

test('frame(): 2-byte big-endian length prefix', () => {
  const f = frame(Buffer.from('abcdef'), 1, 3);
  assert.deepEqual([...f], [0, 3, 0x62, 0x63, 0x64]);
  const big = frame(Buffer.alloc(300), 0, 300);
  assert.deepEqual([big[0], big[1]], [1, 44]);
  assert.throws(() => frame(Buffer.alloc(70000), 0, 70000), RangeError);
});

test('joined frames in one chunk come out one by one, as views of the chunk', () => {
  const views: Buffer[] = [];
  const r = new Rfc4571Reader(4096, (f) => views.push(f));
  assert.equal(r.push(stream), null);
  assert.equal(views.length, pkts.length);
  views.forEach((v, i) => {
    assert.ok(v.equals(pkts[i]!));
    assert.equal(v.buffer, stream.buffer, 'no copy for a frame inside one chunk');
  });
  assert.equal(r.pending, 0);
});

test('every split point, and byte-by-byte delivery, give the same frames', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const { r, got } = collect();
    assert.equal(r.push(stream.subarray(0, cut)), null);
    assert.equal(r.push(stream.subarray(cut)), null);
    assert.deepEqual(got, pkts, `cut at ${cut}`);
  }
  const { r, got } = collect();
  for (let i = 0; i < stream.length; i++) r.push(stream.subarray(i, i + 1));
  assert.deepEqual(got, pkts);
  assert.equal(r.frames, pkts.length);
});

test('zero-length frames are skipped and counted', () => {
  const { r, got } = collect();
  r.push(Buffer.from([0, 0, 0, 1, 9, 0, 0]));
  assert.deepEqual(got, [Buffer.from([9])]);
  assert.equal(r.empty, 2);
});

test('oversize length stops the reader before buffering anything (huge length)', () => {
  const { r, got } = collect(1500);
  assert.equal(r.push(Buffer.concat([frame(Buffer.from('ok'), 0, 2), Buffer.from([0xff, 0xff, 1, 2, 3])])), 'oversize');
  assert.deepEqual(got, [Buffer.from('ok')]);
  assert.equal(r.error, 'oversize');
  assert.equal(r.pending, 0, 'nothing buffered for the 64 KiB frame');
  assert.equal(r.push(frame(Buffer.from('more'), 0, 4)), 'oversize', 'stays stopped');
  assert.equal(got.length, 1);
  // split header announcing an oversize frame
  const s = collect(1500);
  assert.equal(s.r.push(Buffer.from([0x10])), null);
  assert.equal(s.r.push(Buffer.from([0x00, 1])), 'oversize');
});

test('garbage is framed like anything else (the reader does not judge content); a frame exactly maxFrame long passes', () => {
  const { r, got } = collect(8);
  assert.equal(r.push(Buffer.from([0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 9])), 'oversize');
  assert.equal(got.length, 1);
  assert.equal(got[0]!.length, 8);
});

test('stop() makes later pushes no-ops', () => {
  const { r, got } = collect();
  r.push(Buffer.from([0, 4, 1, 2]));
  r.stop();
  assert.equal(r.push(Buffer.from([3, 4])), 'stopped');
  assert.equal(got.length, 0);
});
