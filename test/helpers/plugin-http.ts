/**
 * A Janus API session over HTTP long-poll for differential scripts against one plugin: attach handles,
 * send a message and get its plugin data back (synchronous reply or the event carrying the same
 * transaction, with `jsep_type` when a JSEP came with it), and take unsolicited plugin events per handle.
 * Every event a long poll returns is kept, so none is lost when a batch holds several.
 */
import { longPoll, postJson, tx, type JsonObject } from './janus-client.js';

export class PluginHttp {
  private events: JsonObject[] = [];
  private constructor(
    private readonly url: string,
    private readonly plugin: string,
    readonly session: number,
  ) {}

  static async open(url: string, plugin: string): Promise<PluginHttp> {
    const s = await postJson(url, { janus: 'create', transaction: tx() });
    return new PluginHttp(url, plugin, (s['data'] as JsonObject)['id'] as number);
  }

  async attach(): Promise<number> {
    const a = await postJson(`${this.url}/${this.session}`, { janus: 'attach', plugin: this.plugin, transaction: tx() });
    return (a['data'] as JsonObject)['id'] as number;
  }

  private async poll(): Promise<void> {
    // A long poll that fails or times out is simply polled again until the caller's deadline.
    const p = await longPoll(this.url, this.session, { maxev: 10, timeoutMs: 3000 }).catch(() => null);
    if (p === null) return;
    for (const e of Array.isArray(p.json) ? p.json : [p.json]) if (e && typeof e === 'object' && !Array.isArray(e) && e['janus'] !== 'keepalive') this.events.push(e as JsonObject);
  }

  /** The first kept event that matches, as its plugin data (plus `jsep_type`); null if none within `ms`. */
  private async find(match: (e: JsonObject) => boolean, ms: number): Promise<JsonObject | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex(match);
      if (i >= 0) {
        const e = this.events.splice(i, 1)[0]!;
        const data = (e['plugindata'] as JsonObject)['data'] as JsonObject;
        return e['jsep'] ? { ...data, jsep_type: (e['jsep'] as JsonObject)['type']! } : data;
      }
      if (Date.now() > deadline) return null;
      await this.poll();
    }
  }

  /** As find(), within 8 s, and an error naming `what` when nothing came. */
  private async take(match: (e: JsonObject) => boolean, what: string): Promise<JsonObject> {
    const found = await this.find(match, 8000);
    if (found === null) throw new Error(`no ${what}`);
    return found;
  }

  async req(handle: number, body: unknown, jsep?: Record<string, unknown>): Promise<JsonObject> {
    const transaction = tx('ph');
    const r = await postJson(`${this.url}/${this.session}/${handle}`, { janus: 'message', transaction, body, ...(jsep ? { jsep } : {}) });
    if (r['janus'] === 'success') return (r['plugindata'] as JsonObject)['data'] as JsonObject;
    if (r['janus'] !== 'ack') return { janus: r['janus'] ?? null, error: r['error'] ?? null };
    return this.take((e) => e['transaction'] === transaction, `event for ${JSON.stringify(body)}`);
  }

  /** The next unsolicited plugin event for `handle` (no transaction), in arrival order. */
  unsolicited(handle: number): Promise<JsonObject> {
    return this.take(unsolicitedFor(handle), `unsolicited event for ${handle}`);
  }

  /** The next unsolicited plugin event for `handle`, or null when none comes within `ms` (a script step that expects silence). */
  event(handle: number, ms = 4000): Promise<JsonObject | null> {
    return this.find(unsolicitedFor(handle), ms);
  }

  async close(): Promise<void> {
    await postJson(`${this.url}/${this.session}`, { janus: 'destroy', transaction: tx() }).catch(() => undefined);
  }
}

const unsolicitedFor = (handle: number) => (e: JsonObject): boolean => e['sender'] === handle && e['janus'] === 'event' && e['transaction'] === undefined;
