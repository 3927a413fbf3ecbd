/**
 * Real Chromium (Debian's /usr/bin/chromium, driven by playwright-core) running Janus's own,
 * unmodified demo pages against a Janus-API gateway.
 *
 * - launchBrowser(): headless Chromium with fake camera/microphone, no network beyond this
 *   machine: every HTTP(S) request that is not for 127.0.0.1 is aborted and recorded, and the
 *   host resolver maps every name but localhost to nothing.
 * - openDemo(): serves /usr/share/janus/demos with a generated settings.js (demo-server.ts) in a
 *   fresh browser context (one per participant), captures the console, page errors, failed
 *   requests and bootbox alerts, and collects every RTCPeerConnection the page creates (by
 *   wrapping window.RTCPeerConnection with page.addInitScript: the page itself is untouched) so
 *   tests can read getStats().
 * - PeerConnection reports (page-report.ts, shared with the Firefox harness) + mediaProblem(): which
 *   step of the media path failed (no answer SDP, ICE, DTLS, no RTP, nothing decoded), for precise
 *   failure messages.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureSystemPackage } from './system.js';
import { KNOWN_MISSING, startDemoServer } from './demo-server.js';
import { isLocalUrl, pageConsole, parsePcReports, PC_COLLECTOR, statsScript, type DemoPageBase, type PcReport } from './page-report.js';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  // Host candidates as plain addresses instead of mDNS names: no multicast mDNS traffic leaves
  // the machine, and the gateway sees this machine's own address.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  // No DNS for anything but this machine.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

export type DemoName = 'echotest.html' | 'videoroomtest.html' | 'mvideoroomtest.html' | 'textroomtest.html' | 'audiobridgetest.html' | 'admin.html' | 'videocalltest.html' | 'recordplaytest.html' | 'streamingtest.html';

/** Where the demo's settings.js points `server`: WebSockets or HTTP long poll. */
export type GatewayAddress = { wsUrl: string; httpUrl?: undefined } | { httpUrl: string; wsUrl?: undefined };

export interface BrowserHandle {
  browser: Browser;
  /** Requests for anything but 127.0.0.1 that were blocked (should stay empty). */
  blocked: string[];
  /**
   * Serve the demo pages here instead of 127.0.0.1:<any> (a browser inside a network namespace); the
   * address is then the one besides 127.0.0.1 the pages may reach.
   */
  pageHost?: { address: string; port: number };
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<BrowserHandle> {
  const exe = ensureSystemPackage('chromium', CHROMIUM);
  // Playwright gives the browser a fresh temporary --user-data-dir and removes it on close()
  // (it refuses an explicit --user-data-dir for launch()).
  const browser = await chromium.launch({
    executablePath: exe,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  return {
    browser,
    blocked: [],
    close: async () => {
      await browser.close().catch(() => undefined);
    },
  };
}

export type { DataChannelReport, InboundReport, OutboundReport, PcReport } from './page-report.js';

const STATS_SCRIPT = statsScript('chromium');

/** A demo page in Chromium (the browser-independent part is page-report.ts's DemoPageBase). */
export interface DemoPage extends DemoPageBase {
  page: Page;
  context: BrowserContext;
}

/**
 * Open one of Janus's demo pages in a fresh browser context, with settings.js pointing at `gateway`.
 * `query` is appended to the page URL (e.g. { room: '1234' }).
 */
export async function openDemo(
  handle: BrowserHandle,
  gateway: GatewayAddress,
  pageName: DemoName,
  query: Record<string, string> = {},
  label: string = pageName,
  /** admin.html: the Admin API address and secret its adminconfig.js declares. */
  admin?: { server: string; secret: string },
): Promise<DemoPage> {
  const serverUrl = gateway.wsUrl ?? gateway.httpUrl;
  const demo = await startDemoServer({ server: serverUrl, iceServers: [], ...(admin ? { admin } : {}) }, handle.pageHost?.address, handle.pageHost?.port);
  const context = await handle.browser.newContext({ permissions: ['camera', 'microphone'], viewport: { width: 1280, height: 900 } });
  const qs = new URLSearchParams(query).toString();
  const url = `${demo.origin}/${pageName}${qs ? `?${qs}` : ''}`;

  // (alerts and peerConnections read `page`, created below, only when called.)
  const alerts = async (): Promise<string[]> => {
    try {
      return await page.locator('.bootbox .bootbox-body').allTextContents();
    } catch {
      return [];
    }
  };
  const peerConnections = async (): Promise<PcReport[]> => parsePcReports(await page.evaluate(STATS_SCRIPT));
  const pc = pageConsole({ label, header: `--- ${label} (${url}, server ${serverUrl}) ---`, demo, alerts, peerConnections, describePc });
  const { log, push, diagnostics } = pc;

  await context.route(
    (url) => !isLocalUrl(url.href, handle.pageHost?.address),
    async (route) => {
      const u = route.request().url();
      handle.blocked.push(u);
      push(`[harness] blocked non-local request ${u}`);
      await route.abort('blockedbyclient');
    },
  );
  await context.addInitScript({ content: PC_COLLECTOR });
  const page = await context.newPage();
  page.on('console', (m) => push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => push(`[pageerror] ${e.message}`));
  page.on('requestfailed', (r) => push(`[requestfailed] ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) push(`[http ${r.status()}] ${r.url()}`);
  });
  const dp: DemoPage = {
    label,
    page,
    context,
    demo,
    url,
    log,
    start: async () => {
      await page.locator('#start').click({ timeout: 10_000 });
    },
    register: async (name: string, timeoutMs = 15_000) => {
      try {
        await page.locator('#username').waitFor({ state: 'visible', timeout: timeoutMs });
      } catch {
        throw new Error(`${label}: the username field never appeared (session/attach failed?)\n${await diagnostics()}`);
      }
      await page.locator('#username').fill(name);
      await page.locator('#register').click();
    },
    waitForConsole: pc.waitForConsole,
    step: pc.step,
    alerts,
    peerConnections,
    diagnostics,
    close: async () => {
      await context.close().catch(() => undefined);
      await demo.close();
    },
  };
  let ok = false;
  try {
    await page.goto(url, { waitUntil: 'load', timeout: 20_000 });
    // The demo must have loaded its libraries and settings (typeof checks on the page's globals).
    // (admin.html talks to the Admin API with jQuery only: no janus.js, and a `secret` instead.)
    const check = pageName === 'admin.html' ? `typeof secret === 'string'` : `typeof Janus === 'function'`;
    ok = (await page.evaluate(`${check} && typeof jQuery === 'function' && typeof bootbox === 'object' && typeof server === 'string'`)) as boolean;
  } catch (e) {
    const d = await diagnostics().catch(() => '');
    await dp.close();
    throw new Error(`${label}: could not load ${url}: ${(e as Error).message}\n${d}`);
  }
  // A script the page loads that is not there (other than the known gaps) is a harness problem.
  const missingScripts = [...new Set(demo.missing)].filter((p) => p.endsWith('.js') && !KNOWN_MISSING.includes(p));
  if (ok && missingScripts.length) ok = false;
  if (!ok) {
    const d = await diagnostics();
    await dp.close();
    throw new Error(`${pageName} did not load its libraries/settings (Janus, jQuery, bootbox, server; missing scripts: ${missingScripts.join(', ') || 'none'})\n${d}`);
  }
  return dp;
}

export function describePc(pc: PcReport): string {
  const parts = [
    `connection=${pc.connectionState} ice=${pc.iceConnectionState} gathering=${pc.iceGatheringState} signaling=${pc.signalingState}`,
    `local=${pc.local ?? 'none'} remote=${pc.remote ?? 'none'} (remote m=${pc.remoteMedia.join(',') || '-'}, ${pc.remoteSdpCandidates} SDP candidates)`,
    `dtls=${pc.dtlsState ?? '-'} pair=${pc.selectedPair ?? '-'}`,
  ];
  for (const i of pc.inbound) {
    parts.push(`in ${i.kind} mid=${i.mid} ${i.codec ?? ''} pkts=${i.packetsReceived} lost=${i.packetsLost} bytes=${i.bytesReceived}` + (i.kind === 'video' ? ` frames=${i.framesDecoded} ${i.frameWidth}x${i.frameHeight}` : ` energy=${i.totalAudioEnergy.toFixed(4)} over ${i.totalSamplesDuration.toFixed(1)}s (mean power ${audioPower(i).toExponential(2)})`));
  }
  for (const o of pc.outbound) parts.push(`out ${o.kind} mid=${o.mid} pkts=${o.packetsSent}`);
  for (const d of pc.dataChannels) parts.push(`dc "${d.label}" ${d.state} sent=${d.messagesSent} recv=${d.messagesReceived}`);
  if (pc.statsError) parts.push(`stats error: ${pc.statsError}`);
  return parts.join('; ');
}

/**
 * Mean audio power (totalAudioEnergy / totalSamplesDuration, 0..1) that counts as hearing something.
 * Measured here: decoded silence from a mixer is ~1e-9, Chromium's fake-microphone tone ~0.25.
 */
export const AUDIBLE_POWER = 1e-4;

export function audioPower(i: { totalAudioEnergy: number; totalSamplesDuration: number }): number {
  return i.totalSamplesDuration > 0 ? i.totalAudioEnergy / i.totalSamplesDuration : 0;
}

/** Mean audio power received between two reports of the same PeerConnections (per kind 'audio'). */
export function audioPowerBetween(before: PcReport[], after: PcReport[]): number {
  const dE = inboundTotal(after, 'audio', 'totalAudioEnergy') - inboundTotal(before, 'audio', 'totalAudioEnergy');
  const dT = inboundTotal(after, 'audio', 'totalSamplesDuration') - inboundTotal(before, 'audio', 'totalSamplesDuration');
  return dT > 0 ? dE / dT : 0;
}

export interface MediaWant {
  audio?: boolean;
  video?: boolean;
  /** An open data channel. */
  data?: boolean;
}

/**
 * The first step of the media path that has not happened yet on this PeerConnection, or null when
 * everything wanted flows: answer SDP -> ICE -> DTLS -> RTP per kind -> decoded frames / audio energy.
 */
export function mediaProblem(pc: PcReport | undefined, want: MediaWant): string | null {
  if (!pc) return 'no RTCPeerConnection was created (no offer/answer exchange started)';
  if (pc.connectionState === 'closed') return 'the RTCPeerConnection was closed (hangup?)';
  if (!pc.local || !pc.remote) {
    return pc.local === 'offer' || (!pc.remote && pc.local === null && pc.signalingState === 'stable')
      ? `no answer SDP from the server (signalingState=${pc.signalingState}, local=${pc.local ?? 'none'})`
      : `SDP negotiation incomplete (local=${pc.local ?? 'none'}, remote=${pc.remote ?? 'none'}, signalingState=${pc.signalingState})`;
  }
  if (pc.iceConnectionState !== 'connected' && pc.iceConnectionState !== 'completed') {
    return `ICE not connected (iceConnectionState=${pc.iceConnectionState}, ${pc.remoteSdpCandidates} candidates in the server's SDP, selected pair ${pc.selectedPair ?? 'none'})`;
  }
  if (pc.dtlsState !== 'connected') return `DTLS not connected (dtlsState=${pc.dtlsState ?? 'unknown'}, connectionState=${pc.connectionState})`;
  for (const kind of ['audio', 'video'] as const) {
    if (!want[kind]) continue;
    const ins = pc.inbound.filter((i) => i.kind === kind && i.packetsReceived > 0);
    if (ins.length === 0) {
      const sent = pc.outbound.filter((o) => o.kind === kind).reduce((n, o) => n + o.packetsSent, 0);
      return `no ${kind} RTP received (ICE and DTLS are up; the browser sent ${sent} ${kind} packets)`;
    }
    if (kind === 'video' && !ins.some((i) => i.framesDecoded > 0)) return `video RTP received (${ins[0]!.packetsReceived} packets) but no frame decoded`;
    if (kind === 'audio' && !ins.some((i) => audioPower(i) >= AUDIBLE_POWER)) {
      return `audio RTP received (${ins[0]!.packetsReceived} packets) but it is silent (mean power ${audioPower(ins[0]!).toExponential(2)} < ${AUDIBLE_POWER}: silence, comfort noise or undecodable)`;
    }
  }
  if (want.data && !pc.dataChannels.some((d) => d.state === 'open')) {
    return `no open data channel (${pc.dataChannels.map((d) => `"${d.label}" ${d.state}`).join(', ') || 'none reported'}): SCTP over DTLS not established`;
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What waitForMedia() needs of a page: a Chromium DemoPage, or a Firefox one (firefox.ts). */
export type MediaPage = Pick<DemoPageBase, 'label' | 'peerConnections' | 'alerts' | 'diagnostics'>;

/**
 * Poll getStats until `select` yields `count` PeerConnections that all pass mediaProblem(want).
 * Rejects after timeoutMs with the failing step and the page diagnostics.
 */
export async function waitForMedia(
  dp: MediaPage,
  want: MediaWant,
  timeoutMs: number,
  opts: { select?: (pcs: PcReport[]) => PcReport[]; count?: number; what?: string; /** Dialogs that are progress, not failure. */ ignoreAlerts?: RegExp } = {},
): Promise<PcReport[]> {
  const select = opts.select ?? ((pcs) => pcs.filter((p) => p.connectionState !== 'closed'));
  const count = opts.count ?? 1;
  const deadline = Date.now() + timeoutMs;
  let problem = '';
  for (;;) {
    const all = await dp.peerConnections();
    const sel = select(all);
    if (sel.length < count) {
      problem = sel.length === 0 ? (mediaProblem(undefined, want) ?? '') : `only ${sel.length} of ${count} expected PeerConnections exist`;
      if (sel.length > 0) {
        const p = sel.map((pc) => mediaProblem(pc, want)).find((x) => x !== null);
        if (p) problem += `; and: ${p}`;
      }
    } else {
      const problems = sel.map((pc) => mediaProblem(pc, want));
      const bad = problems.findIndex((p) => p !== null);
      if (bad < 0) return sel;
      problem = `pc#${sel[bad]!.index}: ${problems[bad]}`;
    }
    const alerted = (await dp.alerts()).filter((a) => !opts.ignoreAlerts?.test(a));
    if (alerted.length || Date.now() > deadline) {
      const why = alerted.length ? `failed (the page alerted ${JSON.stringify(alerted.join(' | ').trim())})` : `not flowing after ${timeoutMs} ms`;
      throw new Error(`${dp.label}: ${opts.what ?? 'media'} ${why}: ${problem}\n${await dp.diagnostics()}`);
    }
    await sleep(500);
  }
}

/** Sum of a numeric inbound stat over the PCs' inbound streams of one kind. */
export function inboundTotal(pcs: PcReport[], kind: 'audio' | 'video', field: 'framesDecoded' | 'totalAudioEnergy' | 'totalSamplesDuration' | 'bytesReceived' | 'packetsReceived'): number {
  let n = 0;
  for (const pc of pcs) for (const i of pc.inbound) if (i.kind === kind) n += i[field];
  return n;
}

/** Close everything, ignoring errors (for t.after). */
export async function closeAll(items: ({ close(): Promise<void> } | { stop(): Promise<void> } | undefined)[]): Promise<void> {
  for (const it of items.reverse()) {
    if (!it) continue;
    try {
      if ('close' in it) await it.close();
      else await it.stop();
    } catch {
      /* best effort */
    }
  }
}
