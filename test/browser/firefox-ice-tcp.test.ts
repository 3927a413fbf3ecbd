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
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { closeAll, inboundTotal, waitForMedia } from '../helpers/browser.js';
import { sleep, withPages } from '../helpers/demo-flows.js';
import { firefoxUnavailable, launchFirefox, openFirefoxDemo, pairProtocols, type FirefoxHandle } from '../helpers/firefox.js';
import { postJson } from '../helpers/janus-client.js';
import { startMediaGateway, type MediaGateway } from '../helpers/media-server.js';
import { ImpairedLink, netnsUnavailable } from '../helpers/netns.js';

const skip = netnsUnavailable() ?? firefoxUnavailable();

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

/** Portunus's selected pair for every handle that has one (Admin API handle_info). */
async function gatewayPairs(gw: MediaGateway): Promise<string[]> {
  const out: string[] = [];
  const sessions = (await postJson(gw.adminUrl, { janus: 'list_sessions', transaction: 's', admin_secret: gw.adminSecret })) as unknown as { sessions?: number[] };
  for (const s of sessions.sessions ?? []) {
    const hs = (await postJson(`${gw.adminUrl}/${s}`, { janus: 'list_handles', transaction: 'h', admin_secret: gw.adminSecret })) as unknown as { handles?: number[] };
    for (const h of hs.handles ?? []) {
      const info = (await postJson(`${gw.adminUrl}/${s}/${h}`, { janus: 'handle_info', transaction: 'i', admin_secret: gw.adminSecret })) as unknown as { info?: { webrtc?: { ice?: { 'selected-pair'?: string } } } };
      const sp = info.info?.webrtc?.ice?.['selected-pair'];
      if (sp) out.push(sp);
    }
  }
  return out;
}

describe('ICE-TCP in Firefox: echotest.html from a namespace where all UDP is dropped', { skip: skip ?? false }, () => {
  let link: ImpairedLink | undefined;
  let firefox: FirefoxHandle | undefined;
  let gw: MediaGateway | undefined;
  before(async () => {
    link = new ImpairedLink('/bin/false');
    execFileSync('ip', ['netns', 'exec', link.ns, 'iptables', '-A', 'OUTPUT', '-p', 'udp', '-j', 'DROP']);
    gw = await startMediaGateway('portunus', ['echotest'], {}, {
      prefix: 'ff-icetcp',
      janusJcfg: (t) => t.replace(/ice_enforce_list = "[^"]*"/, `ice_enforce_list = "${link!.hostIf}"\n  ice_tcp = true`),
    });
    firefox = await launchFirefox({ link, pagePort: await freePort(link.hostIp) });
  });
  after(async () => {
    await closeAll([gw, firefox]);
    link?.remove();
  });

  test('connects over TCP: the selected pair is tcp on both sides, echoed frames decoded grow, data channel echo', { timeout: 90_000 }, async () => {
    const ws = gw!.wsUrl.replace('127.0.0.1', link!.hostIp);
    const dp = await openFirefoxDemo(firefox!, { wsUrl: ws }, 'echotest.html', {}, 'firefox/echotest/ice-tcp');
    await withPages(gw!, [dp], async () => {
      const t0 = Date.now();
      await dp.start();
      await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 15_000, 'session creation + attach to janus.plugin.echotest');
      const [pc] = await waitForMedia(dp, { video: true, data: true }, 45_000, { what: 'echoed video over ICE-TCP' });
      assert.ok(pc);
      const mediaMs = Date.now() - t0;
      assert.deepEqual(pairProtocols(pc.selectedPair), { local: 'tcp', remote: 'tcp' }, `Firefox's selected pair is TCP on both ends: ${pc.selectedPair}\n${await dp.diagnostics()}`);
      assert.ok(pc.selectedPair!.includes(`${link!.hostIp}:`), `the remote candidate is the veth address: ${pc.selectedPair}`);

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

      const pairs = await gatewayPairs(gw!);
      assert.ok(pairs.length > 0 && pairs.every((p) => /^\S+ \[host,tcp\] <-> \S+ \[(prflx|host),tcp\]$/.test(p)), `Portunus's selected pair (handle_info) is TCP: ${pairs.join(' | ')}`);
      assert.deepEqual(firefox!.blocked, [], 'the page must not request anything outside this machine');
    });
  });
});
if (skip) console.log(`# firefox ice-tcp browser test skipped: ${skip}`);
