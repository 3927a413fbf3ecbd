/**
 * Janus's own videoroomtest.html in real Chromium: three participants join a room, first over
 * WebSockets, then over HTTP long poll (settings.js `server` = http://.../janus). The real Janus
 * (harness self-check) runs its stock demo room 1234 with numeric ids. Portunus runs the user's own
 * conf/janus.plugin.videoroom.jcfg verbatim: room 9999 with string_ids = true, which the demo page
 * joins with the number it parseInt()s from ?room= (Janus would answer 430; Portunus accepts it). Each publishes its fake camera/microphone and must see
 * and hear the two others: two subscriber PeerConnections per page with video frames decoded and
 * audio energy growing, and the others' names in the remote slots.
 *
 * Between the two tests the room must be empty again: closing the WebSocket pages ends their
 * sessions (transport gone), so the HTTP participants do not see ghosts.
 */
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIBLE_POWER, audioPowerBetween, inboundTotal, openDemo, waitForMedia, type DemoPage, type GatewayAddress, type PcReport } from '../helpers/browser.js';
import { forEachGateway, sleep, startAndRegister, stopwatch, withPages, type SuiteEnv } from '../helpers/demo-flows.js';
import { postJson } from '../helpers/janus-client.js';
import type { GatewayKind, MediaGateway } from '../helpers/media-server.js';

/** The room each gateway runs (see above). */
const roomOf = (kind: GatewayKind): number => (kind === 'janus' ? 1234 : 9999);
const seedVideoRoomJcfg = readFileSync(new URL('../../../conf/janus.plugin.videoroom.jcfg', import.meta.url), 'utf8');

const isPublisher = (pc: PcReport) => pc.local === 'offer' && pc.connectionState !== 'closed';
const isSubscriber = (pc: PcReport) => pc.local === 'answer' && pc.connectionState !== 'closed';

async function remoteNames(dp: DemoPage): Promise<string[]> {
  const names = (await dp.page.evaluate(
    `[1, 2, 3, 4, 5].map((i) => { const e = document.getElementById('remote' + i); return e && e.offsetParent !== null ? e.textContent.trim() : ''; })`,
  )) as string[];
  return names.filter((n) => n !== '').sort();
}

/** Participant ids in a room, through the Admin API's message_plugin (listparticipants). */
export async function participantsIn(gw: MediaGateway, room: number): Promise<unknown[]> {
  const r = await postJson(gw.adminUrl, {
    janus: 'message_plugin',
    transaction: `lp${Date.now()}`,
    admin_secret: gw.adminSecret,
    plugin: 'janus.plugin.videoroom',
    request: { request: 'listparticipants', room },
  });
  const resp = r.response as { participants?: unknown[] } | undefined;
  if (!resp || !Array.isArray(resp.participants)) throw new Error(`listparticipants: ${JSON.stringify(r)}`);
  return resp.participants;
}

async function threeParticipants(env: SuiteEnv, transport: 'ws' | 'http', names: string[]): Promise<void> {
  const gw = env.gw();
  const address: GatewayAddress = transport === 'ws' ? { wsUrl: gw.wsUrl } : { httpUrl: gw.httpUrl };
  const { mark, timings } = stopwatch();
  const pages: DemoPage[] = [];
  await withPages(gw, pages, async () => {
    for (const name of names) pages.push(await openDemo(env.handle(), address, 'videoroomtest.html', { room: String(roomOf(env.kind)) }, `videoroom/${env.kind}/${transport}/${name}`));
    mark('pages loaded');
    for (let i = 0; i < pages.length; i++) {
      const dp = pages[i]!;
      await startAndRegister(dp, 'janus.plugin.videoroom', names[i]!);
      // Our own publisher PeerConnection: answer SDP, ICE, DTLS, then the "webrtcup" event.
      await waitForMedia(dp, {}, 20_000, { select: (pcs) => pcs.filter(isPublisher), what: `${names[i]}'s publisher PeerConnection` });
      await dp.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 10_000, `the "webrtcup" event for ${names[i]}'s publisher`);
      mark(`${names[i]} publishing`);
    }
    // Everybody subscribes to the others: one receiving PeerConnection per other participant, decoded video and audio.
    const subs: PcReport[][] = [];
    for (const dp of pages) {
      subs.push(await waitForMedia(dp, { audio: true, video: true }, 25_000, { select: (pcs) => pcs.filter(isSubscriber), count: names.length - 1, what: 'video+audio from the other participants' }));
    }
    mark('all subscriptions flowing');
    for (let i = 0; i < pages.length; i++) {
      const dp = pages[i]!;
      const others = names.filter((_, j) => j !== i).sort();
      await dp.step('the subscriber PeerConnections report "webrtcup"', async () => {
        const re = /Janus says this WebRTC PeerConnection \(feed #\d\) is up now/;
        const deadline = Date.now() + 10_000;
        while (dp.log.filter((l) => re.test(l)).length < others.length) {
          if (Date.now() > deadline) throw new Error(`only ${dp.log.filter((l) => re.test(l)).length} subscriber webrtcup(s)`);
          await sleep(200);
        }
      });
      const shown = await remoteNames(dp);
      if (JSON.stringify(shown) !== JSON.stringify(others)) {
        assert.deepEqual(shown, others, `${names[i]} must show the other participants' names in the remote video slots\n${await dp.diagnostics()}`);
      }
    }
    // Media keeps flowing: per subscriber PeerConnection, frames decoded and audio energy grow.
    await sleep(2500);
    for (let i = 0; i < pages.length; i++) {
      const dp = pages[i]!;
      const now = await dp.peerConnections();
      for (const before of subs[i]!) {
        const after = now.filter((p) => p.index === before.index);
        const f0 = inboundTotal([before], 'video', 'framesDecoded');
        const f1 = inboundTotal(after, 'video', 'framesDecoded');
        const e0 = inboundTotal([before], 'audio', 'totalAudioEnergy');
        const e1 = inboundTotal(after, 'audio', 'totalAudioEnergy');
        if (!(f1 > f0 + 5)) assert.fail(`${names[i]} pc#${before.index}: decoded video frames must grow (${f0} -> ${f1} in 2.5 s)\n${await dp.diagnostics()}`);
        const power = audioPowerBetween([before], after);
        if (!(e1 > e0 && power >= AUDIBLE_POWER)) assert.fail(`${names[i]} pc#${before.index}: audio energy must grow (${e0} -> ${e1} in 2.5 s, mean power ${power}, need ${AUDIBLE_POWER})\n${await dp.diagnostics()}`);
      }
    }
    mark('growth checked');
    assert.deepEqual(env.handle().blocked, [], 'the pages must not request anything outside this machine');
  });
  console.log(`# videoroom ${env.kind} ${transport} timings (ms): ${JSON.stringify(timings)}`);
}

forEachGateway('videoroomtest.html', ['videoroom'], (env) => {
  test('WebSocket: three participants in the room each receive the two others\' video and audio', { timeout: 90_000 }, async () => {
    await threeParticipants(env, 'ws', ['alice', 'bob', 'carol']);
  });

  test('HTTP long poll: three participants in the room each receive the two others\' video and audio', { timeout: 90_000 }, async () => {
    // The WebSocket pages are closed: their sessions ended with the connection, so the room is empty.
    const deadline = Date.now() + 5000;
    const room = roomOf(env.kind);
    let left = await participantsIn(env.gw(), room);
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(250);
      left = await participantsIn(env.gw(), room);
    }
    assert.deepEqual(left, [], `room ${room} must be empty once the WebSocket participants closed their pages`);
    await threeParticipants(env, 'http', ['dave', 'erin', 'frank']);
  });
}, (kind) => (kind === 'portunus' ? { videoroom: seedVideoRoomJcfg } : {}));
