/**
 * The worker bus's worker side (src/workers/bus.ts BusEnd) on real shared-memory rings: two ends in
 * one thread stand for two workers, the uplink plays main's relay (the pool tests cover main's side,
 * BusHub, with real worker threads: videoroom-ring, cross-changeroom, textroom-pool).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PluginSession } from '../../src/core/plugin.js';
import { BusEnd, LANE_BYTES, LANE_MAX_AGE_MS, type BusMember } from '../../src/workers/bus.js';
import { createRing } from '../../src/workers/ring.js';

type Msg = { n: number };

interface Seen {
  messages: Array<[number, Msg]>;
  packets: Array<[number, number, number, Buffer]>;
  down: number[];
}

function pair(): { a: BusEnd; b: BusEnd; seenA: Seen; seenB: Seen; forwards: unknown[]; rooms: unknown[] } {
  const ends: BusEnd[] = [];
  const forwards: unknown[] = [];
  const rooms: unknown[] = [];
  const make = (index: number): BusEnd =>
    new BusEnd(index, 2, {
      // main relays in order: here, synchronously to the other end
      send: (to, msg) => ends[to]?.message(index, msg),
      forward: (handleId, route, body, tag) => forwards.push({ from: index, handleId, route, body, tag }),
      roomChanged: (room, here) => rooms.push({ from: index, room, here }),
      home: (s) => (s as PluginSession & { home?: number }).home ?? null,
      live: (s) => (s.alive ? s.handleId : null),
    });
  const a = make(0);
  const b = make(1);
  ends.push(a, b);
  const member = (seen: Seen): BusMember<Msg> => ({
    busMessage: (from, msg) => seen.messages.push([from, msg]),
    busPacket: (from, tag, meta, data, offset, length) => seen.packets.push([from, tag, meta, Buffer.from(data.subarray(offset, offset + length))]),
    busDown: (index) => seen.down.push(index),
  });
  const seenA: Seen = { messages: [], packets: [], down: [] };
  const seenB: Seen = { messages: [], packets: [], down: [] };
  a.attach(member(seenA) as BusMember);
  b.attach(member(seenB) as BusMember);
  return { a, b, seenA, seenB, forwards, rooms };
}

const until = async (what: string, ok: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('control lane: in order to the named worker, never to itself', () => {
  const { a, b, seenA, seenB } = pair();
  for (let n = 0; n < 5; n++) a.send(1, { n });
  a.send(0, { n: 99 });
  b.send(0, { n: 7 });
  assert.deepEqual(seenB.messages, [0, 1, 2, 3, 4].map((n) => [0, { n }]));
  assert.deepEqual(seenA.messages, [[1, { n: 7 }]]);
});

test('packet lane: null until main opens it; records arrive once, in order, with tag, meta and bytes, woken in batches', async () => {
  const { a, b, seenB } = pair();
  assert.equal(a.lane(1), null);
  const sab = createRing(LANE_BYTES);
  // main tells both ends
  a.openLane(0, 1, sab);
  b.openLane(0, 1, sab);
  assert.equal(b.lane(0), null, 'a lane has one direction');
  const lane = a.lane(1)!;
  assert.notEqual(lane, null);
  const buf = Buffer.alloc(1200);
  for (let i = 0; i < 300; i++) {
    buf.fill(i & 0xff, 0, 100 + i);
    assert.equal(lane.write(i, i * 3, buf, 0, 100 + i), true);
  }
  // nothing is delivered synchronously: the consumer is woken once the producer's turn ends
  assert.equal(seenB.packets.length, 0);
  await until('300 records', () => seenB.packets.length === 300);
  for (let i = 0; i < 300; i++) {
    const [from, tag, meta, bytes] = seenB.packets[i]!;
    assert.equal(from, 0);
    assert.equal(tag, i);
    assert.equal(meta, i * 3);
    assert.equal(bytes.length, 100 + i);
    assert.ok(bytes.every((x) => x === (i & 0xff)));
  }
  assert.equal(lane.written, 300);
  assert.equal(lane.dropped, 0);
  a.close();
  b.close();
});

test('packet lane: records older than LANE_MAX_AGE_MS are skipped, the plugin hears it once per tag and keeps what it must, laneCounts counts them', async () => {
  const { a, b, seenB } = pair();
  const stale: Array<[number, number, number, number]> = [];
  // b's plugin: tag 9 is a control record it must get however late
  b.attach({
    busPacket: (from, tag, meta, data, offset, length) => seenB.packets.push([from, tag, meta, Buffer.from(data.subarray(offset, offset + length))]),
    busStale: (from, tag, meta, count) => stale.push([from, tag, meta, count]),
    busKeepStale: (_from, tag) => tag === 9,
  });
  const sab = createRing(LANE_BYTES);
  a.openLane(0, 1, sab);
  b.openLane(0, 1, sab);
  const lane = a.lane(1)!;
  for (let i = 0; i < 20; i++) lane.write(1 + (i % 2), 100 + i, Buffer.alloc(50), 0, 50);
  lane.write(9, 0, Buffer.alloc(4), 0, 4);
  // b's worker gets no turn for longer than the bound (this thread is both workers here).
  const end = performance.now() + LANE_MAX_AGE_MS + 100;
  while (performance.now() < end) {
    // starved
  }
  lane.write(3, 7, Buffer.alloc(50), 0, 50);
  await until('the fresh record', () => seenB.packets.some((p) => p[1] === 3));
  assert.deepEqual(seenB.packets.map((p) => p[1]), [9, 3], 'the kept control record, then the fresh one, in order');
  assert.deepEqual(stale, [
    [0, 1, 100, 10],
    [0, 2, 101, 10],
  ]);
  assert.equal(lane.stale, 20);
  assert.deepEqual(b.laneCounts(), { dropped: 0, stale: 20 });
  // a ring too full for a record: counted as dropped at the consumer's end too
  assert.equal(lane.write(4, 0, Buffer.alloc(LANE_BYTES), 0, LANE_BYTES), false);
  assert.deepEqual(b.laneCounts(), { dropped: 1, stale: 20 });
  // the lane's counts survive its close (counters do not go down)
  b.down(0);
  assert.deepEqual(b.laneCounts(), { dropped: 1, stale: 20 });
  assert.deepEqual(a.laneCounts(), { dropped: 0, stale: 0 }, 'counted at the receiving end only');
  a.close();
  b.close();
});

test('down: the dead worker\'s lanes close on both sides before the plugin hears it', async () => {
  const { a, b, seenA, seenB } = pair();
  const ab = createRing(LANE_BYTES);
  const ba = createRing(LANE_BYTES);
  for (const e of [a, b]) {
    e.openLane(0, 1, ab);
    e.openLane(1, 0, ba);
  }
  const lane = a.lane(1)!;
  a.down(1);
  assert.equal(a.lane(1), null);
  assert.deepEqual(seenA.down, [1]);
  // b's side of b->a is closed by a: b's producer sees it
  assert.equal(b.lane(0)!.closed, true);
  // what a still held of the a->b lane is not delivered to a plugin that was told 1 is gone
  assert.equal(lane.closed, false);
  b.down(0);
  assert.deepEqual(seenB.down, [0]);
  assert.equal(lane.closed, true);
  assert.equal(seenB.packets.length, 0);
});

test('routed requests carry the live handle only; home is what main said', () => {
  const { a, forwards, rooms } = pair();
  const live = { handleId: 5, sessionId: 1, opaqueId: null, token: null, state: undefined, alive: true, home: 1 } as PluginSession & { home: number };
  const dead = { ...live, handleId: 6, alive: false };
  a.forward(live, { kind: 'room', room: '9' }, { request: 'join' }, 't1');
  a.forward(dead, { kind: 'all' }, { request: 'list' }, null);
  a.roomChanged(42, true);
  assert.deepEqual(forwards, [{ from: 0, handleId: 5, route: { kind: 'room', room: '9' }, body: { request: 'join' }, tag: 't1' }]);
  assert.deepEqual(rooms, [{ from: 0, room: '42', here: true }]);
  assert.equal(a.homeOf(live), 1);
});
