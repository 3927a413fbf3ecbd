/**
 * A publisher on a constrained uplink: does Chromium's send rate follow the link thanks to the
 * gateway's transport-cc feedback? The publisher (Chromium inside a network namespace, see
 * test/helpers/netns.ts) sends the fake camera as one VP8 stream into a VideoRoom room whose
 * `bitrate` (REMB) is far above anything it sends, so only Chrome's own estimate limits it. After a
 * clean start the namespace's egress is capped (tc tbf on its veth end, 100 ms queue) below the
 * clean rate, then lifted. From the publisher's getStats: the send rate (payload + RTP headers),
 * availableOutgoingBitrate, qualityLimitationReason, and the tbf's own sent/dropped counters (the
 * loss at the bottleneck).
 *
 * Portunus with transport-cc (the default) must bring the rate under the cap within seconds, with
 * little loss at the bottleneck once adapted, and grow again after the cap is lifted. The same page
 * against a Portunus room with `transport_wide_cc_ext = false` (Chrome left with REMB and receiver
 * reports) and against Janus 1.1.2 is measured for comparison: printed, not judged.
 * Opt-in (PORTUNUS_CC_UPLINK=1 or PORTUNUS_CC_BROWSER=1) and root only: see README "Congestion control".
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

const CAP_KBIT = 300;
const CAPTURE = { width: 640, height: 480, fps: 30 };
const CLEAN_MS = 20_000;
const CAPPED_MS = 25_000;
const LIFTED_MS = 25_000;

interface PubStats {
  bytes: number;
  headerBytes: number;
  packets: number;
  retransmittedBytes: number;
  width: number;
  height: number;
  fps: number;
  limitation: string | null;
  target: number;
  available: number;
  rttMs: number;
  remoteLost: number;
  remoteFractionLost: number;
  sdpTwcc: boolean;
}

interface Sample {
  phase: 'clean' | 'capped' | 'lifted';
  t: number;
  kbps: number;
  availKbps: number;
  h: number;
  lim: string | null;
  tcSent: number;
  tcDropped: number;
  remoteLost: number;
}

const optIn = process.env['PORTUNUS_CC_UPLINK'] === '1' || process.env['PORTUNUS_CC_BROWSER'] === '1';
const skip = optIn ? netnsUnavailable() : 'opt-in: set PORTUNUS_CC_UPLINK=1 (root, ~5 min: three 70 s runs)';

const avg = (xs: number[]): number => (xs.length === 0 ? 0 : Math.round(xs.reduce((a, x) => a + x, 0) / xs.length));

describe('a publisher on a constrained uplink follows the link (transport-cc feedback)', { skip: skip ?? false }, () => {
  let link: ImpairedLink | undefined;
  before(() => {
    link = new ImpairedLink(ensureSystemPackage('chromium', CHROMIUM));
  });
  after(() => link?.remove());

  // UPLINK_GATEWAYS=portunus (comma list) narrows the run while working on it.
  for (const kind of GATEWAYS.filter((k) => !process.env.UPLINK_GATEWAYS || process.env.UPLINK_GATEWAYS.split(',').includes(k))) {
    describe(gatewayTitle(kind), () => {
      let browser: Browser | undefined;
      let gw: MediaGateway | undefined;
      let pages: PageServer | undefined;
      let nextRoom = 4360;
      before(async () => {
        pages = await startPageServer(link!.hostIp);
        const args = link!.chromiumArgs(pages.origin);
        browser = await chromium.launch({ executablePath: link!.chromium, headless: true, args, timeout: 30_000 });
        gw = await startVideoRoomGatewayOn(kind, 'ccup', link!.hostIf);
      });
      after(async () => {
        link?.liftUplink();
        await closeAll([{ close: async () => void (await browser?.close()) }, gw, pages]);
      });

      const variants = kind === 'portunus' ? [true, false] : [true];
      for (const twcc of variants) {
        const name = `${kind}${twcc ? '' : ' (transport_wide_cc_ext = false)'}`;
        test(`${name}: the send rate drops under the cap, loses little there, and grows when it is lifted`, { timeout: 180_000 }, async () => {
          const room = nextRoom++;
          const create = { request: 'create', room, description: 'ccup', publishers: 1, bitrate: 5_000_000, videocodec: 'vp8', audiocodec: 'opus', fir_freq: 0, transport_wide_cc_ext: twcc };
          const r = await postJson(gw!.adminUrl, { janus: 'message_plugin', transaction: 'ccup', admin_secret: gw!.adminSecret, plugin: 'janus.plugin.videoroom', request: create });
          assert.equal((r.response as { videoroom?: string } | undefined)?.videoroom, 'created', JSON.stringify(r));
          const ws = gw!.wsUrl.replace('127.0.0.1', link!.hostIp);
          const ctx = await browser!.newContext({ permissions: ['camera', 'microphone'] });
          const log: string[] = [];
          try {
            const page: Page = await ctx.newPage();
            page.on('console', (m) => log.push(m.text().slice(0, 300)));
            await page.goto(`${pages!.origin}/pages/uplink.html?${new URLSearchParams({ server: ws })}`);
            await page.evaluate(`harness.publish(${room}, ${JSON.stringify(CAPTURE)})`);
            const stats = async (): Promise<PubStats> => (await page.evaluate('harness.stats()')) as PubStats;
            const samples: Sample[] = [];
            const t0 = Date.now();
            let last = await stats();
            let lastAt = Date.now();
            const watch = async (phase: Sample['phase'], ms: number): Promise<void> => {
              const start = Date.now();
              while (Date.now() - start < ms) {
                await sleep(1000);
                const s = await stats();
                const now = Date.now();
                const tc = link!.uplinkCounters();
                const bits = (s.bytes + s.headerBytes - last.bytes - last.headerBytes) * 8;
                samples.push({ phase, t: now - t0, kbps: Math.round(bits / (now - lastAt)), availKbps: Math.round(s.available / 1000), h: s.height, lim: s.limitation, tcSent: tc.sent, tcDropped: tc.dropped, remoteLost: s.remoteLost });
                last = s;
                lastAt = now;
              }
            };
            await watch('clean', CLEAN_MS);
            const twccNegotiated = last.sdpTwcc;
            const clean = samples.slice(-6);
            const cleanKbps = avg(clean.map((x) => x.kbps));
            // The cap must bite: 300 kbit/s, or half the clean rate if that is lower (a loaded machine).
            const cap = Math.max(100, Math.min(CAP_KBIT, Math.round(cleanKbps / 2)));
            link!.shapeUplink(cap);
            const cappedFrom = samples.length;
            await watch('capped', CAPPED_MS);
            const capped = samples.slice(cappedFrom);
            const under = capped.findIndex((x) => x.kbps <= cap);
            const stepDownMs = under < 0 ? -1 : capped[under]!.t - (capped[0]!.t - 1000);
            const tail = capped.slice(-10); // last ~10 s under the cap
            const tailKbps = avg(tail.map((x) => x.kbps));
            // Loss at the bottleneck once adapted: the tbf's drops over the last ~15 s.
            const steadyFrom = capped[capped.length - 16]!;
            const end = capped[capped.length - 1]!;
            const steadySent = end.tcSent - steadyFrom.tcSent;
            const steadyDropped = end.tcDropped - steadyFrom.tcDropped;
            const steadyLossPct = +((100 * steadyDropped) / Math.max(1, steadySent + steadyDropped)).toFixed(1);
            const totalLossPct = +((100 * end.tcDropped) / Math.max(1, end.tcSent + end.tcDropped)).toFixed(1);
            const availEnd = avg(tail.slice(-3).map((x) => x.availKbps));
            const limitations = [...new Set(tail.map((x) => x.lim))];
            link!.liftUplink();
            const liftedFrom = samples.length;
            await watch('lifted', LIFTED_MS);
            const lifted = samples.slice(liftedFrom);
            const over = lifted.findIndex((x) => x.kbps >= cap * 1.5);
            const growMs = over < 0 ? -1 : lifted[over]!.t - (lifted[0]!.t - 1000);
            const liftedKbps = avg(lifted.slice(-5).map((x) => x.kbps));
            const summary = {
              gateway: name,
              twccNegotiated,
              cleanKbps,
              cleanAvailKbps: avg(clean.map((x) => x.availKbps)),
              capKbit: cap,
              stepDownMs,
              cappedKbpsLast10s: tailKbps,
              availKbpsEnd: availEnd,
              limitation: limitations,
              heightEnd: end.h,
              bottleneckLossPctLast15s: steadyLossPct,
              bottleneckLossPctAll: totalLossPct,
              bottleneckDropped: end.tcDropped,
              growMs,
              liftedKbpsLast5s: liftedKbps,
            };
            console.log(`# uplink ${name}: ${JSON.stringify(summary)}`);
            console.log(`# uplink ${name} samples (t s: kbps/avail kbps/height): ${samples.map((x) => `${x.phase.slice(0, 2)}${Math.round(x.t / 1000)}:${x.kbps}/${x.availKbps}/${x.h}`).join(' ')}`);
            if (kind === 'portunus' && twcc) {
              assert.equal(twccNegotiated, true, 'transport-cc negotiated with the publisher');
              assert.ok(cleanKbps >= cap * 1.5, `the clean rate (${cleanKbps} kbit/s) is above the cap (${cap})`);
              assert.ok(stepDownMs >= 0 && stepDownMs <= 8_000, `the send rate is under the cap within 8 s: ${stepDownMs} ms`);
              assert.ok(tailKbps <= cap * 1.05, `the send rate stays under the cap (${cap}): ${tailKbps} kbit/s`);
              assert.ok(availEnd <= cap * 1.5, `the estimate follows the link (${cap}): ${availEnd} kbit/s`);
              assert.ok(steadyLossPct <= 3, `little loss at the bottleneck once adapted: ${steadyLossPct} %`);
              assert.ok(growMs >= 0, `the send rate grows past 1.5x the cap after it is lifted: ${JSON.stringify(lifted.map((x) => x.kbps))}`);
            }
            if (kind === 'portunus' && !twcc) assert.equal(twccNegotiated, false, 'no transport-cc with transport_wide_cc_ext = false');
          } catch (e) {
            if (e instanceof Error) e.message += `\nconsole tail:\n  ${log.slice(-20).join('\n  ')}\n--- ${kind} log tail ---\n${gw!.log().slice(-3000)}`;
            throw e;
          } finally {
            link?.liftUplink();
            await ctx.close().catch(() => undefined);
          }
        });
      }
    });
  }
});
if (skip) console.log(`# uplink congestion test skipped: ${skip}`);
