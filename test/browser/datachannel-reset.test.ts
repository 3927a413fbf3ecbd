/**
 * Closing a data channel from Chromium against Portunus (stream reset, RFC 6525 / RFC 8831 §6.7):
 * Janus's textroomtest.html joins room 1234, then the page script closes its "JanusDataChannel".
 * Chromium only reports the channel `closed` once the other side has reset its outgoing stream in
 * return, so the `close` event is the proof that our SCTP saw the reset and answered it. Then the page
 * sends a TextRoom message through janus.js on a new label: janus.js opens a new channel (DCEP on a
 * stream id Chromium may reuse), the message reaches the room, and the broadcast comes back to the
 * page on the new channel (the plugin sends on the first open channel: the closed one is gone).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, launchBrowser, openDemo, waitForMedia, type BrowserHandle, type DemoPage } from '../helpers/browser.js';
import { withPages } from '../helpers/demo-flows.js';
import { startMediaGateway, type MediaGateway } from '../helpers/media-server.js';

interface ResetOutcome {
  oldId: number | null;
  closedIn: number;
  stateAfter: string;
  error?: string;
}

describe('textroomtest.html: a data channel closed and a new one opened, against Portunus', () => {
  let handle: BrowserHandle | undefined;
  let gw: MediaGateway | undefined;
  before(async () => {
    handle = await launchBrowser();
    gw = await startMediaGateway('portunus', ['textroom']);
  });
  after(async () => {
    await closeAll([handle, gw]);
  });

  test('closing the channel completes (the server resets its side); a new channel carries the room\'s messages', { timeout: 120_000 }, async () => {
    const pages: DemoPage[] = [];
    await withPages(gw!, pages, async () => {
      const dp = await openDemo(handle!, { wsUrl: gw!.wsUrl }, 'textroomtest.html', { room: '1234' }, 'textroom-reset/portunus/rita');
      pages.push(dp);
      await dp.start();
      await waitForMedia(dp, { data: true }, 30_000, { what: 'the data channel' });
      await dp.waitForConsole(/The DataChannel is available!/, 15_000, 'the page\'s ondataopen callback');
      await dp.register('rita');
      await dp.step('joining room 1234 as rita', () => dp.page.locator('#participant').filter({ hasText: 'rita' }).waitFor({ state: 'visible', timeout: 15_000 }));

      // The page's own channel, closed from the page; wait for Chromium's `close` (after both resets).
      const outcome = (await dp.page.evaluate(`new Promise((resolve) => {
        const ch = textroom.webrtcStuff.dataChannel['JanusDataChannel'];
        if (!ch) { resolve({ oldId: null, closedIn: -1, stateAfter: 'missing', error: 'no JanusDataChannel on the page' }); return; }
        const t0 = performance.now();
        const done = (error) => resolve({ oldId: ch.id, closedIn: performance.now() - t0, stateAfter: ch.readyState, error });
        const timer = setTimeout(() => done('no close event within 20 s'), 20000);
        ch.addEventListener('close', () => { clearTimeout(timer); done(undefined); });
        ch.close();
      })`)) as ResetOutcome;
      assert.equal(outcome.error, undefined, `closing the channel: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.stateAfter, 'closed', 'Chromium reports the channel closed: the server reset its outgoing stream too');

      // A new channel, opened by janus.js for a new label, carrying a room message.
      const text = `after the reset ${Date.now()}`;
      await dp.page.evaluate(`textroom.data({ label: 'second', text: JSON.stringify({ textroom: 'message', transaction: 'after-reset', room: 1234, text: ${JSON.stringify(text)} }) })`);
      await dp.step('the message sent on the new channel comes back into the chat', () => dp.page.locator('#chatroom p').filter({ hasText: text }).first().waitFor({ timeout: 20_000 }));
      const info = (await dp.page.evaluate(`(() => { const c = textroom.webrtcStuff.dataChannel; return Object.keys(c).map((k) => ({ label: k, id: c[k].id, state: c[k].readyState })); })()`)) as { label: string; id: number; state: string }[];
      const second = info.find((c) => c.label === 'second');
      assert.equal(second?.state, 'open', `the new channel is open: ${JSON.stringify(info)}`);
      const [pc] = await dp.peerConnections();
      const stats = pc?.dataChannels.find((d) => d.label === 'second');
      assert.ok(stats && stats.messagesSent >= 1 && stats.messagesReceived >= 2, `the new channel carried the request, its reply and the broadcast: ${JSON.stringify(pc?.dataChannels)}`);
      assert.ok(gw!.alive(), 'the gateway is still running');
      console.log(`# data-channel reset: old stream id ${outcome.oldId} closed in ${outcome.closedIn.toFixed(0)} ms; new channel id ${second?.id} (${second?.id === outcome.oldId ? 'reused' : 'not reused'})`);
    });
  });
});
