/**
 * TextRoom over a pool of 3 media workers, in-process (as textroom-pool.test.ts, which has 2): rooms 1-3
 * from the jcfg, one per worker; one member forced onto each worker, each member in all three rooms, so
 * every pair of workers carries traffic both ways. A chat line goes worker to worker over the pairs'
 * direct links (src/workers/peer-links.ts): main routes and relays nothing while members chat. When one
 * worker dies, the other two keep their link (chat between them still without main); the restarted one
 * gets new links to both, and a member on it chats in the rooms of the other two, again without main.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataChannelClient } from '../helpers/datachannel-client.js';
import { sleep, waitFor } from '../media/peer/helpers.js';
import { makePoolGateway } from './pool-world.js';

const TEXTROOM = 'janus.plugin.textroom';

interface Member {
  name: string;
  dc: DataChannelClient;
  worker: number;
}

test('TextRoom over 3 workers: chat crosses worker to worker without main, exactly once in order; a restart keeps the other links and re-wires the new worker', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'troom-3w-'));
  writeFileSync(join(dir, `${TEXTROOM}.jcfg`), 'general: {\n  json = "compact"\n  members_spread_at = 0\n}\nroom-1: {\n  description = "one"\n}\nroom-2: {\n  description = "two"\n}\nroom-3: {\n  description = "three"\n}\n');
  const { pool, pooled, gw, attach, message, workerOf } = await makePoolGateway({ size: 3, plugins: [TEXTROOM], dir, eventTimeoutMs: 10_000 });
  const tr = pooled.get(TEXTROOM)!;
  const members: Member[] = [];
  const member = async (name: string, worker: number): Promise<Member> => {
    const { session, handle } = await attach();
    pool.bind(handle, pool.workers[worker]!);
    const dc = await DataChannelClient.create({ name });
    const setup = await message(session, handle, { request: 'setup' });
    const ack = await message(session, handle, { request: 'ack' }, { type: 'answer', sdp: dc.answer(setup.jsep!.sdp) });
    assert.equal(ack.plugindata?.data['result'], 'ok', JSON.stringify(ack));
    await dc.waitOpen(15_000);
    assert.equal(await workerOf(session, handle), worker);
    const m = { name, dc, worker };
    members.push(m);
    return m;
  };
  const joinRooms = async (m: Member, rooms: number[]): Promise<void> => {
    for (const room of rooms) assert.equal((await m.dc.request({ textroom: 'join', room, username: m.name }, 10_000)).textroom, 'success', `${m.name} joins ${room}`);
  };
  /** Each of `senders` sends `n` numbered messages into each of `rooms` at once; every member of `listeners` must get each once, in order. */
  const chat = async (senders: Member[], listeners: Member[], rooms: number[], n: number, tag: string): Promise<void> => {
    const got = listeners.map(() => new Map<string, number[]>());
    listeners.forEach((m, i) => {
      m.dc.drain();
      m.dc.onFrame((f) => {
        const e = f.json;
        if (e?.textroom !== 'message' || typeof e.text !== 'string' || !e.text.startsWith(`${tag}|`)) return;
        const key = `${e.room}/${e.from}`;
        const seen = got[i]!.get(key) ?? [];
        seen.push(Number(e.text.split('|')[1]));
        got[i]!.set(key, seen);
      });
    });
    for (let seq = 0; seq < n; seq++) for (const s of senders) for (const room of rooms) s.dc.sendJson({ textroom: 'message', transaction: `${tag}-${s.name}-${room}-${seq}`, room, text: `${tag}|${seq}`, ack: false });
    const want = Array.from({ length: n }, (_, i) => i);
    const complete = () => got.every((g) => senders.every((s) => rooms.every((r) => (g.get(`${r}/${s.name}`)?.length ?? 0) >= n)));
    await waitFor(`${tag}: every message at every listener`, complete, 30_000).catch(() => undefined);
    await sleep(300); // duplicates would show by now
    listeners.forEach((m, i) => {
      for (const s of senders) for (const r of rooms) assert.deepEqual(got[i]!.get(`${r}/${s.name}`), want, `${tag}: ${m.name} from ${s.name} in room ${r}: exactly once, in order`);
    });
  };
  const viaMain = () => [tr.routed, tr.relayed];
  try {
    const where = [1, 2, 3].map((r) => tr.rooms.get(String(r))!.index);
    assert.deepEqual([...where].sort(), [0, 1, 2], 'one jcfg room per worker');
    const roomOn = (w: number) => where.indexOf(w) + 1;
    for (let w = 0; w < 3; w++) await member(`m${w}`, w);
    for (const m of members) await joinRooms(m, [1, 2, 3]);
    await sleep(200);

    const before = viaMain();
    await chat(members, members, [1, 2, 3], 20, 'a');
    assert.deepEqual(viaMain(), before, 'chat over 3 workers: nothing routed or relayed by main');
    await sleep(1100); // a metrics report
    assert.ok(tr.peerPosts > 0, 'the workers posted over their direct links');

    // Worker 1 dies: its room is gone, its member leaves. Workers 0 and 2 keep their link.
    const [m0, m1, m2] = members as [Member, Member, Member];
    pool.workers[1]!.exitForTests(3);
    await m0.dc.waitJson((e) => e.textroom === 'destroyed' && e.room === roomOn(1), 8000, 'm0 hears the dead worker\'s room is gone');
    await m2.dc.waitJson((e) => e.textroom === 'leave' && e.username === 'm1' && e.room === roomOn(2), 8000, 'm2 hears m1 leave');
    m1.dc.close();
    const alive = [roomOn(0), roomOn(2)];
    const during = viaMain();
    await chat([m0, m2], [m0, m2], alive, 10, 'b');
    assert.deepEqual(viaMain(), during, 'chat between the two survivors while the third is down: still without main');

    // The new worker 1: a member there joins the survivors' rooms (through main: its first requests for
    // them) and chats there over its new links.
    await waitFor('worker 1 restarted', () => pool.workers[1]!.restarts === 1 && !pool.workers[1]!.exited, 30_000);
    await sleep(300);
    const m3 = await member('m3', 1);
    await joinRooms(m3, alive);
    await sleep(200);
    const after = viaMain();
    await chat([m0, m2, m3], [m0, m2, m3], alive, 10, 'c');
    assert.deepEqual(viaMain(), after, 'chat with the restarted worker: over its new links, without main');
  } finally {
    for (const m of members) m.dc.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
