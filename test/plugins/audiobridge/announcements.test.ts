/**
 * AudioBridge announcements (play_file, is_playing, stop_file, stop_all_files, listannouncements):
 *
 * - the Ogg/Opus reader (src/codecs/ogg.ts) against our test writer: packets, lacing, damaged pages,
 *   files that are not Ogg/Opus;
 * - the announcement's frames (one-shot ends, loop goes on, pre-skip, undecodable packets end it);
 * - over the real media plane (in-process gateway, our WebRTC client): a listener hears the file's tone
 *   and gets announcement-started / announcement-stopped; a looped file goes on until stop_file;
 *   stop_all_files; a group-targeted file reaches its group's forwarder only (and every listener);
 *   a file plays to its end in an empty room and the mixer clock stops after it;
 * - request errors, reply shapes, and lock_play_file with an admin_key.
 *
 * Real time on a shared machine: the audio scenarios get up to 3 attempts (withAttempts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpusDecoder } from '../../../src/codecs/opus.js';
import { OggError, oggPages, parseOggOpus } from '../../../src/codecs/ogg.js';
import { Announcement } from '../../../src/plugins/audiobridge/announcement.js';
import { AudioMixer } from '../../../src/plugins/audiobridge/mixer.js';
import { decodeReceived, goertzelAmplitude, joinParticipant, makeAbWorld, sleep, waitFor, withAttempts, type AbParticipant, type AbWorld, UdpSink } from './net.js';
import { toneOpusPackets, writeOggOpus, writeToneFile } from './ogg-opus.js';

const dir = mkdtempSync(join(tmpdir(), 'portunus-ann-'));
const TONE_440 = writeToneFile(join(dir, 'tone440.opus'), 440, 1.2);
const TONE_660_SHORT = writeToneFile(join(dir, 'tone660.opus'), 660, 0.4);
const GARBAGE = join(dir, 'garbage.opus');
writeFileSync(GARBAGE, 'this is not an Ogg file');

type Who = { session: number; handle: number };
type Data = Record<string, unknown>;

async function req(w: AbWorld, who: Who, body: Data): Promise<Data> {
  const r = await w.message(who.session, who.handle, body);
  return (r.plugindata?.data ?? { janus: r.janus, error: (r as { error?: unknown }).error }) as Data;
}

/** Unsolicited AudioBridge events a session got (in order). */
function notes(w: AbWorld, session: number, kind: string): Data[] {
  return w.client.events
    .filter((e) => e.session_id === session && !e.transaction && (e as { plugindata?: { data: Data } }).plugindata?.data?.['audiobridge'] === kind)
    .map((e) => (e as unknown as { plugindata: { data: Data } }).plugindata.data);
}

// ------------------------------------------------------------------------------------------ Ogg reader

test('ogg reader: our writer round-trips (multi-segment packets, many pages); header fields', () => {
  const packets = [Buffer.alloc(3, 1), Buffer.alloc(255, 2), Buffer.alloc(600, 3), Buffer.alloc(254, 4), Buffer.alloc(510, 5)];
  for (let i = 0; i < 40; i++) packets.push(Buffer.alloc(10 + i, i));
  const file = writeOggOpus(packets, { channels: 2, preSkip: 480, perPage: 7 });
  const s = parseOggOpus(file);
  assert.equal(s.channels, 2);
  assert.equal(s.preSkip, 480);
  assert.equal(s.inputRate, 48000);
  assert.equal(s.packets.length, packets.length);
  for (let i = 0; i < packets.length; i++) assert.ok(s.packets[i]!.equals(packets[i]!), `packet ${i}`);
  assert.equal(oggPages(file).length, 2 + Math.ceil(packets.length / 7));
});

test('ogg reader: a page with a bad checksum is skipped (the rest plays); non-Ogg and non-Opus input is an OggError', () => {
  const packets = Array.from({ length: 30 }, (_, i) => Buffer.alloc(20, i + 1));
  const file = writeOggOpus(packets, { perPage: 10 });
  const pages = oggPages(file);
  const damaged = Buffer.from(file);
  damaged[pages[3]!.offset + 40]! ^= 0xff; // inside the body of the second audio page
  const s = parseOggOpus(damaged);
  assert.equal(s.packets.length, 20, 'the damaged page (10 packets) is gone');
  assert.ok(s.packets[9]!.equals(packets[9]!) && s.packets[10]!.equals(packets[20]!));

  assert.throws(() => parseOggOpus(Buffer.from('not an ogg file at all')), OggError);
  assert.throws(() => parseOggOpus(Buffer.alloc(0)), OggError);
  // Leading garbage before a valid file is skipped, like libogg's resync.
  assert.equal(parseOggOpus(Buffer.concat([Buffer.from('junkjunk'), file])).packets.length, 30);
  // An Ogg stream that is not Opus (OpusHead magic changed; checksum fixed by re-writing the page).
  const notOpus = Buffer.from(file);
  notOpus.write('VorbisHd', pages[0]!.offset + 28, 'latin1');
  assert.throws(() => parseOggOpus(notOpus), /Opus|Ogg/);
  // Header pages only.
  assert.throws(() => parseOggOpus(writeOggOpus([])), /no audio/);
  // Truncated in the middle of the last page: that page is lost, the others play.
  assert.equal(parseOggOpus(file.subarray(0, file.length - 5)).packets.length, 20);
});

// ------------------------------------------------------------------------------------------ frames

function announcement(packets: Buffer[], loop: boolean, preSkip = 312): { a: Announcement; mixer: AudioMixer } {
  const mixer = new AudioMixer({ sampleRate: 16000 });
  const a = new Announcement({ fileId: 'x', filename: 'x.opus', loop, group: 0 }, { channels: 1, preSkip, inputRate: 48000, outputGain: 0, packets }, 16000, mixer.newSlot());
  return { a, mixer };
}

test('announcement frames: one-shot plays its length then ends; loop goes on; the tone is in the frames', () => {
  const pkts = toneOpusPackets(440, 0.5);
  const { a } = announcement(pkts, false);
  const frames: Int16Array[] = [];
  for (let i = 0; i < 100; i++) {
    const f = a.nextFrame();
    if (!f) break;
    assert.equal(f.length, 320);
    frames.push(Int16Array.from(f));
  }
  // 25 packets of 20 ms, minus 6.5 ms of pre-skip: the 25th frame is partly silence.
  assert.equal(frames.length, 25);
  assert.equal(a.done, true);
  assert.equal(a.nextFrame(), null);
  const mid = new Int16Array(320 * 10);
  for (let i = 0; i < 10; i++) mid.set(frames[5 + i]!, i * 320);
  assert.ok(goertzelAmplitude(mid, 16000, 440) > 5000, `440 Hz in the frames (${goertzelAmplitude(mid, 16000, 440).toFixed(0)})`);
  assert.ok(goertzelAmplitude(mid, 16000, 1000) < 300);
  assert.deepEqual([...frames[24]!.subarray(320 - 104)], new Array(104).fill(0), 'the pre-skip shifts the end: the last 104 samples are silence');
  a.destroy();

  const { a: looped } = announcement(pkts, true);
  for (let i = 0; i < 120; i++) assert.ok(looped.nextFrame(), `frame ${i} of a looped file`);
  assert.equal(looped.done, false);
  looped.destroy();
});

test('announcement frames: undecodable packets are skipped; a file of nothing but those ends even when looped', () => {
  const bad = Buffer.from([0x03, 0x00]); // code-3 packet with zero frames: invalid
  const good = toneOpusPackets(440, 0.1);
  const { a } = announcement([bad, ...good, bad], false, 0);
  let n = 0;
  while (a.nextFrame()) n++;
  assert.equal(n, 5);
  assert.equal(a.decodeErrors, 2);
  const { a: hopeless } = announcement([bad, bad, bad], true, 0);
  assert.equal(hopeless.nextFrame(), null);
  assert.equal(hopeless.done, true);
});

// ------------------------------------------------------------------------------------------ over the network

test('play_file: the listener hears the tone, gets announcement-started then -stopped; is_playing and listannouncements follow', { timeout: 180_000 }, async () => {
  await withAttempts('announcement one-shot', 3, async () => {
    const w = await makeAbWorld();
    let p: AbParticipant | undefined;
    try {
      const admin = await w.attach();
      p = await joinParticipant(w, 1234, 'L');
      const mark = p.client.rtp.length;
      const r = await req(w, admin, { request: 'play_file', room: 1234, secret: 'adminpwd', filename: TONE_440 });
      assert.deepEqual(Object.keys(r), ['audiobridge', 'room', 'file_id'], JSON.stringify(r));
      assert.equal(r['audiobridge'], 'success');
      assert.equal(r['room'], 1234);
      const id = r['file_id'] as string;
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a random UUID, as Janus');
      const started = await waitFor('announcement-started', () => notes(w, p!.session, 'announcement-started')[0], 3000);
      assert.deepEqual(started, { audiobridge: 'announcement-started', room: 1234, file_id: id });
      await sleep(300);
      const playing = await req(w, admin, { request: 'is_playing', room: 1234, secret: 'adminpwd', file_id: id });
      assert.deepEqual(playing, { audiobridge: 'success', room: 1234, file_id: id, playing: true });
      const list = await req(w, admin, { request: 'listannouncements', room: 1234, secret: 'adminpwd' });
      assert.deepEqual(list, { audiobridge: 'announcements', room: 1234, announcements: [{ file_id: id, filename: TONE_440, playing: true, loop: false }] });
      const stopped = await waitFor('announcement-stopped', () => notes(w, p!.session, 'announcement-stopped')[0], 4000);
      assert.deepEqual(stopped, { audiobridge: 'announcement-stopped', room: 1234, file_id: id });
      const pcm = decodeReceived(p.client, 16000, mark);
      const a440 = goertzelAmplitude(pcm, 16000, 440);
      const a1000 = goertzelAmplitude(pcm, 16000, 1000);
      assert.ok(a440 > 1000 && a440 > 10 * a1000, `the listener heard 440 Hz (440: ${a440.toFixed(0)}, 1000: ${a1000.toFixed(0)})`);
      assert.deepEqual(await req(w, admin, { request: 'is_playing', room: 1234, secret: 'adminpwd', file_id: id }), { audiobridge: 'success', room: 1234, file_id: id, playing: false });
      assert.deepEqual((await req(w, admin, { request: 'listannouncements', room: 1234, secret: 'adminpwd' }))['announcements'], []);
      // After it ended: silence again (the last 300 ms carry no tone).
      const before = p.client.rtp.length;
      await sleep(400);
      const after = decodeReceived(p.client, 16000, before);
      assert.ok(goertzelAmplitude(after, 16000, 440) < 200, 'no tone once the announcement ended');
      assert.equal(notes(w, p.session, 'announcement-started').length, 1);
      assert.equal(notes(w, p.session, 'announcement-stopped').length, 1);
    } finally {
      p?.client.close();
      await w.stop();
    }
  });
});

test('play_file with loop goes on past its end until stop_file; stop_all_files stops everything and lists the ids', { timeout: 180_000 }, async () => {
  await withAttempts('announcement loop', 3, async () => {
    const w = await makeAbWorld();
    let p: AbParticipant | undefined;
    try {
      const admin = await w.attach();
      p = await joinParticipant(w, 1234, 'L');
      const r = await req(w, admin, { request: 'play_file', room: 1234, secret: 'adminpwd', filename: TONE_660_SHORT, file_id: 'jingle', loop: true });
      assert.deepEqual(r, { audiobridge: 'success', room: 1234, file_id: 'jingle' });
      const dup = await req(w, admin, { request: 'play_file', room: 1234, secret: 'adminpwd', filename: TONE_440, file_id: 'jingle' });
      assert.deepEqual(dup, { audiobridge: 'event', error_code: 490, error: 'File ID exists (jingle)' });
      await sleep(1200); // three times the file's length
      const mark = p.client.rtp.length;
      await sleep(500);
      assert.ok(goertzelAmplitude(decodeReceived(p.client, 16000, mark), 16000, 660) > 1000, 'still playing after three lengths');
      assert.equal(notes(w, p.session, 'announcement-stopped').length, 0, 'no stopped event while looping');
      assert.deepEqual((await req(w, admin, { request: 'listannouncements', room: 1234, secret: 'adminpwd' }))['announcements'], [
        { file_id: 'jingle', filename: TONE_660_SHORT, playing: true, loop: true },
      ]);
      const stop = await req(w, admin, { request: 'stop_file', room: 1234, secret: 'adminpwd', file_id: 'jingle' });
      assert.deepEqual(stop, { audiobridge: 'success', room: 1234, file_id: 'jingle' });
      await waitFor('stopped event', () => notes(w, p!.session, 'announcement-stopped').find((d) => d['file_id'] === 'jingle'));
      assert.equal((await req(w, admin, { request: 'is_playing', room: 1234, secret: 'adminpwd', file_id: 'jingle' }))['playing'], false);
      // Unknown ids are not an error (as in Janus).
      assert.deepEqual(await req(w, admin, { request: 'stop_file', room: 1234, secret: 'adminpwd', file_id: 'jingle' }), { audiobridge: 'success', room: 1234, file_id: 'jingle' });

      await req(w, admin, { request: 'play_file', room: 1234, secret: 'adminpwd', filename: TONE_440, file_id: 'a', loop: true });
      await req(w, admin, { request: 'play_file', room: 1234, secret: 'adminpwd', filename: TONE_660_SHORT, file_id: 'b', loop: true });
      const all = await req(w, admin, { request: 'stop_all_files', room: 1234, secret: 'adminpwd' });
      assert.equal(all['audiobridge'], 'success');
      assert.equal(all['room'], 1234);
      assert.deepEqual([...(all['file_id_list'] as string[])].sort(), ['a', 'b']);
      await waitFor('stopped events for a and b', () => {
        const ids = notes(w, p!.session, 'announcement-stopped').map((d) => d['file_id']);
        return ids.includes('a') && ids.includes('b');
      });
      assert.deepEqual(await req(w, admin, { request: 'stop_all_files', room: 1234, secret: 'adminpwd' }), { audiobridge: 'success', room: 1234, file_id_list: [] });
      assert.equal(w.plugin.getRoom(1234)!.announcements.size, 0);
    } finally {
      p?.client.close();
      await w.stop();
    }
  });
});

const GROUPS_JCFG = `general: {\n}\nroom-77: {\n\tsecret = "s"\n\tsampling_rate = 16000\n\tgroups = ["g1", "g2"]\n}\n`;

test('play_file with a group: its group forwarder carries the tone, the other group\'s does not; every listener hears it', { timeout: 180_000 }, async () => {
  await withAttempts('announcement group', 3, async () => {
    const w = await makeAbWorld(GROUPS_JCFG);
    const sinks = await Promise.all([UdpSink.open(), UdpSink.open()]);
    const [s1, s2] = sinks as [UdpSink, UdpSink];
    let p: AbParticipant | undefined;
    try {
      const admin = await w.attach();
      const fwd = { request: 'rtp_forward', room: 77, secret: 's', host: '127.0.0.1' };
      assert.equal((await req(w, admin, { ...fwd, port: s1.port, group: 'g1' }))['audiobridge'], 'success');
      assert.equal((await req(w, admin, { ...fwd, port: s2.port, group: 'g2' }))['audiobridge'], 'success');
      p = await joinParticipant(w, 77, 'L', { group: 'g1' });
      const noGroup = await req(w, admin, { request: 'play_file', room: 77, secret: 's', filename: TONE_440 });
      assert.deepEqual(noGroup, { audiobridge: 'event', error_code: 483, error: 'Missing mandatory element (group)' });
      const badGroup = await req(w, admin, { request: 'play_file', room: 77, secret: 's', filename: TONE_440, group: 'g3' });
      assert.deepEqual(badGroup, { audiobridge: 'event', error_code: 494, error: 'No such group (g3)' });
      const marks = [s1.packets.length, s2.packets.length, p.client.rtp.length];
      const r = await req(w, admin, { request: 'play_file', room: 77, secret: 's', filename: TONE_440, group: 'g2', file_id: 'g2file' });
      assert.deepEqual(r, { audiobridge: 'success', room: 77, file_id: 'g2file' });
      await waitFor('stopped', () => notes(w, p!.session, 'announcement-stopped')[0], 5000);
      const g2 = goertzelAmplitude(s2.pcm(marks[1]!), 16000, 440);
      const g1 = goertzelAmplitude(s1.pcm(marks[0]!), 16000, 440);
      const heard = goertzelAmplitude(decodeReceived(p.client, 16000, marks[2]), 16000, 440);
      assert.ok(g2 > 1000, `g2 forwarder carries the tone (${g2.toFixed(0)})`);
      assert.ok(g1 < 100, `g1 forwarder does not (${g1.toFixed(0)})`);
      assert.ok(heard > 1000, `the g1 listener hears it all the same (${heard.toFixed(0)})`);
    } finally {
      p?.client.close();
      sinks.forEach((s) => s.close());
      await w.stop();
    }
  });
});

test('play_file in an empty room plays to its end (the mixer clock runs for it) and the clock stops afterwards', { timeout: 60_000 }, async () => {
  const w = await makeAbWorld();
  try {
    const admin = await w.attach();
    const room = w.plugin.getRoom(1234)!;
    assert.equal(room.clockInfo().running, false);
    const r = await req(w, admin, { request: 'play_file', room: 1234, secret: 'adminpwd', filename: TONE_660_SHORT, file_id: 'empty' });
    assert.equal(r['audiobridge'], 'success');
    assert.equal(room.clockInfo().running, true, 'the announcement wakes the mixer up');
    await waitFor('the file ends', () => room.announcements.size === 0, 5000);
    assert.ok(room.clockInfo().produced >= 20, `frames were mixed for it (${room.clockInfo().produced})`);
    assert.equal(room.clockInfo().running, false, 'and the mixer goes idle again');
  } finally {
    await w.stop();
  }
});

// ------------------------------------------------------------------------------------------ requests

test('play_file & co: errors in Janus 1.1.2\'s order and words; a file that is not Ogg/Opus is refused up front', { timeout: 60_000 }, async () => {
  const w = await makeAbWorld();
  try {
    const a = await w.attach();
    const q = (body: Data): Promise<Data> => req(w, a, body);
    const err = (code: number, error: string): Data => ({ audiobridge: 'event', error_code: code, error });
    assert.deepEqual(await q({ request: 'play_file' }), err(483, 'Missing mandatory element (room)'));
    assert.deepEqual(await q({ request: 'play_file', room: '1234', filename: TONE_440 }), err(484, 'Invalid element type (room should be a positive integer)'));
    assert.deepEqual(await q({ request: 'play_file', room: 1234 }), err(483, 'Missing mandatory element (filename)'));
    assert.deepEqual(await q({ request: 'play_file', room: 1234, secret: 'adminpwd', filename: 5 }), err(484, 'Invalid element type (filename should be a string)'));
    assert.deepEqual(await q({ request: 'play_file', room: 1234, secret: 'adminpwd', filename: TONE_440, file_id: 5 }), err(484, 'Invalid element type (file_id should be a string)'));
    assert.deepEqual(await q({ request: 'play_file', room: 1234, secret: 'adminpwd', filename: TONE_440, loop: 'yes' }), err(484, 'Invalid element type (loop should be a boolean)'));
    assert.deepEqual(await q({ request: 'play_file', room: 1234, filename: TONE_440 }), err(483, 'Missing mandatory element (secret)'));
    assert.deepEqual(await q({ request: 'play_file', room: 1234, secret: 'x', filename: TONE_440 }), err(489, 'Unauthorized (wrong secret)'));
    assert.deepEqual(await q({ request: 'play_file', room: 999, secret: 'adminpwd', filename: TONE_440 }), err(485, 'No such room (999)'));
    assert.deepEqual(await q({ request: 'play_file', room: 1234, secret: 'adminpwd', filename: join(dir, 'missing.opus') }), err(499, 'Error opening file'));
    assert.deepEqual(await q({ request: 'play_file', room: 1234, secret: 'adminpwd', filename: dir }), err(499, 'Error opening file'), 'a folder');
    // Not Ogg/Opus: refused up front, with the same words as a missing file (nothing about the file leaks).
    assert.deepEqual(await q({ request: 'play_file', room: 1234, secret: 'adminpwd', filename: GARBAGE }), err(499, 'Error opening file'));
    // A group in a room without groups is ignored (as in Janus).
    const ok = await q({ request: 'play_file', room: 1234, secret: 'adminpwd', filename: TONE_660_SHORT, group: 'x', file_id: '' });
    assert.deepEqual(ok, { audiobridge: 'success', room: 1234, file_id: '' }, 'an empty file_id is taken as given, as Janus does');
    assert.deepEqual(await q({ request: 'is_playing', room: 1234, secret: 'adminpwd' }), err(483, 'Missing mandatory element (file_id)'));
    assert.deepEqual(await q({ request: 'is_playing', room: 1234, file_id: 'x' }), err(483, 'Missing mandatory element (secret)'));
    assert.deepEqual(await q({ request: 'is_playing', room: 999, file_id: 'x' }), err(485, 'No such room (999)'));
    assert.deepEqual(await q({ request: 'is_playing', room: 1234, secret: 'adminpwd', file_id: 'nope' }), { audiobridge: 'success', room: 1234, file_id: 'nope', playing: false });
    assert.deepEqual(await q({ request: 'stop_file', room: 1234, secret: 'adminpwd' }), err(483, 'Missing mandatory element (file_id)'));
    assert.deepEqual(await q({ request: 'stop_file', file_id: 'x' }), err(483, 'Missing mandatory element (room)'));
    assert.deepEqual(await q({ request: 'stop_file', room: 1234, secret: 'bad', file_id: 'x' }), err(489, 'Unauthorized (wrong secret)'));
    assert.deepEqual(await q({ request: 'listannouncements', room: 1234 }), err(483, 'Missing mandatory element (secret)'));
    assert.deepEqual(await q({ request: 'stop_all_files', room: 999, secret: 'adminpwd' }), err(485, 'No such room (999)'));
    // Destroying the room drops its announcements (no crash in the mixer, nothing left).
    const room = w.plugin.getRoom(1234)!;
    await q({ request: 'play_file', room: 1234, secret: 'adminpwd', filename: TONE_440, loop: true });
    assert.equal(room.announcements.size, 2);
    assert.equal((await q({ request: 'destroy', room: 1234, secret: 'adminpwd' }))['audiobridge'], 'destroyed');
    assert.equal(room.announcements.size, 0);
    assert.equal(room.clockInfo().running, false);
  } finally {
    await w.stop();
  }
});

const LOCKED = `general: {\n\tadmin_key = "k"\n\tlock_play_file = true\n}\nroom-1234: {\n\tsecret = "adminpwd"\n\tsampling_rate = 16000\n}\n`;

test('lock_play_file: every announcement request needs the admin_key (after its own parameters, before the room)', { timeout: 60_000 }, async () => {
  const w = await makeAbWorld(LOCKED);
  try {
    const a = await w.attach();
    const q = (body: Data): Promise<Data> => req(w, a, body);
    const err = (code: number, error: string): Data => ({ audiobridge: 'event', error_code: code, error });
    const base = { room: 1234, secret: 'adminpwd' };
    assert.deepEqual(await q({ request: 'play_file', ...base, filename: TONE_440 }), err(483, 'Missing mandatory element (admin_key)'));
    assert.deepEqual(await q({ request: 'play_file', ...base }), err(483, 'Missing mandatory element (filename)'), 'own parameters first');
    assert.deepEqual(await q({ request: 'play_file', ...base, filename: TONE_440, admin_key: 5 }), err(484, 'Invalid element type (admin_key should be a string)'));
    assert.deepEqual(await q({ request: 'play_file', ...base, filename: TONE_440, admin_key: 'bad' }), err(489, 'Unauthorized (wrong admin_key)'));
    assert.deepEqual(await q({ request: 'play_file', room: 999, filename: TONE_440 }), err(483, 'Missing mandatory element (admin_key)'), 'before the room lookup');
    assert.deepEqual(await q({ request: 'play_file', room: 1234, filename: TONE_440, admin_key: 'k' }), err(483, 'Missing mandatory element (secret)'), 'the room secret too');
    assert.deepEqual(await q({ request: 'play_file', ...base, filename: TONE_660_SHORT, admin_key: 'k', file_id: 'f' }), { audiobridge: 'success', room: 1234, file_id: 'f' });
    for (const request of ['is_playing', 'stop_file', 'listannouncements', 'stop_all_files']) {
      assert.deepEqual(await q({ request, ...base, file_id: 'f' }), err(483, 'Missing mandatory element (admin_key)'), request);
      assert.deepEqual(await q({ request, ...base, file_id: 'f', admin_key: 'x' }), err(489, 'Unauthorized (wrong admin_key)'), request);
    }
    assert.equal((await q({ request: 'is_playing', ...base, file_id: 'f', admin_key: 'k' }))['audiobridge'], 'success');
    assert.deepEqual(await q({ request: 'stop_file', ...base, file_id: 'f', admin_key: 'k' }), { audiobridge: 'success', room: 1234, file_id: 'f' });
  } finally {
    await w.stop();
  }
});
