/**
 * Transport behaviour compared live with Janus 1.1.2 (both servers started on the same generated config):
 * - over WebSocket the order of a reply and the events its request caused is visible on one socket:
 *   Janus sends the participants' `destroyed` before the `success` of a VideoRoom or AudioBridge
 *   room `destroy`;
 * - the wording of parse errors, which differs between Janus's HTTP and WebSocket transports.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startMediaGateway } from '../helpers/media-server.js';
import type { RunningServer } from '../helpers/server-process.js';

type Msg = Record<string, unknown>;

class Sock {
  readonly got: Msg[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.got.push(JSON.parse(d.toString()) as Msg));
  }
  static open(url: string): Promise<Sock> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, 'janus-protocol');
      const s = new Sock(ws);
      ws.once('open', () => resolve(s));
      ws.once('error', reject);
    });
  }
  /** Sends and waits until a message with this transaction and one of `final` janus types arrived. */
  async req(body: Msg, final: string[] = ['success', 'error', 'event']): Promise<Msg> {
    this.ws.send(JSON.stringify(body));
    const end = Date.now() + 5000;
    for (;;) {
      const m = this.got.find((x) => x.transaction === body.transaction && final.includes(x.janus as string));
      if (m) return m;
      if (Date.now() > end) throw new Error(`no reply to ${JSON.stringify(body)}: ${JSON.stringify(this.got)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

const kinds = (ms: Msg[]) =>
  ms.map((m) => {
    const data = (m.plugindata as { data?: { videoroom?: string; audiobridge?: string } } | undefined)?.data;
    const what = data?.videoroom ?? data?.audiobridge;
    return `${m.janus as string}${m.transaction ? `(${m.transaction as string})` : ''}${what ? `:${what}` : ''}`;
  });

type RoomPlugin = 'videoroom' | 'audiobridge';

/** Two sockets: A destroys a room in which A's own second handle and B's handle are participants. */
async function destroyOrder(srv: RunningServer, plugin: RoomPlugin): Promise<{ a: string[]; b: string[] }> {
  const A = await Sock.open(srv.wsUrl);
  const B = await Sock.open(srv.wsUrl);
  try {
    const sa = ((await A.req({ janus: 'create', transaction: 'ca' })).data as { id: number }).id;
    const sb = ((await B.req({ janus: 'create', transaction: 'cb' })).data as { id: number }).id;
    const attach = async (s: Sock, session: number, tx: string) => ((await s.req({ janus: 'attach', session_id: session, plugin: `janus.plugin.${plugin}`, transaction: tx })).data as { id: number }).id;
    const ha = await attach(A, sa, 'a1');
    const ha2 = await attach(A, sa, 'a2');
    const hb = await attach(B, sb, 'b1');
    const room = 4000 + Math.floor(Math.random() * 1000);
    const created = await A.req({ janus: 'message', session_id: sa, handle_id: ha, transaction: 'create', body: { request: 'create', room } });
    assert.ok(JSON.stringify(created).includes('"created"'), JSON.stringify(created));
    const join = plugin === 'videoroom' ? { request: 'join', ptype: 'publisher', room } : { request: 'join', room };
    await B.req({ janus: 'message', session_id: sb, handle_id: hb, transaction: 'jb', body: join }, ['event']);
    await A.req({ janus: 'message', session_id: sa, handle_id: ha2, transaction: 'ja', body: join }, ['event']);
    await new Promise((r) => setTimeout(r, 300));
    A.got.length = 0;
    B.got.length = 0;
    await A.req({ janus: 'message', session_id: sa, handle_id: ha, transaction: 'destroy', body: { request: 'destroy', room } }, ['success', 'error']);
    await new Promise((r) => setTimeout(r, 300));
    return { a: kinds(A.got), b: kinds(B.got) };
  } finally {
    A.ws.close();
    B.ws.close();
  }
}

const servers: RunningServer[] = [];
before(async () => {
  servers.push(await startMediaGateway('janus', ['videoroom', 'audiobridge']));
  servers.push(await startMediaGateway('portunus', ['videoroom', 'audiobridge']));
});
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

for (const plugin of ['videoroom', 'audiobridge'] as const) {
  test(`WS: ${plugin === 'videoroom' ? 'VideoRoom' : 'AudioBridge'} room destroy sends the participants their \`destroyed\` before the \`success\`, like Janus 1.1.2`, { timeout: 60_000 }, async () => {
    const [janus, portunus] = servers as [RunningServer, RunningServer];
    const reference = await destroyOrder(janus, plugin);
    assert.deepEqual(reference.a.slice(-1), ['success(destroy):destroyed'], `Janus: ${JSON.stringify(reference)}`);
    assert.ok(reference.a.indexOf('event:destroyed') >= 0 && reference.b.includes('event:destroyed'), `Janus: ${JSON.stringify(reference)}`);
    assert.deepEqual(await destroyOrder(portunus, plugin), reference);
  });
}

/** Texts that are not requests, each a different jansson diagnosis. */
const MALFORMED = [
  '{bad', '{"janus":"ping","transaction":"x"', '42', '"str"', 'null', '', '{"a":1,}', '{"a" 1}', '[1 2]', '{"a":tru}',
  '{"a":"x\ny"}', '{"a":01}', '{"a":"\\q"}', '\n\n  {"a":', '{"a":-}', '[', ']', '{"a":[1,2}', '{"a":"é"x}', '{"a":1}}',
  '{"a":"\\u12g4"}', '{"a":1.}', '{"a":1e}', '{"a":"unterminated', '{"a":@}', '{"a":[[[', '{ "a" : 1 , "b" }', '{"a":1}\n junk',
];

async function wsReasons(srv: RunningServer): Promise<Array<[string, string]>> {
  const s = await Sock.open(srv.wsUrl);
  const out: Array<[string, string]> = [];
  try {
    for (const text of MALFORMED) {
      const n = s.got.length;
      s.ws.send(text);
      const end = Date.now() + 3000;
      while (s.got.length === n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      out.push([text, ((s.got[n]?.error as { reason?: string } | undefined)?.reason ?? 'no reply')]);
    }
  } finally {
    s.ws.close();
  }
  return out;
}

async function httpReasons(srv: RunningServer): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  // Janus answers an empty HTTP body by closing the connection: not a case to compare.
  for (const text of MALFORMED.filter((t) => t !== '')) {
    const r = await fetch(srv.httpUrl, { method: 'POST', body: text });
    out.push([text, (((await r.json()) as { error?: { reason?: string } }).error?.reason ?? 'no error')]);
  }
  return out;
}

test("parse errors read like Janus 1.1.2's, over WebSocket and over HTTP", { timeout: 60_000 }, async () => {
  const [janus, portunus] = servers as [RunningServer, RunningServer];
  const jws = await wsReasons(janus);
  assert.ok(jws.every(([, r]) => r.startsWith('Invalid Janus API request - <string>(')), JSON.stringify(jws));
  assert.deepEqual(await wsReasons(portunus), jws);
  const jhttp = await httpReasons(janus);
  assert.ok(jhttp.every(([, r]) => r.startsWith('JSON error: on line ')), JSON.stringify(jhttp));
  assert.deepEqual(await httpReasons(portunus), jhttp);
});
