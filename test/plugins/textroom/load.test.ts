import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, type Client } from './harness.js';

test('50 participants x 20 messages: each message reaches every participant exactly once, in order per sender', async () => {
  const h = await Harness.start();
  const N = 50;
  const M = 20;
  const clients: Client[] = [];
  for (let i = 0; i < N; i++) {
    const c = h.client();
    c.join(1234, `u${i}`);
    clients.push(c);
  }
  for (const c of clients) c.drain(); // join events of later joiners
  // Interleave senders, the way concurrent clients would arrive.
  for (let m = 0; m < M; m++) {
    for (let i = 0; i < N; i++) clients[(i + m) % N]!.request({ textroom: 'message', room: 1234, text: `u${(i + m) % N}:${m}`, ack: false });
  }
  for (const [r, c] of clients.entries()) {
    const got = c.drain();
    assert.ok(got.every((f) => f.textroom === 'message'), `receiver ${r} only got messages`);
    const perSender = new Map<string, number[]>();
    for (const f of got) {
      const [from, seq] = (f.text as string).split(':');
      assert.equal(f.from, from);
      if (!perSender.has(from!)) perSender.set(from!, []);
      perSender.get(from!)!.push(Number(seq));
    }
    assert.equal(perSender.size, N, `receiver ${r} heard from all ${N} senders`);
    for (const [from, seqs] of perSender) {
      assert.deepEqual(seqs, Array.from({ length: M }, (_, k) => k), `receiver ${r}: ${from}'s messages once each, in order`);
    }
  }
  assert.equal(h.plugin.room(1234)!.participants.size, N);
  await h.stop();
});
