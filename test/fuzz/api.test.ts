/**
 * The Janus JSON API (src/core/gateway.ts, admin.ts, the four plugins, the real media plane), in
 * process: random JSON values and mutated valid requests for every core and plugin request (JSEP
 * offers with mutated SDP, trickles with odd candidates, Admin requests). Every reply is a Janus
 * reply: an object with a `janus` string, the request's string `transaction` echoed, and error codes
 * from Janus's table; every event pushed to the transport has a `janus` string; nothing throws.
 * After each sequence its sessions are destroyed and the gateway's session, handle and peer counts
 * and the process's file descriptors return to where they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, checkAsync, noStrayErrors, heapUsed, REPLAYING } from './harness.js';
import { body, candidateObj, jsep, leaf, oddInt, oddString, PLUGINS } from './janus-requests.js';
import { defaultJanusConfig } from '../../src/config/schema.js';
import { Jcfg } from '../../src/config/jcfg.js';
import { Gateway } from '../../src/core/gateway.js';
import { ErrorCode } from '../../src/core/errors.js';
import type { JanusMessage } from '../../src/core/messages.js';
import type { SessionOverReason, TransportClient } from '../../src/core/transport.js';
import { LocalCandidates } from '../../src/media/candidates.js';
import { WebRtcMediaPlane } from '../../src/media/plane.js';
import { builtinPlugins } from '../../src/plugins/index.js';
import { quietLog } from '../media/peer/helpers.js';
import type { Logger } from '../../src/log.js';
import type { Plugin } from '../../src/core/plugin.js';
import { CHROME_OFFER } from '../media/sdp/fixtures.js';

const KNOWN_CODES = new Set<number>(Object.values(ErrorCode));

class Client implements TransportClient {
  readonly transport = 'fuzz.transport';
  events: JanusMessage[] = [];
  sendEvent(_id: number, ev: JanusMessage): void {
    this.events.push(ev);
  }
  sessionOver(): void {}
}

type Ref = 'session' | 'handle' | 'random' | 'none';
interface Req {
  janus: string;
  /** For plugin messages: the plugin whose handle it goes to (mostly). */
  plugin?: string;
  sessionRef: Ref;
  handleRef: Ref;
  extra: Record<string, unknown>;
  transaction: unknown;
}

const ref = fc.constantFrom<Ref>('session', 'session', 'session', 'session', 'session', 'random', 'none');
const href = fc.constantFrom<Ref>('handle', 'handle', 'handle', 'random', 'none');
const tx = fc.oneof({ weight: 8, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) }, { weight: 1, arbitrary: leaf });

const request: fc.Arbitrary<Req> = fc.oneof(
  fc.record({ janus: fc.constant('create'), sessionRef: fc.constant<Ref>('none'), handleRef: fc.constant<Ref>('none'), extra: fc.oneof(fc.constant({}), fc.record({ id: oddInt })), transaction: tx }),
  fc.record({ janus: fc.constant('attach'), sessionRef: ref, handleRef: fc.constant<Ref>('none'), extra: fc.record({ plugin: fc.oneof(fc.constantFrom(...PLUGINS), leaf), opaque_id: fc.option(oddString, { nil: undefined }) }, { requiredKeys: ['plugin'] }), transaction: tx }),
  ...PLUGINS.map((p) => fc.record({ janus: fc.constant('message'), plugin: fc.constant(p), sessionRef: ref, handleRef: href, extra: fc.record({ body: fc.oneof({ weight: 5, arbitrary: body(p) }, { weight: 1, arbitrary: leaf }), jsep }, { requiredKeys: ['body'] }), transaction: tx })),
  fc.record({ janus: fc.constant('trickle'), sessionRef: ref, handleRef: href, extra: fc.oneof(fc.record({ candidate: candidateObj }), fc.record({ candidates: fc.array(candidateObj, { maxLength: 4 }) }), fc.constant({})), transaction: tx }),
  fc.record({ janus: fc.constantFrom('keepalive', 'detach', 'hangup', 'destroy', 'info', 'ping', 'claim', 'bogus', ''), sessionRef: ref, handleRef: fc.constantFrom<Ref>('handle', 'none', 'random'), extra: fc.constant({}), transaction: tx }),
  fc.record({ janus: fc.oneof(leaf, fc.constantFrom('create', 'attach', 'message')), sessionRef: ref, handleRef: href, extra: fc.dictionary(fc.string({ maxLength: 8 }), leaf, { maxKeys: 4, noNullPrototype: true }), transaction: tx }) as fc.Arbitrary<unknown> as fc.Arbitrary<Req>,
);

/** Data-channel messages as a plugin receives them (TextRoom requests, anything for the others). */
const dataMessage = fc.record({
  janus: fc.constant('data'),
  plugin: fc.constantFrom(...PLUGINS),
  text: fc.oneof(
    { weight: 4, arbitrary: fc.tuple(body('janus.plugin.textroom'), fc.constantFrom('join', 'message', 'leave', 'list', 'listparticipants', 'announcement', 'create', 'destroy', 'kick', 'exists', 'allowed', 'edit', 'bogus'), oddString).map(([b, textroom, tr]) => JSON.stringify({ ...b, textroom, transaction: tr })) },
    { weight: 1, arbitrary: fc.oneof(oddString, fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))) },
  ),
  binary: fc.boolean(),
});

const ADMIN = ['info', 'ping', 'get_status', 'list_sessions', 'list_handles', 'handle_info', 'set_log_level', 'set_locking_debug', 'set_refcount_debug', 'set_log_timestamps', 'set_log_colors',
  'set_min_nack_queue', 'set_no_media_timer', 'set_slowlink_threshold', 'set_nack_optimizations', 'message_plugin', 'hangup_webrtc', 'detach_handle', 'destroy_session', 'query_eventhandler',
  'custom_event', 'list_tokens', 'add_token', 'allow_token', 'disallow_token', 'remove_token', 'heap_usage', 'loops_info', 'list_rooms', 'cluster_info', 'start_pcap', 'stop_pcap', 'bogus'];
const adminRequest = fc.record({
  janus: fc.constantFrom(...ADMIN),
  admin_secret: fc.constantFrom('adm', 'adm', 'wrong', undefined),
  transaction: tx,
  sessionRef: ref,
  handleRef: href,
  extra: fc.dictionary(fc.constantFrom('level', 'debug', 'timestamps', 'colors', 'min_nack_queue', 'no_media_timer', 'slowlink_threshold', 'nack_optimizations', 'plugin', 'request', 'token', 'plugins', 'schema', 'data', 'handler'), leaf, { maxKeys: 3, noNullPrototype: true }),
});

// ------------------------------------------------------------------ checks

function checkReply(req: Record<string, unknown>, r: unknown): void {
  assert.ok(r !== null && typeof r === 'object' && !Array.isArray(r), `reply is an object: ${JSON.stringify(r)}`);
  const m = r as Record<string, unknown>;
  assert.equal(typeof m.janus, 'string', `reply has a janus string: ${JSON.stringify(m).slice(0, 300)}`);
  if (typeof req.transaction === 'string') {
    // Like Janus, a request whose envelope fails validation (a mandatory element missing or of the
    // wrong type, e.g. "id": -1) is answered without the transaction; every other reply echoes it.
    const envelopeError = m.janus === 'error' && m.transaction === undefined && [ErrorCode.MISSING_MANDATORY_ELEMENT, ErrorCode.INVALID_ELEMENT_TYPE].includes((m.error as { code: never }).code);
    if (!envelopeError) assert.equal(m.transaction, req.transaction, 'transaction echoed');
  }
  if (m.janus === 'error') {
    const e = m.error as { code?: unknown; reason?: unknown } | undefined;
    assert.ok(e && typeof e.code === 'number' && KNOWN_CODES.has(e.code), `error code from Janus's table: ${JSON.stringify(m).slice(0, 300)}`);
    assert.equal(typeof e.reason, 'string');
  }
  // Survives the transports' JSON encoding (no bigint, no cycles).
  JSON.stringify(m);
}

function checkEvent(ev: unknown): void {
  assert.ok(ev !== null && typeof ev === 'object', 'event is an object');
  const m = ev as Record<string, unknown>;
  assert.equal(typeof m.janus, 'string', `event has a janus string: ${JSON.stringify(m).slice(0, 300)}`);
  if (m.janus === 'event' && m.plugindata !== undefined) {
    const pd = m.plugindata as { plugin?: unknown; data?: unknown };
    assert.equal(typeof pd.plugin, 'string');
    assert.ok(pd.data !== null && typeof pd.data === 'object', 'plugindata.data is an object');
  }
  JSON.stringify(m);
}

/**
 * Logs nothing, but keeps fatal/error lines and the warnings the core writes when it catches a
 * plugin's exception ("plugin ... threw", "... failed"): those are the last line of defence, and
 * bad input must not reach them.
 */
function recordingLog(into: string[]): Logger {
  const log: Logger = {
    fatal: (msg, f) => into.push(`fatal: ${msg} ${f ? JSON.stringify(f).slice(0, 600) : ''}`),
    error: (msg, f) => into.push(`error: ${msg} ${f ? JSON.stringify(f).slice(0, 600) : ''}`),
    warn: (msg, f) => {
      if (/threw|failed/.test(msg)) into.push(`warn: ${msg} ${f ? JSON.stringify(f).slice(0, 600) : ''}`);
    },
    info() {},
    verb() {},
    huge() {},
    debug() {},
    enabled: () => false,
    child: () => log,
  };
  return log;
}

const fdCount = (): number => readdirSync('/proc/self/fd').length;
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('Janus API in process: mutated requests for the core, every plugin and the Admin API get well-formed replies, and nothing leaks', { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portunus-fuzz-api-'));
  const cwd = process.cwd();
  // Relative recording paths a request may name land here, not in the repository.
  process.chdir(dir);
  const config = defaultJanusConfig('/nonexistent');
  const base = 47000 + (process.pid % 20) * 50;
  config.media.rtp_port_range = { min: base, max: base + 49 };
  config.nat.ice_enforce_list = ['127.0.0.1'];
  config.general.admin_secret = 'adm';
  const candidates = await LocalCandidates.create({ enforceList: ['127.0.0.1'] });
  const plane = await WebRtcMediaPlane.create({ config, candidates, log: quietLog });
  const logged: string[] = [];
  // Record&Play needs its recordings folder (Janus refuses to load it without one).
  writeFileSync(join(dir, 'janus.plugin.recordplay.jcfg'), `general: {\n  path = ${JSON.stringify(join(dir, 'recordings'))}\n}\n`);
  const gw = new Gateway({ config, plugins: builtinPlugins(), mediaPlane: plane, pluginConfig: (pkg) => Jcfg.load(join(dir, `${pkg}.jcfg`)), watchdogIntervalMs: 60_000, log: recordingLog(logged) });
  await gw.start();
  const client = new Client();
  try {
    // Warm up once (plugin init, codec tables, first PeerConnection) so the baselines are steady.
    const warm = await gw.handle({ janus: 'create', transaction: 'w' }, client);
    const ws = (warm.data as { id: number }).id;
    const wh = ((await gw.handle({ janus: 'attach', session_id: ws, plugin: 'janus.plugin.echotest', transaction: 'w2' }, client)).data as { id: number }).id;
    await gw.handle({ janus: 'message', session_id: ws, handle_id: wh, transaction: 'w3', body: { audio: true }, jsep: { type: 'offer', sdp: CHROME_OFFER } }, client);
    await gw.handle({ janus: 'destroy', session_id: ws, transaction: 'w4' }, client);
    await settle(300);
    const fds0 = fdCount();
    const heap0 = heapUsed();
    let replies = 0;
    let errors = 0;
    const kinds = new Map<string, number>();
    await noStrayErrors(async () => {
      await checkAsync('janus api', [fc.array(fc.oneof({ weight: 6, arbitrary: request }, { weight: 1, arbitrary: adminRequest.map((a) => ({ ...a, admin: true as const })) }, { weight: 1, arbitrary: dataMessage }), { minLength: 1, maxLength: 14 })], async (reqs) => {
        const sessions: number[] = [];
        const handles: Array<[number, number]> = [];
        const byPlugin = new Map<string, [number, number]>();
        // Every sequence starts with a session and a handle on each plugin, so that most mutated
        // requests reach real handles and plugin code rather than stopping at "no such session".
        const s0 = (await gw.handle({ janus: 'create', transaction: 'p0' }, client)).data as { id: number };
        sessions.push(s0.id);
        for (const plugin of PLUGINS) {
          const a = await gw.handle({ janus: 'attach', session_id: s0.id, plugin, transaction: 'p1' }, client);
          checkReply({ transaction: 'p1' }, a);
          const hid = (a.data as { id: number }).id;
          handles.push([s0.id, hid]);
          byPlugin.set(plugin, [s0.id, hid]);
        }
        const pick = <T>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
        let i = 0;
        for (const q of reqs) {
          i++;
          if ('text' in q) {
            // What the plugin sink does with a data-channel message (without its catch: a throw is a bug).
            const target = byPlugin.get(q.plugin);
            const handle = target ? gw.handles.get(target[1]) : undefined;
            const plugin: Plugin | undefined = gw.plugins.get(q.plugin);
            if (handle && plugin?.incomingData) plugin.incomingData(handle, 'fuzz', Buffer.from(q.text), q.binary);
            continue;
          }
          const msg: Record<string, unknown> = { janus: q.janus, ...q.extra };
          if (q.transaction !== undefined) msg.transaction = q.transaction;
          const plugin = 'plugin' in q ? q.plugin : undefined;
          const h = plugin && i % 5 !== 0 ? byPlugin.get(plugin) : pick(handles, i);
          if (q.handleRef === 'handle' && h) {
            msg.session_id = h[0];
            msg.handle_id = h[1];
          } else if (q.handleRef === 'random') msg.handle_id = 987654321;
          if (q.sessionRef === 'session' && msg.session_id === undefined) {
            const s = pick(sessions, i);
            if (s !== undefined) msg.session_id = s;
          } else if (q.sessionRef === 'random') msg.session_id = 123456789;
          let r: JanusMessage;
          if ('admin' in q) {
            if (q.admin_secret !== undefined) msg.admin_secret = q.admin_secret;
            r = await gw.admin.handle(msg);
          } else {
            r = await gw.handle(msg, client);
          }
          replies++;
          checkReply(msg, r);
          if (r.janus === 'error') errors++;
          const kind = `${String(q.janus)}->${r.janus}${r.janus === 'error' ? (r.error as { code: number }).code : ''}`;
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
          if (r.janus === 'success' && q.janus === 'create') sessions.push((r.data as { id: number }).id);
          if (r.janus === 'success' && q.janus === 'attach' && typeof msg.session_id === 'number') handles.push([msg.session_id, (r.data as { id: number }).id]);
        }
        await settle(5);
        for (const ev of client.events.splice(0)) checkEvent(ev);
        for (const s of sessions) {
          const r = await gw.handle({ janus: 'destroy', session_id: s, transaction: 'cleanup' }, client);
          checkReply({ transaction: 'cleanup' }, r);
        }
        client.events.length = 0;
      }, 300);
    });
    assert.deepEqual(logged, [], 'no error logged by the core or a plugin (their last-resort catches)');
    t.diagnostic(`replies: ${[...kinds].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    // Everything the sequences created is gone once their sessions are.
    await settle(500);
    client.events.length = 0;
    assert.equal(gw.sessions.size, 0, 'no session left');
    assert.equal(gw.handles.size, 0, 'no handle left');
    const fds1 = fdCount();
    assert.ok(fds1 <= fds0 + 4, `file descriptors back to the start (${fds0} -> ${fds1})`);
    const grown = heapUsed() - heap0;
    assert.ok(grown < 32 << 20, `heap growth bounded (${grown} bytes)`);
    if (!REPLAYING) assert.ok(replies > 500 && errors > 0 && errors < replies, `replies ${replies}, errors ${errors}`);
  } finally {
    await gw.stop();
    await plane.close();
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
});
