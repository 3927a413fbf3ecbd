/**
 * Differential test: the same request sequences go to the real Janus (1.1.2) and to Portunus,
 * started on the same generated jcfg files; answers are compared after masking ids.
 *
 * - `janus: <scenario>` tests run each scenario against the real Janus only and assert the
 *   expectations written in the scenario (they validate the harness and document Janus).
 * - `portunus: <scenario>` tests run it against Portunus, assert the same expectations and
 *   that the transcript matches Janus's (modulo RULES and DELIBERATE_DIFFERENCES below).
 *
 * E2E_DUMP=1 prints every transcript.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startJanus } from '../helpers/janus-ref.js';
import { startPortunus } from '../helpers/portunus.js';
import type { RunningServer } from '../helpers/server-process.js';
import { Ctx, type Obj } from '../helpers/scenario.js';
import { diffTranscripts, type Rule, type Step } from '../helpers/shape-diff.js';
import type { JsonObject } from '../helpers/janus-client.js';
import type { ServerOptions } from '../helpers/server-conf.js';

const CONFIG: ServerOptions = { adminSecret: 'e2e_admin_secret', stringIds: false, videoroomAdminKey: 'videoroom_key', adminWs: true };

/** Where values legitimately differ between any two runs (even Janus vs Janus). */
const RULES: Rule[] = [
  // server_info: key sets compared, values are per-installation.
  { step: /(^|-)info$/, path: 'body', mode: 'keys', why: 'server_info values depend on build/host; key set is the contract' },
  { step: /(^|-)info$/, path: 'body.janus', mode: 'exact', why: 'must be server_info' },
  { step: /(^|-)info$/, path: 'body.transaction', mode: 'exact', why: 'echoed' },
  { step: 'get-info', path: 'body.transaction', mode: 'type', why: 'GET /info has no request transaction: the server makes one up' },
  { step: /^ws-info$/, path: '', mode: 'keys', why: 'server_info over WS' },
  { step: /^ws-info$/, path: 'janus', mode: 'exact', why: 'must be server_info' },
  // jansson's parse error text (line/column/wording) is an implementation detail; the code is the contract.
  { step: /^malformed/, path: 'body.error.reason', mode: 'type', why: 'jansson error text' },
  { step: /^ws-malformed/, path: 'error.reason', mode: 'type', why: 'jansson error text' },
  // VideoRoom random participant ids.
  { step: '*', path: '**.private_id', mode: 'type', why: 'random' },
  { step: /join/, path: '**.data.id', mode: 'type', why: 'random publisher id' },
  { step: /join/, path: '**.description', mode: 'exact', why: 'room description' },
  // Admin: values of handle_info / get_status are runtime state; the key sets are the contract.
  { step: 'admin-handle-info', path: 'body.info', mode: 'keys', why: 'runtime values (timestamps, ICE state)' },
  { step: 'admin-handle-info', path: 'body.info.session_id', mode: 'exact', why: 'must be the session' },
  { step: 'admin-handle-info', path: 'body.info.handle_id', mode: 'exact', why: 'must be the handle' },
  { step: 'admin-handle-info', path: 'body.info.plugin', mode: 'exact', why: 'must be videoroom' },
  { step: 'admin-get-status', path: 'body.status', mode: 'keys', why: 'values depend on config' },
];

/**
 * Deliberate differences between Portunus and Janus (each with the reason). Keep this list short:
 * everything here is a place where Portunus is knowingly not a byte-for-byte drop-in.
 */
const DELIBERATE_DIFFERENCES: Rule[] = [
  // Portunus implements the 1.4.x wire contract (shared/janus-api.md); the reference binary is 1.1.2, which predates these.
  { step: /(^|-)info$/, path: 'body.hangup-on-failed', mode: 'ignore', why: 'server_info key added after 1.1.2' },
  { step: /(^|-)info$/, path: 'body.ice-consent-freshness', mode: 'ignore', why: 'server_info key added after 1.1.2' },
  { step: 'ws-info', path: 'hangup-on-failed', mode: 'ignore', why: 'server_info key added after 1.1.2' },
  { step: 'ws-info', path: 'ice-consent-freshness', mode: 'ignore', why: 'server_info key added after 1.1.2' },
  { step: 'admin-handle-info', path: 'body.info.plugin_specific.portunus', mode: 'ignore', why: 'Portunus-only: the media worker the handle lives on' },
  { step: 'get-ping', path: '**', mode: 'ignore', why: 'GET /janus/ping (1.4.x digest) answers pong; Janus 1.1.2 answers 404 (checked in the scenario)' },
  // The seed's plugin config has general.max_publishers = 6, which Janus ignores; Portunus uses it as the default
  // `publishers` of rooms created without one (src/plugins/videoroom/config.ts). Rooms 0 and 1 of the sorted list.
  { step: 'list', path: 'body.plugindata.data.list.0.max_publishers', mode: 'ignore', why: 'general.max_publishers honoured (string_ids scenario)' },
  { step: 'list', path: 'body.plugindata.data.list.1.max_publishers', mode: 'ignore', why: 'general.max_publishers honoured (string_ids scenario)' },
  // string_ids = true: Portunus accepts a numeric room (the seed's own smoke test sends "room":1234) and treats
  // it as the string; Janus answers 430 "Invalid element type (room should be a string)".
  { step: 'exists-numeric-room', path: 'body.plugindata.data', mode: 'ignore', why: 'numeric room accepted under string_ids (checked in the scenario)' },
  // Janus 1.1.2's HTTP transport closes the connection WITHOUT any reply for an empty POST body, for PUT,
  // and for paths with more than 3 components (digest says 404). Portunus may answer properly; not compared.
  { step: 'empty-body', path: '**', mode: 'ignore', why: 'Janus sends no HTTP response at all' },
  { step: 'put-root', path: '**', mode: 'ignore', why: 'Janus sends no HTTP response at all' },
  { step: 'too-many-components', path: '**', mode: 'ignore', why: 'Janus sends no HTTP response at all' },
  // Portunus identifies itself; clients do not depend on these values.
  { step: /(^|-)info$/, path: 'body.dependencies', mode: 'ignore', why: 'Portunus has Node deps, not glib/libnice' },
  { step: /^ws-info$/, path: 'dependencies', mode: 'ignore', why: 'Portunus has Node deps, not glib/libnice' },
  // Janus only lists the transports/plugins it loaded; names/descriptions/versions are Portunus's own.
  { step: /(^|-)info$/, path: ['body', 'transports', '*', '**'], mode: 'ignore', why: 'own transport descriptions' },
  { step: /(^|-)info$/, path: ['body', 'plugins', '*', '**'], mode: 'ignore', why: 'own plugin descriptions' },
  { step: /^ws-info$/, path: ['transports', '*', '**'], mode: 'ignore', why: 'own transport descriptions' },
  { step: /^ws-info$/, path: ['plugins', '*', '**'], mode: 'ignore', why: 'own plugin descriptions' },
];

type Scenario = { name: string; run: (c: Ctx) => Promise<void> };

const NO_SUCH_SESSION = 1234567;
const NO_SUCH_HANDLE = 7654321;

const scenarios: Scenario[] = [
  {
    name: 'info and ping',
    async run(c) {
      const info = await c.get('get-info', '/info');
      c.check((info.json as Obj | undefined)?.janus === 'server_info', `GET /info: ${info.text.slice(0, 200)}`);
      const pinfo = await c.post('post-info', '', { janus: 'info' });
      c.expectJanus('post-info', pinfo, 'server_info');
      const plugins = pinfo.plugins as Obj | undefined;
      c.check(!!plugins && 'janus.plugin.videoroom' in plugins, 'info lists janus.plugin.videoroom');
      const transports = pinfo.transports as Obj | undefined;
      c.check(!!transports && 'janus.transport.http' in transports && 'janus.transport.websockets' in transports, 'info lists http+websockets transports');
      const gp = await c.get('get-ping', '/ping');
      if (c.srv.kind === 'portunus') c.check(gp.status === 200 && (gp.json as Obj | undefined)?.janus === 'pong', `GET /ping must answer pong: HTTP ${gp.status} ${gp.text}`);
      const pong = await c.post('post-ping', '', { janus: 'ping' });
      c.expectJanus('post-ping', pong, 'pong');
      await c.raw('post-to-get-info-path', 'POST', '/info', { body: '{"janus":"info","transaction":"x"}' });
      const s = await c.session('create');
      const r = await c.post('info-at-session-path', `/${s}`, { janus: 'info' });
      c.expectError('info-at-session-path', r, 453, "Unknown request 'info'");
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
  {
    name: 'create with and without chosen id, conflict',
    async run(c) {
      const s1 = await c.session('create');
      const chosen = 4242424242 + Math.floor(Math.random() * 1000);
      c.masker.register('CHOSEN', chosen);
      const r2 = await c.post('create-with-id', '', { janus: 'create', id: chosen });
      c.check((r2.data as Obj | undefined)?.id === chosen, `create-with-id: got ${JSON.stringify(r2)}`);
      const r3 = await c.post('create-conflict', '', { janus: 'create', id: chosen });
      c.expectError('create-conflict', r3, 468);
      await c.post('create-id-string', '', { janus: 'create', id: 'abc' });
      await c.post('create-id-negative', '', { janus: 'create', id: -5 });
      await c.post('destroy-1', `/${s1}`, { janus: 'destroy' });
      await c.post('destroy-chosen', `/${chosen}`, { janus: 'destroy' });
      const r4 = await c.post('keepalive-destroyed', `/${chosen}`, { janus: 'keepalive' });
      c.expectError('keepalive-destroyed', r4, 458);
    },
  },
  {
    name: 'envelope errors',
    async run(c) {
      const r1 = await c.post('malformed-json', '', '{"janus":"create","transaction":', { noTx: true });
      c.expectError('malformed-json', r1, 454);
      const r2 = await c.post('non-object-array', '', '[1,2,3]', { noTx: true });
      c.expectError('non-object-array', r2, 455);
      await c.post('non-object-string', '', '"hello"', { noTx: true });
      await c.post('non-object-number', '', '42', { noTx: true });
      const r3 = await c.post('missing-transaction', '', { janus: 'ping' }, { noTx: true });
      c.expectError('missing-transaction', r3, 456);
      const r4 = await c.post('missing-janus', '', { transaction: 'missing-janus' });
      c.expectError('missing-janus', r4, 456);
      const r5 = await c.post('janus-wrong-type', '', { janus: 5 });
      c.expectError('janus-wrong-type', r5, 467);
      await c.post('transaction-wrong-type', '', { janus: 'ping', transaction: 5 });
      const r6 = await c.post('unknown-request-root', '', { janus: 'foo' });
      c.expectError('unknown-request-root', r6, 457);
      const s = await c.session('create');
      const r7 = await c.post('unknown-request-session', `/${s}`, { janus: 'foo' });
      c.expectError('unknown-request-session', r7, 453);
      const h = await c.handle('attach', s);
      await c.post('unknown-request-handle', `/${s}/${h}`, { janus: 'foo' });
      await c.post('empty-body', '', '', { noTx: true });
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
  {
    name: 'requests at wrong paths (457)',
    async run(c) {
      const r1 = await c.post('attach-at-root', '', { janus: 'attach', plugin: 'janus.plugin.videoroom' });
      c.expectError('attach-at-root', r1, 457, "Unhandled request 'attach' at this path");
      await c.post('keepalive-at-root', '', { janus: 'keepalive' });
      await c.post('message-at-root', '', { janus: 'message', body: {} });
      await c.post('destroy-at-root', '', { janus: 'destroy' });
      const s = await c.session('create');
      const h = await c.handle('attach', s);
      const r2 = await c.post('message-at-session', `/${s}`, { janus: 'message', body: { request: 'list' } });
      c.expectError('message-at-session', r2, 457);
      await c.post('trickle-at-session', `/${s}`, { janus: 'trickle', candidate: { completed: true } });
      await c.post('detach-at-session', `/${s}`, { janus: 'detach' });
      await c.post('hangup-at-session', `/${s}`, { janus: 'hangup' });
      const r3 = await c.post('attach-at-handle', `/${s}/${h}`, { janus: 'attach', plugin: 'janus.plugin.videoroom' });
      c.expectError('attach-at-handle', r3, 457);
      await c.post('keepalive-at-handle', `/${s}/${h}`, { janus: 'keepalive' });
      await c.post('destroy-at-handle', `/${s}/${h}`, { janus: 'destroy' });
      await c.post('create-at-session', `/${s}`, { janus: 'create' });
      await c.post('conflicting-session-id', `/${s}`, { janus: 'keepalive', session_id: s + 1 });
      await c.post('session-id-in-body-at-root', '', { janus: 'keepalive', session_id: s });
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
  {
    name: 'unknown session (458) and handle (459)',
    async run(c) {
      const r1 = await c.post('attach-unknown-session', `/${NO_SUCH_SESSION}`, { janus: 'attach', plugin: 'janus.plugin.videoroom' });
      c.expectError('attach-unknown-session', r1, 458, `No such session ${NO_SUCH_SESSION}`);
      await c.post('keepalive-unknown-session', `/${NO_SUCH_SESSION}`, { janus: 'keepalive' });
      await c.post('message-unknown-session', `/${NO_SUCH_SESSION}/${NO_SUCH_HANDLE}`, { janus: 'message', body: { request: 'list' } });
      await c.get('poll-unknown-session', `/${NO_SUCH_SESSION}`);
      const s = await c.session('create');
      const r2 = await c.post('message-unknown-handle', `/${s}/${NO_SUCH_HANDLE}`, { janus: 'message', body: { request: 'list' } });
      c.expectError('message-unknown-handle', r2, 459);
      await c.post('trickle-unknown-handle', `/${s}/${NO_SUCH_HANDLE}`, { janus: 'trickle', candidate: { completed: true } });
      await c.post('detach-unknown-handle', `/${s}/${NO_SUCH_HANDLE}`, { janus: 'detach' });
      await c.post('non-numeric-session-path', '/abc', { janus: 'keepalive' });
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
  {
    name: 'attach variants',
    async run(c) {
      const s = await c.session('create');
      await c.handle('attach-videoroom', s);
      const r1 = await c.post('attach-unknown-plugin', `/${s}`, { janus: 'attach', plugin: 'janus.plugin.nope' });
      c.expectError('attach-unknown-plugin', r1, 460);
      const r2 = await c.post('attach-missing-plugin', `/${s}`, { janus: 'attach' });
      c.expectError('attach-missing-plugin', r2, 456);
      const r3 = await c.post('attach-plugin-wrong-type', `/${s}`, { janus: 'attach', plugin: 42 });
      c.expectError('attach-plugin-wrong-type', r3, 467);
      const r4 = await c.post('attach-with-opaque-id', `/${s}`, { janus: 'attach', plugin: 'janus.plugin.videoroom', opaque_id: 'e2e-opaque' });
      c.masker.register('H', (r4.data as Obj | undefined)?.id);
      await c.post('attach-opaque-wrong-type', `/${s}`, { janus: 'attach', plugin: 'janus.plugin.videoroom', opaque_id: 5 });
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
  {
    name: 'videoroom sync messages',
    async run(c) {
      const s = await c.session('create');
      const h = await c.handle('attach', s);
      const p = `/${s}/${h}`;
      const ex = await c.post('exists-9999', p, { janus: 'message', body: { request: 'exists', room: 9999 } });
      c.check(Ctx.pdata(ex).exists === true, `exists-9999: ${JSON.stringify(ex)}`);
      await c.post('exists-missing', p, { janus: 'message', body: { request: 'exists', room: 4711 } });
      await c.post('exists-string-room', p, { janus: 'message', body: { request: 'exists', room: 'abc' } });
      const room = 700000 + Math.floor(Math.random() * 1000);
      c.masker.register('ROOM', room);
      const noKey = await c.post('create-no-admin-key', p, { janus: 'message', body: { request: 'create', room, description: 'e2e' } });
      c.check(Ctx.pdata(noKey).error_code === 429, `create-no-admin-key: ${JSON.stringify(noKey)}`);
      const badKey = await c.post('create-wrong-admin-key', p, { janus: 'message', body: { request: 'create', room, description: 'e2e', admin_key: 'nope' } });
      c.check(Ctx.pdata(badKey).error_code === 433, `create-wrong-admin-key: ${JSON.stringify(badKey)}`);
      const ok = await c.post('create-room', p, { janus: 'message', body: { request: 'create', room, description: 'e2e', publishers: 6, secret: 'pw', admin_key: 'videoroom_key' } });
      c.check(Ctx.pdata(ok).videoroom === 'created', `create-room: ${JSON.stringify(ok)}`);
      const dup = await c.post('create-existing', p, { janus: 'message', body: { request: 'create', room, admin_key: 'videoroom_key' } });
      c.check(Ctx.pdata(dup).error_code === 427, `create-existing: ${JSON.stringify(dup)}`);
      const list = await c.post('list', p, { janus: 'message', body: { request: 'list' } });
      const rooms = (Ctx.pdata(list).list as Obj[] | undefined) ?? [];
      c.check(rooms.some((r) => r.room === 9999) && rooms.some((r) => r.room === room), `list: ${JSON.stringify(list)}`);
      // Janus lists rooms in hash-table order: sort the recorded list (in place) so it compares.
      rooms.sort((a, b) => Number(a.room) - Number(b.room));
      const listAk = await c.post('list-admin-key', p, { janus: 'message', body: { request: 'list', admin_key: 'videoroom_key' } });
      ((Ctx.pdata(listAk).list as Obj[] | undefined) ?? []).sort((a, b) => Number(a.room) - Number(b.room));
      await c.post('destroy-wrong-secret', p, { janus: 'message', body: { request: 'destroy', room, secret: 'wrong' } });
      const d = await c.post('destroy-room', p, { janus: 'message', body: { request: 'destroy', room, secret: 'pw' } });
      c.check(Ctx.pdata(d).videoroom === 'destroyed', `destroy-room: ${JSON.stringify(d)}`);
      await c.post('exists-after-destroy', p, { janus: 'message', body: { request: 'exists', room } });
      await c.post('unknown-plugin-request', p, { janus: 'message', body: { request: 'nope' } });
      await c.post('empty-plugin-body', p, { janus: 'message', body: {} });
      const mb = await c.post('message-missing-body', p, { janus: 'message' });
      c.expectError('message-missing-body', mb, 456);
      const nb = await c.post('message-body-not-object', p, { janus: 'message', body: 5 });
      c.expectError('message-body-not-object', nb, 467);
      await c.post('message-jsep-not-object', p, { janus: 'message', body: { request: 'list' }, jsep: 5 });
      await c.post('message-jsep-missing-sdp', p, { janus: 'message', body: { request: 'list' }, jsep: { type: 'offer' } });
      await c.post('message-jsep-bad-type', p, { janus: 'message', body: { request: 'list' }, jsep: { type: 'bogus', sdp: 'v=0\r\n' } });
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
  {
    name: 'videoroom async message then long poll',
    async run(c) {
      const s = await c.session('create');
      const h = await c.handle('attach', s);
      const p = `/${s}/${h}`;
      const ack = await c.post('join', p, { janus: 'message', body: { request: 'join', ptype: 'publisher', room: 9999, display: 'e2e' } });
      c.expectJanus('join', ack, 'ack');
      const ev = (await c.poll('poll-join-event', s)) as Obj | undefined;
      c.check(ev?.janus === 'event' && ev?.transaction === 'join' && ev?.sender === h && Ctx.pdata(ev).videoroom === 'joined', `poll-join-event: ${JSON.stringify(ev)}`);
      const ack2 = await c.post('join-missing-ptype', p, { janus: 'message', body: { request: 'join', room: 9999 } });
      c.expectJanus('join-missing-ptype', ack2, 'ack');
      const ev2 = (await c.poll('poll-join-missing-ptype', s)) as Obj | undefined;
      c.check(typeof Ctx.pdata(ev2 ?? {}).error_code === 'number', `poll-join-missing-ptype: ${JSON.stringify(ev2)}`);
      const ack3 = await c.post('leave', p, { janus: 'message', body: { request: 'leave' } });
      c.expectJanus('leave', ack3, 'ack');
      await c.poll('poll-leave', s);
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
  {
    name: 'long poll maxev 1 (object) and 3 (array)',
    async run(c) {
      const s = await c.session('create');
      const h = await c.handle('attach', s);
      const p = `/${s}/${h}`;
      // "join" without ptype is handled asynchronously: ack now, error event later. Deterministic events.
      await c.post('async-1', p, { janus: 'message', body: { request: 'join', room: 9999 } });
      await c.post('async-2', p, { janus: 'message', body: { request: 'join', room: 9999 } });
      await new Promise((r) => setTimeout(r, 300));
      const one = await c.poll('poll-maxev-1', s, 1);
      c.check(!!one && typeof one === 'object' && !Array.isArray(one) && (one as Obj).transaction === 'async-1', `maxev=1 must answer one object: ${JSON.stringify(one)}`);
      const rest = await c.poll('poll-maxev-3-one-left', s, 3);
      c.check(Array.isArray(rest) && rest.length === 1 && (rest[0] as Obj).transaction === 'async-2', `maxev=3 must answer an array: ${JSON.stringify(rest)}`);
      await c.post('async-3', p, { janus: 'message', body: { request: 'join', room: 9999 } });
      await c.post('async-4', p, { janus: 'message', body: { request: 'join', room: 9999 } });
      await new Promise((r) => setTimeout(r, 300));
      const two = await c.poll('poll-maxev-3-two', s, 3);
      c.check(Array.isArray(two) && two.length === 2, `maxev=3 with two queued: ${JSON.stringify(two)}`);
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
  {
    name: 'trickle variants',
    async run(c) {
      const s = await c.session('create');
      const h = await c.handle('attach', s);
      const p = `/${s}/${h}`;
      const cand = { sdpMid: '0', sdpMLineIndex: 0, candidate: 'candidate:1 1 udp 2122260223 192.0.2.10 50000 typ host' };
      const r1 = await c.post('trickle-candidate', p, { janus: 'trickle', candidate: cand });
      c.expectJanus('trickle-candidate', r1, 'ack');
      const r2 = await c.post('trickle-candidates', p, { janus: 'trickle', candidates: [cand, { ...cand, candidate: 'candidate:2 1 udp 2122260222 192.0.2.11 50001 typ host' }] });
      c.expectJanus('trickle-candidates', r2, 'ack');
      const r3 = await c.post('trickle-both', p, { janus: 'trickle', candidate: cand, candidates: [cand] });
      c.expectError('trickle-both', r3, 454);
      const r4 = await c.post('trickle-none', p, { janus: 'trickle' });
      c.expectError('trickle-none', r4, 456);
      const r5 = await c.post('trickle-completed', p, { janus: 'trickle', candidate: { completed: true } });
      c.expectJanus('trickle-completed', r5, 'ack');
      await c.post('trickle-null', p, { janus: 'trickle', candidate: null });
      await c.post('trickle-candidate-not-object', p, { janus: 'trickle', candidate: 'x' });
      await c.post('trickle-candidates-not-array', p, { janus: 'trickle', candidates: {} });
      await c.post('trickle-empty-candidates', p, { janus: 'trickle', candidates: [] });
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
  {
    name: 'keepalive, hangup, detach, destroy',
    async run(c) {
      const s = await c.session('create');
      const h = await c.handle('attach', s);
      const h2 = await c.handle('attach-2', s);
      const k = await c.post('keepalive', `/${s}`, { janus: 'keepalive' });
      c.expectJanus('keepalive', k, 'ack');
      const hu = await c.post('hangup', `/${s}/${h}`, { janus: 'hangup' });
      c.expectJanus('hangup', hu, 'success');
      const d = await c.post('detach', `/${s}/${h}`, { janus: 'detach' });
      c.expectJanus('detach', d, 'success');
      const ev = (await c.poll('poll-detached', s)) as Obj | undefined;
      c.check(ev?.janus === 'detached' && ev?.sender === h, `poll-detached: ${JSON.stringify(ev)}`);
      const again = await c.post('message-after-detach', `/${s}/${h}`, { janus: 'message', body: { request: 'list' } });
      c.expectError('message-after-detach', again, 459);
      await c.post('detach-twice', `/${s}/${h}`, { janus: 'detach' });
      const ds = await c.post('destroy', `/${s}`, { janus: 'destroy' });
      c.expectJanus('destroy', ds, 'success');
      const gone = await c.post('keepalive-after-destroy', `/${s}`, { janus: 'keepalive' });
      c.expectError('keepalive-after-destroy', gone, 458);
      await c.post('message-handle-of-destroyed-session', `/${s}/${h2}`, { janus: 'message', body: { request: 'list' } });
      await c.get('poll-after-destroy', `/${s}`);
    },
  },
  {
    name: 'admin API',
    async run(c) {
      const s = await c.session('create');
      const h = await c.handle('attach', s);
      await c.admin('admin-info', '', { janus: 'info' }, { secret: null });
      await c.admin('admin-ping', '', { janus: 'ping' }, { secret: null });
      const m = await c.admin('admin-missing-secret', '', { janus: 'list_sessions' }, { secret: null });
      c.expectError('admin-missing-secret', m, 403);
      const w = await c.admin('admin-wrong-secret', '', { janus: 'list_sessions' }, { secret: 'wrong' });
      c.expectError('admin-wrong-secret', w, 403);
      const ls = await c.post('admin-request-on-janus-path', '', { janus: 'list_sessions' });
      c.expectError('admin-request-on-janus-path', ls, 457);
      const list = await c.admin('admin-list-sessions-raw', '', { janus: 'list_sessions' });
      const sessions = (list.sessions as unknown[] | undefined) ?? [];
      c.check(list.janus === 'success' && sessions.includes(s), `list_sessions must include ${s}: ${JSON.stringify(list)}`);
      // Other sessions may exist concurrently: record only whether ours is there.
      c.record('admin-list-sessions', { janus: list.janus, transaction: list.transaction, includesOurs: sessions.includes(s), isArray: Array.isArray(list.sessions) });
      const lh = await c.admin('admin-list-handles', `/${s}`, { janus: 'list_handles' });
      c.check(JSON.stringify(lh.handles) === JSON.stringify([h]), `list_handles: ${JSON.stringify(lh)}`);
      const hi = await c.admin('admin-handle-info', `/${s}/${h}`, { janus: 'handle_info' });
      c.check(hi.janus === 'success' && (hi.info as Obj | undefined)?.handle_id === h, `handle_info: ${JSON.stringify(hi).slice(0, 300)}`);
      const st = await c.admin('admin-get-status', '', { janus: 'get_status' });
      c.check(st.janus === 'success' && typeof st.status === 'object', `get_status: ${JSON.stringify(st)}`);
      await c.admin('admin-unknown-request', '', { janus: 'foo' });
      await c.admin('admin-list-handles-unknown-session', `/${NO_SUCH_SESSION}`, { janus: 'list_handles' });
      await c.admin('admin-handle-info-unknown-handle', `/${s}/${NO_SUCH_HANDLE}`, { janus: 'handle_info' });
      await c.admin('admin-list-handles-at-root', '', { janus: 'list_handles' });
      await c.admin('admin-missing-transaction', '', { janus: 'ping', transaction: undefined });
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
      const after = await c.admin('admin-list-sessions-after-raw', '', { janus: 'list_sessions' });
      const afterList = (after.sessions as unknown[] | undefined) ?? [];
      c.check(!afterList.includes(s), `session ${s} still listed after destroy`);
      c.record('admin-list-sessions-after', { includesOurs: afterList.includes(s) });
    },
  },
  {
    name: 'HTTP transport details',
    async run(c) {
      const hdrs = ['access-control-allow-origin', 'access-control-max-age', 'access-control-allow-methods', 'access-control-allow-headers'];
      await c.raw('options-root', 'OPTIONS', '', { headers: { origin: 'http://example.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }, recordHeaders: hdrs });
      await c.raw('post-cors-header', 'POST', '', { body: '{"janus":"ping","transaction":"p"}', headers: { 'content-type': 'application/json' }, recordHeaders: ['access-control-allow-origin'] });
      await c.raw('put-root', 'PUT', '', { body: '{}' });
      await c.raw('delete-root', 'DELETE', '');
      const s = await c.session('create');
      const h = await c.handle('attach', s);
      await c.raw('get-handle-path', 'GET', `/${s}/${h}`, { recordHeaders: ['location'] });
      await c.raw('too-many-components', 'POST', `/${s}/${h}/x`, { body: '{"janus":"keepalive","transaction":"x"}' });
      await c.raw('get-root', 'GET', '');
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
  // ---------------- WebSocket subset ----------------
  {
    name: 'WebSocket: core flow',
    async run(c) {
      const ws = await c.wsConnect();
      c.check(ws.protocol === 'janus-protocol', `subprotocol: ${ws.protocol}`);
      const pong = await c.ws('ws-ping', ws, { janus: 'ping' });
      c.expectJanus('ws-ping', pong, 'pong');
      await c.ws('ws-info', ws, { janus: 'info' });
      const cr = await c.ws('ws-create', ws, { janus: 'create' });
      const s = (cr.data as Obj | undefined)?.id as number;
      c.check(typeof s === 'number', `ws-create: ${JSON.stringify(cr)}`);
      c.masker.register('S', s);
      const at = await c.ws('ws-attach-no-session', ws, { janus: 'attach', plugin: 'janus.plugin.videoroom' });
      c.expectError('ws-attach-no-session', at, 457);
      const a = await c.ws('ws-attach', ws, { janus: 'attach', session_id: s, plugin: 'janus.plugin.videoroom' });
      const h = (a.data as Obj | undefined)?.id as number;
      c.masker.register('H', h);
      await c.ws('ws-attach-unknown-plugin', ws, { janus: 'attach', session_id: s, plugin: 'janus.plugin.nope' });
      await c.ws('ws-unknown-session', ws, { janus: 'keepalive', session_id: NO_SUCH_SESSION });
      await c.ws('ws-unknown-handle', ws, { janus: 'message', session_id: s, handle_id: NO_SUCH_HANDLE, body: { request: 'list' } });
      const ex = await c.ws('ws-exists', ws, { janus: 'message', session_id: s, handle_id: h, body: { request: 'exists', room: 9999 } });
      c.check(Ctx.pdata(ex).exists === true, `ws-exists: ${JSON.stringify(ex)}`);
      const { ack, event: ev } = await c.wsAsync('ws-join', ws, { janus: 'message', session_id: s, handle_id: h, body: { request: 'join', ptype: 'publisher', room: 9999, display: 'ws' } });
      c.expectJanus('ws-join', ack, 'ack');
      c.check(Ctx.pdata(ev).videoroom === 'joined', `ws-join-event: ${JSON.stringify(ev)}`);
      await c.ws('ws-trickle', ws, { janus: 'trickle', session_id: s, handle_id: h, candidate: { completed: true } });
      await c.ws('ws-trickle-both', ws, { janus: 'trickle', session_id: s, handle_id: h, candidate: { completed: true }, candidates: [] });
      const ka = await c.ws('ws-keepalive', ws, { janus: 'keepalive', session_id: s });
      c.expectJanus('ws-keepalive', ka, 'ack');
      await c.ws('ws-hangup', ws, { janus: 'hangup', session_id: s, handle_id: h });
      const d = await c.ws('ws-detach', ws, { janus: 'detach', session_id: s, handle_id: h });
      c.expectJanus('ws-detach', d, 'success');
      await c.wsEvent('ws-detached-event', ws, (m) => m.janus === 'detached');
      const ds = await c.ws('ws-destroy', ws, { janus: 'destroy', session_id: s });
      c.expectJanus('ws-destroy', ds, 'success');
      await c.ws('ws-keepalive-after-destroy', ws, { janus: 'keepalive', session_id: s });
    },
  },
  {
    name: 'WebSocket: envelope errors',
    async run(c) {
      const ws = await c.wsConnect();
      ws.sendRaw('{"janus":"ping",');
      await c.wsEvent('ws-malformed-json', ws, (m) => m.janus === 'error');
      ws.sendRaw('[1,2]');
      await c.wsEvent('ws-non-object', ws, (m) => m.janus === 'error');
      ws.sendRaw({ janus: 'ping' });
      await c.wsEvent('ws-missing-transaction', ws, (m) => m.janus === 'error');
      ws.sendRaw({ transaction: 'ws-missing-janus' });
      await c.wsEvent('ws-missing-janus', ws, (m) => m.janus === 'error');
      await c.ws('ws-unknown-request', ws, { janus: 'foo' });
      const pong = await c.ws('ws-still-alive', ws, { janus: 'ping' });
      c.expectJanus('ws-still-alive', pong, 'pong');
      c.check(ws.isOpen, 'socket must stay open after bad frames');
    },
  },
  {
    name: 'WebSocket: closing the socket destroys its sessions',
    async run(c) {
      const ws = await c.wsConnect();
      const cr = await c.ws('ws-create', ws, { janus: 'create' });
      const s = (cr.data as Obj | undefined)?.id as number;
      c.masker.register('S', s);
      await ws.close();
      let listed = true;
      for (let i = 0; i < 40 && listed; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const l = await fetch(c.srv.adminUrl, { method: 'POST', body: JSON.stringify({ janus: 'list_sessions', transaction: 'l', admin_secret: c.srv.adminSecret }) }).then((r) => r.json() as Promise<JsonObject>);
        listed = ((l.sessions as unknown[] | undefined) ?? []).includes(s);
      }
      c.check(!listed, `session ${s} still alive 2 s after its WebSocket closed`);
      c.record('session-gone-after-close', { gone: !listed });
      const r = await c.post('keepalive-after-close', `/${s}`, { janus: 'keepalive' });
      c.expectError('keepalive-after-close', r, 458);
    },
  },
  {
    name: 'WebSocket: admin protocol',
    async run(c) {
      const ws = await c.wsConnect('janus-admin-protocol', c.srv.adminWsUrl);
      await c.ws('wsadmin-ping', ws, { janus: 'ping' });
      await c.ws('wsadmin-no-secret', ws, { janus: 'list_sessions' });
      const r = await c.ws('wsadmin-list-sessions-raw', ws, { janus: 'list_sessions', admin_secret: c.srv.adminSecret });
      c.check(r.janus === 'success' && Array.isArray(r.sessions), `wsadmin list_sessions: ${JSON.stringify(r)}`);
      const st = await c.ws('wsadmin-get-status', ws, { janus: 'get_status', admin_secret: c.srv.adminSecret });
      c.check(st.janus === 'success', `wsadmin get_status: ${JSON.stringify(st)}`);
      c.record('wsadmin-list-sessions', { janus: r.janus, isArray: Array.isArray(r.sessions) });
    },
  },
];

/** With string_ids = true (the seed's plugin config). */
const stringIdScenarios: Scenario[] = [
  {
    name: 'videoroom with string ids',
    async run(c) {
      const s = await c.session('create');
      const h = await c.handle('attach', s);
      const p = `/${s}/${h}`;
      const ex = await c.post('exists-9999', p, { janus: 'message', body: { request: 'exists', room: '9999' } });
      c.check(Ctx.pdata(ex).exists === true && Ctx.pdata(ex).room === '9999', `exists-9999: ${JSON.stringify(ex)}`);
      // Janus refuses a numeric room with string_ids (430); Portunus deliberately accepts it (see DELIBERATE_DIFFERENCES).
      const exn = await c.post('exists-numeric-room', p, { janus: 'message', body: { request: 'exists', room: 9999 } });
      if (c.srv.kind === 'janus') c.check(Ctx.pdata(exn).error_code === 430, `janus exists-numeric-room: ${JSON.stringify(exn)}`);
      else c.check(Ctx.pdata(exn).exists === true && Ctx.pdata(exn).room === '9999', `portunus must accept numeric 9999 as "9999": ${JSON.stringify(exn)}`);
      const room = `e2e-${Math.random().toString(36).slice(2, 8)}`;
      c.masker.register('ROOM', room);
      const cr = await c.post('create-room', p, { janus: 'message', body: { request: 'create', room, description: 'str', admin_key: 'videoroom_key', secret: 'pw' } });
      c.check(Ctx.pdata(cr).videoroom === 'created' && Ctx.pdata(cr).room === room, `create-room: ${JSON.stringify(cr)}`);
      await c.post('create-no-room', p, { janus: 'message', body: { request: 'create', admin_key: 'videoroom_key', description: 'random id' } }).then((r) => {
        const d = Ctx.pdata(r);
        c.check(d.videoroom === 'created' && typeof d.room === 'string', `create without room must pick a string id: ${JSON.stringify(r)}`);
        if (typeof d.room === 'string') c.masker.register('RANDROOM', d.room);
      });
      const list = await c.post('list', p, { janus: 'message', body: { request: 'list' } });
      const rooms = (Ctx.pdata(list).list as Obj[] | undefined) ?? [];
      c.check(rooms.some((r) => r.room === room) && rooms.some((r) => r.room === '9999'), `list: ${JSON.stringify(list)}`);
      // Random room ids would sort differently on each server: sort by the (fixed) descriptions.
      rooms.sort((a, b) => String(a.description).localeCompare(String(b.description)));
      if (c.srv.kind === 'portunus') {
        const created = rooms.filter((r) => r.description === 'str' || r.description === 'random id');
        c.check(created.length === 2 && created.every((r) => r.max_publishers === 6), `general.max_publishers = 6 must be the default publishers: ${JSON.stringify(created)}`);
      }
      const ack = await c.post('join', p, { janus: 'message', body: { request: 'join', ptype: 'publisher', room, display: 'str' } });
      c.expectJanus('join', ack, 'ack');
      const ev = (await c.poll('poll-join', s)) as Obj | undefined;
      const jd = Ctx.pdata(ev ?? {});
      c.check(jd.videoroom === 'joined' && jd.room === room && typeof jd.id === 'string' && typeof jd.private_id === 'number', `joined with string ids: ${JSON.stringify(ev)}`);
      await c.post('destroy-room', p, { janus: 'message', body: { request: 'destroy', room, secret: 'pw' } });
      await c.poll('poll-destroyed', s);
      await c.post('destroy', `/${s}`, { janus: 'destroy' });
    },
  },
];

// Steps recorded for the checks above but whose raw values legitimately vary between runs.
RULES.push(
  { step: /list-sessions(-after)?-raw$/, path: '**', mode: 'ignore', why: 'concurrent sessions; summarised in a separate step' },
  { step: 'wsadmin-get-status', path: 'status', mode: 'keys', why: 'values depend on config' },
  { step: 'wsadmin-list-sessions-raw', path: '**', mode: 'ignore', why: 'concurrent sessions' },
  { step: 'options-root', path: 'headers.access-control-allow-headers', mode: 'type', why: 'echo formatting' },
);

// ---------------------------------------------------------------------------------------------

interface RunResult {
  kind: string;
  transcript: Step[];
  failures: string[];
  error?: Error;
}

async function runScenario(srv: RunningServer, sc: Scenario): Promise<RunResult> {
  const c = new Ctx(srv);
  let error: Error | undefined;
  try {
    await sc.run(c);
  } catch (e) {
    error = e as Error;
  } finally {
    await c.closeAll();
  }
  const transcript = c.transcript();
  if (process.env.E2E_DUMP) console.log(`\n=== ${srv.kind}: ${sc.name} ===\n${transcript.map((s) => `${s.name}: ${JSON.stringify(s.value)}`).join('\n')}`);
  return { kind: srv.kind, transcript, failures: c.failures, ...(error ? { error } : {}) };
}

/** A pair of servers (real Janus + Portunus, or a second Janus with E2E_SELF_DIFF=1) on the same config. */
class Pair {
  janus: RunningServer | undefined;
  portunus: RunningServer | undefined;
  portunusError: Error | undefined;
  private readonly janusResults = new Map<string, Promise<RunResult>>();

  constructor(readonly config: ServerOptions) {}

  async start(): Promise<void> {
    // E2E_SELF_DIFF=1: the "Portunus" side is a second real Janus. Every comparison must then pass, which
    // validates the masking and RULES (not DELIBERATE_DIFFERENCES) of this harness.
    const other = process.env.E2E_SELF_DIFF ? startJanus(this.config) : startPortunus(this.config);
    const [j, p] = await Promise.allSettled([startJanus(this.config), other]);
    if (p.status === 'fulfilled') this.portunus = p.value;
    else this.portunusError = p.reason as Error;
    if (j.status === 'rejected') throw j.reason;
    this.janus = j.value;
  }

  async stop(): Promise<void> {
    await Promise.all([this.janus?.stop(), this.portunus?.stop()]);
  }

  janusResult(sc: Scenario): Promise<RunResult> {
    let p = this.janusResults.get(sc.name);
    if (!p) {
      p = runScenario(this.janus!, sc);
      this.janusResults.set(sc.name, p);
    }
    return p;
  }
}

function defineSuite(label: string, config: ServerOptions, list: Scenario[]): void {
  const pair = new Pair(config);
  describe(`differential (${label})`, () => {
    before(() => pair.start());
    after(() => pair.stop());

    describe('real Janus (harness self-check)', () => {
      for (const sc of list) {
        test(`janus: ${sc.name}`, async () => {
          const r = await pair.janusResult(sc);
          if (r.error) throw r.error;
          assert.deepEqual(r.failures, [], `expectations failed against the real Janus:\n${r.failures.join('\n')}`);
          assert.ok(r.transcript.length > 0, 'scenario recorded nothing');
        });
      }
    });

    describe('Portunus vs Janus', () => {
      for (const sc of list) {
        test(`portunus: ${sc.name}`, async () => {
          if (!pair.portunus) assert.fail(`Portunus did not start: ${pair.portunusError?.message ?? 'unknown'}`);
          const [ref, got] = await Promise.all([pair.janusResult(sc), runScenario(pair.portunus, sc)]);
          const diffs = diffTranscripts(ref.transcript, got.transcript, [...RULES, ...(process.env.E2E_SELF_DIFF ? [] : DELIBERATE_DIFFERENCES)]);
          const problems = [...(got.error ? [`scenario aborted on ${got.kind}: ${got.error.message}`] : []), ...got.failures, ...diffs];
          if (problems.length) {
            assert.fail(`${got.kind} differs from Janus in "${sc.name}" (${problems.length}):\n  ${problems.join('\n  ')}`);
          }
        });
      }
    });
  });
}

defineSuite('numeric room ids', CONFIG, scenarios);
defineSuite('string_ids = true', { ...CONFIG, stringIds: true }, stringIdScenarios);
