/**
 * Differential: TextRoom plugin events (type 64) from the real Janus 1.1.2 and from
 * Portunus, each with the sample event handler POSTing to a local collector, for steps that need no
 * media (requests over the Janus API only). Ids (session, handle) are masked; key order compared too.
 * EVH_DUMP=1 prints both transcripts. Skipped when Janus is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startJanusOnFolder } from '../helpers/janus-ref.js';
import { startPortunusOnFolder } from '../helpers/portunus.js';
import { makeMediaConfigsFolder, type DemoPlugin } from '../helpers/media-server.js';
import { sampleEvhJcfg } from '../helpers/server-conf.js';
import type { RunningServer } from '../helpers/server-process.js';
import { httpCollector, janusPost, maskEvent } from './collector.js';

type Ev = Record<string, unknown>;
const mask = (v: unknown, ids: Map<number, string>): unknown => maskEvent(v, ids, ['timestamp', 'emitter', 'date']);

interface Client {
  s: number;
  h: number;
  msg(body: Record<string, unknown>): Promise<Ev>;
}

async function client(base: string, plugin: string, ids: Map<number, string>, n: number): Promise<Client> {
  const s = ((await janusPost(base, { janus: 'create' })).data as { id: number }).id;
  ids.set(s, `S${n}`);
  const h = ((await janusPost(`${base}/${s}`, { janus: 'attach', plugin, opaque_id: 'pev' })).data as { id: number }).id;
  ids.set(h, `H${n}`);
  return { s, h, msg: (body) => janusPost(`${base}/${s}/${h}`, { janus: 'message', body }) };
}

const pdata = (r: Ev): Ev => ((r.plugindata as { data?: Ev } | undefined)?.data ?? r) as Ev;

export const TR_ROOM = 434343;

async function driveTextRoom(base: string, ids: Map<number, string>, trace: Ev[]): Promise<void> {
  const a = await client(base, 'janus.plugin.textroom', ids, 1);
  const b = await client(base, 'janus.plugin.textroom', ids, 2);
  const step = async (c: Client, body: Record<string, unknown>) => trace.push({ req: body.request, reply: pdata(await c.msg(body)) });
  await step(a, { request: 'create', room: TR_ROOM, description: 'pev', secret: 'sec' });
  await step(a, { request: 'edit', room: TR_ROOM, new_description: 'pev2', secret: 'sec' });
  await step(a, { request: 'join', room: TR_ROOM, username: 'alice', display: 'Alice' });
  await step(b, { request: 'join', room: TR_ROOM, username: 'bob' });
  await step(a, { request: 'message', room: TR_ROOM, text: 'hi' });
  await step(a, { request: 'message', room: TR_ROOM, text: 'psst', to: 'bob' });
  await step(a, { request: 'announcement', room: TR_ROOM, secret: 'sec', text: 'hear ye' });
  await step(a, { request: 'kick', room: TR_ROOM, secret: 'sec', username: 'bob' });
  await step(a, { request: 'leave', room: TR_ROOM });
  await step(a, { request: 'destroy', room: TR_ROOM, secret: 'sec' });
  await janusPost(`${base}/${a.s}`, { janus: 'destroy' });
  await janusPost(`${base}/${b.s}`, { janus: 'destroy' });
}

async function run(kind: 'janus' | 'portunus', plugin: DemoPlugin, drive: (base: string, ids: Map<number, string>, trace: Ev[]) => Promise<void>): Promise<{ evs: Ev[]; trace: Ev[] }> {
  const col = await httpCollector();
  const conf = await makeMediaConfigsFolder(`pev-${kind}`, [plugin]);
  const jcfg = join(conf.dir, 'janus.jcfg');
  const text = readFileSync(jcfg, 'utf8')
    .replace('broadcast = false', 'broadcast = true')
    .replace(/libjanus_sampleevh\.so,?/, '');
  writeFileSync(jcfg, text);
  writeFileSync(join(conf.dir, 'janus.eventhandler.sampleevh.jcfg'), sampleEvhJcfg({ backend: col.url }));
  const start = kind === 'janus' ? startJanusOnFolder : startPortunusOnFolder;
  const srv: RunningServer = await start(conf.dir, conf.ports, conf.serverName, conf.adminSecret);
  const ids = new Map<number, string>();
  const trace: Ev[] = [];
  try {
    await col.waitFor((evs) => evs.some((e) => e.type === 256), 10_000);
    await drive(srv.httpUrl, ids, trace);
    await col.waitFor((evs) => evs.filter((e) => e.type === 1 && (e.event as Ev).name === 'destroyed').length >= 2, 10_000);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await srv.stop();
    conf.remove();
  }
  await col.close();
  return { evs: col.events().filter((e) => e.type === 64).map((e) => mask(e, ids) as Ev), trace: trace.map((t) => mask(t, ids) as Ev) };
}

const hasJanus = existsSync('/usr/bin/janus');

// TextRoom over the Janus API can only create/edit/announce/destroy (join/leave/message need a data
// channel). AudioBridge does not send plugin events yet (what Janus 1.1.2 sends is in the session notes).
for (const [name, plugin, drive] of [['TextRoom', 'textroom', driveTextRoom]] as const) {
  test(`differential: ${name} plugin events without media, Janus 1.1.2 vs Portunus`, { timeout: 120_000, skip: !hasJanus && 'Janus not installed' }, async () => {
    const janus = await run('janus', plugin, drive);
    const portunus = await run('portunus', plugin, drive);
    if (process.env.EVH_DUMP === '1') console.log(JSON.stringify({ janus, portunus }, null, 1));
    assert.ok(janus.evs.length >= 3, `Janus sent ${JSON.stringify(janus.evs)}`);
    assert.deepEqual(portunus.evs, janus.evs, `Portunus:\n${JSON.stringify(portunus.evs, null, 1)}\nJanus:\n${JSON.stringify(janus.evs, null, 1)}`);
    const order = (evs: Ev[]) => evs.map((e) => `${Object.keys(e).join(',')}|${Object.keys((e.event as { data: Ev }).data).join(',')}`);
    assert.deepEqual(order(portunus.evs), order(janus.evs));
  });
}
