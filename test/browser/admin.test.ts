/**
 * Janus's own Admin/Monitor page (admin.html from janus-demos, unmodified, with a generated
 * adminconfig.js) in real Chromium, watching a live EchoTest that echotest.html runs in another page
 * of the same browser: the page lists the session and its handle, and the handle's info (shown as
 * JSON, the page's default view) has the Janus 1.x `webrtc` section with ICE ready, DTLS connected,
 * and video bytes in and out growing across two refreshes. Against the real Janus 1.1.2 first (the
 * harness self-check), then Portunus with the same configs folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDemo, waitForMedia, type DemoPage } from '../helpers/browser.js';
import { forEachGateway, sleep, withPages } from '../helpers/demo-flows.js';

type Obj = Record<string, unknown>;

/** The handle info admin.html shows: the JSON in #handle-info's <pre> (parsed), or null while absent. */
async function shownInfo(admin: DemoPage): Promise<{ text: string; info: Obj } | null> {
  const pre = admin.page.locator('#handle-info pre');
  if ((await pre.count()) === 0) return null;
  const text = (await pre.first().textContent()) ?? '';
  try {
    return { text, info: JSON.parse(text) as Obj };
  } catch {
    return null;
  }
}

function videoBytes(info: Obj): { in: number; out: number } {
  const media = ((info.webrtc as Obj | undefined)?.media ?? {}) as Record<string, Obj>;
  const video = Object.values(media).find((m) => m.type === 'video');
  const stats = (video?.stats ?? {}) as { in?: { bytes?: number }; out?: { bytes?: number } };
  return { in: stats.in?.bytes ?? -1, out: stats.out?.bytes ?? -1 };
}

forEachGateway('admin.html', ['echotest'], (env) => {
  test('lists the live EchoTest session and handle, renders its WebRTC section: ICE ready, DTLS connected, video bytes in/out growing', { timeout: 120_000 }, async () => {
    const gw = env.gw();
    const echo = await openDemo(env.handle(), { wsUrl: gw.wsUrl }, 'echotest.html', {}, `admin/${env.kind}/echotest`);
    const pages: DemoPage[] = [echo];
    await withPages(gw, pages, async () => {
      await echo.start();
      await echo.waitForConsole(/Plugin attached! \(janus\.plugin\.echotest/, 20_000, 'session creation + attach to janus.plugin.echotest');
      await waitForMedia(echo, { audio: true, video: true }, 40_000, { what: 'echoed audio+video' });

      const admin = await openDemo(env.handle(), { httpUrl: gw.httpUrl }, 'admin.html', {}, `admin/${env.kind}/admin`, { server: gw.adminUrl, secret: gw.adminSecret });
      pages.push(admin);
      const page = admin.page;
      // Server info loaded (the Admin API answered with the secret), then the Handles tab.
      await admin.step('server info shown', () => page.locator('#server-details tr').first().waitFor({ state: 'attached', timeout: 20_000 }));
      await admin.step('open the Handles tab', () => page.locator('#admintabs a[href="#handlesinfo"]').click({ timeout: 10_000 }));
      await admin.step('the session is listed', () => page.locator('#sessions-list a').first().waitFor({ state: 'visible', timeout: 20_000 }));
      const sessions = await page.locator('#sessions-list a').allTextContents();
      assert.equal(sessions.length, 1, `one session (the EchoTest page's): ${JSON.stringify(sessions)}`);
      await page.locator('#sessions-list a').first().click();
      await admin.step('the handle is listed', () => page.locator('#handles-list a').first().waitFor({ state: 'visible', timeout: 20_000 }));
      const handles = await page.locator('#handles-list a').allTextContents();
      assert.equal(handles.length, 1, `one handle (the EchoTest's): ${JSON.stringify(handles)}`);
      await page.locator('#handles-list a').first().click();

      const read = async (what: string, previous: string | null): Promise<{ text: string; info: Obj }> => {
        const end = Date.now() + 20_000;
        for (;;) {
          const s = await shownInfo(admin);
          if (s && s.text !== previous) return s;
          if (Date.now() > end) assert.fail(`${what}: admin.html shows no (new) handle info\n${await admin.diagnostics()}`);
          await sleep(200);
        }
      };
      const first = await read('handle info', null);
      const info = first.info;
      assert.equal(String(info.session_id), sessions[0]);
      assert.equal(String(info.handle_id), handles[0]);
      assert.equal(info.plugin, 'janus.plugin.echotest');
      const webrtc = info.webrtc as { ice?: Obj; dtls?: Obj } | undefined;
      assert.ok(webrtc, `no webrtc section in what admin.html shows: ${first.text.slice(0, 2000)}`);
      assert.equal(webrtc.ice?.state, 'ready', 'ICE state');
      assert.equal(webrtc.dtls?.['dtls-state'], 'connected', 'DTLS state');
      assert.match(String(webrtc.ice?.['selected-pair']), /^\S+:\d+ \[host,udp\] <-> \S+:\d+ \[host,udp\]$/);
      // The page rendered it (the JSON is the page's text, not only our parse of it).
      await admin.step('the page text shows the WebRTC state', async () => {
        const txt = (await page.locator('#handle-info').innerText()).replace(/\s+/g, ' ');
        for (const s of ['"webrtc": {', '"state": "ready"', '"dtls-state": "connected"']) if (!txt.includes(s)) throw new Error(`#handle-info does not show ${s}`);
      });

      // Two refreshes (the page's own refresh icon; it re-arms one second after each answer).
      let prev = first;
      let bytes = videoBytes(info);
      assert.ok(bytes.in > 0 && bytes.out > 0, `video bytes in/out: ${JSON.stringify(bytes)}`);
      for (const n of [1, 2]) {
        await sleep(2500);
        await admin.step(`refresh ${n}`, () => page.locator('#update-handle').click({ timeout: 10_000 }));
        const next = await read(`refresh ${n}`, prev.text);
        const b = videoBytes(next.info);
        assert.ok(b.in > bytes.in && b.out > bytes.out, `refresh ${n}: video bytes must grow both ways: ${JSON.stringify(bytes)} -> ${JSON.stringify(b)}`);
        const w = next.info.webrtc as { ice: Obj; dtls: Obj };
        assert.equal(w.ice.state, 'ready');
        assert.equal(w.dtls['dtls-state'], 'connected');
        prev = next;
        bytes = b;
      }
      assert.deepEqual(env.handle().blocked, [], 'the pages must not request anything outside this machine');
    });
  });
});
