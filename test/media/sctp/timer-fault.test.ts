/**
 * The association's one timer runs from setTimeout, outside any caller's try/catch. A throw from the
 * core there (or from packet input) must reach the association's `fault` event (the Peer hangs up that
 * PeerConnection), never the process (uncaughtException).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreSctpAssociation } from '../../../src/media/sctp/association.js';

test('a throw from the SCTP core in its timer or on input is reported to the owner, not thrown', async () => {
  const faults: unknown[] = [];
  const escaped: unknown[] = [];
  const onEscape = (e: unknown): void => void escaped.push(e);
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  try {
    const sent: Buffer[] = [];
    const assoc = new CoreSctpAssociation({ isClient: true }, {
      transmit: (p) => void sent.push(Buffer.from(p)),
      message: () => {},
      streamsReset: () => {},
      stateChange: () => {},
      fault: (err) => void faults.push(err),
    });
    assoc.start();
    assert.equal(sent.length, 1, 'the INIT went out');
    // Broken internal state: the T1 timer (armed for the INIT) polls the core, which now throws.
    const core = assoc.core as unknown as { poll(now: number): unknown; handle(p: Buffer, now: number): void };
    core.poll = () => { throw new TypeError('poll broke'); };
    (assoc.core as unknown as { t1At: number }).t1At = 0;
    (assoc as unknown as { arm(at: number): void }).arm(0);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(faults.length, 1, String(faults));
    assert.ok(faults[0] instanceof TypeError);
    core.handle = () => { throw new RangeError('handle broke'); };
    assert.doesNotThrow(() => assoc.handlePacket(Buffer.alloc(64)));
    assert.equal(faults.length, 2);
    assert.deepEqual(escaped, []);
    assoc.close();
  } finally {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  }
});
