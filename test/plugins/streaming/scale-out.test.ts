/**
 * The classic Janus scale-out recipe across two real Portunus processes: a VideoRoom publisher on
 * gateway A is `rtp_forward`ed into an rtp Streaming mountpoint of gateway B, and a viewer with a real
 * PeerConnection watches it on B (VP8 starting on a keyframe, Opus).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { isVp8Keyframe } from '../../../src/codecs/vp8.js';
import { LocalCandidates } from '../../../src/media/candidates.js';
import { generateCertificate } from '../../../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../../../src/media/net/port-allocator.js';
import { Peer } from '../../../src/media/peer.js';
import { rtpHeaderLength } from '../../../src/media/rtp/header.js';
import { buildOffer, EXT, extmapsFor } from '../../../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../../../src/media/sdp/jsep.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { clientPeerConfig } from '../../helpers/client-peer-config.js';
import { pollUntil, postJson, type JsonObject } from '../../helpers/janus-client.js';
import { startMediaGateway, type MediaGateway } from '../../helpers/media-server.js';
import { watchMountpoint } from '../../helpers/streaming-viewer.js';
import { rtpPacket } from '../../media/peer/helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => undefined);
});

function vp8Payload(size: number, key: boolean): Buffer {
  const b = Buffer.alloc(size, 0x5a);
  b[0] = 0x10;
  b[1] = key ? 0x00 : 0x01;
  b[2] = 0x00;
  b[3] = 0x00;
  if (key) {
    b[4] = 0x9d;
    b[5] = 0x01;
    b[6] = 0x2a;
    b.writeUInt16LE(320, 7);
    b.writeUInt16LE(240, 9);
  }
  return b;
}

async function api(gw: MediaGateway, plugin: string): Promise<{ s: number; h: number; msg(body: JsonObject, jsep?: JsonObject): Promise<JsonObject> }> {
  const s = ((await postJson(gw.httpUrl, { janus: 'create', transaction: 'c' })).data as { id: number }).id;
  const h = ((await postJson(`${gw.httpUrl}/${s}`, { janus: 'attach', plugin, transaction: 'a' })).data as { id: number }).id;
  let n = 0;
  return {
    s,
    h,
    async msg(body, jsep) {
      const t = `m${++n}`;
      const r = await postJson(`${gw.httpUrl}/${s}/${h}`, { janus: 'message', transaction: t, body, ...(jsep ? { jsep } : {}) });
      if (r.janus !== 'ack') return r;
      const evs = await pollUntil(gw.httpUrl, s, (e) => e.transaction === t, 15_000);
      return evs[evs.length - 1]!;
    },
  };
}

test('VideoRoom rtp_forward on gateway A into a Streaming mountpoint on gateway B, watched there', { timeout: 120_000 }, async () => {
  // one media worker each: two whole servers start on a shared 2-core machine
  const oneWorker = (text: string): string => text.replace('media: {', 'media: {\n  media_workers = 1');
  const a = await startMediaGateway('portunus', ['videoroom'], {}, { prefix: 'st-scale-a', janusJcfg: oneWorker });
  cleanup.push(() => a.stop());
  const b = await startMediaGateway('portunus', ['streaming'], {}, { prefix: 'st-scale-b', janusJcfg: oneWorker });
  cleanup.push(() => b.stop());

  // B: a mountpoint for the forwarded publisher (ports picked by B)
  const bs = await api(b, 'janus.plugin.streaming');
  const created = await bs.msg({ request: 'create', type: 'rtp', id: 77, description: 'from A', media: [{ type: 'audio', mid: 'a', port: 0, pt: 111, codec: 'opus' }, { type: 'video', mid: 'v', port: 0, pt: 96, codec: 'vp8' }] });
  const ports = ((created.plugindata as { data: { stream: { ports: Array<{ mid: string; port: number }> } } }).data.stream.ports);
  const audioPort = ports.find((p) => p.mid === 'a')!.port;
  const videoPort = ports.find((p) => p.mid === 'v')!.port;

  // A: a publisher with a real PeerConnection sending VP8 (keyframe every second) and Opus-like audio
  const pub = await api(a, 'janus.plugin.videoroom');
  const sock = await new UdpPortAllocator({ range: { min: 0, max: 0 } }).allocate();
  const candidates = await LocalCandidates.create({ enforceList: [a.address.address] });
  let up = false;
  const peer = new Peer(0, sock.socket as Socket, sock.port, candidates.hostCandidates(sock.port)!, clientPeerConfig(generateCertificate()), {
    webrtcUp: () => (up = true), mediaState: () => {}, slowLink: () => {}, iceFailed: () => {}, closed: () => {}, localCandidate: () => {},
  });
  cleanup.push(() => peer.close());
  const offer = buildOffer([
    { kind: 'audio', mid: '0', direction: 'sendonly', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid]), send: { ssrc: 0x1111, cname: 'pub' } },
    { kind: 'video', mid: '1', direction: 'sendonly', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]), send: { ssrc: 0x2222, cname: 'pub' } },
  ]);
  const local = peer.setLocalDescription(writeSdp(offer), 'offer');
  const joined = await pub.msg({ request: 'joinandconfigure', room: 1234, ptype: 'publisher', display: 'scale' }, { type: 'offer', sdp: local });
  const answer = (joined.jsep as { sdp: string } | undefined)?.sdp;
  assert.ok(answer, `publisher answer: ${JSON.stringify(joined)}`);
  const d = parseSdp(answer);
  peer.setRemoteDescription(d, extractRemoteTransport(d, { type: 'answer' }), 'answer');
  const publisherId = ((joined.plugindata as { data: { id: number } }).data.id);
  for (let i = 0; !up; i++) {
    if (i > 400) throw new Error('publisher PeerConnection did not come up');
    await new Promise((r) => setTimeout(r, 50));
  }
  let n = 0;
  const timer = setInterval(() => {
    try {
      const au = rtpPacket(111, n, n * 960, 0x1111, Buffer.alloc(60, 0x33));
      peer.sendRtp('0', au, au.length);
      if (n % 2 === 0) {
        const f = n / 2;
        const v = rtpPacket(96 | 0x80, f, f * 3600, 0x2222, vp8Payload(600, f % 25 === 0));
        peer.sendRtp('1', v, v.length);
      }
      n++;
    } catch {
      /* closed */
    }
  }, 20);
  cleanup.push(() => clearInterval(timer));

  const fwd = await pub.msg({ request: 'rtp_forward', room: 1234, publisher_id: publisherId, secret: 'adminpwd', host: '127.0.0.1', streams: [{ mid: '0', port: audioPort }, { mid: '1', port: videoPort }] });
  assert.equal((fwd.plugindata as { data: { videoroom: string } }).data.videoroom, 'rtp_forward', JSON.stringify(fwd));

  // B: a viewer watches the mountpoint
  const viewer = await watchMountpoint(b, 77);
  cleanup.push(() => viewer.stop());
  const deadline = Date.now() + 30_000;
  while (viewer.received.filter((r) => r.mid === 'v').length < 40 || viewer.received.filter((r) => r.mid === 'a').length < 40) {
    if (Date.now() > deadline) throw new Error(`viewer on B got ${viewer.received.length} packets\n${b.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const firstVideo = viewer.received.find((r) => r.mid === 'v')!.packet;
  const off = rtpHeaderLength(firstVideo, firstVideo.length);
  assert.ok(isVp8Keyframe(firstVideo, off, firstVideo.length - off), 'the viewer on B starts on a keyframe');
  assert.equal(firstVideo.length - off, 600, 'the publisher payload arrives unchanged');
});
