/**
 * Event handlers in process: a Gateway with the sample (HTTP POST) and WebSockets backends pointed at
 * local collectors; sessions, handles and JSEPs driven through Gateway.handle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { defaultSampleEvhConfig, defaultWsEvhConfig } from '../../src/config/schema.js';
import type { SampleEvhConfig, WsEvhConfig } from '../../src/config/types.js';
import { EventBus } from '../../src/events/bus.js';
import { SampleEventHandler } from '../../src/events/sampleevh.js';
import { WsEventHandler } from '../../src/events/wsevh.js';
import { eventMask, type EventHandler } from '../../src/events/types.js';
import { serialize } from '../../src/events/queue.js';
import { log } from '../../src/log.js';
import { makeGateway, tick } from '../core/helpers.js';
import { PassThroughMediaPlane } from '../../src/core/media-plane.js';
import { OFFER_SDP } from '../core/echo-plugin.js';
import { httpCollector, poll, wsCollector } from './collector.js';

const quiet = log.child({ test: 'events' });

function sample(backend: string, over: Partial<SampleEvhConfig> = {}, opts: { maxQueue?: number; requestTimeoutMs?: number } = {}): SampleEventHandler {
  const cfg = { ...defaultSampleEvhConfig(), enabled: true, json: 'compact' as const, grouping: false, ...over, backend };
  return new SampleEventHandler(cfg, { log: quiet, ...opts });
}

function bus(...handlers: EventHandler[]): EventBus {
  return new EventBus('test-emitter', handlers, quiet);
}

test('event type masks: names, all, none, unknown', () => {
  assert.equal(eventMask(['all']), 0x1ff);
  assert.equal(eventMask(['none', 'sessions']), 0);
  assert.equal(eventMask(['sessions', 'handles']), 3);
  assert.equal(eventMask([' JSEP ', 'webrtc', 'media', 'plugins', 'transports', 'core', 'external']), 0x1fc);
  assert.equal(eventMask(['bogus']), 0);
  assert.equal(serialize({ a: [1, { b: 'x' }] }, 'plain'), '{"a": [1, {"b": "x"}]}');
  assert.equal(serialize({ a: 1 }, 'compact'), '{"a":1}');
  assert.equal(serialize({ a: 1 }, 'indented'), '{\n   "a": 1\n}');
});

test('sample backend: session, handle and JSEP events with Janus shapes, basic auth, in order', async () => {
  const col = await httpCollector();
  const h = sample(col.url, { backend_user: 'u', backend_pwd: 'p' });
  const t = await makeGateway(undefined, { events: bus(h) });
  try {
    const s = await t.session();
    const hid = await t.attach(s, 'opq-1');
    const ack = await t.req({ janus: 'message', session_id: s, handle_id: hid, body: { request: 'async' }, jsep: { type: 'offer', sdp: OFFER_SDP } });
    assert.equal(ack.janus, 'ack');
    await col.waitFor((evs) => evs.some((e) => e.type === 8 && (e.event as { owner: string }).owner === 'local'));
    await t.req({ janus: 'detach', session_id: s, handle_id: hid });
    await t.req({ janus: 'destroy', session_id: s });
    await col.waitFor((evs) => evs.some((e) => e.type === 1 && (e.event as { name: string }).name === 'destroyed'));

    const evs = col.events();
    const summary = evs.map((e) => `${e.type}:${JSON.stringify(e.event).slice(0, 40)}`);
    assert.deepEqual(
      evs.map((e) => [e.type, (e.event as Record<string, unknown>).name ?? (e.event as Record<string, unknown>).owner ?? (e.event as Record<string, unknown>).connection]),
      [[1, 'created'], [2, 'attached'], [8, 'remote'], [8, 'local'], [16, 'hangup'], [2, 'detached'], [1, 'destroyed']],
      summary.join('\n'),
    );
    for (const e of evs) {
      assert.equal(e.emitter, 'test-emitter');
      assert.ok(Number.isSafeInteger(e.timestamp) && Math.abs((e.timestamp as number) / 1000 - Date.now()) < 60_000, `timestamp in µs: ${e.timestamp}`);
      assert.equal(e.session_id, s);
    }
    const [created, attached, remote, local, hangup, detached, destroyed] = evs as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(created!), ['emitter', 'type', 'timestamp', 'session_id', 'event']);
    const transport = (created!.event as { transport: { transport: string; id: string } }).transport;
    assert.equal(transport.transport, 'test.transport');
    assert.match(transport.id, /^[0-9]+$/);
    assert.deepEqual(Object.keys(attached!), ['emitter', 'type', 'timestamp', 'session_id', 'handle_id', 'opaque_id', 'event']);
    assert.deepEqual(attached!.event, { name: 'attached', plugin: 'janus.plugin.testecho', opaque_id: 'opq-1' });
    assert.equal(attached!.handle_id, hid);
    assert.equal(attached!.opaque_id, 'opq-1');
    assert.deepEqual(remote!.event, { owner: 'remote', jsep: { type: 'offer', sdp: OFFER_SDP } });
    assert.deepEqual(local!.event, { owner: 'local', jsep: { type: 'answer', sdp: OFFER_SDP } });
    assert.deepEqual(hangup!.event, { connection: 'hangup', reason: 'Janus API' });
    assert.equal(hangup!.subtype, 6);
    assert.deepEqual(detached!.event, { name: 'detached', plugin: 'janus.plugin.testecho', opaque_id: 'opq-1' });
    assert.deepEqual(destroyed!.event, { name: 'destroyed' });
    assert.equal(col.posts[0]!.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.equal(col.posts[0]!.headers['content-type'], 'application/json');
    // The collector sees a POST's body before the handler sees the response that makes it count as sent.
    for (const end = Date.now() + 2000; h.stats().sent < 7 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(h.stats(), { queued: 0, sent: 7, dropped: 0, failed: 0 });
  } finally {
    await t.gw.stop();
    await h.close();
    await col.close();
  }
});

test('events = "sessions,handles" sends only those; grouping sends arrays; session timeout is "timeout"', async () => {
  const col = await httpCollector();
  const h = sample(col.url, { events: ['sessions', 'handles'], grouping: true, compress: true, compression: 9 });
  const t = await makeGateway((c) => (c.general.session_timeout = 5), { events: bus(h) });
  try {
    const s = await t.session();
    const hid = await t.attach(s);
    await t.req({ janus: 'message', session_id: s, handle_id: hid, body: { request: 'sync' }, jsep: { type: 'offer', sdp: OFFER_SDP } });
    t.gw.notifyExternal('my.schema', { a: 1 });
    t.clock.t += 6000;
    t.gw.sweep();
    await col.waitFor((evs) => evs.some((e) => (e.event as { name?: string }).name === 'timeout'));
    await h.flush(2000);
    const evs = col.events();
    assert.deepEqual(
      evs.map((e) => `${e.type}:${(e.event as { name: string }).name}`),
      ['1:created', '2:attached', '1:timeout', '2:detached'],
    );
    assert.ok(col.posts.every((p) => Array.isArray(p.body)), 'grouping: every POST carries an array');
    assert.equal(col.posts[0]!.headers['content-encoding'], 'gzip');
  } finally {
    await t.gw.stop();
    await h.close();
    await col.close();
  }
});

test('a dead backend never slows or breaks requests: bounded queue, drops and failures counted', async () => {
  // A port nobody listens on: every POST is refused at once.
  const port = await new Promise<number>((r) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => r(p));
    });
  });
  const h = sample(`http://127.0.0.1:${port}/dead`, { max_retransmissions: 2, retransmissions_backoff: 50 }, { maxQueue: 10 });
  const t = await makeGateway(undefined, { events: bus(h) });
  try {
    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      const s = await t.session();
      const r = await t.req({ janus: 'destroy', session_id: s });
      assert.equal(r.janus, 'success');
    }
    const elapsed = Date.now() - started;
    // 80 events; one delivery attempt alone takes 50 + 100 ms of backoff: requests never waited for it.
    assert.ok(elapsed < 1000, `requests took ${elapsed} ms`);
    const st = h.stats();
    assert.ok(st.dropped >= 60, `dropped: ${JSON.stringify(st)}`);
    assert.ok(st.queued <= 10, JSON.stringify(st));
    await h.flush(3000);
    assert.ok(h.stats().failed >= 1, JSON.stringify(h.stats()));
    assert.equal(h.stats().failed + h.stats().dropped, 80, 'every event is accounted for');
    assert.equal(h.stats().sent, 0);
    assert.equal(t.gw.sessions.size, 0);
  } finally {
    await t.gw.stop();
    await h.close();
  }
});

test('retries with backoff: a backend that fails, then recovers, gets the events', async () => {
  const col = await httpCollector();
  col.status = 503;
  const h = sample(col.url, { max_retransmissions: 5, retransmissions_backoff: 40 });
  const t = await makeGateway(undefined, { events: bus(h) });
  try {
    await t.session();
    setTimeout(() => (col.status = 200), 100);
    await col.waitFor((evs) => evs.length === 1, 3000);
    await h.flush(2000);
    assert.equal(h.stats().sent, 1);
    assert.equal(h.stats().failed, 0);
  } finally {
    await t.gw.stop();
    await h.close();
    await col.close();
  }
});

test('shutdown: the shutdown event and the sessions\' last events are flushed before close', async () => {
  const col = await httpCollector();
  const h = sample(col.url, { grouping: true });
  const b = bus(h);
  const t = await makeGateway(undefined, { events: b });
  const s = await t.session();
  await t.attach(s, 'o');
  await t.gw.stop({ sessionEvent: 'timeout', signum: 15 });
  await b.close(3000);
  const evs = col.events();
  const tail = evs.slice(2).map((e) => [e.type, e.subtype ?? null, (e.event as Record<string, unknown>).name ?? (e.event as Record<string, unknown>).status]);
  assert.deepEqual(tail, [[256, 2, 'shutdown'], [1, null, 'destroyed'], [2, null, 'detached']]);
  assert.deepEqual(evs[2]!.event, { status: 'shutdown', signum: 15 });
  assert.equal(evs[2]!.session_id, undefined);
  await col.close();
});

test('core started event, info lists the handler, plugin notifyEvent, Admin custom_event and query_eventhandler', async () => {
  const col = await httpCollector();
  const h = sample(col.url);
  const t = await makeGateway(undefined, { events: bus(h) });
  try {
    t.gw.notifyStarted();
    const info = t.gw.serverInfo('x');
    assert.equal(info.event_handlers, true);
    assert.deepEqual(Object.keys(info.events as object), ['janus.eventhandler.sampleevh']);
    const s = await t.session();
    const hid = await t.attach(s, 'op');
    const handle = t.gw.handles.get(hid)!;
    assert.equal(t.plugin.host.eventsEnabled?.(), true);
    t.plugin.host.notifyEvent?.(handle, { event: 'joined', room: 1 });
    t.plugin.host.notifyEvent?.(null, { event: 'created', room: 2 });
    const admin = (body: Record<string, unknown>) => t.gw.admin.handle({ transaction: 'a', admin_secret: 'adm', ...body });
    assert.equal((await admin({ janus: 'custom_event', schema: 'my.schema', data: { x: 1 } })).janus, 'success');
    assert.equal(((await admin({ janus: 'custom_event', schema: 'my.schema' })).error as { code: number }).code, 456);
    await col.waitFor((evs) => evs.some((e) => e.type === 4));
    const evs = col.events();
    const started = evs.find((e) => e.type === 256)!;
    assert.equal(started.subtype, 1);
    const sev = started.event as { status: string; info: Record<string, unknown> };
    assert.equal(sev.status, 'started');
    assert.equal(sev.info.janus, 'server_info');
    assert.equal(sev.info.transaction, undefined);
    assert.equal(sev.info.event_handlers, true);
    const plugin = evs.filter((e) => e.type === 64);
    assert.deepEqual(plugin.map((e) => [e.session_id, e.handle_id, e.opaque_id, e.event]), [
      [s, hid, 'op', { plugin: 'janus.plugin.testecho', data: { event: 'joined', room: 1 } }],
      [undefined, undefined, undefined, { plugin: 'janus.plugin.testecho', data: { event: 'created', room: 2 } }],
    ]);
    assert.deepEqual(evs.find((e) => e.type === 4)!.event, { schema: 'my.schema', data: { x: 1 } });

    // tweak: only sessions from now on.
    const tw = await admin({ janus: 'query_eventhandler', handler: 'janus.eventhandler.sampleevh', request: { request: 'tweak', events: 'sessions' } });
    assert.deepEqual(tw.response, { result: 200 });
    const bad = await admin({ janus: 'query_eventhandler', handler: 'janus.eventhandler.sampleevh', request: { request: 'foo' } });
    assert.deepEqual(bad.response, { error_code: 411, error: "Unknown request 'foo'" });
    const badType = await admin({ janus: 'query_eventhandler', handler: 'janus.eventhandler.sampleevh', request: { request: 'tweak', max_retransmissions: 'x' } });
    assert.equal((badType.response as { error_code: number }).error_code, 413);
    const none = await admin({ janus: 'query_eventhandler', handler: 'janus.eventhandler.nope', request: { request: 'tweak' } });
    assert.deepEqual(none.error, { code: 460, reason: 'Invalid event handler' });
    const before = col.events().length;
    await t.req({ janus: 'detach', session_id: s, handle_id: hid });
    await t.req({ janus: 'destroy', session_id: s });
    await col.waitFor((e) => e.length > before);
    await h.flush(2000);
    assert.deepEqual(col.events().slice(before).map((e) => e.type), [1]);
  } finally {
    await t.gw.stop();
    await h.close();
    await col.close();
  }
});

test('no event handlers: info says so, plugin events are off, nothing breaks', async () => {
  const t = await makeGateway();
  try {
    const info = t.gw.serverInfo('x');
    assert.equal(info.event_handlers, false);
    assert.equal(t.plugin.host.eventsEnabled?.(), false);
    t.plugin.host.notifyEvent?.(null, { x: 1 });
    const r = await t.gw.admin.handle({ janus: 'query_eventhandler', transaction: 'a', admin_secret: 'adm', handler: 'janus.eventhandler.sampleevh', request: { request: 'tweak' } });
    assert.equal((r.error as { code: number }).code, 460);
    const s = await t.session();
    assert.equal((await t.req({ janus: 'destroy', session_id: s })).janus, 'success');
  } finally {
    await t.gw.stop();
  }
});

test('WebRTC and media events from the media plane reports', async () => {
  const col = await httpCollector();
  const h = sample(col.url, { events: ['webrtc', 'media'] });
  // What the real plane's handle_info says about a connected PeerConnection (src/media/peer.ts).
  const plane = new PassThroughMediaPlane();
  const pair = '192.0.2.1:10000 [host,udp] <-> 192.0.2.2:50000 [host,udp]';
  Object.assign(plane, { handleInfo: () => ({ webrtc: { ice: { stream_id: 1, component_id: 1, state: 'ready', 'selected-pair': pair }, dtls: { 'dtls-state': 'connected' } } }) });
  const t = await makeGateway(undefined, { events: bus(h), mediaPlane: plane });
  try {
    const s = await t.session();
    const hid = await t.attach(s);
    t.gw.mediaEvents.webrtcUp(hid);
    await tick();
    t.gw.mediaEvents.mediaState(hid, { mid: '0', type: 'audio', receiving: true });
    t.gw.mediaEvents.slowLink(hid, { mid: '1', media: 'video', uplink: false, lost: 7 });
    t.gw.mediaEvents.iceFailed(hid);
    await col.waitFor((evs) => evs.length === 6);
    assert.deepEqual(col.events().map((e) => [e.type, e.subtype, e.handle_id, e.event]), [
      [16, 4, hid, { 'selected-pair': pair, stream_id: 1, component_id: 1 }],
      [16, 5, hid, { dtls: 'connected', stream_id: 1, component_id: 1, retransmissions: 0 }],
      [16, 6, hid, { connection: 'webrtcup' }],
      [32, 1, hid, { mid: '0', media: 'audio', receiving: true }],
      [32, 2, hid, { mid: '1', media: 'video', slow_link: 'downlink', lost_lastsec: 7 }],
      [16, 1, hid, { ice: 'failed', stream_id: 1, component_id: 1 }],
    ]);
  } finally {
    await t.gw.stop();
    await h.close();
    await col.close();
  }
});

function wsHandler(backend: string, over: Partial<WsEvhConfig> = {}): WsEventHandler {
  const cfg = { ...defaultWsEvhConfig(), enabled: true, json: 'compact' as const, ...over, backend };
  return new WsEventHandler(cfg, { log: quiet, reconnectMinMs: 50 });
}

test('WebSockets backend: subprotocol, grouped events, reconnect after the backend restarts', async () => {
  const seen = { messages: [] as unknown[], protocols: [] as string[] };
  let col = await wsCollector(0, seen);
  const port = col.port;
  const h = wsHandler(col.url, { subprotocol: 'janus-events', grouping: true });
  const t = await makeGateway(undefined, { events: bus(h) });
  try {
    const s = await t.session();
    await col.waitFor((evs) => evs.length === 1);
    assert.deepEqual(seen.protocols, ['janus-events']);
    assert.ok(Array.isArray(seen.messages[0]), 'grouping: arrays');
    assert.equal(col.events()[0]!.type, 1);
    assert.equal(col.events()[0]!.session_id, s);

    await col.close();
    await poll(() => !(h as unknown as { open: boolean }).open, 2000, () => 'still open');
    // Emitted while the backend is away: kept in the queue, delivered after reconnecting.
    await t.req({ janus: 'destroy', session_id: s });
    col = await wsCollector(port, seen);
    await col.waitFor((evs) => evs.some((e) => (e.event as { name: string }).name === 'destroyed'), 5000);
    assert.equal(h.connects, 2);
    await poll(() => h.stats().sent === 2, 2000, () => JSON.stringify(h.stats()));
    assert.deepEqual(h.stats(), { queued: 0, sent: 2, dropped: 0, failed: 0 });
    const tw = h.handleRequest({ request: 'tweak', events: 'none' });
    assert.deepEqual(tw, { result: 200 });
    assert.equal(h.mask, 0);
  } finally {
    await t.gw.stop();
    await h.close();
    await col.close();
  }
});

test('WebSockets backend that is down at start: events wait in the bounded queue, nothing blocks', async () => {
  const h = wsHandler('ws://127.0.0.1:1/', {});
  const t = await makeGateway(undefined, { events: bus(h) });
  try {
    for (let i = 0; i < 5; i++) await t.session();
    assert.equal(h.stats().queued, 5);
    assert.equal(t.gw.sessions.size, 5);
  } finally {
    await t.gw.stop();
    await h.close();
    assert.equal(h.stats().queued, 0);
    assert.ok(h.stats().dropped >= 5);
  }
});
