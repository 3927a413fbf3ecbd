/**
 * The webinar over three nodes, small (issue 17; bench/cluster-webinar.ts is the timed, 1 x 60 version):
 * a real redis-server, three real Portunus nodes A, B, C, one VP8 publisher on A and N subscribers
 * spread over the three nodes, each joined through its own node (light clients: real UDP, ICE, DTLS,
 * SRTP). Every subscriber must receive the publisher's stream with no loss and no duplicate (sequence
 * numbers), and A must forward to B and C once each (one link per node, whatever the number of
 * subscribers there).
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
const ROOM = 7301;
const N = 9; // three per node
const RATE = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cert = generateCertificate();
const allocator = new UdpPortAllocator({ range: { min: 0, max: 0 } });
const address = machineAddress().address;

let redis: RedisServer;
const nodes: ClusterNode[] = [];
const sigs: Signalling[] = [];
const clients: LightClient[] = [];
let pacer: Vp8Pacer | null = null;

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`timed out: ${what}`);
    await sleep(100);
  }
}

async function cascadeOf(n: ClusterNode): Promise<JsonObject> {
  const r = await post(n.srv.adminUrl, { janus: 'cluster_info', transaction: 'ci', admin_secret: n.srv.adminSecret });
  return (((r.json as JsonObject)['cluster'] as JsonObject)['cascade'] as JsonObject)['janus.plugin.videoroom'] as JsonObject;
}

before(async () => {
  redis = await startRedis();
  nodes.push(...(await startClusterNodes(['wb-a', 'wb-b', 'wb-c'].map((n) => [n, { redisUrl: redis.url, prefix: 'pwb', heartbeatMs: 400, ttlMs: 1500 }]))));
});

after(async () => {
  pacer?.stop();
  for (const c of clients) c.close();
  for (const s of sigs) await s.close().catch(() => undefined);
  for (const n of nodes) await n.stop().catch(() => undefined);
  await redis?.dispose();
});

test(`1 publisher on A x ${N} subscribers over A, B and C: every subscriber gets every packet, once`, { timeout: 120_000 }, async () => {
  const [a] = nodes as [ClusterNode];
  const created = await a.api.req(a.handle, { request: 'create', room: ROOM, admin_key: KEY, publishers: 1, videocodec: 'vp8', bitrate: 0, fir_freq: 0 });
  assert.equal(created['videoroom'], 'created');
  const sig = await Signalling.open(a.srv.wsUrl);
  sigs.push(sig);
  const h = await sig.attach();
  const feed = (await sig.message(h, { request: 'join', ptype: 'publisher', room: ROOM, display: 'speaker' })).data.id as number;
  const pub = await LightClient.create(address, cert, allocator);
  clients.push(pub);
  const ans = await sig.message(h, { request: 'publish', videocodec: 'vp8' }, { type: 'offer', sdp: pub.publisherOffer() });
  pub.applyAnswer(ans.jsep!.sdp);
  await until('publisher up', () => pub.up);
  pacer = paceVp8([pub.peer], 800, RATE);

  const subs: Array<{ node: string; c: LightClient }> = [];
  for (let i = 0; i < N; i++) {
    const n = nodes[i % 3]!;
    const s = await Signalling.open(n.srv.wsUrl);
    sigs.push(s);
    const c = await LightClient.create(address, cert, allocator);
    clients.push(c);
    const sh = await s.attach();
    const offer = await s.message(sh, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed }] });
    assert.ok(offer.jsep, `${n.name}: subscriber offer ${JSON.stringify(offer.data)}`);
    await s.message(sh, { request: 'start', room: ROOM }, { type: 'answer', sdp: c.subscriberAnswer(offer.jsep.sdp) });
    subs.push({ node: n.name, c });
  }
  await until('every subscriber receiving', () => subs.every((s) => s.c.rtp > RATE));

  // One link per other node from A's publisher, one remote publisher on B and on C.
  assert.deepEqual(((await cascadeOf(a))['links'] as JsonObject[]).map((l) => l['node']).sort(), ['wb-b', 'wb-c']);
  for (const n of nodes.slice(1)) assert.deepEqual(((await cascadeOf(n))['incoming'] as JsonObject[]).map((l) => l['publisher']), [feed], n.name);

  // A window: what each subscriber got against what was sent.
  const before = subs.map((s) => s.c.rtp);
  const sent0 = pacer.sent[0]!;
  await sleep(3000);
  const sent = pacer.sent[0]! - sent0;
  await sleep(500); // in flight
  for (const [i, s] of subs.entries()) {
    const got = s.c.rtp - before[i]!;
    assert.ok(got >= sent, `${s.node} subscriber ${i}: ${got} packets in the window for ${sent} sent`);
    const seq = s.c.lossFromSequence();
    assert.equal(s.c.bySsrc.size, 1, `${s.node} subscriber ${i}: one stream`);
    assert.equal(seq.received, seq.expected, `${s.node} subscriber ${i}: ${seq.expected - seq.received} packets missing (${seq.received} for ${seq.expected} sequence numbers)`);
    assert.equal(s.c.authFailures, 0);
  }
  const total = subs.reduce((a2, s) => a2 + s.c.lossFromSequence().received, 0);
  console.log(`# ${N} subscribers (3 per node): ${total} packets, none missing or repeated; ${sent} sent in the 3 s window (load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
});
