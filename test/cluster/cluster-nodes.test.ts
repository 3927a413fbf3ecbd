/**
 * A Portunus cluster on one machine: a real redis-server and three real Portunus processes (janus.jcfg
 * `cluster` section), driven through their Janus and Admin APIs, the way an application and an operator
 * would. Steps depend on each other (one cluster, started once: a start costs seconds per node).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { LATE_MARGIN_MS } from '../../src/cluster/registry.js';
import { startClusterNodes, VIDEOROOM as VR, type ClusterNode } from '../helpers/cluster-node.js';
import { get, post, type JsonObject } from '../helpers/janus-client.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const KEY = 'videoroom_key';
const PREFIX = 'ptest';
const HEARTBEAT_MS = 400;
const TTL_MS = 1500;

type Node = ClusterNode;

let redis: RedisServer;
const nodes: Node[] = [];

const nodeOptions = () => ({ redisUrl: redis.url, prefix: PREFIX, heartbeatMs: HEARTBEAT_MS, ttlMs: TTL_MS });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(last)} after ${ms} ms`);
    await sleep(100);
    last = await fn();
  }
  return last;
}

const req = (n: Node, body: Record<string, unknown>) => n.api.req(n.handle, body);
const roomsOn = async (n: Node): Promise<Array<string | number>> => ((await req(n, { request: 'list' })).list as JsonObject[]).map((r) => r['room'] as number).sort();

async function clusterInfo(n: Node): Promise<JsonObject> {
  const r = await post(n.srv.adminUrl, { janus: 'cluster_info', transaction: 'ci', admin_secret: n.srv.adminSecret });
  return (r.json as JsonObject)['cluster'] as JsonObject;
}

async function metric(n: Node, name: string): Promise<number | null> {
  const text = (await get(n.metricsUrl)).text;
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

before(async () => {
  redis = await startRedis();
  nodes.push(...(await startClusterNodes(['node-a', 'node-b', 'node-c'].map((n) => [n, nodeOptions()]))));
});

after(async () => {
  for (const n of nodes) await n.stop();
  await redis?.dispose();
});

test('the nodes see each other in the registry, with what another node needs (public address, API, control channel)', async () => {
  const [a] = nodes;
  const info = await eventually('nodes seen by A', () => clusterInfo(a!), (i) => (i['nodes'] as JsonObject[]).length === 3);
  assert.equal(info['node'], 'node-a');
  assert.equal(info['redis_up'], true);
  const b = (info['nodes'] as JsonObject[]).find((x) => x['name'] === 'node-b')!;
  assert.equal(b['public_ip'], '127.0.0.1');
  assert.equal(b['api_url'], `${nodes[1]!.srv.httpUrl}`);
  assert.equal(b['control'], `${PREFIX}:rpc:node-b`);
  assert.equal(typeof (b['load'] as JsonObject)['peers'], 'number');
  assert.equal(await metric(a!, 'portunus_cluster_nodes'), 3);
  assert.equal(await metric(a!, 'portunus_cluster_redis_up'), 1);
});

test('create on A: listed, exists and joinable on B and C; edit on B seen on A; destroy on C gone on A', async () => {
  const [a, b, c] = nodes as [Node, Node, Node];
  const created = await req(a, { request: 'create', room: 1001, admin_key: KEY, description: 'cluster room', secret: 'sec', pin: 'pin', publishers: 4 });
  assert.deepEqual(created, { videoroom: 'created', room: 1001, permanent: false });
  const t0 = Date.now();
  for (const n of [b, c]) await eventually(`room listed on ${n.name}`, () => roomsOn(n), (l) => l.includes(1001));
  console.log(`# room created on A listed on B and C after ${Date.now() - t0} ms`);
  assert.deepEqual(await req(b, { request: 'exists', room: 1001 }), { videoroom: 'success', room: 1001, exists: true });
  const entryOn = async (n: Node) => ((await req(n, { request: 'list' })).list as JsonObject[]).find((r) => r['room'] === 1001)!;
  const la = await entryOn(a);
  assert.equal(la['pin_required'], true);
  assert.equal(la['secret'], undefined, 'no secret in list');
  assert.deepEqual(await entryOn(c), la, 'the same entry everywhere');
  // The pin is enforced on the other nodes as on the creator.
  const hb = await b.api.attach();
  const wrong = await b.api.req(hb, { request: 'join', ptype: 'publisher', room: 1001, pin: 'nope', display: 'x' });
  assert.equal(wrong['error_code'], 433);
  const joined = await b.api.req(hb, { request: 'join', ptype: 'publisher', room: 1001, pin: 'pin', display: 'bob' });
  assert.equal(joined['videoroom'], 'joined');
  // Every node's part of the room: bob (on B) is listed on A and counted on C.
  const parts = await req(a, { request: 'listparticipants', room: 1001 });
  assert.deepEqual((parts['participants'] as JsonObject[]).map((p) => p['display']), ['bob']);
  assert.equal((await entryOn(c))['num_participants'], 1);
  // Edit through B (with the secret), seen on A.
  assert.equal((await req(b, { request: 'edit', room: 1001, secret: 'sec', new_description: 'renamed' }))['videoroom'], 'edited');
  await eventually('description on A', async () => (await entryOn(a))['description'], (d) => d === 'renamed');
  // Destroy on C: the wrong secret is refused there, the right one destroys it everywhere.
  assert.equal((await req(c, { request: 'destroy', room: 1001, secret: 'bad' }))['error_code'], 433);
  assert.equal((await req(c, { request: 'destroy', room: 1001, secret: 'sec' }))['videoroom'], 'destroyed');
  await eventually('room gone on A', () => roomsOn(a), (l) => !l.includes(1001));
  assert.deepEqual(await req(a, { request: 'exists', room: 1001 }), { videoroom: 'success', room: 1001, exists: false });
  // B's participant heard that its room is gone.
  const ev = await b.api.event(hb, 8000);
  assert.equal(ev?.['videoroom'], 'destroyed');
});

test('room ids are unique cluster-wide: a taken id is refused on another node with 427, and of two racing creates one wins', async () => {
  const [a, b, c] = nodes as [Node, Node, Node];
  assert.equal((await req(a, { request: 'create', room: 2002, admin_key: KEY }))['videoroom'], 'created');
  assert.deepEqual(await req(b, { request: 'create', room: 2002, admin_key: KEY }), { videoroom: 'event', error_code: 427, error: 'Room 2002 already exists' });
  const race = await Promise.all([b, c].map((n) => req(n, { request: 'create', room: 3003, admin_key: KEY, description: n.name })));
  assert.equal(race.filter((r) => r['videoroom'] === 'created').length, 1, JSON.stringify(race));
  assert.equal(race.filter((r) => r['error_code'] === 427).length, 1, JSON.stringify(race));
  const winner = race[0]!['videoroom'] === 'created' ? 'node-b' : 'node-c';
  for (const n of nodes) {
    await eventually(`one 3003 on ${n.name}`, async () => ((await req(n, { request: 'list' })).list as JsonObject[]).filter((r) => r['room'] === 3003).map((r) => r['description']), (d) => d.length === 1 && d[0] === winner);
  }
  // The random-id create is recorded too.
  const rnd = await req(a, { request: 'create', admin_key: KEY });
  await eventually('random room on C', () => roomsOn(c), (l) => l.includes(rnd['room'] as number));
});

test('the room record names a home node (least loaded at creation) for step 3', async () => {
  const r = new Redis(redis.url);
  try {
    const rec = JSON.parse((await r.hget(`${PREFIX}:rooms:${VR}`, '2002')) ?? 'null') as { home: string; origin: string; version: number };
    assert.ok(['node-a', 'node-b', 'node-c'].includes(rec.home), rec.home);
    assert.equal(rec.origin, 'node-a');
    assert.equal(rec.version, 1);
  } finally {
    r.disconnect();
  }
});

test('a SIGKILLed node vanishes from the registry after its TTL', async () => {
  const c = nodes[2]!;
  process.kill(c.srv.pid, 'SIGKILL');
  const killedAt = Date.now();
  const info = await eventually('C gone from A', () => clusterInfo(nodes[0]!), (i) => !(i['nodes'] as JsonObject[]).some((n) => n['name'] === 'node-c'), TTL_MS + LATE_MARGIN_MS + 6000);
  assert.equal((info['nodes'] as JsonObject[]).length, 2);
  const took = Date.now() - killedAt;
  // The TTL, one heartbeat of A's to notice, the margin for late heartbeats, and slack for a loaded machine.
  assert.ok(took <= TTL_MS + HEARTBEAT_MS + LATE_MARGIN_MS + 3000, `gone after ${took} ms`);
  console.log(`# SIGKILLed node gone from the registry after ${took} ms (node_ttl_ms ${TTL_MS}, heartbeat_ms ${HEARTBEAT_MS})`);
  // Its rooms outlive it (definitions persist): 3003 is still on A whoever created it.
  assert.ok((await roomsOn(nodes[0]!)).includes(3003));
  nodes.splice(2, 1);
  await c.stop();
});

test('Redis stopped: local rooms keep working, cluster create/destroy refused with 499; Redis restarted empty: nodes re-register and republish their rooms', async () => {
  const [a, b] = nodes as [Node, Node];
  assert.equal((await req(a, { request: 'create', room: 4004, admin_key: KEY, secret: 's4' }))['videoroom'], 'created');
  await eventually('4004 on B', () => roomsOn(b), (l) => l.includes(4004));
  await redis.stop();
  await eventually('A sees Redis down', () => metric(a, 'portunus_cluster_redis_up'), (v) => v === 0);
  // Local rooms: a join on B works.
  const hb = await b.api.attach();
  assert.equal((await b.api.req(hb, { request: 'join', ptype: 'publisher', room: 4004, display: 'local' }))['videoroom'], 'joined');
  assert.equal((await req(a, { request: 'exists', room: 4004 }))['exists'], true);
  // Cluster-wide changes: refused, saying why.
  const refused = await req(a, { request: 'create', room: 5005, admin_key: KEY });
  assert.equal(refused['error_code'], 499);
  assert.match(String(refused['error']), /Redis/);
  assert.equal((await req(b, { request: 'destroy', room: 4004, secret: 's4' }))['error_code'], 499);
  assert.equal((await req(a, { request: 'exists', room: 4004 }))['exists'], true, 'not destroyed anywhere');
  assert.match(a.srv.log(), /Redis connection lost/);
  assert.ok(((await metric(a, 'portunus_cluster_refused_total')) ?? 0) >= 1);

  await redis.restart();
  await eventually('A back', () => metric(a, 'portunus_cluster_redis_up'), (v) => v === 1, 15_000);
  const r = new Redis(redis.url);
  try {
    await eventually('rooms republished', async () => (await r.hkeys(`${PREFIX}:rooms:${VR}`)).sort(), (k) => ['2002', '3003', '4004'].every((x) => k.includes(x)), 15_000);
    await eventually('both nodes registered again', async () => (await r.smembers(`${PREFIX}:nodes`)).sort(), (n) => n.join() === 'node-a,node-b', 15_000);
  } finally {
    r.disconnect();
  }
  // And the cluster works again: create on B, seen on A; the destroy refused before now goes through.
  assert.equal((await req(b, { request: 'create', room: 5005, admin_key: KEY }))['videoroom'], 'created');
  await eventually('5005 on A', () => roomsOn(a), (l) => l.includes(5005));
  assert.equal((await req(b, { request: 'destroy', room: 4004, secret: 's4' }))['videoroom'], 'destroyed');
  await eventually('4004 gone on A', () => roomsOn(a), (l) => !l.includes(4004));
});
