/**
 * AudioBridge across workers, on a lane that went stale (bus.ts LANE_MAX_AGE_MS): audio frames may be
 * skipped (the decoder conceals, the home side numbers on), the records that change a participant's
 * state (Gone, Meta) are sent once and must arrive however late.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrossKind, keepStale } from '../../../src/plugins/audiobridge/cross-worker.js';

/** meta as sendTo packs it: high bits of the handle id, the kind, the payload type. */
const meta = (kind: CrossKind, handleHigh = 0x1abcd, pt = 111): number => ((handleHigh & 0x1fffff) | (kind << 21) | ((pt & 0xff) << 24)) >>> 0;

test('stale audio frames may be skipped; Gone and Meta are always delivered', () => {
  assert.equal(keepStale(meta(CrossKind.Up)), false);
  assert.equal(keepStale(meta(CrossKind.Down, 0, 0)), false);
  assert.equal(keepStale(meta(CrossKind.Gone, 0x1fffff, 0)), true);
  assert.equal(keepStale(meta(CrossKind.Meta, 5, 255)), true);
});
