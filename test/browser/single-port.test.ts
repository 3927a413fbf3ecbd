/**
 * media.single_port in real Chromium: Portunus with one media worker and `single_port` set, two
 * echotest.html pages at once. Both PeerConnections must connect through the same UDP port (the
 * browser's selected remote candidate), and each page's echoed video frames decoded must grow.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { closeAll, inboundTotal, launchBrowser, openDemo, waitForMedia, type BrowserHandle } from '../helpers/browser.js';
import { sleep, withPages } from '../helpers/demo-flows.js';
import { startMediaGateway, type MediaGateway } from '../helpers/media-server.js';

/** A UDP port free right now (bound and released). */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '0.0.0.0', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

describe('single_port: two echotest.html pages on one UDP port', () => {
  let handle: BrowserHandle | undefined;
  let gw: MediaGateway | undefined;
  let port = 0;
  before(async () => {
    port = await freeUdpPort();
    handle = await launchBrowser();
    gw = await startMediaGateway('portunus', ['echotest'], {}, {
      prefix: 'singleport',
      janusJcfg: (t) => t.replace(/(rtp_port_range = "[^"]*")/, `$1\n  single_port = ${port}\n  media_workers = 1`),
    });
  });
  after(async () => {
    await closeAll([handle, gw]);
  });

  test('both PeerConnections select the single port; echoed video frames decoded grow on both', { timeout: 120_000 }, async () => {
    const pages = [await openDemo(handle!, { wsUrl: gw!.wsUrl }, 'echotest.html', {}, 'echotest/single-port-1'), await openDemo(handle!, { wsUrl: gw!.wsUrl }, 'echotest.html', {}, 'echotest/single-port-2')];
    await withPages(gw!, pages, async () => {
      for (const dp of pages) {
        await dp.start();
        await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 15_000, 'session creation + attach to janus.plugin.echotest');
      }
      const pcs = [];
      for (const dp of pages) {
        const [pc] = await waitForMedia(dp, { video: true, data: true }, 30_000, { what: 'echoed video on single_port' });
        assert.ok(pc);
        pcs.push(pc);
      }
      for (const pc of pcs) assert.match(pc.selectedPair ?? '', new RegExp(`-> \\w+ [^ ]+:${port}/udp `), `the browser's selected remote candidate is single_port ${port}: ${pc.selectedPair}`);
      const before1 = await Promise.all(pages.map((dp) => dp.peerConnections()));
      await sleep(3000);
      const after1 = await Promise.all(pages.map((dp) => dp.peerConnections()));
      for (let i = 0; i < pages.length; i++) {
        const f0 = inboundTotal(before1[i]!, 'video', 'framesDecoded');
        const f1 = inboundTotal(after1[i]!, 'video', 'framesDecoded');
        if (!(f1 > f0 + 5)) assert.fail(`page ${i + 1}: echoed video frames decoded must grow over 3 s (${f0} -> ${f1})\n${await pages[i]!.diagnostics()}`);
        console.log(`# single-port page ${i + 1}: ${pcs[i]!.selectedPair}; frames decoded ${f0} -> ${f1} in 3 s`);
      }
      assert.deepEqual(handle!.blocked, [], 'the page must not request anything outside this machine');
    });
  });
});
