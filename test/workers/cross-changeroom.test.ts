/**
 * AudioBridge `changeroom` between rooms on different media workers (pool of 2, real SRTP/UDP clients
 * sending Opus on 127.0.0.1): the participant's PeerConnection stays on its worker, the participant
 * moves to the target room's worker, its audio crosses there and its mix-minus comes back.
 *
 * What must hold: the mover hears the new room and is heard there (tones by Goertzel on what the
 * clients decode), no longer hears or is heard in the old one; every participant gets the events of a
 * changeroom inside one worker (`leaving` in the old room, `joined` in the new one, `roomchanged` with
 * the new room's participants to the mover); the stream the mover receives stays one stream (one
 * SSRC, no repeated sequence number) across the moves; changing back works; a hangup while away
 * leaves both rooms' participant lists right.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { ClientPeer } from '../media/peer/helpers.js';
import { hearsSoon, joinParticipant, silentSoon, sleep, ToneSender, waitFor, type AbParticipant } from '../plugins/audiobridge/net.js';
import { makeWorld, type Ev } from './pool-world.js';

test('AudioBridge changeroom across media workers: the participant moves, its PeerConnection stays; media both ways, the same events, back again, hangup cleans both rooms', { timeout: 120_000 }, async (t) => {
  const { dir, pool, ab, gw, client, w, message, workerOf } = await makeWorld(2);
  const clients: ClientPeer[] = [];
  const senders: ToneSender[] = [];
  const events = (p: AbParticipant, since: number): Array<Record<string, unknown>> =>
    (client.events.slice(since) as Ev[]).filter((e) => e.sender === p.handle && e.janus === 'event' && !e.transaction).map((e) => e.plugindata?.data ?? {});
  const roomIds = async (admin: AbParticipant, room: number): Promise<unknown[]> => {
    const r = await message(admin.session, admin.handle, { request: 'listparticipants', room });
    return ((r.plugindata?.data['participants'] as Array<{ id: unknown }>) ?? []).map((x) => x.id).sort();
  };
  const hangupsOf = (p: AbParticipant): Ev[] => (client.events as Ev[]).filter((e) => e.sender === p.handle && (e.janus === 'hangup' || e.janus === 'detached'));
  let [a7h, b8h, mh] = [0, 0, 0];
  try {
    const r7 = ab.rooms.get('7')!.index;
    const r8 = ab.rooms.get('8')!.index;
    assert.notEqual(r7, r8, 'the two jcfg rooms should be on different workers');

    const a7 = await joinParticipant(w, 7, 'a7');
    const b8 = await joinParticipant(w, 8, 'b8');
    const m = await joinParticipant(w, 7, 'mover');
    clients.push(a7.client, b8.client, m.client);
    [a7h, b8h, mh] = [a7.handle, b8.handle, m.handle];
    assert.equal(await workerOf(m.session, m.handle), r7);
    for (const [from, freq] of [[a7, 440], [b8, 880], [m, 660]] as const) {
      const s = new ToneSender(from, freq);
      s.start();
      senders.push(s);
    }
    assert.ok((await hearsSoon(m, 440)) > 1000, 'mover does not hear a7 in room 7 to begin with');

    // 7 -> 8: room 8 is on the other worker.
    let since = client.events.length;
    const t0 = performance.now();
    const changed = await message(m.session, m.handle, { request: 'changeroom', room: 8, display: 'mover' });
    const moveMs = performance.now() - t0;
    const cd = changed.plugindata?.data ?? {};
    assert.equal(cd['audiobridge'], 'roomchanged', JSON.stringify(changed));
    assert.equal(cd['room'], 8);
    assert.equal(cd['display'], 'mover');
    const moverId = cd['id'];
    assert.deepEqual(cd['participants'], [{ id: b8.id, display: 'b8', setup: true, muted: false, talking: false }], `room 8's participants; b8's hangups: ${JSON.stringify(hangupsOf(b8))}`);
    await waitFor('room 7 is told the mover left', () => events(a7, since).find((e) => e['leaving'] === m.id), 15_000);
    const joined = await waitFor('room 8 is told the mover joined', () => events(b8, since).find((e) => e['audiobridge'] === 'joined'), 15_000);
    assert.deepEqual(joined, { audiobridge: 'joined', room: 8, participants: [{ id: moverId, display: 'mover', setup: true, muted: false }] });
    assert.equal(events(m, since).length, 0, `the mover got unsolicited events: ${JSON.stringify(events(m, since))}`);
    // The PeerConnection did not move.
    assert.equal(await workerOf(m.session, m.handle), r7);
    assert.ok(pool.workers[r7]!.hasMedia(m.handle));

    const rx0 = m.client.rtp.length;
    const [mHears880, b8Hears660] = await Promise.all([hearsSoon(m, 880), hearsSoon(b8, 660)]);
    const rx1 = m.client.rtp.length;
    const rxT = performance.now();
    await sleep(1000);
    t.diagnostic(`cross-worker changeroom answered in ${moveMs.toFixed(0)} ms; away, the mover receives ${((m.client.rtp.length - rx1) / ((performance.now() - rxT) / 1000)).toFixed(0)} packets/s (${rx1 - rx0} while listening)`);
    const [mHears440, a7Hears660] = await Promise.all([silentSoon(m, 440), silentSoon(a7, 660)]);
    assert.ok(mHears880 > 1000, `mover does not hear b8 after moving to room 8 (${mHears880.toFixed(0)})`);
    assert.ok(mHears440 < 200, `mover still hears room 7 (${mHears440.toFixed(0)})`);
    assert.ok(b8Hears660 > 1000, `b8 does not hear the mover (${b8Hears660.toFixed(0)})`);
    assert.ok(a7Hears660 < 200, `a7 still hears the mover (${a7Hears660.toFixed(0)})`);
    assert.deepEqual(await roomIds(a7, 8), [b8.id, moverId].sort());
    assert.deepEqual(await roomIds(a7, 7), [a7.id]);

    // A request of the participant goes to its room's worker: mute there, and room 8 is told.
    since = client.events.length;
    const muted = await message(m.session, m.handle, { request: 'configure', muted: true });
    assert.equal(muted.plugindata?.data['result'], 'ok', JSON.stringify(muted));
    await waitFor('room 8 sees the mover muted', () => events(b8, since).find((e) => Array.isArray(e['participants']) && (e['participants'] as Array<{ muted?: boolean }>)[0]?.muted === true), 15_000);
    assert.ok((await silentSoon(b8, 660)) < 200, 'b8 still hears the muted mover');
    await message(m.session, m.handle, { request: 'configure', muted: false });

    // 8 -> 7: back home.
    since = client.events.length;
    const back = await message(m.session, m.handle, { request: 'changeroom', room: 7, display: 'mover' });
    assert.equal(back.plugindata?.data['audiobridge'], 'roomchanged', JSON.stringify(back));
    assert.deepEqual(back.plugindata?.data['participants'], [{ id: a7.id, display: 'a7', setup: true, muted: false, talking: false }]);
    const backId = back.plugindata?.data['id'];
    await waitFor('room 8 is told the mover left', () => events(b8, since).find((e) => e['leaving'] === moverId), 15_000);
    await waitFor('room 7 is told the mover joined', () => events(a7, since).find((e) => e['audiobridge'] === 'joined'), 15_000);
    const [h440, a660] = await Promise.all([hearsSoon(m, 440), hearsSoon(a7, 660)]);
    const h880 = await silentSoon(m, 880);
    assert.ok(h440 > 1000 && h880 < 200, `after coming back the mover hears 440: ${h440.toFixed(0)}, 880: ${h880.toFixed(0)}`);
    assert.ok(a660 > 1000, `a7 does not hear the mover again (${a660.toFixed(0)})`);
    assert.deepEqual(await roomIds(a7, 8), [b8.id]);

    // One stream all along: one SSRC, no sequence number twice.
    const audio = m.client.rtp.filter((r) => r.stream.mid === '0' || r.stream.kind === 'audio');
    const ssrcs = new Set(audio.map((r) => r.bytes.readUInt32BE(8)));
    assert.equal(ssrcs.size, 1, `the mover received ${ssrcs.size} SSRCs`);
    const seqs = audio.map((r) => r.bytes.readUInt16BE(2));
    assert.equal(new Set(seqs).size, seqs.length, 'a sequence number came twice (two mixes at once)');

    // Away again, then hang up: both rooms' lists are right and room 8 is told.
    const again = await message(m.session, m.handle, { request: 'changeroom', room: 8 });
    assert.equal(again.plugindata?.data['audiobridge'], 'roomchanged', JSON.stringify(again));
    const againId = again.plugindata?.data['id'];
    assert.notEqual(againId, backId);
    since = client.events.length;
    const hung = await message(m.session, m.handle, { request: 'hangup' });
    assert.equal(hung.plugindata?.data['audiobridge'], 'hangingup', JSON.stringify(hung));
    await waitFor('room 8 is told the mover left at hangup', () => events(b8, since).find((e) => e['leaving'] === againId), 15_000);
    assert.deepEqual(await roomIds(a7, 8), [b8.id]);
    assert.deepEqual(await roomIds(a7, 7), [a7.id]);
    assert.ok((await silentSoon(b8, 660)) < 200, 'b8 still hears the hung-up mover');
  } catch (err) {
    // What the handles were told (a PeerConnection hung up under load explains a missing participant).
    const told = (client.events as Ev[]).filter((e) => e.janus === 'hangup' || e.janus === 'detached' || e.janus === 'media').map((e) => ({ janus: e.janus, sender: e.sender, reason: (e as { reason?: unknown }).reason, receiving: (e as { receiving?: unknown }).receiving }));
    t.diagnostic(`handles: a7 ${a7h} b8 ${b8h} mover ${mh}; events: ${JSON.stringify(told)}`);
    throw err;
  } finally {
    for (const s of senders) s.stop();
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => pool.workers.every((x) => x.exited), 15_000);
});

test('AudioBridge across workers: leave while away frees the handle; a dead room worker hangs up the away participant, a dead PeerConnection worker takes it out of its room', { timeout: 120_000 }, async () => {
  const { dir, pool, ab, gw, client, w, message } = await makeWorld(2);
  const clients: ClientPeer[] = [];
  const events = (p: AbParticipant, since: number): Array<Record<string, unknown>> =>
    (client.events.slice(since) as Ev[]).filter((e) => e.sender === p.handle && e.janus === 'event' && !e.transaction).map((e) => e.plugindata?.data ?? {});
  const hangups = (p: AbParticipant, since: number): Ev[] => (client.events.slice(since) as Ev[]).filter((e) => e.sender === p.handle && e.janus === 'hangup');
  const roomIds = async (admin: AbParticipant, room: number): Promise<unknown[]> => {
    const r = await message(admin.session, admin.handle, { request: 'listparticipants', room });
    return ((r.plugindata?.data['participants'] as Array<{ id: unknown }>) ?? []).map((x) => x.id).sort();
  };
  try {
    const r7 = ab.rooms.get('7')!.index;
    const r8 = ab.rooms.get('8')!.index;
    const a7 = await joinParticipant(w, 7, 'a7');
    const b8 = await joinParticipant(w, 8, 'b8');
    const m = await joinParticipant(w, 7, 'mover');
    clients.push(a7.client, b8.client, m.client);
    const tone = new ToneSender(a7, 440);
    tone.start();
    try {
      // Leave while away: `left` from room 8, and the handle can join at home again.
      const moved = await message(m.session, m.handle, { request: 'changeroom', room: 8 });
      assert.equal(moved.plugindata?.data['audiobridge'], 'roomchanged', JSON.stringify(moved));
      let since = client.events.length;
      const left = await message(m.session, m.handle, { request: 'leave' });
      assert.deepEqual(left.plugindata?.data, { audiobridge: 'left', room: 8, id: moved.plugindata?.data['id'] });
      await waitFor('room 8 is told', () => events(b8, since).find((e) => e['leaving'] === moved.plugindata?.data['id']), 15_000);
      assert.deepEqual(await roomIds(a7, 8), [b8.id]);
      await sleep(200);
      const home = await message(m.session, m.handle, { request: 'join', room: 7, display: 'mover' });
      assert.equal(home.plugindata?.data['audiobridge'], 'joined', JSON.stringify(home));
      assert.ok((await hearsSoon(m, 440)) > 1000, 'the mover does not hear room 7 after leaving room 8 and joining again');
    } finally {
      tone.stop();
    }

    // Away again; the room's worker dies: the mover's PeerConnection (on the other worker) is hung up too.
    const away = await message(m.session, m.handle, { request: 'changeroom', room: 8 });
    assert.equal(away.plugindata?.data['audiobridge'], 'roomchanged', JSON.stringify(away));
    let since = client.events.length;
    pool.workers[r8]!.exitForTests(3);
    const hung = await waitFor('the away participant is hung up', () => hangups(m, since)[0], 15_000);
    assert.equal((hung as { reason?: string }).reason, 'Media worker exited');
    assert.deepEqual(await roomIds(a7, 7), [a7.id]);
    assert.equal(hangups(a7, since).length, 0, 'a participant of the live worker was hung up');

    // The room's worker is back with room 8; a new mover goes there from room 7; now its PeerConnection's worker dies.
    await waitFor('worker restarted', () => pool.workers[r8]!.restarts === 1 && !pool.workers[r8]!.exited, 30_000);
    await sleep(300);
    const c8 = await joinParticipant(w, 8, 'c8');
    const m2 = await joinParticipant(w, 7, 'mover2');
    clients.push(c8.client, m2.client);
    const moved2 = await message(m2.session, m2.handle, { request: 'changeroom', room: 8 });
    assert.equal(moved2.plugindata?.data['audiobridge'], 'roomchanged', JSON.stringify(moved2));
    assert.deepEqual(await roomIds(c8, 8), [c8.id, moved2.plugindata?.data['id']].sort());
    since = client.events.length;
    pool.workers[r7]!.exitForTests(4);
    await waitFor('room 8 is told the mover left', () => events(c8, since).find((e) => e['leaving'] === moved2.plugindata?.data['id']), 15_000);
    assert.deepEqual(await roomIds(c8, 8), [c8.id]);
    assert.equal(hangups(c8, since).length, 0, 'a participant of the live worker was hung up');
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => pool.workers.every((x) => x.exited), 15_000);
});
