/**
 * media.single_port in real Firefox (issue 14): Portunus with `single_port` on and the default media
 * worker pool (the main thread reads the one port and hands datagrams to the workers, port-reader.ts).
 * - echotest.html in Firefox: its selected pair's remote candidate is the one port, echoed video frames
 *   decoded grow, the data channel echoes, and Portunus's side of the pair (handle_info) is that port.
 * - videoroomtest.html with a Chromium and a Firefox participant in room 1234: each decodes the other's
 *   video, and every PeerConnection of both browsers (publishers and subscribers) uses the one port.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, inboundTotal, launchBrowser, openDemo, waitForMedia, type BrowserHandle, type PcReport } from '../helpers/browser.js';
import { sleep, startAndRegister, withPages } from '../helpers/demo-flows.js';
import { firefoxUnavailable, launchFirefox, openFirefoxDemo, pairProtocols, type FirefoxHandle } from '../helpers/firefox.js';
import { startMediaGateway, type MediaGateway } from '../helpers/media-server.js';
import { freeMediaPort, gatewayPairs } from '../helpers/netns.js';

const skip = firefoxUnavailable();
const isPublisher = (pc: PcReport) => pc.local === 'offer' && pc.connectionState !== 'closed';
const isSubscriber = (pc: PcReport) => pc.local === 'answer' && pc.connectionState !== 'closed';

describe('single_port in Firefox: echotest.html, and videoroomtest.html with a Chromium participant', { skip: skip ?? false }, () => {
  let firefox: FirefoxHandle | undefined;
  let chromium: BrowserHandle | undefined;
  let gw: MediaGateway | undefined;
  let port = 0;
  before(async () => {
    port = await freeMediaPort();
    gw = await startMediaGateway('portunus', ['echotest', 'videoroom'], {}, {
      prefix: 'ff-singleport',
      janusJcfg: (t) => t.replace('media: {', `media: {\n  single_port = ${port}`),
    });
    firefox = await launchFirefox();
    chromium = await launchBrowser();
  });
  after(async () => {
    await closeAll([firefox, chromium, gw]);
  });

  test('echotest: Firefox selects the single port, echoed frames decoded grow, data channel echo', { timeout: 90_000 }, async () => {
    const dp = await openFirefoxDemo(firefox!, { wsUrl: gw!.wsUrl }, 'echotest.html', {}, 'firefox/echotest/single-port');
    await withPages(gw!, [dp], async () => {
      await dp.start();
      await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 15_000, 'session creation + attach to janus.plugin.echotest');
      const [pc] = await waitForMedia(dp, { video: true, data: true }, 45_000, { what: 'echoed video on single_port' });
      assert.ok(pc);
      assert.deepEqual(pairProtocols(pc.selectedPair), { local: 'udp', remote: 'udp' }, `Firefox's selected pair is UDP: ${pc.selectedPair}`);
      assert.match(pc.selectedPair ?? '', new RegExp(`-> \\w+ [^ ]+:${port}/udp `), `Firefox's selected remote candidate is single_port ${port}: ${pc.selectedPair}`);
      const before1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
      await sleep(3000);
      const after1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
      const f0 = inboundTotal(before1, 'video', 'framesDecoded');
      const f1 = inboundTotal(after1, 'video', 'framesDecoded');
      if (!(f1 > f0 + 5)) assert.fail(`echoed video frames decoded must grow over 3 s (${f0} -> ${f1})\n${await dp.diagnostics()}`);
      console.log(`# firefox single-port echotest: ${after1[0]?.selectedPair}; frames decoded ${f0} -> ${f1} in 3 s`);
      const text = `firefox single port ${Date.now()}`;
      await dp.page.type('#datasend', text);
      await dp.page.keyboard.press('Enter');
      await dp.waitForExpression(`document.getElementById('datarecv').value === ${JSON.stringify(`Janus EchoTest here! You wrote: ${text}`)}`, 15_000, 'the data channel echo on single_port');
      const pairs = await gatewayPairs(gw!);
      assert.ok(pairs.length > 0 && pairs.every((p) => new RegExp(`^\\S+:${port} \\[host,udp\\]`).test(p)), `Portunus's side of every pair is single_port ${port}: ${pairs.join(' | ')}`);
      assert.deepEqual(firefox!.blocked, [], 'the page must not request anything outside this machine');
    });
  });

  test('videoroom: Firefox and Chromium decode each other, every PeerConnection of both on the single port', { timeout: 120_000 }, async () => {
    const room = { room: '1234' };
    const chrome = await openDemo(chromium!, { wsUrl: gw!.wsUrl }, 'videoroomtest.html', room, 'videoroom/single-port/chromium');
    const pages: { close(): Promise<void> }[] = [chrome];
    await withPages(gw!, pages, async () => {
      const fox = await openFirefoxDemo(firefox!, { wsUrl: gw!.wsUrl }, 'videoroomtest.html', room, 'videoroom/single-port/firefox');
      pages.push(fox);
      await startAndRegister(chrome, 'janus.plugin.videoroom', 'chromiumsp');
      await waitForMedia(chrome, {}, 20_000, { select: (pcs) => pcs.filter(isPublisher), what: 'the Chromium publisher PeerConnection' });
      await startAndRegister(fox, 'janus.plugin.videoroom', 'firefoxsp');
      await waitForMedia(fox, {}, 20_000, { select: (pcs) => pcs.filter(isPublisher), what: 'the Firefox publisher PeerConnection' });
      const [foxSub] = await waitForMedia(fox, { video: true }, 30_000, { select: (pcs) => pcs.filter(isSubscriber), what: 'Chromium\'s video in Firefox' });
      const [chromeSub] = await waitForMedia(chrome, { video: true }, 30_000, { select: (pcs) => pcs.filter(isSubscriber), what: 'Firefox\'s video in Chromium' });
      assert.ok(foxSub && chromeSub);
      await sleep(2500);
      for (const [dp, before, who] of [
        [fox, foxSub, 'Firefox subscribing to Chromium'],
        [chrome, chromeSub, 'Chromium subscribing to Firefox'],
      ] as const) {
        const after = (await dp.peerConnections()).filter((p) => p.index === before.index);
        const f0 = inboundTotal([before], 'video', 'framesDecoded');
        const f1 = inboundTotal(after, 'video', 'framesDecoded');
        if (!(f1 > f0 + 10)) assert.fail(`${who}: decoded video frames must grow (${f0} -> ${f1} in 2.5 s)\n${await dp.diagnostics()}`);
        console.log(`# firefox single-port videoroom: ${who}: frames ${f0} -> ${f1} in 2.5 s, pair ${after[0]?.selectedPair}`);
      }
      for (const [dp, who] of [
        [fox, 'Firefox'],
        [chrome, 'Chromium'],
      ] as const) {
        const pcs = (await dp.peerConnections()).filter((p) => p.connectionState !== 'closed');
        assert.ok(pcs.length >= 2, `${who} has a publisher and a subscriber PeerConnection: ${pcs.length}`);
        for (const pc of pcs) assert.match(pc.selectedPair ?? '', new RegExp(`-> \\w+ [^ ]+:${port}/udp `), `${who}'s PeerConnection ${pc.index} (${pc.local}) selects single_port ${port}: ${pc.selectedPair}`);
      }
      const pairs = await gatewayPairs(gw!);
      assert.ok(pairs.length >= 4 && pairs.every((p) => new RegExp(`^\\S+:${port} \\[host,udp\\]`).test(p)), `Portunus's side of every pair is single_port ${port}: ${pairs.join(' | ')}`);
      assert.deepEqual(firefox!.blocked, [], 'the Firefox page must not request anything outside this machine');
      assert.deepEqual(chromium!.blocked, [], 'the Chromium page must not request anything outside this machine');
    });
  });
});
if (skip) console.log(`# firefox single-port browser test skipped: ${skip}`);
