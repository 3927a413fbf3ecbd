/**
 * The Janus scale-out recipe with real browsers and two gateway processes (each its own configs
 * folder and ports): two real Janus 1.1.2 first (harness self-check: the recipe and the assertions
 * hold there), then two Portunus processes (one media worker each):
 *
 *   Chromium (videoroomtest.html) ──WebRTC──▶ A: VideoRoom room 1234
 *        A ── rtp_forward (plain RTP, audio + video, pt rewritten to the mountpoint's) ──▶ B: rtp mountpoint 1
 *        B ──WebRTC──▶ Chromium (streamingtest.html, mountpoint 1)
 *
 * Keyframes: a plain RTP receiver cannot send a PLI to a WebRTC publisher by itself. The recipe wires
 * the RTCP back-channel both sides support: the mountpoint's video stream has `rtcpport` (0: B picks
 * one and `info` says which) and the video forwarder gets `rtcp_port` = that port. A's forwarder
 * sends from its own RTCP socket to it (so B learns where to answer); when the viewer on B starts,
 * B sends a PLI there, A turns it into a PLI to the publisher. Room 1234 runs with `fir_freq = 0`
 * here, so no periodic keyframe request hides a broken back-channel: the publisher's PLI count must
 * grow when the viewer starts watching.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, launchBrowser, openDemo, waitForMedia, type BrowserHandle, type DemoPage, type PcReport } from '../helpers/browser.js';
import { GATEWAYS, gatewayTitle, sleep, startAndRegister, stopwatch } from '../helpers/demo-flows.js';
import type { JsonObject } from '../helpers/janus-client.js';
import { pluginJcfg, startMediaGateway, type MediaGateway } from '../helpers/media-server.js';
import { PluginHttp } from '../helpers/plugin-http.js';
import { assertPlaying, watchInStreamingDemo } from '../helpers/streaming-demo.js';

const ROOM = 1234;
const MP_ID = 1;
const AUDIO_PT = 111;
const VIDEO_PT = 100;

/** Room 1234 of the stock demo config, without periodic keyframe requests (see above). */
const roomJcfg = pluginJcfg('videoroom').replace(/fir_freq = \d+/, 'fir_freq = 0');

/** B's mountpoint for the forwarded publisher: ports (and the video RTCP port) picked by B. */
const MOUNTPOINT_JCFG = [
  'general: {',
  '}',
  '',
  'from-gateway-a: {',
  '  type = "rtp"',
  `  id = ${MP_ID}`,
  '  description = "Room 1234 publisher, forwarded from gateway A"',
  '  secret = "adminpwd"',
  '  media = (',
  `    { type = "audio", mid = "a", label = "audio", port = 0, pt = ${AUDIO_PT}, codec = "opus" },`,
  `    { type = "video", mid = "v", label = "video", port = 0, rtcpport = 0, pt = ${VIDEO_PT}, codec = "vp8" }`,
  '  )',
  '}',
  '',
].join('\n');

// one media worker each: two whole servers and two browsers share a 2-core machine
const oneWorker = (text: string): string => text.replace('media: {', 'media: {\n  media_workers = 1');

const isPublisher = (pc: PcReport) => pc.local === 'offer' && pc.connectionState !== 'closed';

/** PLIs the page's publisher PeerConnection received (outbound-rtp video pliCount). */
async function publisherPlis(dp: DemoPage): Promise<number> {
  return (await dp.page.evaluate(`(async () => {
    let n = 0;
    for (const pc of window.__harnessPcs || []) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video') n += s.pliCount || 0; });
    }
    return n;
  })()`)) as number;
}

function logTails(a: MediaGateway | undefined, b: MediaGateway | undefined): string {
  const tail = (gw: MediaGateway | undefined, name: string) => (gw ? `\n--- ${name} ${gw.alive() ? 'log tail' : 'DIED; log tail'} ---\n${gw.log().slice(-2000)}` : '');
  return tail(a, 'gateway A (VideoRoom)') + tail(b, 'gateway B (Streaming)');
}

for (const kind of GATEWAYS) {
  describe(`scale-out across two processes of ${gatewayTitle(kind)}`, () => {
    let browser: BrowserHandle | undefined;
    let a: MediaGateway | undefined;
    let b: MediaGateway | undefined;
    before(async () => {
      // one after the other: on a loaded machine, three starting processes side by side starve each other
      browser = await launchBrowser();
      const edit = kind === 'portunus' ? { janusJcfg: oneWorker } : {};
      a = await startMediaGateway(kind, ['videoroom'], { videoroom: roomJcfg }, { prefix: 'st-so-a', ...edit });
      b = await startMediaGateway(kind, ['streaming'], { streaming: MOUNTPOINT_JCFG }, { prefix: 'st-so-b', ...edit });
    });
    after(async () => {
      await closeAll([browser, a, b]);
    });

    test('VideoRoom publisher on gateway A, rtp_forward into a mountpoint of gateway B, watched in streamingtest.html on B: frames decoded, audio heard, keyframes over the RTCP back-channel', { timeout: 90_000 }, async () => {
      const gwA = a!;
      const gwB = b!;
      const handle = browser!;
      const { mark, timings } = stopwatch();
      const pages: DemoPage[] = [];
      const apiA = await PluginHttp.open(gwA.httpUrl, 'janus.plugin.videoroom');
      const apiB = await PluginHttp.open(gwB.httpUrl, 'janus.plugin.streaming');
      try {
        // 1. the publisher: Janus's videoroomtest.html on A
        const pub = await openDemo(handle, { wsUrl: gwA.wsUrl }, 'videoroomtest.html', { room: String(ROOM) }, `scale-out/${kind}/publisher on A`);
        pages.push(pub);
        await startAndRegister(pub, 'janus.plugin.videoroom', 'origin');
        await waitForMedia(pub, {}, 20_000, { select: (pcs) => pcs.filter(isPublisher), what: 'the publisher PeerConnection' });
        await pub.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, 'the publisher "webrtcup"');
        mark('publishing on A');

        // 2. what an operator's control script does: find the publisher and its mids (a `join` lists them)...
        const ctl = await apiA.attach();
        const joined = await apiA.req(ctl, { request: 'join', room: ROOM, ptype: 'publisher', display: 'scale-out controller' });
        const feeds = (joined.publishers ?? []) as Array<{ id: number; display?: string; streams?: Array<{ type: string; mid: string }> }>;
        const origin = feeds.find((p) => p.display === 'origin');
        assert.ok(origin, `the publisher is listed when joining: ${JSON.stringify(joined)}`);
        const midOf = (type: string): string => {
          const s = origin.streams?.find((x) => x.type === type);
          assert.ok(s, `the publisher has a ${type} stream: ${JSON.stringify(origin)}`);
          return s.mid;
        };
        // ...and B's ports (only `info` with the mountpoint's secret shows them)
        const viewerHandle = await apiB.attach();
        const info = (await apiB.req(viewerHandle, { request: 'info', id: MP_ID, secret: 'adminpwd' })).info as { media: Array<{ mid: string; port: number; rtcpport?: number }> };
        const audio = info.media.find((m) => m.mid === 'a')!;
        const video = info.media.find((m) => m.mid === 'v')!;
        assert.ok(audio.port > 0 && video.port > 0 && (video.rtcpport ?? 0) > 0, `B's mountpoint ports: ${JSON.stringify(info.media)}`);

        // 3. forward A's publisher to B (the room's secret is required for rtp_forward)
        const fwd = await apiA.req(ctl, {
          request: 'rtp_forward', room: ROOM, publisher_id: origin.id, secret: 'adminpwd', host: '127.0.0.1',
          streams: [
            { mid: midOf('audio'), port: audio.port, pt: AUDIO_PT },
            { mid: midOf('video'), port: video.port, pt: VIDEO_PT, rtcp_port: video.rtcpport },
          ],
        } as JsonObject);
        assert.equal(fwd.videoroom, 'rtp_forward', `rtp_forward: ${JSON.stringify(fwd)}`);
        const forwarders = fwd.forwarders as Array<{ type?: string; local_rtcp_port?: number; remote_rtcp_port?: number }>;
        assert.equal(forwarders.length, 2, JSON.stringify(fwd));
        assert.ok(forwarders.some((f) => f.remote_rtcp_port === video.rtcpport && (f.local_rtcp_port ?? 0) > 0), `the video forwarder has its RTCP socket: ${JSON.stringify(forwarders)}`);
        mark('forwarding');
        // whatever A asked the publisher for so far (at publishing, at the forwarder's creation) is counted by now
        await sleep(1500);
        const plisBefore = await publisherPlis(pub);

        // 4. the viewer: Janus's streamingtest.html on B
        const viewer = await openDemo(handle, { wsUrl: gwB.wsUrl }, 'streamingtest.html', {}, `scale-out/${kind}/viewer on B`);
        pages.push(viewer);
        mark('viewer page loaded');
        const pc = await watchInStreamingDemo(viewer, MP_ID, 30_000, mark);
        mark('viewer decoding on B');
        // (3 s, more than 10 frames: a starved publisher's encoder drops its frame rate, the GStreamer and ffmpeg sources do not)
        const { frames, power } = await assertPlaying(viewer, pc, 3000, 10);
        mark('growth checked');
        const v = (await viewer.peerConnections()).find((p) => p.index === pc.index)!.inbound.find((i) => i.kind === 'video')!;
        assert.equal(v.codec, 'video/VP8');
        assert.ok(v.frameWidth > 0 && v.frameHeight > 0, 'a decoded picture size');

        // 5. the viewer's start asked B for a keyframe, B asked A over RTCP, A asked the publisher
        let plisAfter = await publisherPlis(pub);
        for (let i = 0; i < 20 && plisAfter <= plisBefore; i++) {
          await sleep(250);
          plisAfter = await publisherPlis(pub);
        }
        assert.ok(plisAfter > plisBefore, `the publisher must get a PLI when the viewer on B starts (pliCount ${plisBefore} -> ${plisAfter})`);
        assert.deepEqual(handle.blocked, [], 'the pages must not request anything outside this machine');
        console.log(`# streaming-scaleout ${kind}: ${v.frameWidth}x${v.frameHeight}, ${frames} frames in 3 s, audio power ${power.toExponential(2)}, publisher PLIs ${plisBefore} -> ${plisAfter}; timings (ms): ${JSON.stringify(timings)}`);
      } catch (e) {
        if (e instanceof Error) e.message += logTails(a, b);
        throw e;
      } finally {
        await closeAll([...pages]);
        await apiA.close();
        await apiB.close();
      }
    });
  });
}
