/**
 * Janus's own textroomtest.html in real Chromium: two participants (alice over WebSockets, bob over
 * HTTP long poll) set up their data channel (the server offers, the page answers), join room 1234,
 * see each other in the participants list, and a message alice sends appears in bob's chat with
 * alice's display name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDemo, waitForMedia, type DemoPage, type GatewayAddress } from '../helpers/browser.js';
import { forEachGateway, stopwatch, withPages } from '../helpers/demo-flows.js';

async function joinTextroom(dp: DemoPage, name: string): Promise<void> {
  await dp.start();
  await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.textroom/, 10_000, 'session creation + attach to janus.plugin.textroom');
  // The data channel: server offer, browser answer, ICE, DTLS, SCTP.
  await waitForMedia(dp, { data: true }, 20_000, { what: 'the data channel' });
  await dp.waitForConsole(/The DataChannel is available!/, 10_000, 'the page\'s ondataopen callback');
  await dp.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, 'the "webrtcup" event (webrtcState up)');
  await dp.register(name);
  await dp.step(`joining room 1234 as ${name} (#participant shows the name)`, () =>
    dp.page.locator('#participant').filter({ hasText: name }).waitFor({ state: 'visible', timeout: 10_000 }),
  );
}

forEachGateway('textroomtest.html', ['textroom'], (env) => {
  test('two participants join room 1234; a message from one appears in the other\'s chat with the sender\'s name', { timeout: 60_000 }, async () => {
    const gw = env.gw();
    const { mark, timings } = stopwatch();
    const pages: DemoPage[] = [];
    await withPages(gw, pages, async () => {
      const ws: GatewayAddress = { wsUrl: gw.wsUrl };
      const http: GatewayAddress = { httpUrl: gw.httpUrl };
      const alice = await openDemo(env.handle(), ws, 'textroomtest.html', { room: '1234' }, `textroom/${env.kind}/alice(ws)`);
      pages.push(alice);
      const bob = await openDemo(env.handle(), http, 'textroomtest.html', { room: '1234' }, `textroom/${env.kind}/bob(http)`);
      pages.push(bob);
      mark('pages loaded');
      await joinTextroom(alice, 'alice');
      mark('alice joined');
      await joinTextroom(bob, 'bob');
      mark('bob joined');

      // Each sees the other in the participants list (alice through a "join" event, bob through the join response).
      await alice.step('alice\'s participant list shows bob', () => alice.page.locator('#list li').filter({ hasText: /^bob$/ }).waitFor({ timeout: 10_000 }));
      await bob.step('bob\'s participant list shows alice', () => bob.page.locator('#list li').filter({ hasText: /^alice$/ }).waitFor({ timeout: 10_000 }));

      const text = `hi bob, it is ${Date.now()}`;
      await alice.page.locator('#datasend').fill(text);
      await alice.page.locator('#datasend').press('Enter');
      const line = bob.page.locator('#chatroom p').filter({ hasText: text });
      await bob.step('alice\'s message appears in bob\'s chat', () => line.first().waitFor({ timeout: 10_000 }));
      mark('message delivered');
      const sender = ((await line.first().locator('b').textContent()) ?? '').trim();
      assert.equal(sender, 'alice:', 'the chat line carries the sender\'s display name');
      const full = ((await line.first().textContent()) ?? '').trim();
      assert.match(full, new RegExp(`^\\[[^\\]]+\\] alice: ${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`), 'chat line is "[date] alice: <text>"');
      // alice's input was cleared by the page once textroom.data() succeeded.
      assert.equal(await alice.page.locator('#datasend').inputValue(), '', 'the sender\'s input is cleared after sending');
      // The message came over bob's data channel.
      const [pc] = await bob.peerConnections();
      assert.ok(pc && pc.dataChannels.some((d) => d.messagesReceived >= 2), `bob's data channel received the join response and the message: ${JSON.stringify(pc?.dataChannels)}`);
      assert.deepEqual(env.handle().blocked, [], 'the pages must not request anything outside this machine');
    });
    console.log(`# textroom ${env.kind} timings (ms): ${JSON.stringify(timings)}`);
  });
});
