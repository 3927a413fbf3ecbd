/**
 * A live EchoTest PeerConnection against a running gateway (the real Janus or Portunus, same code):
 * Janus API over HTTP, and a client PeerConnection made of our own media modules over real UDP
 * from this machine's non-loopback address (what the media configs folder advertises). The client
 * keeps sending audio and video until stop(), so byte counters move between two handle_info reads.
 */
import { generateCertificate } from '../../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../../src/media/net/port-allocator.js';
import { Peer } from '../../src/media/peer.js';
import { buildOffer, EXT, extmapsFor } from '../../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../../src/media/sdp/jsep.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { openClientPeer } from './client-peer-config.js';
import { pollUntil, postJson, type JsonObject } from './janus-client.js';
import type { MediaGateway } from './media-server.js';
import { rtpPacket } from '../media/peer/helpers.js';

export interface LiveEcho {
  session: number;
  handle: number;
  peer: Peer;
  /** RTP packets echoed back to the client, per mid. */
  received: Map<string, number>;
  /** Admin handle_info's `info` for this handle. */
  handleInfo(): Promise<JsonObject>;
  stop(): Promise<void>;
}

const allocator = new UdpPortAllocator({ range: { min: 0, max: 0 } });
const cert = generateCertificate();

/** A VP8 keyframe-looking payload (descriptor S=1 pid 0, keyframe header with 320x240) of `size` bytes. */
function vp8Payload(size: number, key: boolean): Buffer {
  const b = Buffer.alloc(size, 0x5a);
  b[0] = 0x10; // S=1, PID 0
  b[1] = key ? 0x00 : 0x01; // P bit clear = keyframe
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

export async function startLiveEcho(gw: MediaGateway): Promise<LiveEcho> {
  const create = await postJson(gw.httpUrl, { janus: 'create', transaction: 'c' });
  const session = (create.data as { id: number }).id;
  const attach = await postJson(`${gw.httpUrl}/${session}`, { janus: 'attach', plugin: 'janus.plugin.echotest', opaque_id: 'handle-info-test', transaction: 'a' });
  const handle = (attach.data as { id: number }).id;

  const received = new Map<string, number>();
  const { peer, waitUp } = await openClientPeer(gw.address.address, allocator, cert, (stream) => void received.set(stream.mid, (received.get(stream.mid) ?? 0) + 1));
  const offer = buildOffer([
    { kind: 'audio', mid: '0', direction: 'sendrecv', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid, EXT.audioLevel]) },
    { kind: 'video', mid: '1', direction: 'sendrecv', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) },
    { kind: 'application', mid: '2' },
  ]);
  const sdp = peer.setLocalDescription(writeSdp(offer), 'offer');
  await postJson(`${gw.httpUrl}/${session}/${handle}`, { janus: 'message', transaction: 'o', body: { audio: true, video: true }, jsep: { type: 'offer', sdp } });
  const evs = await pollUntil(gw.httpUrl, session, (e) => e.jsep !== undefined, 15_000);
  const answer = (evs[evs.length - 1]!.jsep as { sdp: string }).sdp;
  const d = parseSdp(answer);
  peer.setRemoteDescription(d, extractRemoteTransport(d, { type: 'answer' }), 'answer');
  await waitUp(`${gw.kind}: the client PeerConnection`);

  // 25 video frames/s (keyframe every second) and 50 audio packets/s until stop().
  let n = 0;
  const timer = setInterval(() => {
    try {
      const a = rtpPacket(111, n, n * 960, 0x1111, Buffer.alloc(60, 0x33));
      peer.sendRtp('0', a, a.length);
      if (n % 2 === 0) {
        const f = n / 2;
        const v = rtpPacket(96 | 0x80, f, f * 3600, 0x2222, vp8Payload(600, f % 25 === 0));
        peer.sendRtp('1', v, v.length);
      }
      n++;
    } catch {
      /* the peer went away */
    }
  }, 20);

  const handleInfo = async (): Promise<JsonObject> => {
    const r = await postJson(`${gw.adminUrl}/${session}/${handle}`, { janus: 'handle_info', transaction: 'hi', admin_secret: gw.adminSecret });
    if (r.janus !== 'success') throw new Error(`${gw.kind} handle_info: ${JSON.stringify(r)}`);
    return r.info as JsonObject;
  };
  return {
    session,
    handle,
    peer,
    received,
    handleInfo,
    async stop() {
      clearInterval(timer);
      peer.close();
      await postJson(`${gw.httpUrl}/${session}`, { janus: 'destroy', transaction: 'd' }).catch(() => undefined);
    },
  };
}
