/**
 * Janus's own echotest.html in real Chromium, over WebSockets and HTTP, against the real Janus
 * 1.1.2 (the harness self-check) and against Portunus with the same configs folder.
 * Proves: session + attach, SDP answer, ICE, DTLS, the "webrtcup"-driven UI state, RTP echoed back
 * (inbound video frames decoded and audio energy both growing), and the data channel echo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIBLE_POWER, audioPowerBetween, inboundTotal, openDemo, waitForMedia, type BrowserHandle, type GatewayAddress } from '../helpers/browser.js';
import { forEachGateway, sleep, stopwatch, withPages } from '../helpers/demo-flows.js';
import type { MediaGateway } from '../helpers/media-server.js';

async function echoScenario(handle: BrowserHandle, gw: MediaGateway, addr: GatewayAddress, label: string): Promise<Record<string, number>> {
  const { mark, timings } = stopwatch();
  const dp = await openDemo(handle, addr, 'echotest.html', {}, label);
  return withPages(gw, [dp], async () => {
    mark('page loaded');
    await dp.start();
    await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 10_000, 'session creation + attach to janus.plugin.echotest');
    mark('attached');
    // Media path, step by step (answer SDP, ICE, DTLS, RTP, decode) with a precise failure message.
    const [pc] = await waitForMedia(dp, { audio: true, video: true, data: true }, 20_000, { what: 'echoed audio+video' });
    mark('media flowing');
    assert.ok(pc, 'a connected PeerConnection');
    // The "webrtcup" event drives the demo's webrtcState(true) callback.
    await dp.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, 'the "webrtcup" event (webrtcState up)');
    mark('webrtcup');
    // UI state: the "Publishing..." overlay is gone and the demo shows the echoed video's resolution.
    await dp.step('the demo shows the echoed video resolution (#curres)', () => dp.page.locator('#curres').filter({ hasText: /^\d+x\d+$/ }).waitFor({ state: 'visible', timeout: 10_000 }));
    const res = (await dp.page.locator('#curres').textContent())?.trim() ?? '';
    assert.match(res, /^[1-9]\d*x[1-9]\d*$/, 'the demo shows the remote (echoed) video resolution');
    await dp.step('the "Publishing..." overlay goes away', () => dp.page.locator('#videoleft').locator('xpath=..').locator('.blockUI').waitFor({ state: 'detached', timeout: 5_000 }));

    // Echoed RTP keeps flowing: decoded frames and audio energy grow.
    const before1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
    await sleep(2000);
    const after1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
    const f0 = inboundTotal(before1, 'video', 'framesDecoded');
    const f1 = inboundTotal(after1, 'video', 'framesDecoded');
    const e0 = inboundTotal(before1, 'audio', 'totalAudioEnergy');
    const e1 = inboundTotal(after1, 'audio', 'totalAudioEnergy');
    if (!(f1 > f0 + 10)) assert.fail(`echoed video frames decoded must grow over 2 s (${f0} -> ${f1})\n${await dp.diagnostics()}`);
    const power = audioPowerBetween(before1, after1);
    if (!(e1 > e0 && power >= AUDIBLE_POWER)) assert.fail(`echoed audio energy must grow over 2 s (${e0} -> ${e1}, mean power ${power} < ${AUDIBLE_POWER})\n${await dp.diagnostics()}`);
    mark('growth checked');

    // Data channel: what we type comes back in "datarecv", prefixed as the EchoTest plugin does.
    const text = `hello from ${label} ${Date.now()}`;
    const expected = `Janus EchoTest here! You wrote: ${text}`;
    await dp.page.locator('#datasend').fill(text);
    await dp.page.locator('#datasend').press('Enter');
    try {
      await dp.page.waitForFunction(`document.getElementById('datarecv') && document.getElementById('datarecv').value === ${JSON.stringify(expected)}`, undefined, { timeout: 5_000 });
    } catch {
      assert.fail(`data channel: #datarecv did not show ${JSON.stringify(expected)} within 5 s (got ${JSON.stringify(await dp.page.locator('#datarecv').inputValue().catch(() => '?'))})\n${await dp.diagnostics()}`);
    }
    mark('data echoed');
    assert.deepEqual(handle.blocked, [], 'the page must not request anything outside this machine');
    return timings;
  });
}

forEachGateway('echotest.html', ['echotest'], (env) => {
  for (const transport of ['ws', 'http'] as const) {
    test(`over ${transport === 'ws' ? 'WebSockets' : 'HTTP long poll'}: webrtcup, echoed video frames and audio energy grow, data channel echo`, { timeout: 60_000 }, async () => {
      const gw = env.gw();
      const addr: GatewayAddress = transport === 'ws' ? { wsUrl: gw.wsUrl } : { httpUrl: gw.httpUrl };
      const timings = await echoScenario(env.handle(), gw, addr, `echotest/${env.kind}/${transport}`);
      console.log(`# echotest ${env.kind} ${transport} timings (ms): ${JSON.stringify(timings)}`);
    });
  }
});
