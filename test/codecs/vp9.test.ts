import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVp9Keyframe, newVp9Info, parseVp9 } from '../../src/codecs/vp9.js';

test('VP9: key frame = start of frame without inter-picture prediction in spatial layer 0', () => {
  const i = newVp9Info();
  // I=1 (15-bit picture ID), P=0, L=1, B=1, E=0; TID 0 / SID 0.
  const key = Buffer.from([0xa8, 0x81, 0x02, 0x00, 0x00]);
  assert.ok(parseVp9(key, 0, key.length, i));
  assert.equal(i.keyframe, true);
  assert.equal(i.pictureId, 0x102);
  assert.equal(i.sid, 0);
  assert.equal(isVp9Keyframe(key, 0, key.length), true);
  // Same frame, spatial layer 1: not where decoding can start.
  const sl1 = Buffer.from([0xa8, 0x81, 0x02, 0x02, 0x00]);
  assert.ok(parseVp9(sl1, 0, sl1.length, i));
  assert.equal(i.sid, 1);
  assert.equal(i.keyframe, false);
  assert.equal(isVp9Keyframe(sl1, 0, sl1.length), false);
  // P=1: predicted.
  const delta = Buffer.from([0xc8, 0x05]);
  assert.equal(isVp9Keyframe(delta, 0, delta.length), false);
  assert.ok(parseVp9(delta, 0, delta.length, i));
  assert.equal(i.keyframe, false);
  // No B: not the first packet of the frame.
  assert.equal(isVp9Keyframe(Buffer.from([0x04]), 0, 1), false);
  assert.equal(isVp9Keyframe(Buffer.from([0x08]), 0, 1), true, 'minimal descriptor, B only');
});
