/**
 * VideoRoom plugin events (type 64 payloads) as the plugin hands them to the host: names, keys and
 * key order as Janus 1.1.2 sends them, which handle they name, and silence with `events = false`
 * or when no event handler listens. The end-to-end path (host -> sample handler) is covered by
 * events.test.ts; the comparison with Janus itself by plugin-differential.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PluginSession } from '../../src/core/plugin.js';
import { Harness, SEED_VIDEOROOM_JCFG, type TestSession } from '../plugins/videoroom/harness.js';
import { CHROME_OFFER } from '../plugins/videoroom/fixtures.js';

type Data = Record<string, unknown>;
interface Noted {
  handle: number | null;
  data: Data;
}

async function withEvents(jcfg: string, enabled = true): Promise<{ h: Harness; noted: Noted[]; builds: { n: number } }> {
  const h = await Harness.start(jcfg);
  const noted: Noted[] = [];
  const builds = { n: 0 };
  Object.assign(h.host, {
    eventsEnabled: () => enabled,
    notifyEvent: (s: PluginSession | null, data: Data) => {
      builds.n++;
      noted.push({ handle: s?.handleId ?? null, data });
    },
  });
  return { h, noted, builds };
}

// The seed config uses string_ids.
const ROOM = '5151';

async function scenario(h: Harness): Promise<{ pub: TestSession; other: TestSession; id: string }> {
  const pub = h.attach();
  const other = h.attach();
  const created = await h.sync(pub, { request: 'create', room: ROOM, admin_key: 'videoroom_key' });
  assert.equal(created.videoroom, 'created', JSON.stringify(created));
  const joined = await h.async(pub, { request: 'join', ptype: 'publisher', room: ROOM, display: 'alice' });
  await h.async(other, { request: 'join', ptype: 'publisher', room: ROOM });
  const id = joined.id as string;
  await h.async(pub, { request: 'configure', bitrate: 256000 });
  const conf = await h.asyncFull(pub, { request: 'publish' }, { type: 'offer', sdp: CHROME_OFFER });
  assert.ok(conf.jsep, 'publish answered with a JSEP');
  h.plugin.setupMedia(pub);
  await h.sync(pub, { request: 'moderate', room: ROOM, id, mid: '0', mute: true });
  await h.async(pub, { request: 'unpublish' });
  h.plugin.hangupMedia(pub);
  await h.async(pub, { request: 'leave' });
  const otherId = ((await h.sync(other, { request: 'listparticipants', room: ROOM })).participants as Data[])[0]!.id;
  await h.sync(other, { request: 'kick', room: ROOM, id: otherId });
  await h.sync(other, { request: 'destroy', room: ROOM });
  return { pub, other, id };
}

test('VideoRoom: create/join/configure/publish/moderate/unpublish/leave/kick/destroy events with Janus shapes', async () => {
  const { h, noted } = await withEvents(SEED_VIDEOROOM_JCFG);
  const { pub, other, id } = await scenario(h);
  const names = noted.map((n) => (n.data.event ?? n.data.videoroom) as string);
  assert.deepEqual(names, ['created', 'joined', 'joined', 'configured', 'configured', 'published', 'moderated', 'unpublished', 'leaving', 'kicked', 'destroyed']);
  const [created, joined, , configured, , published, moderated, unpublished, leaving, kicked, destroyed] = noted;
  assert.deepEqual(created, { handle: pub.handleId, data: { event: 'created', room: ROOM } });
  assert.equal(joined!.handle, pub.handleId);
  assert.deepEqual(Object.keys(joined!.data), ['event', 'room', 'id', 'private_id', 'display']);
  assert.equal(joined!.data.display, 'alice');
  assert.ok(Number.isInteger(joined!.data.private_id));
  assert.deepEqual(configured, { handle: pub.handleId, data: { event: 'configured', room: ROOM, id, bitrate: 256000 } });
  assert.equal(published!.handle, pub.handleId);
  assert.deepEqual(Object.keys(published!.data), ['event', 'room', 'id', 'display', 'streams']);
  const streams = published!.data.streams as Data[];
  assert.deepEqual(streams.map((s) => [s.type, s.mindex, s.mid, s.codec]), [['audio', 0, '0', 'opus'], ['video', 1, '1', 'vp8']]);
  assert.deepEqual(moderated, { handle: null, data: { videoroom: 'moderated', room: ROOM, id, mid: '0', moderation: 'muted' } });
  // One `unpublished` for the unpublish request, none again for the hangup that follows it.
  assert.deepEqual(unpublished, { handle: null, data: { event: 'unpublished', room: ROOM, id } });
  assert.deepEqual(leaving, { handle: null, data: { event: 'leaving', room: ROOM, id } });
  assert.equal(kicked!.handle, null);
  assert.equal(kicked!.data.event, 'kicked');
  assert.deepEqual(destroyed, { handle: other.handleId, data: { event: 'destroyed', room: ROOM } });
});

test('VideoRoom: Admin API create names no handle; detaching a joined publisher reports unpublished then leaving', async () => {
  const { h, noted } = await withEvents(SEED_VIDEOROOM_JCFG);
  const r = await h.plugin.handleAdminMessage({ request: 'create', room: '77', admin_key: 'videoroom_key' });
  assert.equal(r.videoroom, 'created', JSON.stringify(r));
  const s = h.attach();
  const j = await h.async(s, { request: 'join', ptype: 'publisher', room: '77' });
  h.detach(s);
  assert.deepEqual(noted.map((n) => [n.handle, n.data]), [
    [null, { event: 'created', room: '77' }],
    [s.handleId, { event: 'joined', room: '77', id: j.id, private_id: j.private_id }],
    [null, { event: 'unpublished', room: '77', id: j.id }],
    [null, { event: 'leaving', room: '77', id: j.id }],
  ]);
});

test('VideoRoom: events = false in the jcfg, or no event handler listening: nothing is built or sent', async () => {
  const off = SEED_VIDEOROOM_JCFG.replace('general: {', 'general: {\n  events = false');
  assert.notEqual(off, SEED_VIDEOROOM_JCFG, 'the seed has a general category to extend');
  const a = await withEvents(off);
  await scenario(a.h);
  assert.equal(a.builds.n, 0);
  const b = await withEvents(SEED_VIDEOROOM_JCFG, false);
  await scenario(b.h);
  assert.equal(b.builds.n, 0);
});

test('VideoRoom: events = false with a host that observes events (cluster mode): the same events, each marked internal', async () => {
  const off = SEED_VIDEOROOM_JCFG.replace('general: {', 'general: {\n  events = false');
  const on = await withEvents(SEED_VIDEOROOM_JCFG);
  await scenario(on.h);
  const h = await Harness.start(off);
  const noted: { data: Data; internal: boolean | undefined }[] = [];
  Object.assign(h.host, {
    eventsEnabled: () => true,
    observesEvents: () => true,
    notifyEvent: (_s: PluginSession | null, data: Data, internal?: boolean) => noted.push({ data, internal }),
  });
  await scenario(h);
  // Only the random ids differ between the two runs: compare the event names in order.
  const names = (l: Data[]) => l.map((d) => String(d.event ?? d.videoroom));
  assert.deepEqual(names(noted.map((n) => n.data)), names(on.noted.map((n) => n.data)));
  assert.ok(noted.some((n) => n.data.event === 'leaving') && noted.some((n) => n.data.event === 'kicked'), JSON.stringify(noted));
  assert.ok(noted.every((n) => n.internal === true), 'every event is marked internal: never for the event handlers');
});
