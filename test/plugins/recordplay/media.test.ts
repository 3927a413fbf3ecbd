/**
 * Record&Play with real PeerConnections through Portunus (a temp recordings folder):
 *  - record: a client sends Opus + VP8 for ~3 s, `stop`; the .nfo Janus writes appears, the .mjr files
 *    index, and janus-pp-rec (janus-tools) accepts them;
 *  - play it back to another client: `play` brings the offer, `start` with the answer; packets arrive on
 *    both m-lines with the recording's pacing (about as long as it was recorded), the first video packet
 *    is a key frame, and the handle gets "done" at the end;
 *  - a VideoRoom-style recording (written by the MjrFile VideoRoom uses, starting with delta frames and
 *    carrying header extensions) listed through a hand-written .nfo and `update`: playout starts at its
 *    first key frame and the extensions are gone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMjrIndex } from '../../../src/recording/mjr-read.js';
import { MjrFile } from '../../../src/recording/mjr.js';
import { buildAnswer, buildOffer, EXT, extmapsFor } from '../../../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../../../src/media/sdp/jsep.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { longPoll, postJson, type JsonObject } from '../../helpers/janus-client.js';
import { startMediaGateway, type MediaGateway } from '../../helpers/media-server.js';
import { isVp8KeyPayload, rtcClient, vp8Frame, waitUntil, type RtcClient } from '../../helpers/rtc-client.js';
import { rtpPacket } from '../../media/peer/helpers.js';
import { janusPpRec } from '../../recording/mjr-reader.js';

interface Handle {
  session: number;
  handle: number;
  events: JsonObject[];
}

let gw: MediaGateway;
let dir: string;
const clients: RtcClient[] = [];

async function attach(): Promise<Handle> {
  const s = await postJson(gw.httpUrl, { janus: 'create', transaction: 'c' });
  const session = (s.data as { id: number }).id;
  const a = await postJson(`${gw.httpUrl}/${session}`, { janus: 'attach', plugin: 'janus.plugin.recordplay', transaction: 'a' });
  return { session, handle: (a.data as { id: number }).id, events: [] };
}

/** Long-poll the handle's session until an event matches (every event is kept: a batch may hold several). */
async function nextEvent(h: Handle, pred: (e: JsonObject) => boolean, ms = 20_000): Promise<JsonObject> {
  const deadline = Date.now() + ms;
  for (;;) {
    const i = h.events.findIndex(pred);
    if (i >= 0) return h.events.splice(i, 1)[0]!;
    if (Date.now() > deadline) throw new Error(`no matching event within ${ms} ms; have ${JSON.stringify(h.events).slice(0, 800)}`);
    const r = await longPoll(gw.httpUrl, h.session, { maxev: 10, timeoutMs: 35_000 });
    for (const e of Array.isArray(r.json) ? r.json : [r.json]) if (e && typeof e === 'object' && !Array.isArray(e) && e['janus'] !== 'keepalive') h.events.push(e as JsonObject);
  }
}

async function request(h: Handle, body: JsonObject, jsep?: JsonObject): Promise<JsonObject> {
  const transaction = `t${Math.random()}`;
  const r = await postJson(`${gw.httpUrl}/${h.session}/${h.handle}`, { janus: 'message', transaction, body, ...(jsep ? { jsep } : {}) });
  if (r.janus === 'success') return r;
  return nextEvent(h, (e) => e.transaction === transaction && e.janus === 'event');
}

const data = (e: JsonObject): JsonObject => (e.plugindata as { data: JsonObject }).data;
const isDone = (e: JsonObject): boolean => e.janus === 'event' && (e.plugindata as { data?: JsonObject } | undefined)?.data?.result === 'done';

/** `play` + `start` from a fresh client; resolves once its PeerConnection is up. */
async function watch(id: number): Promise<{ h: Handle; c: RtcClient }> {
  const h = await attach();
  const c = await rtcClient(gw);
  clients.push(c);
  const prep = await request(h, { request: 'play', id });
  assert.deepEqual(data(prep), { recordplay: 'event', result: { status: 'preparing', id } });
  const offer = parseSdp((prep.jsep as { sdp: string }).sdp);
  c.peer.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
  const { description } = buildAnswer(offer, (m) => ({ codecs: m.kind === 'audio' ? ['opus'] : ['vp8'], direction: 'recvonly' }));
  const answer = c.peer.setLocalDescription(writeSdp(description), 'answer');
  const started = await request(h, { request: 'start' }, { type: 'answer', sdp: answer });
  assert.deepEqual(data(started), { recordplay: 'event', result: { status: 'playing' } });
  await waitUntil('the viewer PeerConnection', () => c.up);
  return { h, c };
}

describe('Record&Play media through Portunus', { timeout: 180_000 }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rp-media-'));
    gw = await startMediaGateway('portunus', ['recordplay'], { recordplay: `general: {\n  path = ${JSON.stringify(dir)}\n}\n` }, { prefix: 'rp-media' });
  });
  after(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('record a real PeerConnection: .nfo written, .mjr files readable and accepted by janus-pp-rec', async () => {
    const h = await attach();
    const c = await rtcClient(gw);
    clients.push(c);
    const offer = buildOffer([
      { kind: 'audio', mid: '0', direction: 'sendonly', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid, EXT.audioLevel]) },
      { kind: 'video', mid: '1', direction: 'sendonly', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) },
    ]);
    const sdp = c.peer.setLocalDescription(writeSdp(offer), 'offer');
    const ev = await request(h, { request: 'record', name: 'media test', id: 42 }, { type: 'offer', sdp });
    assert.deepEqual(data(ev), { recordplay: 'event', result: { status: 'recording', id: 42 } });
    const answer = parseSdp((ev.jsep as { sdp: string }).sdp);
    assert.deepEqual(answer.media.map((m) => m.direction), ['recvonly', 'recvonly']);
    c.peer.setRemoteDescription(answer, extractRemoteTransport(answer, { type: 'answer' }), 'answer');
    await waitUntil('the recorder PeerConnection', () => c.up);
    // 3 s: audio every 20 ms, video 25 fps (2 packets per frame), a key frame every second.
    let n = 0;
    let vseq = 0;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        const a = rtpPacket(111, n, n * 960, 0x1111, Buffer.alloc(40, 0x11));
        c.peer.sendRtp('0', a, a.length);
        if (n % 2 === 0) {
          const f = n / 2;
          for (let part = 0; part < 2; part++) {
            const payload = part === 0 ? vp8Frame(700, f % 25 === 0, f) : Buffer.concat([Buffer.from([0x80, 0x80, 0x80 | ((f >> 8) & 0x7f), f & 0xff]), Buffer.alloc(400, 0x22)]);
            const v = rtpPacket(96 | (part === 1 ? 0x80 : 0), vseq++, f * 3600, 0x2222, payload);
            c.peer.sendRtp('1', v, v.length);
          }
        }
        if (++n >= 150) {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    const stop = await request(h, { request: 'stop' });
    assert.deepEqual(data(stop), { recordplay: 'event', result: { status: 'stopped', id: 42 } });
    await nextEvent(h, isDone);
    const nfo = join(dir, '42.nfo');
    await waitUntil('42.nfo', () => existsSync(nfo), 10_000);
    assert.match(readFileSync(nfo, 'latin1'), /^\[42\]\r\nname = media test\r\ndate = \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\r\naudio = rec-42-audio\.mjr\r\nvideo = rec-42-video\.mjr\r\n$/);
    const audio = await readMjrIndex(join(dir, 'rec-42-audio.mjr'));
    const video = await readMjrIndex(join(dir, 'rec-42-video.mjr'));
    assert.equal(audio.header.codec, 'opus');
    assert.equal(video.header.codec, 'vp8');
    assert.ok(audio.count >= 120, `audio frames recorded: ${audio.count}`);
    assert.ok(video.count >= 120, `video packets recorded: ${video.count}`);
    const pp = janusPpRec();
    for (const [f, out] of [['rec-42-audio.mjr', 'a.opus'], ['rec-42-video.mjr', 'v.webm']] as const) {
      const r = spawnSync(pp, [join(dir, f), join(dir, out)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `janus-pp-rec ${f}: ${r.stderr}${r.stdout}`);
      assert.ok(readFileSync(join(dir, out)).length > 1000, `${out} has content`);
    }
    const list = await request(h, { request: 'list' });
    const listed = ((list.plugindata as { data: { list: JsonObject[] } }).data.list).find((r) => r.id === 42);
    assert.deepEqual(listed && { ...listed, date: 'x' }, { id: 42, name: 'media test', date: 'x', audio: true, audio_codec: 'opus', video: true, video_codec: 'vp8', data: false });
  });

  test('stop after the PeerConnection already hung up (janus.js stop() then hangup(), DTLS close first): "stopped" still names the recording', async () => {
    const h = await attach();
    const c = await rtcClient(gw);
    clients.push(c);
    const offer = buildOffer([{ kind: 'audio', mid: '0', direction: 'sendonly', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid]) }]);
    const sdp = c.peer.setLocalDescription(writeSdp(offer), 'offer');
    const ev = await request(h, { request: 'record', name: 'race test', id: 43 }, { type: 'offer', sdp });
    assert.deepEqual(data(ev), { recordplay: 'event', result: { status: 'recording', id: 43 } });
    const answer = parseSdp((ev.jsep as { sdp: string }).sdp);
    c.peer.setRemoteDescription(answer, extractRemoteTransport(answer, { type: 'answer' }), 'answer');
    await waitUntil('the recorder PeerConnection', () => c.up);
    for (let n = 0; n < 10; n++) {
      const a = rtpPacket(111, n, n * 960, 0x4343, Buffer.alloc(40, 0x11));
      c.peer.sendRtp('0', a, a.length);
    }
    // The media goes first (as the browser's close_notify can), then the request.
    await postJson(`${gw.httpUrl}/${h.session}/${h.handle}`, { janus: 'hangup', transaction: 'hup' });
    await nextEvent(h, isDone);
    const stop = await request(h, { request: 'stop' });
    assert.deepEqual(data(stop), { recordplay: 'event', result: { status: 'stopped', id: 43 } });
  });

  test('play it back: both m-lines, recorded pacing, a key frame first, "done" at the end', async () => {
    const { h, c } = await watch(42);
    await nextEvent(h, isDone, 30_000);
    const a = c.received.get('0');
    const v = c.received.get('1');
    assert.ok(a && a.seqs.length >= 100, `audio packets played: ${a?.seqs.length}`);
    assert.ok(v && v.seqs.length >= 100, `video packets played: ${v?.seqs.length}`);
    assert.ok(isVp8KeyPayload(v.heads[0]!), 'the first video packet starts a key frame');
    assert.deepEqual([...new Set(v.pts)], [100]);
    assert.deepEqual([...new Set(a.pts)], [111]);
    const span = (v.at.at(-1)! - v.at[0]!) / 1000;
    assert.ok(span > 2.2 && span < 4.5, `video played over ${span.toFixed(2)} s (recorded ~3 s)`);
  });

  test('a VideoRoom-style recording (delta frames first, header extensions) starts at its key frame', async () => {
    const us = Date.now() * 1000;
    const vbase = `videoroom-1234-user-7-${us}-video-1`;
    const abase = `videoroom-1234-user-7-${us}-audio-0`;
    // Both files start at the same wall clock (as a publisher's streams do), whatever the machine's load.
    const clocks = { realUs: () => us, monoMs: () => performance.now() };
    const vf = new MjrFile(join(dir, `${vbase}.mjr`), { media: 'video', codec: 'vp8', extmaps: { 13: EXT.videoOrientation } }, { clocks });
    const af = new MjrFile(join(dir, `${abase}.mjr`), { media: 'audio', codec: 'opus' }, { clocks });
    // 2 s: 10 delta frames, then a key frame and 39 more frames; one header extension (id 4, mid "1") each.
    const ext = [{ id: 4, data: [0x31] }];
    const { rtpPacket: extPacket } = await import('../videoroom/media-helpers.js');
    for (let f = 0; f < 50; f++) {
      const p = extPacket({ pt: 96, seq: 1000 + f, ts: 90000 + f * 3600, ssrc: 7, marker: true, ext, payload: vp8Frame(300, f === 10, f) });
      vf.writeRtp(p, p.length);
    }
    for (let i = 0; i < 100; i++) {
      const p = extPacket({ pt: 111, seq: 2000 + i, ts: 48000 + i * 960, ssrc: 8, ext, payload: Buffer.alloc(30, 1) });
      af.writeRtp(p, p.length);
    }
    await vf.close();
    await af.close();
    writeFileSync(join(dir, '777.nfo'), `[777]\r\nname = VideoRoom publisher 7\r\ndate = 2026-01-01 10:00:00\r\naudio = ${abase}.mjr\r\nvideo = ${vbase}.mjr\r\n`);
    const probe = await attach();
    const upd = await request(probe, { request: 'update' });
    assert.deepEqual((upd.plugindata as { data: JsonObject }).data, { recordplay: 'ok' });
    const { h, c } = await watch(777);
    await nextEvent(h, isDone, 30_000);
    const v = c.received.get('1')!;
    assert.ok(isVp8KeyPayload(v.heads[0]!), 'playout starts at the key frame');
    assert.equal(v.seqs.length, 40, 'the 10 delta frames before the key frame are skipped');
    // Only the transport-wide sequence number (Portunus offers transport-cc on video, id 2) goes out.
    assert.deepEqual(v.extIds, [2], "the recording's header extensions are not sent");
    const a = c.received.get('0')!;
    // The key frame is 0.4 s into the video: the audio of those 0.4 s (20 packets) is skipped too.
    assert.ok(a.seqs.length >= 78 && a.seqs.length <= 81, `audio from the key frame on: ${a.seqs.length} of 100 packets`);
  });

  test('the play offer negotiates transport-cc: the estimate towards the viewer is in handle_info, and slow_link carries it when the recording does not fit', async () => {
    const us = Date.now() * 1000;
    const vbase = `rec-bwe-${us}-video`;
    const clocks = { realUs: () => us, monoMs: () => performance.now() };
    const vf = new MjrFile(join(dir, `${vbase}.mjr`), { media: 'video', codec: 'vp8' }, { clocks });
    // 8 s of ~4 Mbit/s (25 frames/s of 20 packets of 1 kB): more than the estimator's 3 Mbit/s ceiling.
    let seq = 0;
    for (let f = 0; f < 200; f++) {
      for (let k = 0; k < 20; k++) {
        const p = rtpPacket(96 | (k === 19 ? 0x80 : 0), seq++, 90000 + f * 3600, 9, k === 0 ? vp8Frame(1000, f % 50 === 0, f) : Buffer.alloc(1000, 7));
        vf.writeRtp(p, p.length);
      }
    }
    await vf.close();
    writeFileSync(join(dir, '778.nfo'), `[778]\r\nname = big\r\ndate = 2026-01-01 10:00:00\r\nvideo = ${vbase}.mjr\r\n`);
    const probe = await attach();
    await request(probe, { request: 'update' });
    const { h, c } = await watch(778);
    let bwe: { estimate: number; 'recording-bitrate': number } | undefined;
    for (const until = Date.now() + 7000; !bwe && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 250));
      const r = await postJson(`${gw.adminUrl}/${h.session}/${h.handle}`, { janus: 'handle_info', transaction: 'hi', admin_secret: gw.adminSecret });
      bwe = ((r as { info?: { plugin_specific?: { bwe?: typeof bwe } } }).info?.plugin_specific?.bwe);
    }
    assert.ok(bwe && bwe.estimate > 0 && bwe.estimate <= 3_000_000, `handle_info bwe: ${JSON.stringify(bwe)}`);
    assert.ok(Math.abs(bwe['recording-bitrate'] - 4_100_000) < 400_000, `recording bitrate ${bwe['recording-bitrate']}`);
    const slow = await nextEvent(h, (e) => ((e.plugindata as { data?: { result?: { status?: string } } } | undefined)?.data?.result?.status === 'slow_link'), 8000);
    const res = (slow.plugindata as { data: { result: { 'current-bitrate': number; media: string } } }).data.result;
    assert.equal(res.media, 'video');
    assert.ok(res['current-bitrate'] > 0 && res['current-bitrate'] < 4_000_000, JSON.stringify(res));
    assert.deepEqual(c.received.get('0')!.extIds, [2], 'video carries the transport-wide element');
  });
});
