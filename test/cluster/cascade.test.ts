/**
 * Any node serves any room (issue 17 step 3) and a node's death (step 4): a real redis-server, three real
 * Portunus processes, and on each node one VideoRoom publisher and one subscriber, all light clients with
 * real UDP, ICE, DTLS and SRTP (bench/light-client.ts). Each participant must see the other two
 * publishers (join reply or `publishers` events) and receive both their streams, forwarded between
 * nodes by remote publishers; a SIGKILLed node's publisher must be `unpublished` and `leaving` on the
 * others while their media keeps flowing; a publisher that leaves on one node leaves on the others.
 * Steps depend on each other (one cluster, started once).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import { LightClient } from '../../bench/light-client.js';
import { Signalling } from '../../bench/janus-signalling.js';
import { paceVp8, type Vp8Pacer } from '../../bench/vp8-load.js';
import { generateCertificate } from '../../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../../src/media/net/port-allocator.js';
import { startClusterNodes, type ClusterNode } from '../helpers/cluster-node.js';
import { post, type JsonObject } from '../helpers/janus-client.js';
import { machineAddress } from '../helpers/media-server.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const KEY = 'videoroom_key';
const ROOM = 7001;
const TTL_MS = 1500;
const HEARTBEAT_MS = 400;
const RATE = 50; // packets per second per publisher

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cert = generateCertificate();
const allocator = new UdpPortAllocator({ range: { min: 0, max: 0 } });

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`timed out: ${what}`);
    await sleep(100);
  }
}

interface Member {
  node: ClusterNode;
  sig: Signalling;
  pubHandle: number;
  feed: number;
  pub: LightClient;
  sub: LightClient | null;
  subHandle: number;
  /** Publisher ids listed to this member (join reply, `publishers` events). */
  seen(): Set<number>;
  /** The plugin events its publisher handle got (after the join). */
  events(): JsonObject[];
}

let redis: RedisServer;
const nodes: ClusterNode[] = [];
const members: Member[] = [];
let pacer: Vp8Pacer | null = null;
const address = machineAddress().address;

before(async () => {
  redis = await startRedis();
  nodes.push(...(await startClusterNodes(['cas-a', 'cas-b', 'cas-c'].map((n) => [n, { redisUrl: redis.url, prefix: 'pcas', heartbeatMs: HEARTBEAT_MS, ttlMs: TTL_MS }]))));
});

after(async () => {
  pacer?.stop();
  if (process.env['CASCADE_DEBUG']) for (const n of nodes) console.log(`--- ${n.name}\n${n.srv.log().split('\n').filter((l) => /cluster|remote|error/i.test(l)).join('\n')}`);
  for (const m of members) {
    m.pub.close();
    m.sub?.close();
    await m.sig.close().catch(() => undefined);
  }
  for (const n of nodes) await n.stop().catch(() => undefined);
  await redis?.dispose();
});

function pluginEvents(sig: Signalling, handle: number): JsonObject[] {
  return sig.ws.received.filter((m) => m.sender === handle && m.janus === 'event').map((m) => ((m.plugindata as JsonObject | undefined)?.data ?? {}) as JsonObject);
}

async function join(node: ClusterNode, display: string): Promise<Member> {
  const sig = await Signalling.open(node.srv.wsUrl);
  const pubHandle = await sig.attach();
  const joined = await sig.message(pubHandle, { request: 'join', ptype: 'publisher', room: ROOM, display });
  const fromJoin = ((joined.data.publishers as JsonObject[] | undefined) ?? []).map((p) => p.id as number);
  const pub = await LightClient.create(address, cert, allocator);
  const answer = await sig.message(pubHandle, { request: 'publish', videocodec: 'vp8' }, { type: 'offer', sdp: pub.publisherOffer() });
  assert.ok(answer.jsep, 'publish answered');
  pub.applyAnswer(answer.jsep.sdp);
  const m: Member = {
    node,
    sig,
    pubHandle,
    feed: joined.data.id as number,
    pub,
    sub: null,
    subHandle: 0,
    events: () => pluginEvents(sig, pubHandle),
    seen: () => {
      const s = new Set(fromJoin);
      for (const e of pluginEvents(sig, pubHandle)) for (const p of (e.publishers as JsonObject[] | undefined) ?? []) s.add(p.id as number);
      return s;
    },
  };
  return m;
}

/** A subscriber on the member's own node to every other member's feed. */
async function subscribe(m: Member, feeds: number[]): Promise<void> {
  const sub = await LightClient.create(address, cert, allocator, { decryptEvery: 10 });
  m.sub = sub;
  m.subHandle = await m.sig.attach();
  const offer = await m.sig.message(m.subHandle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: feeds.map((feed) => ({ feed })) });
  assert.ok(offer.jsep, 'subscriber offer');
  const mids = ((offer.data.streams as JsonObject[] | undefined) ?? []).filter((s) => s.type === 'video' && s.active !== false);
  assert.equal(mids.length, feeds.length, `one video stream per feed in ${JSON.stringify(offer.data.streams)}`);
  await m.sig.message(m.subHandle, { request: 'start', room: ROOM }, { type: 'answer', sdp: sub.subscriberAnswer(offer.jsep.sdp) });
}

/** Packets each SSRC of the member's subscriber got over `ms`, and what each publisher sent meanwhile. */
async function window(ms: number): Promise<Array<{ got: number[]; sent: number }>> {
  const before = members.map((m) => new Map([...m.sub!.bySsrc].map(([k, v]) => [k, v.packets])));
  const sent0 = pacer!.sent.slice();
  await sleep(ms);
  const sent = Math.min(...pacer!.sent.map((n, i) => n - sent0[i]!));
  return members.map((m, i) => ({ got: [...m.sub!.bySsrc].map(([k, v]) => v.packets - (before[i]!.get(k) ?? 0)).filter((n) => n > 0), sent }));
}

async function cascadeOf(n: ClusterNode): Promise<JsonObject> {
  const r = await post(n.srv.adminUrl, { janus: 'cluster_info', transaction: 'ci', admin_secret: n.srv.adminSecret });
  return (((r.json as JsonObject)['cluster'] as JsonObject)['cascade'] as JsonObject)['janus.plugin.videoroom'] as JsonObject;
}

test('three nodes, one publisher on each: everyone sees the other two publishers and receives both streams', { timeout: 120_000 }, async () => {
  const [a] = nodes as [ClusterNode];
  const t0 = Date.now();
  const created = await a.api.req(a.handle, { request: 'create', room: ROOM, admin_key: KEY, description: 'cascade', publishers: 6, videocodec: 'vp8' });
  assert.equal(created['videoroom'], 'created');
  for (const [i, n] of nodes.entries()) members.push(await join(n, `member${i}`));
  await until('publishers up', () => members.every((m) => m.pub.up));
  pacer = paceVp8(members.map((m) => m.pub.peer), 800, RATE);
  const ids = members.map((m) => m.feed);
  for (const m of members) {
    const others = ids.filter((x) => x !== m.feed);
    await until(`${m.node.name} sees ${others.join(',')} (saw ${[...m.seen()].join(',')})`, () => others.every((x) => m.seen().has(x)));
  }
  console.log(`# everyone sees everyone after ${Date.now() - t0} ms`);
  // Each node holds links for its publisher to both other nodes, and two remote publishers from them.
  for (const n of nodes) {
    const c = await cascadeOf(n);
    assert.equal((c['links'] as JsonObject[]).length, 2, `${n.name} links ${JSON.stringify(c['links'])}`);
    assert.equal((c['incoming'] as JsonObject[]).length, 2, `${n.name} incoming ${JSON.stringify(c['incoming'])}`);
  }
  for (const m of members) await subscribe(m, ids.filter((x) => x !== m.feed));
  await until('subscribers up', () => members.every((m) => m.sub!.up));
  console.log(`# subscribers up after ${Date.now() - t0} ms`);
  console.log(`# pacer ${JSON.stringify(pacer.sent)}`);
  await until('both streams flowing to every subscriber', () => members.every((m) => [...m.sub!.bySsrc.values()].filter((s) => s.packets > RATE).length === 2), 20_000);
  console.log(`# pacer ${JSON.stringify(pacer.sent)}`);
  console.log(`# set-up took ${Date.now() - t0} ms (load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  const w = await window(3000);
  for (const m of members) console.log(`# ${m.node.name} ${JSON.stringify([...m.sub!.bySsrc.values()].map((x) => [x.ssrc, x.packets, x.baseSeq, x.highestSeq, Math.round(x.maxLag)]))}`);
  for (const [i, r] of w.entries()) {
    assert.equal(r.got.length, 2, `${nodes[i]!.name}: streams ${JSON.stringify(r.got)}`);
    // At least what was sent (a loaded machine may deliver a backlog in the window: up to 2 s more).
    for (const got of r.got) assert.ok(got >= r.sent * 0.9 && got <= r.sent + 2 * RATE, `${nodes[i]!.name}: got ${got} of ${r.sent}`);
  }
  for (const m of members) {
    assert.equal(m.sub!.authFailures, 0);
    // Nothing duplicated (two links to one node would double every packet), nothing lost.
    for (const s of m.sub!.bySsrc.values()) {
      if (s.packets === 0) continue;
      const expected = s.highestSeq - s.baseSeq + 1;
      assert.ok(s.packets <= expected, `${m.node.name}: ${s.packets} packets for ${expected} sequence numbers`);
      assert.ok(s.packets >= expected * 0.99, `${m.node.name}: lost ${expected - s.packets} of ${expected}`);
    }
  }
  console.log(`# 3 nodes x 1 publisher: per subscriber stream ${JSON.stringify(w.map((r) => r.got))} of ${w[0]!.sent} sent in 3 s`);
});

test('SIGKILL one node: the others get `unpublished` and `leaving` for its publisher, and keep forwarding to each other', { timeout: 60_000 }, async () => {
  const dead = members[2]!;
  const [ma, mb] = members as [Member, Member];
  process.kill(dead.node.srv.pid, 'SIGKILL');
  const killedAt = Date.now();
  for (const m of [ma, mb]) {
    await until(`${m.node.name} hears unpublished+leaving for ${dead.feed}`, () => {
      const ev = m.events();
      return ev.some((e) => e.unpublished === dead.feed) && ev.some((e) => e.leaving === dead.feed);
    }, TTL_MS + 8000);
    const ev = m.events();
    assert.ok(ev.findIndex((e) => e.unpublished === dead.feed) < ev.findIndex((e) => e.leaving === dead.feed), 'unpublished before leaving');
  }
  console.log(`# publisher of the SIGKILLed node gone on the others after ${Date.now() - killedAt} ms (node_ttl_ms ${TTL_MS})`);
  // The room stays; A and B still exchange media.
  assert.equal((await ma.node.api.req(ma.node.handle, { request: 'exists', room: ROOM }))['exists'], true);
  members.splice(2, 1);
  dead.pub.close();
  dead.sub?.close();
  await dead.sig.close().catch(() => undefined);
  const sent0 = pacer!.sent.slice(0, 2);
  const before = [ma, mb].map((m) => new Map([...m.sub!.bySsrc].map(([k, v]) => [k, v.packets])));
  await sleep(3000);
  const sent = Math.min(pacer!.sent[0]! - sent0[0]!, pacer!.sent[1]! - sent0[1]!);
  for (const [i, m] of [ma, mb].entries()) {
    const got = [...m.sub!.bySsrc].map(([k, v]) => v.packets - (before[i]!.get(k) ?? 0)).filter((n) => n > 0);
    assert.equal(got.length, 1, `${m.node.name}: one live stream left, got ${JSON.stringify(got)}`);
    assert.ok(got[0]! >= sent * 0.9, `${m.node.name}: got ${got[0]} of ${sent} after the kill`);
  }
  const c = await cascadeOf(ma.node);
  assert.deepEqual((c['links'] as JsonObject[]).map((l) => l['node']), ['cas-b']);
  assert.deepEqual((c['incoming'] as JsonObject[]).map((l) => l['node']), ['cas-b']);
  const deadNode = nodes.splice(2, 1)[0]!;
  await deadNode.stop().catch(() => undefined);
});

test('a publisher that leaves on A: B hears `unpublished` then `leaving`, and B\'s remote publisher is gone', { timeout: 30_000 }, async () => {
  const [ma, mb] = members as [Member, Member];
  await ma.sig.message(ma.pubHandle, { request: 'leave' });
  await until('B hears A leave', () => mb.events().some((e) => e.leaving === ma.feed));
  const ev = mb.events();
  assert.ok(ev.some((e) => e.unpublished === ma.feed), 'unpublished too');
  await until('no link left on A, nothing incoming on B', async () => ((await cascadeOf(ma.node))['links'] as JsonObject[]).length === 0 && ((await cascadeOf(mb.node))['incoming'] as JsonObject[]).length === 0);
  const parts = await mb.node.api.req(mb.node.handle, { request: 'listparticipants', room: ROOM });
  assert.ok(!((parts['participants'] as JsonObject[]) ?? []).some((p) => p['id'] === ma.feed), `A's publisher not listed: ${JSON.stringify(parts)}`);
});
