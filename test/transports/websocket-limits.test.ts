/**
 * A bad message on a WebSocket costs only its own reply: invalid UTF-8, bad JSON and messages over the
 * soft limit get a 454 (with their transaction when it can be read) and the socket stays open with
 * every reply still owed on it; only the hard cap closes (1009). Wording checked against Janus 1.1.2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { WebSocket } from 'ws';
import { ECHO_PKG } from '../core/echo-plugin.js';
import { startServer } from './helpers.js';

type Msg = Record<string, unknown>;

class Client {
  readonly got: Msg[] = [];
  closeCode: number | null = null;
  private wake: (() => void) | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.got.push(JSON.parse(d.toString()) as Msg);
      this.wake?.();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.wake?.();
    });
  }
  static open(url: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, 'janus-protocol');
      const c = new Client(ws);
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }
  /** Waits until `n` messages have arrived (or the socket closed), then returns them all. */
  async until(n: number, timeoutMs = 3000): Promise<Msg[]> {
    const end = Date.now() + timeoutMs;
    while (this.got.length < n && this.closeCode === null && Date.now() < end) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return this.got;
  }
  async req(body: Msg): Promise<Msg> {
    const n = this.got.length + 1;
    this.ws.send(JSON.stringify(body));
    await this.until(n);
    return this.got[n - 1]!;
  }
}

const reasonOf = (m: Msg | undefined) => (m?.error as { reason?: string } | undefined)?.reason;
const codeOf = (m: Msg | undefined) => (m?.error as { code?: number } | undefined)?.code;

test('WS: invalid UTF-8 and oversized messages get a 454 with their transaction; replies in flight still arrive; the socket stays open', async () => {
  const srv = await startServer({ maxBodyBytes: 64 * 1024 });
  try {
    const c = await Client.open(srv.wsUrl);
    const s = ((await c.req({ janus: 'create', transaction: 'c' })).data as { id: number }).id;
    const h = ((await c.req({ janus: 'attach', transaction: 'a', session_id: s, plugin: ECHO_PKG })).data as { id: number }).id;
    c.got.length = 0;
    // The plugin answers 'slow' after 20 ms: its reply is in flight while the bad messages arrive.
    c.ws.send(JSON.stringify({ janus: 'message', transaction: 'slow', session_id: s, handle_id: h, body: { request: 'slow' } }));
    c.ws.send(Buffer.concat([Buffer.from('{"janus":"ping","transaction":"u8","x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), { binary: false });
    // janus.js puts the transaction after the body: an oversized request has it at the end.
    c.ws.send(JSON.stringify({ janus: 'message', body: { pad: 'x'.repeat(100 * 1024) }, transaction: 'big' }));
    c.ws.send('{"janus":"ping","transaction":"trunc"');
    const got = await c.until(4);
    assert.equal(c.closeCode, null, 'socket closed');
    const byTx = new Map(got.map((m) => [m.transaction, m]));
    assert.equal(byTx.get('slow')?.janus, 'success', JSON.stringify(got));
    assert.equal(codeOf(byTx.get('u8')), 454);
    assert.equal(reasonOf(byTx.get('u8')), "Invalid Janus API request - <string>(1,40): unable to decode byte 0xc3 near '\"'");
    assert.equal(codeOf(byTx.get('big')), 454);
    assert.match(reasonOf(byTx.get('big')) ?? '', /^Invalid Janus API request - message too large/);
    assert.equal(codeOf(byTx.get('trunc')), 454);
    assert.match(reasonOf(byTx.get('trunc')) ?? '', /^Invalid Janus API request - <string>\(1,\d+\): /);
    assert.deepEqual(await c.req({ janus: 'ping', transaction: 'p' }), { janus: 'pong', transaction: 'p' });
    c.ws.close();
  } finally {
    await srv.stop();
  }
});

test("WS: parse errors read like Janus 1.1.2's WebSocket transport", async () => {
  const srv = await startServer();
  try {
    const c = await Client.open(srv.wsUrl);
    // Recorded from Janus 1.1.2 over WS (jansson's texts, located as `<string>(line,column)`).
    const janus: Array<[string | Buffer, string]> = [
      ['42', "Invalid Janus API request - <string>(1,2): '[' or '{' expected near '42'"],
      ['"str"', "Invalid Janus API request - <string>(1,5): '[' or '{' expected near '\"str\"'"],
      ['null', "Invalid Janus API request - <string>(1,4): '[' or '{' expected near 'null'"],
      ['', "Invalid Janus API request - <string>(1,0): '[' or '{' expected near end of file"],
      [Buffer.from([0x7b, 0x22, 0x6a, 0x61, 0x6e, 0x75, 0x73, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), "Invalid Janus API request - <string>(1,10): unable to decode byte 0xff near '\"'"],
    ];
    for (const [sent, reason] of janus) {
      const n = c.got.length + 1;
      c.ws.send(sent, { binary: false });
      const m = (await c.until(n))[n - 1];
      assert.deepEqual(m, { janus: 'error', error: { code: 454, reason } });
    }
    // Janus words a syntax error with jansson's text; ours is V8's, in the same frame.
    const n = c.got.length + 1;
    c.ws.send('{bad');
    assert.match(reasonOf((await c.until(n))[n - 1]) ?? '', /^Invalid Janus API request - <string>\(1,\d+\): \S/);
    assert.equal(c.closeCode, null);
    c.ws.close();
  } finally {
    await srv.stop();
  }
});

test('WS: a message over the hard cap closes the socket with 1009', async () => {
  const srv = await startServer({ maxBodyBytes: 1024, hardMaxBytes: 8 * 1024 });
  try {
    const c = await Client.open(srv.wsUrl);
    c.ws.send(JSON.stringify({ janus: 'ping', transaction: 'soft', pad: 'x'.repeat(2048) }));
    assert.equal(codeOf((await c.until(1))[0]), 454);
    assert.equal(c.got[0]!.transaction, 'soft');
    c.ws.send(JSON.stringify({ janus: 'ping', transaction: 'hard', pad: 'x'.repeat(16 * 1024) }));
    await c.until(2);
    assert.equal(c.closeCode, 1009);
    assert.equal(c.got.length, 1);
  } finally {
    await srv.stop();
  }
});

test('WS: slowloris upgrade headers are cut after the upgrade timeout; an upgraded socket outlives it', async () => {
  const srv = await startServer({ requestTimeoutMs: 1000 });
  try {
    const c = await Client.open(srv.wsUrl);
    const u = new URL(srv.wsUrl);
    const raw = connect(Number(u.port), u.hostname);
    raw.on('error', () => undefined);
    const closed = new Promise<number>((r) => {
      const t0 = Date.now();
      raw.on('close', () => r(Date.now() - t0));
    });
    raw.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
    const drip = setInterval(() => !raw.destroyed && raw.write('X-Slow: 1\r\n'), 200);
    const after = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 6000))]);
    clearInterval(drip);
    raw.destroy();
    assert.ok(after > 0, 'slow upgrade request was not cut');
    // Well past the timeout (and its checking interval) the upgraded socket still works.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await c.req({ janus: 'ping', transaction: 'alive' }), { janus: 'pong', transaction: 'alive' });
    assert.equal(c.closeCode, null);
    c.ws.close();
  } finally {
    await srv.stop();
  }
});
