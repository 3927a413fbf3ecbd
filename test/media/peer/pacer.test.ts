/**
 * The pacer in a real PeerConnection (gateway Peer <-> client Peer over UDP on 127.0.0.1): with
 * transport-cc negotiated, a burst the plugin relays all at once leaves spread out at a multiple of
 * the estimate, in order, while audio goes straight through; without transport-cc nothing is held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Jsep } from '../../../src/core/jsep.js';
import type { JanusMessage } from '../../../src/core/messages.js';
import { buildOffer, EXT, extmapsFor } from '../../../src/media/sdp/negotiate.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { EchoPlugin } from '../../helpers/echo-plugin.js';
import { applyAnswer, makeClient, makeWorld, sleep, waitFor, type ClientPeer, type World } from './helpers.js';

type Ev = JanusMessage & { jsep?: Jsep };

/** An echo whose answer keeps transport-cc (or not) and RTX on video, and plain Opus on audio. */
function ccEcho(twcc: boolean): EchoPlugin {
  const ext = twcc ? [EXT.mid, EXT.transportWideCc] : [EXT.mid];
  return new EchoPlugin({
    name: 'ccecho',
    answer: (m) =>
      m.kind === 'video'
        ? { codecs: ['vp8'], direction: 'sendrecv', rtx: true, rtcpFb: ['nack', 'nack pli', ...(twcc ? ['transport-cc'] : [])], extensions: ext }
        : m.kind === 'audio'
          ? { codecs: ['opus'], direction: 'sendrecv', extensions: [EXT.mid] }
          : { accept: false },
  });
}

/** RTP with a one-byte-header extension block holding a zeroed transport-wide sequence number (id 2). */
function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: number, tag: number): Buffer {
  const b = Buffer.alloc(12 + 8 + payload);
  b[0] = 0x90;
  b[1] = pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  b.writeUInt16BE(0xbede, 12);
  b.writeUInt16BE(1, 14);
  b[16] = (2 << 4) | 1;
  b.writeUInt32BE(tag, 20);
  return b;
}

async function setup(twcc: boolean): Promise<{ w: World; c: ClientPeer; h: number; plugin: EchoPlugin }> {
  const plugin = ccEcho(twcc);
  const w = await makeWorld(undefined, { plugins: [plugin] });
  // The client sends unpaced: the burst must reach the gateway as one.
  const c = await makeClient({ pacing: false });
  const s = ((await w.req({ janus: 'create' })).data as { id: number }).id;
  const h = ((await w.req({ janus: 'attach', session_id: s, plugin: 'janus.plugin.ccecho' })).data as { id: number }).id;
  const d = buildOffer([
    { kind: 'audio', mid: 'a', direction: 'sendrecv', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid]) },
    { kind: 'video', mid: 'v', direction: 'sendrecv', codec: { name: 'vp8', pt: 96, rtxPt: 97, rtcpFb: ['nack', 'nack pli', 'transport-cc'] }, extensions: extmapsFor([EXT.mid, EXT.transportWideCc]) },
  ]);
  const offer = c.peer.setLocalDescription(writeSdp(d), 'offer');
  await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'o', body: {}, jsep: { type: 'offer', sdp: offer } });
  const ev = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'o' && e.jsep));
  applyAnswer(c, ev.jsep!.sdp);
  await waitFor('client up', () => c.up);
  await waitFor('server up', () => w.plane.peerOf(h)?.isUp);
  return { w, c, h, plugin };
}

/** Steady video (~290 kbit/s) and audio for `ms`, then return the next sequence numbers. */
async function steady(c: ClientPeer, ms: number, seq: { v: number; a: number }): Promise<void> {
  for (let t = 0; t < ms; t += 20) {
    c.peer.sendRtp('a', rtp(111, seq.a, seq.a * 960, 0x11, 100, 0xa0000000 + seq.a), 12 + 8 + 100);
    seq.a++;
    if ((t / 20) % 2 === 0) {
      c.peer.sendRtp('v', rtp(96, seq.v, seq.v * 3000, 0x22, 1200, seq.v), 12 + 8 + 1200);
      seq.v++;
    }
    await sleep(20);
  }
}

test('pacer: with transport-cc a 96 kB burst leaves spread at a multiple of the estimate, in order; audio is not held', { timeout: 30_000 }, async () => {
  const { w, c, h } = await setup(true);
  try {
    const seq = { v: 1000, a: 5000 };
    // Feedback flows and the estimate is trusted (a probe, or 3 s of feedback).
    await steady(c, 4000, seq);
    const server = w.plane.peerOf(h)!;
    await waitFor('a trusted estimate', () => server.bandwidthEstimate > 0, 5000);
    const est = server.bandwidthEstimate;
    // The burst: 80 video packets of 1.2 kB at once, with audio every 20 ms meanwhile.
    const first = seq.v;
    const received = () => c.rtp.filter((p) => p.stream.mid === 'v' && p.bytes.readUInt16BE(2) >= first && p.bytes.readUInt16BE(2) < first + 80);
    for (let i = 0; i < 80; i++) c.peer.sendRtp('v', rtp(96, seq.v + i, seq.v * 3000, 0x22, 1200, seq.v + i), 12 + 8 + 1200);
    seq.v += 80;
    const audioStart = seq.a;
    const audioSent: number[] = [];
    for (let t = 0; t < 1500 && received().length < 80; t += 20) {
      audioSent.push(performance.now());
      c.peer.sendRtp('a', rtp(111, seq.a, seq.a * 960, 0x11, 100, 0xa0000000 + seq.a), 12 + 8 + 100);
      seq.a++;
      await sleep(20);
    }
    await waitFor('the whole burst', () => received().length === 80, 5000);
    const stats = server.rtpStats().bwe!.pacer!;
    assert.ok(stats, 'pacer statistics in handle_info');
    assert.ok(stats.delayed >= 40, `most of the burst waited in the pacer: ${JSON.stringify(stats)}`);
    assert.equal(stats.dropped, 0);
    // Spread: 96 kB at 2.5x the estimate at least; unpaced on loopback it takes a few ms.
    const minSpreadMs = ((80 * 1232 * 8) / (2.5 * Math.max(est, 100_000))) * 1000 * 0.8;
    assert.ok(stats.maxWaitMs >= Math.min(minSpreadMs, 200) * 0.5, `the last packets waited ${stats.maxWaitMs} ms (estimate ${est}, ${minSpreadMs.toFixed(0)} ms expected at the peak rate)`);
    const seqs = received().map((p) => p.bytes.readUInt16BE(2));
    assert.deepEqual(seqs, [...Array(80).keys()].map((i) => first + i), 'in order, none lost');
    // Audio sent during the burst arrived: nothing held it behind the video.
    await waitFor('audio during the burst', () => c.rtp.filter((p) => p.stream.mid === 'a' && p.bytes.readUInt16BE(2) >= audioStart).length >= audioSent.length, 2000);
    // Transport-cc numbers were given when packets left: the feedback keeps matching them.
    const bwe = server.rtpStats().bwe!;
    assert.ok(bwe.twccFeedbacksReceived > 5);
  } finally {
    c.close();
    await w.stop();
  }
});

test('pacer: video it drops as stale gets the plugin a keyframe request for that m-line, once per burst of drops', { timeout: 30_000 }, async () => {
  const { w, c, h, plugin } = await setup(true);
  try {
    const seq = { v: 1000, a: 5000 };
    await steady(c, 4000, seq);
    const server = w.plane.peerOf(h)!;
    await waitFor('a trusted estimate', () => server.bandwidthEstimate > 0, 5000);
    const before = plugin.keyframeRequests().length;
    assert.equal(server.rtpStats().bwe!.pacer!.dropped, 0);
    // A burst the pacer must hold (96 kB), then this process stalls for longer than the pacer's
    // 1 s limit (as an overloaded event loop does): what still waits is stale when it runs again.
    for (let i = 0; i < 80; i++) c.peer.sendRtp('v', rtp(96, seq.v + i, seq.v * 3000, 0x22, 1200, seq.v + i), 12 + 8 + 1200);
    seq.v += 80;
    for (const until = performance.now() + 2000; (server.rtpStats().bwe!.pacer!.queued ?? 0) === 0; ) {
      assert.ok(performance.now() < until, 'the burst reached the pacer');
      await new Promise((r) => setImmediate(r));
    }
    const stallUntil = performance.now() + 1150;
    while (performance.now() < stallUntil) {
      // busy: nothing else runs
    }
    await waitFor('stale video dropped', () => server.rtpStats().bwe!.pacer!.dropped > 0, 3000);
    await waitFor('a keyframe request', () => plugin.keyframeRequests('v').length > before, 2000);
    await sleep(300);
    const stats = server.rtpStats().bwe!.pacer!;
    const requests = plugin.keyframeRequests('v').length - before;
    assert.ok(stats.dropped >= 1, JSON.stringify(stats));
    // One request for the burst of drops (they are coalesced), and the counter says so.
    assert.equal(requests, 1, `keyframe requests after ${stats.dropped} drops`);
    assert.equal(stats.keyframeRequests, 1);
    assert.equal(plugin.keyframeRequests('a').length, 0, 'none about audio');
    // The request names our SSRC on that m-line (the one the subscriber's decoder sees).
    const pli = plugin.keyframeRequests('v').at(-1)!.bytes;
    assert.equal(pli[1], 206);
    assert.equal(pli[0]! & 0x1f, 1, 'PLI');
    assert.ok(c.rtp.some((p) => p.stream.mid === 'v' && p.bytes.readUInt32BE(8) === pli.readUInt32BE(8)), 'media SSRC is what the client receives');
    // Media goes on after the drops.
    const after = seq.v;
    await steady(c, 600, seq);
    await waitFor('video after the drops', () => c.rtp.some((p) => p.stream.mid === 'v' && p.bytes.readUInt16BE(2) >= after), 3000);
  } finally {
    c.close();
    await w.stop();
  }
});

test('pacer: without transport-cc there is no pacer and nothing is held (Janus behaviour)', { timeout: 30_000 }, async () => {
  const { w, c, h } = await setup(false);
  try {
    const seq = { v: 1000, a: 5000 };
    await steady(c, 1000, seq);
    const first = seq.v;
    for (let i = 0; i < 80; i++) c.peer.sendRtp('v', rtp(96, seq.v + i, seq.v * 3000, 0x22, 1200, seq.v + i), 12 + 8 + 1200);
    await waitFor('the whole burst', () => c.rtp.filter((p) => p.stream.mid === 'v' && p.bytes.readUInt16BE(2) >= first).length === 80, 5000);
    const server = w.plane.peerOf(h)!;
    assert.equal(server.rtpStats().bwe?.pacer, undefined, 'no pacer');
    assert.equal(server.bandwidthEstimate, 0);
  } finally {
    c.close();
    await w.stop();
  }
});
