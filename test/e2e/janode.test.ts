/**
 * janode (Meetecho's Node client) against Portunus over WebSocket: connect, create a session,
 * attach VideoRoom, create / list / exists / destroy a room, then close everything cleanly.
 * The same flow runs against the real Janus first (validates the harness).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Janode, { type JanodeConnection } from 'janode';
import VideoRoomPlugin, { type VideoRoomHandle } from 'janode/plugins/videoroom';
import { startJanus } from '../helpers/janus-ref.js';
import { startPortunus } from '../helpers/portunus.js';
import type { RunningServer } from '../helpers/server-process.js';
import { postJson } from '../helpers/janus-client.js';

Janode.Logger.setLevel('none');

const CONFIG = { stringIds: false, videoroomAdminKey: 'videoroom_key' } as const;
const servers: RunningServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function sessionsOf(srv: RunningServer): Promise<unknown[]> {
  const r = await postJson(srv.adminUrl, { janus: 'list_sessions', transaction: 'ls', admin_secret: srv.adminSecret });
  assert.equal(r.janus, 'success', `list_sessions: ${JSON.stringify(r)}`);
  return r.sessions as unknown[];
}

async function janodeFlow(srv: RunningServer): Promise<void> {
  const room = 880000 + Math.floor(Math.random() * 1000);
  let connection: JanodeConnection | undefined;
  try {
    connection = await Janode.connect({ is_admin: false, address: { url: srv.wsUrl }, max_retries: 1, retry_time_secs: 1 });
    const closed = new Promise<void>((resolve) => connection!.once(Janode.EVENT.CONNECTION_CLOSED!, () => resolve()));
    const session = await connection.create();
    assert.equal(typeof session.id, 'number', 'session id is a number');
    assert.ok((await sessionsOf(srv)).includes(session.id), 'the server lists the janode session');

    const handle = await session.attach<VideoRoomHandle>(VideoRoomPlugin);
    assert.equal(typeof handle.id, 'number', 'handle id is a number');

    const created = await handle.create({ room, description: 'janode e2e', secret: 'pw', admin_key: 'videoroom_key', max_publishers: 3 });
    assert.equal(created.room, room, `created: ${JSON.stringify(created)}`);

    const listed = await handle.list();
    const rooms = listed.list.map((r) => r.room);
    assert.ok(rooms.includes(room), `list must show room ${room}: ${JSON.stringify(rooms)}`);
    assert.ok(rooms.includes(9999), `list must show the configured room 9999: ${JSON.stringify(rooms)}`);
    assert.equal(listed.list.find((r) => r.room === room)?.description, 'janode e2e');

    const ex = await handle.exists({ room });
    assert.equal(ex.exists, true, `exists: ${JSON.stringify(ex)}`);

    const destroyed = await handle.destroy({ room, secret: 'pw' });
    assert.equal(destroyed.room, room, `destroyed: ${JSON.stringify(destroyed)}`);
    const ex2 = await handle.exists({ room });
    assert.equal(ex2.exists, false, 'room gone after destroy');

    const detached = new Promise<void>((resolve) => handle.once(Janode.EVENT.HANDLE_DETACHED!, () => resolve()));
    await handle.detach();
    await detached;
    const sessionDestroyed = new Promise<void>((resolve) => session.once(Janode.EVENT.SESSION_DESTROYED!, () => resolve()));
    await session.destroy();
    await sessionDestroyed;
    assert.ok(!(await sessionsOf(srv)).includes(session.id), 'session gone after destroy');

    await connection.close();
    await Promise.race([closed, new Promise((_, rej) => setTimeout(() => rej(new Error('janode connection did not report CONNECTION_CLOSED')), 3000))]);
    connection = undefined;
  } finally {
    if (connection) await connection.close().catch(() => undefined);
  }
}

test('janode against the real Janus (harness self-check)', async () => {
  const j = await startJanus(CONFIG);
  servers.push(j);
  await janodeFlow(j);
});

test('janode against Portunus: VideoRoom create/list/exists/destroy over WebSocket', async () => {
  const p = await startPortunus(CONFIG);
  servers.push(p);
  await janodeFlow(p);
  assert.ok(p.alive(), 'Portunus still running');
});
