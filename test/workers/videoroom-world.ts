/**
 * A VideoRoom inside the media worker pool, in-process, for the worker tests: Gateway ->
 * RoutingMediaPlane -> WorkerPool (2 worker threads) with room {ROOM} from a jcfg, a recording Janus
 * API client, and the helpers those tests share.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JanusMessage } from '../../src/core/messages.js';
import { buildAnswer, type AnswerOptions } from '../../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../../src/media/sdp/jsep.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import type { MediaSink } from '../../src/core/media-plane.js';
import type { RtpStreamInfo } from '../../src/core/plugin.js';
import { PsfbFmt, RtcpReader, RtcpType } from '../../src/media/rtcp/header.js';
import type { ClientPeer } from '../media/peer/helpers.js';
import { makePoolGateway } from './pool-world.js';

export type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> } };
export const VR = 'janus.plugin.videoroom';
export const ROOM = 1234;

/** `prefix` names the temporary configs folder. */
export async function makeVideoRoomWorld(prefix: string, replyDeadlineMs?: number) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, `${VR}.jcfg`), `general: {\n}\nroom-${ROOM}: {\n\tdescription = "webinar"\n\tpublishers = 2\n\tfir_freq = 0\n\tvideocodec = "vp8"\n}\n`);
  const g = await makePoolGateway({ size: 2, plugins: [VR], dir, eventTimeoutMs: 8000, ...(replyDeadlineMs !== undefined ? { replyDeadlineMs } : {}) });
  const { pool, gw, client, attach, message, workerOf } = g;
  const vr = g.pooled.get(VR)!;
  return { dir, pool, vr, gw, client, attach, message, workerOf };
}

/** The client answers a subscriber offer: recvonly opus/VP8. */
export function answerOffer(c: ClientPeer, offerSdp: string): string {
  const offer = parseSdp(offerSdp);
  c.peer.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
  const { description } = buildAnswer(offer, (m): AnswerOptions => {
    if (m.kind === 'audio') return { codecs: ['opus'], direction: 'recvonly', simulcast: false, rtx: false };
    if (m.kind === 'video') return { codecs: ['vp8'], direction: 'recvonly', simulcast: false, rtx: false };
    return {};
  });
  return c.peer.setLocalDescription(writeSdp(description), 'answer');
}

/** Counts PLIs the publisher's client receives (its sink sees the server's RTCP). */
export function countPlis(c: ClientPeer): { n: number } {
  const seen = { n: 0 };
  const r = new RtcpReader();
  const sink: MediaSink = {
    incomingRtp: (stream: RtpStreamInfo, buf: Buffer, len: number) => void c.rtp.push({ stream, bytes: Buffer.from(buf.subarray(0, len)) }),
    incomingRtcp: (_s: RtpStreamInfo | null, buf: Buffer, len: number) => {
      const rr = r.reset(buf, len);
      while (rr.next()) if (rr.type === RtcpType.PSFB && (rr.count === PsfbFmt.PLI || rr.count === PsfbFmt.FIR)) seen.n++;
    },
    incomingData: () => {},
    dataReady: () => {},
  };
  c.peer.setSink(sink);
  return seen;
}
