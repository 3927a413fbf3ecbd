/**
 * Janus's own mvideoroomtest.html (the multistream VideoRoom demo) in real Chromium: three
 * participants join room 1234 over WebSockets; each publishes its fake camera/microphone and
 * subscribes to everybody else through ONE subscriber PeerConnection. The first participant's
 * subscription is created for the second and extended for the third with `update` (a
 * renegotiation: Janus sends a new offer, the page answers with `start`).
 * Every page must end up with one receiving PeerConnection carrying 2 video + 2 audio streams,
 * every one of them decoding (frames) or audible (energy) and growing, the others' names shown in
 * the remote slots and their <video> elements playing (videoWidth > 0, currentTime advancing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIBLE_POWER, audioPower, openDemo, waitForMedia, type DemoPage, type PcReport } from '../helpers/browser.js';
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

interface VideoEl {
  id: string;
  width: number;
  time: number;
  paused: boolean;
}
const videos = (dp: DemoPage) =>
  dp.page.evaluate(`[...document.querySelectorAll('[id^=videoremote] video')].map((v) => ({ id: v.id, width: v.videoWidth, time: v.currentTime, paused: v.paused }))`) as Promise<VideoEl[]>;

/** The page's single subscriber PC once it carries `n` video and `n` audio streams, all decoding/audible. */
async function waitForStreams(dp: DemoPage, n: number, timeoutMs: number): Promise<PcReport> {
  const deadline = Date.now() + timeoutMs;
  let why = '';
  for (;;) {
    const subs = (await dp.peerConnections()).filter(isSubscriber);
    if (subs.length !== 1) why = `${subs.length} subscriber PeerConnections (want exactly 1: multistream)`;
    else {
      const pc = subs[0]!;
      const v = pc.inbound.filter((i) => i.kind === 'video' && i.framesDecoded > 0);
      const a = pc.inbound.filter((i) => i.kind === 'audio' && audioPower(i) >= AUDIBLE_POWER);
      if (v.length === n && a.length === n) return pc;
      why = `${v.length}/${n} decoding video and ${a.length}/${n} audible audio streams (remote m-lines: ${pc.remoteMedia.join(',')})`;
    }
    if (Date.now() > deadline) throw new Error(`${dp.label}: subscription not complete after ${timeoutMs} ms: ${why}\n${await dp.diagnostics()}`);
    await sleep(500);
  }
}

forEachGateway('mvideoroomtest.html (multistream)', ['videoroom'], (env) => {
  test('three participants in room 1234, each receiving the two others on one multistream PeerConnection', { timeout: 90_000 }, async () => {
    const gw = env.gw();
    const { mark, timings } = stopwatch();
    const pages: DemoPage[] = [];
    await withPages(gw, pages, async () => {
      for (const name of NAMES) pages.push(await openDemo(env.handle(), { wsUrl: gw.wsUrl }, 'mvideoroomtest.html', { room: '1234' }, `mvideoroom/${env.kind}/${name}`));
      mark('pages loaded');
      for (let i = 0; i < pages.length; i++) {
        const dp = pages[i]!;
        await startAndRegister(dp, 'janus.plugin.videoroom', NAMES[i]!);
        await waitForMedia(dp, {}, 20_000, { select: (pcs) => pcs.filter(isPublisher), what: `${NAMES[i]}'s publisher PeerConnection` });
        await dp.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, `the "webrtcup" event for ${NAMES[i]}'s publisher`);
        mark(`${NAMES[i]} publishing`);
      }
      const subs: PcReport[] = [];
      for (const dp of pages) subs.push(await waitForStreams(dp, 2, 25_000));
      mark('all subscriptions flowing');
      // alice subscribed to bob first, then got carol through an `update` renegotiation.
      assert.ok(
        pages[0]!.log.some((l) => /Janus says this WebRTC PeerConnection \(remote feed\) is up now/.test(l)),
        `alice's subscriber PeerConnection must report webrtcup\n${await pages[0]!.diagnostics()}`,
      );
      for (let i = 0; i < pages.length; i++) {
        const dp = pages[i]!;
        const others = NAMES.filter((_, j) => j !== i).sort();
        const shown = await remoteNames(dp);
        if (JSON.stringify(shown) !== JSON.stringify(others)) {
          assert.deepEqual(shown, others, `${NAMES[i]} must show the other participants' names in the remote slots\n${await dp.diagnostics()}`);
        }
        assert.equal(subs[i]!.remoteMedia.filter((k) => k === 'video').length, 2, `${NAMES[i]}: two video m-lines in Janus's offer`);
        assert.equal(subs[i]!.remoteMedia.filter((k) => k === 'audio').length, 2, `${NAMES[i]}: two audio m-lines in Janus's offer`);
      }
      const v0 = await Promise.all(pages.map(videos));
      await sleep(2500);
      for (let i = 0; i < pages.length; i++) {
        const dp = pages[i]!;
        const after = (await dp.peerConnections()).find((p) => p.index === subs[i]!.index);
        for (const before of subs[i]!.inbound) {
          const now = after?.inbound.find((x) => x.mid === before.mid && x.kind === before.kind);
          if (before.kind === 'video') {
            if (!now || !(now.framesDecoded > before.framesDecoded + 5)) assert.fail(`${NAMES[i]} mid ${before.mid}: decoded frames must grow (${before.framesDecoded} -> ${now?.framesDecoded})\n${await dp.diagnostics()}`);
          } else {
            const dE = (now?.totalAudioEnergy ?? 0) - before.totalAudioEnergy;
            const dT = (now?.totalSamplesDuration ?? 0) - before.totalSamplesDuration;
            if (!(dT > 1 && dE / dT >= AUDIBLE_POWER)) assert.fail(`${NAMES[i]} mid ${before.mid}: audio must keep playing (energy +${dE} over ${dT} s)\n${await dp.diagnostics()}`);
          }
        }
        // The page's own <video> elements play: two remote videos with a size and advancing time.
        const v1 = await videos(dp);
        assert.equal(v1.length, 2, `${NAMES[i]}: two remote <video> elements: ${JSON.stringify(v1)}`);
        for (const v of v1) {
          const prev = v0[i]!.find((x) => x.id === v.id);
          assert.ok(v.width > 0 && !v.paused && prev !== undefined && v.time > prev.time + 1, `${NAMES[i]}: <video ${v.id}> must be playing: ${JSON.stringify({ prev, now: v })}`);
        }
      }
      mark('growth checked');
      assert.deepEqual(env.handle().blocked, [], 'the pages must not request anything outside this machine');
    });
    console.log(`# mvideoroom ${env.kind} timings (ms): ${JSON.stringify(timings)}`);
  });
});
