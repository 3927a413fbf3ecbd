/**
 * A burst of VideoRoom subscriber joins uses every media worker (issue 12, webinar join latency): while
 * the room's worker has 4 or more PeerConnections being set up (placed, not up yet), a subscriber join
 * goes to the worker with the fewest set-ups in flight; a PeerConnection that is up no longer counts,
 * and outside bursts subscribers stay on the room's worker (below `subscribers_spread_at`).
 * In-process pool of 2 workers, real SRTP/UDP clients on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { buildOffer, EXT, extmapsFor } from '../../src/media/sdp/negotiate.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { applyAnswer, makeClient, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import { answerOffer, makeVideoRoomWorld, ROOM } from './videoroom-world.js';

function publisherOffer(c: ClientPeer): string {
  const d = buildOffer([{ kind: 'video', mid: '0', direction: 'sendonly', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) }]);
  return c.peer.setLocalDescription(writeSdp(d), 'offer');
}

test('subscriber joins of a burst go to the worker with the fewest PeerConnections being set up; up ones do not count', { timeout: 150_000 }, async () => {
  const { dir, pool, vr, gw, attach, message, workerOf } = await makeVideoRoomWorld('vr-burst-');
  const clients: ClientPeer[] = [];
  try {
    const rw = vr.rooms.get(String(ROOM))!;
    assert.ok(rw, 'the jcfg room is placed');
    const other = pool.workers.find((w) => w !== rw)!;

    const pc = await makeClient();
    clients.push(pc);
    const ph = await attach();
    const joined = await message(ph.session, ph.handle, { request: 'join', ptype: 'publisher', room: ROOM });
    const pubId = joined.plugindata?.data['id'] as number;
    const conf = await message(ph.session, ph.handle, { request: 'configure', video: true }, { type: 'offer', sdp: publisherOffer(pc) });
    assert.ok(conf.jsep, JSON.stringify(conf));
    applyAnswer(pc, conf.jsep.sdp);
    await waitFor('publisher DTLS up', () => pc.up, 20_000);
    // The publisher's PeerConnection is up: nothing is being set up on the room's worker.
    await waitFor('the publisher no longer counts as being set up', () => rw.settingUpCount === 0, 20_000);

    // Eight joins whose clients do not answer yet: four stay on the room's worker, then the other
    // worker takes joins until it has as many set-ups in flight.
    const subs: Array<{ session: number; handle: number; offer: string; worker: number }> = [];
    for (let i = 0; i < 8; i++) {
      const h = await attach();
      const att = await message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId }] });
      assert.equal(att.plugindata?.data['videoroom'], 'attached', JSON.stringify(att));
      subs.push({ ...h, offer: att.jsep!.sdp, worker: await workerOf(h.session, h.handle) });
    }
    assert.deepEqual(subs.map((s) => s.worker), [rw, rw, rw, rw, other, other, other, other].map((w) => w.index), 'placement during the burst');
    assert.equal(rw.settingUpCount, 4);
    assert.equal(other.settingUpCount, 4);

    // The room's worker's four come up: they no longer count, the next join goes to the room's worker.
    for (const s of subs.slice(0, 4)) {
      const c = await makeClient();
      clients.push(c);
      const started = await message(s.session, s.handle, { request: 'start', room: ROOM }, { type: 'answer', sdp: answerOffer(c, s.offer) });
      assert.equal(started.plugindata?.data['started'], 'ok', JSON.stringify(started));
      await waitFor('subscriber DTLS up', () => c.up, 20_000);
    }
    await waitFor('the four up subscribers no longer count', () => rw.settingUpCount === 0, 20_000);
    const h = await attach();
    await message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId }] });
    assert.equal(await workerOf(h.session, h.handle), rw.index, 'no burst on the room worker: the join stays there');
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => pool.workers.every((x) => x.exited), 3000);
});
