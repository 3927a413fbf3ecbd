/**
 * The transport-cc send history is sized to the packet rate (issue 12, memory per webinar subscriber):
 * a PeerConnection sending 30 packets/s holds a small ring, one sending thousands grows it, every packet
 * within the feedback window stays matchable at any rate, and the ring never exceeds MAX_RING.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FeedbackBatch, SendHistory } from '../../../src/media/cc/index.js';
import { FEEDBACK_WINDOW_MS, MAX_RING } from '../../../src/media/cc/send-history.js';
import { TransportCcFeedback, TwccStatus } from '../../../src/media/rtcp/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function arrayBuffersNow(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

/** A feedback saying every packet in [base, base + count) arrived, 1 ms apart. */
function allReceived(base: number, count: number): TransportCcFeedback {
  const fb = new TransportCcFeedback();
  fb.ensure(count);
  fb.baseSeq = base & 0xffff;
  fb.count = count;
  fb.referenceTime = 1;
  for (let k = 0; k < count; k++) {
    fb.status[k] = TwccStatus.SmallDelta;
    fb.deltaUs[k] = 1000;
  }
  return fb;
}

test('a session sending 30 packets/s keeps a send history of a few kB, not 128 kB', () => {
  const N = 50;
  const before = arrayBuffersNow();
  const keep: SendHistory[] = [];
  for (let i = 0; i < N; i++) {
    const h = new SendHistory(i * 1000);
    // 60 s of a webinar subscriber's video at 30 packets/s
    for (let k = 0; k < 1800; k++) h.onSent(k * 33.3, 1000);
    keep.push(h);
  }
  const per = (arrayBuffersNow() - before) / N;
  assert.equal(keep.length, N);
  assert.ok(per < 8 * 1024, `${Math.round(per)} bytes per history`);
  assert.ok(keep[0]!.capacity <= 256, `capacity ${keep[0]!.capacity}`);
  // And the last second's packets are all still there.
  const h = keep[0]!;
  const b = new FeedbackBatch();
  assert.equal(h.match(allReceived(1800 - 30, 30), b), 30);
});

test('the ring grows with the rate: at 2000 packets/s every packet of the feedback window stays matchable, across the 16-bit wrap', () => {
  const first = 65000;
  const h = new SendHistory(first);
  const pps = 2000;
  const total = pps * 6;
  for (let k = 0; k < total; k++) h.onSent(k * (1000 / pps), 1200, k % 7);
  assert.ok(h.grown > 0);
  const windowPackets = (FEEDBACK_WINDOW_MS / 1000) * pps;
  assert.ok(h.capacity >= Math.min(windowPackets, MAX_RING), `capacity ${h.capacity} for ${windowPackets} packets in the window`);
  assert.ok(h.capacity <= MAX_RING);
  // A feedback about the oldest packets the ring holds (sent ~4 s ago) matches all of them.
  const b = new FeedbackBatch();
  const held = Math.min(windowPackets, h.capacity);
  const base = first + total - held + 1;
  assert.equal(h.match(allReceived(base, 500), b), 500);
  // Send times and clusters survive the moves.
  const k0 = total - held + 1;
  assert.equal(b.sendMs[0], k0 * (1000 / pps));
  assert.equal(b.cluster[0], k0 % 7);
  assert.equal(b.size[499], 1200);
  // Packets older than the ring: not matched (not stale data from a reused slot).
  assert.equal(h.match(allReceived(first, 10), b), 0);
  assert.equal(h.unmatched, 1);
});

test('the ring stops at MAX_RING whatever the rate', () => {
  const h = new SendHistory(0);
  // 100k packets/s for 1 s: far more than the window's worth of any real PeerConnection
  for (let k = 0; k < 100_000; k++) h.onSent(k / 100, 100);
  assert.equal(h.capacity, MAX_RING);
  const b = new FeedbackBatch();
  // The last MAX_RING packets are there, the one before them is not.
  const last = (100_000 - 1) & 0xffff;
  assert.equal(h.match(allReceived(last - MAX_RING + 1, MAX_RING), b), MAX_RING);
  assert.equal(h.match(allReceived(last - MAX_RING, 1), b), 0);
});

test('the window follows late feedback: a feedback naming a packet already dropped widens it, and later packets stay that long', () => {
  const h = new SendHistory(0);
  const pps = 100;
  let k = 0;
  const send = (seconds: number) => {
    for (const end = k + seconds * pps; k < end; k++) h.onSent(k * 10, 1000);
  };
  send(6);
  assert.equal(h.windowMs, FEEDBACK_WINDOW_MS);
  const b = new FeedbackBatch();
  // A queue of ~5.5 s: the packet is gone from a 4 s window (the ring held 512 packets, 5.1 s).
  assert.equal(h.match(allReceived(k - 550, 1), b), 0);
  assert.ok(h.windowMs >= 2 * FEEDBACK_WINDOW_MS, `window ${h.windowMs}`);
  send(10);
  // Packets 7 s old are still there now.
  assert.equal(h.match(allReceived(k - 700, 10), b), 10);
  // The window is bounded (at 10 s), and so is the ring.
  for (let i = 0; i < 10; i++) h.match(allReceived(k - 5000, 1), b);
  assert.ok(h.windowMs <= 10_000);
  assert.ok(h.capacity <= MAX_RING);
});
