/**
 * The media plane forgets a handle once it is gone: after attach / offer / detach cycles (with and
 * without a PeerConnection, and a detach while the PeerConnection is still being created) it keeps no
 * per-handle entry. A drop-generation map used to keep one entry for every handle ever detached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHROME_OFFER } from '../../plugins/echotest/chrome-offer.js';
import { makeWorld } from '../peer/helpers.js';

test('no per-handle bookkeeping is left after handles come and go', { timeout: 30_000 }, async () => {
  const w = await makeWorld();
  try {
    for (let i = 0; i < 12; i++) {
      const [s, h] = await w.attachEcho();
      if (i % 3 === 1) {
        const r = await w.req({ janus: 'message', session_id: s, handle_id: h, body: { audio: true, video: true }, jsep: { type: 'offer', sdp: CHROME_OFFER } });
        assert.notEqual(r.janus, 'error', JSON.stringify(r).slice(0, 300));
      } else if (i % 3 === 2) {
        // Detach while the PeerConnection for the offer is still being created.
        void w.req({ janus: 'message', session_id: s, handle_id: h, body: { audio: true }, jsep: { type: 'offer', sdp: CHROME_OFFER } });
      }
      await w.req({ janus: 'destroy', session_id: s });
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(w.plane.peerCount, 0);
    assert.equal(w.plane.portsInUse, 0);
    assert.equal(w.plane.trackedHandles, 0);
  } finally {
    await w.stop();
  }
});
