import { test } from 'node:test';
import assert from 'node:assert/strict';
import { h264NalType, isH264Keyframe } from '../../src/codecs/h264.js';

test('H.264: single NAL units (IDR and SPS are key frames, a P slice is not)', () => {
  assert.equal(isH264Keyframe(Buffer.from([0x65, 0x88]), 0, 2), true, 'IDR');
  assert.equal(isH264Keyframe(Buffer.from([0x67, 0x42]), 0, 2), true, 'SPS');
  assert.equal(isH264Keyframe(Buffer.from([0x41, 0x9a]), 0, 2), false, 'non-IDR slice');
  assert.equal(h264NalType(Buffer.from([0x41]), 0, 1), 1);
  assert.equal(isH264Keyframe(Buffer.alloc(0), 0, 0), false);
});

test('H.264: STAP-A with SPS/PPS/IDR, FU-A start and middle fragments', () => {
  const stap = Buffer.from([0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x65, 0x88]);
  assert.equal(isH264Keyframe(stap, 0, stap.length), true);
  assert.equal(h264NalType(stap, 0, stap.length), 7);
  const stapP = Buffer.from([0x78, 0x00, 0x02, 0x41, 0x9a]);
  assert.equal(isH264Keyframe(stapP, 0, stapP.length), false);
  const broken = Buffer.from([0x78, 0x00, 0x09, 0x65]);
  assert.equal(isH264Keyframe(broken, 0, broken.length), false, 'size past the end');
  assert.equal(isH264Keyframe(Buffer.from([0x7c, 0x85, 0x88]), 0, 3), true, 'FU-A start of an IDR');
  assert.equal(isH264Keyframe(Buffer.from([0x7c, 0x05, 0x88]), 0, 3), false, 'FU-A middle of an IDR');
  assert.equal(isH264Keyframe(Buffer.from([0x7c, 0x81, 0x88]), 0, 3), false, 'FU-A start of a P slice');
  assert.equal(h264NalType(Buffer.from([0x7c, 0x85]), 0, 2), 5);
});
