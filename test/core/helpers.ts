/** Shared helpers for core tests: a recording TransportClient and a gateway factory. */
import { defaultJanusConfig } from '../../src/config/schema.js';
import type { JanusConfig } from '../../src/config/types.js';
import { Gateway, type GatewayOptions } from '../../src/core/gateway.js';
import type { JanusMessage } from '../../src/core/messages.js';
import type { SessionOverReason, TransportClient } from '../../src/core/transport.js';
import { EchoPlugin } from './echo-plugin.js';

export class RecordingClient implements TransportClient {
  readonly transport = 'test.transport';
  events: JanusMessage[] = [];
  over: Array<{ id: number; reason: SessionOverReason }> = [];
  sendEvent(_id: number, ev: JanusMessage): void {
    this.events.push(ev);
  }
  sessionOver(id: number, reason: SessionOverReason): void {
    this.over.push({ id, reason });
  }
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns something truthy; generous default so a loaded machine does not fail it. */
export async function waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export interface TestGateway {
  gw: Gateway;
  plugin: EchoPlugin;
  client: RecordingClient;
  clock: { t: number };
  req(body: JanusMessage, client?: TransportClient): Promise<JanusMessage>;
  session(): Promise<number>;
  attach(sessionId: number, opaque?: string): Promise<number>;
}

export async function makeGateway(tune?: (c: JanusConfig) => void, extra?: Partial<GatewayOptions>): Promise<TestGateway> {
  const config = defaultJanusConfig('/nonexistent');
  config.general.admin_secret = 'adm';
  tune?.(config);
  const plugin = new EchoPlugin();
  const clock = { t: 1000 };
  const gw = new Gateway({ config, plugins: [plugin], now: () => clock.t, watchdogIntervalMs: 60_000, ...extra });
  await gw.start();
  const client = new RecordingClient();
  let n = 0;
  const req = (body: JanusMessage, c: TransportClient = client) => gw.handle({ transaction: `t${++n}`, ...body }, c);
  return {
    gw,
    plugin,
    client,
    clock,
    req,
    async session() {
      const r = await req({ janus: 'create' });
      return (r.data as { id: number }).id;
    },
    async attach(sessionId: number, opaque?: string) {
      const r = await req({ janus: 'attach', session_id: sessionId, plugin: plugin.package, ...(opaque ? { opaque_id: opaque } : {}) });
      return (r.data as { id: number }).id;
    },
  };
}
