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

  /** The first kept event that matches (removed from the kept ones); null if none within `ms`. */
  private async find(match: (e: JsonObject) => boolean, ms: number): Promise<JsonObject | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex(match);
      if (i >= 0) return this.events.splice(i, 1)[0]!;
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

  /** The plugin data of the reply (plus `jsep_type` when a JSEP came with it). */
  async req(handle: number, body: unknown, jsep?: Record<string, unknown>): Promise<JsonObject> {
    return (await this.message(handle, body, jsep)).data;
  }

  /** As req(), with the JSEP itself (null if none). */
  async message(handle: number, body: unknown, jsep?: Record<string, unknown>): Promise<{ data: JsonObject; jsep: { type: string; sdp: string } | null }> {
    const transaction = tx('ph');
    const r = await postJson(`${this.url}/${this.session}/${handle}`, { janus: 'message', transaction, body, ...(jsep ? { jsep } : {}) });
    if (r['janus'] === 'success') return { data: (r['plugindata'] as JsonObject)['data'] as JsonObject, jsep: null };
    if (r['janus'] !== 'ack') return { data: { janus: r['janus'] ?? null, error: r['error'] ?? null }, jsep: null };
    const e = await this.take((x) => x['transaction'] === transaction, `event for ${JSON.stringify(body)}`);
    return { data: dataOf(e), jsep: (e['jsep'] as { type: string; sdp: string } | undefined) ?? null };
  }

  /** The next unsolicited plugin event for `handle` (no transaction), in arrival order. */
  async unsolicited(handle: number): Promise<JsonObject> {
    return dataOf(await this.take(unsolicitedFor(handle), `unsolicited event for ${handle}`));
  }

  /** The next unsolicited plugin event for `handle`, or null when none comes within `ms` (a script step that expects silence). */
  async event(handle: number, ms = 4000): Promise<JsonObject | null> {
    const e = await this.find(unsolicitedFor(handle), ms);
    return e === null ? null : dataOf(e);
  }

  async close(): Promise<void> {
    await postJson(`${this.url}/${this.session}`, { janus: 'destroy', transaction: tx() }).catch(() => undefined);
  }
}

/** An event's plugin data, plus `jsep_type` when a JSEP came with it. */
function dataOf(e: JsonObject): JsonObject {
  const data = (e['plugindata'] as JsonObject)['data'] as JsonObject;
  return e['jsep'] ? { ...data, jsep_type: (e['jsep'] as JsonObject)['type']! } : data;
}

const unsolicitedFor = (handle: number) => (e: JsonObject): boolean => e['sender'] === handle && e['janus'] === 'event' && e['transaction'] === undefined;
