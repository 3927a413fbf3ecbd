/**
 * ICE-TCP (issue 14) in real Chromium: the browser runs inside a network namespace joined to this
 * machine by a veth pair (test/helpers/netns.ts, startReachLab) where iptables drops every UDP packet it
 * sends (`iptables -A OUTPUT -p udp -j DROP`, ip6tables too): no UDP pair can ever succeed. Portunus
 * runs with `nat.ice_tcp = true` and advertises the veth address (ice_enforce_list = the host side of
 * the veth). Janus's own echotest.html must connect anyway: echoed video frames decoded grow, the data
 * channel echoes, and the browser's selected candidate pair is TCP (getStats), as is the one Portunus
 * reports in Admin handle_info. Skipped, with the reason, without root/netns/iptables.
 *
 * Four suites: IPv4, then IPv6 (`media.ipv6 = true`, ULA addresses on the veth pair, and IPv4 inside
 * the namespace limited to the page and the signalling: every other IPv4 packet is dropped, so the TCP
 * pair must be between the two IPv6 addresses); each with the port range (a listener per media worker)
 * and with `single_port` on (the main thread's one TCP listener, same number as the one UDP port,
 * relays the connection's frames to the worker of the PeerConnection: port-reader.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CHROMIUM, closeAll, inboundTotal, openDemo, waitForMedia, type BrowserHandle } from '../helpers/browser.js';
import { sleep, withPages } from '../helpers/demo-flows.js';
import { netnsUnavailable, startReachLab, type ReachLab } from '../helpers/netns.js';
import { ensureSystemPackage } from '../helpers/system.js';

const skip = netnsUnavailable();

for (const ipv6 of [false, true]) {
  for (const singlePort of [false, true]) {
    const what = `${ipv6 ? 'IPv6 ' : ''}ICE-TCP`;
    const title = ipv6
      ? `IPv6 ICE-TCP: echotest.html from a namespace where all UDP is dropped and IPv4 carries only signalling${singlePort ? ', single_port on' : ''}`
      : `ICE-TCP: echotest.html from a namespace where all UDP is dropped${singlePort ? ', single_port on' : ''}`;
    describe(title, { skip: skip ?? false }, () => {
      let lab: ReachLab | undefined;
      let handle: BrowserHandle | undefined;
      before(async () => {
        lab = await startReachLab({
          chromiumBinary: ensureSystemPackage('chromium', CHROMIUM),
          plugins: ['echotest'],
          prefix: ipv6 ? 'icetcp6' : 'icetcp',
          ipv6,
          mediaIpv6: ipv6,
          drop: ipv6 ? 'ipv4-media' : 'udp',
          iceTcp: true,
          singlePort,
        });
        handle = await lab.launchChromium();
      });
      after(async () => {
        await closeAll([handle]);
        await lab?.close();
      });

      test(`connects over ${what}: the selected pair is tcp, echoed frames decoded grow, data channel echo`, { timeout: 120_000 }, async () => {
        const l = lab!;
        const hostAddr = ipv6 ? l.hostIp6 : l.link.hostIp;
        const dp = await openDemo(handle!, { wsUrl: l.wsUrl }, 'echotest.html', {}, `echotest/ice-tcp${ipv6 ? '6' : ''}`);
        await withPages(l.gw, [dp], async () => {
          const t0 = Date.now();
          await dp.start();
          await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 15_000, 'session creation + attach to janus.plugin.echotest');
          // UDP checks time out first on the browser's side; TCP must carry everything.
          const [pc] = await waitForMedia(dp, { video: true, data: true }, 60_000, { what: `echoed video over ${what}` });
          assert.ok(pc);
          const mediaMs = Date.now() - t0;
          assert.match(pc.selectedPair ?? '', /\/tcp -> .*\/tcp \((succeeded|in-progress)\)$/, `the browser's selected pair is TCP: ${pc.selectedPair}`);
          assert.ok(pc.selectedPair!.includes(`${hostAddr}:`), `the remote candidate is the veth's ${ipv6 ? 'IPv6 ' : ''}address: ${pc.selectedPair}`);
          if (singlePort) assert.ok(pc.selectedPair!.includes(`${hostAddr}:${l.port}/tcp`), `the remote candidate is the one port ${l.port}: ${pc.selectedPair}`);

          const before1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
          await sleep(3000);
          const after1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
          const f0 = inboundTotal(before1, 'video', 'framesDecoded');
          const f1 = inboundTotal(after1, 'video', 'framesDecoded');
          if (!(f1 > f0 + 5)) assert.fail(`echoed video frames decoded must grow over 3 s on ${what} (${f0} -> ${f1})\n${await dp.diagnostics()}`);
          console.log(`# ${ipv6 ? 'ipv6 ' : ''}ice-tcp${singlePort ? ` single_port ${l.port}` : ''}: selected pair ${after1[0]?.selectedPair}; frames decoded ${f0} -> ${f1} in 3 s; start to decoded media ${mediaMs} ms`);

          const text = `over tcp ${Date.now()}`;
          await dp.page.locator('#datasend').fill(text);
          await dp.page.locator('#datasend').press('Enter');
          await dp.step(`data channel echo over ${what}`, () =>
            dp.page.waitForFunction(`document.getElementById('datarecv') && document.getElementById('datarecv').value === ${JSON.stringify(`Janus EchoTest here! You wrote: ${text}`)}`, undefined, { timeout: 20_000 }),
          );

          // Portunus's view: the selected pair in Admin handle_info is TCP on both ends (and IPv6 on both).
          const pairs = await l.gatewayPairs();
          assert.ok(pairs.length > 0 && pairs.every((p) => /^\S+ \[host,tcp\] <-> \S+ \[prflx,tcp\]$/.test(p)), `Portunus's selected pair (handle_info) is TCP: ${pairs.join(' | ')}`);
          if (ipv6) assert.ok(pairs.every((p) => p.startsWith(`${l.hostIp6}:`) && p.includes(`<-> ${l.nsIp6}:`)), `Portunus's pair is between the IPv6 addresses: ${pairs.join(' | ')}`);
          if (singlePort) assert.ok(pairs.every((p) => p.startsWith(`${hostAddr}:${l.port} `)), `Portunus's side of the pair is port ${l.port}: ${pairs.join(' | ')}`);
          assert.deepEqual(handle!.blocked, [], 'the page must not request anything outside this machine');
        });
      });
    });
  }
}
if (skip) console.log(`# ice-tcp browser test skipped: ${skip}`);
