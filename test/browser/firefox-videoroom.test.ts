/**
 * Janus's own videoroomtest.html with one Chromium and one Firefox participant in the stock demo room
 * 1234, against the real Janus 1.1.2 (harness self-check) and Portunus. Each page publishes its fake
 * camera and microphone and subscribes to the other: Firefox decodes the Chromium publisher's video and
 * hears its audio (a Firefox subscriber answering the gateway's offer), and Chromium decodes Firefox's
 * (a Firefox publisher's offer, with its own extmap ids, mids and SSRC signalling, relayed to Chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIBLE_POWER, audioPowerBetween, inboundTotal, openDemo, waitForMedia, type PcReport } from '../helpers/browser.js';
import { sleep, startAndRegister, stopwatch, withPages } from '../helpers/demo-flows.js';
import { postJson } from '../helpers/janus-client.js';
import type { MediaGateway } from '../helpers/media-server.js';
import { forEachGatewayInFirefox, openFirefoxDemo, type FirefoxSuiteEnv } from '../helpers/firefox.js';

const isPublisher = (pc: PcReport) => pc.local === 'offer' && pc.connectionState !== 'closed';
const isSubscriber = (pc: PcReport) => pc.local === 'answer' && pc.connectionState !== 'closed';

/** Participants in a room, through the Admin API's message_plugin (listparticipants). */
async function participantsIn(gw: MediaGateway, room: number): Promise<unknown[]> {
  const r = await postJson(gw.adminUrl, { janus: 'message_plugin', transaction: `lp${Date.now()}`, admin_secret: gw.adminSecret, plugin: 'janus.plugin.videoroom', request: { request: 'listparticipants', room } });
  const resp = r.response as { participants?: unknown[] } | undefined;
  if (!resp || !Array.isArray(resp.participants)) throw new Error(`listparticipants: ${JSON.stringify(r)}`);
  return resp.participants;
}

/**
 * Chromium joins and publishes, then Firefox (with `foxQuery`, e.g. simulcast=yes); each must decode the
 * other. Returns Firefox's outbound video streams (one per simulcast layer it sends).
 */
// Display names are alphanumeric: videoroomtest.js refuses anything else.
async function chromiumAndFirefox(env: FirefoxSuiteEnv, foxQuery: Record<string, string>, what: string): Promise<number> {
  const gw = env.gw();
  let foxVideoStreams = 0;
  // The previous test's pages are closed: their sessions ended with their WebSockets, so the room
  // must be empty (a ghost publisher would give Firefox a subscription with no media).
  const deadline = Date.now() + 5000;
  let left = await participantsIn(gw, 1234);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(250);
    left = await participantsIn(gw, 1234);
  }
  assert.deepEqual(left, [], 'room 1234 must be empty before the test');
  const { mark, timings } = stopwatch();
  const room = { room: '1234' };
  const chrome = await openDemo(env.chromium(), { wsUrl: gw.wsUrl }, 'videoroomtest.html', room, `videoroom/${env.kind}/chromium/${what}`);
  const pages: { close(): Promise<void> }[] = [chrome];
  await withPages(gw, pages, async () => {
    const fox = await openFirefoxDemo(env.firefox(), { wsUrl: gw.wsUrl }, 'videoroomtest.html', { ...room, ...foxQuery }, `videoroom/${env.kind}/firefox/${what}`);
    pages.push(fox);
    mark('pages loaded');
    await startAndRegister(chrome, 'janus.plugin.videoroom', `chromium${what}`);
    await waitForMedia(chrome, {}, 20_000, { select: (pcs) => pcs.filter(isPublisher), what: 'the Chromium publisher PeerConnection' });
    mark('chromium publishing');
    await startAndRegister(fox, 'janus.plugin.videoroom', `firefox${what}`);
    await waitForMedia(fox, {}, 20_000, { select: (pcs) => pcs.filter(isPublisher), what: 'the Firefox publisher PeerConnection' });
    await fox.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, 'the "webrtcup" event for the Firefox publisher');
    mark('firefox publishing');

    const [foxSub] = await waitForMedia(fox, { audio: true, video: true }, 25_000, { select: (pcs) => pcs.filter(isSubscriber), what: 'Chromium\'s video+audio in Firefox' });
    mark('firefox receives');
    const [chromeSub] = await waitForMedia(chrome, { audio: true, video: true }, 25_000, { select: (pcs) => pcs.filter(isSubscriber), what: 'Firefox\'s video+audio in Chromium' });
    mark('chromium receives');
    assert.ok(foxSub && chromeSub);
    await fox.step('the Firefox page shows the Chromium participant', () =>
      fox.waitForExpression(`[1,2,3,4,5].some((i) => { const e = document.getElementById('remote' + i); return e && e.offsetParent !== null && e.textContent.trim() === ${JSON.stringify(`chromium${what}`)}; })`, 10_000, 'the Chromium participant\'s name in a remote slot'),
    );

    await sleep(2500);
    for (const [dp, before, who] of [
      [fox, foxSub, 'Firefox subscribing to Chromium'],
      [chrome, chromeSub, 'Chromium subscribing to Firefox'],
    ] as const) {
      const after = (await dp.peerConnections()).filter((p) => p.index === before.index);
      const f0 = inboundTotal([before], 'video', 'framesDecoded');
      const f1 = inboundTotal(after, 'video', 'framesDecoded');
      const power = audioPowerBetween([before], after);
      if (!(f1 > f0 + 10)) assert.fail(`${who}: decoded video frames must grow (${f0} -> ${f1} in 2.5 s)\n${await dp.diagnostics()}`);
      if (!(power >= AUDIBLE_POWER)) assert.fail(`${who}: audio must be heard (mean power ${power} < ${AUDIBLE_POWER})\n${await dp.diagnostics()}`);
      console.log(`# firefox videoroom ${env.kind} ${what}: ${who}: frames ${f0} -> ${f1} in 2.5 s, audio power ${power.toExponential(2)}, pair ${after[0]?.selectedPair}`);
    }
    mark('growth checked');
    console.log(`# firefox videoroom ${env.kind} ${what} timings (ms): ${JSON.stringify(timings)}`);
    assert.deepEqual(env.firefox().blocked, [], 'the Firefox page must not request anything outside this machine');
    assert.deepEqual(env.chromium().blocked, [], 'the Chromium page must not request anything outside this machine');
    foxVideoStreams = (await fox.peerConnections()).filter(isPublisher).flatMap((p) => p.outbound).filter((o) => o.kind === 'video' && o.packetsSent > 0).length;
  });
  return foxVideoStreams;
}

forEachGatewayInFirefox('videoroomtest.html (Chromium + Firefox)', ['videoroom'], (env) => {
  test('Firefox receives the Chromium publisher\'s video and audio, and Chromium receives Firefox\'s', { timeout: 75_000 }, async () => {
    const streams = await chromiumAndFirefox(env, {}, 'plain');
    assert.equal(streams, 1, 'Firefox publishes one video stream');
  });
  test('Firefox publishes simulcast (rid layers): the gateway accepts the layers and Chromium decodes the relayed one', { timeout: 75_000 }, async () => {
    const streams = await chromiumAndFirefox(env, { simulcast: 'yes' }, 'simulcast');
    // One stream would mean the answer declined simulcast. Firefox offers three (h/m/l) but, with the
    // demo room's 256 kbit/s cap, sends two of them; the real Janus gets the same two.
    assert.ok(streams >= 2, `Firefox sends more than one simulcast layer (the answer accepted its a=simulcast): ${streams} video streams with packets`);
    console.log(`# firefox videoroom ${env.kind} simulcast: Firefox sends ${streams} video layers`);
  });
}, { withChromium: true });
