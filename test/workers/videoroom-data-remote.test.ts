/**
 * A VideoRoom publisher's data channel across media workers, in-process: Gateway -> RoutingMediaPlane
 * -> WorkerPool (2 worker threads), real SRTP/UDP/SCTP client peers on 127.0.0.1.
 *
 * The room sits on worker 0 (its jcfg room), the publisher with it; one subscriber of the publisher's
 * whole feed is local, one is forced onto the other worker, whose data-channel messages cross on the
 * packet lane (lane-data.ts). What must hold: both get the same messages, in order, with their
 * labels, text as text and binary as binary; a paused remote subscriber gets none until it starts
 * again; a moderated data stream reaches nobody; the local subscriber is not affected by the other's pause.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { applyAnswer, clientOffer, makeClient, sleep, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import { answerOffer, makeVideoRoomWorld, ROOM, type Ev } from './videoroom-world.js';

type Msg = { label: string; text: string; binary: boolean };

/**
 * Messages per label, in order. SCTP orders messages per channel (stream) only; a channel opened on the
 * way (DCEP) holds its first messages until it is open, so across labels the order may differ.
 */
function byLabel(ms: readonly Msg[]): Record<string, Array<[string, boolean]>> {
  const out: Record<string, Array<[string, boolean]>> = {};
  for (const m of ms) (out[m.label] ??= []).push([m.text, m.binary]);
  return out;
}

test('VideoRoom across workers: a publisher\'s data-channel messages reach a remote subscriber as they reach a local one', { timeout: 120_000 }, async () => {
  const { dir, pool, vr, gw, client, attach, message, workerOf } = await makeVideoRoomWorld('vr-data-');
  const clients: ClientPeer[] = [];
  try {
    const rw = vr.rooms.get(String(ROOM))!;
    assert.ok(rw, 'the jcfg room is placed');
    const other = pool.workers.find((w) => w !== rw)!;

    // Publisher: audio, video and a data channel (m=application), on the room's worker.
    const pc = await makeClient();
    clients.push(pc);
    const ph = await attach();
    const joined = await message(ph.session, ph.handle, { request: 'join', ptype: 'publisher', room: ROOM, display: 'chatty' });
    assert.equal(joined.plugindata?.data['videoroom'], 'joined', JSON.stringify(joined));
    const pubId = joined.plugindata?.data['id'] as number;
    const conf = await message(ph.session, ph.handle, { request: 'configure', audio: true, video: true, data: true }, { type: 'offer', sdp: clientOffer(pc) });
    assert.ok(conf.jsep, JSON.stringify(conf));
    const published = conf.plugindata?.data['streams'] as Array<{ type: string; mid: string }>;
    assert.ok(published.some((s) => s.type === 'data' && s.mid === '2'), JSON.stringify(published));
    applyAnswer(pc, conf.jsep.sdp);
    await waitFor('publisher DTLS up', () => pc.up, 8000);
    assert.equal(await workerOf(ph.session, ph.handle), rw.index);
    await waitFor('the publisher webrtcup', () => (client.events as Ev[]).some((e) => e.janus === 'webrtcup' && (e as { sender?: number }).sender === ph.handle), 15_000);

    // Subscribers of the whole feed (audio, video, data): one on the other worker, one on the room's.
    const placeOn = [other.index, rw.index];
    let next = 0;
    vr.subscriberPlacement = () => pool.workers[placeOn[next++]!] ?? null;
    const subs: Array<{ session: number; handle: number; c: ClientPeer }> = [];
    for (let i = 0; i < placeOn.length; i++) {
      const c = await makeClient();
      clients.push(c);
      const h = await attach();
      const att = await message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: pubId }] });
      assert.equal(att.plugindata?.data['videoroom'], 'attached', JSON.stringify(att));
      // The data m-line is offered wherever the subscriber sits (a mirror knows the data stream).
      const streams = att.plugindata?.data['streams'] as Array<{ type: string; active: boolean; source_ids?: number[] }>;
      const dataLine = streams.find((s) => s.type === 'data');
      assert.ok(dataLine?.active === true && dataLine.source_ids?.[0] === pubId, `subscriber ${i}: ${JSON.stringify(streams)}`);
      const started = await message(h.session, h.handle, { request: 'start' }, { type: 'answer', sdp: answerOffer(c, att.jsep!.sdp) });
      assert.equal(started.plugindata?.data['started'], 'ok', JSON.stringify(started));
      await waitFor(`subscriber ${i} DTLS up`, () => c.up, 8000);
      subs.push({ ...h, c });
    }
    vr.subscriberPlacement = null;
    assert.equal(await workerOf(subs[0]!.session, subs[0]!.handle), other.index, 'subscriber 0 sits on the other worker');
    assert.equal(await workerOf(subs[1]!.session, subs[1]!.handle), rw.index, 'subscriber 1 sits on the room\'s worker');
    const [remote, local] = subs as [(typeof subs)[0], (typeof subs)[0]];

    // Text and binary, on two labels, interleaved.
    const sent: Msg[] = [];
    const send = (label: string, m: string | Buffer): void => {
      pc.peer.sendData(label, m);
      sent.push({ label, text: typeof m === 'string' ? m : m.toString('utf8'), binary: typeof m !== 'string' });
    };
    const round = (tag: string, n: number): void => {
      for (let k = 0; k < n; k++) {
        send('chat', `${tag} text ${k} \u00e9\u2713`);
        if (k % 3 === 0) send('chat', Buffer.from([0x00, 0x01, 0x7f, 0x41 + (k % 26)]));
        if (k % 4 === 1) send('game', `${tag} state ${k}`);
      }
    };
    round('one', 20);
    const n1 = sent.length;
    for (const [name, s] of [['local', local], ['remote', remote]] as const) {
      await waitFor(`${name} subscriber gets ${n1} messages`, () => s.c.data.length >= n1, 10_000).catch((err: Error) => {
        throw new Error(`${err.message}: has ${s.c.data.length}: ${JSON.stringify(s.c.data.slice(-3))}`);
      });
    }
    assert.equal(local.c.data.length, n1);
    assert.equal(remote.c.data.length, n1);
    assert.deepEqual(byLabel(local.c.data), byLabel(sent), 'the local subscriber gets every message in order');
    assert.deepEqual(byLabel(remote.c.data), byLabel(sent), 'the remote subscriber gets the same messages, in the same order');
    assert.ok(remote.c.data.some((d) => d.binary) && remote.c.data.some((d) => !d.binary), 'text and binary');

    // A paused remote subscriber gets nothing; the local one still does; after start the remote one does again.
    const paused = await message(remote.session, remote.handle, { request: 'pause' });
    assert.equal(paused.plugindata?.data['paused'], 'ok', JSON.stringify(paused));
    round('two', 6);
    const n2 = sent.length;
    await waitFor('the local subscriber gets the second round', () => local.c.data.length >= n2, 10_000);
    await sleep(300);
    assert.equal(remote.c.data.length, n1, 'nothing reaches a paused remote subscriber');
    const resumed = await message(remote.session, remote.handle, { request: 'start' });
    assert.equal(resumed.plugindata?.data['started'], 'ok', JSON.stringify(resumed));
    round('three', 4);
    const n3 = sent.length;
    await waitFor('the remote subscriber gets the third round', () => remote.c.data.length >= n1 + (n3 - n2), 10_000);
    await waitFor('the local subscriber gets the third round', () => local.c.data.length >= n3, 10_000);
    assert.deepEqual(byLabel(remote.c.data.slice(n1)), byLabel(sent.slice(n2)), 'after start: the messages sent since, in order');
    assert.deepEqual(byLabel(local.c.data), byLabel(sent));

    // Moderation of the data stream (on the room's worker) silences it for both.
    const mod = await message(ph.session, ph.handle, { request: 'moderate', room: ROOM, id: pubId, mid: '2', mute: true });
    assert.equal(mod.plugindata?.data['videoroom'], 'success', JSON.stringify(mod));
    send('chat', 'muted');
    await sleep(500);
    assert.equal(local.c.data.length, n3, 'a moderated data stream reaches no local subscriber');
    assert.equal(remote.c.data.length, n1 + (n3 - n2), 'nor a remote one');
    const unmod = await message(ph.session, ph.handle, { request: 'moderate', room: ROOM, id: pubId, mid: '2', mute: false });
    assert.equal(unmod.plugindata?.data['videoroom'], 'success', JSON.stringify(unmod));
    send('chat', 'unmuted');
    await waitFor('both get the message after unmoderation', () => local.c.data.at(-1)?.text === 'unmuted' && remote.c.data.at(-1)?.text === 'unmuted', 10_000);
    assert.ok(!remote.c.data.some((d) => d.text === 'muted') && !local.c.data.some((d) => d.text === 'muted'));
  } finally {
    vr.subscriberPlacement = null;
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => pool.workers.every((x) => x.exited), 3000);
});
