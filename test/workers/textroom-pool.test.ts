/**
 * TextRoom spread over a pool of 2 media workers, in-process: Gateway -> RoutingMediaPlane -> WorkerPool
 * (2 threads) with TextRoom loaded in both, and real data channels (test/helpers/datachannel-client.ts:
 * ICE, DTLS, SCTP over UDP on 127.0.0.1).
 *
 * Rooms 1 and 2 come from the jcfg, dealt one per worker; members are forced onto a worker (bound
 * before their `setup`), so most of them sit in a room on the other worker. What must hold: every
 * message reaches every member exactly once, in order per sender, with 4 senders x M messages sent at
 * once into both rooms (each member is in both, so in a room on each worker); whispers (`to`, `tos`)
 * reach only their targets, once; `history` on join, `join`/`leave` events, API announcements, kick and
 * destroy reach remote members; `list` over the data channel merges both workers; a room worker that
 * dies gives its remote members `destroyed` (and the jcfg room can be joined again); a handle worker
 * that dies makes its members leave the rooms on the other worker (`leave` to the rest).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataChannelClient, type ReceivedFrame } from '../helpers/datachannel-client.js';
import type { JsonObject } from '../helpers/janus-client.js';
import { sleep, waitFor } from '../media/peer/helpers.js';
import { makePoolGateway } from './pool-world.js';

const TEXTROOM = 'janus.plugin.textroom';

interface Member {
  name: string;
  session: number;
  handle: number;
  dc: DataChannelClient;
  worker: number;
}

async function makeWorld() {
  const dir = mkdtempSync(join(tmpdir(), 'troom-pool-'));
  writeFileSync(
    join(dir, `${TEXTROOM}.jcfg`),
    'general: {\n  json = "compact"\n  post_allow_local = true\n  members_spread_at = 0\n}\nroom-1: {\n  description = "one"\n  secret = "s1"\n  history = 5\n}\nroom-2: {\n  description = "two"\n  secret = "s2"\n}\n',
  );
  const { pool, pooled, gw, client, attach, message, workerOf, handleInfo } = await makePoolGateway({ size: 2, plugins: [TEXTROOM], dir, eventTimeoutMs: 10_000 });
  const tr = pooled.get(TEXTROOM)!;
  /** A member whose handle (PeerConnection, data channel) is on worker `worker`: bound before its `setup`. */
  const member = async (name: string, worker: number): Promise<Member> => {
    const { session, handle } = await attach();
    pool.bind(handle, pool.workers[worker]!);
    const dc = await DataChannelClient.create({ name });
    const setup = await message(session, handle, { request: 'setup' });
    assert.equal(setup.jsep?.type, 'offer', JSON.stringify(setup));
    const ack = await message(session, handle, { request: 'ack' }, { type: 'answer', sdp: dc.answer(setup.jsep!.sdp) });
    assert.equal(ack.plugindata?.data['result'], 'ok', JSON.stringify(ack));
    await dc.waitOpen(15_000);
    assert.equal(await workerOf(session, handle), worker, `${name} is not on worker ${worker}`);
    return { name, session, handle, dc, worker };
  };
  const stop = async (members: Member[]) => {
    for (const m of members) m.dc.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const pluginInfo = async (m: Member): Promise<Record<string, unknown>> => (await handleInfo(m.session, m.handle))?.plugin_specific ?? {};
  return { pool, tr, gw, client, attach, message, member, stop, pluginInfo };
}

const json = (f: ReceivedFrame): JsonObject | undefined => f.json;

test('TextRoom over 2 workers: members on the other worker than the room get every message exactly once, in order per sender; whispers, history, join/leave, API requests', { timeout: 180_000 }, async () => {
  const world = await makeWorld();
  const { tr, message, member } = world;
  const members: Member[] = [];
  try {
    // The jcfg rooms went one to each worker.
    const w1 = tr.rooms.get('1')!.index;
    const w2 = tr.rooms.get('2')!.index;
    assert.deepEqual([w1, w2].sort(), [0, 1]);
    // Two members on each worker: in room 1 half of them are remote, in room 2 the other half.
    for (const [i, w] of [0, 0, 1, 1].entries()) members.push(await member(`u${i}`, w));
    for (const m of members) {
      for (const room of [1, 2]) {
        const j = await m.dc.request({ textroom: 'join', room, username: m.name, display: `D ${m.name}` }, 10_000);
        assert.equal(j.textroom, 'success', `${m.name} join ${room}: ${JSON.stringify(j)}`);
      }
    }
    // Everyone sees the others' joins in both rooms, once each.
    await sleep(300);
    for (const m of members) {
      for (const room of [1, 2]) {
        const joins = m.dc.pending().map(json).filter((e) => e?.textroom === 'join' && e.room === room).map((e) => e!.username as string);
        const later = members.slice(members.indexOf(m)).map((x) => x.name); // itself and those who joined after it
        assert.deepEqual(joins.sort(), later.sort(), `${m.name} join events in room ${room}`);
      }
    }
    // handle_info: the room on the handle's worker in `rooms`, the other under portunus.
    const info0 = await world.pluginInfo(members[0]!);
    const here0 = members[0]!.worker === w1 ? 1 : 2;
    assert.deepEqual((info0.rooms as Array<{ room: number }>).map((r) => r.room), [here0], JSON.stringify(info0));
    assert.deepEqual((info0.portunus as { rooms_on_other_workers?: unknown }).rooms_on_other_workers, [{ room: 3 - here0, worker: 1 - members[0]!.worker }], JSON.stringify(info0));
    // `list` over the data channel from either worker: both workers' rooms.
    const list = await members[3]!.dc.request({ textroom: 'list' });
    assert.deepEqual(((list.list as Array<{ room: number }>) ?? []).map((r) => r.room).sort(), [1, 2], JSON.stringify(list));
    // listparticipants for a room on the other worker.
    const lp = await members[0]!.dc.request({ textroom: 'listparticipants', room: w1 === 0 ? 2 : 1 });
    assert.equal((lp.participants as unknown[]).length, 4, JSON.stringify(lp));

    // 4 senders x M numbered messages into both rooms at once, no waiting.
    const M = 40;
    await sleep(1100); // a metrics report since the joins: peerPosts is current
    const relayedBefore = tr.relayed;
    const routedBefore = tr.routed;
    const postsBefore = tr.peerPosts;
    const got = members.map(() => new Map<string, number[]>());
    // Per sender across both rooms: the order it sent in (room 1 then room 2 for each number).
    const across = members.map(() => new Map<string, string[]>());
    const problems: string[] = [];
    members.forEach((m, r) => {
      m.dc.drain();
      m.dc.onFrame((f) => {
        const e = f.json;
        if (!e || e.textroom !== 'message' || e.whisper) return;
        const body = JSON.parse(e.text as string) as { seq: number };
        const key = `${e.room}/${e.from}`;
        const seen = got[r]!.get(key) ?? [];
        seen.push(body.seq);
        got[r]!.set(key, seen);
        const mixed = across[r]!.get(e.from as string) ?? [];
        mixed.push(`${e.room}:${body.seq}`);
        across[r]!.set(e.from as string, mixed);
        if (e.from !== JSON.parse(e.text as string).from) problems.push(`${m.name} got ${f.text}`);
      });
    });
    for (let seq = 0; seq < M; seq++) {
      for (const m of members) for (const room of [1, 2]) m.dc.sendJson({ textroom: 'message', transaction: `t-${m.name}-${room}-${seq}`, room, text: JSON.stringify({ from: m.name, seq }), ack: seq % 2 === 0 });
    }
    const expected = Array.from({ length: M }, (_, i) => i);
    await waitFor(
      'every message at every member',
      () => got.every((g) => members.every((s) => [1, 2].every((room) => (g.get(`${room}/${s.name}`)?.length ?? 0) >= M))),
      60_000,
    ).catch(() => undefined);
    await sleep(300); // duplicates would show up by now
    assert.deepEqual(problems, []);
    for (const [r, m] of members.entries()) {
      for (const s of members) {
        for (const room of [1, 2]) assert.deepEqual(got[r]!.get(`${room}/${s.name}`), expected, `${m.name} from ${s.name} in room ${room}: exactly once, in order`);
      }
    }
    // A member of both rooms (one on each worker) got each sender's messages in the order they were sent.
    const sentOrder = expected.flatMap((i) => [`1:${i}`, `2:${i}`]);
    for (const [r, m] of members.entries()) {
      for (const s of members) assert.deepEqual(across[r]!.get(s.name), sentOrder, `${m.name} from ${s.name} across rooms 1 and 2: in the order sent`);
    }
    // Acks (every other message) came back to each sender once.
    for (const m of members) {
      const acks = m.dc.pending().map(json).filter((e) => e?.textroom === 'success' && String(e.transaction).startsWith(`t-${m.name}-`));
      assert.equal(acks.length, M, `${m.name} acks`);
    }
    // Frames for members on the other worker crossed in batches, not one message each: per room, 2 remote
    // members x 4 senders x M messages, and M/2 acks for each of its 2 remote senders; and the 2 x 2 x M
    // messages of members into the room on the other worker went there too. All of it worker to worker
    // over the pair's port (peer-links.ts): nothing through main, neither relayed nor routed.
    const remoteFrames = 2 * (2 * 4 * M + 2 * (M / 2));
    const remoteRequests = 2 * 2 * M;
    await sleep(1100); // the next metrics report
    const posts = tr.peerPosts - postsBefore;
    if (process.env.TR_DEBUG) console.error(`# ${remoteFrames} frames and ${remoteRequests} requests crossed in ${posts} direct posts`);
    assert.equal(tr.relayed - relayedBefore, 0, 'no batch relayed by main');
    assert.equal(tr.routed - routedBefore, 0, 'no message routed by main');
    assert.ok(posts > 0 && posts <= (remoteFrames + remoteRequests) / 2, `${posts} direct posts for ${remoteFrames} remote frames and ${remoteRequests} requests`);

    // Whispers from a member on one worker into the room on the other: only the targets, once.
    const remoteRoom = members[2]!.worker === w1 ? 2 : 1;
    for (const m of members) m.dc.drain();
    const to = await members[2]!.dc.request({ textroom: 'message', room: remoteRoom, to: 'u0', text: 'psst' });
    assert.deepEqual(to.sent, { u0: true }, JSON.stringify(to));
    const tos = await members[2]!.dc.request({ textroom: 'message', room: remoteRoom, tos: ['u1', 'u3', 'nobody'], text: 'psst2' });
    assert.deepEqual(tos.sent, { u1: true, u3: true, nobody: false }, JSON.stringify(tos));
    await sleep(300);
    const whispers = members.map((m) => m.dc.pending().map(json).filter((e) => e?.whisper === true).map((e) => e!.text));
    assert.deepEqual(whispers, [['psst'], ['psst2'], [], ['psst2']]);

    // Requests for rooms here and elsewhere, and bad ones, sent back to back: answered in the order sent.
    const u2 = members[2]!;
    const localRoom = u2.worker === w1 ? 1 : 2;
    u2.dc.drain();
    u2.dc.sendJson({ textroom: 'listparticipants', transaction: 'o1', room: remoteRoom });
    u2.dc.send('{"textroom":"message",');
    u2.dc.sendJson({ textroom: 'listparticipants', transaction: 'o3', room: localRoom });
    u2.dc.sendJson({ textroom: 'join', transaction: 'o4', room: 999, username: 'x' });
    u2.dc.sendJson({ textroom: 'message', transaction: 'o5', room: remoteRoom });
    u2.dc.sendJson({ textroom: 'exists', transaction: 'o6', room: remoteRoom });
    u2.dc.sendJson({ textroom: 'list', transaction: 'o7' });
    u2.dc.sendJson({ textroom: 'exists', transaction: 'o8', room: localRoom });
    const order: Array<[unknown, unknown]> = [];
    for (let i = 0; i < 8; i++) {
      const f = await u2.dc.waitFor(() => true, 10_000, `reply ${i + 1}`);
      order.push([f.json?.transaction ?? null, f.json?.error_code ?? f.json?.textroom]);
    }
    assert.deepEqual(order, [['o1', 'success'], [null, 412], ['o3', 'success'], ['o4', 417], ['o5', 413], ['o6', 'success'], ['o7', 'success'], ['o8', 'success']]);

    // API announcement into each room (it runs on the room's worker): every member once.
    for (const m of members) m.dc.drain();
    const api = await world.attach();
    // API `list` merges both workers' rooms.
    const apiList = await message(api.session, api.handle, { request: 'list' });
    assert.deepEqual(((apiList.plugindata?.data['list'] as Array<{ room: number }>) ?? []).map((r) => r.room).sort(), [1, 2], JSON.stringify(apiList));
    for (const room of [1, 2]) {
      const a = await message(api.session, api.handle, { request: 'announcement', room, secret: `s${room}`, text: `hello ${room}` });
      assert.equal(a.plugindata?.data['textroom'], 'success', JSON.stringify(a));
    }
    await sleep(300);
    for (const m of members) {
      const ann = m.dc.pending().map(json).filter((e) => e?.textroom === 'announcement').map((e) => `${e!.room}:${e!.text}`);
      assert.deepEqual(ann.sort(), ['1:hello 1', '2:hello 2'], `${m.name} announcements`);
    }

    // A room with an HTTP backend (`post`), created over the data channel and placed by main: messages
    // from members on both workers are POSTed by the room's worker, in order per sender.
    const posted: string[] = [];
    const backend = createServer((rq, rs) => {
      let b = '';
      rq.setEncoding('utf8');
      rq.on('data', (c: string) => (b += c));
      rq.on('end', () => {
        posted.push(b);
        rs.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/msg`;
      const pc = await members[3]!.dc.request({ textroom: 'create', room: 50, post: url });
      assert.equal(pc.textroom, 'success', JSON.stringify(pc));
      for (const m of [members[0]!, members[3]!]) assert.equal((await m.dc.request({ textroom: 'join', room: 50, username: m.name })).textroom, 'success');
      for (let i = 0; i < 3; i++) for (const m of [members[0]!, members[3]!]) m.dc.sendJson({ textroom: 'message', transaction: `post-${m.name}-${i}`, room: 50, text: `${m.name} ${i}`, ack: false });
      await waitFor('6 POSTs', () => posted.length >= 6, 10_000);
      const texts = posted.map((b) => JSON.parse(b) as { text: string; from: string });
      for (const who of ['u0', 'u3']) assert.deepEqual(texts.filter((t) => t.from === who).map((t) => t.text), [0, 1, 2].map((i) => `${who} ${i}`));
    } finally {
      backend.closeAllConnections();
      await new Promise<void>((r) => backend.close(() => r()));
    }

    // A late joiner on the other worker than room 1 gets room 1's history (the last 5: 4 messages and the announcement).
    const late = await member('late', w1 === 0 ? 1 : 0);
    members.push(late);
    for (const m of members) m.dc.drain();
    const lj = await late.dc.request({ textroom: 'join', room: 1, username: 'late' }, 10_000);
    assert.equal(lj.textroom, 'success', JSON.stringify(lj));
    assert.equal((lj.participants as unknown[]).length, 4);
    const history = late.dc.pending().map(json).filter((e) => e?.textroom === 'message' || e?.textroom === 'announcement');
    assert.equal(history.length, 5, JSON.stringify(history));
    assert.equal(history[4]!.textroom, 'announcement');
    // Its join reached each of the others once; its leave too.
    await sleep(200);
    const ll = await late.dc.request({ textroom: 'leave', room: 1 });
    assert.equal(ll.textroom, 'success');
    await sleep(300);
    for (const m of members.slice(0, 4)) {
      const ev = m.dc.pending().map(json).filter((e) => e?.username === 'late').map((e) => e!.textroom);
      assert.deepEqual(ev, ['join', 'leave'], `${m.name} saw late's join and leave`);
    }

    // API kick of a remote member, and `create` over the data channel (placed by main, possibly on the other worker).
    for (const m of members) m.dc.drain();
    const kickRoom = members[0]!.worker === w1 ? 2 : 1; // u0 is remote there
    const k = await message(api.session, api.handle, { request: 'kick', room: kickRoom, secret: `s${kickRoom}`, username: 'u0' });
    assert.equal(k.plugindata?.data['textroom'], 'success', JSON.stringify(k));
    await members[0]!.dc.waitJson((e) => e.textroom === 'kicked' && e.room === kickRoom && e.username === 'u0', 5000, 'u0 hears its kick');
    const again = await members[0]!.dc.request({ textroom: 'join', room: kickRoom, username: 'u0' });
    assert.equal(again.textroom, 'success', `u0 can join again after the kick: ${JSON.stringify(again)}`);
    const created = await members[1]!.dc.request({ textroom: 'create', room: 77, secret: 'x' });
    assert.equal(created.textroom, 'success', JSON.stringify(created));
    // The creating worker told main before it answered (the answer may still overtake it to this thread).
    await waitFor('main knows where room 77 lives', () => world.tr.rooms.has('77'), 5000);
    for (const m of members.slice(0, 4)) assert.equal((await m.dc.request({ textroom: 'join', room: 77, username: m.name })).textroom, 'success');
    const r77 = world.tr.rooms.get('77')!.index;
    // Destroy over the API: every member (half of them remote) hears `destroyed` once.
    for (const m of members) m.dc.drain();
    const d = await message(api.session, api.handle, { request: 'destroy', room: 77, secret: 'x' });
    assert.equal(d.plugindata?.data['textroom'], 'destroyed', JSON.stringify(d));
    await sleep(300);
    for (const m of members.slice(0, 4)) {
      assert.equal(m.dc.pending().map(json).filter((e) => e?.textroom === 'destroyed' && e.room === 77).length, 1, `${m.name} destroyed 77 (room on worker ${r77})`);
    }
    assert.equal(world.tr.rooms.has('77'), false);
  } finally {
    await world.stop(members);
  }
});

test('TextRoom over 2 workers: a dead room worker gives its remote members `destroyed`; a dead handle worker makes its members leave rooms elsewhere', { timeout: 120_000 }, async () => {
  const world = await makeWorld();
  const { pool, tr, member } = world;
  const members: Member[] = [];
  try {
    const w1 = tr.rooms.get('1')!.index;
    const other = w1 === 0 ? 1 : 0;
    const otherRoom = w1 === 0 ? 2 : 1;
    // a: on room 1's worker (dies with it); b: on the other worker, member of room 1 (remote) and of the other room.
    const a = await member('a', w1);
    const b = await member('b', other);
    members.push(a, b);
    for (const m of members) {
      for (const room of [1, 2]) assert.equal((await m.dc.request({ textroom: 'join', room, username: m.name })).textroom, 'success');
    }
    await sleep(200);
    b.dc.drain();
    pool.workers[w1]!.exitForTests(3);
    // b: room 1 is gone (its worker died) -> `destroyed`; a's data channel died with its worker -> `leave` in the other room.
    await b.dc.waitJson((e) => e.textroom === 'destroyed' && e.room === 1, 8000, 'b hears room 1 is gone');
    await b.dc.waitJson((e) => e.textroom === 'leave' && e.room === otherRoom && e.username === 'a', 8000, 'b hears a leave the room on its own worker');
    await sleep(500);
    // Once each (waitJson took those two).
    const frames = b.dc.pending().map(json);
    assert.equal(frames.filter((e) => e?.textroom === 'destroyed' || e?.textroom === 'leave').length, 0, JSON.stringify(frames));
    const lp = await b.dc.request({ textroom: 'listparticipants', room: otherRoom });
    assert.deepEqual((lp.participants as Array<{ username: string }>).map((p) => p.username), ['b']);
    // The worker comes back with room 1 (jcfg, empty); b joins it again and talks there.
    await waitFor('room 1 worker restarted', () => pool.workers[w1]!.restarts === 1 && !pool.workers[w1]!.exited, 30_000);
    await sleep(300);
    const again = await b.dc.request({ textroom: 'join', room: 1, username: 'b' }, 8000);
    assert.equal(again.textroom, 'success', JSON.stringify(again));
    assert.deepEqual(again.participants, []);
    b.dc.drain();
    // The restarted worker got a new direct link: b's message goes there and back without main.
    const routed0 = tr.routed;
    const relayed0 = tr.relayed;
    await b.dc.request({ textroom: 'message', room: 1, text: 'back' });
    await b.dc.waitJson((e) => e.textroom === 'message' && e.room === 1 && e.text === 'back', 5000, 'b hears itself in room 1 again');
    assert.deepEqual([tr.routed - routed0, tr.relayed - relayed0], [0, 0], 'message to the restarted worker went over the new link');
    // A new member on the restarted worker joins the other worker's room and hears b.
    const c = await member('c', w1);
    members.push(c);
    assert.equal((await c.dc.request({ textroom: 'join', room: otherRoom, username: 'c' })).textroom, 'success');
    await b.dc.request({ textroom: 'message', room: otherRoom, text: 'hi c' });
    await c.dc.waitJson((e) => e.textroom === 'message' && e.from === 'b' && e.text === 'hi c', 5000, 'c hears b');
  } finally {
    await world.stop(members);
  }
});
