/**
 * RTCP for our RTX SSRCs with a real Chromium subscriber. A publisher (Chromium on this machine)
 * sends one VP8 stream into a VideoRoom room; a subscriber (a second Chromium inside a network
 * namespace, see test/helpers/netns.ts) receives it over a link that drops 3 % of what goes in, so
 * the subscriber NACKs and Portunus retransmits on the RTX SSRC of its offer (FID group).
 *
 * Checked: Portunus sent RTX and an SR for it (handle_info `portunus.rtx`), Chromium's RTCP came
 * back with report blocks about that SSRC and Portunus took them (counted, no error, the media
 * stream's loss untouched), and the subscriber's getStats stays clean: the repaired packets show as
 * retransmittedPacketsReceived, remote-outbound-rtp (from our SRs) exists for the media SSRC only,
 * with counts that match what arrived. Janus 1.1.2 runs the same scenario first as a self-check of
 * the harness (its numbers are printed). Root only (network namespace); skipped with the reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, closeAll } from '../helpers/browser.js';
import { GATEWAYS, gatewayTitle, sleep } from '../helpers/demo-flows.js';
import { startVideoRoomGatewayOn, type MediaGateway } from '../helpers/media-server.js';
import { postJson } from '../helpers/janus-client.js';
import { ImpairedLink, netnsUnavailable } from '../helpers/netns.js';
import { startPageServer, type PageServer } from '../helpers/page-server.js';
import { ensureSystemPackage } from '../helpers/system.js';

const ROOM = 4380;
const LOSS = 0.03;

interface SubStats {
  inbound: {
    ssrc: number;
    packetsReceived: number;
    packetsLost: number;
    nackCount: number;
    retransmittedPacketsReceived: number;
    retransmittedBytesReceived: number;
    framesDecoded: number;
    bytesReceived: number;
  } | null;
  remoteOutbound: Array<{ kind: string; ssrc: number; packetsSent: number; bytesSent: number; reportsSent: number; remoteTimestamp: number }>;
  offerSsrc: number;
  offerRtxSsrc: number;
}

const skip = netnsUnavailable();

describe('RTCP for our RTX SSRCs, with a Chromium subscriber on a lossy link', { skip: skip ?? false }, () => {
  let link: ImpairedLink | undefined;
  before(() => {
    link = new ImpairedLink(ensureSystemPackage('chromium', CHROMIUM));
  });
  after(() => link?.remove());

  // RTX_GATEWAYS=portunus (comma list) narrows the run while working on it.
  for (const kind of GATEWAYS.filter((k) => !process.env.RTX_GATEWAYS || process.env.RTX_GATEWAYS.split(',').includes(k))) {
    describe(gatewayTitle(kind), () => {
      let pubBrowser: Browser | undefined;
      let subBrowser: Browser | undefined;
      let gw: MediaGateway | undefined;
      let pages: PageServer | undefined;
      before(async () => {
        pages = await startPageServer(link!.hostIp);
        const args = link!.chromiumArgs(pages.origin);
        pubBrowser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 30_000 });
        subBrowser = await chromium.launch({ executablePath: link!.chromium, headless: true, args, timeout: 30_000 });
        gw = await startVideoRoomGatewayOn(kind, 'rtxrr', link!.hostIf);
      });
      after(async () => {
        link?.clear();
        await closeAll([{ close: async () => void (await pubBrowser?.close()) }, { close: async () => void (await subBrowser?.close()) }, gw, pages]);
      });

      test('retransmissions on the RTX SSRC come with its SR; the subscriber reports on it and its stats stay clean', { timeout: 120_000 }, async () => {
        const create = { request: 'create', room: ROOM, description: 'rtx', publishers: 1, bitrate: 2_000_000, videocodec: 'vp8', fir_freq: 0 };
        const r = await postJson(gw!.adminUrl, { janus: 'message_plugin', transaction: 'rtx', admin_secret: gw!.adminSecret, plugin: 'janus.plugin.videoroom', request: create });
        assert.equal((r.response as { videoroom?: string } | undefined)?.videoroom, 'created', JSON.stringify(r));
        const ws = gw!.wsUrl.replace('127.0.0.1', link!.hostIp);
        const pubCtx = await pubBrowser!.newContext({ permissions: ['camera', 'microphone'] });
        const subCtx = await subBrowser!.newContext({ permissions: ['camera', 'microphone'] });
        const log: string[] = [];
        try {
          const pubPage: Page = await pubCtx.newPage();
          const subPage: Page = await subCtx.newPage();
          for (const [n, p] of [['pub', pubPage], ['sub', subPage]] as const) p.on('console', (m) => log.push(`[${n}] ${m.text().slice(0, 300)}`));
          const url = `${pages!.origin}/pages/uplink.html?${new URLSearchParams({ server: ws })}`;
          await pubPage.goto(url);
          await subPage.goto(url);
          const feed = (await pubPage.evaluate(`harness.publish(${ROOM}, ${JSON.stringify({ width: 640, height: 480, fps: 30 })})`)) as number;
          await subPage.evaluate(`harness.subscribe(${ROOM}, ${JSON.stringify(feed)})`);
          // Loss only on the way into the subscriber's namespace (tbf far above the stream's rate).
          link!.impair(50_000, LOSS);
          const subStats = async (): Promise<SubStats> => (await subPage.evaluate('harness.subStats()')) as SubStats;
          let s = await subStats();
          let rtx: { packets: number; octets: number; reports: number } | undefined;
          let video: Record<string, unknown> | undefined;
          const readInfo = async (): Promise<void> => {
            const ids = (await subPage.evaluate('harness.ids()')) as { session: number; sub: number };
            const info = await postJson(`${gw!.adminUrl}/${ids.session}/${ids.sub}`, { janus: 'handle_info', transaction: 'hi', admin_secret: gw!.adminSecret });
            const media = ((info as { info?: { webrtc?: { media?: Record<string, Record<string, unknown>> } } }).info?.webrtc?.media ?? {}) as Record<string, Record<string, unknown>>;
            video = Object.values(media).find((m) => m['type'] === 'video');
            rtx = (video?.['portunus'] as { rtx?: typeof rtx } | undefined)?.rtx;
          };
          for (const deadline = Date.now() + 40_000; ; await sleep(1000)) {
            s = await subStats();
            if (kind === 'portunus') await readInfo();
            const retx = s.inbound?.retransmittedPacketsReceived ?? 0;
            if (retx >= 10 && (kind !== 'portunus' || (rtx !== undefined && rtx.reports >= 3))) break;
            if (Date.now() > deadline) assert.fail(`retransmissions and reports on RTX: sub ${JSON.stringify(s)} rtx ${JSON.stringify(rtx)}`);
          }
          link!.clear();
          await sleep(3000); // a report interval on a clean link, so the counts below are settled
          s = await subStats();
          if (kind === 'portunus') await readInfo(); // after the subscriber's stats: it counts no more than we sent
          const inb = s.inbound!;
          const summary = { gateway: kind, offerSsrc: s.offerSsrc, offerRtxSsrc: s.offerRtxSsrc, inbound: inb, remoteOutbound: s.remoteOutbound, rtx };
          console.log(`# rtx-reports ${kind}: ${JSON.stringify(summary)}`);
          assert.ok(s.offerRtxSsrc > 0, 'the subscriber offer pairs an RTX SSRC with the video SSRC (FID)');
          assert.ok(inb.nackCount > 0 && inb.retransmittedPacketsReceived > 0, 'the subscriber NACKed and got retransmissions');
          assert.ok(inb.framesDecoded > 30, `video decodes: ${inb.framesDecoded} frames`);
          // remote-outbound-rtp comes from our SRs: one for the media SSRC, none for the RTX SSRC.
          const ro = s.remoteOutbound.filter((x) => x.kind === 'video');
          assert.deepEqual(ro.map((x) => x.ssrc), [s.offerSsrc], `remote-outbound-rtp for the media SSRC only: ${JSON.stringify(s.remoteOutbound)}`);
          assert.ok(ro[0]!.reportsSent >= 2 && ro[0]!.packetsSent > 0, 'SRs about the media SSRC arrive');
          if (kind === 'portunus') {
            assert.ok(rtx !== undefined && rtx.packets > 0 && rtx.octets > 0, `RTX packets counted for its SR: ${JSON.stringify(rtx)}`);
            assert.ok(rtx!.reports >= 3, `Chromium's report blocks about the RTX SSRC are taken: ${JSON.stringify(rtx)}`);
            // What the RTX SR counts is at least what the subscriber restored from RTX (some were lost on the way).
            assert.ok(rtx!.packets >= inb.retransmittedPacketsReceived, `RTX SR packets ${rtx!.packets} >= retransmittedPacketsReceived ${inb.retransmittedPacketsReceived}`);
            // The SR's media packet count is what went out on the media SSRC, not the RTX. The last SR can
            // be up to one report interval (a second or more of video) older than the subscriber's stats,
            // so it is compared with what arrived first time (received minus the retransmissions) with a
            // margin of that size; it can never be above what was received plus lost.
            const firstTime = inb.packetsReceived - inb.retransmittedPacketsReceived;
            assert.ok(ro[0]!.packetsSent >= firstTime * 0.6, `media SR count ${ro[0]!.packetsSent} vs received first time ${firstTime}`);
            assert.ok(ro[0]!.packetsSent <= inb.packetsReceived + inb.packetsLost, `media SR count ${ro[0]!.packetsSent} <= received ${inb.packetsReceived} + lost ${inb.packetsLost}`);
            const errors = (await postJson(`${gw!.adminUrl}`, { janus: 'list_sessions', transaction: 'ls', admin_secret: gw!.adminSecret })) as { sessions?: unknown[] };
            assert.ok((errors.sessions ?? []).length >= 1, 'the server still serves');
            const rtcpMain = (video?.['rtcp'] as { main?: { 'lost-by-remote'?: number } } | undefined)?.main;
            assert.ok((rtcpMain?.['lost-by-remote'] ?? 0) <= inb.packetsLost + 50, `the media stream's loss comes from the media SSRC's blocks only: ${JSON.stringify(rtcpMain)}`);
          }
        } catch (e) {
          if (e instanceof Error) e.message += `\nconsole tail:\n  ${log.slice(-20).join('\n  ')}\n--- ${kind} log tail ---\n${gw!.log().slice(-3000)}`;
          throw e;
        } finally {
          link?.clear();
          await pubCtx.close().catch(() => undefined);
          await subCtx.close().catch(() => undefined);
        }
      });
    });
  }
});
if (skip) console.log(`# rtx-reports test skipped: ${skip}`);
