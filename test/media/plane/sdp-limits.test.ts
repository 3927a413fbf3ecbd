/**
 * The media plane holds what plugins generate to media.max_mlines / media.max_sdp_size, through the
 * real Gateway and WebRtcMediaPlane: a plugin offer over the limit (like a VideoRoom subscriber offer
 * for more streams than max_mlines; the plane creates the PeerConnection asynchronously for it) gets
 * the client an error event with 465 after its ack, and the PeerConnection made for it is closed with
 * its port freed; an offer within the limits goes out with our transport merged in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JanusMessage } from '../../../src/core/messages.js';
import { isMediaRelayHost, type Plugin, type PluginHost, type PluginInitContext, type PluginResult, type PluginSession } from '../../../src/core/plugin.js';
import { buildOffer } from '../../../src/media/sdp/negotiate.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { makeWorld, waitFor } from '../peer/helpers.js';

class OfferingPlugin implements Plugin {
  readonly package = 'janus.plugin.limittest';
  readonly name = 'limit test';
  readonly author = 'Portunus tests';
  readonly description = 'offers n m-lines';
  readonly version = 1;
  readonly versionString = '0.0.1';
  host: PluginHost | null = null;
  init(ctx: PluginInitContext): void {
    if (isMediaRelayHost(ctx.host)) this.host = ctx.host;
  }
  destroy(): void {}
  createSession(): void {}
  destroySession(): void {}
  handleMessage(session: PluginSession, transaction: string, body: Record<string, unknown>): PluginResult {
    const n = Number(body.mlines);
    setImmediate(() => {
      const offer = buildOffer(Array.from({ length: n }, (_, i) => ({ kind: 'application' as const, mid: `d${i}` })));
      this.host!.pushEvent(session, transaction, { limittest: 'event', result: 'offer' }, { type: 'offer', sdp: writeSdp(offer) });
    });
    return { kind: 'wait' };
  }
}

test('a plugin offer over media.max_mlines: ack, then the error event (465); its PeerConnection is closed', { timeout: 30_000 }, async () => {
  const w = await makeWorld((c) => (c.media.max_mlines = 4), { plugins: [new OfferingPlugin()] });
  try {
    const s = ((await w.req({ janus: 'create' })).data as { id: number }).id;
    const h = ((await w.req({ janus: 'attach', session_id: s, plugin: 'janus.plugin.limittest' })).data as { id: number }).id;
    const ack = await w.gw.handle({ janus: 'message', session_id: s, handle_id: h, transaction: 'big', body: { mlines: 5 } }, w.client);
    assert.equal(ack.janus, 'ack');
    const ev = await waitFor('the event after the ack', () => w.client.events.find((e: JanusMessage) => e.transaction === 'big'), 5000);
    assert.equal(ev.jsep, undefined);
    const data = (ev.plugindata as { data: Record<string, unknown> }).data;
    assert.equal(data.limittest, 'event');
    assert.equal(data.error_code, 465);
    assert.match(String(data.error), /plugin's offer has too many m-lines \(more than media.max_mlines = 4\)/);
    assert.equal(w.plane.peerCount, 0);
    assert.equal(w.plane.portsInUse, 0);
    // Within the limit the same handle gets its offer.
    await w.gw.handle({ janus: 'message', session_id: s, handle_id: h, transaction: 'ok', body: { mlines: 1 } }, w.client);
    const ok = await waitFor('the offer', () => w.client.events.find((e: JanusMessage) => e.transaction === 'ok'), 5000);
    assert.match(String((ok.jsep as { sdp: string } | undefined)?.sdp), /a=ice-ufrag:/);
  } finally {
    await w.stop();
  }
});
