import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FeedbackBatch, SendHistory, TwccRecorder } from '../../../src/media/cc/index.js';
import { isTransportCc, parseTransportCc, RtcpReader, RtcpType, TransportCcFeedback, TwccStatus } from '../../../src/media/rtcp/index.js';

function feedbacks(r: TwccRecorder): TransportCcFeedback[] {
  const out: TransportCcFeedback[] = [];
  const buf = Buffer.alloc(1200);
  let n: number;
  while ((n = r.writeFeedback(buf, 0, 1200, 0x11111111, 0x22222222)) > 0) {
    assert.ok(isTransportCc(buf, 0));
    assert.equal(n % 4, 0, 'padded to 32-bit words');
    assert.equal(((buf.readUInt16BE(2) + 1) * 4), n, 'length field');
    const fb = new TransportCcFeedback();
    assert.ok(parseTransportCc(buf, 0, n, fb));
    assert.equal(fb.senderSsrc, 0x11111111);
    assert.equal(fb.mediaSsrc, 0x22222222);
    out.push(fb);
  }
  return out;
}

test('recorder: arrivals come back from its feedback with 250 µs resolution, gaps as not received', () => {
  const r = new TwccRecorder();
  const t0 = 1_000_000.3; // ms
  const seqs = [65530, 65531, 65533, 65535, 0, 2];
  seqs.forEach((s, i) => r.record(s, t0 + i * 7.1));
  const [fb, more] = feedbacks(r);
  assert.equal(more, undefined);
  assert.equal(fb!.baseSeq, 65530);
  assert.equal(fb!.count, 9); // 65530 .. 2 across the wrap
  assert.equal(fb!.fbPktCount, 0);
  const expect = [0, 1, -1, 2, -1, 3, 4, -1, 5];
  for (let k = 0; k < 9; k++) {
    const i = expect[k]!;
    if (i < 0) {
      assert.equal(fb!.status[k], TwccStatus.NotReceived);
      continue;
    }
    assert.ok(Math.abs(fb!.arrivalUs(k) - (t0 + i * 7.1) * 1000) <= 250, `packet ${k}`);
  }
  // Nothing new: nothing written; the next one continues after the last reported and counts up.
  assert.equal(feedbacks(r).length, 0);
  r.record(3, t0 + 100);
  const [next] = feedbacks(r);
  assert.equal(next!.baseSeq, 3);
  assert.equal(next!.count, 1);
  assert.equal(next!.fbPktCount, 1);
});

test('recorder: reordered packets keep their own arrival times; a packet later than its report is dropped', () => {
  const r = new TwccRecorder();
  r.record(10, 100);
  r.record(12, 101);
  r.record(11, 102); // arrived after 12
  const [fb] = feedbacks(r);
  assert.equal(fb!.count, 3);
  assert.ok(Math.abs(fb!.arrivalUs(1) - 102_000) <= 250);
  assert.ok(Math.abs(fb!.arrivalUs(2) - 101_000) <= 250);
  r.record(9, 103); // already reported as lost (before the base)
  assert.equal(r.pending, false);
});

test('recorder: a long burst is split across messages that each fit the RTCP budget', () => {
  const r = new TwccRecorder();
  for (let i = 0; i < 1000; i++) r.record(i, i * 0.5);
  const fbs = feedbacks(r);
  assert.ok(fbs.length >= 3);
  let total = 0;
  for (const fb of fbs) {
    assert.equal(fb.baseSeq, total);
    total += fb.count;
  }
  assert.equal(total, 1000);
});

test('recorder output fits a compound next to other RTCP, and a full buffer writes nothing', () => {
  const r = new TwccRecorder();
  r.record(1, 5);
  const buf = Buffer.alloc(100);
  assert.equal(r.writeFeedback(buf, 90, 100, 1, 2), 90, 'no room');
  const end = r.writeFeedback(buf, 8, 100, 1, 2);
  assert.ok(end > 8);
  buf.writeUInt8(0x80, 0);
  buf.writeUInt8(RtcpType.RR, 1);
  buf.writeUInt16BE(1, 2);
  const rd = new RtcpReader().reset(buf, end);
  const types: number[] = [];
  while (rd.next()) types.push(rd.type);
  assert.deepEqual(types, [RtcpType.RR, RtcpType.RTPFB]);
});

test('send history: feedback maps back to send times and sizes; unknown sequence numbers are skipped', () => {
  const h = new SendHistory(65534);
  const seqs = [h.onSent(10, 1000), h.onSent(12, 1100, 3), h.onSent(15, 1200)];
  assert.deepEqual(seqs, [65534, 65535, 0]);
  const r = new TwccRecorder();
  r.record(65534, 50);
  r.record(0, 57);
  r.record(1, 60); // never sent by us
  const [fb] = feedbacks(r);
  const b = new FeedbackBatch();
  assert.equal(h.match(fb!, b), 3);
  assert.deepEqual([...b.sendMs.subarray(0, 3)], [10, 12, 15]);
  assert.deepEqual([...b.size.subarray(0, 3)], [1000, 1100, 1200]);
  assert.equal(b.cluster[1], 3);
  assert.ok(Number.isNaN(b.recvMs[1]));
  assert.ok(Math.abs(b.recvMs[2]! - b.recvMs[0]! - 7) < 0.5);
});
