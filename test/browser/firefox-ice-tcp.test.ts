/**
 * ICE-TCP (issue 14) in real Firefox: Firefox runs inside a network namespace joined to this machine by
 * a veth pair (test/helpers/netns.ts) where iptables drops every UDP packet it sends, so no UDP pair can
 * succeed. Portunus runs with `nat.ice_tcp = true` and advertises only the veth address. Firefox's ICE
 * (nICEr) makes active TCP candidates towards Portunus's passive one; Janus's echotest.html must play:
 * echoed frames decoded grow, the data channel echoes, Firefox's selected candidate pair is TCP on both
 * ends (getStats), and so is the one Portunus reports in Admin handle_info.
 * Skipped, with the reason, without root/netns/iptables or firefox-esr.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, inboundTotal, waitForMedia } from '../helpers/browser.js';
import { sleep, withPages } from '../helpers/demo-flows.js';
import { firefoxUnavailable, launchFirefox, openFirefoxDemo, pairProtocols, type FirefoxHandle } from '../helpers/firefox.js';
import { netnsUnavailable, startReachLab, type ReachLab } from '../helpers/netns.js';

const skip = netnsUnavailable() ?? firefoxUnavailable();

describe('ICE-TCP in Firefox: echotest.html from a namespace where all UDP is dropped', { skip: skip ?? false }, () => {
  let lab: ReachLab | undefined;
  let firefox: FirefoxHandle | undefined;
  before(async () => {
    lab = await startReachLab({ chromiumBinary: '/bin/false', plugins: ['echotest'], prefix: 'ff-icetcp', drop: 'udp', iceTcp: true });
    firefox = await launchFirefox({ link: lab.link, pagePort: lab.pagePort });
  });
  after(async () => {
    await closeAll([firefox]);
    await lab?.close();
  });

  test('connects over TCP: the selected pair is tcp on both sides, echoed frames decoded grow, data channel echo', { timeout: 90_000 }, async () => {
    const link = lab!.link;
    const dp = await openFirefoxDemo(firefox!, { wsUrl: lab!.wsUrl }, 'echotest.html', {}, 'firefox/echotest/ice-tcp');
    await withPages(lab!.gw, [dp], async () => {
      const t0 = Date.now();
      await dp.start();
      await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 15_000, 'session creation + attach to janus.plugin.echotest');
      const [pc] = await waitForMedia(dp, { video: true, data: true }, 45_000, { what: 'echoed video over ICE-TCP' });
      assert.ok(pc);
      const mediaMs = Date.now() - t0;
      assert.deepEqual(pairProtocols(pc.selectedPair), { local: 'tcp', remote: 'tcp' }, `Firefox's selected pair is TCP on both ends: ${pc.selectedPair}\n${await dp.diagnostics()}`);
      assert.ok(pc.selectedPair!.includes(`${link.hostIp}:`), `the remote candidate is the veth address: ${pc.selectedPair}`);

      const before1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
      await sleep(3000);
      const after1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
      const f0 = inboundTotal(before1, 'video', 'framesDecoded');
      const f1 = inboundTotal(after1, 'video', 'framesDecoded');
      if (!(f1 > f0 + 5)) assert.fail(`echoed video frames decoded must grow over 3 s on TCP (${f0} -> ${f1})\n${await dp.diagnostics()}`);
      console.log(`# firefox ice-tcp: selected pair ${after1[0]?.selectedPair}; frames decoded ${f0} -> ${f1} in 3 s; start to decoded media ${mediaMs} ms`);

      const text = `firefox over tcp ${Date.now()}`;
      await dp.page.type('#datasend', text);
      await dp.page.keyboard.press('Enter');
      await dp.waitForExpression(`document.getElementById('datarecv').value === ${JSON.stringify(`Janus EchoTest here! You wrote: ${text}`)}`, 15_000, 'the data channel echo over ICE-TCP');

      const pairs = await lab!.gatewayPairs();
      assert.ok(pairs.length > 0 && pairs.every((p) => /^\S+ \[host,tcp\] <-> \S+ \[(prflx|host),tcp\]$/.test(p)), `Portunus's selected pair (handle_info) is TCP: ${pairs.join(' | ')}`);
      assert.deepEqual(firefox!.blocked, [], 'the page must not request anything outside this machine');
    });
  });
});
if (skip) console.log(`# firefox ice-tcp browser test skipped: ${skip}`);
