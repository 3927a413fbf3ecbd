/**
 * Streaming rtp mountpoints (src/plugins/streaming/rtp-source.ts, fanout.ts): real datagrams on
 * 127.0.0.1 to an audio + VP8 video (with RTCP port) + data mountpoint that a viewer watches: valid
 * RTP, mutated RTP and raw bytes to every port. Nothing is logged as a packet path failure, what the
 * viewer gets as RTP is RTP on the mountpoint's mids, and after each run a clean audio packet and a
 * data message still reach the viewer (the marker also tells that the run's datagrams were read).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fc, checkAsync, mutated, rawBytes, REPLAYING } from './harness.js';
import { Harness, portsOf, Sender, until } from '../plugins/streaming/harness.js';

const CFG = 'general: {\n}\nav: {\n  type = "rtp"\n  id = 1\n  media = (\n    { type = "audio", mid = "a", port = 0, pt = 111, codec = "opus" },\n    { type = "video", mid = "v", port = 0, rtcpport = 0, pt = 100, codec = "vp8" },\n    { type = "data", mid = "d", port = 0 }\n  )\n}\n';

function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x80;
  b[1] = pt & 0xff;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([b, payload]);
}

const validRtp: fc.Arbitrary<Uint8Array> = fc
  .record({ pt: fc.constantFrom(100, 111, 96, 0, 127, 200), seq: fc.integer({ min: 0, max: 0xffff }), ts: fc.nat(), ssrc: fc.constantFrom(1, 2, 0x1234, 0xffffffff), vp8: fc.constantFrom(0x10, 0x00, 0x90), key: fc.boolean(), body: fc.uint8Array({ maxLength: 40 }) })
  .map((r) => rtp(r.pt, r.seq, r.ts, r.ssrc, Uint8Array.from([r.vp8, r.key ? 0x00 : 0x01, ...r.body])));
const datagram = fc.oneof(validRtp.map((u) => Buffer.from(u)), mutated(validRtp, 3), rawBytes(80));
/** Which port: audio, video, data, video RTCP. */
const send = fc.tuple(fc.integer({ min: 0, max: 3 }), datagram);

test('Streaming rtp mountpoint: fuzzed datagrams on its ports are never thrown or logged as failures; it keeps streaming', { timeout: 300_000 }, async () => {
  const h = await Harness.start(CFG);
  const tx = new Sender();
  let mark = 0;
  let audioSeq = 0;
  const seen = { rtp: 0 };
  try {
    const [aPort, vPort, dPort] = await portsOf(h, 1);
    const info = (await h.sync(h.attach(), { request: 'info', id: 1 })).info as { media: Array<{ rtcpport?: number }> };
    const rtcpPort = info.media[1]?.rtcpport;
    assert.ok(typeof rtcpPort === 'number' && rtcpPort > 0, JSON.stringify(info));
    const ports = [aPort!, vPort!, dPort!, rtcpPort];
    const viewer = await h.viewer(1);

    await checkAsync('streaming-rtp-intake', [fc.array(send, { minLength: 1, maxLength: 16 })], async (sends) => {
      h.host.clear();
      h.log.lines.length = 0;
      for (const [to, d] of sends) await tx.send(ports[to]!, d);
      // Markers: the sockets read in order, so once these arrive the run's datagrams have been handled.
      // The audio sender keeps sending (every 50 ms, as a live source would) until one gets through:
      // right after a stray SSRC its packets are stragglers for a moment (src/media/rtp/rewriter.ts).
      const m = `MARK${++mark}`;
      await tx.send(dPort!, Buffer.from(m));
      const heard = (): boolean => h.host.rtpTo(viewer, 'a').some((p) => p.subarray(p.length - m.length).toString() === m);
      for (const end = Date.now() + 5000; !heard(); await new Promise((r) => setTimeout(r, 50))) {
        assert.ok(Date.now() < end, `audio marker ${m} never reached the viewer`);
        audioSeq++;
        await tx.send(aPort!, rtp(111, audioSeq, audioSeq * 960, 0x5eed, Buffer.from(m)));
      }
      await until(() => h.host.data.some((d) => d.handleId === viewer.handleId && String(d.data) === m), 5000, `data marker ${m}`);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(h.log.lines.filter((l) => l.level === 'error' || l.level === 'fatal'), [], 'no packet path failure');
      for (const r of h.host.rtp.filter((x) => x.handleId === viewer.handleId)) {
        assert.ok(r.packet.length >= 12 && (r.packet[0]! & 0xc0) === 0x80, 'relayed packets are RTP');
        assert.ok(r.mid === 'a' || r.mid === 'v', `relayed on mid ${r.mid}`);
      }
      seen.rtp += h.host.rtpTo(viewer).length;
    }, 10);
    if (!REPLAYING) assert.ok(seen.rtp > 0, 'the fuzz reached the viewer');
    const list = await h.sync(h.attach(), { request: 'list' });
    assert.equal((list.list as unknown[]).length, 1, 'the mountpoint is still there');
  } finally {
    tx.close();
    await h.stop();
  }
});
