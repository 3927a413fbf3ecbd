/**
 * Differential: the real Janus 1.1.2 and Portunus, each with the sample event handler POSTing to a
 * local collector, driven through the same session / attach / JSEP / hangup / detach / destroy
 * sequence; the events' shapes are compared with ids, timestamps and SDPs masked.
 *
 * Compared: session (1), handle (2) and JSEP (8) events, in order, and the core "started" event's
 * outline. Reported, not compared: what only Janus emits (transport (128) events, ICE/DTLS detail,
 * VideoRoom plugin events, media stats), listed in EVH_DUMP=1 output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJanus } from '../helpers/janus-ref.js';
import { startPortunus } from '../helpers/portunus.js';
import type { RunningServer } from '../helpers/server-process.js';
import { CHROME_OFFER } from '../plugins/echotest/chrome-offer.js';
import { httpCollector, type HttpCollector, janusPost, maskEvent } from './collector.js';

type Ev = Record<string, unknown>;
const mask = (v: unknown, ids: Map<number, string>): unknown => maskEvent(v, ids, ['timestamp', 'emitter', 'sdp', 'id']);

/** The sequence both servers get. Returns the ids to mask. */
async function drive(srv: RunningServer): Promise<Map<number, string>> {
  const ids = new Map<number, string>();
  const base = srv.httpUrl;
  const s = ((await janusPost(base, { janus: 'create' })).data as { id: number }).id;
  ids.set(s, 'S1');
  const h1 = ((await janusPost(`${base}/${s}`, { janus: 'attach', plugin: 'janus.plugin.videoroom', opaque_id: 'evh-opaque' })).data as { id: number }).id;
  ids.set(h1, 'H1');
  const h2 = ((await janusPost(`${base}/${s}`, { janus: 'attach', plugin: 'janus.plugin.videoroom' })).data as { id: number }).id;
  ids.set(h2, 'H2');
  await janusPost(`${base}/${s}/${h1}`, { janus: 'message', body: { request: 'join', ptype: 'publisher', room: 9999, display: 'evh' } });
  // The event with the answer comes on the long poll; the JSEP events come whatever we read.
  await janusPost(`${base}/${s}/${h1}`, { janus: 'message', body: { request: 'configure', audio: true, video: true }, jsep: { type: 'offer', sdp: CHROME_OFFER } });
  await new Promise((r) => setTimeout(r, 700));
  await janusPost(`${base}/${s}/${h1}`, { janus: 'hangup' });
  await janusPost(`${base}/${s}/${h1}`, { janus: 'detach' });
  // h2 is still attached: destroying the session detaches it.
  await janusPost(`${base}/${s}`, { janus: 'destroy' });
  return ids;
}

async function run(start: (o: { sampleEvh: { backend: string } }) => Promise<RunningServer>): Promise<{ events: Ev[]; ids: Map<number, string>; col: HttpCollector }> {
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
  await new Promise((r) => setTimeout(r, 300));
  await col.close();
  return { events: col.events(), ids, col };
}

test('differential: sample event handler events, Janus 1.1.2 vs Portunus', { timeout: 120_000 }, async () => {
  const janus = await run((o) => startJanus(o));
  const portunus = await run((o) => startPortunus(o));
  const dump = process.env.EVH_DUMP === '1';
  const kinds = (evs: Ev[]) => [...new Set(evs.map((e) => `${e.type}${e.subtype !== undefined ? `/${e.subtype}` : ''}`))].sort();
  if (dump) {
    console.log('janus kinds', kinds(janus.events), '\nportunus kinds', kinds(portunus.events));
    console.log(JSON.stringify(janus.events.map((e) => mask(e, janus.ids)), null, 1).slice(0, 20000));
  }

  const compared = (r: { events: Ev[]; ids: Map<number, string> }) => r.events.filter((e) => [1, 2, 8].includes(e.type as number)).map((e) => mask(e, r.ids));
  const j = compared(janus);
  const p = compared(portunus);
  // The sequence itself must be there in Janus (validates the harness).
  assert.ok(j.length >= 7, `Janus sent ${JSON.stringify(j)}`);
  assert.deepEqual(p, j, `Portunus:\n${JSON.stringify(p, null, 1)}\nJanus:\n${JSON.stringify(j, null, 1)}`);

  // Key order too: collectors written against Janus's output may rely on it.
  const order = (r: { events: Ev[] }) => r.events.filter((e) => [1, 2, 8].includes(e.type as number)).map((e) => Object.keys(e).join(','));
  assert.deepEqual(order(portunus), order(janus));

  // Core "started": same outline (server_info's own contents are compared by test/e2e/differential).
  const started = (r: { events: Ev[] }) => r.events.find((e) => e.type === 256 && e.subtype === 1)!;
  const js = started(janus);
  const ps = started(portunus);
  assert.deepEqual(Object.keys(ps), Object.keys(js));
  assert.deepEqual(Object.keys(ps.event as Ev), Object.keys(js.event as Ev));
  assert.equal((ps.event as { status: string }).status, 'started');
  const pinfo = (ps.event as { info: Ev }).info;
  const jinfo = (js.event as { info: Ev }).info;
  assert.equal(pinfo.janus, jinfo.janus);
  assert.deepEqual(Object.keys(pinfo.events as Ev), Object.keys(jinfo.events as Ev));
  assert.equal(pinfo.event_handlers, true);

  // Shutdown (srv.stop() sends SIGTERM): the same event, flushed before exit by both.
  const shutdown = (r: { events: Ev[] }) => r.events.filter((e) => e.type === 256 && e.subtype === 2).map((e) => e.event);
  assert.deepEqual(shutdown(portunus), shutdown(janus));
  assert.deepEqual(shutdown(janus), [{ status: 'shutdown', signum: 15 }]);

  // The WebRTC hangup both send after the PeerConnection was set up.
  const hangup = (r: { events: Ev[]; ids: Map<number, string> }) =>
    r.events.filter((e) => e.type === 16 && (e.event as Ev).connection === 'hangup').map((e) => mask(e, r.ids));
  assert.deepEqual(hangup(portunus).map((e) => (e as Ev).event), hangup(janus).map((e) => (e as Ev).event));
});
