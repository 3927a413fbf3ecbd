/**
 * What a cluster room must keep across nodes besides video (issue 17): a real redis-server, two real
 * Portunus nodes A and B, our own clients (real UDP, ICE, DTLS, SRTP, SCTP).
 *
 * - Participant ids are unique cluster-wide: an id held on one node is refused on the other (436, as
 *   VideoRoom refuses a local duplicate) even where that participant is not known at all (no remote
 *   publisher of it there: nobody on that node watches), and it is free again once its holder left.
 * - `talking` / `stopped-talking`: a publisher on A sending audio with the audio-level extension; a
 *   participant on B hears the same events (same content) as a participant on A.
 * - Data channels: the publisher's data-channel messages reach a data subscriber on B (the remote
 *   publisher's data stream), text and binary, in order.
 * Steps depend on each other (one cluster, started once).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LightClient } from '../../bench/light-client.js';
import { Signalling } from '../../bench/janus-signalling.js';
import { generateCertificate } from '../../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../../src/media/net/port-allocator.js';
import { buildOffer, EXT, extmapsFor } from '../../src/media/sdp/negotiate.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { startClusterNodes, type ClusterNode } from '../helpers/cluster-node.js';
import { DataChannelClient } from '../helpers/datachannel-client.js';
import { post, type JsonObject } from '../helpers/janus-client.js';
import { machineAddress } from '../helpers/media-server.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const KEY = 'videoroom_key';
const ROOM = 7201;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cert = generateCertificate();
const allocator = new UdpPortAllocator({ range: { min: 0, max: 0 } });
const address = machineAddress().address;

let redis: RedisServer;
let a: ClusterNode;
let b: ClusterNode;
const sigs: Signalling[] = [];
const closers: Array<() => void> = [];

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`timed out: ${what}`);
    await sleep(100);
  }
}

before(async () => {
  redis = await startRedis();
  [a, b] = (await startClusterNodes(['ev-a', 'ev-b'].map((n) => [n, { redisUrl: redis.url, prefix: 'pev', heartbeatMs: 400, ttlMs: 1500 }]))) as [ClusterNode, ClusterNode];
  await until('both nodes registered', async () => ((await clusterInfo(a))['nodes'] as unknown[]).length === 2);
  const created = await a.api.req(a.handle, { request: 'create', room: ROOM, admin_key: KEY, publishers: 6, audiocodec: 'opus', videocodec: 'vp8', audiolevel_event: true, audio_active_packets: 10, audio_level_average: 40 });
  assert.equal(created['videoroom'], 'created', JSON.stringify(created));
});

after(async () => {
  for (const c of closers) c();
  for (const s of sigs) await s.close().catch(() => undefined);
  await a?.stop().catch(() => undefined);
  await b?.stop().catch(() => undefined);
  await redis?.dispose();
});

async function clusterInfo(n: ClusterNode): Promise<JsonObject> {
  const r = await post(n.srv.adminUrl, { janus: 'cluster_info', transaction: 'ci', admin_secret: n.srv.adminSecret });
  return (r.json as JsonObject)['cluster'] as JsonObject;
}

async function cascadeOf(n: ClusterNode): Promise<JsonObject> {
  return ((await clusterInfo(n))['cascade'] as JsonObject)['janus.plugin.videoroom'] as JsonObject;
}

async function incoming(n: ClusterNode): Promise<JsonObject[]> {
  return (await cascadeOf(n))['incoming'] as JsonObject[];
}

interface Who {
  sig: Signalling;
  handle: number;
  id: number;
  events(): JsonObject[];
}

async function joinAs(n: ClusterNode, display: string, id?: number): Promise<Who> {
  const sig = await Signalling.open(n.srv.wsUrl);
  sigs.push(sig);
  const handle = await sig.attach();
  const r = await sig.message(handle, { request: 'join', ptype: 'publisher', room: ROOM, display, ...(id !== undefined ? { id } : {}) });
  return {
    sig,
    handle,
    id: r.data.id as number,
    events: () => sig.ws.received.filter((m) => m.sender === handle && m.janus === 'event').map((m) => ((m.plugindata as JsonObject | undefined)?.data ?? {}) as JsonObject),
  };
}

/** A join that must fail: the error's code. */
async function joinError(n: ClusterNode, id: number): Promise<string> {
  try {
    const w = await joinAs(n, 'dup', id);
    return `joined as ${w.id}`;
  } catch (err) {
    return String(err);
  }
}

let pub: LightClient;
let p: Who;
let audioExt = 0;

test('participant ids are unique cluster-wide: an id held on one node is refused on the other, and free once its holder left', { timeout: 60_000 }, async () => {
  p = await joinAs(a, 'speaker');
  assert.ok(Number.isSafeInteger(p.id) && p.id > 0, `drawn id ${p.id}`);
  // Nobody on B yet: B has no remote publisher for p, only the cluster's claim can know the id.
  assert.deepEqual(await incoming(b), []);
  assert.match(await joinError(b, p.id), /436/, 'the speaker id is taken (on A)');

  // A client-chosen id on B, for a participant that never publishes (A will never see it as a remote publisher).
  const q = await joinAs(b, 'chosen', 4242);
  assert.equal(q.id, 4242);
  assert.match(await joinError(a, 4242), /436/, '4242 is taken (on B)');
  await q.sig.message(q.handle, { request: 'leave' });
  const t0 = Date.now();
  // Released by the leave (asynchronously, through Redis).
  let again: Who | null = null;
  await until('4242 free again on A', async () => {
    try {
      again = await joinAs(a, 'again', 4242);
      return true;
    } catch {
      return false;
    }
  });
  assert.equal(again!.id, 4242);
  console.log(`# 4242 free on A ${Date.now() - t0} ms after the leave on B; B's claims: ${JSON.stringify((await clusterInfo(b))['ids'])}`);
  await again!.sig.message(again!.handle, { request: 'leave' });
});

test('a stale claim (a join that failed after claiming its id on B) is taken over by a join on A once the claim is no longer recent', { timeout: 60_000 }, async () => {
  const sig = await Signalling.open(b.srv.wsUrl);
  sigs.push(sig);
  const h = await sig.attach();
  // The id is claimed, then VideoRoom refuses the join (display must be a string): the claim stays.
  await assert.rejects(sig.message(h, { request: 'join', ptype: 'publisher', room: ROOM, id: 5151, display: 77 }), /456|display/);
  // While the claim is recent, its holder counts it as a join on its way: refused.
  assert.match(await joinError(a, 5151), /436/);
  const t0 = Date.now();
  let w: Who | null = null;
  await until('5151 taken over on A', async () => {
    try {
      w = await joinAs(a, 'heir', 5151);
      return true;
    } catch {
      return false;
    }
  }, 20_000);
  assert.equal(w!.id, 5151);
  const ids = (await clusterInfo(a))['ids'] as JsonObject;
  assert.ok(Number((ids['janus.plugin.videoroom'] as JsonObject)['taken_over']) >= 1, JSON.stringify(ids));
  console.log(`# stale claim taken over ${Date.now() - t0} ms later`);
  await w!.sig.message(w!.handle, { request: 'leave' });
});

test('talking: a participant on B gets the same talking / stopped-talking events as one on A', { timeout: 90_000 }, async () => {
  const onA = await joinAs(a, 'listener-a');
  const onB = await joinAs(b, 'listener-b');
  pub = await LightClient.create(address, cert, allocator);
  closers.push(() => pub.close());
  const offer = buildOffer([
    { kind: 'audio', mid: '0', direction: 'sendonly', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid, EXT.audioLevel]) },
    { kind: 'video', mid: '1', direction: 'sendonly', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) },
    { kind: 'application', mid: '2' },
  ]);
  const sdp = pub.peer.setLocalDescription(writeSdp(offer), 'offer');
  const ans = await p.sig.message(p.handle, { request: 'publish', audio: true, video: true, data: true }, { type: 'offer', sdp });
  assert.ok(ans.jsep, 'publish answered');
  pub.applyAnswer(ans.jsep.sdp);
  audioExt = parseSdp(ans.jsep.sdp).media[0]!.extmaps.find((e) => e.uri === EXT.audioLevel)?.id ?? 0;
  assert.ok(audioExt > 0, 'audio level negotiated');
  await until('publisher up', () => pub.up);
  await until('B sees the speaker', () => onB.events().some((e) => ((e.publishers as JsonObject[] | undefined) ?? []).some((x) => x.id === p.id)));

  // Audio from the first packet B can get: the link A -> B (publish_remotely) is in place first, so both
  // nodes count the same packets in the same windows of audio_active_packets.
  await until('A forwards the speaker to B', async () => ((await cascadeOf(a))['links'] as JsonObject[]).some((l) => l['node'] === 'ev-b'));
  await sleep(300);
  let n = 0;
  const pkt = Buffer.alloc(12 + 8 + 20, 0);
  /** `count` audio packets 20 ms apart, with audio level `level` (dBov: lower is louder). */
  const speak = async (level: number, count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      n++;
      pkt[0] = 0x90; // V=2, X=1
      pkt[1] = 111;
      pkt.writeUInt16BE(n & 0xffff, 2);
      pkt.writeUInt32BE((n * 960) >>> 0, 4);
      pkt.writeUInt32BE(0x1234, 8);
      pkt.writeUInt16BE(0xbede, 12); // one-byte header extensions, 1 word
      pkt.writeUInt16BE(1, 14);
      pkt[16] = audioExt << 4; // id, length 1
      pkt[17] = 0x80 | level; // voice activity, level
      pkt[18] = 0;
      pkt[19] = 0;
      pub.peer.sendRtp('0', pkt, pkt.length);
      await sleep(20);
    }
  };
  const talk = (w: Who, kind: string) => w.events().filter((e) => e.videoroom === kind && e.id === p.id);
  await speak(10, 60);
  await until('talking on A and B', () => talk(onA, 'talking').length > 0 && talk(onB, 'talking').length > 0, 20_000);
  await speak(100, 60);
  await until('stopped-talking on A and B', () => talk(onA, 'stopped-talking').length > 0 && talk(onB, 'stopped-talking').length > 0, 20_000);
  const first = (w: Who, kind: string) => talk(w, kind)[0]!;
  assert.deepEqual(first(onB, 'talking'), first(onA, 'talking'), 'the same talking event on B as on A');
  assert.deepEqual(first(onB, 'stopped-talking'), first(onA, 'stopped-talking'));
  assert.equal(first(onB, 'talking')['audio-level-dBov-avg'], 10);
  assert.equal(first(onB, 'talking').room, ROOM);
  console.log(`# talking on B: ${JSON.stringify(first(onB, 'talking'))}`);
});

test("data channels: the publisher's messages on A reach a data subscriber on B, in order", { timeout: 90_000 }, async () => {
  const client = await DataChannelClient.create({ address, name: 'data subscriber on B' });
  closers.push(() => client.close());
  const sig = await Signalling.open(b.srv.wsUrl);
  sigs.push(sig);
  const h = await sig.attach();
  const att = await sig.message(h, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: p.id, mid: '2' }] });
  assert.ok(att.jsep, `subscriber offer: ${JSON.stringify(att.data)}`);
  assert.deepEqual(((att.data.streams as JsonObject[]) ?? []).map((s) => s.type), ['data']);
  await sig.message(h, { request: 'start', room: ROOM }, { type: 'answer', sdp: client.answer(att.jsep.sdp) });
  await client.waitOpen(15_000);
  // The channel may be open before the relay reaches it: probe until one message gets through.
  const deadline = Date.now() + 20_000;
  for (let i = 0; !client.frames.some((f) => f.text.startsWith('READY')); i++) {
    assert.ok(Date.now() < deadline, 'no message from the publisher on A reached the subscriber on B');
    pub.peer.sendData('JanusDataChannel', `READY${i}`);
    await sleep(200);
  }
  await sleep(300);
  const from = client.frames.length;
  const sent = ['one', 'two', 'three', 'ünïcödé'];
  for (const t of sent) pub.peer.sendData('JanusDataChannel', t);
  pub.peer.sendData('JanusDataChannel', Buffer.from([1, 2, 3, 250]));
  pub.peer.sendData('JanusDataChannel', 'END');
  await client.waitFor((f) => !f.binary && f.text === 'END', 15_000, 'the END marker');
  const got = client.frames.slice(from).map((f) => ({ text: f.text, binary: f.binary }));
  assert.deepEqual(got, [...sent.map((text) => ({ text, binary: false })), { text: '010203fa', binary: true }, { text: 'END', binary: false }]);
});

test("the speaker leaves: its id is free on B too", { timeout: 30_000 }, async () => {
  await p.sig.message(p.handle, { request: 'leave' });
  let w: Who | null = null;
  await until('the speaker id free on B', async () => {
    try {
      w = await joinAs(b, 'heir', p.id);
      return true;
    } catch {
      return false;
    }
  });
  assert.equal(w!.id, p.id);
});
