/**
 * A Streaming viewer against a running gateway (the real Janus or Portunus, same code): Janus API
 * over HTTP, `watch` → the server's offer → our answer with `start`, and a client PeerConnection
 * made of our own media modules over real UDP. Records the decrypted RTP it receives per mid.
 */
import { generateCertificate } from '../../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../../src/media/net/port-allocator.js';
import { Peer } from '../../src/media/peer.js';
import { buildAnswer, type AnswerOptions } from '../../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../../src/media/sdp/jsep.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { openClientPeer } from './client-peer-config.js';
import { pollUntil, postJson, type JsonObject } from './janus-client.js';
import type { MediaGateway } from './media-server.js';

export interface ReceivedRtp {
  mid: string;
  /** A copy of the decrypted packet. */
  packet: Buffer;
}

export interface StreamingViewer {
  session: number;
  handle: number;
  peer: Peer;
  received: ReceivedRtp[];
  /** Events the handle got (plugindata.data), in order. */
  events: JsonObject[];
  /** Send a request on the handle; resolves with the event answering it. */
  request(body: JsonObject): Promise<JsonObject>;
  stop(): Promise<void>;
}

const allocator = new UdpPortAllocator({ range: { min: 0, max: 0 } });
const cert = generateCertificate();

export async function watchMountpoint(gw: MediaGateway, id: number | string, extra: JsonObject = {}): Promise<StreamingViewer> {
  const create = await postJson(gw.httpUrl, { janus: 'create', transaction: 'c' });
  const session = (create.data as { id: number }).id;
  const attach = await postJson(`${gw.httpUrl}/${session}`, { janus: 'attach', plugin: 'janus.plugin.streaming', transaction: 'a' });
  const handle = (attach.data as { id: number }).id;
  const events: JsonObject[] = [];
  let tx = 0;
  const request = async (body: JsonObject, jsep?: JsonObject): Promise<JsonObject> => {
    const t = `r${++tx}`;
    await postJson(`${gw.httpUrl}/${session}/${handle}`, { janus: 'message', transaction: t, body, ...(jsep ? { jsep } : {}) });
    const evs = await pollUntil(gw.httpUrl, session, (e) => e.transaction === t, 15_000);
    for (const e of evs) if (e.plugindata) events.push((e.plugindata as { data: JsonObject }).data);
    return evs[evs.length - 1]!;
  };

  const received: ReceivedRtp[] = [];
  const { peer, waitUp } = await openClientPeer(gw.address.address, allocator, cert, (stream, buf, len) => void received.push({ mid: stream.mid, packet: Buffer.from(buf.subarray(0, len)) }));
  const watched = await request({ request: 'watch', id, ...extra });
  const offerSdp = (watched.jsep as { sdp: string } | undefined)?.sdp;
  if (offerSdp === undefined) throw new Error(`${gw.kind}: watch gave no offer: ${JSON.stringify(watched)}`);
  const offer = parseSdp(offerSdp);
  peer.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
  const { description } = buildAnswer(offer, (m): AnswerOptions => {
    if (m.kind === 'audio') return { codecs: ['opus'], direction: 'recvonly', simulcast: false, rtx: false };
    if (m.kind === 'video') return { codecs: ['vp8', 'h264', 'vp9'], direction: 'recvonly', simulcast: false, rtx: false };
    return {};
  });
  const answer = peer.setLocalDescription(writeSdp(description), 'answer');
  await request({ request: 'start' }, { type: 'answer', sdp: answer });
  await waitUp(`${gw.kind}: the viewer PeerConnection`);
  return {
    session,
    handle,
    peer,
    received,
    events,
    request: (body) => request(body),
    async stop() {
      peer.close();
      await postJson(`${gw.httpUrl}/${session}`, { janus: 'destroy', transaction: 'd' }).catch(() => undefined);
    },
  };
}
