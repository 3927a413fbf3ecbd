/**
 * Janus's own videocalltest.html in real Chromium: two pages register (alice, bob), alice calls bob,
 * bob answers in the demo's "Incoming call" dialog, and both pages must receive the other's fake
 * camera and microphone (video frames decoded and audio energy growing on both sides, data channel
 * open), then alice hangs up and bob's page goes back to "Call". Against the real Janus 1.1.2 (harness
 * self-check) and Portunus with the same configs folder, over WebSockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inboundTotal, openDemo, waitForMedia, type DemoPage, type GatewayAddress } from '../helpers/browser.js';
import { forEachGateway, sleep, startAndRegister, stopwatch, withPages } from '../helpers/demo-flows.js';

/** The caller's "Waiting for the peer to answer..." dialog may still be up when its media starts: progress, not failure. */
const WAITING = /Waiting for the peer to answer/;

forEachGateway('videocalltest.html', ['videocall'], (env) => {
  test('alice calls bob: both see and hear each other, hangup resets the other page', { timeout: 120_000 }, async () => {
    const gw = env.gw();
    const addr: GatewayAddress = { wsUrl: gw.wsUrl };
    const { mark, timings } = stopwatch();
    const pages: DemoPage[] = [];
    await withPages(gw, pages, async () => {
      const alice = await openDemo(env.handle(), addr, 'videocalltest.html', {}, `videocall/${env.kind}/alice`);
      pages.push(alice);
      const bob = await openDemo(env.handle(), addr, 'videocalltest.html', {}, `videocall/${env.kind}/bob`);
      pages.push(bob);
      await startAndRegister(alice, 'janus.plugin.videocall', 'alice');
      await startAndRegister(bob, 'janus.plugin.videocall', 'bob');
      for (const dp of [alice, bob]) {
        await dp.step('registered', () => dp.page.locator('#youok').filter({ hasText: /Registered as/ }).waitFor({ state: 'visible', timeout: 15_000 }));
      }
      mark('registered');
      await alice.page.locator('#peer').fill('bob');
      await alice.page.locator('#call').click();
      await bob.step('the incoming call dialog', () => bob.page.locator('.bootbox').filter({ hasText: 'Incoming call from alice' }).waitFor({ state: 'visible', timeout: 20_000 }));
      await bob.page.locator('.bootbox .btn-success').click();
      mark('answered');
      await alice.waitForConsole(/bob accepted the call!/, 20_000, 'the "accepted" event at the caller');
      const [apc] = await waitForMedia(alice, { audio: true, video: true, data: true }, 30_000, { what: "bob's media at alice", ignoreAlerts: WAITING });
      const [bpc] = await waitForMedia(bob, { audio: true, video: true, data: true }, 30_000, { what: "alice's media at bob", ignoreAlerts: WAITING });
      mark('media both ways');
      assert.ok(apc && bpc);
      const before = [...(await alice.peerConnections()), ...(await bob.peerConnections())];
      const fa0 = inboundTotal(await alice.peerConnections(), 'video', 'framesDecoded');
      const fb0 = inboundTotal(await bob.peerConnections(), 'video', 'framesDecoded');
      await sleep(2000);
      const fa1 = inboundTotal(await alice.peerConnections(), 'video', 'framesDecoded');
      const fb1 = inboundTotal(await bob.peerConnections(), 'video', 'framesDecoded');
      if (!(fa1 > fa0 + 10)) assert.fail(`alice: video frames decoded must grow over 2 s (${fa0} -> ${fa1})\n${await alice.diagnostics()}`);
      if (!(fb1 > fb0 + 10)) assert.fail(`bob: video frames decoded must grow over 2 s (${fb0} -> ${fb1})\n${await bob.diagnostics()}`);
      assert.ok(before.length >= 2);
      await alice.step('the remote video resolution is shown', () => alice.page.locator('#curres').filter({ hasText: /^\d+x\d+$/ }).waitFor({ state: 'visible', timeout: 10_000 }));
      mark('frames grow');
      // Hangup from alice: bob's page gets the hangup event and offers "Call" again.
      await alice.page.locator('#call').click();
      await bob.waitForConsole(/Call hung up by alice/, 15_000, 'the hangup event at the callee');
      await bob.step('the callee page is ready to call again', () => bob.page.locator('#call').filter({ hasText: 'Call' }).waitFor({ state: 'visible', timeout: 10_000 }));
      mark('hung up');
      assert.deepEqual(env.handle().blocked, [], 'the pages must not request anything outside this machine');
    });
    console.log(`# videocall ${env.kind} timings (ms): ${JSON.stringify(timings)}`);
  });
});
