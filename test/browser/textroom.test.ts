/**
 * Janus's own textroomtest.html in real Chromium: two participants (alice over WebSockets, bob over
 * HTTP long poll) set up their data channel (the server offers, the page answers), join room 1234,
 * see each other in the participants list, and a message alice sends appears in bob's chat with
 * alice's display name.
 *
 * Then three participants (amy and cleo over WebSockets, ben over HTTP; new names, because the
 * first test's sessions may still be in the room until they time out): amy clicks ben in her
 * participants list and sends a private message through the page's prompt (a `message` with `to`):
 * it reaches ben as a whisper and never cleo; ben clicks Stop (the page destroys its Janus session)
 * and amy's and cleo's pages announce that ben left and drop him from their lists.
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

  test('a private message reaches only its target; leave is announced to the others', { timeout: 60_000 }, async () => {
    const gw = env.gw();
    const { mark, timings } = stopwatch();
    const pages: DemoPage[] = [];
    await withPages(gw, pages, async () => {
      const ws: GatewayAddress = { wsUrl: gw.wsUrl };
      const http: GatewayAddress = { httpUrl: gw.httpUrl };
      const [amy, ben, cleo] = await Promise.all([
        openDemo(env.handle(), ws, 'textroomtest.html', { room: '1234' }, `textroom/${env.kind}/amy(ws)`),
        openDemo(env.handle(), http, 'textroomtest.html', { room: '1234' }, `textroom/${env.kind}/ben(http)`),
        openDemo(env.handle(), ws, 'textroomtest.html', { room: '1234' }, `textroom/${env.kind}/cleo(ws)`),
      ]);
      pages.push(amy, ben, cleo);
      mark('pages loaded');
      await Promise.all([joinTextroom(amy, 'amy'), joinTextroom(ben, 'ben'), joinTextroom(cleo, 'cleo')]);
      mark('three joined');
      for (const [dp, others] of [[amy, ['ben', 'cleo']], [ben, ['amy', 'cleo']], [cleo, ['amy', 'ben']]] as const) {
        for (const o of others) await dp.step(`the participant list shows ${o}`, () => listItem(dp, o).waitFor({ timeout: 10_000 }));
      }

      // The whisper: click ben in amy's list, type into the page's prompt, OK.
      const secret = `just for ben ${Date.now()}`;
      await amy.step('clicking ben in the participant list opens the private-message prompt', async () => {
        await listItem(amy, 'ben').click();
        await amy.page.locator('.bootbox .bootbox-input').waitFor({ state: 'visible', timeout: 5000 });
      });
      assert.equal(((await amy.page.locator('.bootbox .modal-title').first().textContent()) ?? '').trim(), 'Private message to ben', 'the prompt names the target');
      await amy.page.locator('.bootbox .bootbox-input').fill(secret);
      await amy.page.locator('.bootbox .bootbox-accept').click();
      const whisperIn = ben.page.locator('#chatroom p').filter({ hasText: secret });
      await ben.step('the whisper appears in ben\'s chat', () => whisperIn.first().waitFor({ timeout: 10_000 }));
      mark('whisper delivered');
      assert.equal(((await whisperIn.first().locator('b').textContent()) ?? '').trim(), '[whisper from amy]', 'ben\'s page shows it as a whisper from amy');
      await amy.step('amy\'s chat confirms the whisper was sent', () => amy.page.locator('#chatroom p').filter({ hasText: secret }).filter({ hasText: '[whisper to ben]' }).first().waitFor({ timeout: 10_000 }));

      // A public message sent after the whisper: once cleo has it, the whisper would have arrived
      // before it on her (ordered) data channel had it been sent to her.
      const after = `public after the whisper ${Date.now()}`;
      await amy.page.locator('#datasend').fill(after);
      await amy.page.locator('#datasend').press('Enter');
      await cleo.step('cleo gets the public message', () => cleo.page.locator('#chatroom p').filter({ hasText: after }).first().waitFor({ timeout: 10_000 }));
      await ben.step('ben gets the public message too', () => ben.page.locator('#chatroom p').filter({ hasText: after }).first().waitFor({ timeout: 10_000 }));
      const cleoChat = (await cleo.page.locator('#chatroom').textContent()) ?? '';
      assert.ok(!cleoChat.includes(secret), `cleo must not see the whisper; her chat: ${cleoChat}`);
      assert.doesNotMatch(cleoChat, /\[whisper (from|to) /, 'no whisper line at all in cleo\'s chat');
      mark('whisper not seen by cleo');

      // Leave: ben stops (janus.destroy()); the others' pages announce it and update their lists.
      await ben.page.locator('#start').click();
      for (const dp of [amy, cleo]) {
        await dp.step('the page announces that ben left', () =>
          dp.page.locator('#chatroom p').filter({ hasText: /^\[[^\]]+\] ben left$/ }).first().waitFor({ timeout: 15_000 }),
        );
        await dp.step('ben is gone from the participant list', () => listItem(dp, 'ben').waitFor({ state: 'detached', timeout: 5000 }));
        assert.equal(await listItem(dp, cleoOrAmy(dp, amy)).count(), 1, 'the remaining participant is still listed');
      }
      mark('leave announced');
      // Still a working room for the two left.
      const last = `still here ${Date.now()}`;
      await cleo.page.locator('#datasend').fill(last);
      await cleo.page.locator('#datasend').press('Enter');
      await amy.step('cleo\'s message reaches amy after ben left', () => amy.page.locator('#chatroom p').filter({ hasText: last }).first().waitFor({ timeout: 10_000 }));
      assert.deepEqual(env.handle().blocked, [], 'the pages must not request anything outside this machine');
    });
    console.log(`# textroom ${env.kind} whisper/leave timings (ms): ${JSON.stringify(timings)}`);
  });
});

/** The entry for `name` in the page's participant list (`#list li`, text = display name). */
function listItem(dp: DemoPage, name: string) {
  return dp.page.locator('#list li').filter({ hasText: new RegExp(`^${name}$`) });
}

/** In amy's page the other remaining participant is cleo, and vice versa. */
function cleoOrAmy(dp: DemoPage, amy: DemoPage): string {
  return dp === amy ? 'cleo' : 'amy';
}
