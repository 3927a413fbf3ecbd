import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildBye,
  buildFir,
  buildNack,
  buildPli,
  buildReceiverReport,
  buildRemb,
  buildSdesCname,
  buildSenderReport,
  buildTransportCc,
  fbMediaSsrc,
  firSeqNrFor,
  isFir,
  isNack,
  isPli,
  isRemb,
  isTransportCc,
  isValidRtcpCompound,
  newReportBlock,
  newSenderInfo,
  ntpFraction,
  ntpMiddle32,
  ntpMiddle32FromMs,
  ntpSeconds,
  ntpToUnixMs,
  packNack,
  parseBye,
  parseFir,
  parseNack,
  parseRemb,
  parseSdes,
  parseTransportCc,
  readReportBlock,
  readSenderInfo,
  rembBitrate,
  rembEncode,
  reportBlockCount,
  RtcpReader,
  RtcpType,
  rttFromReport,
  setFbMediaSsrc,
  TransportCcFeedback,
  type ReportBlock,
} from '../../../src/media/rtcp/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const h = (b: Buffer): string => b.toString('hex');

const BLOCK: ReportBlock = {
  ssrc: 0xaabbccdd,
  fractionLost: 0x40,
  cumulativeLost: -2,
  highestSeq: 0x00011234,
  jitter: 0x55,
  lsr: 0x12345678,
  dlsr: 0x00010000,
};

test('SR: known bytes, and read back', () => {
  const sr = buildSenderReport(0x11223344, { ntpSec: 0xe1234567, ntpFrac: 0x80000000, rtpTimestamp: 0x01020304, packetCount: 10, octetCount: 1000 }, [BLOCK]);
  assert.equal(h(sr), '81c8000c' + '11223344' + 'e1234567' + '80000000' + '01020304' + '0000000a' + '000003e8'
    + 'aabbccdd' + '40fffffe' + '00011234' + '00000055' + '12345678' + '00010000');
  const info = readSenderInfo(sr, 0, newSenderInfo());
  assert.deepEqual(info, { ntpSec: 0xe1234567, ntpFrac: 0x80000000, rtpTimestamp: 0x01020304, packetCount: 10, octetCount: 1000 });
  assert.equal(reportBlockCount(sr, 0, sr.length), 1);
  assert.deepEqual(readReportBlock(sr, 0, 0, newReportBlock()), BLOCK);
});

test('RR with two report blocks: known bytes and read back', () => {
  const b2 = { ...BLOCK, ssrc: 1, fractionLost: 0, cumulativeLost: 0x7fffff };
  const rr = buildReceiverReport(0x01020304, [BLOCK, b2]);
  assert.equal(rr.length, 8 + 48);
  assert.equal(h(rr.subarray(0, 8)), '82c9000d' + '01020304');
  assert.equal(h(rr.subarray(32, 40)), '00000001' + '007fffff');
  assert.deepEqual(readReportBlock(rr, 0, 1, newReportBlock()), b2);
  assert.equal(rr[0], 0x82);
  const empty = buildReceiverReport(5);
  assert.equal(h(empty), '80c9000100000005');
});

test('SDES CNAME and BYE: known bytes and parse', () => {
  const sdes = buildSdesCname([{ ssrc: 0x11223344, cname: 'abc' }]);
  assert.equal(h(sdes), '81ca0003' + '11223344' + '01036162' + '63000000');
  const two = buildSdesCname([{ ssrc: 1, cname: 'abcd' }, { ssrc: 2, cname: 'x' }]);
  assert.deepEqual(parseSdes(two, 0, two.length), [{ ssrc: 1, cname: 'abcd' }, { ssrc: 2, cname: 'x' }]);
  const bye = buildBye([0x11223344]);
  assert.equal(h(bye), '81cb0001' + '11223344');
  const withReason = buildBye([1, 2], 'bye');
  assert.equal(h(withReason), '82cb0003' + '00000001' + '00000002' + '03627965');
  assert.deepEqual(parseBye(withReason, 0, withReason.length), { ssrcs: [1, 2], reason: 'bye' });
});

test('generic NACK: PID/BLP known bytes, parse, round trip across the wrap', () => {
  const nack = buildNack(0x01, 0x02, [100, 101, 103, 116, 117, 118]);
  assert.equal(h(nack), '81cd0004' + '00000001' + '00000002' + '00648005' + '00750001');
  // 100 | bits: 101->0, 103->2, 116->15 ; then 117 | 118->bit0
  assert.equal(nack.readUInt16BE(14), 0x8005);
  assert.equal(nack.readUInt16BE(16), 117);
  assert.equal(nack.readUInt16BE(18), 0x0001);
  assert.ok(isNack(nack, 0));
  const out: number[] = [];
  assert.equal(parseNack(nack, 0, nack.length, out), 6);
  assert.deepEqual(out, [100, 101, 103, 116, 117, 118]);
  const wrap = [65534, 65535, 0, 1, 40];
  const back: number[] = [];
  const w = buildNack(1, 2, [1, 65535, 0, 65534, 40]);
  parseNack(w, 0, w.length, back);
  assert.deepEqual(back, wrap);
  assert.deepEqual(packNack([65534, 0]), [65534, 0b10]);
  assert.equal(fbMediaSsrc(w, 0), 2);
  setFbMediaSsrc(w, 0, 0xdeadbeef);
  assert.equal(fbMediaSsrc(w, 0), 0xdeadbeef);
});

test('PLI and FIR: known bytes', () => {
  const pli = buildPli(0x01020304, 0x05060708);
  assert.equal(h(pli), '81ce0002' + '01020304' + '05060708');
  assert.ok(isPli(pli, 0));
  const fir = buildFir(0x01020304, [{ ssrc: 0x0a0b0c0d, seqNr: 5 }]);
  assert.equal(h(fir), '84ce0004' + '01020304' + '00000000' + '0a0b0c0d' + '05000000');
  assert.ok(isFir(fir, 0));
  assert.deepEqual(parseFir(fir, 0, fir.length), [{ ssrc: 0x0a0b0c0d, seqNr: 5 }]);
  assert.equal(firSeqNrFor(fir, 0, fir.length, 0x0a0b0c0d), 5);
  assert.equal(firSeqNrFor(fir, 0, fir.length, 1), -1);
});

test('REMB: 1,024,000 bps encodes as exp 2, mantissa 256000, known bytes, decodes exactly', () => {
  assert.deepEqual(rembEncode(1_024_000), { exp: 2, mantissa: 256000 });
  const remb = buildRemb(0x01020304, 1_024_000, [0x11111111, 0x22222222]);
  assert.equal(h(remb), '8fce0006' + '01020304' + '00000000' + '52454d42' + '020be800' + '11111111' + '22222222');
  assert.ok(isRemb(remb, 0, remb.length));
  assert.equal(rembBitrate(remb, 0, remb.length), 1_024_000);
  assert.deepEqual(parseRemb(remb, 0, remb.length), { bitrate: 1_024_000, ssrcs: [0x11111111, 0x22222222] });
  // small values use exp 0; large ones lose only low bits
  assert.deepEqual(rembEncode(262143), { exp: 0, mantissa: 262143 });
  const big = buildRemb(1, 5_000_000_000, []);
  const got = rembBitrate(big, 0, big.length);
  assert.ok(got <= 5_000_000_000 && got > 5_000_000_000 - 2 ** 15);
  assert.equal(isRemb(buildPli(1, 2), 0, 12), false);
});

test('NTP: seconds since 1900 and exact 2^32 fractions from ms', () => {
  assert.equal(ntpSeconds(0), 2208988800);
  assert.equal(ntpFraction(0), 0);
  assert.equal(ntpFraction(500), 0x80000000);
  assert.equal(ntpFraction(250), 0x40000000);
  assert.equal(ntpFraction(125), 0x20000000);
  assert.equal(ntpFraction(1), 4294967);
  assert.equal(ntpFraction(999), 4290672328);
  assert.equal(ntpFraction(0.5), 2147483);
  // 2024-01-01T00:00:00.750Z
  const ms = Date.UTC(2024, 0, 1, 0, 0, 0, 750);
  assert.equal(ntpSeconds(ms), 1704067200 + 2208988800);
  assert.equal(ntpFraction(ms), 0xc0000000);
  assert.equal(ntpToUnixMs(ntpSeconds(ms), ntpFraction(ms)), ms);
  assert.equal(ntpMiddle32(0x12345678, 0x9abcdef0), 0x56789abc);
});

test('RTT from LSR/DLSR', () => {
  assert.equal(rttFromReport(0x00050000, 0x00040000, 0x00008000), 500);
  assert.equal(rttFromReport(0x00050000, 0, 0), -1, 'no SR yet');
  // end-to-end with wall clock: SR sent at t=1000, RR with DLSR 200 ms arrives at t=1300 -> 100 ms
  const lsr = ntpMiddle32FromMs(1_700_000_001_000);
  const dlsr = Math.floor((200 * 65536) / 1000);
  const rtt = rttFromReport(ntpMiddle32FromMs(1_700_000_001_300), lsr, dlsr);
  assert.ok(Math.abs(rtt - 100) < 0.05, String(rtt));
  // wrap of the 16.16 value
  assert.equal(rttFromReport(0x00000100, 0xffff0100, 0x00008000), 500);
});

test('compound packet iteration without allocation: SR + SDES + PLI, and malformed input', () => {
  const compound = Buffer.concat([
    buildSenderReport(1, newSenderInfo(), [BLOCK]),
    buildSdesCname([{ ssrc: 1, cname: 'x' }]),
    buildPli(1, 2),
  ]);
  const r = new RtcpReader();
  r.reset(compound, compound.length);
  const seen: number[] = [];
  const offsets: number[] = [];
  while (r.next()) {
    seen.push(r.type);
    offsets.push(r.offset);
  }
  assert.equal(r.error, false);
  assert.deepEqual(seen, [RtcpType.SR, RtcpType.SDES, RtcpType.PSFB]);
  assert.deepEqual(offsets, [0, 52, 64]);
  assert.equal(isValidRtcpCompound(compound, compound.length), true);
  // truncated: last packet's length runs past the end
  assert.equal(isValidRtcpCompound(compound, compound.length - 4), false);
  r.reset(compound, compound.length - 4);
  let n = 0;
  while (r.next()) n++;
  assert.equal(n, 2);
  assert.equal(r.error, true);
  assert.equal(isValidRtcpCompound(hex('40c80000'), 4), false, 'version 1');
});

test('transport-cc: parse hand-made run-length and two-bit vector chunks', () => {
  // base 1, count 3, ref time 1 (64 ms), fb count 7, run-length chunk: small delta x3, deltas 4,8,12 ticks
  const a = hex('af cd 0006 00000001 00000002 0001 0003 000001 07 2003 04 08 0c 00 00 03');
  assert.ok(isTransportCc(a, 0));
  const fb = new TransportCcFeedback();
  assert.equal(parseTransportCc(a, 0, a.length, fb), true);
  assert.equal(fb.baseSeq, 1);
  assert.equal(fb.count, 3);
  assert.equal(fb.referenceTime, 1);
  assert.equal(fb.fbPktCount, 7);
  assert.deepEqual([...fb.status.subarray(0, 3)], [1, 1, 1]);
  assert.deepEqual([...fb.deltaUs.subarray(0, 3)], [1000, 2000, 3000]);
  assert.equal(fb.arrivalUs(2), 64000 + 6000);
  // two-bit vector: [small, large, small, not received], deltas 1 byte, 2 bytes (-4 ticks), 1 byte
  const b = hex('af cd 0006 00000001 00000002 fff0 0004 fffffe 00 d900 10 fffc 20 00 02');
  assert.equal(parseTransportCc(b, 0, b.length, fb), true);
  assert.equal(fb.baseSeq, 0xfff0);
  assert.equal(fb.referenceTime, -2);
  assert.deepEqual([...fb.status.subarray(0, 4)], [1, 2, 1, 0]);
  assert.deepEqual([...fb.deltaUs.subarray(0, 4)], [4000, -1000, 8000, 0]);
  assert.ok(Number.isNaN(fb.arrivalUs(3)));
  // one-bit vector chunk: 14 symbols 1,0,1,0...
  const c = hex('af cd 0007 00000001 00000002 0000 000e 000000 00 aaaa 01 01 01 01 01 01 01 00 00 03');
  assert.ok(isValidRtcpCompound(a, a.length) && isValidRtcpCompound(b, b.length) && isValidRtcpCompound(c, c.length));
  assert.equal(parseTransportCc(c, 0, c.length, fb), true);
  assert.deepEqual([...fb.status.subarray(0, 14)], [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
  // truncated deltas
  assert.equal(parseTransportCc(a, 0, 24, fb), false);
});

test('transport-cc: build -> parse round trip with losses, long runs and a large delta', () => {
  const arrivals: number[] = [];
  let t = 1_000_000;
  for (let i = 0; i < 40; i++) {
    if (i >= 5 && i < 20) arrivals.push(-1); // a run of 15 lost
    else if (i === 30) arrivals.push((t += 100_000)); // 100 ms gap: large delta
    else arrivals.push((t += 1_250 * (i % 3)));
  }
  const pkt = buildTransportCc(0xa, 0xb, 65530, 3, arrivals);
  assert.equal(pkt.length % 4, 0);
  assert.ok(isValidRtcpCompound(pkt, pkt.length));
  const fb = new TransportCcFeedback();
  assert.ok(parseTransportCc(pkt, 0, pkt.length, fb));
  assert.equal(fb.count, 40);
  assert.equal(fb.baseSeq, 65530);
  assert.equal(fb.fbPktCount, 3);
  for (let i = 0; i < 40; i++) {
    if (arrivals[i]! < 0) assert.equal(fb.status[i], 0, `seq ${i} lost`);
    else assert.ok(Math.abs(fb.arrivalUs(i) - arrivals[i]!) <= 125, `seq ${i}: ${fb.arrivalUs(i)} vs ${arrivals[i]}`);
  }
  assert.equal(fb.status[30], 2, 'large delta');
});
