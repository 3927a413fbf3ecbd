/**
 * A real VideoRoom recording played back by Record&Play, in one Portunus: a client publishes Opus + VP8
 * in room 1234 (record = true, rec_dir = the Record&Play folder) for 2 s starting with delta frames,
 * leaves; a hand-written .nfo names the two .mjr files VideoRoom wrote (as Janus's documentation says
 * to do), `update` lists it, and a viewer gets it played: both m-lines, starting at a key frame.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAnswer, buildOffer, EXT, extmapsFor } from '../../../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../../../src/media/sdp/jsep.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { longPoll, postJson, type JsonObject } from '../../helpers/janus-client.js';
import { startMediaGateway, type MediaGateway } from '../../helpers/media-server.js';
import { isVp8KeyPayload, rtcClient, vp8Frame, waitUntil, type RtcClient } from '../../helpers/rtc-client.js';
import { rtpPacket } from '../../media/peer/helpers.js';

let gw: MediaGateway;
let dir: string;
const clients: RtcClient[] = [];

interface H {
  session: number;
  handle: number;
  events: JsonObject[];
}

async function attach(plugin: string): Promise<H> {
  const s = await postJson(gw.httpUrl, { janus: 'create', transaction: 'c' });
  const session = (s.data as { id: number }).id;
  const a = await postJson(`${gw.httpUrl}/${session}`, { janus: 'attach', plugin, transaction: 'a' });
  return { session, handle: (a.data as { id: number }).id, events: [] };
}

async function nextEvent(h: H, pred: (e: JsonObject) => boolean, ms = 20_000): Promise<JsonObject> {
  const deadline = Date.now() + ms;
  for (;;) {
    const i = h.events.findIndex(pred);
    if (i >= 0) return h.events.splice(i, 1)[0]!;
    if (Date.now() > deadline) throw new Error(`no matching event within ${ms} ms; have ${JSON.stringify(h.events).slice(0, 800)}`);
    const r = await longPoll(gw.httpUrl, h.session, { maxev: 10, timeoutMs: 35_000 });
    for (const e of Array.isArray(r.json) ? r.json : [r.json]) if (e && typeof e === 'object' && !Array.isArray(e) && e['janus'] !== 'keepalive') h.events.push(e as JsonObject);
  }
}

async function request(h: H, body: JsonObject, jsep?: JsonObject): Promise<JsonObject> {
  const transaction = `t${Math.random()}`;
  const r = await postJson(`${gw.httpUrl}/${h.session}/${h.handle}`, { janus: 'message', transaction, body, ...(jsep ? { jsep } : {}) });
  if (r.janus === 'success') return r;
  return nextEvent(h, (e) => e.transaction === transaction && e.janus === 'event');
}

const data = (e: JsonObject): JsonObject => (e.plugindata as { data: JsonObject }).data;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-vr-'));
  const videoroom = ['general: {', '  string_ids = false', '}', 'room-1234: {', '  description = "Demo Room"', '  publishers = 6', '  audiocodec = "opus"', '  videocodec = "vp8"', '  record = true', `  rec_dir = ${JSON.stringify(dir)}`, '}', ''].join('\n');
  gw = await startMediaGateway('portunus', ['videoroom', 'recordplay'], { videoroom, recordplay: `general: {\n  path = ${JSON.stringify(dir)}\n}\n` }, { prefix: 'rp-vr' });
});
after(async () => {
  for (const c of clients) c.close();
  await gw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a VideoRoom publisher recording, named in a .nfo, plays back from its first key frame', { timeout: 120_000 }, async () => {
  const pub = await attach('janus.plugin.videoroom');
  const c = await rtcClient(gw);
  clients.push(c);
  const offer = buildOffer([
    { kind: 'audio', mid: '0', direction: 'sendonly', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid]) },
    { kind: 'video', mid: '1', direction: 'sendonly', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) },
  ]);
  const sdp = c.peer.setLocalDescription(writeSdp(offer), 'offer');
  const joined = await request(pub, { request: 'joinandconfigure', room: 1234, ptype: 'publisher', display: 'rec', id: 77 }, { type: 'offer', sdp });
  assert.equal(data(joined).videoroom, 'joined', JSON.stringify(data(joined)));
  const ans = parseSdp((joined.jsep as { sdp: string }).sdp);
  c.peer.setRemoteDescription(ans, extractRemoteTransport(ans, { type: 'answer' }), 'answer');
  await waitUntil('the publisher PeerConnection', () => c.up);
  // 2 s: 50 video frames, the first 10 delta frames, a key frame at frame 10; 100 audio packets.
  for (let n = 0; n < 100; n++) {
    const a = rtpPacket(111, n, n * 960, 0x3333, Buffer.alloc(40, 0x11));
    c.peer.sendRtp('0', a, a.length);
    if (n % 2 === 0) {
      const f = n / 2;
      const v = rtpPacket(96 | 0x80, f, f * 3600, 0x4444, vp8Frame(500, f === 10 || f === 35, f));
      c.peer.sendRtp('1', v, v.length);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await request(pub, { request: 'leave' });
  c.close();
  let files: string[] = [];
  await waitUntil('the VideoRoom .mjr files', () => (files = readdirSync(dir).filter((f) => f.startsWith('videoroom-1234-user-77-') && f.endsWith('.mjr'))).length === 2, 10_000);
  const audio = files.find((f) => f.includes('-audio-'))!;
  const video = files.find((f) => f.includes('-video-'))!;
  await new Promise((r) => setTimeout(r, 500)); // the recorder's last flush
  writeFileSync(join(dir, '9001.nfo'), `[9001]\r\nname = VideoRoom publisher 77\r\ndate = 2026-01-01 12:00:00\r\naudio = ${audio}\r\nvideo = ${video}\r\n`);

  const viewer = await attach('janus.plugin.recordplay');
  assert.deepEqual(data(await request(viewer, { request: 'update' })), { recordplay: 'ok' });
  const list = data(await request(viewer, { request: 'list' })).list as JsonObject[];
  assert.ok(list.some((r) => r.id === 9001 && r.audio_codec === 'opus' && r.video_codec === 'vp8'), JSON.stringify(list));
  const v = await rtcClient(gw);
  clients.push(v);
  const prep = await request(viewer, { request: 'play', id: 9001 });
  assert.deepEqual(data(prep), { recordplay: 'event', result: { status: 'preparing', id: 9001 } });
  const po = parseSdp((prep.jsep as { sdp: string }).sdp);
  v.peer.setRemoteDescription(po, extractRemoteTransport(po, { type: 'offer' }), 'offer');
  const { description } = buildAnswer(po, (m) => ({ codecs: m.kind === 'audio' ? ['opus'] : ['vp8'], direction: 'recvonly' }));
  const answer = v.peer.setLocalDescription(writeSdp(description), 'answer');
  assert.deepEqual(data(await request(viewer, { request: 'start' }, { type: 'answer', sdp: answer })), { recordplay: 'event', result: { status: 'playing' } });
  await nextEvent(viewer, (e) => e.janus === 'event' && (e.plugindata as { data?: JsonObject } | undefined)?.data?.result === 'done', 30_000);
  const rv = v.received.get('1');
  const ra = v.received.get('0');
  assert.ok(rv && rv.seqs.length >= 30, `video packets played: ${rv?.seqs.length}`);
  assert.ok(ra && ra.seqs.length >= 50, `audio packets played: ${ra?.seqs.length}`);
  assert.ok(isVp8KeyPayload(rv.heads[0]!), 'the playout starts with a key frame');
  assert.ok(rv.seqs.length <= 40, `the delta frames before the first key frame were skipped (${rv.seqs.length} of 50 sent)`);
});
