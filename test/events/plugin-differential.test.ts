/**
 * Differential: VideoRoom plugin events (type 64) from the real Janus 1.1.2 and from Portunus, each
 * with the sample event handler POSTing to a local collector, for the steps that need no media:
 * create a room, join it as a publisher, configure without a JSEP, leave, destroy the room.
 * Ids (session, handle, room, participant, private_id) are masked; key order is compared too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJanus } from '../helpers/janus-ref.js';
import { startPortunus } from '../helpers/portunus.js';
import type { RunningServer } from '../helpers/server-process.js';
import { httpCollector, janusPost, maskEvent } from './collector.js';

type Ev = Record<string, unknown>;
const mask = (v: unknown, ids: Map<number, string>): unknown => maskEvent(v, ids, ['timestamp', 'emitter']);

/** Long-polls the session until an event carrying `key` in its plugin data arrives. */
async function pollFor(base: string, s: number, key: string): Promise<Ev> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const r = await fetch(`${base}/${s}?maxev=10&rid=${Date.now()}`);
    const body = (await r.json()) as Ev | Ev[];
    for (const e of Array.isArray(body) ? body : [body]) {
      const data = (e.plugindata as { data?: Ev } | undefined)?.data;
      if (data && key in data) return data;
    }
  }
  throw new Error(`no event with '${key}'`);
}

const ROOM = 424242;

async function drive(srv: RunningServer): Promise<Map<number, string>> {
  const ids = new Map<number, string>();
  const base = srv.httpUrl;
  const s = ((await janusPost(base, { janus: 'create' })).data as { id: number }).id;
  ids.set(s, 'S1');
  const h = ((await janusPost(`${base}/${s}`, { janus: 'attach', plugin: 'janus.plugin.videoroom', opaque_id: 'pev' })).data as { id: number }).id;
  ids.set(h, 'H1');
  const msg = (body: Record<string, unknown>) => janusPost(`${base}/${s}/${h}`, { janus: 'message', body });
  const created = await msg({ request: 'create', room: ROOM, description: 'pev', admin_key: 'videoroom_key' });
  assert.equal(((created.plugindata as { data: Ev }).data).videoroom, 'created', JSON.stringify(created));
  await msg({ request: 'join', ptype: 'publisher', room: ROOM, display: 'alice' });
  const joined = await pollFor(base, s, 'private_id');
  ids.set(joined.id as number, 'P1');
  ids.set(joined.private_id as number, 'PVT1');
  await msg({ request: 'configure', bitrate: 128000 });
  await pollFor(base, s, 'configured');
  await msg({ request: 'leave' });
  await pollFor(base, s, 'leaving');
  await msg({ request: 'destroy', room: ROOM });
  await janusPost(`${base}/${s}`, { janus: 'destroy' });
  return ids;
}

async function run(start: (o: { sampleEvh: { backend: string } }) => Promise<RunningServer>): Promise<Ev[]> {
  const col = await httpCollector();
  const srv = await start({ sampleEvh: { backend: col.url } });
  let ids: Map<number, string>;
  try {
    await col.waitFor((evs) => evs.some((e) => e.type === 256), 10_000);
    ids = await drive(srv);
    await col.waitFor((evs) => evs.some((e) => e.type === 1 && (e.event as Ev).name === 'destroyed'), 10_000);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await srv.stop();
  }
  await col.close();
  return col.events().filter((e) => e.type === 64).map((e) => mask(e, ids) as Ev);
}

test('differential: VideoRoom plugin events without media, Janus 1.1.2 vs Portunus', { timeout: 120_000 }, async () => {
  const janus = await run((o) => startJanus(o));
  const portunus = await run((o) => startPortunus(o));
  if (process.env.EVH_DUMP === '1') console.log(JSON.stringify({ janus, portunus }, null, 1));
  // The harness must see Janus's own events, or the comparison proves nothing.
  assert.ok(janus.length >= 4, `Janus sent ${JSON.stringify(janus)}`);
  assert.deepEqual(portunus, janus, `Portunus:\n${JSON.stringify(portunus, null, 1)}\nJanus:\n${JSON.stringify(janus, null, 1)}`);
  const order = (evs: Ev[]) => evs.map((e) => `${Object.keys(e).join(',')}|${Object.keys((e.event as { data: Ev }).data).join(',')}`);
  assert.deepEqual(order(portunus), order(janus));
});
