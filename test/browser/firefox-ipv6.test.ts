/**
 * IPv6 media (issue 14) in real Firefox: Firefox runs inside a network namespace joined to this machine
 * by a veth pair with ULA addresses (test/helpers/netns.ts, startReachLab), where iptables drops every
 * IPv4 UDP packet it sends, so only an IPv6 pair can succeed (signalling stays on IPv4 TCP). Portunus
 * runs with `media.ipv6 = true` and advertises the veth's addresses. Janus's echotest.html must play:
 * Firefox's selected pair (nICEr, getStats) is UDP to the veth's IPv6 address, echoed frames decoded
 * grow, the data channel echoes, and Portunus's pair (Admin handle_info) is between the two IPv6
 * addresses. The second suite has `single_port` on (default worker pool): the main thread's IPv6 twin
 * socket carries the pair, and both sides name that port.
 * Skipped, with the reason, without root/netns/iptables or firefox-esr.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, inboundTotal, waitForMedia } from '../helpers/browser.js';
import { sleep, withPages } from '../helpers/demo-flows.js';
import { firefoxUnavailable, launchFirefox, openFirefoxDemo, pairProtocols, type FirefoxHandle } from '../helpers/firefox.js';
import { netnsUnavailable, startReachLab, type ReachLab } from '../helpers/netns.js';

const skip = netnsUnavailable() ?? firefoxUnavailable();

for (const singlePort of [false, true]) describe(`IPv6 in Firefox: echotest.html from a namespace where IPv4 UDP is dropped${singlePort ? ', single_port on' : ''}`, { skip: skip ?? false }, () => {
  let lab: ReachLab | undefined;
  let firefox: FirefoxHandle | undefined;
  before(async () => {
    lab = await startReachLab({ chromiumBinary: '/bin/false', plugins: ['echotest'], prefix: 'ff-ipv6', ipv6: true, mediaIpv6: true, drop: 'udp4', singlePort });
    firefox = await launchFirefox({ link: lab.link, pagePort: lab.pagePort });
  });
  after(async () => {
    await closeAll([firefox]);
    await lab?.close();
  });

  test('connects over IPv6: the selected pair is UDP between the ULA addresses, echoed frames decoded grow, data channel echo', { timeout: 90_000 }, async () => {
    const l = lab!;
    const dp = await openFirefoxDemo(firefox!, { wsUrl: l.wsUrl }, 'echotest.html', {}, `firefox/echotest/ipv6${singlePort ? '/single-port' : ''}`);
    await withPages(l.gw, [dp], async () => {
      const t0 = Date.now();
      await dp.start();
      await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 15_000, 'session creation + attach to janus.plugin.echotest');
      const [pc] = await waitForMedia(dp, { video: true, data: true }, 45_000, { what: 'echoed video over IPv6' });
      assert.ok(pc);
      const mediaMs = Date.now() - t0;
      assert.deepEqual(pairProtocols(pc.selectedPair), { local: 'udp', remote: 'udp' }, `Firefox's selected pair is UDP: ${pc.selectedPair}\n${await dp.diagnostics()}`);
      assert.ok(pc.selectedPair!.includes(`${l.hostIp6}:`), `the remote candidate is the veth's IPv6 address: ${pc.selectedPair}`);
      if (singlePort) assert.ok(pc.selectedPair!.includes(`${l.hostIp6}:${l.port}/udp`), `the remote candidate is single_port ${l.port}: ${pc.selectedPair}`);

      const before1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
      await sleep(3000);
      const after1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
      const f0 = inboundTotal(before1, 'video', 'framesDecoded');
      const f1 = inboundTotal(after1, 'video', 'framesDecoded');
      if (!(f1 > f0 + 5)) assert.fail(`echoed video frames decoded must grow over 3 s on IPv6 (${f0} -> ${f1})\n${await dp.diagnostics()}`);
      console.log(`# firefox ipv6${singlePort ? ` single_port ${l.port}` : ''}: selected pair ${after1[0]?.selectedPair}; frames decoded ${f0} -> ${f1} in 3 s; start to decoded media ${mediaMs} ms`);

      const text = `firefox over ipv6 ${Date.now()}`;
      await dp.page.type('#datasend', text);
      await dp.page.keyboard.press('Enter');
      await dp.waitForExpression(`document.getElementById('datarecv').value === ${JSON.stringify(`Janus EchoTest here! You wrote: ${text}`)}`, 15_000, 'the data channel echo over IPv6');

      const pairs = await l.gatewayPairs();
      assert.ok(pairs.length > 0 && pairs.every((p) => p.startsWith(`${l.hostIp6}:`) && p.includes(`<-> ${l.nsIp6}:`) && p.includes(',udp]')), `Portunus's selected pair (handle_info) is UDP between the IPv6 addresses: ${pairs.join(' | ')}`);
      if (singlePort) assert.ok(pairs.every((p) => p.startsWith(`${l.hostIp6}:${l.port} `)), `Portunus's side of the pair is single_port ${l.port}: ${pairs.join(' | ')}`);
      assert.deepEqual(firefox!.blocked, [], 'the page must not request anything outside this machine');
    });
  });
});
if (skip) console.log(`# firefox ipv6 browser test skipped: ${skip}`);
