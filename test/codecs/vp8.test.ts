import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVp8Keyframe, newVp8Info, parseVp8, setVp8PictureId, Vp8Rewriter } from '../../src/codecs/vp8.js';

// Chrome-shaped descriptors: X=1, I/L/T set, 15-bit picture ID.
const KEY = Buffer.from([0x90, 0xe0, 0x81, 0x23, 0x05, 0x60, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]);
const DELTA_TL1 = Buffer.from([0x90, 0xe0, 0x81, 0x24, 0x05, 0x40, 0x11, 0x00, 0x00]);
const CONTINUATION = Buffer.from([0x80, 0xe0, 0x81, 0x23, 0x05, 0x60, 0x10, 0x02]);

test('VP8: key frame with picture ID, TL0PICIDX, TID, layer sync and size', () => {
  const i = newVp8Info();
  assert.ok(parseVp8(KEY, 0, KEY.length, i));
  assert.equal(i.keyframe, true);
  assert.equal(i.startOfFrame, true);
  assert.equal(i.pictureId, 0x123);
  assert.equal(i.pictureIdBits, 15);
  assert.equal(i.tl0PicIdx, 5);
  assert.equal(i.tid, 1);
  assert.equal(i.layerSync, true);
  assert.equal(i.width, 640);
  assert.equal(i.height, 360);
  assert.equal(isVp8Keyframe(KEY, 0, KEY.length), true);
});

test('VP8: delta frames and continuation packets are not key frames', () => {
  const i = newVp8Info();
  assert.ok(parseVp8(DELTA_TL1, 0, DELTA_TL1.length, i));
  assert.equal(i.keyframe, false);
  assert.equal(i.tid, 1);
  assert.equal(i.layerSync, false);
  assert.equal(isVp8Keyframe(DELTA_TL1, 0, DELTA_TL1.length), false);
  assert.ok(parseVp8(CONTINUATION, 0, CONTINUATION.length, i));
  assert.equal(i.startOfFrame, false);
  assert.equal(i.keyframe, false, 'the P bit is only meaningful at the start of partition 0');
  assert.equal(isVp8Keyframe(CONTINUATION, 0, CONTINUATION.length), false);
  // Minimal descriptor (no X): S=1, PID=0, key frame.
  assert.equal(isVp8Keyframe(Buffer.from([0x10, 0x00]), 0, 2), true);
  // 7-bit picture ID.
  assert.ok(parseVp8(Buffer.from([0x90, 0x80, 0x05, 0x01]), 0, 4, i));
  assert.equal(i.pictureId, 5);
  assert.equal(i.pictureIdBits, 7);
  assert.equal(parseVp8(Buffer.from([0x90]), 0, 1, i), false, 'truncated');
  assert.equal(parseVp8(Buffer.alloc(0), 0, 0, i), false);
});

test('VP8: offsets inside a larger buffer; picture ID rewrite keeps the M bit', () => {
  const buf = Buffer.concat([Buffer.alloc(12, 0xee), KEY]);
  const i = newVp8Info();
  assert.ok(parseVp8(buf, 12, KEY.length, i));
  setVp8PictureId(buf, i, 0x7ffe);
  assert.equal(buf[14], 0xff);
  assert.equal(buf[15], 0xfe);
  assert.ok(parseVp8(buf, 12, KEY.length, i));
  assert.equal(i.pictureId, 0x7ffe);
});

test('Vp8Rewriter: continuous picture IDs and TL0PICIDX across a source switch, with wrap-around', () => {
  const rw = new Vp8Rewriter();
  const i = newVp8Info();
  const frame = (pic: number, tl0: number): Buffer => Buffer.from([0x90, 0xc0, 0x80 | (pic >> 8), pic & 0xff, tl0, 0x10]);
  const out: Array<[number, number]> = [];
  const feed = (b: Buffer): void => {
    parseVp8(b, 0, b.length, i);
    rw.rewrite(b, i);
    parseVp8(b, 0, b.length, i);
    out.push([i.pictureId, i.tl0PicIdx]);
  };
  feed(frame(0x7ffe, 254));
  feed(frame(0x7fff, 255));
  rw.switchSource();
  feed(frame(10, 3));
  feed(frame(11, 4));
  assert.deepEqual(out, [[0x7ffe, 254], [0x7fff, 255], [0, 0], [1, 1]]);
});
