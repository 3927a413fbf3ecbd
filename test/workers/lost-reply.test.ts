/**
 * Every request through the media worker pool gets exactly one answer, whatever a worker does (issue 12:
 * under load a subscriber `join` went unanswered for good while the other joins carried on). Real worker
 * threads, real UDP/DTLS clients on 127.0.0.1, the worker's one-shot test seams (plugin-worker.ts
 * testSeam) standing in for what was seen under load:
 * - a call the worker never answers: main fails it at the deadline (a Janus error for the request);
 * - a subscriber offer whose PeerConnection never comes: the event goes with an error at the deadline,
 *   and the worker's later messages (another subscriber's join on the same worker) are not held behind it;
 * - a join the worker does only after main failed it: what it did is undone there (its event never reaches
 *   the client, its PeerConnection is hung up, the handle's plugin state reset), so the client can join
 *   again on the same handle (without the undo: "Already in as a subscriber on this handle").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { buildOffer, EXT, extmapsFor } from '../../src/media/sdp/negotiate.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { applyAnswer, makeClient, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import type { Ev } from './pool-world.js';
import { answerOffer, makeVideoRoomWorld, ROOM } from './videoroom-world.js';

const DEADLINE_MS = 3000;

function publisherOffer(c: ClientPeer): string {
  const d = buildOffer([{ kind: 'video', mid: '0', direction: 'sendonly', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) }]);
  return c.peer.setLocalDescription(writeSdp(d), 'offer');
}

test('a call a worker never answers, or a subscriber offer that never gets its PeerConnection: every request is answered', { timeout: 120_000 }, async () => {
  const { dir, pool, vr, gw, client, attach, message, workerOf } = await makeVideoRoomWorld('vr-lost-', DEADLINE_MS);
  const clients: ClientPeer[] = [];
  try {
    const rw = vr.rooms.get(String(ROOM))!;
    const pc = await makeClient();
    clients.push(pc);
    const ph = await attach();
    const joined = await message(ph.session, ph.handle, { request: 'join', ptype: 'publisher', room: ROOM, display: 'speaker' });
    const pubId = joined.plugindata?.data['id'] as number;
    const conf = await message(ph.session, ph.handle, { request: 'configure', audio: false, video: true }, { type: 'offer', sdp: publisherOffer(pc) });
    assert.ok(conf.jsep, JSON.stringify(conf));
    applyAnswer(pc, conf.jsep.sdp);
    await waitFor('publisher DTLS up', () => pc.up, 8000);
    await waitFor('the publisher webrtcup', () => (client.events as Ev[]).some((e) => e.janus === 'webrtcup' && e.sender === ph.handle), 15_000);
    // Every subscriber on the room's worker: the one whose calls the seams hold up is there.
    vr.subscriberPlacement = () => rw;
    const subscribe = async (h: { session: number; handle: number }) => {
      const c = await makeClient();
      clients.push(c);
      const att = await message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId, mid: '0' }] });
      assert.equal(att.plugindata?.data['videoroom'], 'attached', JSON.stringify(att));
      assert.ok(att.jsep, JSON.stringify(att));
      const started = await message(h.session, h.handle, { request: 'start', room: ROOM }, { type: 'answer', sdp: answerOffer(c, att.jsep.sdp) });
      assert.equal(started.plugindata?.data['started'], 'ok', JSON.stringify(started));
      await waitFor('subscriber DTLS up', () => c.up, 8000);
      assert.equal(await workerOf(h.session, h.handle), rw.index);
    };

    // 1. The worker never answers the join's call: the request fails at the deadline with a Janus error.
    const b = await attach();
    vr.injectFault('worker_call_drop', b.handle);
    const t0 = performance.now();
    const lost = await message(b.session, b.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId, mid: '0' }] });
    assert.equal(lost.janus, 'error', JSON.stringify(lost));
    assert.match(JSON.stringify(lost), /did not answer/);
    assert.ok(performance.now() - t0 >= DEADLINE_MS - 100, 'not before the deadline');
    assert.equal(rw.callsTimedOut, 1);

    // 2. The subscriber offer's PeerConnection never comes: its join gets the plane's error at the
    // deadline, and a second subscriber's join on the same worker, sent meanwhile, is answered too.
    const c = await attach();
    const d = await attach();
    vr.injectFault('local_jsep_stall', c.handle);
    const tx = `stall${Date.now()}`;
    const ack = await gw.handle({ janus: 'message', session_id: c.session, handle_id: c.handle, transaction: tx, body: { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId, mid: '0' }] } }, client);
    assert.equal(ack.janus, 'ack', JSON.stringify(ack));
    const other = subscribe(d);
    const stalled = await waitFor('the stalled join answered', () => (client.events as Ev[]).find((e) => e.transaction === tx), DEADLINE_MS + 10_000);
    assert.equal(stalled.jsep, undefined, JSON.stringify(stalled));
    assert.ok(stalled.plugindata?.data['error_code'] !== undefined, JSON.stringify(stalled));
    await other;
    // And the worker goes on answering.
    const e = await attach();
    await subscribe(e);

    // 3. The worker does the join only after main gave up on it: the client has its error, the late
    // success is undone on the worker, the late event is not delivered, and the same handle joins again.
    const f = await attach();
    vr.injectFault('worker_call_late', f.handle);
    const lateTx = `late${Date.now()}`;
    const late = await gw.handle({ janus: 'message', session_id: f.session, handle_id: f.handle, transaction: lateTx, body: { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId, mid: '0' }] } }, client);
    assert.equal(late.janus, 'error', JSON.stringify(late));
    assert.match(JSON.stringify(late), /did not answer/);
    await waitFor('the late success undone', () => rw.lateUndone === 1, 10_000);
    assert.equal(rw.callsTimedOut, 2);
    assert.equal((client.events as Ev[]).filter((x) => x.transaction === lateTx).length, 0, 'no event for the failed request');
    await subscribe(f);
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => pool.workers.every((x) => x.exited), 3000);
});
