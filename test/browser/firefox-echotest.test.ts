/**
 * Janus's own echotest.html in real Firefox (Debian's firefox-esr over WebDriver BiDi,
 * test/helpers/firefox.ts), against the real Janus 1.1.2 (harness self-check) and Portunus.
 * Firefox differs from Chromium where interop bugs hide: its own ICE (nICEr), DTLS (NSS) and SCTP
 * (usrsctp) stacks, its SDP (mids, extmap ids, rtcp-fb, a=simulcast with rids "h/m/l" in reverse
 * order), its RTCP. Asserted: session + attach, the "webrtcup" event, echoed video frames decoded and
 * audio energy growing (getStats), VP8 and Opus negotiated, the data channel echo; then the same page
 * with ?simulcast=yes (Firefox sends three rid layers; the echo must still decode).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIBLE_POWER, audioPowerBetween, inboundTotal, waitForMedia } from '../helpers/browser.js';
import { sleep, stopwatch, withPages } from '../helpers/demo-flows.js';
import { forEachGatewayInFirefox, openFirefoxDemo, type FirefoxSuiteEnv } from '../helpers/firefox.js';

async function echo(env: FirefoxSuiteEnv, query: Record<string, string>, what: string): Promise<void> {
  const gw = env.gw();
  const { mark, timings } = stopwatch();
  const dp = await openFirefoxDemo(env.firefox(), { wsUrl: gw.wsUrl }, 'echotest.html', query, `firefox/echotest/${env.kind}/${what}`);
  await withPages(gw, [dp], async () => {
    mark('page loaded');
    await dp.start();
    await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 15_000, 'session creation + attach to janus.plugin.echotest');
    mark('attached');
    const [pc] = await waitForMedia(dp, { audio: true, video: true, data: true }, 30_000, { what: `echoed audio+video (${what})` });
    assert.ok(pc);
    mark('media flowing');
    await dp.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, 'the "webrtcup" event');
    const codecs = pc.inbound.map((i) => i.codec).filter((c): c is string => c !== null);
    if (codecs.length) {
      assert.ok(codecs.some((c) => /vp8/i.test(c)) && codecs.some((c) => /opus/i.test(c)), `VP8 and Opus echoed back: ${codecs.join(', ')}`);
    }

    const before1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
    await sleep(2500);
    const after1 = (await dp.peerConnections()).filter((p) => p.index === pc.index);
    const f0 = inboundTotal(before1, 'video', 'framesDecoded');
    const f1 = inboundTotal(after1, 'video', 'framesDecoded');
    if (!(f1 > f0 + 10)) assert.fail(`echoed video frames decoded must grow over 2.5 s (${f0} -> ${f1})\n${await dp.diagnostics()}`);
    const power = audioPowerBetween(before1, after1);
    const e0 = inboundTotal(before1, 'audio', 'totalAudioEnergy');
    const e1 = inboundTotal(after1, 'audio', 'totalAudioEnergy');
    if (!(e1 > e0 && power >= AUDIBLE_POWER)) assert.fail(`echoed audio energy must grow over 2.5 s (${e0} -> ${e1}, mean power ${power} < ${AUDIBLE_POWER})\n${await dp.diagnostics()}`);
    mark('growth checked');

    // The data channel (Firefox's usrsctp against the gateway's SCTP): typed text comes back prefixed.
    const text = `hello from firefox ${env.kind} ${Date.now()}`;
    await dp.page.type('#datasend', text);
    await dp.page.keyboard.press('Enter');
    await dp.waitForExpression(`document.getElementById('datarecv').value === ${JSON.stringify(`Janus EchoTest here! You wrote: ${text}`)}`, 10_000, 'the data channel echo in #datarecv');
    mark('data echoed');
    console.log(`# firefox echotest ${env.kind} ${what}: pair ${after1[0]?.selectedPair}; frames ${f0} -> ${f1} in 2.5 s; audio power ${power.toExponential(2)}; codecs ${codecs.join(',')}; timings (ms) ${JSON.stringify(timings)}`);
    assert.deepEqual(env.firefox().blocked, [], 'the page must not request anything outside this machine');
  });
}

forEachGatewayInFirefox('echotest.html', ['echotest'], (env) => {
  test('WebSockets: webrtcup, echoed video frames and audio energy grow, VP8/Opus, data channel echo', { timeout: 60_000 }, async () => {
    await echo(env, {}, 'plain');
  });
  test('simulcast=yes (Firefox sends rid layers): the echoed video still decodes and the data channel echoes', { timeout: 60_000 }, async () => {
    await echo(env, { simulcast: 'yes' }, 'simulcast');
  });
});
