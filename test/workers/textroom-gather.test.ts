/**
 * TextRoom placement over a pool of 2 media workers below and past `members_spread_at` (a Portunus-only
 * key in janus.plugin.textroom.jcfg's `general`), in-process as textroom-pool.test.ts, with real data
 * channels. Nothing is forced: the pool places every room and handle itself.
 *
 * What must hold, with members_spread_at = 3: both jcfg rooms and an API-created room are on the first
 * worker, the first 3 handles too, so their chat crosses no thread (no direct post between the workers);
 * the 4th and 5th handles go to the other worker; every message still reaches every member exactly once,
 * in order per sender, once the room's members span both workers.
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

test('TextRoom gathers rooms and members on one worker until members_spread_at, then spreads; every message exactly once, in order per sender', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'troom-gather-'));
  writeFileSync(join(dir, `${TEXTROOM}.jcfg`), 'general: {\n  json = "compact"\n  members_spread_at = 3\n}\nroom-1: {\n  description = "one"\n}\nroom-2: {\n  description = "two"\n}\n');
  const { gw, pooled, attach, message, workerOf } = await makePoolGateway({ size: 2, plugins: [TEXTROOM], dir, eventTimeoutMs: 10_000 });
  const tr = pooled.get(TEXTROOM)!;
  const members: Member[] = [];
  const member = async (name: string): Promise<Member> => {
    const { session, handle } = await attach();
    const dc = await DataChannelClient.create({ name });
    const setup = await message(session, handle, { request: 'setup' });
    assert.equal(setup.jsep?.type, 'offer', JSON.stringify(setup));
    const ack = await message(session, handle, { request: 'ack' }, { type: 'answer', sdp: dc.answer(setup.jsep!.sdp) });
    assert.equal(ack.plugindata?.data['result'], 'ok', JSON.stringify(ack));
    await dc.waitOpen(15_000);
    const m = { name, dc, worker: (await workerOf(session, handle)) as number };
    const j = await dc.request({ textroom: 'join', room: 1, username: name }, 10_000);
    assert.equal(j.textroom, 'success', `${name} join: ${JSON.stringify(j)}`);
    return m;
  };
  /** Every member sends M numbered messages at once; each member must get each sender's 0..M-1 once, in order. */
  const chat = async (tag: string, M: number): Promise<void> => {
    const got = members.map(() => new Map<string, number[]>());
    members.forEach((m, r) => {
      m.dc.drain();
      m.dc.onFrame((f) => {
        const e = f.json;
        if (!e || e.textroom !== 'message' || e.room !== 1) return;
        const body = JSON.parse(e.text as string) as { tag: string; seq: number };
        if (body.tag !== tag) return;
        const seen = got[r]!.get(e.from as string) ?? [];
        seen.push(body.seq);
        got[r]!.set(e.from as string, seen);
      });
    });
    for (let seq = 0; seq < M; seq++) for (const m of members) m.dc.sendJson({ textroom: 'message', transaction: `${tag}-${m.name}-${seq}`, room: 1, text: JSON.stringify({ tag, seq }) });
    await waitFor('every message at every member', () => got.every((g) => members.every((s) => (g.get(s.name)?.length ?? 0) >= M)), 60_000).catch(() => undefined);
    await sleep(300); // duplicates would show up by now
    const expected = Array.from({ length: M }, (_, i) => i);
    for (const [r, m] of members.entries()) {
      for (const s of members) assert.deepEqual(got[r]!.get(s.name), expected, `${tag}: ${m.name} from ${s.name}, exactly once in order`);
    }
  };
  try {
    assert.equal(tr.rooms.get('1')?.index, 0, 'jcfg room 1 on the first worker');
    assert.equal(tr.rooms.get('2')?.index, 0, 'jcfg room 2 on the first worker');
    const { session, handle } = await attach();
    const created = await message(session, handle, { request: 'create', room: 7 });
    assert.equal(created.plugindata?.data['textroom'], 'created', JSON.stringify(created));
    assert.equal(tr.rooms.get('7')?.index, 0, 'an API room below the threshold: the first worker too');

    for (let i = 0; i < 3; i++) members.push(await member(`u${i}`));
    assert.deepEqual(members.map((m) => m.worker), [0, 0, 0], 'below members_spread_at: with the room');
    await sleep(1100); // a metrics report since the joins: peerPosts is current
    const posts0 = tr.peerPosts;
    await chat('local', 30);
    await sleep(1100);
    assert.equal(tr.peerPosts - posts0, 0, 'a room and its members on one worker: no message crossed');

    for (let i = 3; i < 5; i++) members.push(await member(`u${i}`));
    assert.deepEqual(members.slice(3).map((m) => m.worker), [1, 1], 'past members_spread_at: the other worker');
    await sleep(1100);
    const posts1 = tr.peerPosts;
    await chat('spread', 30);
    await sleep(1100);
    assert.ok(tr.peerPosts - posts1 > 0, 'members on the other worker: frames crossed');
  } finally {
    for (const m of members) m.dc.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
