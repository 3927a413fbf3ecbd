/**
 * janode's TextRoom wrapper (janode/plugins/textroom) against Portunus over WebSocket. janode is
 * signalling only, so each participant's PeerConnection is our own data-channel client
 * (test/helpers/datachannel-client.ts: ICE/DTLS/SCTP from src/media, UDP on 127.0.0.1), answering
 * the offer janode's setup() returns and handing the answer back through janode's ack().
 *
 * Two janode-driven participants: setup/ack, join (data channel), messages both ways and a
 * whisper, listParticipants / list / exists (janode), a second room created by janode and joined
 * on the same PeerConnections, announcement and kick (janode), leave (data channel), destroy
 * (janode), then detach / session destroy / connection close.
 *
 * The same flow runs against the real Janus 1.1.2 first (harness self-check; Janus ignores
 * loopback, so there the gateway and the client use the machine's address instead of 127.0.0.1).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import Janode, { type JanodeConnection, type JanodeHandle, type JanodeSession } from 'janode';
import { DataChannelClient, startTextroomGateway } from '../helpers/datachannel-client.js';
import { machineAddress } from '../helpers/media-server.js';
import type { JsonObject } from '../helpers/janus-client.js';
import type { RunningServer } from '../helpers/server-process.js';

Janode.Logger.setLevel('none');

/** The parts of janode's TextRoomHandle this test uses (janode ships no types). */
interface TextRoomHandle extends JanodeHandle {
  setup(): Promise<{ jsep?: { type: string; sdp: string } }>;
  ack(jsep: { type: 'answer'; sdp: string }): Promise<unknown>;
  list(params: { admin_key?: string }): Promise<{ list: { room: number | string; description?: string; num_participants?: number }[] }>;
  listParticipants(params: { room: number | string }): Promise<{ room: number | string; participants: { username: string; display?: string }[] }>;
  exists(params: { room: number | string }): Promise<{ room: number | string; exists: boolean }>;
  create(params: Record<string, unknown>): Promise<{ room: number | string; permanent?: boolean }>;
  announcement(params: { room: number | string; text: string; secret?: string }): Promise<unknown>;
  kick(params: { room: number | string; username: string; secret?: string }): Promise<unknown>;
  destroy(params: { room: number | string; secret?: string; permanent?: boolean }): Promise<{ room: number | string }>;
  /** janode's generic Janus API `message` (resolves with the raw reply). */
  message(body: Record<string, unknown>): Promise<unknown>;
}

// A variable specifier: TypeScript does not look for declarations of the untyped JS module.
const TEXTROOM_MODULE = 'janode/plugins/textroom';
const TextRoomPlugin = ((await import(TEXTROOM_MODULE)) as { default: { id: string } }).default;

const ROOM = 1234;
const servers: RunningServer[] = [];
const connections: JanodeConnection[] = [];
const clients: DataChannelClient[] = [];

after(async () => {
  for (const c of clients) c.close();
  await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  await Promise.all(servers.map((s) => s.stop()));
});

interface Participant {
  name: string;
  session: JanodeSession;
  handle: TextRoomHandle;
  dc: DataChannelClient;
}

async function participant(conn: JanodeConnection, name: string, address: string): Promise<Participant> {
  const session = await conn.create();
  const handle = await session.attach<TextRoomHandle>(TextRoomPlugin);
  assert.equal(typeof handle.id, 'number');
  const dc = await DataChannelClient.create({ name, address });
  clients.push(dc);
  const webrtcup = once(handle, Janode.EVENT.HANDLE_WEBRTCUP!);
  const setup = await handle.setup();
  assert.equal(setup.jsep?.type, 'offer', `setup() gives the gateway's offer: ${JSON.stringify(setup).slice(0, 300)}`);
  assert.match(setup.jsep!.sdp, /^m=application \d+ UDP\/DTLS\/SCTP webrtc-datachannel$/m, 'a data-channel-only offer');
  assert.doesNotMatch(setup.jsep!.sdp, /^m=(audio|video)/m);
  await handle.ack({ type: 'answer', sdp: dc.answer(setup.jsep!.sdp) });
  await dc.waitOpen(15_000);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([webrtcup, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`${name}: janode never reported webrtcup`)), 10_000)))]);
  } finally {
    clearTimeout(timer);
  }
  return { name, session, handle, dc };
}

const isEvent = (kind: string, extra: (m: JsonObject) => boolean = () => true) => (m: JsonObject) => m.textroom === kind && m.transaction === undefined && extra(m);

async function janodeFlow(kind: 'janus' | 'portunus'): Promise<void> {
  // Janus (libnice) gathers no loopback candidates: use the machine's address there.
  const where = kind === 'janus' ? machineAddress() : { iface: '127.0.0.1', address: '127.0.0.1' };
  const srv = await startTextroomGateway(kind, { enforce: where.iface });
  servers.push(srv);
  const t0 = Date.now();
  const connection = await Janode.connect({ is_admin: false, address: { url: srv.wsUrl }, max_retries: 1, retry_time_secs: 1 });
  connections.push(connection);
  /**
   * janode's listParticipants() needs "textroom":"success" in the reply: Janus 1.1.2 leaves it out
   * over the Janus API (fixed in later Janus; Portunus includes it), so against 1.1.2 janode
   * rejects and the data channel's listparticipants stands in.
   */
  const participantsOf = async (p: Participant, room: number): Promise<{ participants: { username: string; display?: string }[] }> => {
    if (kind === 'portunus') return p.handle.listParticipants({ room });
    await assert.rejects(p.handle.listParticipants({ room }), /unexpected response to listparticipants/, 'Janus 1.1.2: janode cannot read listparticipants');
    const r = await p.dc.request({ textroom: 'listparticipants', room });
    return r as unknown as { participants: { username: string; display?: string }[] };
  };
  /** janode's kick() wants "textroom":"success"; Janus 1.1.2 answers {"textbridge":"success"} (a typo), so there the raw request is checked. */
  const kick = async (p: Participant, params: { room: number; username: string; secret: string }): Promise<void> => {
    if (kind === 'portunus') {
      const r = (await p.handle.kick(params)) as { room?: number; username?: string };
      assert.equal(r.username, params.username);
      return;
    }
    await assert.rejects(p.handle.kick({ ...params, username: 'nobody-here' }), 'Janus 1.1.2: janode cannot read the kick reply');
    const raw = (await p.handle.message({ request: 'kick', ...params })) as { plugindata?: { data?: Record<string, unknown> } };
    assert.deepEqual(raw.plugindata?.data, { textbridge: 'success' }, 'the Janus 1.1.2 kick reply');
  };
  const alice = await participant(connection, 'alice', where.address);
  const bob = await participant(connection, 'bob', where.address);
  const setupMs = Date.now() - t0;

  // join (data channel only: janode has no join)
  const ja = await alice.dc.request({ textroom: 'join', room: ROOM, username: 'alice', display: 'Alice' });
  assert.deepEqual(ja.participants, [], `alice joins an empty room: ${JSON.stringify(ja)}`);
  const jb = await bob.dc.request({ textroom: 'join', room: ROOM, username: 'bob', display: 'Bob' });
  assert.deepEqual(jb.participants, [{ username: 'alice', display: 'Alice' }]);
  const joinEv = await alice.dc.waitJson(isEvent('join', (m) => m.username === 'bob'), 5000, 'bob\'s join at alice');
  assert.equal(joinEv.display, 'Bob');

  // messages both ways, then a whisper
  await alice.dc.request({ textroom: 'message', room: ROOM, text: 'hello bob' });
  const m1 = await bob.dc.waitJson(isEvent('message', (m) => m.from === 'alice'), 5000, 'alice\'s message at bob');
  assert.equal(m1.text, 'hello bob');
  assert.equal(m1.room, ROOM);
  assert.match(m1.date as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$/, 'date like Janus (%FT%T%z)');
  await bob.dc.request({ textroom: 'message', room: ROOM, text: 'hi alice' });
  const m2 = await alice.dc.waitJson(isEvent('message', (m) => m.from === 'bob'), 5000, 'bob\'s message at alice');
  assert.equal(m2.text, 'hi alice');
  const w = await alice.dc.request({ textroom: 'message', room: ROOM, to: 'bob', text: 'psst' });
  assert.equal(w.textroom, 'success');
  const wm = await bob.dc.waitJson(isEvent('message', (m) => m.text === 'psst'), 5000, 'the whisper at bob');
  assert.equal(wm.whisper, true);

  // janode: listParticipants / list / exists
  const lp = await participantsOf(alice, ROOM);
  assert.deepEqual(lp.participants.map((p) => `${p.username}/${p.display}`).sort(), ['alice/Alice', 'bob/Bob']);
  const rooms = await bob.handle.list({});
  const demo = rooms.list.find((r) => r.room === ROOM);
  assert.ok(demo, `list shows room ${ROOM}: ${JSON.stringify(rooms)}`);
  assert.equal(demo.num_participants, 2);
  assert.equal(demo.description, 'Demo Room');
  assert.equal((await alice.handle.exists({ room: ROOM })).exists, true);
  assert.equal((await alice.handle.exists({ room: 424242 })).exists, false);

  // janode creates a second room; both join it on the same PeerConnections
  const created = await alice.handle.create({ room: 5678, description: 'janode room', secret: 'pw', is_private: false });
  assert.equal(created.room, 5678);
  assert.equal(created.permanent, false);
  await alice.dc.request({ textroom: 'join', room: 5678, username: 'alice2' });
  await bob.dc.request({ textroom: 'join', room: 5678, username: 'bob2' });
  await bob.dc.request({ textroom: 'message', room: 5678, text: 'in the other room' });
  const m3 = await alice.dc.waitJson(isEvent('message', (m) => m.room === 5678), 5000, 'the room-5678 message at alice');
  assert.equal(m3.from, 'bob2');

  // announcement (janode, with the secret)
  await alice.handle.announcement({ room: 5678, text: 'attention', secret: 'pw' });
  for (const p of [alice, bob]) {
    const an = await p.dc.waitJson(isEvent('announcement'), 5000, `the announcement at ${p.name}`);
    assert.equal(an.text, 'attention');
    assert.equal(an.room, 5678);
  }
  await assert.rejects(alice.handle.announcement({ room: 5678, text: 'x', secret: 'wrong' }), 'a wrong secret makes janode reject');

  // leave (data channel): announced to the other
  const left = await bob.dc.request({ textroom: 'leave', room: ROOM });
  assert.equal(left.textroom, 'success');
  const lv = await alice.dc.waitJson(isEvent('leave', (m) => m.room === ROOM), 5000, 'bob\'s leave at alice');
  assert.equal(lv.username, 'bob');
  assert.deepEqual((await participantsOf(bob, ROOM)).participants.map((p) => p.username), ['alice']);

  // kick (janode): bob is out of room 5678
  await kick(alice, { room: 5678, username: 'bob2', secret: 'pw' });
  const kicked = await bob.dc.waitJson(isEvent('kicked'), 5000, 'the kick at bob');
  assert.equal(kicked.username, 'bob2');
  assert.deepEqual((await participantsOf(alice, 5678)).participants.map((p) => p.username), ['alice2']);

  // destroy (janode): alice, still in it, is told
  await assert.rejects(alice.handle.destroy({ room: 5678, secret: 'nope' }), 'destroy with a wrong secret is refused');
  const destroyed = await alice.handle.destroy({ room: 5678, secret: 'pw' });
  assert.equal(destroyed.room, 5678);
  await alice.dc.waitJson(isEvent('destroyed', (m) => m.room === 5678), 5000, 'destroyed at alice');
  assert.equal((await alice.handle.exists({ room: 5678 })).exists, false);

  // alice's channel still carries room 1234
  await alice.dc.request({ textroom: 'message', room: ROOM, text: 'still here' });
  await alice.dc.waitJson(isEvent('message', (m) => m.text === 'still here'), 5000, 'alice\'s own message echoed (as Janus does)');

  // teardown through janode
  for (const p of [alice, bob]) {
    const detached = once(p.handle, Janode.EVENT.HANDLE_DETACHED!);
    await p.handle.detach();
    await detached;
    await p.session.destroy();
  }
  await connection.close();
  connections.splice(connections.indexOf(connection), 1);
  assert.ok(srv.alive(), `${kind} still running`);
  console.log(`# janode textroom (${kind}): two participants set up in ${setupMs} ms, whole flow ${Date.now() - t0} ms`);
}

test('janode TextRoom wrapper against the real Janus 1.1.2 (harness self-check)', { timeout: 60_000 }, async () => {
  await janodeFlow('janus');
});

test('janode TextRoom wrapper against Portunus: setup/ack with a real data channel, join, messages, lists, leave', { timeout: 60_000 }, async () => {
  await janodeFlow('portunus');
});
