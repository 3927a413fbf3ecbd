/**
 * `require_pvtid` across media workers, in-process: Gateway -> RoutingMediaPlane -> WorkerPool (2 worker
 * threads). A room created with `require_pvtid` lives on one worker; subscribers are forced onto the
 * other, which checks their `private_id` against its mirror of the room (mirror-members.ts).
 *
 * What must hold: a remote subscriber with a participant's private id joins (one known from the mirror's
 * snapshot, and one of a participant that joined after the mirror existed, told over the control lane)
 * and handle_info names the private id; a wrong, missing, or departed participant's private id is
 * refused with the local check's error (compared with a subscriber refused on the room's own worker);
 * a kicked participant's subscriptions end on both workers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { applyAnswer, clientOffer, makeClient, sleep, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import { makeVideoRoomWorld, type Ev } from './videoroom-world.js';

const PVT_ROOM = 88;

test('VideoRoom across workers: require_pvtid checks a remote subscriber\'s private_id against the room\'s participants', { timeout: 120_000 }, async () => {
  const w = await makeVideoRoomWorld('vr-pvtid-');
  const { pool, vr, gw, client, attach, message, workerOf } = w;
  const clients: ClientPeer[] = [];
  try {
    const admin = await attach();
    const created = await message(admin.session, admin.handle, { request: 'create', room: PVT_ROOM, publishers: 3, fir_freq: 0, require_pvtid: true });
    assert.equal(created.plugindata?.data['videoroom'], 'created', JSON.stringify(created));
    const rw = vr.rooms.get(String(PVT_ROOM))!;
    assert.ok(rw, 'the room is placed');
    const far = pool.workers.find((x) => x !== rw)!;

    // Publisher P (on the room's worker), publishing, so there is a feed to subscribe to.
    const pc = await makeClient();
    clients.push(pc);
    const ph = await attach();
    const pj = await message(ph.session, ph.handle, { request: 'join', ptype: 'publisher', room: PVT_ROOM, display: 'p' });
    assert.equal(pj.plugindata?.data['videoroom'], 'joined', JSON.stringify(pj));
    const pubId = pj.plugindata?.data['id'] as number;
    const pubPvt = pj.plugindata?.data['private_id'] as number;
    const conf = await message(ph.session, ph.handle, { request: 'configure', audio: true, video: true }, { type: 'offer', sdp: clientOffer(pc) });
    assert.ok(conf.jsep, JSON.stringify(conf));
    applyAnswer(pc, conf.jsep.sdp);
    await waitFor('publisher DTLS up', () => pc.up, 8000);
    await waitFor('the publisher webrtcup', () => (client.events as Ev[]).some((e) => e.janus === 'webrtcup' && (e as { sender?: number }).sender === ph.handle), 15_000);

    const subscribe = async (on: number, pvt: number | undefined) => {
      const h = await attach();
      vr.subscriberPlacement = () => pool.workers[on] ?? null;
      try {
        const ev = await message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room: PVT_ROOM, streams: [{ feed: pubId }], ...(pvt !== undefined ? { private_id: pvt } : {}) });
        return { ...h, ev, data: ev.plugindata?.data ?? {} };
      } finally {
        vr.subscriberPlacement = null;
      }
    };
    const privateIdOf = async (h: { session: number; handle: number }): Promise<unknown> => {
      const info = (await gw.admin.handle({ janus: 'handle_info', transaction: 'hi', session_id: h.session, handle_id: h.handle })) as { info?: { plugin_specific?: Record<string, unknown> } };
      return info.info?.plugin_specific?.['private_id'];
    };

    // The first remote subscriber makes the mirror: P's private id comes with its snapshot.
    const s1 = await subscribe(far.index, pubPvt);
    assert.equal(s1.data['videoroom'], 'attached', JSON.stringify(s1.data));
    assert.equal(await workerOf(s1.session, s1.handle), far.index, 'the subscriber sits on the other worker');
    assert.equal(await privateIdOf(s1), pubPvt, 'handle_info names the owner\'s private id');
    const local = await subscribe(rw.index, pubPvt);
    assert.equal(local.data['videoroom'], 'attached', JSON.stringify(local.data));
    assert.equal(await workerOf(local.session, local.handle), rw.index);

    // Refused: the local check's error, on either worker.
    const wrong = (pubPvt ^ 0x5a5a5a) >>> 0 || 1;
    const localBad = await subscribe(rw.index, wrong);
    assert.equal(localBad.data['error_code'], 433, JSON.stringify(localBad.data));
    const refusal = { error_code: localBad.data['error_code'], error: localBad.data['error'] };
    assert.equal(refusal.error, 'Unauthorized (this room requires a valid private_id)');
    for (const [what, pvt] of [['a wrong private_id', wrong], ['no private_id', undefined], ['private_id 0', 0]] as const) {
      const bad = await subscribe(far.index, pvt);
      assert.deepEqual({ error_code: bad.data['error_code'], error: bad.data['error'] }, refusal, `${what}: ${JSON.stringify(bad.data)}`);
      assert.notEqual(bad.data['videoroom'], 'attached');
    }

    // A participant who joins after the mirror exists: its private id reaches the mirror before its
    // `joined` answer reaches the client, so a subscription with it right away is accepted there.
    const qh = await attach();
    const qj = await message(qh.session, qh.handle, { request: 'join', ptype: 'publisher', room: PVT_ROOM, display: 'q' });
    assert.equal(qj.plugindata?.data['videoroom'], 'joined', JSON.stringify(qj));
    const qPvt = qj.plugindata?.data['private_id'] as number;
    const s2 = await subscribe(far.index, qPvt);
    assert.equal(s2.data['videoroom'], 'attached', JSON.stringify(s2.data));
    assert.equal(await privateIdOf(s2), qPvt);

    // Once it left, its private id is refused there.
    const left = await message(qh.session, qh.handle, { request: 'leave' });
    assert.equal(left.plugindata?.data['leaving'], 'ok', JSON.stringify(left));
    const s3 = await subscribe(far.index, qPvt);
    assert.deepEqual({ error_code: s3.data['error_code'], error: s3.data['error'] }, refusal, JSON.stringify(s3.data));

    // Kicking P ends the subscriptions opened with its private id, the remote one included.
    for (const s of [s1, local]) {
      const ok = await message(s.session, s.handle, { request: 'configure', substream: 1 });
      assert.equal(ok.plugindata?.data['configured'], 'ok', JSON.stringify(ok));
    }
    const kick = await message(admin.session, admin.handle, { request: 'kick', room: PVT_ROOM, id: pubId });
    assert.equal(kick.plugindata?.data['videoroom'], 'success', JSON.stringify(kick));
    for (const [name, s] of [['remote', s1], ['local', local]] as const) {
      let code: unknown;
      for (let i = 0; i < 40 && code !== 426; i++) {
        if (i > 0) await sleep(200);
        code = (await message(s.session, s.handle, { request: 'configure', substream: 1 })).plugindata?.data['error_code'];
      }
      assert.equal(code, 426, `the ${name} subscription of the kicked participant ends`);
    }
    // The subscription whose owner only left (s2) is not ended by the kick.
    await sleep(200);
    const still = await message(s2.session, s2.handle, { request: 'configure', substream: 1 });
    assert.equal(still.plugindata?.data['configured'], 'ok', JSON.stringify(still.plugindata?.data));
  } finally {
    vr.subscriberPlacement = null;
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(w.dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => pool.workers.every((x) => x.exited), 3000);
});
