/**
 * SDP limits (media.max_mlines, media.max_sdp_size) against the real server process:
 * - an offer over a limit is refused by the core with 465 before any plugin sees it, for every plugin;
 * - a 10,000-m-line offer is refused quickly and without a memory spike (it used to be answered with a
 *   4.7 MB SDP and +150 MB RSS by EchoTest, and with an ack and then nothing by VideoRoom);
 * - an answer or offer a plugin generates that is over a limit reaches the client as the plugin's error
 *   event (error_code 465) after the ack, never as silence (VideoRoom publish, EchoTest; the same
 *   path carries VideoRoom subscriber offers, test/core/jsep-refusal.test.ts covers the asynchronous case).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startMediaGateway, type DemoPlugin } from '../helpers/media-server.js';
import type { RunningServer } from '../helpers/server-process.js';
import { WsClient, type JsonObject } from '../helpers/janus-client.js';
import { manyMlineOffer } from '../helpers/big-offer.js';

const PLUGINS = ['echotest', 'videoroom', 'textroom', 'audiobridge'] as const satisfies readonly DemoPlugin[];
const servers: RunningServer[] = [];
const clients: WsClient[] = [];
after(async () => {
  for (const c of clients) await c.close();
  await Promise.all(servers.map((s) => s.stop()));
});

/** A Portunus with the four demo plugins and `mediaExtra` lines in janus.jcfg's media section. */
async function start(mediaExtra: string): Promise<RunningServer> {
  const srv = await startMediaGateway('portunus', [...PLUGINS], {}, {
    prefix: 'sdp-limits',
    janusJcfg: (text) => text.replace('  dtls_mtu = 1200', `  dtls_mtu = 1200\n${mediaExtra}`),
  });
  servers.push(srv);
  return srv;
}

function statusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

class Api {
  private n = 0;
  constructor(readonly ws: WsClient) {}
  static async open(srv: RunningServer): Promise<Api> {
    const ws = await WsClient.connect(srv.wsUrl);
    clients.push(ws);
    return new Api(ws);
  }
  /** Sends `msg` and resolves with the first reply to it (ack, success or error). */
  send(msg: Record<string, unknown>, timeoutMs = 15_000): Promise<JsonObject> {
    const transaction = `t${++this.n}`;
    const p = this.ws.waitFor((m) => m.transaction === transaction, timeoutMs, `reply to ${String(msg.janus)}`);
    this.ws.sendRaw({ ...msg, transaction });
    return p;
  }
  /** After an ack: the event carrying the same transaction. */
  eventFor(transaction: string, timeoutMs = 15_000): Promise<JsonObject> {
    return this.ws.waitFor((m) => m.transaction === transaction && m.janus === 'event', timeoutMs, `event for ${transaction}`);
  }
  async session(): Promise<number> {
    return ((await this.send({ janus: 'create' })).data as { id: number }).id;
  }
  async attach(session: number, plugin: string): Promise<number> {
    return ((await this.send({ janus: 'attach', session_id: session, plugin: `janus.plugin.${plugin}` })).data as { id: number }).id;
  }
  /** A message whose reply is `ack`: resolves with the event that follows it. */
  async asyncMessage(session: number, handle: number, body: Record<string, unknown>, jsep?: Record<string, unknown>): Promise<JsonObject> {
    const transaction = `t${++this.n}`;
    const ev = this.eventFor(transaction);
    const reply = this.ws.waitFor((m) => m.transaction === transaction, 15_000, 'ack');
    this.ws.sendRaw({ janus: 'message', session_id: session, handle_id: handle, transaction, body, ...(jsep ? { jsep } : {}) });
    const first = await reply;
    assert.equal(first.janus, 'ack', `expected an ack: ${JSON.stringify(first).slice(0, 300)}`);
    return ev;
  }
}

const pdata = (ev: JsonObject): JsonObject => (ev.plugindata as { data: JsonObject }).data;
/** What each plugin is sent with the offer (the core must refuse before the plugin reads it). */
const BODY: Record<(typeof PLUGINS)[number], Record<string, unknown>> = {
  echotest: { audio: true },
  videoroom: { request: 'joinandconfigure', room: 1234, ptype: 'publisher', display: 'p' },
  textroom: { request: 'setup' },
  audiobridge: { request: 'join', room: 1234 },
};

let mlines: RunningServer;
let size: RunningServer;
before(async () => {
  mlines = await start('  max_mlines = 64');
  size = await start('  max_sdp_size = 16384');
});

test('an offer with more m-lines than media.max_mlines: 465 from the core for every plugin', async () => {
  const api = await Api.open(mlines);
  const s = await api.session();
  for (const plugin of PLUGINS) {
    const h = await api.attach(s, plugin);
    const r = await api.send({ janus: 'message', session_id: s, handle_id: h, body: BODY[plugin], jsep: { type: 'offer', sdp: manyMlineOffer(65) } });
    assert.equal(r.janus, 'error', `${plugin}: ${JSON.stringify(r).slice(0, 300)}`);
    const err = r.error as { code: number; reason: string };
    assert.equal(err.code, 465, plugin);
    assert.match(err.reason, /too many m-lines.*max_mlines = 64/, plugin);
  }
  // At the limit it is accepted (EchoTest answers with as many m-lines).
  const h = await api.attach(s, 'echotest');
  const ev = await api.asyncMessage(s, h, { audio: true }, { type: 'offer', sdp: manyMlineOffer(64) });
  assert.equal(pdata(ev).result, 'ok', JSON.stringify(ev).slice(0, 300));
  assert.equal(((ev.jsep as { sdp: string }).sdp.match(/^m=/gm) ?? []).length, 64);
});

test('a 10,000-m-line offer is refused at once, without a memory spike', async () => {
  const api = await Api.open(mlines);
  const s = await api.session();
  const h = await api.attach(s, 'echotest');
  const sdp = manyMlineOffer(10_000);
  const rssBefore = statusKb(mlines.pid, 'VmRSS');
  const t0 = performance.now();
  const r = await api.send({ janus: 'message', session_id: s, handle_id: h, body: { audio: true }, jsep: { type: 'offer', sdp } }, 30_000);
  const ms = performance.now() - t0;
  const grewKb = statusKb(mlines.pid, 'VmHWM') - rssBefore;
  assert.equal(r.janus, 'error', JSON.stringify(r).slice(0, 300));
  assert.equal((r.error as { code: number }).code, 465);
  // Before the limit: ack, then after ~5 s a 4.7 MB answer and +150 MB RSS. Now the cost is the
  // transport's JSON parse of the 850 kB request and one scan of the SDP.
  assert.ok(ms < 3000, `refused after ${ms.toFixed(0)} ms`);
  assert.ok(grewKb < 40 * 1024, `peak RSS grew by ${(grewKb / 1024).toFixed(1)} MB`);
});

test('an offer longer than media.max_sdp_size: 465 from the core for every plugin', async () => {
  const api = await Api.open(size);
  const s = await api.session();
  const padded = manyMlineOffer(1) + 'a=x-padding:' + 'p'.repeat(17_000) + '\n';
  for (const plugin of PLUGINS) {
    const h = await api.attach(s, plugin);
    const r = await api.send({ janus: 'message', session_id: s, handle_id: h, body: BODY[plugin], jsep: { type: 'offer', sdp: padded } });
    assert.equal(r.janus, 'error', `${plugin}: ${JSON.stringify(r).slice(0, 300)}`);
    assert.equal((r.error as { code: number }).code, 465, plugin);
    assert.match((r.error as { reason: string }).reason, /too large.*max_sdp_size is 16384/, plugin);
  }
});

test('a VideoRoom publish whose answer would be over max_sdp_size: ack, then the error event (465)', async () => {
  const api = await Api.open(size);
  const s = await api.session();
  const h = await api.attach(s, 'videoroom');
  // 60 m-lines: the offer is ~6 kB, our answer (ICE, fingerprint, candidates on every m-line) ~27 kB.
  const ev = await api.asyncMessage(s, h, BODY.videoroom, { type: 'offer', sdp: manyMlineOffer(60, 'sendonly') });
  const data = pdata(ev);
  assert.equal(data.videoroom, 'event', JSON.stringify(ev).slice(0, 400));
  assert.equal(data.error_code, 465);
  assert.match(String(data.error), /our answer is too large/);
  assert.equal(ev.jsep, undefined);
  // The handle is usable afterwards: a publish that fits succeeds.
  const ok = await api.asyncMessage(s, h, { request: 'publish' }, { type: 'offer', sdp: manyMlineOffer(2, 'sendonly') });
  assert.ok(ok.jsep, JSON.stringify(ok).slice(0, 400));
});

test('an EchoTest answer over max_sdp_size: ack, then the error event (465)', async () => {
  const api = await Api.open(size);
  const s = await api.session();
  const h = await api.attach(s, 'echotest');
  const ev = await api.asyncMessage(s, h, { audio: true }, { type: 'offer', sdp: manyMlineOffer(60) });
  assert.equal(pdata(ev).echotest, 'event');
  assert.equal(pdata(ev).error_code, 465, JSON.stringify(ev).slice(0, 400));
  assert.equal(ev.jsep, undefined);
});
