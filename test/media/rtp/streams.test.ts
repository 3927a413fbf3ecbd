import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RtpReceiveEvent,
  RtpReceiveStats,
  RtpRewriter,
  STRAGGLER_MS,
  RtpSendBuffer,
  RtpSendStats,
  rtpSeq,
  rtpSsrc,
  rtpTimestamp,
  writeRtpHeader,
} from '../../../src/media/rtp/index.js';
import { newReportBlock } from '../../../src/media/rtcp/index.js';

function pkt(ssrc: number, seq: number, ts: number, payload = 20): Buffer {
  const b = Buffer.alloc(12 + payload);
  writeRtpHeader(b, 96, seq & 0xffff, ts >>> 0, ssrc);
  b.fill(seq & 0xff, 12);
  return b;
}

// ------------------------------------------------------------------ rewriter

test('rewriter: first packet maps to the initial seq/ts and our SSRC; in-order packets follow', () => {
  const rw = new RtpRewriter({ ssrc: 0xaaaa0001, clockRate: 90000, initialSeq: 1000, initialTimestamp: 5000 });
  const a = pkt(0x1111, 40000, 900000);
  assert.equal(rw.rewrite(a, 0), true);
  assert.equal(rtpSsrc(a), 0xaaaa0001);
  assert.equal(rtpSeq(a), 1000);
  assert.equal(rtpTimestamp(a), 5000);
  const b = pkt(0x1111, 40001, 903000);
  rw.rewrite(b, 33);
  assert.equal(rtpSeq(b), 1001);
  assert.equal(rtpTimestamp(b), 8000);
  // reordered packet of the same source keeps its relative position
  const late = pkt(0x1111, 39999, 897000);
  rw.rewrite(late, 40);
  assert.equal(rtpSeq(late), 999);
  assert.equal(rw.lastSequence, 1001);
});

test('rewriter: source switch keeps seq continuous and advances ts by elapsed time', () => {
  const rw = new RtpRewriter({ ssrc: 7, clockRate: 90000, initialSeq: 65534, initialTimestamp: 0xfffffff0 });
  rw.rewrite(pkt(1, 10, 1000), 0); // out 65534
  rw.rewrite(pkt(1, 11, 4000), 33); // out 65535, ts 0xfffffff0 + 3000
  const lastTs = rw.lastTimestamp;
  assert.equal(lastTs, (0xfffffff0 + 3000) >>> 0);
  // a new publisher with unrelated numbers, 100 ms later
  const c = pkt(2, 50000, 123456789);
  assert.equal(rw.rewrite(c, 133), true);
  assert.equal(rtpSeq(c), 0, 'wraps 65535 -> 0');
  assert.equal(rtpTimestamp(c), (lastTs + 9000) >>> 0, '100 ms at 90 kHz');
  assert.equal(rtpSsrc(c), 7);
  const d = pkt(2, 50001, 123456789 + 3000);
  rw.rewrite(d, 166);
  assert.equal(rtpSeq(d), 1);
  assert.equal(rtpTimestamp(d), (lastTs + 12000) >>> 0);
  // straggler from the old source is refused and does not disturb the mapping
  const old = pkt(1, 12, 7000);
  assert.equal(rw.rewrite(old, 170), false);
  const e = pkt(2, 50002, 123456789 + 6000);
  rw.rewrite(e, 200);
  assert.equal(rtpSeq(e), 2);
});

test('rewriter: the previous source, back after the straggler window, is switched back to (regression: refused for good)', () => {
  const rw = new RtpRewriter({ ssrc: 7, clockRate: 48000, initialSeq: 100, initialTimestamp: 0 });
  rw.rewrite(pkt(1, 10, 960), 0);
  // One stray packet of another SSRC (a Streaming mountpoint with collision = 0 takes any sender).
  assert.equal(rw.rewrite(pkt(2, 5000, 7), 20), true);
  assert.equal(rw.rewrite(pkt(1, 11, 1920), 20 + STRAGGLER_MS - 1), false, 'a straggler right after the switch');
  const back = pkt(1, 12, 2880);
  assert.equal(rw.rewrite(back, 20 + STRAGGLER_MS), true, 'the sender is back');
  assert.equal(rtpSeq(back), 102, 'continuous after the stray packet');
  const next = pkt(1, 13, 3840);
  assert.equal(rw.rewrite(next, 40 + STRAGGLER_MS), true);
  assert.equal(rtpSeq(next), 103);
});

test('rewriter: switchSource() after a pause re-bases the same SSRC; drop() hides skipped packets', () => {
  const rw = new RtpRewriter({ ssrc: 9, clockRate: 48000, initialSeq: 100, initialTimestamp: 0 });
  rw.rewrite(pkt(5, 1, 0), 0);
  rw.rewrite(pkt(5, 2, 960), 20);
  rw.switchSource(); // paused for 2 s, publisher kept sending (we dropped)
  const r = pkt(5, 102, 96960);
  rw.rewrite(r, 2020);
  assert.equal(rtpSeq(r), 102);
  assert.equal(rtpTimestamp(r), 960 + 96000);
  // temporal-layer drop: packet 103 not forwarded, 104 takes its number
  const skipped = pkt(5, 103, 97920);
  rw.drop(skipped);
  const n = pkt(5, 104, 98880);
  rw.rewrite(n, 2060);
  assert.equal(rtpSeq(n), 103);
  assert.equal(rw.inSeqFor(103), 104);
  assert.equal(rw.outSeqFor(104), 103);
});

// ------------------------------------------------------------------ send buffer

test('send buffer returns the stored bytes of THIS stream by outgoing seq, with age and resend limits', () => {
  const sbA = new RtpSendBuffer({ capacity: 64, maxAgeMs: 500, minResendIntervalMs: 30 });
  const sbB = new RtpSendBuffer({ capacity: 64, maxAgeMs: 500 });
  const rwA = new RtpRewriter({ ssrc: 0xa, clockRate: 90000, initialSeq: 10, initialTimestamp: 0 });
  const rwB = new RtpRewriter({ ssrc: 0xb, clockRate: 90000, initialSeq: 5000, initialTimestamp: 0 });
  for (let i = 0; i < 5; i++) {
    const src = pkt(0x1234, 300 + i, i * 3000);
    // each subscriber gets its own copy, rewritten, then stored
    const a = Buffer.from(src);
    rwA.rewrite(a, i * 10);
    sbA.store(a, a.length, i * 10);
    const b = Buffer.from(src);
    rwB.rewrite(b, i * 10);
    sbB.store(b, b.length, i * 10);
  }
  const ra = sbA.get(12, 100)!;
  assert.equal(rtpSsrc(ra), 0xa, 'subscriber A retransmission carries A\'s SSRC');
  assert.equal(rtpSeq(ra), 12);
  assert.equal(ra[12], 302 & 0xff, 'payload of source packet 302');
  const rb = sbB.get(5002, 100)!;
  assert.equal(rtpSsrc(rb), 0xb);
  assert.equal(sbB.get(12, 100), null, 'A\'s seq is unknown to B');
  assert.equal(sbA.get(12, 110), null, 'resent 10 ms ago: suppressed');
  const out = Buffer.alloc(1500);
  assert.equal(sbA.copyTo(12, 131, out), 32, 'allowed again after the interval');
  assert.equal(rtpSeq(out), 12);
  assert.equal(sbA.get(13, 1000), null, 'older than maxAgeMs');
  assert.equal(sbA.get(99, 100), null);
});

test('send buffer ring overwrites old sequence numbers and handles the 16-bit wrap', () => {
  const sb = new RtpSendBuffer({ capacity: 16, maxAgeMs: 10000 });
  for (let s = 65530; s < 65536 + 20; s++) {
    const p = pkt(1, s, 0);
    sb.store(p, p.length, 0);
  }
  assert.equal(sb.has(19), true);
  assert.equal(sb.has(65535), false, 'overwritten by seq 15');
  assert.equal(rtpSeq(sb.get(4, 1)!), 4);
});

// ------------------------------------------------------------------ receive stats / NACK

test('loss tracker: gap produces NACKs, resend interval follows RTT, retries limited, recovery clears', () => {
  const rs = new RtpReceiveStats(0x55, 90000, { maxRetries: 3, minResendIntervalMs: 10 });
  const out: number[] = [];
  let t = 0;
  for (let s = 100; s <= 105; s++) assert.equal(rs.onPacket(s, s * 3000, (t += 10)), RtpReceiveEvent.InOrder);
  rs.onPacket(110, 110 * 3000, (t += 10)); // 106..109 missing
  assert.equal(rs.missingCount, 4);
  assert.equal(rs.collectNacks(t, out), 4);
  assert.deepEqual(out, [106, 107, 108, 109]);
  rs.rttMs = 50;
  assert.equal(rs.collectNacks(t + 30, out), 0, 'within one RTT: no resend');
  assert.equal(rs.nextNackTime(), t + 50);
  assert.equal(rs.onPacket(107, 107 * 3000, t + 35), RtpReceiveEvent.Recovered);
  assert.equal(rs.collectNacks(t + 50, out), 3);
  assert.deepEqual(out, [106, 108, 109]);
  rs.collectNacks(t + 100, out);
  assert.equal(out.length, 3, 'third try');
  assert.equal(rs.collectNacks(t + 150, out), 0, 'maxRetries reached: dropped');
  assert.equal(rs.missingCount, 0);
  assert.equal(rs.nextNackTime(), -1);
  assert.equal(rs.onPacket(105, 0, t + 160), RtpReceiveEvent.Late, 'duplicate');
});

test('loss tracker: losses across the 16-bit wrap and expiry by age', () => {
  const rs = new RtpReceiveStats(1, 48000, { maxAgeMs: 200 });
  const out: number[] = [];
  rs.onPacket(65533, 0, 0);
  rs.onPacket(2, 0, 10); // lost 65534, 65535, 0, 1
  rs.collectNacks(10, out);
  assert.deepEqual(out, [65534, 65535, 0, 1]);
  assert.equal(rs.extendedHighestSeq, 0x10000 + 2);
  assert.equal(rs.onPacket(65535, 0, 20), RtpReceiveEvent.Recovered, 'pre-wrap retransmission recognised');
  assert.equal(rs.collectNacks(300, out), 0, 'expired');
  assert.equal(rs.missingCount, 0);
});

test('loss tracker: huge gap asks for a keyframe instead of NACKing; restart after confirmation', () => {
  const rs = new RtpReceiveStats(1, 90000, { maxMissing: 64, maxDropout: 3000 });
  rs.onPacket(10, 0, 0);
  assert.equal(rs.onPacket(100, 0, 1), RtpReceiveEvent.GapTooLarge);
  assert.equal(rs.missingCount, 0);
  assert.equal(rs.onPacket(40000, 0, 2), RtpReceiveEvent.Probation);
  assert.equal(rs.onPacket(40001, 0, 3), RtpReceiveEvent.Restart);
  assert.equal(rs.packetsReceived, 1);
  assert.equal(rs.onPacket(40002, 0, 4), RtpReceiveEvent.InOrder);
  assert.equal(rs.packetsExpected, 2);
});

test('initialDelayMs holds back the first NACK for reordering', () => {
  const rs = new RtpReceiveStats(1, 90000, { initialDelayMs: 15 });
  const out: number[] = [];
  rs.onPacket(1, 0, 0);
  rs.onPacket(3, 0, 0);
  assert.equal(rs.collectNacks(10, out), 0);
  assert.equal(rs.nextNackTime(), 15);
  assert.equal(rs.collectNacks(15, out), 1);
});

test('RR numbers: expected, lost, fraction lost per interval, jitter (RFC 3550 A.3, A.8)', () => {
  const rs = new RtpReceiveStats(0x77, 8000);
  // 20 ms packets (160 ticks) arriving exactly on time: jitter stays 0
  for (let i = 0; i < 10; i++) rs.onPacket(i, i * 160, i * 20);
  assert.equal(rs.jitter, 0);
  // first interval: 0..9, all received
  const rb = newReportBlock();
  rs.fillReportBlock(200, rb);
  assert.equal(rb.fractionLost, 0);
  assert.equal(rb.cumulativeLost, 0);
  assert.equal(rb.highestSeq, 9);
  // second interval: 10..19 with 10..13 lost
  for (let i = 14; i < 20; i++) rs.onPacket(i, i * 160, i * 20);
  rs.fillReportBlock(400, rb);
  assert.equal(rb.cumulativeLost, 4);
  assert.equal(rb.fractionLost, Math.floor((4 * 256) / 10), '4 of 10 lost = 102/256');
  assert.equal(rb.lsr, 0);
  // jitter: one packet 8 ms late (64 ticks) -> J = 64/16 = 4 after it, then decays
  const rj = new RtpReceiveStats(1, 8000);
  rj.onPacket(0, 0, 0);
  rj.onPacket(1, 160, 28);
  assert.equal(rj.jitter, 4);
  assert.ok(Math.abs(rj.jitterMs - 0.5) < 1e-9);
});

test('LSR/DLSR from the last SR', () => {
  const rs = new RtpReceiveStats(1, 90000);
  rs.onPacket(1, 0, 0);
  rs.onSenderReport(0x12345678, 0x9abcdef0, 1000);
  const rb = rs.fillReportBlock(1500, newReportBlock());
  assert.equal(rb.lsr, 0x56789abc);
  assert.equal(rb.dlsr, 32768, '500 ms = 32768/65536 s');
});

test('send stats: counts and SR RTP timestamp extrapolation', () => {
  const st = new RtpSendStats(1, 90000);
  st.onPacketSent(1000, 90000, 1000);
  st.onPacketSent(500, 93000, 1033);
  assert.equal(st.packets, 2);
  assert.equal(st.octets, 1500);
  assert.equal(st.rtpTimestampAt(1133), 93000 + 9000);
});
