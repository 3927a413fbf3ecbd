/**
 * End-to-end mixing with real Opus: scripted participants send Opus-encoded tones as RTP into
 * incomingRtp; what the plugin sends back (sendRtp) is decoded and analysed with Goertzel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOpusDecoder, createOpusEncoder, type OpusEncoder } from '../../../src/codecs/opus.js';
import { concat, goertzel, rms, toneFrames } from '../../codecs/signal.js';
import { prng } from '../../helpers/prng.js';
import { audioStream, chromeOffer, joinWithMedia, makeHarness, rtpPacket, type Harness, type TestSession } from './harness.js';

const RATE = 16000;
const FRAMES = 50; // 1 s

interface Sender {
  s: TestSession;
  enc: OpusEncoder;
  frames: Int16Array[];
  seq: number;
  ts: number;
  ssrc: number;
}

async function sender(h: Harness, name: string, freq: number | null): Promise<Sender> {
  const { s } = await joinWithMedia(h, 1234, name);
  const enc = createOpusEncoder({ sampleRate: 48000, channels: 1, fec: true, expectedLoss: 10, complexity: 4 });
  const frames = freq === null ? [] : toneFrames(freq, 48000, FRAMES + 10, 6000);
  return { s, enc, frames, seq: 1000, ts: 5000, ssrc: Math.floor(Math.random() * 1e9) };
}

/** Drive `frames` ticks: every sender with audio sends its frame k (unless lost), then 20 ms pass. */
function run(h: Harness, senders: Sender[], frames: number, lose: (who: number, k: number) => boolean = () => false): void {
  for (let k = 0; k < frames; k++) {
    senders.forEach((x, i) => {
      if (x.frames.length === 0) return;
      const payload = x.enc.encode(x.frames[k % x.frames.length]!);
      const seq = x.seq + k;
      const ts = x.ts + k * 960;
      if (!lose(i, k)) {
        const b = rtpPacket({ pt: 111, seq, ts, ssrc: x.ssrc, payload, levelId: 1, level: 20 });
        h.plugin.incomingRtp(x.s, audioStream(x.ssrc), b, b.length);
      };
    });
    h.sched.advance(20);
  }
}

/** Decode everything the plugin sent to `s`, in order, into 16 kHz PCM (one frame per packet). */
function heard(h: Harness, s: TestSession): { pcm: Int16Array; frames: Int16Array[] } {
  const pkts = h.host.rtp.get(s.handleId) ?? [];
  const dec = createOpusDecoder(RATE, 1);
  const frames = pkts.map((p) => dec.decode(p.subarray(12)));
  dec.destroy();
  return { pcm: concat(frames), frames };
}

function tones(pcm: Int16Array, start: number, len: number): Record<number, number> {
  return Object.fromEntries([440, 660, 880].map((f) => [f, goertzel(pcm, f, RATE, start, len)]));
}

test('real Opus mix: A hears B and C but not itself, B hears A and C, a silent D hears all three', async () => {
  const h = await makeHarness();
  const A = await sender(h, 'A', 440);
  const B = await sender(h, 'B', 660);
  const C = await sender(h, 'C', 880);
  const D = await sender(h, 'D', null);
  run(h, [A, B, C, D], FRAMES);
  const win = (x: Int16Array): [number, number] => [10 * 320, x.length - 12 * 320];
  const a = heard(h, A.s).pcm;
  const [s0, n] = win(a);
  const ta = tones(a, s0, n);
  assert.ok(ta[660]! > 2000 && ta[880]! > 2000, `A hears B and C: ${JSON.stringify(ta)}`);
  assert.ok(ta[440]! < ta[660]! / 10, `A does not hear itself: ${JSON.stringify(ta)}`);
  const b = heard(h, B.s).pcm;
  const tb = tones(b, ...win(b));
  assert.ok(tb[440]! > 2000 && tb[880]! > 2000, `B hears A and C: ${JSON.stringify(tb)}`);
  assert.ok(tb[660]! < tb[440]! / 10, `B does not hear itself: ${JSON.stringify(tb)}`);
  const d = heard(h, D.s).pcm;
  const td = tones(d, ...win(d));
  assert.ok(td[440]! > 2000 && td[660]! > 2000 && td[880]! > 2000, `D hears everyone: ${JSON.stringify(td)}`);
  // Three talkers have their own encoders; the silent listener is served by the shared one.
  const stats = h.plugin.getRoom(1234)!.encoderStats();
  assert.deepEqual(stats, { shared: 1, own: 3 });
  // Outgoing RTP: one packet per 20 ms, contiguous sequence numbers, timestamps +960, our PT (111).
  const pkts = h.host.rtp.get(A.s.handleId)!;
  assert.ok(pkts.length >= FRAMES - 2 && pkts.length <= FRAMES, `packets ${pkts.length}`);
  for (let i = 1; i < pkts.length; i++) {
    assert.equal((pkts[i]!.readUInt16BE(2) - pkts[i - 1]!.readUInt16BE(2)) & 0xffff, 1);
    assert.equal((pkts[i]!.readUInt32BE(4) - pkts[i - 1]!.readUInt32BE(4)) >>> 0, 960);
    assert.equal(pkts[i]![1]! & 0x7f, 111);
  }
  const ssrcs = new Set([A, B, C, D].map((x) => h.host.rtp.get(x.s.handleId)![0]!.readUInt32BE(8)));
  assert.equal(ssrcs.size, 4, 'each listener has its own SSRC');
  h.plugin.destroy();
});

test('real Opus mix: 5% random input loss is concealed (FEC/PLC), no silent frame where tones play', async () => {
  const h = await makeHarness();
  const A = await sender(h, 'A', 440);
  const B = await sender(h, 'B', 660);
  const C = await sender(h, 'C', 880);
  const D = await sender(h, 'D', null);
  const rnd = prng(42);
  let lost = 0;
  run(h, [A, B, C, D], FRAMES, (who) => {
    const l = who < 3 && rnd() < 0.05;
    if (l) lost++;
    return l;
  });
  assert.ok(lost >= 3, `some packets were lost (${lost})`);
  const room = h.plugin.getRoom(1234)!;
  const jbStats = [A, B, C].map((x) => (x.s.state as { participant: { jitter: { stats: { fec: number; concealed: number } } } }).participant.jitter.stats);
  assert.ok(jbStats.reduce((a, s) => a + s.fec + s.concealed, 0) >= lost - 1, 'losses were concealed');
  for (const x of [A, D]) {
    const { frames } = heard(h, x.s);
    const steady = frames.slice(8, frames.length - 6);
    const levels = steady.map((f) => rms(f));
    const min = Math.min(...levels);
    assert.ok(min > 1000, `no silent frame (min rms ${min.toFixed(0)})`);
  }
  assert.ok(room.frames >= FRAMES);
  h.plugin.destroy();
});

test('muted participants and mute_room are not mixed; admins are immune to mute_room', async () => {
  const h = await makeHarness();
  const A = await sender(h, 'A', 440);
  const B = await sender(h, 'B', 660);
  await h.send(A.s, { request: 'configure', muted: true });
  run(h, [A, B], 30);
  const b = heard(h, B.s).pcm;
  assert.ok(goertzel(b, 440, RATE, 10 * 320, 15 * 320) < 200, 'B does not hear muted A');
  // Unmute A, mute the room: nobody is mixed.
  await h.send(A.s, { request: 'configure', muted: false });
  const r = await h.send(B.s, { request: 'mute_room', room: 1234, secret: 'adminpwd' });
  assert.equal(r.data['audiobridge'], 'success');
  h.host.rtp.clear();
  run(h, [A, B], 30);
  const b2 = heard(h, B.s).pcm;
  assert.ok(goertzel(b2, 440, RATE, 10 * 320, 15 * 320) < 200, 'room muted');
  h.plugin.destroy();
});

test('talk detection from the audio-level extension emits talking / stopped-talking to everyone', async () => {
  const h = await makeHarness();
  await h.send(h.session(), { request: 'create', room: 77, audiolevel_event: true, audio_active_packets: 10, audio_level_average: 40 });
  const a = await joinWithMedia(h, 77, 'A');
  const b = await joinWithMedia(h, 77, 'B');
  const enc = createOpusEncoder({ sampleRate: 48000, channels: 1 });
  const send = (k: number, level: number): void => {
    const b = rtpPacket({ pt: 111, seq: k, ts: k * 960, ssrc: 5, payload: enc.encode(new Int16Array(960)), levelId: 1, level });
    h.plugin.incomingRtp(a.s, audioStream(5), b, b.length);
  };
  for (let k = 0; k < 10; k++) send(k, 10);
  const talk = { audiobridge: 'talking', room: 77, id: a.id };
  assert.deepEqual(h.host.unsolicited(b.s).at(-1), talk);
  assert.deepEqual(h.host.unsolicited(a.s).at(-1), talk, 'the speaker is told too');
  for (let k = 10; k < 20; k++) send(k, 127);
  assert.deepEqual(h.host.unsolicited(b.s).at(-1), { audiobridge: 'stopped-talking', room: 77, id: a.id });
  const lp = await h.send(b.s, { request: 'listparticipants', room: 77 });
  const pa = (lp.data['participants'] as Array<Record<string, unknown>>).find((x) => x['id'] === a.id)!;
  assert.equal(pa['talking'], false);
  enc.destroy();
  h.plugin.destroy();
});

test('shared encoder can be disabled: every listener then encodes its own mix', async () => {
  const h = await makeHarness(undefined, { sharedEncoder: false });
  const A = await sender(h, 'A', 440);
  const D = await sender(h, 'D', null);
  run(h, [A, D], 20);
  assert.deepEqual(h.plugin.getRoom(1234)!.encoderStats(), { shared: 0, own: 2 });
  const d = heard(h, D.s).pcm;
  assert.ok(goertzel(d, 440, RATE, 8 * 320, 8 * 320) > 2000);
  h.plugin.destroy();
});

test('G.711 participant (pcmu) is mixed with Opus ones', async () => {
  const h = await makeHarness();
  const A = await sender(h, 'A', 440);
  const u = h.session();
  await h.send(u, { request: 'join', room: 1234, codec: 'pcmu' });
  const c = await h.send(u, { request: 'configure' }, { type: 'offer', sdp: chromeOffer() });
  assert.match(c.jsep!.sdp, /m=audio 9 UDP\/TLS\/RTP\/SAVPF 0\r\n/);
  h.plugin.setupMedia(u);
  run(h, [A], 20);
  const pkts = h.host.rtp.get(u.handleId)!;
  assert.equal(pkts[0]![1]! & 0x7f, 0);
  assert.equal(pkts[0]!.length, 12 + 160);
  assert.equal((pkts[1]!.readUInt32BE(4) - pkts[0]!.readUInt32BE(4)) >>> 0, 160);
  h.plugin.destroy();
});
