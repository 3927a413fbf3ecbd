/**
 * A worker's direct links to the other workers (src/workers/peer-links.ts) on real MessageChannels:
 * two PeerLinks in one thread stand for two workers (the pool tests, textroom-pool and
 * textroom-three-workers, cover main's wiring with real threads and restarts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { PeerLinks } from '../../src/workers/peer-links.js';

const until = async (what: string, ok: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

function pair() {
  const seenA: Array<[number, string, unknown]> = [];
  const seenB: Array<[number, string, unknown]> = [];
  const a = new PeerLinks((from, pkg, msg) => seenA.push([from, pkg, msg]));
  const b = new PeerLinks((from, pkg, msg) => seenB.push([from, pkg, msg]));
  const { port1, port2 } = new MessageChannel();
  a.set(1, port1);
  b.set(0, port2);
  return { a, b, seenA, seenB };
}

test('posts arrive at the other end once, in order, with the sender and the plugin; none to a worker without a link', async () => {
  const { a, b, seenA, seenB } = pair();
  try {
    for (let n = 0; n < 50; n++) assert.equal(a.post(1, n % 2 ? 'p.odd' : 'p.even', { n }), true);
    assert.equal(b.post(0, 'p', 'back'), true);
    assert.equal(a.post(2, 'p', 'nobody'), false, 'no link to worker 2');
    assert.equal(a.posted, 50);
    await until('50 posts at b', () => seenB.length === 50);
    assert.deepEqual(seenB, Array.from({ length: 50 }, (_, n) => [0, n % 2 ? 'p.odd' : 'p.even', { n }]));
    await until('1 post at a', () => seenA.length === 1);
    assert.deepEqual(seenA, [[1, 'p', 'back']]);
  } finally {
    a.close();
    b.close();
  }
});

test('a link whose other end closes (its thread ended) is forgotten; a new link replaces an old one; drop', async () => {
  const { a, b, seenB } = pair();
  try {
    // b's thread "ends": its end closes, a hears it and stops posting into the void.
    b.close();
    await until('a forgets the dead link', () => !a.has(1));
    assert.equal(a.post(1, 'p', 1), false);
    // Main wires a new worker 1: a new channel, the old one (if a still had it) closed.
    const b2Seen: unknown[] = [];
    const b2 = new PeerLinks((_from, _pkg, msg) => b2Seen.push(msg));
    const { port1, port2 } = new MessageChannel();
    a.set(1, port1);
    b2.set(0, port2);
    assert.equal(a.post(1, 'p', 'hello'), true);
    await until('the new worker 1 gets it', () => b2Seen.length === 1);
    assert.deepEqual(b2Seen, ['hello']);
    assert.equal(seenB.length, 0, 'nothing reached the old worker 1');
    // Replacing a live link closes the old one (both ends hear it).
    const { port1: p3, port2: p4 } = new MessageChannel();
    a.set(1, p3);
    await until('the replaced link is closed at the far end', () => !b2.has(0));
    p4.close();
    await until('a forgets the link whose far end closed', () => !a.has(1));
    // drop: the link is gone at once.
    const { port1: p5, port2: p6 } = new MessageChannel();
    a.set(1, p5);
    a.drop(1);
    assert.equal(a.has(1), false);
    assert.equal(a.post(1, 'p', 'x'), false);
    p6.close();
    b2.close();
  } finally {
    a.close();
  }
});

test('garbage on a link (not a [package, message] pair) is ignored', async () => {
  const seen: unknown[] = [];
  const a = new PeerLinks((_f, _p, msg) => seen.push(msg));
  const { port1, port2 } = new MessageChannel();
  a.set(1, port1);
  try {
    for (const junk of [null, 42, 'x', [1, 2], ['p'], ['p', 1, 2], { 0: 'p', 1: 'm' }]) port2.postMessage(junk);
    port2.postMessage(['p', 'ok']);
    await until('the good one', () => seen.length === 1);
    assert.deepEqual(seen, ['ok']);
  } finally {
    a.close();
    port2.close();
  }
});
