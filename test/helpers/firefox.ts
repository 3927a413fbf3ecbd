/**
 * Real Firefox (Debian's firefox-esr, stock build) running Janus's own demo pages, the Firefox
 * counterpart of browser.ts (Chromium).
 *
 * How it is driven: playwright-core can only drive its own patched Firefox builds, so stock Firefox is
 * driven over WebDriver BiDi by puppeteer-core (pinned, no browser download: puppeteer-core has no
 * install script). We start Firefox ourselves rather than through puppeteer.launch(), for two reasons:
 *  - inside a network namespace (ICE-TCP test) Firefox's BiDi server listens on the namespace's own
 *    127.0.0.1, which this process cannot reach; a small TCP forwarder started inside the namespace
 *    listens on the veth address instead (the WebSocket keeps Host: 127.0.0.1:<port>, which Firefox checks);
 *  - we own the profile (a fresh temporary folder with the prefs below) and the process group, so
 *    close() kills everything and removes the profile even when the BiDi connection is gone.
 * Then puppeteer.connect({ protocol: 'webDriverBiDi' }) gives pages, evaluate, console events, input.
 *
 * Fake media and ICE in Firefox:
 *  - media.navigator.streams.fake: a generated camera picture and a 1 kHz tone; permission prompts off;
 *  - media.peerconnection.ice.obfuscate_host_addresses = false: host candidates carry this machine's
 *    address, not an mDNS name (as --disable-features=WebRtcHideLocalIpsWithMdns does for Chromium);
 *  - Firefox gathers no loopback candidates (media.peerconnection.ice.loopback stays false), so, as for
 *    Chromium, the gateway advertises the machine's non-loopback address (media-server.ts);
 *  - ICE-TCP (media.peerconnection.ice.tcp) is on, as it is by default.
 *
 * No network beyond this machine: the background services (updates, telemetry, safe browsing, remote
 * settings, captive portal, OpenH264 download) are switched off by prefs, and every request a page
 * makes for anything but 127.0.0.1 / the page host is recorded in `blocked` (tests assert it is empty).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import { after, before, describe } from 'node:test';
import { closeAll, describePc, launchBrowser, type BrowserHandle, type DemoName, type GatewayAddress, type PcReport } from './browser.js';
import { GATEWAYS, gatewayTitle } from './demo-flows.js';
import { startMediaGateway, type DemoPlugin, type GatewayKind, type MediaGateway } from './media-server.js';
import { KNOWN_MISSING, startDemoServer } from './demo-server.js';
import { isLocalUrl, pageConsole, parsePcReports, PC_COLLECTOR, statsScript, type DemoPageBase } from './page-report.js';
import type { ImpairedLink } from './netns.js';
import { ensureSystemPackage } from './system.js';

export const FIREFOX = '/usr/bin/firefox-esr';

/** null when Firefox is there (installing Debian's firefox-esr if needed and possible), else why not. */
export function firefoxUnavailable(): string | null {
  try {
    ensureSystemPackage('firefox-esr', FIREFOX);
    return null;
  } catch (e) {
    return `firefox-esr is not installed and could not be installed: ${(e as Error).message}`;
  }
}

type Pref = string | number | boolean;

/** The profile's user.js. */
export function firefoxPrefs(extra: Record<string, Pref> = {}): Record<string, Pref> {
  return {
    // Fake camera and microphone, no permission prompt, media plays without a user gesture.
    'media.navigator.streams.fake': true,
    'media.navigator.permission.disabled': true,
    'media.autoplay.default': 0,
    'media.autoplay.blocking_policy': 0,
    // ICE: real host addresses (not mDNS names), TCP candidates on, no loopback, no link-local.
    'media.peerconnection.ice.obfuscate_host_addresses': false,
    'media.peerconnection.ice.tcp': true,
    'media.peerconnection.ice.loopback': false,
    'media.peerconnection.ice.link_local': false,
    // OpenH264 is a download: never fetch it (VP8 is what the demos negotiate).
    'media.gmp-manager.updateEnabled': false,
    'media.gmp-manager.url': 'http://127.0.0.1:9/',
    'media.gmp-gmpopenh264.autoupdate': false,
    'media.gmp-gmpopenh264.enabled': false,
    // Background traffic off.
    'app.update.disabledForTesting': true,
    'app.update.auto': false,
    'app.normandy.enabled': false,
    'app.normandy.api_url': '',
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'browser.safebrowsing.downloads.enabled': false,
    'browser.safebrowsing.blockedURIs.enabled': false,
    'browser.safebrowsing.provider.mozilla.updateURL': '',
    'browser.region.network.url': '',
    'browser.region.update.enabled': false,
    'browser.search.update': false,
    'browser.newtabpage.enabled': false,
    'browser.startup.page': 0,
    'browser.startup.homepage': 'about:blank',
    'browser.startup.homepage_override.mstone': 'ignore',
    'browser.shell.checkDefaultBrowser': false,
    'browser.aboutwelcome.enabled': false,
    'browser.sessionstore.resume_from_crash': false,
    'browser.tabs.warnOnClose': false,
    'browser.warnOnQuit': false,
    'browser.translations.automaticallyPopup': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'datareporting.healthreport.uploadEnabled': false,
    'toolkit.telemetry.enabled': false,
    'toolkit.telemetry.unified': false,
    'toolkit.telemetry.server': '',
    'extensions.update.enabled': false,
    'extensions.getAddons.cache.enabled': false,
    'extensions.systemAddon.update.enabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'network.dns.disablePrefetch': true,
    'network.prefetch-next': false,
    'network.http.speculative-parallel-limit': 0,
    'services.settings.server': 'http://127.0.0.1:9/',
    'security.certerrors.mitm.priming.enabled': false,
    'captivedetect.canonicalURL': '',
    // Automation: no slow-script or hang dialogs; timers of background tabs not throttled to 1 s.
    'dom.max_script_run_time': 0,
    'dom.ipc.reportProcessHangs': false,
    'hangmonitor.timeout': 0,
    'dom.min_background_timeout_value': 4,
    'dom.timeout.enable_budget_timer_throttling': false,
    'focusmanager.testmode': true,
    'toolkit.startup.max_resumed_crashes': -1,
    'fission.webContentIsolationStrategy': 0,
    ...extra,
  };
}

function userJs(prefs: Record<string, Pref>): string {
  return Object.entries(prefs)
    .map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`)
    .join('\n') + '\n';
}

/**
 * A TCP forwarder for inside a network namespace: listens on `host`:0, prints its port, and joins
 * each connection to 127.0.0.1:<target> (Firefox's BiDi server) inside the namespace.
 */
const FORWARDER = `const net = require('node:net');
const [host, target] = process.argv.slice(1);
const s = net.createServer((c) => {
  const u = net.connect(Number(target), '127.0.0.1');
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  c.on('close', () => u.destroy()); u.on('close', () => c.destroy());
});
s.listen(0, host, () => console.log('port ' + s.address().port));`;

export interface FirefoxHandle {
  browser: Browser;
  /** Requests for anything but 127.0.0.1 (and pageHost) that pages made (should stay empty). */
  blocked: string[];
  /** Where pages are served when Firefox runs in a namespace (the host side of the veth). */
  pageHost?: { address: string; port: number };
  /** Firefox's own stderr (last 200 lines), for diagnostics. */
  stderr: string[];
  version: string;
  close(): Promise<void>;
}

function waitForLine(proc: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp, timeoutMs: number, what: string, sink: string[]): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        sink.push(l);
        if (sink.length > 200) sink.shift();
        const m = re.exec(l);
        if (m) {
          finish();
          resolve(m);
          return;
        }
      }
    };
    const onExit = (code: number | null, sig: string | null) => {
      finish();
      reject(new Error(`${what}: the process exited (code ${code}, signal ${sig}) before printing ${re}; output:\n${sink.slice(-30).join('\n')}`));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`${what}: nothing matching ${re} within ${timeoutMs} ms; output:\n${sink.slice(-30).join('\n')}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      proc[stream]?.off('data', onData);
      proc.off('exit', onExit);
    };
    proc[stream]?.on('data', onData);
    proc.once('exit', onExit);
  });
}

/** Kill a process group started with detached: true, and wait (up to 5 s) for the leader to exit. */
async function killGroup(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  try {
    process.kill(-proc.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 3000);
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  clearTimeout(t);
}

export interface LaunchFirefoxOptions {
  /** Run Firefox inside this namespace; pages are then served on its host address (`pagePort`). */
  link?: ImpairedLink;
  pagePort?: number;
  /** Extra prefs (override the defaults). */
  prefs?: Record<string, Pref>;
}

/** Headless Firefox with a fresh profile, connected over WebDriver BiDi. */
export async function launchFirefox(opts: LaunchFirefoxOptions = {}): Promise<FirefoxHandle> {
  const exe = ensureSystemPackage('firefox-esr', FIREFOX);
  const version = spawnSync(exe, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const link = opts.link;
  const extra: Record<string, Pref> = { ...(opts.prefs ?? {}) };
  if (link) {
    // Pages come from http://<hostIp>:<port>: getUserMedia needs a secure context.
    extra['dom.securecontext.allowlist'] = link.hostIp;
    extra['media.devices.insecure.enabled'] = true;
    extra['media.getusermedia.insecure.enabled'] = true;
  }
  const profile = mkdtempSync(join(tmpdir(), 'portunus-firefox-'));
  writeFileSync(join(profile, 'user.js'), userJs(firefoxPrefs(extra)));
  const ffArgs = ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port=0', 'about:blank'];
  const [cmd, args] = link ? ['ip', ['netns', 'exec', link.ns, exe, ...ffArgs]] : [exe, ffArgs];
  const stderr: string[] = [];
  const procs: ChildProcess[] = [];
  const env = { ...process.env, MOZ_HEADLESS: '1', MOZ_CRASHREPORTER_DISABLE: '1', MOZ_CRASHREPORTER: '0' };
  let browser: Browser | undefined;
  const cleanup = async () => {
    for (const p of procs.reverse()) await killGroup(p);
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const ff = spawn(cmd, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env });
    procs.push(ff);
    const m = await waitForLine(ff, 'stderr', /WebDriver BiDi listening on (ws:\/\/\S+)/, 30_000, 'Firefox start', stderr);
    // Keep draining stderr (and keep its tail for diagnostics).
    ff.stderr?.on('data', (c: Buffer) => {
      for (const l of c.toString().split('\n')) if (l) (stderr.push(l), stderr.length > 200 && stderr.shift());
    });
    let endpoint = m[1]!;
    // Firefox checks the Host header against its own listening address (--remote-allow-hosts did not
    // let an IP address through here): through the forwarder we still present 127.0.0.1:<port>.
    const headers: Record<string, string> = { host: new URL(endpoint).host };
    if (link) {
      const port = new URL(endpoint).port;
      const fwd = spawn('ip', ['netns', 'exec', link.ns, process.execPath, '-e', FORWARDER, link.nsIp, port], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(fwd);
      const fm = await waitForLine(fwd, 'stdout', /^port (\d+)$/, 10_000, 'BiDi forwarder in the namespace', []);
      endpoint = `ws://${link.nsIp}:${fm[1]}`;
    }
    browser = await puppeteer.connect({ browserWSEndpoint: `${endpoint}/session`, headers, protocol: 'webDriverBiDi', defaultViewport: null, protocolTimeout: 30_000 });
  } catch (e) {
    await cleanup();
    throw e;
  }
  const b = browser;
  return {
    browser: b,
    blocked: [],
    stderr,
    version,
    ...(link && opts.pagePort !== undefined ? { pageHost: { address: link.hostIp, port: opts.pagePort } } : {}),
    close: async () => {
      // browser.close() asks Firefox to quit; the group kill is the backstop (and ends the forwarder).
      await Promise.race([b.close().catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
      await cleanup();
    },
  };
}

/** Firefox's report: its own DTLS-state and selected-pair lookup (see page-report.ts). */
const STATS_SCRIPT = statsScript('firefox');

/** A demo page in Firefox (the browser-independent part is page-report.ts's DemoPageBase). */
export interface FirefoxDemoPage extends DemoPageBase {
  page: Page;
  context: BrowserContext;
  /** Wait until the page expression `expr` is truthy. */
  waitForExpression(expr: string, timeoutMs: number, what: string): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Open one of Janus's demo pages in Firefox, in a fresh browser context (its own cookies and storage). */
export async function openFirefoxDemo(handle: FirefoxHandle, gateway: GatewayAddress, pageName: DemoName, query: Record<string, string> = {}, label: string = `firefox/${pageName}`): Promise<FirefoxDemoPage> {
  const serverUrl = gateway.wsUrl ?? gateway.httpUrl;
  const demo = await startDemoServer({ server: serverUrl, iceServers: [] }, handle.pageHost?.address, handle.pageHost?.port);
  const context = await handle.browser.createBrowserContext();
  const page = await context.newPage();
  const qs = new URLSearchParams(query).toString();
  const url = `${demo.origin}/${pageName}${qs ? `?${qs}` : ''}`;
  const alerts = async (): Promise<string[]> => {
    try {
      return JSON.parse((await page.evaluate(`JSON.stringify([...document.querySelectorAll('.bootbox .bootbox-body')].map((e) => e.textContent || ''))`)) as string) as string[];
    } catch {
      return [];
    }
  };
  const peerConnections = async (): Promise<PcReport[]> => parsePcReports(await page.evaluate(STATS_SCRIPT));
  const pc = pageConsole({
    label,
    header: `--- ${label} (${handle.version}, ${url}, server ${serverUrl}) ---`,
    demo,
    alerts,
    peerConnections,
    describePc,
    extraDiagnostics: () => ['firefox stderr tail:', ...handle.stderr.slice(-8).map((l) => `  ${l.slice(0, 300)}`)],
  });
  const { log, push, diagnostics } = pc;
  page.on('console', (m) => push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => push(`[pageerror] ${(e as Error).message ?? String(e)}`));
  page.on('requestfailed', (r) => push(`[requestfailed] ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('request', (r) => {
    if (!isLocalUrl(r.url(), handle.pageHost?.address)) {
      handle.blocked.push(r.url());
      push(`[harness] non-local request ${r.url()}`);
    }
  });
  page.on('response', (r) => {
    if (r.status() >= 400) push(`[http ${r.status()}] ${r.url()}`);
  });
  await page.evaluateOnNewDocument(PC_COLLECTOR);

  const waitForExpression = async (expr: string, timeoutMs: number, what: string): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await page.evaluate(`!!(${expr})`).catch(() => false)) === true) return;
      if (Date.now() > deadline) throw new Error(`${label}: ${what} did not happen within ${timeoutMs} ms (waited for ${expr})\n${await diagnostics()}`);
      await sleep(200);
    }
  };

  const dp: FirefoxDemoPage = {
    label,
    page,
    context,
    demo,
    url,
    log,
    // Clicks go through the page's own jQuery handlers (element.click() fires them).
    start: async () => waitForExpression(`document.getElementById('start') && (document.getElementById('start').click(), true)`, 10_000, 'the Start button'),
    register: async (name: string, timeoutMs = 15_000) => {
      await waitForExpression(`(() => { const u = document.getElementById('username'); return u && u.offsetParent !== null; })()`, timeoutMs, 'the username field (session/attach)');
      await page.evaluate(`(() => { const u = document.getElementById('username'); u.value = ${JSON.stringify(name)}; document.getElementById('register').click(); })()`);
    },
    waitForConsole: pc.waitForConsole,
    step: pc.step,
    waitForExpression,
    alerts,
    peerConnections,
    diagnostics,
    close: async () => {
      await Promise.race([context.close().catch(() => undefined), sleep(5000)]);
      await demo.close();
    },
  };
  try {
    await page.goto(url, { waitUntil: 'load', timeout: 20_000 });
    const ok = (await page.evaluate(`typeof Janus === 'function' && typeof jQuery === 'function' && typeof bootbox === 'object' && typeof server === 'string' && !!window.__harnessPcs`)) as boolean;
    const missingScripts = [...new Set(demo.missing)].filter((p) => p.endsWith('.js') && !KNOWN_MISSING.includes(p));
    if (!ok || missingScripts.length) throw new Error(`the page did not load its libraries/settings or the PeerConnection collector (missing scripts: ${missingScripts.join(', ') || 'none'})`);
  } catch (e) {
    const d = await diagnostics().catch(() => '');
    await dp.close();
    throw new Error(`${label}: could not load ${url}: ${(e as Error).message}\n${d}`);
  }
  return dp;
}

/** The selected candidate pair's local and remote protocol ("udp" / "tcp"), from PcReport.selectedPair. */
export function pairProtocols(selectedPair: string | null): { local: string; remote: string } | null {
  const m = /\/(udp|tcp) -> .*\/(udp|tcp) \(/.exec(selectedPair ?? '');
  return m ? { local: m[1]!, remote: m[2]! } : null;
}


export interface FirefoxSuiteEnv {
  kind: GatewayKind;
  firefox(): FirefoxHandle;
  gw(): MediaGateway;
  /** Chromium, when the suite asked for it (mixed-browser tests). */
  chromium(): BrowserHandle;
}

/**
 * describe() once per gateway (the real Janus first, as the harness self-check, then Portunus), each
 * with its own Firefox (and Chromium when `withChromium`) and gateway, closed in `after`. Skipped, with
 * the reason, when firefox-esr cannot be had.
 */
export function forEachGatewayInFirefox(title: string, plugins: DemoPlugin[], body: (env: FirefoxSuiteEnv) => void, opts: { withChromium?: boolean } = {}): void {
  const skip = firefoxUnavailable();
  if (skip) console.log(`# ${title}: Firefox tests skipped: ${skip}`);
  for (const kind of GATEWAYS) {
    describe(`${title} in Firefox against ${gatewayTitle(kind)}`, { skip: skip ?? false }, () => {
      let firefox: FirefoxHandle | undefined;
      let chromium: BrowserHandle | undefined;
      let gw: MediaGateway | undefined;
      before(async () => {
        firefox = await launchFirefox();
        if (opts.withChromium) chromium = await launchBrowser();
        gw = await startMediaGateway(kind, plugins, {}, { prefix: 'firefox' });
      });
      after(async () => {
        await closeAll([firefox, chromium, gw]);
      });
      const need = <T>(v: T | undefined, what: string): T => {
        if (!v) throw new Error(`${what} not started`);
        return v;
      };
      body({ kind, firefox: () => need(firefox, 'Firefox'), gw: () => need(gw, kind), chromium: () => need(chromium, 'Chromium') });
    });
  }
}
