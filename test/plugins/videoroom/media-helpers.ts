/** Building blocks for the media tests: publishing and subscribing through the plugin, RTP/VP8 packets, stream infos. */
import assert from 'node:assert/strict';
import type { Jsep } from '../../../src/core/jsep.js';
import type { RtpStreamInfo } from '../../../src/core/plugin.js';
import { buildExtensionBlock } from '../../../src/media/rtp/extensions.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { CHROME_OFFER } from './fixtures.js';
import type { Data, Harness, TestSession } from './harness.js';

export function info(mid: string, kind: 'audio' | 'video', ssrc: number, extra: Partial<RtpStreamInfo> = {}): RtpStreamInfo {
  return { mid, mindex: Number(mid), kind, ssrc, substream: 0, rid: undefined, ...extra };
}

export interface PacketSpec {
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  marker?: boolean;
  ext?: Array<{ id: number; data: number[] }>;
  payload?: Buffer;
}

export function rtpPacket(p: PacketSpec): Buffer {
  const head = Buffer.alloc(12);
  head[0] = 0x80 | (p.ext && p.ext.length > 0 ? 0x10 : 0);
  head[1] = (p.marker ? 0x80 : 0) | p.pt;
  head.writeUInt16BE(p.seq & 0xffff, 2);
  head.writeUInt32BE(p.ts >>> 0, 4);
  head.writeUInt32BE(p.ssrc >>> 0, 8);
  const ext = p.ext && p.ext.length > 0 ? buildExtensionBlock(p.ext.map((e) => ({ id: e.id, data: Buffer.from(e.data) }))) : Buffer.alloc(0);
  return Buffer.concat([head, ext, p.payload ?? Buffer.from([1, 2, 3, 4])]);
}

/** A VP8 payload: descriptor with 15-bit picture ID, TL0PICIDX and TID, then a frame start (key or delta). */
export function vp8Payload(o: { pictureId: number; tl0?: number; tid?: number; sync?: boolean; keyframe: boolean; start?: boolean }): Buffer {
  const start = o.start ?? true;
  const b: number[] = [0x80 | (start ? 0x10 : 0), 0x80 | 0x40 | 0x20, 0x80 | ((o.pictureId >> 8) & 0x7f), o.pictureId & 0xff, (o.tl0 ?? 0) & 0xff, ((o.tid ?? 0) << 6) | (o.sync ? 0x20 : 0)];
  // VP8 frame tag: bit 0 = 0 for key frames; key frames carry the start code and 640x360.
  if (o.keyframe) b.push(0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01);
  else b.push(0x11, 0x00, 0x00, 0xaa, 0xbb);
  return Buffer.from(b);
}

/** A valid recvonly answer to an offer we made (what a browser sends back with `start`). */
export function answerFor(offer: Jsep): Jsep {
  const d = parseSdp(offer.sdp);
  for (const m of d.media) {
    if (m.direction === 'sendonly') m.direction = 'recvonly';
    m.ssrcs = [];
    m.ssrcGroups = [];
    m.msids = [];
  }
  return { type: 'answer', sdp: writeSdp(d) };
}

export const pubJoin = (room: string, extra: Data = {}): Data => ({ request: 'join', ptype: 'publisher', room, ...extra });

/** join + configure with an offer + PeerConnection up; returns the participant id and the configured event. */
export async function publish(h: Harness, s: TestSession, room: string, id: string, opts: { offer?: string; body?: Data; up?: boolean } = {}): Promise<{ configured: Data; answer: Jsep }> {
  const joined = await h.async(s, pubJoin(room, { id, display: id }));
  assert.equal(joined.videoroom, 'joined', JSON.stringify(joined));
  const ev = await h.asyncFull(s, { request: 'configure', audio: true, video: true, ...(opts.body ?? {}) }, { type: 'offer', sdp: opts.offer ?? CHROME_OFFER });
  assert.equal(ev.data.configured, 'ok', JSON.stringify(ev.data));
  assert.ok(ev.jsep, 'an answer comes with the configured event');
  if (opts.up !== false) h.plugin.setupMedia(s);
  return { configured: ev.data, answer: ev.jsep! };
}

/** Subscriber join (+ start with an answer + PeerConnection up unless told otherwise). */
export async function subscribe(h: Harness, s: TestSession, room: string, streams: Data[], opts: { start?: boolean; extra?: Data } = {}): Promise<{ attached: Data; offer: Jsep }> {
  const ev = await h.asyncFull(s, { request: 'join', ptype: 'subscriber', room, streams, ...(opts.extra ?? {}) });
  assert.equal(ev.data.videoroom, 'attached', JSON.stringify(ev.data));
  assert.ok(ev.jsep && ev.jsep.type === 'offer');
  if (opts.start !== false) {
    const started = await h.async(s, { request: 'start', room }, answerFor(ev.jsep));
    assert.deepEqual(started, { videoroom: 'event', room, started: 'ok' });
    h.plugin.setupMedia(s);
  }
  return { attached: ev.data, offer: ev.jsep };
}

export function seqs(packets: Buffer[]): number[] {
  return packets.map((p) => p.readUInt16BE(2));
}
export function tss(packets: Buffer[]): number[] {
  return packets.map((p) => p.readUInt32BE(4));
}

export const MEDIA_ROOMS = `general: {
  string_ids = true
}
room-9999: {
  description = "Test Room"
  secret = "secret"
  publishers = 4
  bitrate = 1024000
  fir_freq = 10
  audiocodec = "opus"
  videocodec = "vp8"
}
room-multi: {
  secret = "s"
  publishers = 1
  videocodec = "vp8,h264"
}
room-talk: {
  secret = "s"
  audiolevel_event = true
  audio_active_packets = 10
  audio_level_average = 25
}
room-cap: {
  secret = "s"
  bitrate = 256000
  bitrate_cap = true
}
room-pvt: {
  secret = "s"
  require_pvtid = true
}
`;
