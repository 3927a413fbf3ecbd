/**
 * A VideoRoom subscriber join through the media worker pool costs as few main <-> worker round trips as
 * it can (issue 12, burst joins): the worker merges the subscriber offer into its PeerConnection when
 * the plugin pushes it (pushEvent `local`), so main never calls `localJsep` for it. Real worker threads,
 * real UDP/DTLS clients on 127.0.0.1; subscribers both on the room's worker and on the other one. And the
 * subscriber's `start` carries its answer in the same call (handleMessage `remote`): no remoteJsep call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { buildOffer, EXT, extmapsFor } from '../../src/media/sdp/negotiate.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import type { MainCall } from '../../src/workers/protocol.js';
import { applyAnswer, makeClient, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import type { Ev } from './pool-world.js';
import { answerOffer, makeVideoRoomWorld, ROOM } from './videoroom-world.js';

function publisherOffer(c: ClientPeer): string {
  const d = buildOffer([{ kind: 'video', mid: '0', direction: 'sendonly', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) }]);
  return c.peer.setLocalDescription(writeSdp(d), 'offer');
}

test('VideoRoom subscriber joins through the pool: the offer comes merged by the worker (no localJsep call), the PeerConnection comes up on either worker', { timeout: 90_000 }, async () => {
  const { dir, pool, vr, gw, client, attach, message, workerOf } = await makeVideoRoomWorld('vr-joins-');
  const clients: ClientPeer[] = [];
  // Every call main makes into a worker, by kind.
  const calls: string[] = [];
  for (const w of pool.workers) {
    const orig = w.call.bind(w);
    w.call = <T>(c: MainCall): Promise<T> => {
      calls.push(c.m === 'handleMessage' && c.remote !== undefined ? 'handleMessage+jsep' : c.m);
      return orig<T>(c);
    };
  }
  try {
    const rw = vr.rooms.get(String(ROOM))!;
    const other = pool.workers.find((w) => w !== rw)!;
    const pc = await makeClient();
    clients.push(pc);
    const ph = await attach();
    const joined = await message(ph.session, ph.handle, { request: 'join', ptype: 'publisher', room: ROOM, display: 'speaker' });
    const pubId = joined.plugindata?.data['id'] as number;
    const conf = await message(ph.session, ph.handle, { request: 'configure', audio: false, video: true }, { type: 'offer', sdp: publisherOffer(pc) });
    assert.ok(conf.jsep, JSON.stringify(conf));
    // The publisher's answer was merged by the worker too (its PeerConnection is bound there).
    assert.match(conf.jsep.sdp, /a=fingerprint:sha-256 /);
    applyAnswer(pc, conf.jsep.sdp);
    await waitFor('publisher DTLS up', () => pc.up, 8000);
    // The client's DTLS can finish before the server's (then the plugin has not seen setupMedia yet and
    // the feed is not active: "No such feed"). Subscribe after `webrtcup`, as a Janus client would: main
    // hands setupMedia to the room's worker before anything it routes there afterwards.
    await waitFor('the publisher webrtcup', () => (client.events as Ev[]).some((e) => e.janus === 'webrtcup' && e.sender === ph.handle), 15_000);

    const placeOn = [rw.index, other.index, rw.index, other.index];
    let next = 0;
    vr.subscriberPlacement = () => pool.workers[placeOn[next++]!] ?? null;
    const from = calls.length;
    for (let i = 0; i < placeOn.length; i++) {
      const c = await makeClient();
      clients.push(c);
      const h = await attach();
      const att = await message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId, mid: '0' }] });
      assert.equal(att.plugindata?.data['videoroom'], 'attached', JSON.stringify(att));
      assert.ok(att.jsep, 'attached carries an offer');
      // Merged: our ICE credentials, fingerprint and candidates are in it.
      assert.match(att.jsep.sdp, /a=ice-ufrag:\S+/);
      assert.match(att.jsep.sdp, /a=fingerprint:sha-256 /);
      assert.match(att.jsep.sdp, /a=candidate:/);
      const started = await message(h.session, h.handle, { request: 'start', room: ROOM }, { type: 'answer', sdp: answerOffer(c, att.jsep.sdp) });
      assert.equal(started.plugindata?.data['started'], 'ok', JSON.stringify(started));
      await waitFor(`subscriber ${i} DTLS up`, () => c.up, 8000);
      assert.equal(await workerOf(h.session, h.handle), placeOn[i]);
    }
    const joinCalls = calls.slice(from);

    // An answer the worker's plane refuses (no ICE credentials): the plugin never sees that `start`
    // (the error is the plane's, 465), and the same subscriber starts with a good answer afterwards.
    const bad = await makeClient();
    clients.push(bad);
    const bh = await attach();
    const batt = await message(bh.session, bh.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId, mid: '0' }] });
    assert.ok(batt.jsep, JSON.stringify(batt));
    const good = answerOffer(bad, batt.jsep.sdp);
    const broken = good.replace(/a=ice-ufrag:.*\r\n/g, '').replace(/a=ice-pwd:.*\r\n/g, '');
    const refused = await message(bh.session, bh.handle, { request: 'start', room: ROOM }, { type: 'answer', sdp: broken });
    assert.equal(refused.janus, 'error', JSON.stringify(refused));
    assert.equal((refused as { error?: { code?: number } }).error?.code, 465, JSON.stringify(refused));
    const ok = await message(bh.session, bh.handle, { request: 'start', room: ROOM }, { type: 'answer', sdp: good });
    assert.equal(ok.plugindata?.data['started'], 'ok', JSON.stringify(ok));
    await waitFor('the refused subscriber DTLS up after a good answer', () => bad.up, 8000);
    assert.equal(joinCalls.filter((m) => m === 'localJsep').length, 0, `calls: ${joinCalls.join(',')}`);
    // Per subscriber: join, and start with its answer in the same call (the worker applies the JSEP,
    // then the plugin gets the message): two calls, no remoteJsep of its own.
    assert.equal(joinCalls.filter((m) => m === 'remoteJsep').length, 0, `calls: ${joinCalls.join(',')}`);
    assert.equal(joinCalls.filter((m) => m === 'handleMessage+jsep').length, placeOn.length, `calls: ${joinCalls.join(',')}`);
    assert.equal(joinCalls.filter((m) => m === 'handleMessage').length, placeOn.length, `calls: ${joinCalls.join(',')}`);
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => pool.workers.every((x) => x.exited), 3000);
});
