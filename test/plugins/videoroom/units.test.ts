import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdCodec } from '../../../src/plugins/videoroom/ids.js';
import { safeEqual } from '../../../src/plugins/videoroom/secrets.js';
import { VrError } from '../../../src/plugins/videoroom/errors.js';

test('safeEqual compares any lengths without throwing', () => {
  assert.equal(safeEqual('secret', 'secret'), true);
  assert.equal(safeEqual('secret', 'secreT'), false);
  assert.equal(safeEqual('a', 'a much longer string'), false);
  assert.equal(safeEqual('', ''), true);
});

test('IdCodec: category names and random ids per mode', () => {
  const num = new IdCodec(false);
  assert.equal(num.fromCategory('room-1234'), 1234);
  assert.equal(num.fromCategory('room-12a'), null);
  assert.equal(num.fromCategory('room-0'), null);
  assert.equal(num.categoryName(num.require(9, 'room')), 'room-9');
  const r = num.random(() => false);
  assert.ok(Number.isSafeInteger(r) && (r as number) > 0);
  const str = new IdCodec(true);
  assert.equal(str.fromCategory('room-abc'), 'abc');
  assert.equal(str.fromCategory('room-'), null);
  assert.equal(str.parse(42, 'room'), '42');
  assert.throws(() => str.parse(42, 'id'), (e: unknown) => e instanceof VrError && e.code === 430);
  assert.throws(() => str.parse(-1, 'room'), (e: unknown) => e instanceof VrError && e.code === 430);
  let calls = 0;
  const id = str.random(() => ++calls < 3);
  assert.equal(calls, 3, 'retries while taken');
  assert.equal(typeof id, 'string');
});
