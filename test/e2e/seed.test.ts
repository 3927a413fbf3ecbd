/**
 * The user's smoke test from SEED.md (curl over the REST API), against Portunus started with the
 * repository's bundled conf/ folder UNCHANGED (so it serves the real ports 8088/8188/7088), with
 * `"admin_key":"videoroom_key"` added to the room creation (the seed's plugin config sets an admin_key).
 * The same sequence runs against the real Janus configured the same way, and the answers are compared.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startJanusOnFolder } from '../helpers/janus-ref.js';
import { startPortunusOnFolder } from '../helpers/portunus.js';
import type { RunningServer } from '../helpers/server-process.js';
import { disableSections, freePorts, httpJcfg, uniqueServerName, websocketsJcfg } from '../helpers/server-conf.js';
import { portIsFree, repoRoot, whoListens } from '../helpers/repo.js';
import { Ctx, type Obj } from '../helpers/scenario.js';
import { diffTranscripts, type Rule, type Step } from '../helpers/shape-diff.js';
import { postJson } from '../helpers/janus-client.js';

const SEED_PORTS = { http: 8088, admin: 7088, ws: 8188, adminWs: 7188 };
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/**
 * The seed sequence. Transactions are the user's (t1, t2, create_room, test456, list_rooms).
 * `room` is what the create request carries: the user sends the number 1234.
 */
async function seedSequence(c: Ctx, room: number | string, otherRoom: number | string): Promise<void> {
  const s = await c.session('t1');
  const h = await c.handle('t2', s);
  const p = `/${s}/${h}`;
  const cr = await c.post('create_room', p, { janus: 'message', body: { request: 'create', room, description: 'Test Room', publishers: 6, admin_key: 'videoroom_key' } });
  const crd = Ctx.pdata(cr);
  c.check(cr.janus === 'success' && crd.videoroom === 'created' && String(crd.room) === '1234', `create_room must create room 1234: ${JSON.stringify(cr)}`);
  await c.handle('test456', s);
  const list = await c.post('list_rooms', p, { janus: 'message', body: { request: 'list' } });
  const rooms = (Ctx.pdata(list).list as Obj[] | undefined) ?? [];
  const ids = rooms.map((r) => String(r.room));
  c.check(ids.includes('9999') && ids.includes('1234'), `list_rooms must include 9999 and 1234, got ${JSON.stringify(ids)}`);
  rooms.sort((a, b) => String(a.room).localeCompare(String(b.room)));

  // Without admin_key the create is refused with a plugin error inside plugindata (not a core error).
  // Janus 1.1.2: missing admin_key gives 429 "Missing mandatory element (admin_key)"; a wrong one gives 433.
  const nk = await c.post('create_room_no_admin_key', p, { janus: 'message', body: { request: 'create', room: otherRoom, description: 'x', publishers: 6 } });
  const nkd = Ctx.pdata(nk);
  c.check(nk.janus === 'success' && nkd.videoroom === 'event' && nkd.error_code === 429 && /admin_key/.test(String(nkd.error)), `create without admin_key must give plugin error 429 mentioning admin_key: ${JSON.stringify(nk)}`);
  const wk = await c.post('create_room_wrong_admin_key', p, { janus: 'message', body: { request: 'create', room: otherRoom, admin_key: 'wrong' } });
  const wkd = Ctx.pdata(wk);
  c.check(wk.janus === 'success' && wkd.error_code === 433 && typeof wkd.error === 'string', `create with a wrong admin_key must give plugin error 433: ${JSON.stringify(wk)}`);
  const ex = await c.post('exists_other_room', p, { janus: 'message', body: { request: 'exists', room: otherRoom } });
  c.check(Ctx.pdata(ex).exists === false, `refused room must not exist: ${JSON.stringify(ex)}`);
  const d = await c.post('destroy_room', p, { janus: 'message', body: { request: 'destroy', room } });
  c.check(Ctx.pdata(d).videoroom === 'destroyed', `destroy_room: ${JSON.stringify(d)}`);
  await c.post('destroy_session', `/${s}`, { janus: 'destroy' });
}

let janusTranscript: Step[] | undefined;

test('seed sequence against the real Janus configured like conf/ (harness self-check)', async () => {
  // conf/ as bundled, except: the STUN server is dropped (no DNS/network in the test sandbox: Janus exits with
  // "Invalid STUN address"), free ports are given through transport files (conf/ has none, so Janus would use
  // the same defaults as the Portunus instance), and unused plugins/transports are disabled for a fast start.
  const dir = mkdtempSync(join(tmpdir(), 'janus-seed-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(repoRoot(), 'conf');
  for (const f of readdirSync(conf)) copyFileSync(join(conf, f), join(dir, f));
  const ports = await freePorts();
  const serverName = uniqueServerName('janus-seed');
  const main = readFileSync(join(dir, 'janus.jcfg'), 'utf8')
    .split('\n')
    .filter((l) => !/^\s*stun_(server|port)\s*=/.test(l))
    .join('\n');
  writeFileSync(join(dir, 'janus.jcfg'), `${main}\ngeneral: {\n  server_name = "${serverName}"\n}\n\n${disableSections()}`);
  writeFileSync(join(dir, 'janus.transport.http.jcfg'), httpJcfg(ports));
  writeFileSync(join(dir, 'janus.transport.websockets.jcfg'), websocketsJcfg(ports, false));
  const j = await startJanusOnFolder(dir, ports, serverName, '');
  cleanups.push(() => j.stop());

  // Janus enforces string_ids strictly: the user's numeric 1234 is refused with 430. Check that, then run
  // the sequence with the string "1234", which is what Portunus's answers must look like.
  const probe = new Ctx(j);
  const s = await probe.session('probe_create');
  const h = await probe.handle('probe_attach', s);
  const strict = await probe.post('probe_numeric_room', `/${s}/${h}`, { janus: 'message', body: { request: 'create', room: 1234, admin_key: 'videoroom_key' } });
  assert.equal(Ctx.pdata(strict).error_code, 430, `Janus refuses a numeric room with string_ids: ${JSON.stringify(strict)}`);
  await probe.post('probe_destroy', `/${s}`, { janus: 'destroy' });
  assert.deepEqual(probe.failures, [], probe.failures.join('\n'));

  const c = new Ctx(j);
  await seedSequence(c, '1234', '1235');
  assert.deepEqual(c.failures, [], c.failures.join('\n'));
  janusTranscript = c.transcript();
});

let portunus: RunningServer | undefined;

test('seed sequence against Portunus with the bundled conf/ on 8088/8188/7088, compared with Janus', async () => {
  for (const [what, port] of [['HTTP', 8088], ['WebSockets', 8188], ['Admin HTTP', 7088]] as const) {
    if (!(await portIsFree(port))) assert.fail(`the seed test needs port ${port} (${what}) free, but it is busy: ${whoListens(port)}`);
  }
  const conf = join(repoRoot(), 'conf');
  portunus = await startPortunusOnFolder(conf, SEED_PORTS, '', 'janus_key');
  const srv = portunus;
  cleanups.push(() => srv.stop());

  const c = new Ctx(portunus);
  await seedSequence(c, 1234, 1235); // the user's request: a NUMERIC room id with string_ids = true
  assert.deepEqual(c.failures, [], c.failures.join('\n'));

  assert.ok(janusTranscript, 'the Janus run (previous test) must have succeeded to compare');
  const rules: Rule[] = [
    // DELIBERATE: Portunus accepts the numeric room 1234 under string_ids (and answers with the string "1234");
    // Janus answers 430 to a number, so its transcript was recorded with the string "1234". Replies must match.
  ];
  const diffs = diffTranscripts(janusTranscript, c.transcript(), rules);
  assert.deepEqual(diffs, [], `Portunus differs from Janus on the seed sequence:\n  ${diffs.join('\n  ')}`);
});

test('seed conf/: the admin secret written in the `admin:` section ("janus_key") guards the Admin API on 7088', async () => {
  assert.ok(portunus, 'needs the Portunus instance from the previous test');
  const ok = await postJson(portunus.adminUrl, { janus: 'list_sessions', transaction: 'a1', admin_secret: 'janus_key' });
  assert.equal(ok.janus, 'success', `list_sessions with janus_key: ${JSON.stringify(ok)}`);
  assert.ok(Array.isArray(ok.sessions), 'sessions is an array');
  const bad = await postJson(portunus.adminUrl, { janus: 'list_sessions', transaction: 'a2', admin_secret: 'janusoverlord' });
  assert.equal(bad.janus, 'error', `wrong secret must be refused: ${JSON.stringify(bad)}`);
  assert.equal((bad.error as Obj).code, 403);
});
