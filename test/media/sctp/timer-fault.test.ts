/**
 * werift's SCTP timers run from setTimeout, outside any caller's try/catch. A throw or a rejection in
 * one must reach the association's `fault` event (the Peer hangs up that PeerConnection), never the
 * process (uncaughtException / unhandledRejection).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeriftSctpAssociation } from '../../../src/media/sctp/association.js';

test('a throwing or rejecting werift SCTP timer is reported to the owner, not thrown', async () => {
  const faults: unknown[] = [];
  const escaped: unknown[] = [];
  const onEscape = (e: unknown): void => void escaped.push(e);
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  try {
    const assoc = new WeriftSctpAssociation({ isClient: true }, {
      transmit: () => {},
      message: () => {},
      streamsReset: () => {},
      stateChange: () => {},
      fault: (err) => void faults.push(err),
    });
    const werift = (assoc as unknown as { sctp: Record<string, unknown> }).sctp;
    // Broken internal state: timer3 walks sentQueue; setTimeout calls the property werift reads.
    werift.sentQueue = undefined;
    setTimeout(werift.timer3Expired as () => void, 0);
    // An async timer that rejects (reconfiguration retransmit with a broken request).
    werift.reconfigRequest = {};
    werift.sendReconfigParam = async () => {
      throw new Error('reconfig broke');
    };
    setTimeout(werift.timerReconfigHandleExpired as () => void, 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(faults.length, 2, String(faults));
    assert.ok(faults.some((e) => e instanceof TypeError), 'the synchronous throw');
    assert.ok(faults.some((e) => e instanceof Error && e.message === 'reconfig broke'), 'the rejection');
    assert.deepEqual(escaped, []);
    assoc.close();
  } finally {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  }
});
