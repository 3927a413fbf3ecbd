/**
 * RTX (RFC 4588) is negotiated only when the plugin's SDP carries it: a plugin that keeps the offered
 * RTX payload type gets an RTX SSRC (FID group) in our answer and NACKed packets go back as RTX; the
 * EchoTest (no RTX in its answer) resends plain packets with the media SSRC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Jsep } from '../../../src/core/jsep.js';
import type { JanusMessage } from '../../../src/core/messages.js';
import { buildOffer, EXT, extmapsFor } from '../../../src/media/sdp/negotiate.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { EchoPlugin } from '../../helpers/echo-plugin.js';
import { applyAnswer, makeClient, makeWorld, rtpPacket, sleep, waitFor, type ClientPeer, type World } from './helpers.js';

type Ev = JanusMessage & { jsep?: Jsep };

/** An echo of video whose answer keeps RTX (`rtx: true`) or drops it. */
function rtxEcho(rtx: boolean): EchoPlugin {
  return new EchoPlugin({ name: 'rtxecho', answer: (m) => (m.kind === 'video' ? { codecs: ['vp8'], direction: 'sendrecv', rtx, rtcpFb: ['nack', 'nack pli'] } : { accept: false }) });
}

function videoOffer(c: ClientPeer): string {
  const d = buildOffer([{ kind: 'video', mid: 'v', direction: 'sendrecv', codec: { name: 'vp8', pt: 96, rtxPt: 97, rtcpFb: ['nack', 'nack pli'] }, extensions: extmapsFor([EXT.mid]) }]);
  return c.peer.setLocalDescription(writeSdp(d), 'offer');
}

async function run(rtx: boolean): Promise<{ answer: string; resent: Buffer[]; c: ClientPeer; w: World }> {
  const w = await makeWorld(undefined, { plugins: [rtxEcho(rtx)] });
  const c = await makeClient();
  const s = ((await w.req({ janus: 'create' })).data as { id: number }).id;
  const h = ((await w.req({ janus: 'attach', session_id: s, plugin: 'janus.plugin.rtxecho' })).data as { id: number }).id;
  const offer = videoOffer(c);
  assert.match(offer, /a=ssrc-group:FID \d+ \d+/, 'our own offerer adds an RTX SSRC when its SDP has RTX');
  await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'o', body: {}, jsep: { type: 'offer', sdp: offer } });
  const ev = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'o' && e.jsep));
  const answer = ev.jsep!.sdp;
  applyAnswer(c, answer);
  await waitFor('client up', () => c.up);
  const m = parseSdp(answer).media[0]!;
  const media = m.ssrcs[0]!.ssrc;
  // Drop the first copy of seq 305 from the server; record what comes afterwards for that packet.
  let dropped = false;
  const resent: Buffer[] = [];
  c.socket.drop = (d) => {
    if (d.length < 12 || d[0]! >> 6 !== 2 || (d[1]! >= 192 && d[1]! <= 223)) return false;
    if (d.readUInt32BE(8) === media && d.readUInt16BE(2) === 305 && !dropped) {
      dropped = true;
      return true;
    }
    if (dropped && d.readUInt32BE(8) !== media) resent.push(Buffer.from(d));
    else if (dropped && d.readUInt16BE(2) === 305) resent.push(Buffer.from(d));
    return false;
  };
  for (let i = 0; i < 12; i++) {
    c.peer.sendRtp('v', rtpPacket(96, 300 + i, 3000 * i, 0x42, Buffer.from(`pkt-${i}`)), 12 + 5);
    await sleep(5);
  }
  await waitFor('seq 305 recovered by the client', () => c.rtp.find((p) => p.bytes.readUInt16BE(2) === 305), 5000);
  return { answer, resent, c, w };
}

test('the plugin keeps RTX: FID group in our answer, the retransmission goes out as RTX and is restored by the receiver', { timeout: 20_000 }, async () => {
  const { answer, resent, c, w } = await run(true);
  try {
    const m = parseSdp(answer).media[0]!;
    const fid = m.ssrcGroups.find((g) => g.semantics === 'FID');
    assert.ok(fid, `FID group in the answer:\n${answer}`);
    assert.ok(m.rtpmaps.some((r) => r.pt === 97 && r.codec.toLowerCase() === 'rtx'));
    const rtxSsrc = fid.ssrcs[1]!;
    assert.ok(resent.length >= 1);
    assert.equal(resent[0]!.readUInt32BE(8), rtxSsrc, 'sent on the RTX SSRC');
    assert.equal(resent[0]![1]! & 0x7f, 97, 'with the RTX payload type');
    const got = c.rtp.find((p) => p.bytes.readUInt16BE(2) === 305)!;
    assert.equal(got.bytes.readUInt32BE(8), fid.ssrcs[0], 'restored to the media SSRC');
    assert.equal(got.bytes[1]! & 0x7f, 96);
    assert.equal(got.bytes.subarray(12).toString(), 'pkt-5', 'original payload (OSN stripped)');
    const st = c.peer.rtpStats().inbound.find((x) => x.mid === 'v')!;
    assert.equal(st.rtxPackets, 1);
  } finally {
    c.close();
    await w.stop();
  }
});

test('the plugin drops RTX: no FID group, the retransmission is a plain copy on the media SSRC', { timeout: 20_000 }, async () => {
  const { answer, resent, c, w } = await run(false);
  try {
    const m = parseSdp(answer).media[0]!;
    assert.equal(m.ssrcGroups.length, 0);
    assert.equal(m.ssrcs.filter((x) => x.attribute === 'cname').length, 1);
    assert.ok(!m.rtpmaps.some((r) => r.codec.toLowerCase() === 'rtx'));
    const again = resent.find((d) => d.readUInt16BE(2) === 305);
    assert.ok(again, 'a plain retransmission of seq 305');
    assert.equal(again.readUInt32BE(8), m.ssrcs[0]!.ssrc);
    assert.equal(again[1]! & 0x7f, 96);
  } finally {
    c.close();
    await w.stop();
  }
});
