import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ECHO_PKG } from '../core/echo-plugin.js';
import { startServer } from './helpers.js';

type Msg = Record<string, unknown>;

/** A WebSocket client that queues incoming messages and lets a test await the next one. */
class Client {
  private queue: Msg[] = [];
  private waiters: Array<(m: Msg) => void> = [];
  closed: Promise<number>;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Msg;
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
    this.closed = new Promise((r) => ws.on('close', (code) => r(code)));
  }
  static open(url: string, protocol: string | string[] = 'janus-protocol', autoPong = true): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocol, { autoPong });
      const c = new Client(ws);
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }
  next(timeoutMs = 2000): Promise<Msg> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no message')), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }
  async req(body: Msg): Promise<Msg> {
    this.ws.send(JSON.stringify(body));
    return this.next();
  }
  pending(): number {
    return this.queue.length;
  }
  close(): Promise<number> {
    this.ws.close();
    return this.closed;
  }
}

test('WS: janus-protocol required; other protocols refused', async () => {
  const srv = await startServer();
  try {
    await assert.rejects(Client.open(srv.wsUrl, 'foo'), /400/);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(srv.wsUrl);
        ws.once('open', resolve);
        ws.once('error', reject);
      }),
      /400/,
    );
    await assert.rejects(Client.open(srv.wsUrl, 'janus-admin-protocol'), /400/);
    const c = await Client.open(srv.wsUrl, ['foo', 'janus-protocol']);
    assert.equal(c.ws.protocol, 'janus-protocol');
    assert.deepEqual(await c.req({ janus: 'ping', transaction: 'p' }), { janus: 'pong', transaction: 'p' });
    c.ws.send('{bad');
    assert.equal(((await c.next()).error as { code: number }).code, 454);
    await c.close();
  } finally {
    await srv.stop();
  }
});

test('WS: events pushed on the socket; ack before event; detached after success', async () => {
  const srv = await startServer();
  try {
    const c = await Client.open(srv.wsUrl);
    const s = ((await c.req({ janus: 'create', transaction: 'c' })).data as { id: number }).id;
    const h = ((await c.req({ janus: 'attach', transaction: 'a', session_id: s, plugin: ECHO_PKG })).data as { id: number }).id;
    assert.deepEqual(await c.req({ janus: 'message', transaction: 'n', session_id: s, handle_id: h, body: { request: 'push-now' } }), {
      janus: 'ack',
      session_id: s,
      transaction: 'n',
    });
    const ev = await c.next();
    assert.equal(ev.janus, 'event');
    assert.equal(ev.transaction, 'n');
    assert.equal(ev.sender, h);
    assert.equal((await c.req({ janus: 'detach', transaction: 'd', session_id: s, handle_id: h })).janus, 'success');
    assert.deepEqual(await c.next(), { janus: 'detached', session_id: s, sender: h });
    await c.close();
  } finally {
    await srv.stop();
  }
});

test('WS: closing the socket ends its sessions (reclaim_session_timeout 0)', async () => {
  const srv = await startServer();
  try {
    const c = await Client.open(srv.wsUrl);
    const s = ((await c.req({ janus: 'create', transaction: 'c' })).data as { id: number }).id;
    await c.close();
    for (let i = 0; i < 50 && srv.gw.hasSession(s); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(srv.gw.hasSession(s), false);
    assert.equal(srv.gw.stats().clients, 0);
  } finally {
    await srv.stop();
  }
});

test('WS: reclaim after the socket closed, events move to the claiming socket', async () => {
  const srv = await startServer({ janus: (c) => (c.general.reclaim_session_timeout = 5) });
  try {
    const a = await Client.open(srv.wsUrl);
    const s = ((await a.req({ janus: 'create', transaction: 'c' })).data as { id: number }).id;
    const h = ((await a.req({ janus: 'attach', transaction: 'a', session_id: s, plugin: ECHO_PKG })).data as { id: number }).id;
    await a.close();
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(srv.gw.hasSession(s));
    const b = await Client.open(srv.wsUrl);
    assert.deepEqual(await b.req({ janus: 'claim', transaction: 'cl', session_id: s }), { janus: 'success', session_id: s, transaction: 'cl' });
    assert.equal((await b.req({ janus: 'message', transaction: 'm', session_id: s, handle_id: h, body: { request: 'async' } })).janus, 'ack');
    assert.equal((await b.next()).transaction, 'm');
    // a second claimer takes it over; the first stops receiving
    const c = await Client.open(srv.wsUrl);
    await c.req({ janus: 'claim', transaction: 'cl2', session_id: s });
    await c.req({ janus: 'message', transaction: 'm2', session_id: s, handle_id: h, body: { request: 'async' } });
    assert.equal((await c.next()).transaction, 'm2');
    assert.equal(b.pending(), 0);
    await b.close();
    await c.close();
  } finally {
    await srv.stop();
  }
});

test('WS: session timeout event is pushed', async () => {
  const srv = await startServer({ janus: (c) => (c.general.session_timeout = 1), watchdogIntervalMs: 50 });
  try {
    const c = await Client.open(srv.wsUrl);
    const s = ((await c.req({ janus: 'create', transaction: 'c' })).data as { id: number }).id;
    assert.deepEqual(await c.next(3000), { janus: 'timeout', session_id: s });
    await c.close();
  } finally {
    await srv.stop();
  }
});

test('WS Admin API on janus-admin-protocol', async () => {
  const srv = await startServer();
  try {
    await assert.rejects(Client.open(srv.adminWsUrl, 'janus-protocol'), /400/);
    const a = await Client.open(srv.adminWsUrl, 'janus-admin-protocol');
    assert.equal(((await a.req({ janus: 'list_sessions', transaction: 't' })).error as { code: number }).code, 403);
    assert.deepEqual(await a.req({ janus: 'list_sessions', transaction: 't', admin_secret: 'adm' }), { janus: 'success', transaction: 't', sessions: [] });
    await a.close();
  } finally {
    await srv.stop();
  }
});

test('WS: pingpong closes a peer that stops answering', async () => {
  const srv = await startServer({
    ws: (c) => {
      c.general.pingpong_trigger = 1;
      c.general.pingpong_timeout = 1;
    },
  });
  try {
    const alive = await Client.open(srv.wsUrl);
    const c = await Client.open(srv.wsUrl, 'janus-protocol', false);
    const code = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 4000))]);
    assert.notEqual(code, -1);
    // the peer that answers pings stays connected
    assert.equal(alive.ws.readyState, WebSocket.OPEN);
    await alive.close();
  } finally {
    await srv.stop();
  }
});
