/**
 * A client PeerConnection made of our own media modules over real UDP (what live-echo does for the
 * EchoTest), for plugin media tests: records what it receives per mid (sequence numbers, arrival
 * times, the first payload bytes) and the keyframe requests / REMBs it is sent.
 */
import type { Socket } from 'node:dgram';
import { LocalCandidates } from '../../src/media/candidates.js';
import { generateCertificate } from '../../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../../src/media/net/port-allocator.js';
import { Peer } from '../../src/media/peer.js';
import { rembBitrate } from '../../src/media/rtcp/feedback.js';
import { PsfbFmt, RtcpReader, RtcpType } from '../../src/media/rtcp/header.js';
import { rtpHeaderLength, rtpSeq, rtpTimestamp } from '../../src/media/rtp/header.js';
import { clientPeerConfig } from './client-peer-config.js';
import type { MediaGateway } from './media-server.js';

const allocator = new UdpPortAllocator({ range: { min: 0, max: 0 } });
const cert = generateCertificate();

export interface Received {
  seqs: number[];
  timestamps: number[];
  /** performance.now() at arrival. */
  at: number[];
  /** First bytes of each payload (after the RTP header). */
  heads: Buffer[];
  pts: number[];
  /** Packets that carried a header extension block. */
  withExtension: number;
  /** Ids of the one-byte-header extension elements seen, in order of first appearance. */
  extIds: number[];
}

export interface RtcClient {
  peer: Peer;
  up: boolean;
  received: Map<string, Received>;
  plis: number;
  rembs: number[];
  close(): void;
}

export async function rtcClient(gw: MediaGateway): Promise<RtcClient> {
  const sock = await allocator.allocate();
  const candidates = await LocalCandidates.create({ enforceList: [gw.address.address] });
  const reader = new RtcpReader();
  const c: RtcClient = { peer: undefined as unknown as Peer, up: false, received: new Map(), plis: 0, rembs: [], close: () => c.peer.close() };
  c.peer = new Peer(0, sock.socket as Socket, sock.port, candidates.hostCandidates(sock.port)!, clientPeerConfig(cert), {
    webrtcUp: () => (c.up = true),
    mediaState: () => {},
    slowLink: () => {},
    iceFailed: () => {},
    closed: () => {},
    localCandidate: () => {},
  });
  c.peer.setSink({
    incomingRtp: (stream, buf, len) => {
      let r = c.received.get(stream.mid);
      if (!r) {
        r = { seqs: [], timestamps: [], at: [], heads: [], pts: [], withExtension: 0, extIds: [] };
        c.received.set(stream.mid, r);
      }
      r.seqs.push(rtpSeq(buf));
      r.timestamps.push(rtpTimestamp(buf));
      r.at.push(performance.now());
      r.pts.push(buf[1]! & 0x7f);
      if (buf[0]! & 0x10) {
        r.withExtension++;
        const x = 12 + (buf[0]! & 0x0f) * 4;
        if (x + 4 <= len && buf.readUInt16BE(x) === 0xbede) {
          const end = Math.min(len, x + 4 + buf.readUInt16BE(x + 2) * 4);
          for (let o = x + 4; o < end; ) {
            if (buf[o] === 0) {
              o++;
              continue;
            }
            const id = buf[o]! >> 4;
            if (id === 15) break;
            if (!r.extIds.includes(id)) r.extIds.push(id);
            o += 2 + (buf[o]! & 0x0f);
          }
        }
      }
      const h = rtpHeaderLength(buf, len);
      r.heads.push(Buffer.from(buf.subarray(h, Math.min(len, h + 16))));
    },
    incomingRtcp: (_stream, buf, len) => {
      const r = reader.reset(buf, len);
      while (r.next()) {
        if (r.type !== RtcpType.PSFB) continue;
        if (r.count === PsfbFmt.PLI || r.count === PsfbFmt.FIR) c.plis++;
        else if (r.count === PsfbFmt.AFB) {
          const br = rembBitrate(buf, r.offset, r.length);
          if (br >= 0) c.rembs.push(br);
        }
      }
    },
    incomingData: () => {},
    dataReady: () => {},
  });
  return c;
}

/** A VP8 payload with a picture id (descriptor X=1, I=1, M=1) and a 320x240 key frame header when `key`. */
export function vp8Frame(size: number, key: boolean, pictureId: number): Buffer {
  const b = Buffer.alloc(size, 0x5a);
  b[0] = 0x90;
  b[1] = 0x80;
  b[2] = 0x80 | ((pictureId >> 8) & 0x7f);
  b[3] = pictureId & 0xff;
  b[4] = key ? 0x00 : 0x01;
  if (key) {
    b[7] = 0x9d;
    b[8] = 0x01;
    b[9] = 0x2a;
    b.writeUInt16LE(320, 10);
    b.writeUInt16LE(240, 12);
  }
  return b;
}

/** Whether a VP8 payload (from its descriptor on) starts a key frame. */
export function isVp8KeyPayload(p: Buffer): boolean {
  let o = 1;
  if (p[0]! & 0x80) {
    const x = p[1]!;
    o = 2;
    if (x & 0x80) o += p[o]! & 0x80 ? 2 : 1;
    if (x & 0x40) o += 1;
    if (x & 0x30) o += 1;
  }
  return (p[0]! & 0x10) !== 0 && (p[o]! & 0x01) === 0;
}

export const waitUntil = async (what: string, fn: () => boolean, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};
