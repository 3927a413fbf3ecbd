/**
 * IPv6 media (issue 14) in real Chromium: the browser runs inside a network namespace joined to this
 * machine by a veth pair that also carries ULA addresses (fd00:77:<n>::1 here, ::2 inside), and
 * iptables (IPv4 only) drops every IPv4 UDP packet it sends: only an IPv6 pair can succeed. Portunus
 * runs with `media.ipv6 = true` (no ICE-TCP) and advertises the veth's addresses. Signalling stays on
 * IPv4 (TCP). echotest.html must connect: the selected pair is UDP between the two ULA addresses on
 * both sides, echoed video frames decoded grow, the data channel echoes. Skipped, with the reason,
 * without root/netns/iptables.
 *
 * The second suite does the same with `single_port` on (and the default media worker pool): the
 * process's one port, read by the main thread, carries the IPv6 pair too (its IPv6-only twin socket
 * on the same port number), and both sides' selected pair names that port.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CHROMIUM, closeAll, inboundTotal, openDemo, waitForMedia, type BrowserHandle } from '../helpers/browser.js';
import { sleep, withPages } from '../helpers/demo-flows.js';
import { netnsUnavailable, startReachLab, type ReachLab } from '../helpers/netns.js';
import { ensureSystemPackage } from '../helpers/system.js';

const skip = netnsUnavailable();

for (const singlePort of [false, true]) describe(`IPv6: echotest.html from a namespace where IPv4 UDP is dropped${singlePort ? ', single_port on' : ''}`, { skip: skip ?? false }, () => {
  let lab: ReachLab | undefined;
  let handle: BrowserHandle | undefined;
  let hostIp6 = '';
  let nsIp6 = '';
  let port = 0;
  before(async () => {
    lab = await startReachLab({ chromiumBinary: ensureSystemPackage('chromium', CHROMIUM), plugins: ['echotest'], prefix: 'ipv6', ipv6: true, mediaIpv6: true, drop: 'udp4', singlePort });
    ({ hostIp6, nsIp6, port } = lab);
    handle = await lab.launchChromium();
  });
  after(async () => {
    await closeAll([handle]);
    await lab?.close();
  });

  test('connects over IPv6: the selected pair is UDP between the ULA addresses, echoed frames decoded grow, data channel echo', { timeout: 120_000 }, async () => {
    const gw = lab!.gw;
    const dp = await openDemo(handle!, { wsUrl: lab!.wsUrl }, 'echotest.html', {}, 'echotest/ipv6');
    await withPages(gw, [dp], async () => {
      const t0 = Date.now();
      await dp.start();
      await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 15_000, 'session creation + attach to janus.plugin.echotest');
      const [pc] = await waitForMedia(dp, { video: true, data: true }, 60_000, { what: 'echoed video over IPv6' });
      assert.ok(pc);
      const mediaMs = Date.now() - t0;
      assert.match(pc.selectedPair ?? '', /\/udp -> .*\/udp \((succeeded|in-progress)\)$/, `the browser's selected pair is UDP: ${pc.selectedPair}`);
      assert.ok(pc.selectedPair!.includes(`${hostIp6}:`), `the remote candidate is the veth's IPv6 address: ${pc.selectedPair}`);
      if (singlePort) assert.ok(pc.selectedPair!.includes(`${hostIp6}:${port}/udp`), `the remote candidate is single_port ${port}: ${pc.selectedPair}`);

      const before1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
      await sleep(3000);
      const after1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
      const f0 = inboundTotal(before1, 'video', 'framesDecoded');
      const f1 = inboundTotal(after1, 'video', 'framesDecoded');
      if (!(f1 > f0 + 5)) assert.fail(`echoed video frames decoded must grow over 3 s on IPv6 (${f0} -> ${f1})\n${await dp.diagnostics()}`);
      console.log(`# ipv6${singlePort ? ` single_port ${port}` : ''}: selected pair ${after1[0]?.selectedPair}; frames decoded ${f0} -> ${f1} in 3 s; start to decoded media ${mediaMs} ms`);

      const text = `over ipv6 ${Date.now()}`;
      await dp.page.locator('#datasend').fill(text);
      await dp.page.locator('#datasend').press('Enter');
      await dp.step('data channel echo over IPv6', () =>
        dp.page.waitForFunction(`document.getElementById('datarecv') && document.getElementById('datarecv').value === ${JSON.stringify(`Janus EchoTest here! You wrote: ${text}`)}`, undefined, { timeout: 20_000 }),
      );

      // Portunus's view: the selected pair in Admin handle_info is between the two IPv6 addresses.
      const pairText = (await lab!.gatewayPairs()).join(' | ');
      assert.ok(pairText.startsWith(`${hostIp6}:`) && pairText.includes(`<-> ${nsIp6}:`) && pairText.includes(',udp]'), `Portunus's selected pair (handle_info): ${pairText}`);
      if (singlePort) assert.ok(pairText.startsWith(`${hostIp6}:${port} `), `Portunus's side of the pair is single_port ${port}: ${pairText}`);
      assert.deepEqual(handle!.blocked, [], 'the page must not request anything outside this machine');
    });
  });
});
if (skip) console.log(`# ipv6 browser test skipped: ${skip}`);
