import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AudioMixer, FrameClock, JitterBuffer, panGains } from '../../../src/plugins/audiobridge/mixer.js';
import { FakeScheduler } from './harness.js';

const P = (n: number): Buffer => Buffer.from([n & 0xff]);

test('jitter buffer: prebuffers minPackets, then plays in sequence order despite reordering', () => {
  const jb = new JitterBuffer({ frameTs: 960, minPackets: 3 });
  jb.put(101, 960 * 1, P(1));
  assert.equal(jb.pull().kind, 'none');
  jb.put(100, 960 * 0, P(0));
  assert.equal(jb.pull().kind, 'none');
  jb.put(103, 960 * 3, P(3));
  jb.put(102, 960 * 2, P(2));
  const got: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = jb.pull();
    assert.equal(r.kind, 'packet');
    if (r.kind === 'packet') got.push(r.payload[0]!);
  }
  assert.deepEqual(got, [0, 1, 2, 3]);
});

test('jitter buffer: a missing packet gives FEC from the next one, a double gap gives PLC; late/duplicate dropped', () => {
  const jb = new JitterBuffer({ frameTs: 960, minPackets: 2 });
  jb.put(10, 0, P(10));
  jb.put(12, 1920, P(12));
  jb.put(15, 4800, P(15));
  const kinds: string[] = [];
  const payloads: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = jb.pull();
    kinds.push(r.kind);
    if (r.kind === 'packet' || r.kind === 'fec') payloads.push(r.payload[0]!);
  }
  // 10, (11 lost: FEC in 12), 12, (13 lost: 14 missing too → PLC), (14 lost: FEC in 15), 15
  assert.deepEqual(kinds, ['packet', 'fec', 'packet', 'plc', 'fec', 'packet']);
  assert.deepEqual(payloads, [10, 12, 12, 15, 15]);
  assert.equal(jb.put(11, 960, P(11)), false, 'late packet refused');
  jb.put(16, 5760, P(16));
  assert.equal(jb.put(16, 5760, P(16)), false, 'duplicate refused');
  assert.equal(jb.stats.late, 1);
  assert.equal(jb.stats.duplicate, 1);
});

test('jitter buffer: sequence wrap-around, underrun concealment then stop, bounded size', () => {
  const jb = new JitterBuffer({ frameTs: 960, minPackets: 2, maxPackets: 5, plcFrames: 2 });
  jb.put(65535, 0, P(1));
  jb.put(0, 960, P(2));
  assert.equal(jb.pull().kind, 'packet');
  const r = jb.pull();
  assert.ok(r.kind === 'packet' && r.payload[0] === 2, 'seq 0 follows 65535');
  assert.equal(jb.pull().kind, 'plc');
  assert.equal(jb.pull().kind, 'plc');
  assert.equal(jb.pull().kind, 'none', 'stops concealing after plcFrames');
  for (let i = 0; i < 9; i++) jb.put(100 + i, i * 960, P(i));
  assert.equal(jb.size, 5, 'maxPackets enforced');
});

test('jitter buffer: timestamp-aware — a DTX gap in a contiguous sequence plays silence', () => {
  const jb = new JitterBuffer({ frameTs: 960, minPackets: 2 });
  jb.put(1, 0, P(1));
  jb.put(2, 960 * 4, P(2)); // 3 frames not sent (DTX)
  const kinds = [0, 1, 2, 3, 4].map(() => jb.pull().kind);
  assert.deepEqual(kinds, ['packet', 'silence', 'silence', 'silence', 'packet']);
});

test('mixer: mix-minus = everyone but yourself; non-contributors share the full mix', () => {
  const m = new AudioMixer({ sampleRate: 8000, silenceThreshold: 0 });
  const [a, b, c, d] = [m.newSlot(), m.newSlot(), m.newSlot(), m.newSlot()];
  m.begin();
  m.add(a, new Int16Array(160).fill(100));
  m.add(b, new Int16Array(160).fill(20));
  m.add(c, new Int16Array(160).fill(3));
  m.skip(d);
  assert.equal(m.mixFor(a)[0], 23);
  assert.equal(m.mixFor(b)[0], 103);
  assert.equal(m.mixFor(c)[0], 120);
  assert.equal(m.mixFor(d), m.fullMix(), 'same shared buffer');
  assert.equal(m.fullMix()[159], 123);
  assert.equal(m.contributors, 3);
});

test('mixer: volume, 16-bit clipping and the silence gate', () => {
  const m = new AudioMixer({ sampleRate: 16000 });
  const [a, b, q] = [m.newSlot(), m.newSlot(), m.newSlot()];
  m.begin();
  m.add(a, new Int16Array(320).fill(30000));
  m.add(b, new Int16Array(320).fill(20000), 50);
  assert.equal(m.add(q, new Int16Array(320).fill(5)), false, 'below the gate');
  assert.equal(q.contributed, false);
  assert.equal(m.fullMix()[0], 32767, 'clipped high');
  assert.equal(m.mixFor(a)[0], 10000, '50% volume');
  m.begin();
  m.add(a, new Int16Array(320).fill(-30000));
  m.add(b, new Int16Array(320).fill(-30000));
  assert.equal(m.fullMix()[0], -32768, 'clipped low');
});

test('mixer: spatial stereo panning', () => {
  assert.deepEqual(panGains(0), [1, 0]);
  assert.deepEqual(panGains(50), [1, 1]);
  assert.deepEqual(panGains(100), [0, 1]);
  const m = new AudioMixer({ sampleRate: 8000, stereo: true, silenceThreshold: 0 });
  const [l, r, x] = [m.newSlot(), m.newSlot(), m.newSlot()];
  m.begin();
  m.add(l, new Int16Array(160).fill(1000), 100, 0);
  m.add(r, new Int16Array(160).fill(500), 100, 100);
  m.skip(x);
  const full = m.fullMix();
  assert.equal(full.length, 320);
  assert.deepEqual([full[0], full[1]], [1000, 500]);
  const forL = m.mixFor(l);
  assert.deepEqual([forL[0], forL[1]], [0, 500]);
});

test('mixer: unsupported rate refused', () => {
  assert.throws(() => new AudioMixer({ sampleRate: 44100 }));
});

test('frame clock on fake time: 2 s gives exactly 100 frames at their absolute due times', () => {
  const s = new FakeScheduler();
  const at: number[] = [];
  const clock = new FrameClock(() => at.push(s.now()), { scheduler: s });
  clock.start();
  s.advance(2000 + 3, 3); // every timer fires 3 ms late
  clock.stop();
  assert.equal(at.length, 100);
  // Lateness does not accumulate: frame k runs at 20k + 3, never later.
  at.forEach((t, i) => assert.ok(t - (i + 1) * 20 <= 3 + 1e-9, `frame ${i + 1} at ${t}`));
  s.advance(100);
  assert.equal(at.length, 100, 'stopped');
});

test('frame clock catches up after a stall and skips beyond maxCatchUp', () => {
  const s = new FakeScheduler();
  let n = 0;
  const clock = new FrameClock(() => n++, { scheduler: s, maxCatchUp: 10 });
  clock.start();
  s.advance(100);
  assert.equal(n, 5);
  // Busy loop: the timer due at 120 ms fires at 270 ms → frames 6..13 are produced back to back.
  s.advance(300, 150);
  assert.equal(n, 13);
  assert.equal(clock.skipped, 0);
  // A ~1 s stall: the timer due at 280 ms fires at 1280 ms: 51 frames due, 10 produced, 41 skipped.
  s.advance(1200, 1000);
  assert.equal(n, 23);
  assert.equal(clock.skipped, 41);
  clock.stop();
});

test('frame clock in real time: ~3 s of frames on the absolute schedule (no drift)', async () => {
  let n = 0;
  let clock!: FrameClock;
  let maxLate = 0;
  clock = new FrameClock(() => {
    n++;
    maxLate = Math.max(maxLate, performance.now() - clock.dueTime(clock.produced));
  });
  const t0 = performance.now();
  clock.start();
  await new Promise((r) => setTimeout(r, 3000));
  // Every frame due was produced (or, after a stall of over a second on a loaded machine, skipped):
  // the count follows wall time, whatever the timers' lateness. On a loaded machine this test's own
  // timer can fire before the clock's late tick has caught up (seen: 149 of 155 due, 300 ms late), so
  // the count is compared on each of the clock's ticks for up to 2 s more: a clock that drifts falls
  // further behind at every tick and never matches.
  const due = (): number => Math.floor((performance.now() - t0) / 20);
  const end = performance.now() + 2000;
  while (Math.abs(clock.produced + clock.skipped - due()) > 2 && performance.now() < end) await new Promise((r) => setTimeout(r, 5));
  const d = due();
  clock.stop();
  assert.ok(Math.abs(clock.produced + clock.skipped - d) <= 2, `frames ${clock.produced} + skipped ${clock.skipped} vs ${d} due (max lateness ${maxLate.toFixed(1)} ms)`);
  assert.equal(n, clock.produced);
  assert.ok(n >= 100, `frames ${n}`);
});

test('frame clock with defer: frames are produced after pending I/O, and a stop/start in between leaves one timer chain', () => {
  const deferred: Array<() => void> = [];
  class DeferScheduler extends FakeScheduler {
    defer(fn: () => void): void {
      deferred.push(fn);
    }
  }
  const s = new DeferScheduler();
  let n = 0;
  const clock = new FrameClock(() => n++, { scheduler: s });
  clock.start();
  s.advance(20);
  assert.equal(n, 0, 'the timer only schedules the work');
  assert.equal(deferred.length, 1);
  deferred.shift()!();
  assert.equal(n, 1, 'produced once the deferred work runs');
  // Stall: the timer fires 100 ms late; the frames due meanwhile come in one deferred batch.
  s.advance(120, 100); // the timer due at 40 ms fires at 140 ms: frames 2..7 at once
  deferred.shift()!();
  assert.equal(n, 7);
  // stop() + start() while a wake-up is pending: the stale one must not produce or re-arm.
  s.advance(20);
  assert.equal(deferred.length, 1);
  clock.stop();
  clock.start();
  deferred.shift()!();
  assert.equal(n, 7, 'stale wake-up ignored');
  s.advance(20);
  assert.equal(deferred.length, 1, 'exactly one timer chain after restart');
  deferred.shift()!();
  assert.equal(n, 8);
  clock.stop();
});
