/**
 * Janus's own videoroomtest.html in real Chromium: three participants join room 1234 (numeric ids,
 * string_ids = false: the page parseInt()s ?room=) over WebSockets; each publishes its fake
 * camera/microphone and must see and hear the two others: two subscriber PeerConnections per page
 * with video frames decoded and audio energy growing, and the others' names in the remote slots.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIBLE_POWER, audioPowerBetween, inboundTotal, openDemo, waitForMedia, type DemoPage, type PcReport } from '../helpers/browser.js';
import { forEachGateway, sleep, startAndRegister, stopwatch, withPages } from '../helpers/demo-flows.js';

const NAMES = ['alice', 'bob', 'carol'];
const isPublisher = (pc: PcReport) => pc.local === 'offer' && pc.connectionState !== 'closed';
const isSubscriber = (pc: PcReport) => pc.local === 'answer' && pc.connectionState !== 'closed';

async function remoteNames(dp: DemoPage): Promise<string[]> {
  const names = (await dp.page.evaluate(
    `[1, 2, 3, 4, 5].map((i) => { const e = document.getElementById('remote' + i); return e && e.offsetParent !== null ? e.textContent.trim() : ''; })`,
  )) as string[];
  return names.filter((n) => n !== '').sort();
}

forEachGateway('videoroomtest.html', ['videoroom'], (env) => {
  test('three participants in room 1234 each receive the two others\' video and audio', { timeout: 60_000 }, async () => {
    const gw = env.gw();
    const { mark, timings } = stopwatch();
    const pages: DemoPage[] = [];
    await withPages(gw, pages, async () => {
      for (const name of NAMES) pages.push(await openDemo(env.handle(), { wsUrl: gw.wsUrl }, 'videoroomtest.html', { room: '1234' }, `videoroom/${env.kind}/${name}`));
      mark('pages loaded');
      for (let i = 0; i < pages.length; i++) {
        const dp = pages[i]!;
        await startAndRegister(dp, 'janus.plugin.videoroom', NAMES[i]!);
        // Our own publisher PeerConnection: answer SDP, ICE, DTLS, then the "webrtcup" event.
        await waitForMedia(dp, {}, 20_000, { select: (pcs) => pcs.filter(isPublisher), what: `${NAMES[i]}'s publisher PeerConnection` });
        await dp.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, `the "webrtcup" event for ${NAMES[i]}'s publisher`);
        mark(`${NAMES[i]} publishing`);
      }
      // Everybody subscribes to the two others: two receiving PeerConnections with decoded video and audio.
      const subs: PcReport[][] = [];
      for (const dp of pages) {
        subs.push(await waitForMedia(dp, { audio: true, video: true }, 25_000, { select: (pcs) => pcs.filter(isSubscriber), count: 2, what: 'video+audio from the two other participants' }));
      }
      mark('all subscriptions flowing');
      for (let i = 0; i < pages.length; i++) {
        const dp = pages[i]!;
        const others = NAMES.filter((_, j) => j !== i).sort();
        await dp.step('the two subscriber PeerConnections report "webrtcup"', async () => {
          for (const re of [/Janus says this WebRTC PeerConnection \(feed #\d\) is up now/]) {
            const deadline = Date.now() + 10_000;
            while (dp.log.filter((l) => re.test(l)).length < 2) {
              if (Date.now() > deadline) throw new Error(`only ${dp.log.filter((l) => re.test(l)).length} subscriber webrtcup(s)`);
              await sleep(200);
            }
          }
        });
        const shown = await remoteNames(dp);
        if (JSON.stringify(shown) !== JSON.stringify(others)) {
          assert.deepEqual(shown, others, `${NAMES[i]} must show the other participants' names in the remote video slots\n${await dp.diagnostics()}`);
        }
      }
      // Media keeps flowing: per subscriber PeerConnection, frames decoded and audio energy grow.
      await sleep(2500);
      for (let i = 0; i < pages.length; i++) {
        const dp = pages[i]!;
        const now = await dp.peerConnections();
        for (const before of subs[i]!) {
          const after = now.filter((p) => p.index === before.index);
          const f0 = inboundTotal([before], 'video', 'framesDecoded');
          const f1 = inboundTotal(after, 'video', 'framesDecoded');
          const e0 = inboundTotal([before], 'audio', 'totalAudioEnergy');
          const e1 = inboundTotal(after, 'audio', 'totalAudioEnergy');
          if (!(f1 > f0 + 5)) assert.fail(`${NAMES[i]} pc#${before.index}: decoded video frames must grow (${f0} -> ${f1} in 2.5 s)\n${await dp.diagnostics()}`);
          const power = audioPowerBetween([before], after);
          if (!(e1 > e0 && power >= AUDIBLE_POWER)) assert.fail(`${NAMES[i]} pc#${before.index}: audio energy must grow (${e0} -> ${e1} in 2.5 s, mean power ${power}, need ${AUDIBLE_POWER})\n${await dp.diagnostics()}`);
        }
      }
      mark('growth checked');
      assert.deepEqual(env.handle().blocked, [], 'the pages must not request anything outside this machine');
    });
    console.log(`# videoroom ${env.kind} timings (ms): ${JSON.stringify(timings)}`);
  });
});
