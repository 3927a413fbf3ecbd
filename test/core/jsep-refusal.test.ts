/**
 * A plugin JSEP the media plane refuses (over the SDP limits, or unusable) must reach the client as an
 * error: the plugin's event turned into `{"<plugin>":"event","error_code":465,...}` for an asynchronous
 * reply (the client already had its ack), error 465 for a synchronous one. Before, the event was dropped
 * (or sent without its JSEP) and the client waited forever.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, JanusError } from '../../src/core/errors.js';
import type { Jsep } from '../../src/core/jsep.js';
import { PassThroughMediaPlane, type MediaPlane } from '../../src/core/media-plane.js';
import type { JanusMessage } from '../../src/core/messages.js';
import { OFFER_SDP } from './echo-plugin.js';
import { makeGateway, waitFor } from './helpers.js';

const REASON = 'Invalid SDP (our answer is too large (2000000 characters; media.max_sdp_size is 1048576))';

function refusingPlane(mode: 'sync' | 'async'): MediaPlane & { hungUp: number } {
  const plane = Object.assign(new PassThroughMediaPlane(), {
    hungUp: 0,
    localJsep(_h: unknown, _j: Jsep): Jsep | Promise<Jsep> {
      const err = new JanusError(ErrorCode.JSEP_INVALID_SDP, REASON);
      if (mode === 'sync') throw err;
      return Promise.reject(err);
    },
    hangup(): void {
      plane.hungUp++;
    },
  });
  return plane;
}

for (const mode of ['sync', 'async'] as const) {
  test(`a refused plugin answer (${mode} media plane): ack, then the plugin's error event with 465`, async () => {
    const media = refusingPlane(mode);
    const { gw, req, session, attach, client, plugin } = await makeGateway(undefined, { mediaPlane: media });
    try {
      const s = await session();
      const h = await attach(s);
      const r = await req({ janus: 'message', session_id: s, handle_id: h, transaction: 'pub', body: { request: 'async' }, jsep: { type: 'offer', sdp: OFFER_SDP } });
      assert.equal(r.janus, 'ack');
      // The event follows the ack asynchronously (after the plane's refusal): wait for it, not a fixed time.
      const ev = await waitFor("the plugin event after the ack", () => client.events.find((e) => e.transaction === 'pub'));
      const name = plugin.package.slice(plugin.package.lastIndexOf('.') + 1);
      assert.deepEqual(ev.plugindata, { plugin: plugin.package, data: { [name]: 'event', error_code: 465, error: REASON } });
      assert.equal(ev.jsep, undefined);
      // The PeerConnection that can never be used is let go (its port freed), and the handle takes a new offer.
      assert.equal(media.hungUp, 1);
      assert.equal(gw.handles.get(h)!.pcActive, false);
    } finally {
      await gw.stop();
    }
  });
}

test('a refused plugin JSEP in a synchronous reply: error 465 with the reason', async () => {
  const { gw, req, session, attach } = await makeGateway(undefined, { mediaPlane: refusingPlane('sync') });
  try {
    const s = await session();
    const h = await attach(s);
    const r: JanusMessage = await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'offer' } });
    assert.equal(r.janus, 'error');
    assert.deepEqual(r.error, { code: 465, reason: REASON });
  } finally {
    await gw.stop();
  }
});
