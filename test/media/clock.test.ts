/**
 * The thread clock (src/media/clock.ts) with a coarse grain for far deadlines, as the PeerConnections
 * use it: deadlines a quarter second or more away are rounded up to 50 ms, so many PeerConnections'
 * once-a-second housekeeping shares wake-ups; near deadlines keep a 1 ms grain. Never early, each once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { ThreadClock, type ClockClient } from '../../src/media/clock.js';

class Client implements ClockClient {
  clockAt = Infinity;
  fired: number[] = [];
  onClock(): void {
    this.fired.push(performance.now());
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('rounding: near deadlines to 1 ms, those 250 ms or more away to 50 ms, Infinity stays', () => {
  const clock = new ThreadClock({ grainMs: 1, coarseAfterMs: 250, coarseGrainMs: 50 });
  const now = performance.now();
  const near = now + 10.3;
  assert.equal(clock.round(near), Math.ceil(near));
  const far = now + 1000.3;
  const r = clock.round(far);
  assert.ok(r >= far && r - far < 50 && r % 50 === 0, `far ${far} -> ${r}`);
  assert.equal(clock.round(Infinity), Infinity);
  // Without a coarse grain (the SCTP clock) everything keeps the fine grain.
  const fine = new ThreadClock({ grainMs: 8 });
  assert.equal(fine.round(far), Math.ceil(far / 8) * 8);
});

test('100 once-a-second deadlines spread over a second: each fires once, never early, a couple of dozen wake-ups for all', async () => {
  const clock = new ThreadClock({ grainMs: 1, coarseAfterMs: 250, coarseGrainMs: 50 });
  const t0 = performance.now();
  const cs = Array.from({ length: 100 }, () => new Client());
  const due = cs.map((_, i) => t0 + 300 + i * 10 + Math.random() * 5); // like 100 PeerConnections' RTCP reports
  cs.forEach((c, i) => clock.set(c, due[i]!));
  assert.equal(clock.pending, 100);
  await sleep(1400 + 60);
  await sleep(50);
  cs.forEach((c, i) => {
    assert.equal(c.fired.length, 1, `client ${i} fired ${c.fired.length} times`);
    assert.ok(c.fired[0]! >= due[i]!, `client ${i} fired ${due[i]! - c.fired[0]!} ms early`);
  });
  // About one wake-up per 50 ms bucket (~21), not 100. A few more are possible: a Node timer may fire
  // up to a millisecond before its bucket (integer-ms timers against performance.now()), and that
  // wake-up finds nothing due and re-arms (seen once in CI: 24).
  assert.ok(clock.wakeups <= 30, `${clock.wakeups} wake-ups for 100 deadlines over 1 s`);
  assert.equal(clock.pending, 0);
});

test('a near deadline is not held back by the coarse grain', async () => {
  const clock = new ThreadClock({ grainMs: 1, coarseAfterMs: 250, coarseGrainMs: 50 });
  const c = new Client();
  const far = new Client();
  const t0 = performance.now();
  clock.set(far, t0 + 1000);
  clock.set(c, t0 + 20);
  // A plain timer due 30 ms later than the near deadline: the clock's (earlier, same loop) runs first.
  const refAt = await new Promise<number>((r) => setTimeout(() => r(performance.now()), 50));
  assert.equal(c.fired.length, 1);
  assert.ok(c.fired[0]! >= t0 + 20 && c.fired[0]! <= refAt, `fired at +${(c.fired[0]! - t0).toFixed(1)} ms, the 50 ms timer at +${(refAt - t0).toFixed(1)}`);
  assert.equal(far.fired.length, 0);
  clock.set(far, Infinity);
  assert.equal(clock.pending, 0);
});
