/**
 * Shared scaffolding for the browser tests: one suite per gateway (the real Janus first, as the
 * harness self-check, then Portunus with the same configs folder), each with its own Chromium and
 * gateway, closed in `after`; errors carry the gateway's log tail.
 */
import { after, before, describe } from 'node:test';
import { closeAll, launchBrowser, type BrowserHandle, type DemoPage } from './browser.js';
import { startMediaGateway, type DemoPlugin, type GatewayKind, type MediaGateway, type PluginConfigOverrides } from './media-server.js';

export const GATEWAYS: GatewayKind[] = ['janus', 'portunus'];

export interface SuiteEnv {
  kind: GatewayKind;
  handle(): BrowserHandle;
  gw(): MediaGateway;
}

export function gatewayTitle(kind: GatewayKind): string {
  return kind === 'janus' ? 'the real Janus 1.1.2 (harness self-check)' : 'Portunus';
}

/** describe() once per gateway; `body` declares the tests (use env.handle()/env.gw() inside them). */
export function forEachGateway(
  title: string,
  plugins: DemoPlugin[],
  body: (env: SuiteEnv) => void,
  overrides: (kind: GatewayKind) => PluginConfigOverrides = () => ({}),
): void {
  for (const kind of GATEWAYS) {
    describe(`${title} against ${gatewayTitle(kind)}`, () => {
      let handle: BrowserHandle | undefined;
      let gw: MediaGateway | undefined;
      before(async () => {
        handle = await launchBrowser();
        gw = await startMediaGateway(kind, plugins, overrides(kind));
      });
      after(async () => {
        await closeAll([handle, gw]);
      });
      body({
        kind,
        handle: () => {
          if (!handle) throw new Error('browser not started');
          return handle;
        },
        gw: () => {
          if (!gw) throw new Error(`${kind} not started`);
          return gw;
        },
      });
    });
  }
}

/** Run `fn`, closing `pages` afterwards; a failure gets the gateway's log tail appended. */
export async function withPages<T>(gw: MediaGateway, pages: { close(): Promise<void> }[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof Error) {
      e.message += gw.alive() ? `\n--- ${gw.kind} log tail ---\n${gw.log().slice(-2500)}` : `\n${gw.kind} process DIED; log tail:\n${gw.log().slice(-4000)}`;
    }
    throw e;
  } finally {
    await closeAll([...pages]);
  }
}

/** Click Start, wait for the attach to `plugin`, then register `name` in the demo's username field. */
export async function startAndRegister(dp: Pick<DemoPage, 'start' | 'waitForConsole' | 'register'>, plugin: string, name: string): Promise<void> {
  await dp.start();
  await dp.waitForConsole(new RegExp(`Plugin attached! \\(${plugin.replace(/\./g, '\\.')}`), 10_000, `session creation + attach to ${plugin}`);
  await dp.register(name);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Timings recorder for the report lines ("# name timings (ms): {...}"). */
export function stopwatch(): { mark(k: string): void; timings: Record<string, number> } {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  return { mark: (k) => (timings[k] = Date.now() - t0), timings };
}
