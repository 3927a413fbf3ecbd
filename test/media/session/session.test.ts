import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  rtpPayloadType,
  rtpSeq,
  rtpSsrc,
  rtpTimestamp,
} from '../../../src/media/rtp/index.js';
import {
  buildBye,
  buildFir,
  buildNack,
  buildPli,
  buildReceiverReport,
  buildRemb,
  buildSenderReport,
  fbMediaSsrc,
  newReportBlock,
  ntpFraction,
  ntpSeconds,
  parseFir,
  parseNack,
  parseRemb,
  parseSdes,
  PsfbFmt,
  readReportBlock,
  readSenderInfo,
  newSenderInfo,
  reportBlockCount,
  RtcpType,
  RtpfbFmt,
  rtcpSenderSsrc,
} from '../../../src/media/rtcp/index.js';
import type { RtpSessionEvent } from '../../../src/media/session/index.js';
import { drainRtcp, midExt, parts, rtp, rtpLen, session, WALL } from './helpers.js';

const REMOTE_V = 0x11110001;
const REMOTE_V_RTX = 0x11110002;
const REMOTE_A = 0x11110003;
const LOCAL_V = 0x22220001;
const LOCAL_V_RTX = 0x22220002;
const LOCAL_A = 0x22220003;

function receiver(opts: Parameters<typeof session>[0] = {}) {
  const s = session(opts);
  s.addRemoteMid({ mid: 'v', kind: 'video', clockRate: 90000, rtx: [{ pt: 97, apt: 96 }], payloadTypes: [96] });
  s.addRemoteMid({ mid: 'a', kind: 'audio', clockRate: 48000, payloadTypes: [111] });
  return s;
}

function events(s: ReturnType<typeof session>): RtpSessionEvent[] {
  const out: RtpSessionEvent[] = [];
  for (let e = s.pollEvent(); e; e = s.pollEvent()) out.push(e);
  return out;
}

function nacksIn(bufs: Buffer[]): { media: number; seqs: number[] }[] {
  const out: { media: number; seqs: number[] }[] = [];
  for (const b of bufs) {
    for (const p of parts(b)) {
      if (p.type === RtcpType.RTPFB && p.fmt === RtpfbFmt.NACK) {
        const seqs: number[] = [];
        parseNack(b, p.off, p.len, seqs);
        out.push({ media: fbMediaSsrc(b, p.off), seqs });
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------ NACK generation

test('loss of seq 5 and 6 produces a NACK naming them, for the remote media SSRC', () => {
  const s = receiver();
  assert.equal(s.addRemoteSsrc('v', REMOTE_V), 0);
  let now = 1000;
  for (const seq of [1, 2, 3, 4]) {
    assert.equal(s.onRtp(rtp(REMOTE_V, seq, seq * 3000), rtpLen(rtp(0, 0, 0)), (now += 10)), 0);
  }
  assert.equal(s.hasPendingRtcp, false);
  assert.equal(s.onRtp(rtp(REMOTE_V, 7, 21000), 112, (now += 10)), 0);
  assert.equal(s.hasPendingRtcp, true, 'a fresh gap asks for a poll');
  assert.ok(s.pollTimeout()! <= now);
  const out = drainRtcp(s, now);
  const nacks = nacksIn(out);
  assert.equal(nacks.length, 1);
  assert.equal(nacks[0]!.media, REMOTE_V);
  assert.deepEqual(nacks[0]!.seqs, [5, 6]);
  assert.equal(s.hasPendingRtcp, false);
  // not repeated before the resend interval (100 ms without RTT)
  assert.deepEqual(nacksIn(drainRtcp(s, now + 50)), []);
  assert.deepEqual(nacksIn(drainRtcp(s, now + 100)).map((n) => n.seqs), [[5, 6]]);
  // 6 arrives: only 5 is asked again
  s.onRtp(rtp(REMOTE_V, 6, 18000), 112, now + 120);
  assert.deepEqual(nacksIn(drainRtcp(s, now + 200)).map((n) => n.seqs), [[5]]);
  const st = s.getStats().inbound[0]!;
  assert.equal(st.nacksSent, 3);
  assert.equal(st.nackedPackets, 5);
});

test('audio (nack off by default) sends no NACK', () => {
  const s = receiver();
  s.addRemoteSsrc('a', REMOTE_A);
  s.onRtp(rtp(REMOTE_A, 1, 0, { pt: 111 }), 112, 0);
  s.onRtp(rtp(REMOTE_A, 4, 2880, { pt: 111 }), 112, 20);
  assert.equal(s.hasPendingRtcp, false);
  assert.deepEqual(nacksIn(drainRtcp(s, 30)), []);
});

// ------------------------------------------------------------------ retransmission

function sender(rtx: boolean, opts: Parameters<typeof session>[0] = {}) {
  const s = session(opts);
  s.addLocalStream({ mid: 'v', kind: 'video', ssrc: LOCAL_V, clockRate: 90000, ...(rtx ? { rtxSsrc: LOCAL_V_RTX, rtxPt: 97 } : {}) });
  s.addLocalStream({ mid: 'a', kind: 'audio', ssrc: LOCAL_A, clockRate: 48000 });
  return s;
}

test('a NACK returns our stored bytes with our SSRC', () => {
  const s = sender(false);
  const sent = new Map<number, Buffer>();
  for (let seq = 100; seq <= 110; seq++) {
    const p = rtp(LOCAL_V, seq, seq * 3000);
    sent.set(seq, Buffer.from(p.subarray(0, 112)));
    assert.equal(s.onOutgoingRtp(p, 112, 1000 + seq), 0);
    p.fill(0xee); // the caller's buffer is reused / encrypted in place afterwards
  }
  const r = s.onRtcp(buildNack(0x99999999, LOCAL_V, [103, 105, 106]), 16, 1200);
  assert.equal(r.nackedCount, 3);
  assert.equal(r.retransmitCount, 3);
  const seqs: number[] = [];
  for (let i = 0; i < r.retransmitCount; i++) {
    const b = r.retransmitBuffers[i]!;
    const len = r.retransmitLengths[i]!;
    assert.ok(b.length >= len + 16, 'room for the SRTP trailer');
    assert.equal(rtpSsrc(b), LOCAL_V);
    assert.equal(r.retransmitStreams[i], 0);
    seqs.push(rtpSeq(b));
    assert.deepEqual(b.subarray(0, len), sent.get(rtpSeq(b)));
  }
  assert.deepEqual(seqs, [103, 105, 106]);
  // unknown / expired packets are not resent; a NACK for someone else's SSRC is ignored
  assert.equal(s.onRtcp(buildNack(0x99999999, LOCAL_V, [50]), 16, 1200).retransmitCount, 0);
  assert.equal(s.onRtcp(buildNack(0x99999999, 0x12345678, [104]), 16, 1200).retransmitCount, 0);
  assert.equal(s.onRtcp(buildNack(0x99999999, LOCAL_V, [104]), 16, 1000 + 104 + 201).retransmitCount, 0, 'older than min_nack_queue (200 ms)');
  const out = s.getStats().outbound[0]!;
  assert.equal(out.retransmitted, 3);
  assert.equal(out.nacksReceived, 3);
  assert.equal(out.nackedPackets, 5);
});

test('with RTX the retransmission carries our RTX SSRC/PT and the OSN, and the other side restores it', () => {
  const s = sender(true);
  const p = rtp(LOCAL_V, 500, 123456, { marker: true });
  const orig = Buffer.from(p.subarray(0, 112));
  s.onOutgoingRtp(p, 112, 0);
  const r = s.onRtcp(buildNack(1, LOCAL_V, [500]), 16, 10);
  assert.equal(r.retransmitCount, 1);
  const b = r.retransmitBuffers[0]!;
  const len = r.retransmitLengths[0]!;
  assert.equal(len, 114);
  assert.equal(rtpSsrc(b), LOCAL_V_RTX);
  assert.equal(rtpPayloadType(b), 97);
  assert.equal(b.readUInt16BE(12), 500, 'OSN');
  assert.deepEqual(b.subarray(14, len), orig.subarray(12));
  const rtxSeq = rtpSeq(b);
  s.onRtcp(buildNack(1, LOCAL_V, [500]), 16, 20);
  assert.equal(rtpSeq(s.result.retransmitBuffers[0]!), (rtxSeq + 1) & 0xffff, 'RTX has its own sequence');

  // the receiving side: RTX SSRC paired in SDP, packet restored in place
  const rx = receiver();
  rx.addRemoteSsrc('v', LOCAL_V, { rtxSsrc: LOCAL_V_RTX });
  rx.onRtp(rtp(LOCAL_V, 499, 120000), 112, 0);
  rx.onRtp(rtp(LOCAL_V, 501, 126000), 112, 10);
  const copy = Buffer.alloc(200);
  b.copy(copy, 0, 0, len);
  assert.equal(rx.onRtp(copy, len, 20), 0);
  assert.equal(rx.rtpWasRtx, true);
  assert.equal(rx.rtpLength, 112);
  assert.deepEqual(copy.subarray(0, 112), orig);
  const st = rx.getStats().inbound[0]!;
  assert.equal(st.lost, 0);
  assert.equal(st.rtxPackets, 1);
  // an RTX padding-only probe is dropped
  const probe = rtp(LOCAL_V_RTX, 9, 0, { pt: 97, payload: 0 });
  assert.equal(rx.onRtp(probe, 12, 30), -1);
});

test('the RTX SSRC gets its own SR once it sent something: RTX packets and payload octets, the media clock, a CNAME, a BYE', () => {
  const s = sender(true);
  for (let i = 0; i < 10; i++) s.onOutgoingRtp(rtp(LOCAL_V, i, 90000 + 3000 * i, { payload: 100 }), 112, (i * 100) / 3);
  // nothing resent yet: one SR, for the media SSRC only
  const first = drainRtcp(s, 500)[0]!;
  assert.deepEqual(parts(first).map((p) => [p.type, rtcpSenderSsrc(first, p.off)]), [[RtcpType.SR, LOCAL_V], [RtcpType.SDES, LOCAL_V]]);
  s.onOutgoingRtp(rtp(LOCAL_V, 10, 120000, { payload: 100 }), 112, 820);
  s.onOutgoingRtp(rtp(LOCAL_V, 11, 123000, { payload: 100 }), 112, 830);
  assert.equal(s.onRtcp(buildNack(1, LOCAL_V, [10, 11]), 16, 850).retransmitCount, 2);
  const buf = reportAt(s, 1500);
  const ps = parts(buf);
  assert.deepEqual(ps.map((p) => p.type), [RtcpType.SR, RtcpType.SR, RtcpType.SDES]);
  assert.equal(rtcpSenderSsrc(buf, ps[0]!.off), LOCAL_V);
  assert.equal(rtcpSenderSsrc(buf, ps[1]!.off), LOCAL_V_RTX);
  const media = readSenderInfo(buf, ps[0]!.off, newSenderInfo());
  const rtx = readSenderInfo(buf, ps[1]!.off, newSenderInfo());
  assert.equal(reportBlockCount(buf, ps[1]!.off, ps[1]!.len), 0);
  assert.equal(rtx.packetCount, 2);
  assert.equal(rtx.octetCount, 2 * 102, 'payload octets: the 2-byte OSN and the original payload');
  assert.equal(media.packetCount, 12, 'retransmissions are not counted on the media SSRC');
  assert.equal(rtx.ntpSec, media.ntpSec);
  assert.equal(rtx.ntpFrac, media.ntpFrac);
  assert.equal(rtx.rtpTimestamp, media.rtpTimestamp, 'RTX keeps the media timestamps (RFC 4588)');
  assert.deepEqual(parseSdes(buf, ps[2]!.off, ps[2]!.len), [{ ssrc: LOCAL_V, cname: 'test-cname' }, { ssrc: LOCAL_V_RTX, cname: 'test-cname' }]);
  const out = s.getStats().outbound[0]!;
  assert.equal(out.rtxPackets, 2);
  assert.equal(out.rtxOctets, 204);
  // a clean close says goodbye for the RTX SSRC too
  const bye = Buffer.alloc(1500);
  const n = s.writeBye(bye, 1600);
  const bp = parts(bye.subarray(0, n));
  const b = bp.find((p) => p.type === RtcpType.BYE)!;
  const named: number[] = [];
  for (let i = 0; i < b.fmt; i++) named.push(bye.readUInt32BE(b.off + 4 + 4 * i));
  assert.deepEqual(named, [LOCAL_V, LOCAL_V_RTX, LOCAL_A]);
});

test('receiver reports about our RTX SSRC: counted apart, RTT from their LSR, never the media stream\'s loss', () => {
  const s = sender(true);
  s.onOutgoingRtp(rtp(LOCAL_V, 1, 3000), 112, 0);
  s.onRtcp(buildNack(1, LOCAL_V, [1]), 16, 100);
  drainRtcp(s, 500); // SRs for both SSRCs at 500
  const rtxBlock = newReportBlock();
  rtxBlock.ssrc = LOCAL_V_RTX;
  rtxBlock.fractionLost = 200; // what libwebrtc may say of a sparse RTX sequence
  rtxBlock.cumulativeLost = 7;
  rtxBlock.lsr = ((ntpSeconds(WALL + 500) & 0xffff) << 16) | (ntpFraction(WALL + 500) >>> 16);
  rtxBlock.dlsr = Math.floor((20 * 65536) / 1000);
  const r = s.onRtcp(buildReceiverReport(0x99999999, [rtxBlock]), 32, 600);
  assert.equal(r.malformed, false);
  assert.equal(r.rtxReportCount, 1);
  assert.equal(r.reportCount, 0, 'not a report about a media stream');
  assert.ok(Math.abs(s.rtt - 80) < 1, `RTT from the RTX SR's echo: ${s.rtt}`);
  const out = s.getStats().outbound[0]!;
  assert.equal(out.rtxReports, 1);
  assert.equal(out.remoteLost, 0);
  assert.equal(out.remoteFractionLost, 0);
  // with the media block in the same RR both are read
  const mediaBlock = newReportBlock();
  mediaBlock.ssrc = LOCAL_V;
  mediaBlock.cumulativeLost = 1;
  const both = s.onRtcp(buildReceiverReport(0x99999999, [rtxBlock, mediaBlock]), 56, 700);
  assert.equal(both.rtxReportCount, 1);
  assert.equal(both.reportCount, 1);
  assert.equal(s.getStats().outbound[0]!.remoteLost, 1);
  // NACK / PLI naming the RTX SSRC: ignored, no error
  assert.equal(s.onRtcp(buildNack(1, LOCAL_V_RTX, [1]), 16, 800).retransmitCount, 0);
  assert.equal(s.onRtcp(buildPli(1, LOCAL_V_RTX), 12, 800).pliCount, 0);
  // after the stream is removed its RTX SSRC is unknown again
  s.removeLocalStream('v');
  assert.equal(s.onRtcp(buildReceiverReport(0x99999999, [rtxBlock]), 32, 900).rtxReportCount, 0);
});

test('nack_optimizations: a keyframe empties the retransmission buffer', () => {
  const s = sender(false, { nackOptimizations: true });
  for (let seq = 1; seq <= 5; seq++) s.onOutgoingRtp(rtp(LOCAL_V, seq, 3000), 112, seq);
  s.onOutgoingRtp(rtp(LOCAL_V, 6, 6000), 112, 6, true);
  s.onOutgoingRtp(rtp(LOCAL_V, 7, 6000), 112, 7, true); // same keyframe: no second clear
  assert.equal(s.onRtcp(buildNack(1, LOCAL_V, [3, 6, 7]), 16, 10).retransmitCount, 2);
  const off = sender(false);
  for (let seq = 1; seq <= 5; seq++) off.onOutgoingRtp(rtp(LOCAL_V, seq, 3000), 112, seq);
  off.onOutgoingRtp(rtp(LOCAL_V, 6, 6000), 112, 6, true);
  assert.equal(off.onRtcp(buildNack(1, LOCAL_V, [3, 6]), 16, 10).retransmitCount, 2, 'off: old packets still resent');
});

// ------------------------------------------------------------------ SR / RR

function reportAt(s: ReturnType<typeof session>, now: number): Buffer {
  const t = s.pollTimeout();
  assert.ok(t !== undefined && t <= now, `report due by ${now} (timeout ${t})`);
  const out = drainRtcp(s, now);
  assert.ok(out.length >= 1);
  return out[0]!;
}

test('SR: NTP and RTP timestamps consistent, counts, SDES CNAME', () => {
  const s = sender(false);
  // 30 fps video: packets at t = 0, 33.3.., ts += 3000
  for (let i = 0; i < 10; i++) s.onOutgoingRtp(rtp(LOCAL_V, i, 90000 + 3000 * i, { payload: 100 }), 112, (i * 100) / 3);
  // first report at 500 ms (half interval with random 0.5)
  assert.equal(s.pollTimeout(), 500);
  const buf = reportAt(s, 500);
  const ps = parts(buf);
  assert.deepEqual(ps.map((p) => p.type), [RtcpType.SR, RtcpType.SDES]);
  const sr = ps[0]!;
  assert.equal(rtcpSenderSsrc(buf, sr.off), LOCAL_V);
  const info = readSenderInfo(buf, sr.off, newSenderInfo());
  assert.equal(info.ntpSec, ntpSeconds(WALL + 500));
  assert.equal(info.ntpFrac, ntpFraction(WALL + 500));
  // last packet at 300 ms with ts 90000 + 27000; 200 ms later = +18000 ticks
  assert.equal(info.rtpTimestamp, 90000 + 27000 + 18000);
  assert.equal(info.packetCount, 10);
  assert.equal(info.octetCount, 1000);
  const sdes = parseSdes(buf, ps[1]!.off, ps[1]!.len);
  assert.deepEqual(sdes, [{ ssrc: LOCAL_V, cname: 'test-cname' }]);
  // the audio stream sent nothing: no SR for it; next report one interval later
  assert.equal(s.pollTimeout(), 1000);
  assert.equal(drainRtcp(s, 999).length, 0);
  assert.equal(drainRtcp(s, 1500).length, 1);
});

test('RR: fraction lost and cumulative lost; LSR/DLSR give the sender its RTT', () => {
  // A sends video to B; one-way delay 30 ms each way
  const a = sender(false);
  const b = receiver();
  b.addRemoteSsrc('v', LOCAL_V);
  // B receives 0..99 except 10..19 (10 of 100 expected lost) and 100..109 later
  for (let seq = 0; seq < 100; seq++) {
    const p = rtp(LOCAL_V, seq, seq * 3000);
    a.onOutgoingRtp(p, 112, seq * 4);
    if (seq < 10 || seq >= 20) b.onRtp(p, 112, seq * 4 + 30);
  }
  // A's SR at 500, arrives at B at 530
  const sr = reportAt(a, 500);
  b.onRtcp(sr, sr.length, 530);
  // B's first report at 500 (its own timer) was before the SR: take it, LSR 0
  const first = reportAt(b, 530);
  const fp = parts(first);
  assert.equal(fp[0]!.type, RtcpType.RR);
  const blk = readReportBlock(first, fp[0]!.off, 0, newReportBlock());
  assert.equal(blk.ssrc, LOCAL_V);
  assert.equal(blk.fractionLost, Math.floor((10 * 256) / 100));
  assert.equal(blk.cumulativeLost, 10);
  assert.equal(blk.highestSeq, 99);
  assert.ok(blk.lsr !== 0, 'B got the SR before writing this RR');
  // B's RR written at 530 with DLSR ~0; arrives at A at 560 -> RTT 60 (30 + 30, B held it 0 ms)
  a.onRtcp(first, first.length, 560);
  assert.ok(Math.abs(a.rtt - 60) < 1, `rtt ${a.rtt}`);
  const out = a.getStats().outbound[0]!;
  assert.equal(out.remoteLost, 10);
  assert.equal(out.remoteFractionLost, 25);
  assert.ok(Math.abs(out.rttMs - 60) < 1);

  // next interval: 10 more received, none lost -> fraction 0, cumulative still 10; DLSR counts B's hold time
  for (let seq = 100; seq < 110; seq++) b.onRtp(rtp(LOCAL_V, seq, seq * 3000), 112, 600 + seq);
  const second = reportAt(b, 1530);
  const blk2 = readReportBlock(second, parts(second)[0]!.off, 0, newReportBlock());
  assert.equal(blk2.fractionLost, 0);
  assert.equal(blk2.cumulativeLost, 10);
  assert.equal(blk2.highestSeq, 109);
  assert.ok(Math.abs((blk2.dlsr * 1000) / 65536 - 1000) < 1, 'DLSR = 1000 ms since the SR');
  a.onRtcp(second, second.length, 1560);
  assert.ok(Math.abs(a.rtt - 60) < 1, `rtt still 60: ${a.rtt}`);
});

test('a sender that also receives puts report blocks in its SR', () => {
  const s = receiver();
  s.addLocalStream({ mid: 'v', kind: 'video', ssrc: LOCAL_V, clockRate: 90000 });
  s.addRemoteSsrc('v', REMOTE_V);
  s.onOutgoingRtp(rtp(LOCAL_V, 1, 1), 112, 0);
  s.onRtp(rtp(REMOTE_V, 1, 1), 112, 0);
  const buf = reportAt(s, 500);
  const p = parts(buf)[0]!;
  assert.equal(p.type, RtcpType.SR);
  assert.equal(reportBlockCount(buf, p.off, p.len), 1);
  assert.equal(readReportBlock(buf, p.off, 0, newReportBlock()).ssrc, REMOTE_V);
});

test('non-reduced-size mode prefixes feedback with RR + SDES', () => {
  const s = receiver({ reducedSize: false });
  s.addRemoteSsrc('v', REMOTE_V);
  s.onRtp(rtp(REMOTE_V, 1, 1), 112, 0);
  s.requestKeyframe('v');
  const out = drainRtcp(s, 10);
  assert.equal(out.length, 1);
  assert.deepEqual(parts(out[0]!).map((p) => p.type), [RtcpType.RR, RtcpType.SDES, RtcpType.PSFB]);
});

// ------------------------------------------------------------------ REMB

function rembsIn(bufs: Buffer[]): { bitrate: number; ssrcs: number[] }[] {
  const out: { bitrate: number; ssrcs: number[] }[] = [];
  for (const b of bufs) for (const p of parts(b)) if (p.type === RtcpType.PSFB && p.fmt === PsfbFmt.AFB) out.push(parseRemb(b, p.off, p.len)!);
  return out;
}

test('REMB: sent at once with the exact bitrate, every second, and at once on change', () => {
  const s = receiver();
  s.addRemoteSsrc('v', REMOTE_V, { rtxSsrc: REMOTE_V_RTX });
  s.addRemoteSsrc('a', REMOTE_A);
  s.onRtp(rtp(REMOTE_V, 1, 1), 112, 0);
  s.setRemb(256000);
  assert.equal(s.hasPendingRtcp, true);
  assert.deepEqual(rembsIn(drainRtcp(s, 10)), [{ bitrate: 256000, ssrcs: [REMOTE_V] }]);
  assert.deepEqual(rembsIn(drainRtcp(s, 20)), [], 'not again right away');
  s.setRemb(256000);
  assert.deepEqual(rembsIn(drainRtcp(s, 30)), [], 'same value: nothing new');
  assert.equal(s.pollTimeout(), 500, 'report first');
  assert.deepEqual(rembsIn(drainRtcp(s, 500)), []);
  assert.equal(s.pollTimeout(), 1000);
  const periodic = drainRtcp(s, 1010);
  assert.deepEqual(rembsIn(periodic), [{ bitrate: 256000, ssrcs: [REMOTE_V] }]);
  s.setRemb(1_000_000);
  assert.deepEqual(rembsIn(drainRtcp(s, 1100)), [{ bitrate: 1_000_000, ssrcs: [REMOTE_V] }]);
  s.setRemb(0);
  assert.deepEqual(rembsIn(drainRtcp(s, 5000)), []);
  assert.equal(s.getStats().rembSent, 0);
});

test('REMB received is reported with its value', () => {
  const s = sender(false);
  const r = s.onRtcp(buildRemb(1, 300000, [LOCAL_V]), 24, 0);
  assert.equal(r.remb, 300000);
  assert.equal(s.getStats().rembReceived, 300000);
});

// ------------------------------------------------------------------ PLI / FIR

test('requestKeyframe: PLI to the mid\'s SSRC; FIR seq nr increments per request', () => {
  const s = receiver();
  s.addLocalStream({ mid: 'x', kind: 'video', ssrc: LOCAL_V, clockRate: 90000 });
  s.addRemoteSsrc('v', REMOTE_V);
  assert.equal(s.requestKeyframe('nope'), false);
  assert.equal(s.requestKeyframe('v'), true);
  let ps = drainRtcp(s, 0).flatMap((b) => parts(b).map((p) => ({ b, p })));
  assert.equal(ps.length, 1);
  assert.equal(ps[0]!.p.fmt, PsfbFmt.PLI);
  assert.deepEqual(ps[0]!.b, buildPli(LOCAL_V, REMOTE_V));

  const firs: number[] = [];
  for (let i = 0; i < 3; i++) {
    s.requestKeyframe('v', 'fir');
    if (i === 2) s.requestKeyframe('v', 'fir'); // coalesced with the previous one
    for (const b of drainRtcp(s, 10 + i)) {
      for (const p of parts(b)) {
        assert.equal(p.fmt, PsfbFmt.FIR);
        const e = parseFir(b, p.off, p.len);
        assert.equal(e.length, 1);
        assert.equal(e[0]!.ssrc, REMOTE_V);
        firs.push(e[0]!.seqNr);
      }
    }
  }
  assert.deepEqual(firs, [1, 2, 3]);
  const st = s.getStats().inbound[0]!;
  assert.equal(st.plisSent, 1);
  assert.equal(st.firsSent, 3);
});

test('requestKeyframe before the SSRC is known is sent once it is bound', () => {
  const s = receiver();
  assert.equal(s.requestKeyframe('v'), false);
  assert.equal(drainRtcp(s, 0).length, 0);
  s.addRemoteSsrc('v', REMOTE_V);
  const out = drainRtcp(s, 1);
  assert.equal(out.length, 1);
  assert.equal(fbMediaSsrc(out[0]!, 0), REMOTE_V);
});

test('incoming PLI/FIR become keyframe requests for our mid; a repeated FIR seq nr is ignored', () => {
  const s = sender(false);
  let r = s.onRtcp(buildPli(1, LOCAL_V), 12, 0);
  assert.equal(r.keyframeCount, 1);
  assert.equal(r.keyframeMids[0], 'v');
  assert.equal(r.keyframeStreams[0], 0);
  r = s.onRtcp(buildFir(1, [{ ssrc: LOCAL_V, seqNr: 7 }]), 20, 1);
  assert.equal(r.keyframeCount, 1);
  assert.equal(r.firCount, 1);
  r = s.onRtcp(buildFir(1, [{ ssrc: LOCAL_V, seqNr: 7 }]), 20, 2);
  assert.equal(r.keyframeCount, 0, 'same seq nr: a repeat');
  r = s.onRtcp(buildFir(1, [{ ssrc: LOCAL_V, seqNr: 8 }]), 20, 3);
  assert.equal(r.keyframeCount, 1);
  // PLI + FIR in one compound: one entry
  const both = Buffer.concat([buildPli(1, LOCAL_V), buildFir(1, [{ ssrc: LOCAL_V, seqNr: 9 }])]);
  r = s.onRtcp(both, both.length, 4);
  assert.equal(r.keyframeCount, 1);
  assert.equal(r.pliCount, 1);
  // not ours
  assert.equal(s.onRtcp(buildPli(1, 0xdeadbeef), 12, 5).keyframeCount, 0);
  const st = s.getStats().outbound[0]!;
  assert.equal(st.plisReceived, 2);
  assert.equal(st.firsReceived, 3);
});

// ------------------------------------------------------------------ media events

test('media receiving true on the first packet, false after no_media_timer, true again on resume', () => {
  const s = receiver({ noMediaTimerS: 2 });
  s.addRemoteSsrc('v', REMOTE_V);
  s.onRtp(rtp(REMOTE_V, 1, 0), 112, 100);
  assert.deepEqual(events(s), [{ type: 'media', mid: 'v', kind: 'video', receiving: true }]);
  let now = 100;
  for (let seq = 2; seq < 20; seq++) s.onRtp(rtp(REMOTE_V, seq, seq * 3000), 112, (now += 33));
  assert.deepEqual(events(s), []);
  const last = now;
  assert.ok(s.pollTimeout()! <= last + 2000);
  s.handleTimeout(last + 1999);
  assert.deepEqual(events(s).filter((e) => e.type === 'media'), []);
  s.handleTimeout(last + 2000);
  assert.deepEqual(events(s), [{ type: 'media', mid: 'v', kind: 'video', receiving: false, seconds: 2 }]);
  s.handleTimeout(last + 5000);
  assert.deepEqual(events(s), [], 'only once');
  s.onRtp(rtp(REMOTE_V, 20, 60000), 112, last + 6000);
  assert.deepEqual(events(s), [{ type: 'media', mid: 'v', kind: 'video', receiving: true }]);
  assert.equal(s.getStats().inbound[0]!.receiving, true);
});

test('simulcast: SSRCs learnt from mid/rid extensions, media events carry the substream, RTX bound by repaired rid', () => {
  const s = session({ extensions: { mid: 1, rid: 2, repairedRid: 3 } });
  s.addRemoteMid({ mid: '0', kind: 'video', clockRate: 90000, rids: ['h', 'm', 'l'], rtx: [{ pt: 97, apt: 96 }] });
  const ext = midExt(1, '0', [{ id: 2, data: 'm' }]);
  const p = rtp(0x5000, 1, 0, { ext });
  assert.equal(s.onRtp(p, 12 + ext.length + 100, 0), 0);
  const info = s.inboundStream(0)!;
  assert.equal(info.rid, 'm');
  assert.equal(info.substream, 1);
  assert.deepEqual(events(s), [{ type: 'media', mid: '0', kind: 'video', substream: 1, receiving: true }]);
  // later packets without extensions map by SSRC
  assert.equal(s.onRtp(rtp(0x5000, 2, 3000), 112, 10), 0);
  // an unknown rid is refused; a packet without any mid/rid is refused
  const bad = midExt(1, '0', [{ id: 2, data: 'x' }]);
  assert.equal(s.onRtp(rtp(0x5001, 1, 0, { ext: bad }), 12 + bad.length + 100, 20), -1);
  assert.equal(s.onRtp(rtp(0x5002, 1, 0), 112, 20), -1);
  // RTX with repaired-rid 'm'
  const rext = midExt(1, '0', [{ id: 3, data: 'm' }]);
  const rp = rtp(0x6000, 40, 0, { ext: rext, pt: 97, payload: 102 });
  rp.writeUInt16BE(4, 12 + rext.length); // OSN 4 (3 was lost)
  s.onRtp(rtp(0x5000, 5, 12000), 112, 30);
  assert.equal(s.onRtp(rp, 12 + rext.length + 102, 40), 0);
  assert.equal(s.rtpWasRtx, true);
  assert.equal(rtpSsrc(rp), 0x5000);
  assert.equal(rtpSeq(rp), 4);
  assert.equal(rtpPayloadType(rp), 96);
  assert.equal(s.getStats().inbound[0]!.rtxSsrc, 0x6000);
  assert.equal(s.getStats().unknownSsrcPackets, 2);
});

test('BYE from a remote stream is an event', () => {
  const s = receiver();
  s.addRemoteSsrc('a', REMOTE_A);
  const r = s.onRtcp(buildBye([REMOTE_A, 0x999]), 12, 0);
  assert.equal(r.byeCount, 1);
  assert.deepEqual(events(s), [{ type: 'bye', mid: 'a', kind: 'audio', ssrc: REMOTE_A }]);
});

test('malformed RTCP and RTP are counted, never thrown', () => {
  const s = receiver();
  const junk = Buffer.from([0x80, 200, 0xff, 0xff, 1, 2, 3]);
  assert.equal(s.onRtcp(junk, junk.length, 0).malformed, true);
  const short = Buffer.alloc(12);
  short[0] = 0x80;
  short[1] = RtcpType.SR;
  short.writeUInt16BE(2, 2); // 12 bytes: too short for an SR
  assert.equal(s.onRtcp(short, 12, 0).srCount, 0);
  assert.equal(s.onRtp(Buffer.from([0x40, 0, 0]), 3, 0), -1);
  const st = s.getStats();
  assert.equal(st.malformedRtcp, 1);
  assert.equal(st.malformedRtp, 1);
});

// ------------------------------------------------------------------ slowlink

test('slowlink downlink (uplink:false) when lost packets per second reach the threshold', () => {
  const s = receiver({ slowlinkThreshold: 5 });
  s.addRemoteSsrc('a', REMOTE_A);
  let seq = 0;
  // second 1: 4 lost -> nothing
  for (let i = 0; i < 50; i++, seq++) if (i % 10 !== 3 || i >= 40) s.onRtp(rtp(REMOTE_A, seq, seq * 960, { pt: 111 }), 112, i * 20);
  s.handleTimeout(1000);
  assert.deepEqual(events(s).filter((e) => e.type === 'slowlink'), []);
  // second 2: 6 lost
  for (let i = 0; i < 50; i++, seq++) if (i % 8 !== 1 || i >= 48) s.onRtp(rtp(REMOTE_A, seq, seq * 960, { pt: 111 }), 112, 1000 + i * 20);
  s.handleTimeout(2000);
  assert.deepEqual(events(s).filter((e) => e.type === 'slowlink'), [{ type: 'slowlink', mid: 'a', kind: 'audio', uplink: false, lost: 6 }]);
});

test('slowlink uplink (uplink:true) from the remote\'s cumulative lost about what we send', () => {
  const s = sender(false, { slowlinkThreshold: 4 });
  s.onOutgoingRtp(rtp(LOCAL_V, 1, 1), 112, 0);
  const rr = (lost: number) => {
    const b = newReportBlock();
    b.ssrc = LOCAL_V;
    b.cumulativeLost = lost;
    return buildReceiverReport(0x777, [b]);
  };
  s.onRtcp(rr(3), 32, 500);
  s.handleTimeout(1000);
  assert.deepEqual(events(s), []);
  s.onRtcp(rr(13), 32, 1500);
  s.handleTimeout(2000);
  assert.deepEqual(events(s), [{ type: 'slowlink', mid: 'v', kind: 'video', uplink: true, lost: 10 }]);
  s.onRtcp(rr(15), 32, 2500);
  s.handleTimeout(3000);
  assert.deepEqual(events(s), []);
  // disabled threshold: never
  const off = sender(false);
  off.onRtcp(rr(100), 32, 500);
  off.handleTimeout(1000);
  assert.deepEqual(events(off), []);
});

test('an SR from the remote feeds LSR/DLSR in our next report block', () => {
  const s = receiver();
  s.addRemoteSsrc('v', REMOTE_V);
  s.onRtp(rtp(REMOTE_V, 1, 1), 112, 100);
  const info = { ntpSec: 0x12345678, ntpFrac: 0x9abc0000, rtpTimestamp: 1, packetCount: 5, octetCount: 500 };
  const r = s.onRtcp(buildSenderReport(REMOTE_V, info), 28, 200);
  assert.equal(r.srCount, 1);
  const buf = reportAt(s, 700);
  const blk = readReportBlock(buf, 0, 0, newReportBlock());
  assert.equal(blk.lsr, 0x56789abc);
  assert.equal(blk.dlsr, Math.floor((500 * 65536) / 1000));
  assert.equal(s.getStats().inbound[0]!.remotePacketsSent, 5);
});

// ------------------------------------------------------------------ configuration changes

test('min_nack_queue at run time; the queue follows 2 × RTT when larger', () => {
  const s = sender(false);
  s.onOutgoingRtp(rtp(LOCAL_V, 1, 1), 112, 0);
  assert.equal(s.onRtcp(buildNack(1, LOCAL_V, [1]), 16, 300).retransmitCount, 0, '300 ms > 200 ms default');
  s.setMinNackQueue(500);
  assert.equal(s.onRtcp(buildNack(1, LOCAL_V, [1]), 16, 300).retransmitCount, 1);
  // an RR with an RTT of ~400 ms stretches the queue to 800 ms
  s.onOutgoingRtp(rtp(LOCAL_V, 2, 2), 112, 1000);
  const b = newReportBlock();
  b.ssrc = LOCAL_V;
  b.lsr = ((ntpSeconds(WALL + 1000) & 0xffff) << 16) | (ntpFraction(WALL + 1000) >>> 16);
  b.dlsr = 0;
  s.onRtcp(buildReceiverReport(1, [b]), 32, 1400);
  assert.ok(Math.abs(s.rtt - 400) < 1);
  assert.equal(s.onRtcp(buildNack(1, LOCAL_V, [2]), 16, 1790).retransmitCount, 1);
  // resent less than RTT/2 ago: still in flight, not sent again
  assert.equal(s.onRtcp(buildNack(1, LOCAL_V, [2]), 16, 1800).retransmitCount, 0);
});

test('renegotiation: re-declaring a mid keeps its SSRCs; a new SSRC for the mid retires the old one; removal forgets them', () => {
  const s = receiver();
  s.addRemoteSsrc('v', REMOTE_V);
  s.onRtp(rtp(REMOTE_V, 1, 1), 112, 0);
  events(s);
  s.addRemoteMid({ mid: 'v', kind: 'video', clockRate: 90000, nack: false, payloadTypes: [96] });
  assert.equal(s.onRtp(rtp(REMOTE_V, 2, 2), 112, 10), 0);
  s.onRtp(rtp(REMOTE_V, 5, 5), 112, 20);
  assert.equal(s.hasPendingRtcp, false, 'nack now off for this mid');
  // the remote switches SSRC on the same mid
  assert.equal(s.addRemoteSsrc('v', 0x4242), 1);
  assert.equal(s.onRtp(rtp(0x4242, 100, 1), 112, 30), 1);
  assert.deepEqual(events(s), [{ type: 'media', mid: 'v', kind: 'video', receiving: true }]);
  s.handleTimeout(1025);
  assert.deepEqual(events(s), [], 'the retired stream raises no receiving:false');
  assert.deepEqual(s.getStats().inbound.map((i) => i.ssrc), [0x4242]);
  s.removeRemoteMid('v');
  assert.equal(s.onRtp(rtp(0x4242, 101, 1), 112, 40), -1);
  assert.deepEqual(s.getStats().inbound, []);
});

test('removeLocalStream: no more SR for it, its NACKs ignored; writeBye names our SSRCs', () => {
  const s = sender(false);
  s.onOutgoingRtp(rtp(LOCAL_V, 1, 1), 112, 0);
  s.onOutgoingRtp(rtp(LOCAL_A, 1, 1, { pt: 111 }), 112, 0);
  const out = Buffer.alloc(1500);
  const n = s.writeBye(out, 10);
  const ps = parts(out.subarray(0, n));
  assert.deepEqual(ps.map((p) => p.type), [RtcpType.SR, RtcpType.SR, RtcpType.SDES, RtcpType.BYE]);
  s.removeLocalStream('v');
  assert.equal(s.onRtcp(buildNack(1, LOCAL_V, [1]), 16, 20).retransmitCount, 0);
  assert.equal(s.localIndex('v'), -1);
  assert.equal(s.localIndex('a'), 1);
  const rep = drainRtcp(s, 500);
  const srs = parts(rep[0]!).filter((p) => p.type === RtcpType.SR);
  assert.deepEqual(srs.map((p) => rtcpSenderSsrc(rep[0]!, p.off)), [LOCAL_A]);
});
