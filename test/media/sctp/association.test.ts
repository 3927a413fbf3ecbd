/**
 * CoreSctpAssociation (the SctpCore's glue to the clock) with real time: two associations wired in
 * memory. Messages sent in one tick leave bundled; the one timer per association drives the delayed
 * SACK; close() sends an ABORT the peer honours and stops the timer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreSctpAssociation, type SctpState } from '../../../src/media/sctp/association.js';
import { sctpClock } from '../../../src/media/sctp/clock.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function pair() {
  const wire: Array<() => void> = [];
  const got: string[] = [];
  const sentByA: Buffer[] = [];
  const states: SctpState[] = [];
  let a!: CoreSctpAssociation;
  let b!: CoreSctpAssociation;
  a = new CoreSctpAssociation({ isClient: true }, {
    transmit: (p) => { const c = Buffer.from(p); sentByA.push(c); wire.push(() => b.handlePacket(c)); },
    message: () => {}, streamsReset: () => {}, stateChange: () => {},
  });
  b = new CoreSctpAssociation({ isClient: false }, {
    transmit: (p) => { const c = Buffer.from(p); wire.push(() => a.handlePacket(c)); },
    message: (_sid, _ppid, d) => got.push(d.toString()), streamsReset: () => {}, stateChange: (s) => states.push(s),
  });
  const pump = async (until: () => boolean, ms = 5000): Promise<boolean> => {
    const t0 = Date.now();
    while (!until() && Date.now() - t0 < ms) {
      for (const f of wire.splice(0)) f();
      await tick();
    }
    return until();
  };
  return { a, b, got, sentByA, states, pump };
}

test('CoreSctpAssociation: connects, bundles a tick of sends into few packets, closes with ABORT', async () => {
  const { a, b, got, sentByA, states, pump } = pair();
  a.start();
  b.start();
  assert.ok(await pump(() => a.state === 'connected' && b.state === 'connected'));
  const before = sentByA.length;
  for (let i = 0; i < 40; i++) assert.ok(a.send(1, 51, Buffer.from(`{"textroom":"message","n":${i}}`), { ordered: true }));
  assert.equal(sentByA.length, before, 'send() only queues');
  await Promise.resolve();
  const packets = sentByA.length - before;
  assert.ok(packets >= 1 && packets <= 2, `${packets} packets for 40 messages`);
  assert.ok(await pump(() => got.length === 40));
  assert.deepEqual(got.map((m) => JSON.parse(m).n), Array.from({ length: 40 }, (_, i) => i));
  // A lone message: its SACK comes from b's timer (delayed SACK), which the pump does not drive.
  a.send(1, 51, Buffer.from('lone'), { ordered: true });
  assert.ok(await pump(() => a.core.bufferedAmount === 0, 3000), 'acknowledged through the delayed-SACK timer');
  a.close();
  assert.equal(a.state, 'closed');
  assert.ok(await pump(() => b.state === 'closed'));
  assert.equal(states.at(-1), 'closed');
  assert.equal(a.clockAt, Infinity, 'no deadline left behind');
  b.close();
  assert.equal(b.clockAt, Infinity);
  assert.equal(sctpClock.pending, 0, 'the shared clock holds no timer for closed associations');
});
