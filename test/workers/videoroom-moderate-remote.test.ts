/**
 * A mirror's copy of a publisher's stream flags and identity follows the room's worker, in-process over
 * two worker threads with real SRTP/UDP client peers: a video stream muted by `moderate` before a
 * remote subscriber joined (so the mirror's snapshot has it muted) reaches that subscriber once it is
 * unmuted, as it reaches a local one; muted again, neither gets it; a `configure` display change shows
 * in the remote subscriber's stream list (handle_info `feed_display`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { applyAnswer, clientOffer, makeClient, rtpPacket, sleep, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import { answerOffer, makeVideoRoomWorld, ROOM, type Ev } from './videoroom-world.js';

/** VP8 payload: descriptor (S=1) and a keyframe tag, so subscribers take it as decodable video. */
function vp8(counter: number): Buffer {
  const b = Buffer.alloc(120, 0x55);
  b[0] = 0x10;
  b[1] = 0x10;
  b[2] = 0x02;
  b[3] = 0x00;
  b[4] = 0x9d;
  b[5] = 0x01;
  b[6] = 0x2a;
  b.writeUInt32BE(counter, 100);
  return b;
}

test('VideoRoom across workers: unmoderating a stream muted before the mirror existed reaches the remote subscriber; display changes reach it too', { timeout: 120_000 }, async () => {
  const { dir, pool, vr, gw, client, attach, message, workerOf } = await makeVideoRoomWorld('vr-mod-');
  const clients: ClientPeer[] = [];
  let sending = false;
  try {
    const rw = vr.rooms.get(String(ROOM))!;
    const other = pool.workers.find((w) => w !== rw)!;

    const pc = await makeClient();
    clients.push(pc);
    const ph = await attach();
    const joined = await message(ph.session, ph.handle, { request: 'join', ptype: 'publisher', room: ROOM, display: 'before' });
    const pubId = joined.plugindata?.data['id'] as number;
    const conf = await message(ph.session, ph.handle, { request: 'configure', audio: true, video: true }, { type: 'offer', sdp: clientOffer(pc) });
    assert.ok(conf.jsep, JSON.stringify(conf));
    applyAnswer(pc, conf.jsep.sdp);
    await waitFor('publisher DTLS up', () => pc.up, 8000);
    await waitFor('the publisher webrtcup', () => (client.events as Ev[]).some((e) => e.janus === 'webrtcup' && (e as { sender?: number }).sender === ph.handle), 15_000);

    // Muted before anyone subscribes: the other worker's mirror is made with the stream muted.
    const mute = async (on: boolean): Promise<void> => {
      const r = await message(ph.session, ph.handle, { request: 'moderate', room: ROOM, id: pubId, mid: '1', mute: on });
      assert.equal(r.plugindata?.data['videoroom'], 'success', JSON.stringify(r));
    };
    await mute(true);

    const placeOn = [other.index, rw.index];
    let next = 0;
    vr.subscriberPlacement = () => pool.workers[placeOn[next++]!] ?? null;
    const subs: Array<{ session: number; handle: number; c: ClientPeer }> = [];
    for (let i = 0; i < placeOn.length; i++) {
      const c = await makeClient();
      clients.push(c);
      const h = await attach();
      const att = await message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId, mid: '1' }] });
      assert.equal(att.plugindata?.data['videoroom'], 'attached', JSON.stringify(att));
      const started = await message(h.session, h.handle, { request: 'start' }, { type: 'answer', sdp: answerOffer(c, att.jsep!.sdp) });
      assert.equal(started.plugindata?.data['started'], 'ok', JSON.stringify(started));
      await waitFor(`subscriber ${i} DTLS up`, () => c.up, 8000);
      subs.push({ ...h, c });
    }
    vr.subscriberPlacement = null;
    const [remote, local] = subs as [(typeof subs)[0], (typeof subs)[0]];
    assert.equal(await workerOf(remote.session, remote.handle), other.index);
    assert.equal(await workerOf(local.session, local.handle), rw.index);

    let counter = 0;
    sending = true;
    const pump = (async () => {
      while (sending) {
        counter++;
        pc.peer.sendRtp('1', rtpPacket(96, 5000 + counter, counter * 3000, 0xabc, vp8(counter)), 12 + 120);
        await sleep(10);
      }
    })();
    const video = (c: ClientPeer): number => c.rtp.filter((p) => p.stream.kind === 'video').length;

    await sleep(400);
    assert.equal(video(local.c), 0, 'muted: nothing reaches the local subscriber');
    assert.equal(video(remote.c), 0, 'nor the remote one');

    await mute(false);
    await waitFor('video at both subscribers after the unmute', () => video(local.c) >= 20 && video(remote.c) >= 20, 10_000).catch((err: Error) => {
      throw new Error(`${err.message}: local ${video(local.c)}, remote ${video(remote.c)}`);
    });

    await mute(true);
    await sleep(300);
    const at = [video(local.c), video(remote.c)];
    await sleep(400);
    assert.deepEqual([video(local.c), video(remote.c)], at, 'muted again: nothing more reaches either');
    sending = false;
    await pump;

    // The publisher's new display name shows in the remote subscriber's stream list as in the local one's.
    const renamed = await message(ph.session, ph.handle, { request: 'configure', display: 'after' });
    assert.equal(renamed.plugindata?.data['configured'], 'ok', JSON.stringify(renamed));
    const feedDisplay = async (h: { session: number; handle: number }): Promise<unknown> => {
      const info = (await gw.admin.handle({ janus: 'handle_info', transaction: 'hi', session_id: h.session, handle_id: h.handle })) as { info?: { plugin_specific?: { streams?: Array<{ feed_display?: string }> } } };
      return info.info?.plugin_specific?.streams?.[0]?.feed_display;
    };
    assert.equal(await feedDisplay(local), 'after');
    let shown: unknown;
    for (let i = 0; i < 25 && shown !== 'after'; i++) {
      if (i > 0) await sleep(200);
      shown = await feedDisplay(remote);
    }
    assert.equal(shown, 'after', 'the remote subscriber\'s stream list names the publisher as it is now');
  } finally {
    sending = false;
    vr.subscriberPlacement = null;
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => pool.workers.every((x) => x.exited), 3000);
});
