/**
 * ICE-TCP (issue 14) in real Chromium: the browser runs inside a network namespace joined to this
 * machine by a veth pair (test/helpers/netns.ts) where iptables drops every UDP packet it sends
 * (`iptables -A OUTPUT -p udp -j DROP`): no UDP pair can ever succeed. Portunus runs with
 * `nat.ice_tcp = true` and advertises the veth address (ice_enforce_list = the host side of the veth).
 * Janus's own echotest.html must connect anyway: echoed video frames decoded grow, the data channel
 * echoes, and the browser's selected candidate pair is TCP (getStats), as is the one Portunus reports
 * in Admin handle_info. Skipped, with the reason, without root/netns/iptables.
 *
 * The second suite does the same with `single_port` on and the default media worker pool: the main
 * thread's one TCP listener (same number as the one UDP port) accepts the connection and relays its
 * frames to the worker of the PeerConnection (port-reader.ts); the pair is on that port.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';
import { CHROMIUM, closeAll, inboundTotal, openDemo, waitForMedia, type BrowserHandle } from '../helpers/browser.js';
import { sleep, withPages } from '../helpers/demo-flows.js';
import { startMediaGateway, type MediaGateway } from '../helpers/media-server.js';
import { postJson } from '../helpers/janus-client.js';
import { ImpairedLink, netnsUnavailable } from '../helpers/netns.js';
import { ensureSystemPackage } from '../helpers/system.js';

const skip = netnsUnavailable();

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

for (const singlePort of [false, true]) describe(`ICE-TCP: echotest.html from a namespace where all UDP is dropped${singlePort ? ', single_port on' : ''}`, { skip: skip ?? false }, () => {
  let link: ImpairedLink | undefined;
  let handle: BrowserHandle | undefined;
  let gw: MediaGateway | undefined;
  let port = 0;
  before(async () => {
    link = new ImpairedLink(ensureSystemPackage('chromium', CHROMIUM));
    execFileSync('ip', ['netns', 'exec', link.ns, 'iptables', '-A', 'OUTPUT', '-p', 'udp', '-j', 'DROP']);
    if (singlePort) port = await freePort('0.0.0.0');
    gw = await startMediaGateway('portunus', ['echotest'], {}, {
      prefix: 'icetcp',
      janusJcfg: (t) => {
        const u = t.replace(/ice_enforce_list = "[^"]*"/, `ice_enforce_list = "${link!.hostIf}"\n  ice_tcp = true`);
        return singlePort ? u.replace('media: {', `media: {\n  single_port = ${port}`) : u;
      },
    });
    const pagePort = await freePort(link.hostIp);
    const args = link.chromiumArgs(`http://${link.hostIp}:${pagePort}`);
    const browser = await chromium.launch({ executablePath: link.chromium, headless: true, args, timeout: 30_000 });
    handle = { browser, blocked: [], pageHost: { address: link.hostIp, port: pagePort }, close: async () => void (await browser.close().catch(() => undefined)) };
  });
  after(async () => {
    await closeAll([gw, handle]);
    link?.remove();
  });

  test('connects over TCP: the selected pair is tcp, echoed frames decoded grow, data channel echo', { timeout: 120_000 }, async () => {
    const ws = gw!.wsUrl.replace('127.0.0.1', link!.hostIp);
    const dp = await openDemo(handle!, { wsUrl: ws }, 'echotest.html', {}, 'echotest/ice-tcp');
    await withPages(gw!, [dp], async () => {
      const t0 = Date.now();
      await dp.start();
      await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 15_000, 'session creation + attach to janus.plugin.echotest');
      // UDP checks time out first on the browser's side; TCP must carry everything.
      const [pc] = await waitForMedia(dp, { video: true, data: true }, 60_000, { what: 'echoed video over ICE-TCP' });
      assert.ok(pc);
      const mediaMs = Date.now() - t0;
      assert.match(pc.selectedPair ?? '', /\/tcp -> .*\/tcp \((succeeded|in-progress)\)$/, `the browser's selected pair is TCP: ${pc.selectedPair}`);
      assert.ok(pc.selectedPair!.includes(`${link!.hostIp}:`), `the remote candidate is the veth address: ${pc.selectedPair}`);
      if (singlePort) assert.ok(pc.selectedPair!.includes(`${link!.hostIp}:${port}/tcp`), `the remote candidate is the one port ${port}: ${pc.selectedPair}`);

      const before1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
      await sleep(3000);
      const after1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
      const f0 = inboundTotal(before1, 'video', 'framesDecoded');
      const f1 = inboundTotal(after1, 'video', 'framesDecoded');
      if (!(f1 > f0 + 5)) assert.fail(`echoed video frames decoded must grow over 3 s on TCP (${f0} -> ${f1})\n${await dp.diagnostics()}`);
      console.log(`# ice-tcp${singlePort ? ` single_port ${port}` : ''}: selected pair ${after1[0]?.selectedPair}; frames decoded ${f0} -> ${f1} in 3 s; start to decoded media ${mediaMs} ms`);

      const text = `over tcp ${Date.now()}`;
      await dp.page.locator('#datasend').fill(text);
      await dp.page.locator('#datasend').press('Enter');
      await dp.step('data channel echo over ICE-TCP', () =>
        dp.page.waitForFunction(`document.getElementById('datarecv') && document.getElementById('datarecv').value === ${JSON.stringify(`Janus EchoTest here! You wrote: ${text}`)}`, undefined, { timeout: 20_000 }),
      );

      // Portunus's view: the selected pair in Admin handle_info is TCP on both ends.
      const sessions = (await postJson(gw!.adminUrl, { janus: 'list_sessions', transaction: 's', admin_secret: gw!.adminSecret })) as unknown as { sessions?: number[] };
      let pairText = '';
      for (const s of sessions.sessions ?? []) {
        const hs = (await postJson(`${gw!.adminUrl}/${s}`, { janus: 'list_handles', transaction: 'h', admin_secret: gw!.adminSecret })) as unknown as { handles?: number[] };
        for (const h of hs.handles ?? []) {
          const info = (await postJson(`${gw!.adminUrl}/${s}/${h}`, { janus: 'handle_info', transaction: 'i', admin_secret: gw!.adminSecret })) as unknown as { info?: { webrtc?: { ice?: { 'selected-pair'?: string } } } };
          const sp = info.info?.webrtc?.ice?.['selected-pair'];
          if (sp) pairText = sp;
        }
      }
      assert.match(pairText, /^\S+ \[host,tcp\] <-> \S+ \[prflx,tcp\]$/, `Portunus's selected pair (handle_info): ${pairText}`);
      assert.deepEqual(handle!.blocked, [], 'the page must not request anything outside this machine');
    });
  });
});
if (skip) console.log(`# ice-tcp browser test skipped: ${skip}`);
