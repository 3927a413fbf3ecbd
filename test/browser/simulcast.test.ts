/**
 * Simulcast through the VideoRoom in real Chromium: one publisher sends its fake camera as three
 * rid-based VP8 simulcast layers (janus.js `simulcast: true` with explicit sendEncodings
 * h = 640x360, m = 320x180, l = 160x90), one subscriber in the same page receives that feed and
 * switches `substream` 0 -> 2 -> 1 with `configure` on its handle. After each switch the video
 * keeps decoding and the received resolution (getStats frameWidth/frameHeight and the <video>
 * element's size) becomes the one of the layer the publisher actually sends for that substream.
 *
 * Our own small page (test/browser/pages/simulcast.{html,js}) on Debian's janus.js, because the
 * demo pages publish and subscribe on separate pages with UI-driven switching.
 *
 * Making Chrome send all three layers with the fake camera on a loaded machine:
 *  - capture 640x360 at 15 fps (cheap to encode) and turn off Chrome's legacy per-resolution layer
 *    limit (which allows only 2 layers at 640x360) with
 *    --force-fieldtrials=WebRTC-LegacySimulcastLayerLimit/Disabled/;
 *  - the room has no 256 kbps cap (bitrate 2 Mbps: REMB never limits the 3 layers);
 *  - the page adds x-google-start-bitrate / min-bitrate to the gateway's answer so the send-side
 *    estimate starts at 1 Mbps instead of ramping up from 300 kbps for ~20 s;
 *  - degradationPreference 'maintain-resolution': CPU adaptation drops frame rate, not the layer
 *    sizes (the sizes are how the test tells the layers apart).
 * The test first waits until the publisher's outbound-rtp stats show three rids sending with three
 * different heights, and fails (quoting qualityLimitationReason) if Chrome does not send them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, closeAll } from '../helpers/browser.js';
import { GATEWAYS, gatewayTitle, sleep, stopwatch } from '../helpers/demo-flows.js';
import { startMediaGateway, type MediaGateway } from '../helpers/media-server.js';
import { postJson } from '../helpers/janus-client.js';
import { ensureSystemPackage } from '../helpers/system.js';
import { startPageServer } from '../helpers/page-server.js';

const ROOM = 4242;
const LAYERS = { width: 640, height: 360, fps: 15 };
const ENCODINGS = [
  { rid: 'h', active: true, maxBitrate: 600_000 },
  { rid: 'm', active: true, maxBitrate: 200_000, scaleResolutionDownBy: 2 },
  { rid: 'l', active: true, maxBitrate: 80_000, scaleResolutionDownBy: 4 },
];

interface Outbound {
  rid: string | null;
  frameWidth: number;
  frameHeight: number;
  packetsSent: number;
  framesEncoded: number;
  qualityLimitationReason: string | null;
}
interface Inbound {
  frameWidth: number;
  frameHeight: number;
  framesDecoded: number;
  packetsReceived: number;
  packetsLost: number;
  keyFramesDecoded: number;
}
interface Stats {
  outbound: Outbound[];
  inbound: Inbound | null;
  remoteVideo: { width: number; height: number; time: number; paused: boolean };
}

async function createRoom(gw: MediaGateway, room: number): Promise<void> {
  const r = await postJson(gw.adminUrl, {
    janus: 'message_plugin',
    transaction: 'create-sim',
    admin_secret: gw.adminSecret,
    plugin: 'janus.plugin.videoroom',
    request: { request: 'create', room, description: 'simulcast', publishers: 2, bitrate: 2_000_000, videocodec: 'vp8', audiocodec: 'opus', fir_freq: 0 },
  });
  const resp = r.response as { videoroom?: string } | undefined;
  assert.equal(resp?.videoroom, 'created', `create room ${room}: ${JSON.stringify(r)}`);
}

for (const kind of GATEWAYS) {
  describe(`simulcast VP8 publisher, subscriber switching substreams, against ${gatewayTitle(kind)}`, () => {
    let browser: Browser | undefined;
    let gw: MediaGateway | undefined;
    let pages: Awaited<ReturnType<typeof startPageServer>> | undefined;
    before(async () => {
      browser = await chromium.launch({
        executablePath: ensureSystemPackage('chromium', CHROMIUM),
        headless: true,
        args: [...CHROMIUM_ARGS, '--force-fieldtrials=WebRTC-LegacySimulcastLayerLimit/Disabled/'],
        timeout: 30_000,
      });
      gw = await startMediaGateway(kind, ['videoroom']);
      pages = await startPageServer('127.0.0.1');
    });
    after(async () => {
      await closeAll([{ close: async () => void (await browser?.close()) }, gw, pages]);
    });

    test('three layers sent; substream 0 -> 2 -> 1 keeps playing and the received resolution follows', { timeout: 150_000 }, async (t) => {
      // The real Janus is the harness's self-check: on a loaded machine it sometimes does not switch
      // layers within the deadline (in one CI run at load 15 it never delivered a keyframe of the low
      // layer in two attempts), which says nothing about Portunus. It gets three attempts (each in a new
      // room) and, if all fail, the self-check is reported as skipped with the reason rather than failing
      // the suite; Portunus gets one attempt and always fails the test.
      const attempts = kind === 'janus' ? 3 : 1;
      for (let attempt = 1; ; attempt++) {
        try {
          await scenario(ROOM + attempt - 1);
          return;
        } catch (e) {
          const first = String((e as Error).message).split('\n')[0];
          if (attempt >= attempts && kind === 'janus') {
            console.log(`# simulcast janus: self-check inconclusive after ${attempts} attempts: ${first}`);
            t.skip(`the real Janus did not switch layers in time on this machine: ${first}`);
            return;
          }
          if (attempt >= attempts) throw e;
          console.log(`# simulcast ${kind}: attempt ${attempt} failed: ${first}`);
        }
      }
    });

    async function scenario(room: number): Promise<void> {
      const { mark, timings } = stopwatch();
      await createRoom(gw!, room);
      const context = await browser!.newContext({ permissions: ['camera', 'microphone'] });
      const log: string[] = [];
      let page: Page | undefined;
      const diag = async (): Promise<string> => {
        const st = page ? await page.evaluate('harness.stats()').catch((e: Error) => e.message) : null;
        return `stats: ${JSON.stringify(st)}\nconsole tail:\n  ${log.slice(-25).join('\n  ')}\n--- ${kind} log tail ---\n${gw!.log().slice(-2000)}`;
      };
      try {
        await context.route((u) => u.hostname !== '127.0.0.1' && u.protocol.startsWith('http'), (r) => r.abort('blockedbyclient'));
        page = await context.newPage();
        page.on('console', (m) => log.push(`[${m.type()}] ${m.text().slice(0, 400)}`));
        page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
        await page.goto(`${pages!.origin}/pages/simulcast.html?${new URLSearchParams({ server: gw!.wsUrl, startBitrate: '1000' })}`, { waitUntil: 'load' });
        const stats = () => page!.evaluate('harness.stats()') as Promise<Stats>;

        const feed = (await page.evaluate(`harness.publish(${room}, ${JSON.stringify({ ...LAYERS, encodings: ENCODINGS })})`)) as number | string;
        mark('publishing');

        // What Chrome actually sends: three rids, each with packets and its own resolution.
        let layers: Outbound[] = [];
        for (const deadline = Date.now() + 15_000; ; await sleep(500)) {
          const out = (await stats()).outbound;
          layers = out.filter((o) => o.rid && o.packetsSent > 0 && o.frameHeight > 0).sort((a, b) => a.frameHeight - b.frameHeight);
          if (layers.length === 3 && new Set(layers.map((l) => l.frameHeight)).size === 3) break;
          if (Date.now() > deadline) assert.fail(`Chrome must send three simulcast layers of different sizes; outbound-rtp: ${JSON.stringify(out)}\n${await diag()}`);
        }
        assert.deepEqual(layers.map((l) => l.rid), ['l', 'm', 'h'], `layer sizes by rid: ${JSON.stringify(layers)}`);
        mark('three layers sent');

        const mid = (await page.evaluate(`harness.subscribe(${room}, ${JSON.stringify(feed)})`)) as string;
        assert.equal(typeof mid, 'string', 'the subscriber got a video m-line');
        mark('subscribed');

        for (const substream of [0, 2, 1]) {
          const want = layers[substream]!;
          await page.evaluate(`harness.configure(${substream})`);
          let s = await stats();
          for (const deadline = Date.now() + 12_000; ; await sleep(300)) {
            s = await stats();
            if (s.inbound && s.inbound.frameHeight === want.frameHeight && s.inbound.frameWidth === want.frameWidth && s.remoteVideo.height === want.frameHeight) break;
            if (Date.now() > deadline) assert.fail(`substream ${substream}: received resolution must become ${want.frameWidth}x${want.frameHeight} (rid ${want.rid}); got ${JSON.stringify(s.inbound)} <video> ${JSON.stringify(s.remoteVideo)}\n${await diag()}`);
          }
          mark(`substream ${substream} (${want.frameWidth}x${want.frameHeight})`);
          // ...and keeps playing at that size.
          await sleep(1500);
          const s2 = await stats();
          assert.ok(s2.inbound!.framesDecoded > s.inbound!.framesDecoded + 5, `substream ${substream}: frames must keep decoding (${s.inbound!.framesDecoded} -> ${s2.inbound!.framesDecoded})\n${await diag()}`);
          assert.equal(s2.inbound!.frameHeight, want.frameHeight, `substream ${substream}: resolution must stay ${want.frameHeight}p`);
          assert.ok(s2.remoteVideo.time > s.remoteVideo.time + 0.5 && !s2.remoteVideo.paused, `substream ${substream}: the <video> element must be playing: ${JSON.stringify([s.remoteVideo, s2.remoteVideo])}`);
        }
        // The gateway told the subscriber about each layer it switched to ({"substream": n} events).
        const events = (await page.evaluate('harness.subEvents')) as Array<{ substream?: number }>;
        const switched = events.filter((e) => typeof e.substream === 'number').map((e) => e.substream);
        let at = 0;
        for (const n of [0, 2, 1]) {
          const i = switched.indexOf(n, at);
          assert.ok(i >= 0, `a "substream": ${n} event must reach the subscriber after the previous switch; got ${JSON.stringify(switched)}`);
          at = i + 1;
        }
        assert.equal(switched.at(-1), 1, `the last substream event is the last switch (1): ${JSON.stringify(switched)}`);
        mark('done');
      } catch (e) {
        if (e instanceof Error && !e.message.includes('console tail')) e.message += `\n${await diag()}`;
        throw e;
      } finally {
        await context.close().catch(() => undefined);
      }
      console.log(`# simulcast ${kind} timings (ms): ${JSON.stringify(timings)}`);
    }
  });
}
