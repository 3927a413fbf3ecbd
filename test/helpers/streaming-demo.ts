/**
 * Janus's streamingtest.html driven like a user: Start, pick a mountpoint in the list, Watch; then
 * the checks every Streaming browser test makes (webrtcup, video frames decoded growing, audio with
 * energy). The page is the real, unmodified demo; only the clicks and the stats reading are ours.
 */
import assert from 'node:assert/strict';
import { AUDIBLE_POWER, audioPowerBetween, inboundTotal, waitForMedia, type DemoPage, type PcReport } from './browser.js';
import { sleep } from './demo-flows.js';

/** Start the page's session, choose mountpoint `id` in its list and click Watch; resolves once audio and video play. */
export async function watchInStreamingDemo(dp: DemoPage, id: number, mediaTimeoutMs = 30_000, mark: (what: string) => void = () => {}): Promise<PcReport> {
  await dp.start();
  await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.streaming/, 15_000, 'attach to janus.plugin.streaming');
  await dp.waitForConsole(/Got a list of available streams/, 15_000, 'the mountpoint list');
  await dp.step(`pick mountpoint ${id} in the list`, async () => {
    await dp.page.locator('#streamset').click();
    await dp.page.locator(`#streamslist a[id="${id}"]`).click();
  });
  await dp.step('click Watch', () => dp.page.locator('#watch').click());
  mark('watch clicked');
  const [pc] = await waitForMedia(dp, { audio: true, video: true }, mediaTimeoutMs, { what: `mountpoint ${id} audio+video` });
  assert.ok(pc);
  // (Debian's streamingtest.html has no element for "Started": the webrtcup callback logs it)
  await dp.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, 'the "webrtcup" event');
  return pc;
}

/**
 * Over `windowMs`, decoded video frames must grow by more than `minFrames` and the audio must carry energy.
 * The window starts once the live video runs: a Portunus viewer first gets the mountpoint's buffered
 * keyframe (one picture at once), then nothing until the source's next keyframe (up to a GOP later).
 */
export async function assertPlaying(dp: DemoPage, pc: PcReport, windowMs = 2000, minFrames = 20): Promise<{ frames: number; power: number }> {
  const frames0 = inboundTotal((await dp.peerConnections()).filter((p) => p.index === pc.index), 'video', 'framesDecoded');
  for (let waited = 0; waited < 10_000; waited += 200) {
    const now = inboundTotal((await dp.peerConnections()).filter((p) => p.index === pc.index), 'video', 'framesDecoded');
    if (now > frames0 + 1) break;
    await sleep(200);
  }
  const before = (await dp.peerConnections()).filter((p) => p.index === pc.index);
  await sleep(windowMs);
  const after = (await dp.peerConnections()).filter((p) => p.index === pc.index);
  const frames = inboundTotal(after, 'video', 'framesDecoded') - inboundTotal(before, 'video', 'framesDecoded');
  if (!(frames > minFrames)) assert.fail(`video frames decoded must grow by more than ${minFrames} over ${windowMs} ms (grew by ${frames})\n${await dp.diagnostics()}`);
  const power = audioPowerBetween(before, after);
  if (!(power >= AUDIBLE_POWER)) assert.fail(`audio must be heard (mean power ${power})\n${await dp.diagnostics()}`);
  return { frames, power };
}
