/**
 * VideoRoom remote publisher intake (src/plugins/videoroom/remote-feed.ts and the packet path behind
 * it): real datagrams on 127.0.0.1 to a remote publisher's RTP and RTCP ports (audio, simulcast VP8
 * and a data stream, one subscriber of all three): valid RTP under the remote SSRC plan, mutated
 * packets and raw bytes. Every datagram is counted as received or dropped, nothing is logged as a
 * failure, exactly the data-stream packets reach the subscriber as data, what reaches it as RTP is
 * RTP, and the publisher stays in its room with its ports open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { fc, checkAsync, mutated, rawBytes, REPLAYING } from './harness.js';
import { Harness, type Data } from '../plugins/videoroom/harness.js';
import { MEDIA_ROOMS, rtpPacket, subscribe, vp8Payload } from '../plugins/videoroom/media-helpers.js';
import { waitFor } from '../media/peer/helpers.js';
import type { VrContext } from '../../src/plugins/videoroom/context.js';
import type { RemoteFeed } from '../../src/plugins/videoroom/remote-feed.js';

const STREAMS = [
  { type: 'audio', mindex: 0, mid: '0', codec: 'opus' },
  { type: 'video', mindex: 1, mid: '1', codec: 'vp8', simulcast: true },
  { type: 'data', mindex: 2, mid: '2' },
];
const SSRCS = [1000, 1010, 1011, 1012, 1020, 1001, 1013, 1030, 999, 0, 0xffffffff];

const validRtp: fc.Arbitrary<Uint8Array> = fc
  .record({ ssrc: fc.constantFrom(...SSRCS), pt: fc.constantFrom(0, 1, 96, 111, 127), seq: fc.integer({ min: 0, max: 0xffff }), ts: fc.nat(), marker: fc.boolean(), key: fc.boolean(), pic: fc.integer({ min: 0, max: 0x7fff }), body: fc.uint8Array({ maxLength: 60 }) })
  .map((r) => rtpPacket({ pt: r.pt, seq: r.seq, ts: r.ts, ssrc: r.ssrc, marker: r.marker, payload: r.ssrc >= 1010 && r.ssrc <= 1012 ? Buffer.concat([vp8Payload({ pictureId: r.pic, keyframe: r.key }), r.body]) : Buffer.from(r.body) }));
const datagram = fc.oneof({ weight: 3, arbitrary: validRtp.map((u) => Buffer.from(u)) }, { weight: 3, arbitrary: mutated(validRtp, 3) }, { weight: 1, arbitrary: rawBytes(80) });
const toRtcp = fc.oneof(rawBytes(40), mutated(fc.constant(Uint8Array.from([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0x03, 0xf2])), 2));

/**
 * What the feed is expected to take as a data message, as Janus 1.1.2 does (remote-data-janus.test.ts):
 * 12 bytes or more, a payload type outside 64-95, any version, the data SSRC; a non-empty message.
 */
function isDataMessage(b: Buffer): boolean {
  const pt = b.length >= 2 ? b[1]! & 0x7f : 0;
  return b.length > 12 && !(pt >= 64 && pt < 96) && b.readUInt32BE(8) === 1020;
}

test('VideoRoom remote publisher: fuzzed datagrams on its RTP and RTCP ports are counted, never thrown or logged as failures', { timeout: 300_000 }, async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const tx: Socket = createSocket('udp4');
  await new Promise<void>((r) => tx.bind(0, '127.0.0.1', () => r()));
  const totals = { data: 0, rtp: 0 };
  try {
    const admin = h.attach();
    const add = await h.sync(admin, { request: 'add_remote_publisher', room: '9999', secret: 'secret', id: 'far', streams: STREAMS });
    assert.equal(add.videoroom, 'success', JSON.stringify(add));
    const sub = h.attach();
    await subscribe(h, sub, '9999', [{ feed: 'far' }]);
    const ctx = (h.plugin as unknown as { ctx: VrContext }).ctx;
    const feed: RemoteFeed = [...ctx.feeds!.live][0]!;
    let sent = 0;

    await checkAsync('videoroom-remote-intake', [fc.array(datagram, { minLength: 1, maxLength: 16 }), fc.array(toRtcp, { maxLength: 3 })], async (grams, rtcps) => {
      h.host.clear();
      h.log.lines.length = 0;
      for (const g of grams) tx.send(g, add.port as number, '127.0.0.1');
      for (const g of rtcps) tx.send(g, add.rtcp_port as number, '127.0.0.1');
      sent += grams.length;
      await waitFor('every datagram received or dropped', () => feed.received + feed.dropped === sent, 5000);
      // RTCP has no counter: a round trip through the same socket pair after it is enough to know it was read.
      await new Promise((r) => setTimeout(r, 5));
      const failures = h.log.lines.filter((l) => l.level === 'error' || l.level === 'fatal');
      assert.deepEqual(failures, [], 'no packet path failure');
      const wanted = grams.filter(isDataMessage).map((g) => Buffer.from(g.subarray(12)));
      const got = h.host.data.filter((d) => d.handleId === sub.handleId);
      assert.equal(got.length, wanted.length, 'one data message per data-stream packet');
      got.forEach((d, i) => assert.ok(Buffer.from(d.data).equals(wanted[i]!) || d.data === wanted[i]!.toString('utf8'), 'data as sent'));
      for (const r of h.host.rtp.filter((x) => x.handleId === sub.handleId)) {
        assert.ok(r.packet.length >= 12 && (r.packet[0]! & 0xc0) === 0x80, 'relayed packets are RTP');
        assert.ok(r.mid === '0' || r.mid === '1', `relayed on mid ${r.mid}`);
      }
      totals.data += got.length;
      totals.rtp += h.host.rtpTo(sub).length;
      assert.equal(feed.closed, false);
      assert.ok([...ctx.rooms.values()].some((r) => [...r.participants.values()].some((p) => p.remoteFeed === feed)), 'the remote publisher stays in its room');
    }, 30);

    if (!REPLAYING) assert.ok(totals.data > 0 && totals.rtp > 0, `the fuzz reached the subscriber (${JSON.stringify(totals)})`);
    // Still a working publisher afterwards: a clean keyframe is relayed.
    h.host.clear();
    tx.send(rtpPacket({ pt: 96, seq: 1, ts: 1, ssrc: 1010, payload: vp8Payload({ pictureId: 1, keyframe: true }) }), add.port as number, '127.0.0.1');
    const list = await h.sync(admin, { request: 'listparticipants', room: '9999', secret: 'secret' });
    assert.ok((list.participants as Data[]).some((p) => p.id === 'far' && p.publisher === true), JSON.stringify(list));
  } finally {
    tx.close();
    await h.plugin.destroy();
  }
});
