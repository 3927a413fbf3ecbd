/**
 * VideoRoom recording to Janus .mjr files. First end to end: a publisher from our own WebRTC client
 * (real UDP, ICE, DTLS-SRTP) sends known Opus, VP8 and data channel messages into a room created with
 * record=true; the files get Janus's names, headers and frame counts, and janus-pp-rec turns them
 * into a 1 s .opus (a valid Ogg/Opus stream) and a .webm. Then the flows, driven through the plugin:
 * configure record on/off and filename, lock_record, enable_recording, unpublish/leave/destroy/detach
 * closing files, and an unwritable rec_dir being a log line, never a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JanusMessage } from '../../../src/core/messages.js';
import { VideoRoomPlugin } from '../../../src/plugins/videoroom/plugin.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, sleep, waitFor } from '../../media/peer/helpers.js';
import { janusPpRec, oggPages, readMjr } from '../../recording/mjr-reader.js';
import { CHROME_OFFER, CHROME_OFFER_SIMULCAST } from './fixtures.js';
import { Harness, type TestSession } from './harness.js';
import { info, publish, pubJoin, rtpPacket as vrRtp, vp8Payload } from './media-helpers.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> } };

const tmp = (): string => mkdtempSync(join(tmpdir(), 'portunus-rec-'));
const mjrs = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.mjr')).sort();

test('end to end: Opus + VP8 + data from a WebRTC publisher in a record=true room become Janus .mjr files janus-pp-rec converts', { timeout: 600_000 }, async () => {
  const pp = janusPpRec();
  const dir = tmp();
  const plugin = new VideoRoomPlugin();
  const w = await makeWorld(undefined, { plugins: [plugin] });
  const c = await makeClient();
  try {
    const s = ((await w.req({ janus: 'create' })).data as { id: number }).id;
    const h = ((await w.req({ janus: 'attach', session_id: s, plugin: 'janus.plugin.videoroom' })).data as { id: number }).id;
    const msg = async (body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<Record<string, unknown>> => {
      const tx = `m${Math.random()}`;
      const r = (await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: tx, body, ...(jsep ? { jsep } : {}) })) as Ev;
      if (r.janus === 'success') return r.plugindata!.data;
      const ev = await waitFor(`event for ${String(body.request)}`, () => (w.client.events as Ev[]).find((e) => e.transaction === tx && e.janus === 'event'));
      return ev.plugindata!.data;
    };
    assert.deepEqual(await msg({ request: 'create', room: 4321, record: true, rec_dir: dir, secret: 'sec' }), { videoroom: 'created', room: 4321, permanent: false });
    const joined = await msg({ request: 'join', ptype: 'publisher', room: 4321, id: 77, display: 'rec' });
    assert.equal(joined.videoroom, 'joined');
    const tx = 'pub';
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: tx, body: { request: 'publish' }, jsep: { type: 'offer', sdp: clientOffer(c) } });
    const ev = await waitFor('the answer', () => (w.client.events as Ev[]).find((e) => e.transaction === tx && e.jsep));
    assert.equal(ev.plugindata!.data.configured, 'ok');
    applyAnswer(c, ev.jsep!.sdp);
    await waitFor('client DTLS up', () => c.up);
    await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup'));

    // 50 Opus packets (20 ms each: 1 s), 30 VP8 frames (keyframe first), 3 data channel messages.
    for (let i = 0; i < 50; i++) c.peer.sendRtp('0', rtpPacket(111, 1000 + i, 48_000 + i * 960, 0x1111, Buffer.from([0xf8, 0xff, 0xfe])), 15);
    for (let i = 0; i < 30; i++) {
      const p = rtpPacket(96, 7000 + i, 90_000 + i * 3000, 0x2222, vp8Payload({ pictureId: i, keyframe: i === 0 }));
      p[1] = p[1]! | 0x80; // one packet per frame: marker set
      c.peer.sendRtp('1', p, p.length);
      if (i % 10 === 9) await sleep(5);
    }
    for (const t of ['one', 'two', 'three']) c.peer.sendData('chat', t);
    const me = plugin.room(4321 as never)!.participants.get(77 as never)!;
    const rec = (mid: string) => me.media.byMid.get(mid)!.recorder!.file;
    await waitFor('every packet recorded', () => rec('0').frames === 50 && rec('1').frames === 30 && rec('2').frames === 3, 10_000);

    assert.deepEqual(await msg({ request: 'leave' }), { videoroom: 'event', room: 4321, leaving: 'ok' });
    await plugin.recordings!.settled();
    assert.equal(plugin.recordings!.size, 0, 'leave closed every recording');

    const files = mjrs(dir);
    assert.equal(files.length, 3, files.join(','));
    const ts = /^videoroom-4321-user-77-(\d{16})-(audio|video|data)-(\d)\.mjr$/;
    assert.deepEqual(files.map((f) => f.replace(ts, '$2-$3')).sort(), ['audio-0', 'data-2', 'video-1']);
    const audio = readMjr(join(dir, files.find((f) => f.includes('-audio-'))!));
    const video = readMjr(join(dir, files.find((f) => f.includes('-video-'))!));
    const data = readMjr(join(dir, files.find((f) => f.includes('-data-'))!));
    assert.equal(audio.magic, 'MJR00002');
    assert.deepEqual([audio.header?.t, audio.header?.c, video.header?.t, video.header?.c, data.header?.t, data.header?.c], ['a', 'opus', 'v', 'vp8', 'd', 'text']);
    for (const m of [audio, video, data]) assert.ok(typeof m.header?.s === 'number' && typeof m.header?.u === 'number' && (m.header.u as number) >= (m.header.s as number));
    assert.deepEqual([audio.frames.length, video.frames.length, data.frames.length], [50, 30, 3]);
    assert.deepEqual(audio.frames.slice(0, 3).map((f) => [f.bytes.readUInt16BE(2), f.bytes.readUInt32BE(4)]), [[1, 0], [2, 960], [3, 1920]]);
    assert.deepEqual(data.frames.map((f) => f.bytes.subarray(8).toString()), ['one', 'two', 'three']);

    const audioPath = join(dir, files.find((f) => f.includes('-audio-'))!);
    const videoPath = join(dir, files.find((f) => f.includes('-video-'))!);
    const opus = spawnSync(pp, [audioPath, join(dir, 'a.opus')], { encoding: 'utf8' });
    assert.equal(opus.status, 0, opus.stdout + opus.stderr);
    const pages = oggPages(readFileSync(join(dir, 'a.opus')));
    assert.equal(pages[0]!.firstPacket.subarray(0, 8).toString('latin1'), 'OpusHead');
    const secs = Number(pages.at(-1)!.granule) / 48000;
    assert.ok(Math.abs(secs - 1) <= 0.05, `opus duration ${secs}s`);
    const webm = spawnSync(pp, [videoPath, join(dir, 'v.webm')], { encoding: 'utf8' });
    assert.equal(webm.status, 0, webm.stdout + webm.stderr);
    const wb = readFileSync(join(dir, 'v.webm'));
    assert.equal(wb.readUInt32BE(0), 0x1a45dfa3, 'EBML header');
    assert.ok(wb.includes(Buffer.from('webm')) && wb.includes(Buffer.from('V_VP8')), 'a WebM with a VP8 track');
    const srt = spawnSync(pp, [join(dir, files.find((f) => f.includes('-data-'))!), join(dir, 'd.srt')], { encoding: 'utf8' });
    assert.equal(srt.status, 0, srt.stdout + srt.stderr);
    assert.match(readFileSync(join(dir, 'd.srt'), 'utf8'), /one[\s\S]*two[\s\S]*three/);
  } finally {
    c.close();
    await w.stop();
  }
});

// ------------------------------------------------------------------ flows (plugin driven directly)

function rooms(dir: string): string {
  return `general: {
  string_ids = true
}
room-r: {
  secret = "s"
  publishers = 6
  rec_dir = "${dir}"
}
room-locked: {
  secret = "s"
  lock_record = true
  rec_dir = "${dir}"
}
room-auto: {
  secret = "s"
  record = true
  rec_dir = "${dir}"
}
`;
}

function sendSome(h: Harness, s: TestSession, n: number, seq0 = 1): void {
  for (let i = 0; i < n; i++) {
    h.rtp(s, info('0', 'audio', 0xa), vrRtp({ pt: 111, seq: seq0 + i, ts: (seq0 + i) * 960, ssrc: 0xa }));
    h.rtp(s, info('1', 'video', 0xb), vrRtp({ pt: 96, seq: seq0 + i, ts: (seq0 + i) * 3000, ssrc: 0xb, payload: vp8Payload({ pictureId: seq0 + i, keyframe: i === 0 }) }));
  }
}

async function settle(h: Harness): Promise<void> {
  await h.plugin.recordings!.settled();
}

test('configure record:true starts one file per stream (with a keyframe request), record:false closes them; filename prefix', async () => {
  const dir = tmp();
  const h = await Harness.start(rooms(dir));
  const s = h.attach();
  await publish(h, s, 'r', 'u1');
  assert.equal(h.plugin.recordings!.size, 0, 'room does not record');
  h.host.clear();
  assert.deepEqual(await h.async(s, { request: 'configure', record: true }), { videoroom: 'event', room: 'r', configured: 'ok' });
  assert.deepEqual(h.host.plisTo(s), ['1'], 'keyframe requested for the video being recorded');
  sendSome(h, s, 10);
  assert.deepEqual(await h.async(s, { request: 'configure', record: false }), { videoroom: 'event', room: 'r', configured: 'ok' });
  await settle(h);
  const first = mjrs(dir);
  assert.equal(first.length, 2, first.join(','));
  for (const f of first) assert.match(f, /^videoroom-r-user-u1-\d{16}-(audio-0|video-1)\.mjr$/);
  for (const f of first) assert.equal(readMjr(join(dir, f)).frames.length, 10);
  sendSome(h, s, 5, 100); // not recording any more
  await settle(h);
  for (const f of first) assert.equal(readMjr(join(dir, f)).frames.length, 10);

  // A filename prefix names the next files; Janus appends -<type>-<mindex>.
  await h.async(s, { request: 'configure', record: true, filename: 'meeting-u1' });
  sendSome(h, s, 4, 200);
  await h.async(s, { request: 'unpublish' });
  await settle(h);
  assert.deepEqual(mjrs(dir).filter((f) => f.startsWith('meeting-')), ['meeting-u1-audio-0.mjr', 'meeting-u1-video-1.mjr']);
  assert.equal(readMjr(join(dir, 'meeting-u1-video-1.mjr')).frames.length, 4);
  assert.equal(h.plugin.recordings!.size, 0, 'unpublish closed the files');
});

test('room record=true: files from the publish on; leave, kick, destroy and detach close them', async () => {
  const dir = tmp();
  const h = await Harness.start(rooms(dir));
  const a = h.attach();
  const b = h.attach();
  const c = h.attach();
  await publish(h, a, 'auto', 'a');
  await publish(h, b, 'auto', 'b');
  await publish(h, c, 'auto', 'c');
  assert.equal(h.plugin.recordings!.size, 6);
  sendSome(h, a, 3);
  await h.async(a, { request: 'leave' });
  assert.equal(h.plugin.recordings!.size, 4);
  assert.deepEqual(await h.sync(h.attach(), { request: 'kick', room: 'auto', secret: 's', id: 'b' }), { videoroom: 'success' });
  assert.equal(h.plugin.recordings!.size, 2);
  h.detach(c);
  assert.equal(h.plugin.recordings!.size, 0);
  await settle(h);
  assert.equal(mjrs(dir).length, 6);
  const aAudio = mjrs(dir).find((f) => f.includes('-user-a-') && f.includes('-audio-'))!;
  assert.equal(readMjr(join(dir, aAudio)).frames.length, 3);
  // A publisher that never sent anything leaves a header-only file, as Janus does.
  const bAudio = mjrs(dir).find((f) => f.includes('-user-b-') && f.includes('-audio-'))!;
  assert.deepEqual(readFileSync(join(dir, bAudio)), Buffer.from('MJR00002'));

  const d = h.attach();
  await publish(h, d, 'auto', 'd');
  assert.equal(h.plugin.recordings!.size, 2);
  assert.deepEqual(await h.sync(h.attach(), { request: 'destroy', room: 'auto', secret: 's' }), { videoroom: 'destroyed', room: 'auto', permanent: false });
  assert.equal(h.plugin.recordings!.size, 0, 'room destroy closed the files');
});

test('enable_recording toggles every publisher (needs the secret); a later publisher records too; shutdown closes files', async () => {
  const dir = tmp();
  const h = await Harness.start(rooms(dir));
  const a = h.attach();
  const b = h.attach();
  await publish(h, a, 'r', 'a');
  await h.async(b, pubJoin('r', { id: 'b' }));
  const admin = h.attach();
  assert.deepEqual(await h.sync(admin, { request: 'enable_recording', room: 'r', secret: 'x', record: true }), { videoroom: 'event', error_code: 433, error: 'Unauthorized (wrong secret)' });
  assert.equal(h.plugin.recordings!.size, 0);
  assert.deepEqual(await h.sync(admin, { request: 'enable_recording', room: 'r', secret: 's', record: true }), { videoroom: 'success', record: true });
  assert.equal(h.plugin.recordings!.size, 2, 'the publishing participant records at once');
  await h.async(b, { request: 'configure', audio: true, video: true }, { type: 'offer', sdp: CHROME_OFFER });
  assert.equal(h.plugin.recordings!.size, 4, 'the room records: a new publisher records from its publish');
  assert.deepEqual(await h.sync(admin, { request: 'enable_recording', room: 'r', secret: 's', record: false }), { videoroom: 'success', record: false });
  assert.equal(h.plugin.recordings!.size, 0);
  await h.sync(admin, { request: 'enable_recording', room: 'r', secret: 's', record: true });
  assert.equal(h.plugin.recordings!.size, 2, 'b is negotiated but not up yet: no files');
  h.plugin.setupMedia(b);
  sendSome(h, a, 7);
  assert.equal(h.plugin.recordings!.size, 4);
  await h.plugin.destroy();
  const written = mjrs(dir).map((f) => readMjr(join(dir, f)).frames.length);
  assert.equal(written.length, 8);
  assert.ok(written.filter((n) => n === 7).length === 2, `after shutdown the last files hold their frames: ${written.join(',')}`);
});

test('lock_record: record/filename need the room secret (ignored without it, as in Janus)', async () => {
  const dir = tmp();
  const h = await Harness.start(rooms(dir));
  const s = h.attach();
  await publish(h, s, 'locked', 'p');
  assert.deepEqual(await h.async(s, { request: 'configure', record: true, filename: 'nope' }), { videoroom: 'event', room: 'locked', configured: 'ok' });
  assert.equal(h.plugin.recordings!.size, 0, 'no secret: recording unchanged');
  await h.async(s, { request: 'configure', record: true, secret: 'wrong' });
  assert.equal(h.plugin.recordings!.size, 0, 'wrong secret: recording unchanged');
  assert.ok(h.warnings().some((w) => w.includes('lock_record')));
  await h.async(s, { request: 'configure', record: true, secret: 's', filename: 'ok' });
  assert.equal(h.plugin.recordings!.size, 2);
  await h.async(s, { request: 'configure', record: false, secret: 's' });
  await settle(h);
  assert.deepEqual(mjrs(dir), ['ok-audio-0.mjr', 'ok-video-1.mjr']);
});

test('an unwritable rec_dir is an error log line; the publisher keeps publishing and subscribers keep receiving', async () => {
  const base = tmp();
  writeFileSync(join(base, 'file'), 'x');
  const h = await Harness.start(`general: {
  string_ids = true
}
room-bad: {
  record = true
  rec_dir = "${join(base, 'file', 'sub')}"
}
`);
  const s = h.attach();
  const { configured } = await publish(h, s, 'bad', 'p');
  assert.equal(configured.configured, 'ok');
  sendSome(h, s, 3);
  await waitFor('the error log line', () => h.log.lines.find((l) => l.level === 'error' && l.msg.includes("couldn't record")));
  sendSome(h, s, 3, 50);
  const me = h.plugin.room('bad' as never)!.participants.get('p' as never)!;
  assert.equal(me.media.streams[0]!.packets, 6, 'the packet path is untouched');
  assert.deepEqual(await h.async(s, { request: 'unpublish' }), { videoroom: 'event', room: 'bad', unpublished: 'ok' });
  await settle(h);
  assert.equal(statSync(join(base, 'file')).isFile(), true);
});

test('simulcast: one video file with the best layer, switched at keyframes, one SSRC and continuous seq', async () => {
  const dir = tmp();
  const h = await Harness.start(rooms(dir));
  const s = h.attach();
  await publish(h, s, 'auto', 'p', { offer: CHROME_OFFER_SIMULCAST });
  const vid = (rid: string, ssrc: number, seq: number, keyframe: boolean): void =>
    h.rtp(s, info('1', 'video', ssrc, { rid }), vrRtp({ pt: 96, seq, ts: seq * 3000, ssrc, payload: vp8Payload({ pictureId: seq, keyframe }) }));
  vid('l', 0x10, 1, false); // no keyframe yet: nothing
  vid('l', 0x10, 2, true); // low layer starts the file
  vid('l', 0x10, 3, false);
  vid('h', 0x30, 500, false); // better layer, but not at a keyframe
  vid('h', 0x30, 501, true); // switch up
  vid('l', 0x10, 4, false); // the low layer no longer recorded
  vid('h', 0x30, 502, false);
  await h.async(s, { request: 'leave' });
  await settle(h);
  const f = mjrs(dir).find((x) => x.includes('-video-'))!;
  const frames = readMjr(join(dir, f)).frames;
  assert.deepEqual(frames.map((x) => x.bytes.readUInt32BE(8)), [0x10, 0x10, 0x10, 0x10], 'one SSRC for the whole file');
  assert.deepEqual(frames.map((x) => x.bytes.readUInt16BE(2)), [1, 2, 3, 4], 'continuous sequence numbers across the switch');
  assert.deepEqual(frames.map((x) => x.bytes.subarray(12 + 3, 12 + 4)[0]), [2, 3, 501 & 0xff, 502 & 0xff], 'the packets recorded (picture id low byte)');
});
