import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getLogLevel, setLogLevel } from '../../src/log.js';
import type { JanusMessage } from '../../src/core/messages.js';
import { ECHO_PKG, OFFER_SDP } from './echo-plugin.js';
import { makeGateway, tick } from './helpers.js';

const err = (r: JanusMessage) => r.error as { code: number; reason: string };

test('admin_secret required except for info and ping', async () => {
  const { gw } = await makeGateway();
  try {
    const a = gw.admin;
    assert.deepEqual(await a.handle({ janus: 'list_sessions', transaction: 't' }), {
      janus: 'error',
      transaction: 't',
      error: { code: 403, reason: 'Unauthorized request (wrong or missing secret/token)' },
    });
    assert.equal(err(await a.handle({ janus: 'list_sessions', transaction: 't', admin_secret: 'wrong' })).code, 403);
    assert.equal((await a.handle({ janus: 'info', transaction: 't' })).janus, 'server_info');
    assert.deepEqual(await a.handle({ janus: 'ping', transaction: 't' }), { janus: 'pong', transaction: 't' });
    assert.deepEqual(await a.handle({ janus: 'list_sessions', transaction: 't', admin_secret: 'adm' }), { janus: 'success', transaction: 't', sessions: [] });
    assert.deepEqual(err(await a.handle({ janus: 'foo', transaction: 't', admin_secret: 'adm' })), { code: 457, reason: "Unhandled request 'foo' at this path" });
    assert.equal(err(await a.handle({ janus: 'list_sessions' })).code, 456);
  } finally {
    await gw.stop();
  }
});

test('admin: sessions, handles, handle_info, hangup_webrtc, detach_handle, destroy_session', async () => {
  const { gw, req, session, attach, client } = await makeGateway();
  try {
    const adm = (b: JanusMessage) => gw.admin.handle({ transaction: 'a', admin_secret: 'adm', ...b });
    const s = await session();
    const h = await attach(s, 'opq');
    await req({ janus: 'message', session_id: s, handle_id: h, body: { request: 'sync' }, jsep: { type: 'offer', sdp: OFFER_SDP } });
    assert.deepEqual((await adm({ janus: 'list_sessions' })).sessions, [s]);
    assert.deepEqual(await adm({ janus: 'list_handles', session_id: s }), { janus: 'success', session_id: s, transaction: 'a', handles: [h] });
    assert.deepEqual(err(await adm({ janus: 'list_handles' })), { code: 457, reason: "Unhandled request 'list_handles' at this path" });
    assert.deepEqual(err(await adm({ janus: 'list_handles', session_id: 5 })), { code: 458, reason: 'No such session 5' });
    assert.equal(err(await adm({ janus: 'handle_info', session_id: s, handle_id: 5 })).code, 459);
    const hi = await adm({ janus: 'handle_info', session_id: s, handle_id: h });
    assert.equal(hi.handle_id, h);
    const info = hi.info as Record<string, unknown>;
    assert.equal(info.session_id, s);
    assert.equal(info.handle_id, h);
    assert.equal(info.opaque_id, 'opq');
    assert.equal(info.plugin, ECHO_PKG);
    assert.equal(info.session_transport, 'test.transport');
    assert.deepEqual(info.plugin_specific, { calls: 1 });
    assert.equal(typeof info.created, 'number');
    assert.equal(typeof info.current_time, 'number');
    assert.equal(typeof info.session_last_activity, 'number');
    assert.equal(typeof info.flags, 'object');
    assert.equal((info.sdps as { remote: string }).remote, OFFER_SDP);
    assert.equal(info.streams, undefined, 'no PeerConnection, no streams (as Janus)');
    await tick();
    assert.deepEqual(await adm({ janus: 'hangup_webrtc', session_id: s, handle_id: h }), { janus: 'success', session_id: s, transaction: 'a' });
    assert.deepEqual(client.events.pop(), { janus: 'hangup', session_id: s, sender: h, reason: 'Admin API' });
    assert.equal((await adm({ janus: 'detach_handle', session_id: s, handle_id: h })).janus, 'success');
    assert.deepEqual(client.events.pop(), { janus: 'detached', session_id: s, sender: h });
    assert.equal((await adm({ janus: 'destroy_session', session_id: s })).janus, 'success');
    assert.equal(gw.hasSession(s), false);
    assert.equal(err(await adm({ janus: 'destroy_session', session_id: s })).code, 458);
  } finally {
    await gw.stop();
  }
});

test('admin: settings requests', async () => {
  const { gw, session } = await makeGateway();
  const before = getLogLevel();
  try {
    const adm = (b: JanusMessage) => gw.admin.handle({ transaction: 'a', admin_secret: 'adm', ...b });
    assert.deepEqual(await adm({ janus: 'set_session_timeout', timeout: 70 }), { janus: 'success', transaction: 'a', timeout: 70 });
    assert.equal(gw.settings.sessionTimeout, 70);
    assert.deepEqual(err(await adm({ janus: 'set_session_timeout' })), { code: 456, reason: 'Missing mandatory element (timeout)' });
    const s = await session();
    assert.deepEqual(await adm({ janus: 'set_session_timeout', session_id: s, timeout: -1 }), { janus: 'success', transaction: 'a', timeout: -1, session_id: s });
    await adm({ janus: 'set_session_timeout', session_id: s, timeout: 9 });
    assert.equal(gw.sessions.get(s)!.timeout, 9);
    assert.deepEqual(await adm({ janus: 'set_log_level', level: 5 }), { janus: 'success', transaction: 'a', level: 5 });
    assert.equal(getLogLevel(), 5);
    assert.deepEqual(err(await adm({ janus: 'set_log_level', level: 9 })), { code: 467, reason: 'Invalid element type (level should be between 0 and 7)' });
    assert.deepEqual((await adm({ janus: 'set_log_timestamps', timestamps: true })).log_timestamps, true);
    assert.deepEqual((await adm({ janus: 'set_log_colors', colors: false })).log_colors, false);
    assert.equal((await adm({ janus: 'set_min_nack_queue', min_nack_queue: 300 })).min_nack_queue, 300);
    assert.equal((await adm({ janus: 'set_no_media_timer', no_media_timer: 3 })).no_media_timer, 3);
    assert.equal((await adm({ janus: 'set_slowlink_threshold', slowlink_threshold: 4 })).slowlink_threshold, 4);
    const status = (await adm({ janus: 'get_status' })).status as Record<string, unknown>;
    assert.equal(status.session_timeout, 70);
    assert.equal(status.min_nack_queue, 300);
    assert.equal(status.no_media_timer, 3);
    assert.equal(status.slowlink_threshold, 4);
    assert.equal(status.log_level, 5);
    assert.equal(status.log_timestamps, true);
    assert.deepEqual(await adm({ janus: 'accept_new_sessions', accept: false }), { janus: 'success', transaction: 'a', accept: false });
    const refused = await gw.handle({ janus: 'create', transaction: 'c' }, { transport: 'x', sendEvent() {}, sessionOver() {} });
    assert.deepEqual(err(refused), { code: 472, reason: 'Currently not accepting new sessions' });
    assert.equal((await gw.admin.handle({ janus: 'info', transaction: 'i' }))['accepting-new-sessions'], false);
  } finally {
    setLogLevel(before);
    await gw.stop();
  }
});

test('admin: token requests refused when token_auth is off; full cycle when on', async () => {
  const off = await makeGateway();
  try {
    assert.deepEqual(err(await off.gw.admin.handle({ janus: 'add_token', transaction: 'a', admin_secret: 'adm', token: 'x' })), {
      code: 490,
      reason: 'Stored-Token based authentication disabled',
    });
  } finally {
    await off.gw.stop();
  }
  const { gw, req } = await makeGateway((c) => (c.general.token_auth = true));
  try {
    const adm = (b: JanusMessage) => gw.admin.handle({ transaction: 'a', admin_secret: 'adm', ...b });
    assert.deepEqual((await adm({ janus: 'add_token', token: 'abc' })).data, { plugins: [ECHO_PKG] });
    // handle_info names the token the handle was attached with, as Janus does (plugin_only too).
    const s = ((await req({ janus: 'create', token: 'abc' })).data as { id: number }).id;
    const h = ((await req({ janus: 'attach', session_id: s, plugin: ECHO_PKG, token: 'abc' })).data as { id: number }).id;
    for (const plugin_only of [false, true]) assert.equal(((await adm({ janus: 'handle_info', session_id: s, handle_id: h, plugin_only })).info as { token?: string }).token, 'abc');
    await req({ janus: 'destroy', session_id: s, token: 'abc' });
    assert.equal(err(await adm({ janus: 'add_token', token: 'abc', plugins: ['janus.plugin.nope'] })).code, 460);
    assert.deepEqual((await adm({ janus: 'disallow_token', token: 'abc', plugins: [ECHO_PKG] })).data, { plugins: [] });
    assert.deepEqual((await adm({ janus: 'list_tokens' })).data, { tokens: [{ token: 'abc', allowed_plugins: [] }] });
    assert.deepEqual(err(await adm({ janus: 'allow_token', token: 'zzz', plugins: [ECHO_PKG] })), { code: 470, reason: 'Token not found' });
    assert.equal(err(await adm({ janus: 'allow_token', token: 'abc' })).code, 456);
    assert.equal((await adm({ janus: 'remove_token', token: 'abc' })).janus, 'success');
    assert.equal(err(await adm({ janus: 'remove_token', token: 'abc' })).code, 470);
  } finally {
    await gw.stop();
  }
});

test('admin: message_plugin', async () => {
  const { gw } = await makeGateway();
  try {
    const adm = (b: JanusMessage) => gw.admin.handle({ transaction: 'a', admin_secret: 'adm', ...b });
    assert.deepEqual(await adm({ janus: 'message_plugin', plugin: ECHO_PKG, request: { x: 1 } }), {
      janus: 'success',
      transaction: 'a',
      response: { echo: { x: 1 } },
    });
    assert.deepEqual(err(await adm({ janus: 'message_plugin', plugin: 'janus.plugin.nope', request: {} })), { code: 460, reason: 'Invalid plugin' });
    assert.equal(err(await adm({ janus: 'message_plugin', plugin: ECHO_PKG })).code, 456);
  } finally {
    await gw.stop();
  }
});
