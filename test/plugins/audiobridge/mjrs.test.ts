/**
 * Per-participant .mjr recordings (room `mjrs`/`mjrs_dir`, `enable_mjrs`, `record`/`filename` in
 * configure) over the real media plane: WebRTC participants send Opus tones, each one's file holds
 * what that participant sent, named as Janus names it, and Janus's own post-processor (janus-pp-rec,
 * Debian janus-tools) turns it into Ogg/Opus carrying that participant's tone and not the other's.
 *
 * Real time on a shared machine: the audio scenarios get up to 3 attempts (withAttempts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpusDecoder } from '../../../src/codecs/opus.js';
import { parseOggOpus } from '../../../src/codecs/ogg.js';
import type { MjrFile } from '../../../src/recording/mjr.js';
import { janusPpRec, readMjr } from '../../recording/mjr-reader.js';
import { goertzelAmplitude, joinParticipant, makeAbWorld, sleep, ToneSender, waitFor, withAttempts, type AbParticipant, type AbWorld } from './net.js';

type Data = Record<string, unknown>;

async function req(w: AbWorld, who: { session: number; handle: number }, body: Data): Promise<Data> {
  const r = await w.message(who.session, who.handle, body);
  return (r.plugindata?.data ?? { janus: r.janus, error: (r as { error?: unknown }).error }) as Data;
}

/** janus-pp-rec `mjr` into Ogg/Opus, decoded to 48 kHz PCM (the first 200 ms dropped: encoder start-up). */
function postProcess(pp: string, mjr: string): Int16Array {
  const out = mjr.replace(/\.mjr$/, '.opus');
  const r = spawnSync(pp, [mjr, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, `janus-pp-rec ${mjr}: ${r.stderr}${r.stdout}`);
  const s = parseOggOpus(readFileSync(out));
  const dec = createOpusDecoder(48000, 1);
  const parts = s.packets.map((p) => dec.decode(p));
  dec.destroy();
  const pcm = new Int16Array(parts.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of parts) {
    pcm.set(a, o);
    o += a.length;
  }
  return pcm.subarray(9600);
}

/** The participant's recording object (to await its close), from the plugin's room. */
function mjrOf(w: AbWorld, room: number, id: unknown): MjrFile {
  const f = w.plugin.getRoom(room)?.participants.get(id as number)?.mjr;
  assert.ok(f, `participant ${String(id)} is being recorded`);
  return f;
}

const ROOM = 88;

test('room mjrs: every participant\'s audio in its own .mjr (Janus\'s name, in mjrs_dir); janus-pp-rec makes Ogg/Opus with that participant\'s tone only', { timeout: 600_000 }, async () => {
  const pp = janusPpRec();
  await withAttempts('mjrs per participant', 3, async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'portunus-mjrs-')), 'rec'); // created on demand, as Janus
    const w = await makeAbWorld(`general: {\n}\nroom-${ROOM}: {\n\tsecret = "s"\n\tsampling_rate = 16000\n\tmjrs = true\n\tmjrs_dir = "${dir}"\n}\n`);
    const ps: AbParticipant[] = [];
    const senders: ToneSender[] = [];
    try {
      ps.push(await joinParticipant(w, ROOM, 'A'), await joinParticipant(w, ROOM, 'B'));
      const files = ps.map((p) => mjrOf(w, ROOM, p.id));
      senders.push(new ToneSender(ps[0]!, 440), new ToneSender(ps[1]!, 660));
      senders.forEach((s) => s.start());
      await sleep(1500);
      senders.forEach((s) => s.stop());
      for (const p of ps) assert.equal((await req(w, p, { request: 'leave' }))['audiobridge'], 'left');
      assert.equal(w.plugin.getRoom(ROOM)!.participants.size, 0);
      await Promise.all(files.map((f) => f.close()));
      const names = readdirSync(dir).sort();
      assert.equal(names.length, 2, names.join(', '));
      for (const [i, p] of ps.entries()) {
        const name = names.find((n) => n.startsWith(`audiobridge-${ROOM}-user-${String(p.id)}-`));
        assert.ok(name, `a file for ${p.name}`);
        assert.match(name, new RegExp(`^audiobridge-${ROOM}-user-${String(p.id)}-\\d{16}-audio\\.mjr$`));
        const m = readMjr(join(dir, name));
        assert.equal(m.magic, 'MJR00002');
        assert.equal(m.header?.['t'], 'a');
        assert.equal(m.header?.['c'], 'opus');
        assert.ok(m.frames.length >= 40, `${p.name}: ${m.frames.length} frames`);
        assert.ok(m.frames.every((f) => (f.bytes[1]! & 0x7f) === p.pt), 'the packets as the participant sent them (its payload type)');
        const pcm = postProcess(pp, join(dir, name));
        const mine = goertzelAmplitude(pcm, 48000, i === 0 ? 440 : 660);
        const other = goertzelAmplitude(pcm, 48000, i === 0 ? 660 : 440);
        assert.ok(mine > 3000 && other < mine / 20, `${p.name}: own tone ${mine.toFixed(0)}, the other's ${other.toFixed(0)}`);
      }
    } finally {
      senders.forEach((s) => s.stop());
      ps.forEach((p) => p.client.close());
      await w.stop();
    }
  });
});

test('enable_mjrs starts and stops the recordings of the participants in the room; configure record/filename; errors', { timeout: 600_000 }, async () => {
  const pp = janusPpRec();
  await withAttempts('enable_mjrs', 3, async () => {
    const base = mkdtempSync(join(tmpdir(), 'portunus-mjrs-'));
    const w = await makeAbWorld(`general: {\n}\nroom-${ROOM}: {\n\tsecret = "s"\n\tsampling_rate = 16000\n}\n`);
    let p: AbParticipant | undefined;
    let sender: ToneSender | undefined;
    try {
      const admin = await w.attach();
      const q = (body: Data): Promise<Data> => req(w, admin, body);
      const err = (code: number, error: string): Data => ({ audiobridge: 'event', error_code: code, error });
      // Janus 1.1.2's order: the request's parameters, then the room, then its secret.
      assert.deepEqual(await q({ request: 'enable_mjrs', room: ROOM }), err(483, 'Missing mandatory element (mjrs)'));
      assert.deepEqual(await q({ request: 'enable_mjrs', room: ROOM, secret: 's', mjrs: 'yes' }), err(484, 'Invalid element type (mjrs should be a boolean)'));
      assert.deepEqual(await q({ request: 'enable_mjrs', room: ROOM, secret: 's', mjrs: true, mjrs_dir: 5 }), err(484, 'Invalid element type (mjrs_dir should be a string)'));
      assert.deepEqual(await q({ request: 'enable_mjrs', room: 999, secret: 's', mjrs: true }), err(485, 'No such room (999)'));
      assert.deepEqual(await q({ request: 'enable_mjrs', room: ROOM, mjrs: true }), err(483, 'Missing mandatory element (secret)'));
      assert.deepEqual(await q({ request: 'enable_mjrs', room: ROOM, secret: 'x', mjrs: true }), err(489, 'Unauthorized (wrong secret)'));

      p = await joinParticipant(w, ROOM, 'A');
      const room = w.plugin.getRoom(ROOM)!;
      assert.equal(room.participants.get(p.id as number)!.mjr, null, 'not recorded while the room does not say so');
      sender = new ToneSender(p, 440);
      sender.start();
      const dirA = join(base, 'a');
      mkdirSync(dirA); // a folder a request names must exist: Portunus creates only the jcfg's (src/security/paths.ts)
      assert.deepEqual(await q({ request: 'enable_mjrs', room: ROOM, secret: 's', mjrs: true, mjrs_dir: dirA }), { audiobridge: 'success', mjrs: true });
      const first = mjrOf(w, ROOM, p.id);
      await sleep(1000);
      assert.deepEqual(await q({ request: 'enable_mjrs', room: ROOM, secret: 's', mjrs: false }), { audiobridge: 'success', mjrs: false });
      assert.equal(room.participants.get(p.id as number)!.mjr, null);
      await first.close();
      const framesAtStop = first.frames;
      assert.ok(framesAtStop >= 30, `frames recorded while enabled (${framesAtStop})`);
      await sleep(300);
      assert.equal(first.frames, framesAtStop, 'nothing recorded once disabled');
      const [name] = readdirSync(dirA);
      assert.match(name ?? '', new RegExp(`^audiobridge-${ROOM}-user-${String(p.id)}-\\d{16}-audio\\.mjr$`));
      assert.equal(readMjr(join(dirA, name!)).frames.length, framesAtStop);
      assert.ok(goertzelAmplitude(postProcess(pp, join(dirA, name!)), 48000, 440) > 3000, 'the tone is in the file');
      assert.equal(room.settings.mjrsDir, dirA, 'mjrs_dir kept for the room');

      // configure record + filename: <filename>-audio.mjr in the room's mjrs_dir.
      const conf = await w.message(p.session, p.handle, { request: 'configure', record: true, filename: 'custom' });
      assert.equal(conf.plugindata?.data['result'], 'ok');
      const custom = mjrOf(w, ROOM, p.id);
      assert.equal(custom.path, join(dirA, 'custom-audio.mjr'));
      await sleep(500);
      await w.message(p.session, p.handle, { request: 'configure', record: false });
      assert.equal(room.participants.get(p.id as number)!.mjr, null, 'record: false stops it');
      await custom.close();
      assert.ok(existsSync(join(dirA, 'custom-audio.mjr')));
      assert.ok(readMjr(join(dirA, 'custom-audio.mjr')).frames.length >= 10);
    } finally {
      sender?.stop();
      p?.client.close();
      await w.stop();
    }
  });
});

test('an unusable mjrs_dir is reported, not thrown: the participant stays, the mix goes on', { timeout: 60_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'portunus-mjrs-'));
  writeFileSync(join(base, 'notadir'), 'x');
  const w = await makeAbWorld(`general: {\n}\nroom-${ROOM}: {\n\tsampling_rate = 16000\n\tmjrs = true\n\tmjrs_dir = "${join(base, 'notadir', 'sub')}"\n}\n`);
  let p: AbParticipant | undefined;
  try {
    p = await joinParticipant(w, ROOM, 'A');
    const f = mjrOf(w, ROOM, p.id);
    assert.equal(await f.ready(), false, 'the file could not be created');
    const sender = new ToneSender(p, 440);
    sender.sendAhead(10);
    sender.stop();
    const room = w.plugin.getRoom(ROOM)!;
    const frames = room.frames;
    await waitFor('the mixer goes on', () => room.frames > frames + 5, 3000);
    assert.equal(room.participants.size, 1);
  } finally {
    p?.client.close();
    await w.stop();
  }
});
