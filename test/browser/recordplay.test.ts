/**
 * Janus's own recordplaytest.html in real Chromium: record 5 s of the fake camera and microphone,
 * stop (the page says the recording completed and lists it), pick it in the list and play it back:
 * the playout PeerConnection must decode video frames and audible audio. Against the real Janus 1.1.2
 * (harness self-check, up to the stop: see below) and Portunus with the same configs folder (each with
 * its own empty recordings folder), over WebSockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inboundTotal, openDemo, waitForMedia, type GatewayAddress } from '../helpers/browser.js';
import { forEachGateway, sleep, stopwatch, withPages } from '../helpers/demo-flows.js';
import type { GatewayKind } from '../helpers/media-server.js';

const folders = new Map<GatewayKind, string>();
function folderOf(kind: GatewayKind): string {
  let d = folders.get(kind);
  if (!d) {
    d = mkdtempSync(join(tmpdir(), `rp-browser-${kind}-`));
    folders.set(kind, d);
  }
  return d;
}
process.on('exit', () => {
  for (const d of folders.values()) rmSync(d, { recursive: true, force: true });
});

forEachGateway(
  'recordplaytest.html',
  ['recordplay'],
  (env) => {
    test('record 5 s, stop, play it back: video frames decoded and audio heard', { timeout: 120_000 }, async () => {
      const gw = env.gw();
      const addr: GatewayAddress = { wsUrl: gw.wsUrl };
      const { mark, timings } = stopwatch();
      const dp = await openDemo(env.handle(), addr, 'recordplaytest.html', {}, `recordplay/${env.kind}`);
      await withPages(gw, [dp], async () => {
        await dp.start();
        await dp.waitForConsole(/Plugin attached! \(janus\.plugin\.recordplay/, 10_000, 'attach to janus.plugin.recordplay');
        await dp.step('the Record button is enabled', () => dp.page.locator('#record:not([disabled])').waitFor({ timeout: 10_000 }));
        await dp.page.locator('#record').click();
        await dp.page.locator('.bootbox .bootbox-input').waitFor({ state: 'visible', timeout: 5000 });
        const name = `browser test ${env.kind}`;
        await dp.page.locator('.bootbox .bootbox-input').fill(name);
        await dp.page.locator('.bootbox .bootbox-accept').click();
        const idLine = await dp.waitForConsole(/The ID of the current recording is \d+/, 20_000, 'the "recording" event with the answer');
        const id = /(\d+)$/.exec(idLine)![1]!;
        await dp.waitForConsole(/Janus says our WebRTC PeerConnection is up now/, 20_000, 'the recording PeerConnection up');
        mark('recording');
        await sleep(5000);
        const sent = (await dp.peerConnections()).flatMap((p) => p.outbound).filter((o) => o.kind === 'video').reduce((n, o) => n + o.packetsSent, 0);
        assert.ok(sent > 50, `the browser sent video while recording (${sent} packets)`);
        await dp.page.locator('#stop').click();
        await dp.waitForConsole(/Session has stopped!/, 15_000, 'the "stopped" event');
        // Janus 1.1.2 picks a random 64-bit recording id, which JavaScript may not hold exactly: then the
        // page takes the "stopped" event for someone else's ("Not a stop to our recording?") and could only
        // `play` a rounded id, so the self-check ends there. Portunus's ids are safe integers.
        const deadline = Date.now() + 15_000;
        let outcome = '';
        while (!outcome && Date.now() < deadline) {
          if ((await dp.alerts()).some((a) => a.includes('Recording completed'))) outcome = 'completed';
          else if (dp.log.some((l) => l.includes('Not a stop to our recording?'))) outcome = 'rounded id';
          else await sleep(200);
        }
        if (env.kind === 'janus' && outcome === 'rounded id') return;
        await dp.step('the "Recording completed!" alert', () => dp.page.locator('.bootbox').filter({ hasText: 'Recording completed' }).waitFor({ state: 'visible', timeout: 15_000 }));
        await dp.page.locator('.bootbox .bootbox-accept').click();
        mark('stopped');
        const files = readdirSync(folderOf(env.kind));
        assert.ok(files.includes(`rec-${id}-video.mjr`) && files.includes(`rec-${id}-audio.mjr`), `recording files in the folder: ${files.join(', ')}`);
        // Pick it in the list (refreshed by the page after the stop) and play it.
        await dp.step('the recording is listed', () => dp.page.locator(`#recslist a[id="${id}"]`).waitFor({ state: 'attached', timeout: 15_000 }));
        await dp.page.locator('#recset').click();
        await dp.page.locator(`#recslist a[id="${id}"]`).click();
        await dp.step('the Play button is enabled', () => dp.page.locator('#play:not([disabled])').waitFor({ timeout: 5000 }));
        await dp.page.locator('#play').click();
        await dp.waitForConsole(/Playout has started!/, 20_000, 'the "playing" event');
        const [pc] = await waitForMedia(dp, { audio: true, video: true }, 20_000, { what: 'the played-back recording' });
        mark('playing');
        assert.ok(pc);
        const f0 = inboundTotal([pc], 'video', 'framesDecoded');
        await sleep(1500);
        const now = (await dp.peerConnections()).filter((p) => p.index === pc.index);
        const f1 = inboundTotal(now, 'video', 'framesDecoded');
        if (!(f1 > f0 + 5)) assert.fail(`played-back video frames must keep being decoded (${f0} -> ${f1})\n${await dp.diagnostics()}`);
        mark('frames grow');
        assert.deepEqual(env.handle().blocked, [], 'the page must not request anything outside this machine');
      });
      console.log(`# recordplay ${env.kind} timings (ms): ${JSON.stringify(timings)}`);
    });
  },
  (kind) => ({ recordplay: `general: {\n  path = ${JSON.stringify(folderOf(kind))}\n}\n` }),
);
