import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pacer, PACE_AUDIO, PACE_RTX, PACE_VIDEO, PACER_DROP, PACER_IDLE, PACER_SEND } from '../../../src/media/cc/index.js';

/** A packet handed to the pacer: its own buffer (the pacer keeps references, never copies). */
function pkt(tag: number, len = 1200): Buffer {
  const b = Buffer.alloc(len);
  b.writeUInt32BE(tag, 0);
  return b;
}

interface Departure {
  tag: number;
  at: number;
  len: number;
  kind: number;
}

/**
 * Virtual time: offer packets (trySend, else enqueue) and serve the pacer whenever it asks
 * (nextSendAt), in 0.1 ms steps; returns what left and when.
 */
class Harness {
  now = 0;
  readonly out: Departure[] = [];
  readonly dropped: number[] = [];
  constructor(readonly p: Pacer) {}

  offer(kind: number, tag: number, len = 1200): void {
    const b = pkt(tag, len);
    if (this.p.trySend(kind, len, this.now)) this.out.push({ tag, at: this.now, len, kind });
    else {
      const d = this.p.enqueue(kind, b, len, this.now);
      if (d !== null) this.dropped.push(d.readUInt32BE(0));
    }
  }

  /** Advance to `until` (ms), serving the pacer at the times it asks for. */
  runTo(until: number): void {
    while (this.now <= until) {
      const at = this.p.nextSendAt(this.now);
      if (at <= this.now) {
        this.serve();
        const again = this.p.nextSendAt(this.now);
        if (again <= this.now) {
          // Nothing more it can do at this instant (stale deadline, float slack): step on.
          this.now = Math.round((this.now + 0.1) * 10) / 10;
        }
        continue;
      }
      if (at > until) {
        this.now = until + 0.1;
        return;
      }
      this.now = Math.max(at, Math.round((this.now + 0.1) * 10) / 10);
    }
  }

  serve(): void {
    for (let r = this.p.poll(this.now); r !== PACER_IDLE; r = this.p.poll(this.now)) {
      const b = this.p.buf!;
      if (r === PACER_DROP) this.dropped.push(b.readUInt32BE(0));
      else {
        assert.equal(r, PACER_SEND);
        this.out.push({ tag: b.readUInt32BE(0), at: this.now, len: this.p.len, kind: this.p.kind });
      }
    }
  }
}

/** Feed `ms` of steady input at `bps` (1200-byte packets) so the pacer has seen two 1 s windows. */
function warm(h: Harness, bps: number, ms: number, kind = PACE_VIDEO): void {
  const gap = (1200 * 8000) / bps;
  const end = h.now + ms;
  for (let t = h.now; t < end; t += gap) {
    h.runTo(t);
    h.offer(kind, 0);
  }
}

test('a burst is spread: the first ~40 ms of it at 2.5x the estimate, the rest at the estimate', () => {
  const p = new Pacer({ burstMs: 40 });
  const h = new Harness(p);
  p.setEstimate(1_000_000, 0);
  assert.equal(p.rateBps, 2_500_000);
  // A 60 kB keyframe in one instant (50 packets).
  for (let i = 1; i <= 50; i++) h.offer(PACE_VIDEO, i);
  h.runTo(2000);
  const kf = h.out.filter((d) => d.tag > 0);
  assert.equal(kf.length, 50);
  assert.deepEqual(kf.map((d) => d.tag), [...Array(50).keys()].map((i) => i + 1), 'in order');
  // Never faster than the peak rate, give or take one batch (5 ms of it) and a packet: over any
  // 20 ms at most 2.5 Mbit/s x 25 ms + 1200 B.
  for (const d of kf) {
    const bytes = kf.filter((x) => x.at >= d.at && x.at < d.at + 20).reduce((a, x) => a + x.len, 0);
    assert.ok(bytes <= (2_500_000 * 25) / 8000 + 1200, `${bytes} B in the 20 ms from ${d.at}`);
  }
  // 60 kB at 1 Mbit/s is 480 ms; the burst allowance (40 ms of it, 5 kB) goes first at the peak.
  const span = kf[49]!.at - kf[0]!.at;
  assert.ok(span >= 400 && span <= 500, `spread over ${span} ms`);
  // What the link sees over any 100 ms once the allowance is spent: about the estimate.
  const late = kf.filter((d) => d.at >= 100 && d.at < 200).reduce((s, d) => s + d.len, 0);
  assert.ok(late * 80 <= 1_150_000, `${late * 80} bps between 100 and 200 ms`);
  assert.equal(p.queuedPackets, 0);
  assert.equal(h.dropped.length, 0);
});

test('batches: one wake-up sends ~5 ms of the rate, not one packet; a frame within a batch is not queued at all', () => {
  // 4 Mbit/s: peak 10 Mbit/s, a batch of 5 ms of it is ~6 kB (5 packets of 1200 B).
  const p = new Pacer({ burstMs: 40 });
  const h = new Harness(p);
  p.setEstimate(4_000_000, 0);
  for (let i = 1; i <= 50; i++) h.offer(PACE_VIDEO, i);
  h.runTo(1000);
  assert.equal(h.out.length, 50);
  const wakeups = new Set(h.out.map((d) => d.at)).size;
  assert.ok(wakeups <= 14, `60 kB left in ${wakeups} wake-ups (one per packet unbatched: 50)`);
  const span = h.out[49]!.at - h.out[0]!.at;
  assert.ok(span >= 40, `still spread: ${span} ms`);
  // The echo benchmark's pattern: three 1 kB packets every 10 ms (2.4 Mbit/s) under a 3 Mbit/s estimate.
  const q = new Pacer();
  const g = new Harness(q);
  q.setEstimate(3_000_000, 0);
  for (let t = 0; t < 2000; t += 10) {
    g.runTo(t);
    for (let k = 0; k < 3; k++) g.offer(PACE_VIDEO, t * 10 + k, 1000);
  }
  g.runTo(2100);
  assert.equal(g.out.length, 600);
  assert.equal(q.queued, 0, 'no packet of a 3 kB frame waits: it is within one batch');
});

test('audio is never queued behind video: it leaves the instant it comes', () => {
  const p = new Pacer();
  const h = new Harness(p);
  p.setEstimate(500_000, 0);
  for (let i = 1; i <= 40; i++) h.offer(PACE_VIDEO, i);
  assert.ok(p.queuedPackets > 30);
  // 20 ms audio packets during the burst.
  for (let t = 0; t <= 400; t += 20) {
    h.runTo(t);
    const before = h.out.length;
    h.offer(PACE_AUDIO, 1000 + t, 120);
    const a = h.out[before];
    assert.ok(a !== undefined && a.tag === 1000 + t && a.at === h.now, `audio at ${t} left at once`);
  }
  h.runTo(2000);
  assert.equal(h.out.filter((d) => d.kind === PACE_AUDIO).length, 21);
  // The video behind it still arrives complete and in order.
  assert.deepEqual(h.out.filter((d) => d.kind === PACE_VIDEO).map((d) => d.tag), [...Array(40).keys()].map((i) => i + 1));
});

test('priorities: queued video before retransmissions; a retransmission never overtakes queued ones', () => {
  const p = new Pacer();
  const h = new Harness(p);
  p.setEstimate(300_000, 0);
  for (let i = 1; i <= 10; i++) h.offer(PACE_VIDEO, i);
  h.offer(PACE_RTX, 100);
  h.offer(PACE_RTX, 101);
  h.offer(PACE_VIDEO, 11);
  h.runTo(3000);
  const order = h.out.map((d) => d.tag);
  assert.ok(order.indexOf(11) < order.indexOf(100), `video first: ${order.join(' ')}`);
  assert.ok(order.indexOf(100) < order.indexOf(101));
  assert.equal(order.length, 13);
});

test('bounded queue: a full ring drops its oldest video; stale video is dropped, audio never', () => {
  const p = new Pacer({ capacity: 16, maxDelayMs: 200, drainMs: 1e9 });
  const h = new Harness(p);
  p.setEstimate(100_000, 0);
  for (let i = 1; i <= 40; i++) h.offer(PACE_VIDEO, i);
  assert.equal(p.queuedPackets, 16, 'the ring holds 16');
  assert.ok(h.dropped.length >= 40 - 16 - 2 && h.dropped[0] !== 40, `dropped oldest first: ${h.dropped.join(' ')}`);
  for (let t = 0; t <= 1000; t += 20) {
    h.runTo(t);
    h.offer(PACE_AUDIO, 5000 + t, 100);
  }
  // 100 kbit/s cannot carry 16 x 1200 B within 200 ms: the rest went stale and was dropped.
  assert.equal(p.queuedPackets, 0);
  const video = h.out.filter((d) => d.kind === PACE_VIDEO);
  assert.ok(video.length < 16 && video.length >= 1, `${video.length} sent`);
  assert.equal(h.out.filter((d) => d.kind === PACE_AUDIO).length, 51, 'every audio packet left');
  assert.equal(p.dropped, h.dropped.length);
  for (const d of h.dropped) assert.ok(d < 5000, 'no audio dropped');
});

test('the queue is drained within drainMs even when the estimate is far too low', () => {
  const p = new Pacer({ drainMs: 500 });
  const h = new Harness(p);
  p.setEstimate(100_000, 0);
  for (let i = 1; i <= 100; i++) h.offer(PACE_VIDEO, i); // 120 kB: 9.6 s at the estimate
  h.runTo(1000);
  assert.equal(h.out.length, 100, `${h.out.length} sent within 1 s`);
  assert.equal(h.dropped.length, 0);
});

test('rate change: a lower estimate slows the queue at once, a higher one speeds it up', () => {
  const p = new Pacer({ burstMs: 0, drainMs: 1e9, maxDelayMs: 1e9 });
  const h = new Harness(p);
  p.setEstimate(2_000_000, 0);
  for (let i = 1; i <= 200; i++) h.offer(PACE_VIDEO, i);
  h.runTo(100);
  const fast = h.out.length;
  // 2 Mbit/s for 100 ms: ~21 packets of 1200 B.
  assert.ok(fast >= 19 && fast <= 23, `${fast} at 2 Mbit/s`);
  p.setEstimate(500_000, h.now);
  h.runTo(300);
  const slow = h.out.length - fast;
  assert.ok(slow >= 9 && slow <= 12, `${slow} in 200 ms at 500 kbit/s`);
  p.setEstimate(4_000_000, h.now);
  h.runTo(400);
  const faster = h.out.length - fast - slow;
  assert.ok(faster >= 39 && faster <= 43, `${faster} in 100 ms at 4 Mbit/s`);
});

test('no estimate: nothing is held (Janus behaviour until there is something to pace by)', () => {
  const p = new Pacer();
  const h = new Harness(p);
  for (let i = 1; i <= 50; i++) h.offer(PACE_VIDEO, i);
  assert.equal(h.out.length, 50);
  assert.equal(p.queuedPackets, 0);
  assert.equal(p.rateBps, 0);
});

test('the base rate is never below what comes in: a steady stream above the estimate is not delayed', () => {
  const p = new Pacer({ burstMs: 0 });
  const h = new Harness(p);
  p.setEstimate(300_000, 0);
  warm(h, 1_000_000, 3000);
  h.runTo(3100);
  // After two windows the base follows the 1 Mbit/s input: the queue stays short.
  const before = h.out.length;
  warm(h, 1_000_000, 2000);
  h.runTo(5200);
  assert.ok(p.baseBps >= 900_000, `base ${p.baseBps}`);
  assert.ok(h.out.length - before >= 200, `${h.out.length - before} of ~208 left`);
  p.resetMaxWait();
  warm(h, 1_000_000, 1000);
  assert.ok(p.maxWaitMs < 30, `wait ${p.maxWaitMs} ms`);
});

test('input checks: odd lengths and times do not break the pacer', () => {
  const p = new Pacer();
  p.setEstimate(-5, 0);
  assert.equal(p.rateBps, 0);
  p.setEstimate(Number.NaN, 0);
  assert.ok(p.trySend(PACE_VIDEO, 0, 0));
  p.setEstimate(1_000_000, 1);
  assert.ok(p.trySend(PACE_VIDEO, 1200, 0.5), 'time going backwards is taken as no time');
  assert.equal(p.poll(0), PACER_IDLE);
  assert.equal(p.nextSendAt(0), Infinity);
});
