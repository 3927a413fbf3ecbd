/**
 * Janus API signalling for the load clients of the benchmarks: one WebSocket session (kept alive),
 * VideoRoom handles, plugin requests that resolve with the plugin's event. The same code drives
 * Portunus and Janus 1.1.2.
 */
import { WsClient, type JsonObject } from '../test/helpers/janus-client.js';

export type Jsep = { type: string; sdp: string };

export class Signalling {
  private constructor(
    readonly ws: WsClient,
    readonly session: number,
    private readonly ka: NodeJS.Timeout,
  ) {}

  static async open(url: string): Promise<Signalling> {
    const ws = await WsClient.connect(url, 'janus-protocol', 15_000);
    const r = await ws.request({ janus: 'create' }, 15_000);
    const session = (r.data as { id: number }).id;
    const ka = setInterval(() => ws.sendRaw({ janus: 'keepalive', session_id: session, transaction: `ka${Date.now()}` }), 15_000);
    return new Signalling(ws, session, ka);
  }

  async attach(plugin = 'janus.plugin.videoroom'): Promise<number> {
    const r = await this.ws.request({ janus: 'attach', session_id: this.session, plugin }, 15_000);
    return (r.data as { id: number }).id;
  }

  /** A plugin request; resolves with the plugin event (async requests: after the ack). */
  async message(handle: number, body: Record<string, unknown>, jsep?: Jsep, timeoutMs = 30_000): Promise<{ data: JsonObject; jsep?: Jsep }> {
    const transaction = `m${Math.random().toString(36).slice(2)}`;
    const p = this.ws.waitFor((m) => m.transaction === transaction && m.janus !== 'ack', timeoutMs, `reply to ${JSON.stringify(body)}`);
    this.ws.sendRaw({ janus: 'message', session_id: this.session, handle_id: handle, transaction, body, ...(jsep ? { jsep } : {}) });
    const m = await p;
    const data = ((m.plugindata as JsonObject | undefined)?.data ?? {}) as JsonObject;
    if (m.janus === 'error' || data.error) throw new Error(`${JSON.stringify(body).slice(0, 120)}: ${JSON.stringify(m.error ?? data)}`);
    return { data, ...(m.jsep ? { jsep: m.jsep as Jsep } : {}) };
  }

  async close(): Promise<void> {
    clearInterval(this.ka);
    await this.ws.close();
  }
}
