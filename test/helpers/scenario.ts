/**
 * A scenario context: sends requests to one server (HTTP or WS), records every answer as a named
 * step (the transaction is the step name, so it is identical on both servers), registers random ids
 * for masking, and collects failed expectations without aborting (so a transcript is always complete
 * enough to diff).
 */
import { get, post, WsClient, type HttpReply, type Json, type JsonObject } from './janus-client.js';
import { Masker, type Step } from './shape-diff.js';
import type { RunningServer } from './server-process.js';

export type Obj = JsonObject;

function asObj(v: Json | undefined): Obj {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

export function describeReply(v: unknown): string {
  const s = JSON.stringify(v);
  return s && s.length > 400 ? `${s.slice(0, 400)}…` : String(s);
}

export class Ctx {
  readonly steps: { name: string; value: unknown }[] = [];
  readonly failures: string[] = [];
  readonly masker = new Masker();
  private readonly wsClients: WsClient[] = [];

  constructor(readonly srv: RunningServer) {}

  /** The transcript with ids masked. */
  transcript(): Step[] {
    return this.steps.map((s) => ({ name: s.name, value: this.masker.mask(s.value) }));
  }

  record(name: string, value: unknown): void {
    if (this.steps.some((s) => s.name === name)) throw new Error(`duplicate step name ${name}`);
    this.steps.push({ name, value });
  }

  check(cond: boolean, msg: string): void {
    if (!cond) this.failures.push(`${this.srv.kind}: ${msg}`);
  }

  private recordHttp(name: string, r: HttpReply): void {
    this.record(name, r.json !== undefined ? { http: r.status, body: r.json } : { http: r.status, text: r.text });
  }

  /** POST to <httpUrl><path>; a `transaction` equal to the step name is added to object bodies unless `noTx`. */
  async post(name: string, path: string, body: unknown, opts: { noTx?: boolean } = {}): Promise<Obj> {
    const b = typeof body === 'object' && body !== null && !Array.isArray(body) && !opts.noTx && !('transaction' in body) ? { ...body, transaction: name } : body;
    let r: HttpReply;
    try {
      r = await post(`${this.srv.httpUrl}${path}`, b);
    } catch (e) {
      // e.g. Janus drops the connection without any reply for an empty body.
      this.record(name, { transportError: 'no HTTP response' });
      return {};
    }
    this.recordHttp(name, r);
    return asObj(r.json);
  }

  async admin(name: string, path: string, body: Record<string, unknown>, opts: { secret?: string | null } = {}): Promise<Obj> {
    const b: Record<string, unknown> = { transaction: name, ...body };
    const secret = opts.secret === undefined ? this.srv.adminSecret : opts.secret;
    if (secret !== null) b.admin_secret = secret;
    const r = await post(`${this.srv.adminUrl}${path}`, b);
    this.recordHttp(name, r);
    return asObj(r.json);
  }

  /** GET <httpUrl><path>. */
  async get(name: string, path: string, timeoutMs = 35_000): Promise<HttpReply> {
    const r = await get(`${this.srv.httpUrl}${path}`, timeoutMs);
    this.recordHttp(name, r);
    return r;
  }

  /** Arbitrary method; records status, the JSON body if any, and the chosen headers. */
  async raw(name: string, method: string, path: string, opts: { body?: string; headers?: Record<string, string>; recordHeaders?: string[] } = {}): Promise<Response | undefined> {
    let res: Response;
    try {
      res = await fetch(`${this.srv.httpUrl}${path}`, {
        method,
        body: opts.body,
        headers: opts.headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      });
    } catch {
      this.record(name, { transportError: 'no HTTP response' });
      return undefined;
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const headers: Record<string, string | null> = {};
    for (const h of opts.recordHeaders ?? []) headers[h] = res.headers.get(h);
    this.record(name, { http: res.status, ...(json !== undefined ? { body: json } : {}), ...(opts.recordHeaders ? { headers } : {}) });
    return res;
  }

  /** Long poll on a session; records the answer. */
  async poll(name: string, sessionId: number, maxev?: number): Promise<Json | undefined> {
    const r = await this.get(name, `/${sessionId}${maxev !== undefined ? `?maxev=${maxev}` : ''}`);
    return r.json;
  }

  // ---- common flows ----

  /** create → session id (registered for masking as <S n>). */
  async session(name: string, extra: Record<string, unknown> = {}): Promise<number> {
    const r = await this.post(name, '', { janus: 'create', ...extra });
    const id = (r.data as Obj | undefined)?.id;
    this.check(r.janus === 'success' && typeof id === 'number', `${name}: create failed: ${describeReply(r)}`);
    if (typeof id !== 'number') throw new Error(`${this.srv.kind}: ${name}: cannot continue without a session: ${describeReply(r)}`);
    this.masker.register('S', id);
    return id;
  }

  /** attach videoroom → handle id (registered as <H n>). */
  async handle(name: string, sessionId: number, plugin = 'janus.plugin.videoroom'): Promise<number> {
    const r = await this.post(name, `/${sessionId}`, { janus: 'attach', plugin });
    const id = (r.data as Obj | undefined)?.id;
    this.check(r.janus === 'success' && typeof id === 'number', `${name}: attach failed: ${describeReply(r)}`);
    if (typeof id !== 'number') throw new Error(`${this.srv.kind}: ${name}: cannot continue without a handle: ${describeReply(r)}`);
    this.masker.register('H', id);
    return id;
  }

  expectError(name: string, r: Obj, code: number, reason?: string | RegExp): void {
    const err = r.error as Obj | undefined;
    const ok = r.janus === 'error' && err?.code === code && (reason === undefined || (typeof reason === 'string' ? err?.reason === reason : reason.test(String(err?.reason))));
    this.check(ok, `${name}: expected error ${code}${reason ? ` ${reason}` : ''}, got ${describeReply(r)}`);
  }

  expectJanus(name: string, r: Obj, janus: string): void {
    this.check(r.janus === janus, `${name}: expected janus=${janus}, got ${describeReply(r)}`);
  }

  /** plugindata.data of a reply. */
  static pdata(r: Obj): Obj {
    return asObj((r.plugindata as Obj | undefined)?.data);
  }

  // ---- WebSocket ----

  async wsConnect(protocol = 'janus-protocol', url?: string): Promise<WsClient> {
    const c = await WsClient.connect(url ?? this.srv.wsUrl, protocol);
    this.wsClients.push(c);
    return c;
  }

  /** Send over WS with transaction = step name (unless noTx); records the first reply with that transaction. */
  async ws(name: string, c: WsClient, msg: Record<string, unknown>, opts: { noTx?: boolean; timeoutMs?: number } = {}): Promise<Obj> {
    if (opts.noTx) {
      c.sendRaw(msg);
      return {};
    }
    const r = await c.request({ ...msg, transaction: name }, opts.timeoutMs ?? 5000);
    this.record(name, r);
    return r;
  }

  /**
   * An asynchronous request over WS: the ack and the event carry the same transaction and may arrive
   * in either order (Janus sometimes pushes the event before the ack). Records `<name>` (ack) and `<name>-event`.
   */
  async wsAsync(name: string, c: WsClient, msg: Record<string, unknown>, timeoutMs = 5000): Promise<{ ack: Obj; event: Obj }> {
    const ackP = c.waitFor((m) => m.transaction === name && m.janus !== 'event', timeoutMs, `${name} ack`);
    const evP = c.waitFor((m) => m.transaction === name && m.janus === 'event', timeoutMs, `${name} event`);
    c.sendRaw({ ...msg, transaction: name });
    const [ack, event] = await Promise.all([ackP, evP]);
    this.record(name, ack);
    this.record(`${name}-event`, event);
    return { ack, event };
  }

  /** Wait for a WS message matching pred and record it. */
  async wsEvent(name: string, c: WsClient, pred: (m: Obj) => boolean, timeoutMs = 5000): Promise<Obj> {
    const m = await c.waitFor(pred, timeoutMs, name);
    this.record(name, m);
    return m;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.wsClients.map((c) => c.close()));
  }
}
