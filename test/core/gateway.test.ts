import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JanusMessage } from '../../src/core/messages.js';
import type { MediaPlane, TrickleCandidate } from '../../src/core/media-plane.js';
import { PassThroughMediaPlane } from '../../src/core/media-plane.js';
import { randomId } from '../../src/core/ids.js';
import { ECHO_PKG, OFFER_SDP } from './echo-plugin.js';
import { makeGateway, RecordingClient, tick, sleep } from './helpers.js';

const err = (r: JanusMessage) => r.error as { code: number; reason: string };

test('random ids are positive 53-bit integers', () => {
  for (let i = 0; i < 1000; i++) {
    const id = randomId();
    assert.ok(Number.isSafeInteger(id) && id > 0);
  }
});

test('envelope validation: 455, 456, 467 without transaction', async () => {
  const { gw, client } = await makeGateway();
  try {
    // Janus looks into an array like an object: no transaction.
    assert.deepEqual(await gw.handle([1, 2], client), { janus: 'error', error: { code: 456, reason: 'Missing mandatory element (transaction)' } });
    assert.deepEqual(await gw.handle('x', client), { janus: 'error', error: { code: 455, reason: 'JSON error: not an object' } });
    assert.deepEqual(await gw.handle({ janus: 'create' }, client), {
      janus: 'error',
      error: { code: 456, reason: 'Missing mandatory element (transaction)' },
    });
    assert.deepEqual(await gw.handle({ transaction: 't' }, client), { janus: 'error', error: { code: 456, reason: 'Missing mandatory element (janus)' } });
    assert.deepEqual(await gw.handle({ janus: 5, transaction: 't' }, client), {
      janus: 'error',
      error: { code: 467, reason: 'Invalid element type (janus should be a string)' },
    });
    assert.deepEqual(await gw.handle({ janus: 'create', transaction: 7 }, client), {
      janus: 'error',
      error: { code: 467, reason: 'Invalid element type (transaction should be a string)' },
    });
    const neg = await gw.handle({ janus: 'create', transaction: 't', id: -5 }, client);
    assert.equal(err(neg).code, 467);
    assert.equal(neg.transaction, undefined);
  } finally {
    await gw.stop();
  }
});

test('root path: info, ping, create; anything else 457', async () => {
  const { gw, req, plugin } = await makeGateway();
  try {
    const info = await req({ janus: 'info' });
    assert.equal(info.janus, 'server_info');
    assert.equal(typeof info.version, 'number');
    assert.equal(typeof info.version_string, 'string');
    assert.equal(info['session-timeout'], 60);
    assert.ok((info.plugins as Record<string, unknown>)[plugin.package]);
    assert.deepEqual(await req({ janus: 'ping', transaction: 'p' }), { janus: 'pong', transaction: 'p' });
    const r = await req({ janus: 'attach', transaction: 'x' });
    assert.deepEqual(r, { janus: 'error', transaction: 'x', error: { code: 457, reason: "Unhandled request 'attach' at this path" } });
    const c = await req({ janus: 'create', transaction: 'c' });
    assert.equal(c.janus, 'success');
    assert.equal(c.session_id, undefined);
    assert.ok(Number.isSafeInteger((c.data as { id: number }).id));
  } finally {
    await gw.stop();
  }
});

test('create with a chosen id, conflict gives 468 with session_id', async () => {
  const { gw, req } = await makeGateway();
  try {
    const a = await req({ janus: 'create', id: 77 });
    assert.deepEqual(a.data, { id: 77 });
    const b = await req({ janus: 'create', id: 77, transaction: 'dup' });
    assert.deepEqual(b, { janus: 'error', session_id: 77, transaction: 'dup', error: { code: 468, reason: 'Session ID already in use' } });
  } finally {
    await gw.stop();
  }
});

test('session and handle dispatch errors', async () => {
  const { gw, req, session, attach } = await makeGateway();
  try {
    assert.deepEqual(await req({ janus: 'keepalive', session_id: 123, transaction: 'k' }), {
      janus: 'error',
      session_id: 123,
      transaction: 'k',
      error: { code: 458, reason: 'No such session 123' },
    });
    const s = await session();
    assert.deepEqual(await req({ janus: 'keepalive', session_id: s, transaction: 'k' }), { janus: 'ack', session_id: s, transaction: 'k' });
    assert.equal(err(await req({ janus: 'foo', session_id: s })).reason, "Unknown request 'foo'");
    assert.equal(err(await req({ janus: 'create', session_id: s })).code, 453);
    assert.deepEqual(err(await req({ janus: 'message', session_id: s })), { code: 457, reason: "Unhandled request 'message' at this path" });
    assert.deepEqual(err(await req({ janus: 'attach', session_id: s })), { code: 456, reason: 'Missing mandatory element (plugin)' });
    assert.deepEqual(err(await req({ janus: 'attach', session_id: s, plugin: 5 })), { code: 467, reason: 'Invalid element type (plugin should be a string)' });
    assert.deepEqual(err(await req({ janus: 'attach', session_id: s, plugin: 'janus.plugin.nope' })), {
      code: 460,
      reason: "No such plugin 'janus.plugin.nope'",
    });
    const h = await attach(s);
    assert.deepEqual(err(await req({ janus: 'hangup', session_id: s, handle_id: 999 })), { code: 459, reason: `No such handle 999 in session ${s}` });
    assert.deepEqual(err(await req({ janus: 'attach', session_id: s, handle_id: h, plugin: ECHO_PKG })), {
      code: 457,
      reason: "Unhandled request 'attach' at this path",
    });
    assert.equal((await req({ janus: 'keepalive', session_id: s, handle_id: h })).janus, 'ack');
  } finally {
    await gw.stop();
  }
});

test('attach refused by the plugin gives 461', async () => {
  const { gw, req, session, plugin } = await makeGateway();
  try {
    const s = await session();
    plugin.refuseAttach = true;
    assert.equal(err(await req({ janus: 'attach', session_id: s, plugin: ECHO_PKG })).code, 461);
    assert.equal(gw.stats().handles, 0);
  } finally {
    await gw.stop();
  }
});

test('message: body and jsep validation', async () => {
  const { gw, req, session, attach } = await makeGateway();
  try {
    const s = await session();
    const h = await attach(s);
    const m = (extra: JanusMessage) => req({ janus: 'message', session_id: s, handle_id: h, ...extra });
    assert.deepEqual(err(await m({})), { code: 456, reason: 'Missing mandatory element (body)' });
    assert.deepEqual(err(await m({ body: 5 })), { code: 467, reason: 'Invalid element type (body should be an object)' });
    assert.deepEqual(err(await m({ body: {}, jsep: 5 })), { code: 455, reason: 'Invalid jsep object' });
    assert.deepEqual(err(await m({ body: {}, jsep: {} })), { code: 456, reason: 'JSEP error: missing mandatory element (type)' });
    assert.deepEqual(err(await m({ body: {}, jsep: { type: 'foo', sdp: 'v=0' } })), { code: 464, reason: "JSEP error: unknown message type 'foo'" });
    assert.deepEqual(err(await m({ body: {}, jsep: { type: 'offer' } })), { code: 456, reason: 'JSEP error: missing mandatory element (sdp)' });
    assert.deepEqual(err(await m({ body: {}, jsep: { type: 'offer', sdp: 5 } })), {
      code: 467,
      reason: 'JSEP error: invalid element type (sdp should be a string)',
    });
    assert.equal(err(await m({ body: {}, jsep: { type: 'offer', sdp: 'garbage' } })).code, 465);
    assert.equal(err(await m({ body: {}, jsep: { type: 'offer', sdp: 'v=0\r\n' } })).code, 465);
    assert.deepEqual(err(await m({ body: {}, jsep: { type: 'answer', sdp: OFFER_SDP } })), { code: 469, reason: 'Unexpected ANSWER (no OFFER)' });
  } finally {
    await gw.stop();
  }
});

test('message: sync success, plugin error and throw give 462', async () => {
  const { gw, req, session, attach } = await makeGateway();
  try {
    const s = await session();
    const h = await attach(s);
    const r = await req({ janus: 'message', session_id: s, handle_id: h, transaction: 'm', body: { request: 'sync', x: 1 } });
    assert.deepEqual(r, {
      janus: 'success',
      session_id: s,
      transaction: 'm',
      sender: h,
      plugindata: { plugin: ECHO_PKG, data: { echo: { request: 'sync', x: 1 } } },
    });
    assert.deepEqual(err(await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'error' } })), { code: 462, reason: 'plugin says no' });
    assert.deepEqual(err(await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'throw' } })), { code: 462, reason: 'plugin exploded' });
    const slow = await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'slow' } });
    assert.deepEqual((slow.plugindata as { data: unknown }).data, { slow: true });
  } finally {
    await gw.stop();
  }
});

test('message: async ack then event with the same transaction and the plugin answer JSEP', async () => {
  const { gw, req, session, attach, client, plugin } = await makeGateway();
  try {
    const s = await session();
    const h = await attach(s);
    const r = await req({ janus: 'message', session_id: s, handle_id: h, transaction: 'a1', body: { request: 'async' }, jsep: { type: 'offer', sdp: OFFER_SDP, trickle: false } });
    assert.deepEqual(r, { janus: 'ack', session_id: s, transaction: 'a1', hint: 'later' });
    assert.deepEqual(plugin.lastJsep, { type: 'offer', sdp: OFFER_SDP, trickle: false });
    await sleep(20);
    assert.equal(client.events.length, 1);
    assert.deepEqual(client.events[0], {
      janus: 'event',
      session_id: s,
      transaction: 'a1',
      sender: h,
      plugindata: { plugin: ECHO_PKG, data: { result: 'done' } },
      jsep: { type: 'answer', sdp: OFFER_SDP },
    });
    // Renegotiation: the plugin sees update:true.
    await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'sync' }, jsep: { type: 'offer', sdp: OFFER_SDP } });
    assert.equal(plugin.lastJsep?.update, true);
  } finally {
    await gw.stop();
  }
});

test('an event pushed while handling is delivered after the reply', async () => {
  const { gw, session, attach, client } = await makeGateway();
  try {
    const s = await session();
    const h = await attach(s);
    const order: string[] = [];
    const orig = client.sendEvent.bind(client);
    client.sendEvent = (id, ev) => {
      order.push(`event:${String(ev.janus)}`);
      orig(id, ev);
    };
    const reply = gw.handle({ janus: 'message', transaction: 'e', session_id: s, handle_id: h, body: { request: 'push-now' } }, client);
    reply.then((r) => order.push(`reply:${String(r.janus)}`));
    await reply;
    await tick();
    await tick();
    assert.deepEqual(order, ['reply:ack', 'event:event']);
    assert.equal((client.events[0]!.plugindata as { data: { result: string } }).data.result, 'early');
  } finally {
    await gw.stop();
  }
});

test('plugin offer then client answer is accepted', async () => {
  const { gw, req, session, attach } = await makeGateway();
  try {
    const s = await session();
    const h = await attach(s);
    const r = await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'offer' } });
    assert.equal((r.jsep as { type: string }).type, 'offer');
    const a = await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'sync' }, jsep: { type: 'answer', sdp: OFFER_SDP } });
    assert.equal(a.janus, 'success');
  } finally {
    await gw.stop();
  }
});

test('trickle: validation, queueing until the remote description, expiry after candidates_timeout', async () => {
  const seen: TrickleCandidate[][] = [];
  const media: MediaPlane = Object.assign(new PassThroughMediaPlane(), {
    trickle: (_h: unknown, c: TrickleCandidate[]) => void seen.push(c),
  });
  const { gw, req, session, attach, clock } = await makeGateway((c) => (c.general.candidates_timeout = 10), { mediaPlane: media });
  try {
    const s = await session();
    const h = await attach(s);
    const t = (extra: JanusMessage) => req({ janus: 'trickle', session_id: s, handle_id: h, ...extra });
    assert.deepEqual(err(await t({ candidate: {}, candidates: [] })), { code: 454, reason: "Can't have both candidate and candidates" });
    assert.deepEqual(err(await t({})), { code: 456, reason: 'Missing mandatory element (candidate|candidates)' });
    const cand = { sdpMid: '0', sdpMLineIndex: 0, candidate: 'candidate:1 1 udp 1 1.2.3.4 5 typ host' };
    assert.deepEqual(await t({ transaction: 'tr', candidate: cand }), { janus: 'ack', session_id: s, transaction: 'tr' });
    assert.equal((await t({ candidate: 5 })).janus, 'ack');
    assert.equal((await t({ candidates: [cand, 7, { completed: true }] })).janus, 'ack');
    assert.equal(gw.handles.get(h)!.pendingTrickles.length, 3);
    // Old ones expire.
    clock.t += 11_000;
    assert.equal((await t({ candidate: null })).janus, 'ack');
    gw.sweep();
    assert.equal(gw.handles.get(h)!.pendingTrickles.length, 1);
    assert.equal(seen.length, 0);
    await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'sync' }, jsep: { type: 'offer', sdp: OFFER_SDP } });
    assert.deepEqual(seen, [[{ completed: true }]]);
    await t({ candidate: cand });
    assert.deepEqual(seen[1], [cand]);
  } finally {
    await gw.stop();
  }
});

test('detach: success then detached event; plugin session destroyed', async () => {
  const { gw, req, session, attach, client, plugin } = await makeGateway();
  try {
    const s = await session();
    const h = await attach(s);
    const r = await req({ janus: 'detach', session_id: s, handle_id: h, transaction: 'd' });
    assert.deepEqual(r, { janus: 'success', session_id: s, transaction: 'd' });
    await tick();
    assert.deepEqual(client.events, [{ janus: 'detached', session_id: s, sender: h }]);
    assert.equal(plugin.destroyed, 1);
    assert.equal(err(await req({ janus: 'detach', session_id: s, handle_id: h })).code, 459);
  } finally {
    await gw.stop();
  }
});

test('hangup: no event without a PeerConnection, hangup event with reason "Janus API" otherwise', async () => {
  const { gw, req, session, attach, client, plugin } = await makeGateway();
  try {
    const s = await session();
    const h = await attach(s);
    assert.equal((await req({ janus: 'hangup', session_id: s, handle_id: h })).janus, 'success');
    await tick();
    assert.equal(client.events.length, 0);
    await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'sync' }, jsep: { type: 'offer', sdp: OFFER_SDP } });
    assert.equal((await req({ janus: 'hangup', session_id: s, handle_id: h })).janus, 'success');
    await tick();
    assert.deepEqual(client.events, [{ janus: 'hangup', session_id: s, sender: h, reason: 'Janus API' }]);
    assert.equal(plugin.hungUp, 1);
    assert.ok(gw.handles.has(h));
  } finally {
    await gw.stop();
  }
});

test('destroy: success, transport told, session gone', async () => {
  const { gw, req, session, attach, client, plugin } = await makeGateway();
  try {
    const s = await session();
    await attach(s);
    await attach(s);
    assert.deepEqual(await req({ janus: 'destroy', session_id: s, transaction: 'x' }), { janus: 'success', session_id: s, transaction: 'x' });
    assert.deepEqual(client.over, [{ id: s, reason: 'destroyed' }]);
    assert.equal(plugin.destroyed, 2);
    assert.equal(err(await req({ janus: 'keepalive', session_id: s })).code, 458);
  } finally {
    await gw.stop();
  }
});

test('session timeout: timeout event, then session over; activity and per-session timeout respected', async () => {
  const { gw, req, session, attach, client, clock, plugin } = await makeGateway((c) => (c.general.session_timeout = 5));
  try {
    const s1 = await session();
    const s2 = await session();
    await attach(s1);
    clock.t += 4000;
    await req({ janus: 'keepalive', session_id: s2 });
    clock.t += 1500;
    gw.sweep();
    assert.deepEqual(client.events, [{ janus: 'timeout', session_id: s1 }]);
    assert.deepEqual(client.over, [{ id: s1, reason: 'timeout' }]);
    assert.equal(plugin.destroyed, 1);
    assert.ok(gw.hasSession(s2));
    gw.sessions.get(s2)!.timeout = 0; // per-session: never
    clock.t += 100_000;
    gw.sweep();
    assert.ok(gw.hasSession(s2));
  } finally {
    await gw.stop();
  }
});

test('the watchdog timer expires sessions on its own', async () => {
  const { gw, session, client, clock } = await makeGateway((c) => (c.general.session_timeout = 1), { watchdogIntervalMs: 10 });
  try {
    const s = await session();
    clock.t += 2000;
    await sleep(40);
    assert.deepEqual(client.events, [{ janus: 'timeout', session_id: s }]);
  } finally {
    await gw.stop();
  }
});

test('transport gone: sessions destroyed at once when reclaim_session_timeout is 0', async () => {
  const { gw, session, client, plugin, attach } = await makeGateway();
  try {
    const s = await session();
    await attach(s);
    gw.transportGone(client);
    assert.equal(gw.hasSession(s), false);
    assert.equal(plugin.destroyed, 1);
    assert.equal(gw.stats().clients, 0);
  } finally {
    await gw.stop();
  }
});

test('transport gone with reclaim: claim from another client, or destroyed after the timeout', async () => {
  const { gw, req, session, client, clock } = await makeGateway((c) => (c.general.reclaim_session_timeout = 10));
  try {
    const s1 = await session();
    const s2 = await session();
    gw.transportGone(client);
    assert.ok(gw.hasSession(s1) && gw.hasSession(s2));
    const other = new RecordingClient();
    assert.deepEqual(await req({ janus: 'claim', session_id: s1, transaction: 'c' }, other), { janus: 'success', session_id: s1, transaction: 'c' });
    clock.t += 11_000;
    await req({ janus: 'keepalive', session_id: s1 }, other);
    gw.sweep();
    assert.ok(gw.hasSession(s1));
    assert.equal(gw.hasSession(s2), false);
    // Claiming a live session moves it: the old owner is told.
    const third = new RecordingClient();
    await req({ janus: 'claim', session_id: s1 }, third);
    assert.deepEqual(other.over, [{ id: s1, reason: 'claimed' }]);
  } finally {
    await gw.stop();
  }
});

test('api_secret: required for create and session requests, not for info/ping', async () => {
  const { gw, req } = await makeGateway((c) => (c.general.api_secret = 's3cret'));
  try {
    assert.deepEqual(err(await req({ janus: 'create' })), { code: 403, reason: 'Unauthorized request (wrong or missing secret/token)' });
    assert.equal(err(await req({ janus: 'create', apisecret: 'nope' })).code, 403);
    assert.equal((await req({ janus: 'info' })).janus, 'server_info');
    assert.equal((await req({ janus: 'ping' })).janus, 'pong');
    const c = await req({ janus: 'create', apisecret: 's3cret' });
    const s = (c.data as { id: number }).id;
    assert.equal(err(await req({ janus: 'attach', session_id: s, plugin: ECHO_PKG })).code, 403);
    assert.equal((await req({ janus: 'attach', session_id: s, plugin: ECHO_PKG, apisecret: 's3cret' })).janus, 'success');
  } finally {
    await gw.stop();
  }
});

test('stored tokens: plugin access checked on attach (405), either secret or token passes', async () => {
  const { gw, req } = await makeGateway((c) => {
    c.general.token_auth = true;
    c.general.api_secret = 'sec';
  });
  try {
    const adm = (b: JanusMessage) => gw.admin.handle({ transaction: 'a', admin_secret: 'adm', ...b });
    assert.equal((await adm({ janus: 'add_token', token: 'tok-all' })).janus, 'success');
    const limited = await adm({ janus: 'add_token', token: 'tok-none', plugins: [] });
    assert.deepEqual(limited.data, { plugins: [] });
    assert.equal(err(await req({ janus: 'create', token: 'bad' })).code, 403);
    const s = ((await req({ janus: 'create', token: 'tok-none' })).data as { id: number }).id;
    assert.deepEqual(err(await req({ janus: 'attach', session_id: s, plugin: ECHO_PKG, token: 'tok-none' })), {
      code: 405,
      reason: `Provided token can't access plugin '${ECHO_PKG}'`,
    });
    assert.equal((await req({ janus: 'attach', session_id: s, plugin: ECHO_PKG, token: 'tok-all' })).janus, 'success');
    assert.equal((await req({ janus: 'attach', session_id: s, plugin: ECHO_PKG, apisecret: 'sec' })).janus, 'success');
    await adm({ janus: 'allow_token', token: 'tok-none', plugins: [ECHO_PKG] });
    assert.equal((await req({ janus: 'attach', session_id: s, plugin: ECHO_PKG, token: 'tok-none' })).janus, 'success');
    assert.equal(gw.host.isTokenValidForPlugin('tok-none', ECHO_PKG), true);
    await adm({ janus: 'remove_token', token: 'tok-none' });
    assert.equal(err(await req({ janus: 'create', token: 'tok-none' })).code, 403);
    // keepalive needs no credentials (janus.c acks it before any secret check)
    assert.equal((await req({ janus: 'keepalive', session_id: s })).janus, 'ack');
  } finally {
    await gw.stop();
  }
});

test('opaqueid_in_api adds opaque_id to handle events and sync replies', async () => {
  const { gw, req, session, attach, client } = await makeGateway((c) => (c.general.opaqueid_in_api = true));
  try {
    const s = await session();
    const h = await attach(s, 'my-opaque');
    const r = await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'sync' } });
    assert.equal(r.opaque_id, 'my-opaque');
    await req({ janus: 'detach', session_id: s, handle_id: h });
    await tick();
    assert.deepEqual(client.events, [{ janus: 'detached', session_id: s, sender: h, opaque_id: 'my-opaque' }]);
  } finally {
    await gw.stop();
  }
});

test('plugin host: pushEvent after detach is refused, endSession detaches, closePeerConnection hangs up', async () => {
  const { gw, req, session, attach, client, plugin } = await makeGateway();
  try {
    const s = await session();
    const h = await attach(s);
    const ps = gw.handles.get(h)!;
    await tick(); // let the attach's event hold lapse
    assert.equal(plugin.host.pushEvent(ps, null, { hello: 1 }), true);
    assert.deepEqual(client.events.pop(), { janus: 'event', session_id: s, sender: h, plugindata: { plugin: ECHO_PKG, data: { hello: 1 } } });
    await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'sync' }, jsep: { type: 'offer', sdp: OFFER_SDP } });
    await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'close-pc' } });
    await tick();
    assert.deepEqual(client.events.pop(), { janus: 'hangup', session_id: s, sender: h, reason: 'plugin closed' });
    await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'end' } });
    await tick();
    await tick();
    assert.deepEqual(client.events.pop(), { janus: 'detached', session_id: s, sender: h });
    assert.equal(gw.handles.has(h), false);
    assert.equal(plugin.host.pushEvent(ps, null, { late: true }), false);
  } finally {
    await gw.stop();
  }
});

test('media events become Janus events and plugin callbacks', async () => {
  const { gw, session, attach, client, plugin } = await makeGateway();
  try {
    const s = await session();
    const h = await attach(s);
    await tick();
    gw.mediaEvents.webrtcUp(h);
    gw.mediaEvents.mediaState(h, { mid: '0', type: 'audio', receiving: true });
    gw.mediaEvents.slowLink(h, { mid: '1', media: 'video', uplink: false, lost: 5 });
    gw.mediaEvents.iceFailed(h);
    gw.mediaEvents.webrtcUp(999); // unknown: ignored
    assert.deepEqual(client.events, [
      { janus: 'webrtcup', session_id: s, sender: h },
      { janus: 'media', session_id: s, sender: h, mid: '0', type: 'audio', receiving: true },
      { janus: 'slowlink', session_id: s, sender: h, mid: '1', media: 'video', uplink: false, lost: 5 },
      { janus: 'ice-failed', session_id: s, sender: h },
    ]);
    assert.equal(plugin.setup, 1);
  } finally {
    await gw.stop();
  }
});

test('shutdown: detached events for every handle, sessions over, plugins destroyed, no new sessions', async () => {
  const { gw, req, session, attach, client, plugin } = await makeGateway();
  const s = await session();
  const h = await attach(s);
  await gw.stop();
  assert.deepEqual(client.events, [{ janus: 'detached', session_id: s, sender: h }]);
  assert.deepEqual(client.over, [{ id: s, reason: 'shutdown' }]);
  assert.equal(plugin.shutDown, true);
  assert.equal(err(await req({ janus: 'create' })).code, 472);
  assert.equal(gw.stats().watchdog, false);
});

test('10,000 sessions with handles leave nothing behind once destroyed', async () => {
  const { gw, req, client, plugin } = await makeGateway();
  try {
    const ids: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const s = ((await req({ janus: 'create' })).data as { id: number }).id;
      ids.push(s);
      await req({ janus: 'attach', session_id: s, plugin: ECHO_PKG });
      await req({ janus: 'trickle', session_id: s, handle_id: [...gw.sessions.get(s)!.handles.keys()][0]!, candidate: { completed: true } });
    }
    assert.equal(gw.stats().sessions, 10_000);
    assert.equal(gw.stats().handles, 10_000);
    for (const s of ids) await req({ janus: 'destroy', session_id: s });
    await tick();
    await tick();
    assert.deepEqual(gw.stats(), { sessions: 0, handles: 0, clients: 0, pendingFlushes: 0, heldEvents: 0, watchdog: true });
    assert.equal(plugin.live.size, 0);
    assert.equal(client.over.length, 10_000);
  } finally {
    await gw.stop();
  }
});
