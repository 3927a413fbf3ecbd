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
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
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

/** A UDP port free on both families right now (bound and released). */
async function freeUdpPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const s4 = createSocket('udp4');
    const p = await new Promise<number>((r) => s4.bind(0, () => r(s4.address().port)));
    const s6 = createSocket({ type: 'udp6', ipv6Only: true });
    const ok = await new Promise<boolean>((r) => {
      s6.once('error', () => r(false));
      s6.bind(p, () => r(true));
    });
    s4.close();
    try {
      s6.close();
    } catch {
      /* never bound */
    }
    if (ok) return p;
  }
  throw new Error('no free UDP port on both families');
}

for (const singlePort of [false, true]) describe(`IPv6: echotest.html from a namespace where IPv4 UDP is dropped${singlePort ? ', single_port on' : ''}`, { skip: skip ?? false }, () => {
  let link: ImpairedLink | undefined;
  let handle: BrowserHandle | undefined;
  let gw: MediaGateway | undefined;
  let hostIp6 = '';
  let nsIp6 = '';
  let port = 0;
  before(async () => {
    link = new ImpairedLink(ensureSystemPackage('chromium', CHROMIUM));
    const n = link.hostIp.split('.')[2];
    hostIp6 = `fd00:77:${n}::1`;
    nsIp6 = `fd00:77:${n}::2`;
    execFileSync('ip', ['-6', 'addr', 'add', `${hostIp6}/64`, 'dev', link.hostIf, 'nodad']);
    execFileSync('ip', ['netns', 'exec', link.ns, 'ip', '-6', 'addr', 'add', `${nsIp6}/64`, 'dev', link.nsIf, 'nodad']);
    execFileSync('ip', ['netns', 'exec', link.ns, 'ip', '-6', 'route', 'add', 'default', 'via', hostIp6]);
    execFileSync('ip', ['netns', 'exec', link.ns, 'iptables', '-A', 'OUTPUT', '-p', 'udp', '-j', 'DROP']);
    if (singlePort) port = await freeUdpPort();
    gw = await startMediaGateway('portunus', ['echotest'], {}, {
      prefix: 'ipv6',
      janusJcfg: (t) => t.replace(/ice_enforce_list = "[^"]*"/, `ice_enforce_list = "${link!.hostIf}"`).replace('media: {', `media: {\n  ipv6 = true${singlePort ? `\n  single_port = ${port}` : ''}`),
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

  test('connects over IPv6: the selected pair is UDP between the ULA addresses, echoed frames decoded grow, data channel echo', { timeout: 120_000 }, async () => {
    const ws = gw!.wsUrl.replace('127.0.0.1', link!.hostIp);
    const dp = await openDemo(handle!, { wsUrl: ws }, 'echotest.html', {}, 'echotest/ipv6');
    await withPages(gw!, [dp], async () => {
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
      assert.ok(pairText.startsWith(`${hostIp6}:`) && pairText.includes(`<-> ${nsIp6}:`) && pairText.includes(',udp]'), `Portunus's selected pair (handle_info): ${pairText}`);
      if (singlePort) assert.ok(pairText.startsWith(`${hostIp6}:${port} `), `Portunus's side of the pair is single_port ${port}: ${pairText}`);
      assert.deepEqual(handle!.blocked, [], 'the page must not request anything outside this machine');
    });
  });
});
if (skip) console.log(`# ipv6 browser test skipped: ${skip}`);
