/**
 * The VideoCall packet path on its own (a recording PluginMediaHost, no sockets): simulcast layer
 * choice at key frames with continuous sequence numbers, VP8 temporal layer dropping, fallback to a
 * lower layer, mute, REMB capping by the sender's bitrate, and by the estimate towards the receiver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PluginMediaHost, PluginSession, RtpStreamInfo } from '../../../src/core/plugin.js';
import { buildRemb, rembBitrate } from '../../../src/media/rtcp/feedback.js';
import { CallRelay, Inbound, type CallSide } from '../../../src/plugins/videocall/relay.js';
import { rtpPacket, vp8Payload } from '../videoroom/media-helpers.js';

class Host implements PluginMediaHost {
  rtp: { session: PluginSession; mid: string; seq: number; pic: number; len: number }[] = [];
  rtcp: { session: PluginSession; buf: Buffer }[] = [];
  plis: PluginSession[] = [];
  relayRtp(session: PluginSession, mid: string, buf: Buffer, len: number): void {
    this.rtp.push({ session, mid, seq: buf.readUInt16BE(2), pic: ((buf[14]! & 0x7f) << 8) | buf[15]!, len });
  }
  relayRtcp(session: PluginSession, _mid: string | null, buf: Buffer, len: number): void {
    this.rtcp.push({ session, buf: Buffer.from(buf.subarray(0, len)) });
  }
  relayData(): void {}
  sendPli(session: PluginSession): void {
    this.plis.push(session);
  }
  rembs: { session: PluginSession; bitrate: number }[] = [];
  sendRemb(session: PluginSession, bitrate: number): void {
    this.rembs.push({ session, bitrate });
  }
  sendData(): void {}
  sendRtp(): void {}
  /** Estimates towards each handle (what the core's transport-cc estimator would say), and what probing may aim at. */
  estimates = new Map<PluginSession, number>();
  wanted = new Map<PluginSession, number>();
  bandwidthEstimate(session: PluginSession, wantedBps?: number): number {
    this.wanted.set(session, wantedBps ?? 0);
    return this.estimates.get(session) ?? 0;
  }
}

function side(name: string, simulcast = false): CallSide {
  const session = { handleId: name.length, sessionId: 1, opaqueId: null, token: null, state: null, alive: true } as PluginSession;
  return { session, inbound: new Inbound(), audioActive: true, videoActive: true, videoCodec: 'vp8', bitrate: 0, peerBitrate: 0, simulcast, estimate: 0, rembCap: 0, bweNextAt: 0, bwePeak: 0, lastSlowLinkMs: -Infinity };
}

const info = (substream: number, ssrc: number): RtpStreamInfo => ({ mid: '1', mindex: 1, kind: 'video', ssrc, substream, rid: ['l', 'm', 'h'][substream] });

test('simulcast: the highest layer once it has a key frame, then a lower one on request, sequence numbers continuous', () => {
  let now = 1000;
  const host = new Host();
  const changes: string[] = [];
  const relay = new CallRelay(host, { layerChanged: (_to, what, v) => changes.push(`${what}=${v}`), recordRtp: () => {} }, () => now);
  const a = side('alice', true);
  const b = side('bob');
  const seq = [100, 5000, 9000];
  const send = (layer: number, key: boolean, pic: number): void => {
    const p = rtpPacket({ pt: 96, seq: seq[layer]!++, ts: pic * 3000, ssrc: 10 + layer, payload: vp8Payload({ pictureId: pic, keyframe: key }) });
    relay.rtp(a, b, info(layer, 10 + layer), p, p.length);
  };
  // All three layers send delta frames: nothing goes out (waiting for a key frame), keyframes are asked.
  for (let l = 0; l < 3; l++) send(l, false, 1);
  assert.equal(host.rtp.length, 0);
  assert.ok(host.plis.length >= 1 && host.plis.every((s) => s === a.session), 'key frames are asked of the sender');
  // A key frame on layer 2 (the default target): that layer flows.
  now += 100;
  send(0, true, 2);
  send(1, true, 2);
  send(2, true, 2);
  send(2, false, 3);
  send(0, false, 3);
  assert.equal(host.rtp.length, 2);
  assert.deepEqual(changes, ['substream=2']);
  // Bob wants layer 0: it switches at layer 0's next key frame, without a sequence gap.
  b.inbound.targetLayer = 0;
  send(2, false, 4);
  send(0, false, 4);
  send(0, true, 5);
  send(2, false, 5);
  send(0, false, 6);
  assert.deepEqual(changes, ['substream=2', 'substream=0']);
  const seqs = host.rtp.map((r) => r.seq);
  for (let i = 1; i < seqs.length; i++) assert.equal((seqs[i]! - seqs[i - 1]! + 0x10000) & 0xffff, 1, `continuous: ${seqs.join(',')}`);
  assert.ok(host.rtp.every((r) => r.session === b.session && r.mid === '1'));
  // Layer 2 stops for longer than `fallback` (250 ms): the best layer still sending takes over at its key frame.
  b.inbound.targetLayer = 2;
  now += 1000;
  send(1, true, 7);
  send(1, false, 8);
  assert.deepEqual(changes, ['substream=2', 'substream=0', 'substream=1']);
});

test('VP8 temporal layers above the target are dropped without sequence gaps; muted video is not relayed', () => {
  const host = new Host();
  const relay = new CallRelay(host, { layerChanged: () => {}, recordRtp: () => {} });
  const a = side('alice');
  const b = side('bob');
  b.inbound.targetTemporal = 0;
  let s = 1;
  const send = (tid: number, key: boolean, pic: number): void => {
    const p = rtpPacket({ pt: 96, seq: s++, ts: pic * 3000, ssrc: 10, payload: vp8Payload({ pictureId: pic, tid, tl0: pic, keyframe: key }) });
    relay.rtp(a, b, { mid: '1', mindex: 1, kind: 'video', ssrc: 10, substream: 0, rid: undefined }, p, p.length);
  };
  send(0, true, 1);
  send(1, false, 2);
  send(0, false, 3);
  send(2, false, 4);
  send(0, false, 5);
  assert.equal(host.rtp.length, 3);
  const seqs = host.rtp.map((r) => r.seq);
  assert.deepEqual(seqs.map((x) => x - seqs[0]!), [0, 1, 2]);
  a.videoActive = false;
  send(0, false, 6);
  assert.equal(host.rtp.length, 3);
});

test('REMB from the receiver goes to the sender capped by its bitrate; PLI becomes a key frame request', () => {
  const host = new Host();
  const relay = new CallRelay(host, { layerChanged: () => {}, recordRtp: () => {} });
  const a = side('alice');
  const b = side('bob');
  a.bitrate = 200_000;
  const remb = buildRemb(1, 3_000_000, [2]);
  relay.rtcp(b, a, null, remb, remb.length);
  assert.equal(host.rtcp.length, 1);
  assert.equal(host.rtcp[0]!.session, a.session);
  assert.ok(Math.abs(rembBitrate(host.rtcp[0]!.buf, 0, host.rtcp[0]!.buf.length) - 200_000) < 2000);
  assert.equal(a.peerBitrate, 3_000_000);
  const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
  relay.rtcp(b, a, null, pli, pli.length);
  assert.deepEqual(host.plis, [a.session]);
});

test('the estimate towards the receiver caps the sender (REMB), falls are told as slow_link, the bitrate cap still wins', () => {
  const host = new Host();
  let now = 1000;
  const slow: Array<{ to: CallSide; est: number }> = [];
  const relay = new CallRelay(host, { layerChanged: () => {}, recordRtp: () => {}, slowLink: (to, est) => slow.push({ to, est }) }, () => now);
  const a = side('alice');
  const b = side('bobby');
  const audio: RtpStreamInfo = { mid: '0', mindex: 0, kind: 'audio', ssrc: 5, substream: 0, rid: undefined };
  const send = (): void => {
    const p = rtpPacket({ pt: 111, seq: 1, ts: 960, ssrc: 5, payload: Buffer.alloc(40) });
    relay.rtp(a, b, audio, p, p.length);
  };
  // No estimate (transport-cc not negotiated, or not trusted yet): Janus's behaviour, no REMB from us.
  send();
  assert.equal(host.rembs.length, 0);
  assert.equal(host.wanted.get(b.session), 3_000_000, 'probing towards bob aims at what a browser may send');
  host.estimates.set(b.session, 800_000);
  now += 100;
  send();
  assert.equal(host.rembs.length, 0, 'read at most every 500 ms');
  now += 500;
  send();
  assert.deepEqual(host.rembs, [{ session: a.session, bitrate: 800_000 }], 'alice is capped by what reaches bob');
  assert.equal(b.estimate, 800_000);
  // Small moves are not re-sent (the core repeats the last REMB every second).
  host.estimates.set(b.session, 820_000);
  now += 500;
  send();
  assert.equal(host.rembs.length, 1);
  // A fall: a new cap, and bob hears about his slow link with the estimate.
  host.estimates.set(b.session, 500_000);
  now += 500;
  send();
  assert.deepEqual(host.rembs.at(-1), { session: a.session, bitrate: 500_000 });
  assert.deepEqual(slow.map((x) => [x.to, x.est]), [[b, 500_000]]);
  // Another fall within 5 s: capped, no second event yet.
  host.estimates.set(b.session, 300_000);
  now += 500;
  send();
  assert.equal(host.rembs.at(-1)!.bitrate, 300_000);
  assert.equal(slow.length, 1);
  // alice's own `bitrate` is lower than the estimate: it wins; probing aims at it.
  a.bitrate = 200_000;
  host.estimates.set(b.session, 900_000);
  now += 5000;
  send();
  assert.equal(host.rembs.at(-1)!.bitrate, 200_000);
  assert.equal(host.wanted.get(b.session), 200_000);
  // A REMB from bob's browser (no transport-cc there) is capped by the estimate cap too.
  a.bitrate = 0;
  now += 500;
  send();
  assert.equal(a.rembCap, 900_000);
  const remb = buildRemb(1, 3_000_000, [2]);
  relay.rtcp(b, a, null, remb, remb.length);
  assert.ok(Math.abs(rembBitrate(host.rtcp.at(-1)!.buf, 0, host.rtcp.at(-1)!.buf.length) - 900_000) < 5000);
});
