/**
 * An rtsp mountpoint in Janus's own streamingtest.html: a real RTSP server (GStreamer's RTSP server
 * library, test/helpers/rtsp-server.py: VP8 test pattern + Opus tone) pulled by a mountpoint declared
 * in the Streaming jcfg, watched by real Chromium. Against the real Janus 1.1.2 first (Debian builds
 * its Streaming plugin with libcurl, i.e. with RTSP support: the harness self-check), then Portunus
 * with the same configs folder. Proves: DESCRIBE/SETUP/PLAY from the jcfg at startup, the mountpoint
 * listed and described (metadata), the offer built from the RTSP server's codecs, frames decoded and
 * audio heard in the browser.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDemo } from '../helpers/browser.js';
import { forEachGateway, stopwatch, withPages } from '../helpers/demo-flows.js';
import { ensureRtspServerPackages, startRtspServer, type RtspServer } from '../helpers/rtsp-server.js';
import { freePort } from '../helpers/server-conf.js';
import { assertPlaying, watchInStreamingDemo } from '../helpers/streaming-demo.js';

const MP_ID = 7;
const METADATA = 'GStreamer videotestsrc + audiotestsrc over RTSP';

// The server must be up before the gateways start: both connect to it while reading their jcfg.
let rtsp: RtspServer | undefined;
/** Why the RTSP server cannot run here (its Debian packages missing and not installable: not root, no apt). */
let unavailable: string | null = null;
before(async () => {
  try {
    ensureRtspServerPackages();
  } catch (e) {
    unavailable = (e as Error).message;
    return;
  }
  rtsp = await startRtspServer(null, await freePort());
});
after(async () => {
  await rtsp?.stop();
});

function rtspJcfg(): string {
  if (!rtsp) return 'general: {\n}\n';
  return [
    'general: {',
    '}',
    '',
    'rtsp-gstreamer: {',
    '  type = "rtsp"',
    `  id = ${MP_ID}`,
    '  description = "VP8/Opus from a GStreamer RTSP server"',
    `  metadata = "${METADATA}"`,
    '  audio = true',
    '  video = true',
    `  url = "${rtsp.url}"`,
    '  rtsp_reconnect_delay = 5',
    '  secret = "adminpwd"',
    '}',
    '',
  ].join('\n');
}

forEachGateway(
  'streamingtest.html with an rtsp mountpoint',
  ['streaming'],
  (env) => {
    test('watch the mountpoint pulling from the GStreamer RTSP server: webrtcup, video frames decoded, audio heard', { timeout: 60_000 }, async (t) => {
      if (unavailable !== null) {
        t.skip(`no RTSP server: ${unavailable}`);
        return;
      }
      const gw = env.gw();
      const { mark, timings } = stopwatch();
      const dp = await openDemo(env.handle(), { wsUrl: gw.wsUrl }, 'streamingtest.html', {}, `streaming-rtsp/${env.kind}`);
      await withPages(gw, [dp], async () => {
        const pc = await watchInStreamingDemo(dp, MP_ID, 30_000, mark);
        mark('media flowing');
        const { frames } = await assertPlaying(dp, pc);
        mark('growth checked');
        await dp.step('the demo shows the mountpoint metadata', () => dp.page.locator('#metadata').filter({ hasText: METADATA }).waitFor({ state: 'visible', timeout: 10_000 }));
        await dp.step('the demo shows the video resolution', () => dp.page.locator('[id^="curres"]').filter({ hasText: /^320x240$/ }).first().waitFor({ state: 'visible', timeout: 10_000 }));
        const video = (await dp.peerConnections()).find((p) => p.index === pc.index)!.inbound.find((i) => i.kind === 'video');
        assert.equal(video?.codec, 'video/VP8', 'the codec the RTSP server described');
        assert.deepEqual(env.handle().blocked, [], 'the page must not request anything outside this machine');
        console.log(`# streaming-rtsp ${env.kind}: ${frames} frames in 2 s; timings (ms): ${JSON.stringify(timings)}`);
      });
    });
  },
  () => ({ streaming: rtspJcfg() }),
);
