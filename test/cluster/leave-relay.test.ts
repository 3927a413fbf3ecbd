/**
 * A participant that never publishes, leaving a cluster room (issue 17): its `leaving` must reach the
 * room's participants on the other node and its id claim must go from Redis. Both follow VideoRoom's
 * own plugin events, which with media workers (the default pool) are emitted in a worker thread and
 * carried to main: nothing else tells the cluster layer that such a participant left, so this test
 * fails when that worker-to-main path breaks (no event handler is configured on either node).
 *
 * Node A runs VideoRoom with its events on (the default), node B with `events = false` in the plugin's
 * general section: the cluster must not depend on that switch (the event handlers still get nothing).
 * Real redis-server, two real Portunus processes with one media worker each, WebSocket clients.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Signalling } from '../../bench/janus-signalling.js';
import { startClusterNodes, VIDEOROOM, type ClusterNode } from '../helpers/cluster-node.js';
import { post, type JsonObject } from '../helpers/janus-client.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const KEY = 'videoroom_key';
const ROOM = 7301;
const PREFIX = 'plr';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: RedisServer;
let rc: Redis;
let a: ClusterNode;
let b: ClusterNode;
const sigs: Signalling[] = [];

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`timed out: ${what}`);
    await sleep(100);
  }
}

async function clusterInfo(n: ClusterNode): Promise<JsonObject> {
  const r = await post(n.srv.adminUrl, { janus: 'cluster_info', transaction: 'ci', admin_secret: n.srv.adminSecret });
  return (r.json as JsonObject)['cluster'] as JsonObject;
}

/** The members node `n` believes `of` has in the room (its presence view). */
async function membersSeen(n: ClusterNode, of: ClusterNode): Promise<number> {
  const c = ((await clusterInfo(n))['cascade'] as JsonObject)[VIDEOROOM] as JsonObject;
  const p = (c['presence'] as JsonObject[]).find((x) => x['room'] === String(ROOM) && x['node'] === of.name);
  return p === undefined ? 0 : Number(p['members']);
}

/** The participant ids claimed in Redis for the room. */
async function claims(): Promise<string[]> {
  return (await rc.hkeys(`${PREFIX}:pids:${VIDEOROOM}:${ROOM}`)).sort();
}

interface Who {
  sig: Signalling;
  handle: number;
  id: number;
  events(): JsonObject[];
}

async function joinOn(n: ClusterNode, display: string): Promise<Who> {
  const sig = await Signalling.open(n.srv.wsUrl);
  sigs.push(sig);
  const handle = await sig.attach();
  const r = await sig.message(handle, { request: 'join', ptype: 'publisher', room: ROOM, display });
  assert.equal(r.data['videoroom'], 'joined', JSON.stringify(r.data));
  return {
    sig,
    handle,
    id: r.data['id'] as number,
    events: () => sig.ws.received.filter((m) => m.sender === handle && m.janus === 'event').map((m) => ((m.plugindata as JsonObject | undefined)?.data ?? {}) as JsonObject),
  };
}

before(async () => {
  redis = await startRedis();
  rc = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await rc.connect();
  [a, b] = (await startClusterNodes([
    ['lr-a', { redisUrl: redis.url, prefix: PREFIX, heartbeatMs: 400, ttlMs: 1500, mediaWorkers: 1 }],
    ['lr-b', { redisUrl: redis.url, prefix: PREFIX, heartbeatMs: 400, ttlMs: 1500, mediaWorkers: 1, videoroomEvents: false }],
  ])) as [ClusterNode, ClusterNode];
  await until('both nodes registered', async () => ((await clusterInfo(a))['nodes'] as unknown[]).length === 2 && ((await clusterInfo(b))['nodes'] as unknown[]).length === 2);
  const created = await a.api.req(a.handle, { request: 'create', room: ROOM, admin_key: KEY, publishers: 6, notify_joining: true });
  assert.equal(created['videoroom'], 'created', JSON.stringify(created));
  await until('room on B', async () => ((await b.api.req(b.handle, { request: 'exists', room: ROOM }))['exists'] as boolean) === true);
});

after(async () => {
  for (const s of sigs) await s.close().catch(() => undefined);
  rc?.disconnect();
  await a?.stop().catch(() => undefined);
  await b?.stop().catch(() => undefined);
  await redis?.dispose();
});

/**
 * `x` (never publishing) on `from` leaves while `watcher` sits in the room on the other node `to`:
 * `watcher` gets `joining` then `leaving` for `x`, and `x`'s claim goes from Redis.
 */
async function leaveSeenAcross(from: ClusterNode, to: ClusterNode, watcher: Who, how: 'leave' | 'detach'): Promise<void> {
  await until(`${from.name} sees ${to.name}'s member`, async () => (await membersSeen(from, to)) > 0);
  const x = await joinOn(from, `x-${how}`);
  await until(`claim of ${x.id} in Redis`, async () => (await claims()).includes(String(x.id)));
  // `joining` (notify_joining) crosses on the `joined` plugin event too.
  await until(`${to.name} hears ${x.id} join`, () => watcher.events().some((e) => (e['joining'] as JsonObject | undefined)?.['id'] === x.id));
  const t0 = Date.now();
  if (how === 'leave') await x.sig.message(x.handle, { request: 'leave' });
  else await x.sig.ws.request({ janus: 'detach', session_id: x.sig.session, handle_id: x.handle }, 15_000);
  await until(`${to.name} hears ${x.id} leave`, () => watcher.events().some((e) => e['leaving'] === x.id));
  await until(`claim of ${x.id} released`, async () => !(await claims()).includes(String(x.id)));
  console.log(`# ${how} on ${from.name}: relayed and released within ${Date.now() - t0} ms`);
}

test('a non-publisher leaving on node A (VideoRoom events on, media worker): relayed to B, its id claim released', { timeout: 90_000 }, async () => {
  const onB = await joinOn(b, 'watcher-b');
  await leaveSeenAcross(a, b, onB, 'leave');
  await leaveSeenAcross(a, b, onB, 'detach');
});

test('the same on node B, whose VideoRoom has events = false', { timeout: 90_000 }, async () => {
  const onA = await joinOn(a, 'watcher-a');
  await leaveSeenAcross(b, a, onA, 'leave');
  await leaveSeenAcross(b, a, onA, 'detach');
});
