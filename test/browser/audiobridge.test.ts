/**
 * Janus's own audiobridgetest.html in real Chromium: two participants (alice over WebSockets, bob
 * over HTTP long poll) join room 1234 (16 kHz mixer) with their fake microphones; each must
 * receive the mix with audio energy (the other's fake-device tone) and see the other in the
 * participants list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIBLE_POWER, audioPowerBetween, inboundTotal, openDemo, waitForMedia, type DemoPage, type GatewayAddress, type PcReport } from '../helpers/browser.js';
import { forEachGateway, sleep, startAndRegister, stopwatch, withPages } from '../helpers/demo-flows.js';

const NAMES = ['alice', 'bob'];

forEachGateway('audiobridgetest.html', ['audiobridge'], (env) => {
  test('two participants in room 1234 each receive the mix with audio energy', { timeout: 60_000 }, async () => {
    const gw = env.gw();
    const { mark, timings } = stopwatch();
    const pages: DemoPage[] = [];
    await withPages(gw, pages, async () => {
      const addrs: GatewayAddress[] = [{ wsUrl: gw.wsUrl }, { httpUrl: gw.httpUrl }];
      for (let i = 0; i < NAMES.length; i++) {
        pages.push(await openDemo(env.handle(), addrs[i]!, 'audiobridgetest.html', { room: '1234' }, `audiobridge/${env.kind}/${NAMES[i]}(${i === 0 ? 'ws' : 'http'})`));
      }
      mark('pages loaded');
      for (let i = 0; i < pages.length; i++) {
        const dp = pages[i]!;
        await startAndRegister(dp, 'janus.plugin.audiobridge', NAMES[i]!);
        // Joined, then our offer, the server's answer, ICE, DTLS and the "webrtcup" event.
        await dp.waitForConsole(/Successfully joined room 1234 with ID/, 10_000, `${NAMES[i]} joining room 1234`);
        await waitForMedia(dp, {}, 20_000, { what: `${NAMES[i]}'s PeerConnection (ICE+DTLS)` });
        await dp.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, `the "webrtcup" event for ${NAMES[i]}`);
        mark(`${NAMES[i]} connected`);
      }
      // Each hears the other: mixed audio with energy (the fake microphone's tone).
      const first: PcReport[][] = [];
      for (const dp of pages) first.push(await waitForMedia(dp, { audio: true }, 20_000, { what: 'mixed audio from the other participant' }));
      mark('audio with energy');
      for (let i = 0; i < pages.length; i++) {
        const dp = pages[i]!;
        const other = NAMES[1 - i]!;
        await dp.step(`${NAMES[i]}'s participant list shows ${other}`, () =>
          dp.page.locator('#list li').filter({ hasText: new RegExp(`^\\s*${other}\\s*$`) }).waitFor({ timeout: 10_000 }),
        );
      }
      await sleep(2500);
      for (let i = 0; i < pages.length; i++) {
        const dp = pages[i]!;
        const idx = first[i]!.map((p) => p.index);
        const now = (await dp.peerConnections()).filter((p) => idx.includes(p.index));
        const e0 = inboundTotal(first[i]!, 'audio', 'totalAudioEnergy');
        const e1 = inboundTotal(now, 'audio', 'totalAudioEnergy');
        const p0 = inboundTotal(first[i]!, 'audio', 'packetsReceived');
        const p1 = inboundTotal(now, 'audio', 'packetsReceived');
        if (!(p1 > p0 + 50)) assert.fail(`${NAMES[i]}: mixed audio packets must keep coming (${p0} -> ${p1} in 2.5 s)\n${await dp.diagnostics()}`);
        const power = audioPowerBetween(first[i]!, now);
        if (!(e1 > e0 && power >= AUDIBLE_POWER)) assert.fail(`${NAMES[i]}: received audio energy must grow (${e0} -> ${e1} in 2.5 s, mean power ${power}, need ${AUDIBLE_POWER})\n${await dp.diagnostics()}`);
      }
      mark('growth checked');
      assert.deepEqual(env.handle().blocked, [], 'the pages must not request anything outside this machine');
    });
    console.log(`# audiobridge ${env.kind} timings (ms): ${JSON.stringify(timings)}`);
  });
});
