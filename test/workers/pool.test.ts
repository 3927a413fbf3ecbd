/**
 * The media worker pool, in-process: Gateway -> RoutingMediaPlane -> WorkerPool (2 worker threads) with
 * AudioBridge and EchoTest loaded in both, real SRTP/UDP clients on 127.0.0.1.
 *
 * What must hold: the jcfg's rooms and API-created rooms are spread over the workers (the placement is
 * visible in handle_info's `plugin_specific.portunus.worker` and in the per-worker load); media flows in rooms on both
 * workers; EchoTest handles spread over both; a join for a room on another worker than the handle's
 * PeerConnection is refused with a plugin error; a worker that dies hangs up only its own
 * PeerConnections, the other worker's room keeps mixing, and the dead worker's jcfg room comes back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIOBRIDGE_PACKAGE } from '../../src/plugins/audiobridge/plugin.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { applyAnswer, clientOffer, makeClient, rtpPacket, type ClientPeer } from '../media/peer/helpers.js';
import { decodeReceived, goertzelAmplitude, joinParticipant, sleep, ToneSender, waitFor, type AbParticipant } from '../plugins/audiobridge/net.js';
import { ECHO, makeWorld } from './pool-world.js';

/** The loudest `freq` in up to three 1.2 s windows (a loaded machine may starve one), stopping over 1000. */
async function hears(listener: AbParticipant, freq: number): Promise<number> {
  let best = 0;
  for (let i = 0; i < 3 && best <= 1000; i++) {
    const from = listener.client.rtp.length;
    await sleep(1200);
    best = Math.max(best, goertzelAmplitude(decodeReceived(listener.client, 48000, from), 48000, freq));
  }
  return best;
}

test('media worker pool: rooms spread over two workers, media in each, EchoTest spread, cross-worker join refused, a dead worker hangs up only its own PeerConnections', { timeout: 120_000 }, async () => {
  const { dir, pool, ab, gw, routed, client, w, attach, message, workerOf } = await makeWorld(2);
  const clients: ClientPeer[] = [];
  const senders: ToneSender[] = [];
  try {
    // The jcfg rooms went one to each worker.
    assert.deepEqual([ab.rooms.get('7')?.index, ab.rooms.get('8')?.index].sort(), [0, 1]);

    // API create picks the least loaded worker: two new rooms, one on each.
    const admin = await attach();
    const c1 = await message(admin.session, admin.handle, { request: 'create', room: 21, sampling_rate: 48000 });
    const c2 = await message(admin.session, admin.handle, { request: 'create', room: 22, sampling_rate: 48000 });
    assert.equal(c1.plugindata?.data['audiobridge'], 'created', JSON.stringify(c1));
    assert.equal(c2.plugindata?.data['audiobridge'], 'created', JSON.stringify(c2));
    assert.notEqual(ab.rooms.get('21'), ab.rooms.get('22'), 'two created rooms landed on the same worker');
    // A taken id is refused wherever the room lives, as Janus does.
    const dup = await message(admin.session, admin.handle, { request: 'create', room: 7 });
    assert.equal(dup.plugindata?.data['error_code'], 486, JSON.stringify(dup));
    // `list` merges both workers' rooms.
    const list = await message(admin.session, admin.handle, { request: 'list' });
    assert.deepEqual(((list.plugindata?.data['list'] as Array<{ room: number }>) ?? []).map((r) => r.room).sort((x, y) => x - y), [7, 8, 21, 22]);

    // Two participants in room 7 and two in room 8: each pair on its room's worker, each hears the other.
    const r7 = ab.rooms.get('7')!.index;
    const r8 = ab.rooms.get('8')!.index;
    const a7 = await joinParticipant(w, 7, 'a7');
    const b7 = await joinParticipant(w, 7, 'b7');
    const a8 = await joinParticipant(w, 8, 'a8');
    const b8 = await joinParticipant(w, 8, 'b8');
    clients.push(a7.client, b7.client, a8.client, b8.client);
    assert.equal(await workerOf(a7.session, a7.handle), r7);
    assert.equal(await workerOf(a8.session, a8.handle), r8);
    for (const [from, freq] of [[b7, 660], [b8, 880]] as const) {
      const s = new ToneSender(from, freq);
      s.start();
      senders.push(s);
    }
    assert.ok((await hears(a7, 660)) > 1000, 'a7 does not hear b7 (room 7)');
    assert.ok((await hears(a8, 880)) > 1000, 'a8 does not hear b8 (room 8)');
    await waitFor('each worker reports its 2 PeerConnections', () => pool.workers.every((x) => x.load.peers === 2), 4000);
    // /metrics shows the placement per worker.
    const metrics = createMetrics({ gateway: gw, media: routed, workers: () => pool.status(), defaultMetrics: false });
    const text = await metrics.scrape();
    assert.match(text, /portunus_worker_peerconnections\{worker="0"\} 2/);
    assert.match(text, /portunus_worker_peerconnections\{worker="1"\} 2/);
    assert.match(text, /portunus_worker_up\{worker="1"\} 1/);
    assert.match(text, /portunus_worker_event_loop_lag_seconds\{worker="0",stat="max"\} [0-9.e-]+/);
    const out = (w: string) => Number(new RegExp(`portunus_worker_rtp_packets_total\\{worker="${w}",direction="out"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    assert.ok(out('0') > 0 && out('1') > 0, 'both workers send packets');

    // (A changeroom to the other worker's room moves the participant: cross-changeroom.test.ts.)

    // A participant without a PeerConnection cannot join a room on the other worker either (its state is there).
    const p = await attach();
    const j21 = await message(p.session, p.handle, { request: 'join', room: 21, display: 'p' });
    assert.equal(j21.plugindata?.data['audiobridge'], 'joined', JSON.stringify(j21));
    const j22 = await message(p.session, p.handle, { request: 'join', room: 22, display: 'p' });
    assert.equal(j22.plugindata?.data['error_code'], 499, JSON.stringify(j22));
    assert.match(String(j22.plugindata?.data['error']), /participant on media worker/);

    // EchoTest: two handles land on the two workers (the least loaded at each first message).
    const echoes: Array<{ session: number; handle: number; c: ClientPeer }> = [];
    for (let i = 0; i < 2; i++) {
      const c = await makeClient();
      clients.push(c);
      const h = await attach(ECHO);
      const res = await message(h.session, h.handle, { audio: true, video: true }, { type: 'offer', sdp: clientOffer(c) });
      assert.ok(res.jsep, JSON.stringify(res));
      applyAnswer(c, res.jsep.sdp);
      await waitFor('echo DTLS up', () => c.up, 8000);
      // Its PeerConnection counts for the next placement at once (no waiting for the worker's report).
      echoes.push({ ...h, c });
    }
    const echoWorkers = await Promise.all(echoes.map((e) => workerOf(e.session, e.handle)));
    assert.deepEqual([...echoWorkers].sort(), [0, 1], `EchoTest handles on workers ${JSON.stringify(echoWorkers)}`);
    for (const e of echoes) {
      for (let i = 0; i < 5; i++) e.c.peer.sendRtp('1', rtpPacket(96, 100 + i, 9000 * i, 0x1234, Buffer.from(`f${i}`)), 14);
    }
    await waitFor('both echoes come back', () => echoes.every((e) => e.c.rtp.length > 0), 4000);

    // Worker of room 7 dies: a7, b7 and the echo there are hung up; room 8's members are not.
    const dead = pool.workers[r7]!;
    const before = client.events.length;
    dead.exitForTests(7);
    const victims = new Set([a7.handle, b7.handle, ...echoes.filter((_, i) => echoWorkers[i] === r7).map((e) => e.handle)]);
    await waitFor('hangup for every PeerConnection of the dead worker', () => client.events.slice(before).filter((e) => e.janus === 'hangup').length >= victims.size, 5000);
    await sleep(500);
    const hungUp = client.events.slice(before).filter((e) => e.janus === 'hangup').map((e) => (e as { sender?: number }).sender);
    assert.deepEqual(new Set(hungUp), victims, 'only the dead worker\'s PeerConnections are hung up');
    assert.equal((client.events.slice(before).find((e) => e.janus === 'hangup') as { reason?: string }).reason, 'Media worker exited');
    assert.ok((await hears(a8, 880)) > 1000, 'room 8 stopped mixing when the other worker died');

    // The new worker has room 7 again (jcfg); room 21 or 22 (created at run time there) is gone.
    await waitFor('a new worker', () => dead.restarts === 1 && !dead.exited, 5000);
    await sleep(300);
    const again = await message(a7.session, a7.handle, { request: 'join', room: 7, display: 'a7 again' });
    assert.equal(again.plugindata?.data['audiobridge'], 'joined', JSON.stringify(again));
    const gone = [...ab.rooms.keys()].filter((r) => r === '21' || r === '22');
    assert.equal(gone.length, 1, `one of the created rooms was on the dead worker: ${JSON.stringify(gone)}`);
  } finally {
    for (const s of senders) s.stop();
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => pool.workers.every((x) => x.exited), 3000);
});

test('media worker pool: `permanent` rooms from two workers both reach the one jcfg (main owns the file)', { timeout: 60_000 }, async () => {
  const { dir, ab, gw, attach, message } = await makeWorld(2);
  try {
    const h = await attach();
    const a = await message(h.session, h.handle, { request: 'create', room: 31, permanent: true });
    const b = await message(h.session, h.handle, { request: 'create', room: 32, permanent: true });
    assert.equal(a.plugindata?.data['permanent'], true, JSON.stringify(a));
    assert.equal(b.plugindata?.data['permanent'], true, JSON.stringify(b));
    assert.notEqual(ab.rooms.get('31'), ab.rooms.get('32'));
    const text = readFileSync(join(dir, `${AUDIOBRIDGE_PACKAGE}.jcfg`), 'utf8');
    for (const room of ['room-7', 'room-8', 'room-31', 'room-32']) assert.match(text, new RegExp(`${room}:`), `${room} missing from the jcfg:\n${text}`);
    const d = await message(h.session, h.handle, { request: 'destroy', room: 31, permanent: true });
    assert.equal(d.plugindata?.data['audiobridge'], 'destroyed', JSON.stringify(d));
    assert.doesNotMatch(readFileSync(join(dir, `${AUDIOBRIDGE_PACKAGE}.jcfg`), 'utf8'), /room-31:/);
    assert.equal(ab.rooms.has('31'), false);
  } finally {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
