/**
 * Janus's own streamingtest.html in real Chromium watching an rtp mountpoint fed by ffmpeg (VP8 +
 * Opus over RTP), against the real Janus 1.1.2 (harness self-check) and against Portunus with the
 * same configs folder. Proves: the page lists the mountpoint, `watch` → the server's offer → the
 * browser's answer with `start`, ICE/DTLS, webrtcup, video frames decoded and audio heard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDemo, waitForMedia } from '../helpers/browser.js';
import { forEachGateway, stopwatch, withPages } from '../helpers/demo-flows.js';
import { postJson } from '../helpers/janus-client.js';
import type { MediaGateway } from '../helpers/media-server.js';
import { startFfmpegRtp } from '../helpers/rtp-sender.js';
import { assertPlaying } from '../helpers/streaming-demo.js';

async function mountpointPorts(gw: MediaGateway, id: number, secret: string): Promise<number[]> {
  const s = ((await postJson(gw.httpUrl, { janus: 'create', transaction: 'c' })).data as { id: number }).id;
  const h = ((await postJson(`${gw.httpUrl}/${s}`, { janus: 'attach', plugin: 'janus.plugin.streaming', transaction: 'a' })).data as { id: number }).id;
  const r = await postJson(`${gw.httpUrl}/${s}/${h}`, { janus: 'message', transaction: 'i', body: { request: 'info', id, secret } });
  await postJson(`${gw.httpUrl}/${s}`, { janus: 'destroy', transaction: 'd' });
  return (r.plugindata as { data: { info: { media: Array<{ port: number }> } } }).data.info.media.map((m) => m.port);
}

forEachGateway('streamingtest.html', ['streaming'], (env) => {
  test('watch the ffmpeg-fed rtp mountpoint: webrtcup, video frames decoded, audio heard', { timeout: 90_000 }, async () => {
    const gw = env.gw();
    const { mark, timings } = stopwatch();
    const [audioPort, videoPort] = await mountpointPorts(gw, 1, 'adminpwd');
    const ff = startFfmpegRtp({ audioPort, videoPort, gop: 30 });
    try {
      // (inside the try: a page that fails to load must not leave ffmpeg running and the test process hanging on it)
      const dp = await openDemo(env.handle(), { wsUrl: gw.wsUrl }, 'streamingtest.html', {}, `streaming/${env.kind}`);
      await withPages(gw, [dp], async () => {
        await dp.start();
        await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.streaming/, 10_000, 'attach to janus.plugin.streaming');
        await dp.waitForConsole(/Got a list of available streams/, 10_000, 'the mountpoint list');
        mark('listed');
        await dp.step('pick mountpoint 1 in the list', async () => {
          await dp.page.locator('#streamset').click();
          await dp.page.locator('#streamslist a[id="1"]').click();
        });
        await dp.step('click Watch', () => dp.page.locator('#watch').click());
        const [pc] = await waitForMedia(dp, { audio: true, video: true }, 30_000, { what: 'mountpoint audio+video' });
        assert.ok(pc);
        mark('media flowing');
        // (the page's own "Started" label has no element in Debian's streamingtest.html: check the webrtcup callback)
        await dp.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, 'the "webrtcup" event');
        await assertPlaying(dp, pc);
        mark('growth checked');
        await dp.step('the demo shows the video resolution', () => dp.page.locator('[id^="curres"]').filter({ hasText: /^320x240$/ }).first().waitFor({ state: 'visible', timeout: 10_000 }));
        assert.deepEqual(env.handle().blocked, [], 'the page must not request anything outside this machine');
      });
    } finally {
      await ff.stop();
    }
    console.log(`# streamingtest ${env.kind} timings (ms): ${JSON.stringify(timings)}`);
  });
});
