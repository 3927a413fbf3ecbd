/**
 * RTP and RTCP (src/media/rtp, src/media/rtcp, src/media/session): the header/extension readers and
 * the compound-RTCP reader with every sub-parser never throw and never read outside the packet, and
 * the sans-IO RtpSession (what every PeerConnection runs on received media) takes garbage RTP/RTCP
 * without throwing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fc, check, boundedHeap, mutated, rawBytes, typedOnly } from './harness.js';
import {
  buildExtensionBlock, findRtpExtension, listRtpExtensions, readAbsSendTime, readAudioLevel, readExtensionString,
  readTransportSeq, rtpExtensionProfile, rtpHeaderLength, rtpPaddingLength, rtpPayloadLength, writeRtpHeader,
} from '../../src/media/rtp/index.js';
import {
  buildBye, buildFir, buildNack, buildPli, buildReceiverReport, buildRemb, buildSdesCname, buildSenderReport, buildTransportCc,
  firSeqNrFor, isValidRtcpCompound, newReportBlock, newSenderInfo, parseBye, parseFir, parseNack, parseRemb, parseSdes,
  parseTransportCc, readReportBlock, readSenderInfo, reportBlockCount, RtcpReader, RtcpType, TransportCcFeedback,
} from '../../src/media/rtcp/index.js';
import { RtpSession } from '../../src/media/session/index.js';

const u32 = fc.nat().map((n) => n >>> 0);

/** A well-formed RTP packet: CSRCs, one- or two-byte header extensions, padding, payload. */
const validRtp: fc.Arbitrary<Uint8Array> = fc
  .record({
    pt: fc.constantFrom(96, 97, 111, 0, 127),
    seq: fc.integer({ min: 0, max: 0xffff }),
    ts: u32,
    ssrc: fc.constantFrom(0x11111111, 0x22222222, 0x33333333, 1),
    csrcs: fc.array(u32, { maxLength: 3 }),
    ext: fc.option(fc.array(fc.record({ id: fc.integer({ min: 1, max: 20 }), data: fc.uint8Array({ minLength: 1, maxLength: 20 }) }), { maxLength: 4 })),
    payload: fc.uint8Array({ maxLength: 120 }),
    pad: fc.integer({ min: 0, max: 8 }),
    marker: fc.boolean(),
  })
  .map((r) => {
    const ext = r.ext ? buildExtensionBlock(r.ext) : Buffer.alloc(0);
    const head = 12 + r.csrcs.length * 4;
    const b = Buffer.alloc(head + ext.length + r.payload.length + r.pad);
    writeRtpHeader(b, r.pt, r.seq, r.ts, r.ssrc, r.marker);
    b[0] = (b[0]! & 0xf0) | r.csrcs.length;
    r.csrcs.forEach((c, i) => b.writeUInt32BE(c, 12 + 4 * i));
    if (ext.length) {
      b[0]! |= 0x10;
      ext.copy(b, head);
    }
    b.set(r.payload, head + ext.length);
    if (r.pad) {
      b[0]! |= 0x20;
      b[b.length - 1] = r.pad;
    }
    return b;
  });

/** A valid compound RTCP packet made of the kinds we build and parse. */
const validRtcp: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      fc.record({ ssrc: u32, blocks: fc.integer({ min: 0, max: 3 }) }).map((r) =>
        buildSenderReport(r.ssrc, newSenderInfo(), Array.from({ length: r.blocks }, () => ({ ...newReportBlock(), ssrc: 0x11111111 }))),
      ),
      fc.record({ ssrc: u32, blocks: fc.integer({ min: 0, max: 3 }) }).map((r) => buildReceiverReport(r.ssrc, Array.from({ length: r.blocks }, () => newReportBlock()))),
      fc.string({ maxLength: 40 }).map((cname) => buildSdesCname([{ ssrc: 0x11111111, cname }])),
      fc.record({ ssrcs: fc.array(u32, { maxLength: 4 }), reason: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }) }).map((r) => buildBye(r.ssrcs, r.reason)),
      fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 20 }).map((seqs) => buildNack(1, 0x11111111, seqs)),
      fc.constant(null).map(() => buildPli(1, 0x11111111)),
      fc.integer({ min: 0, max: 255 }).map((n) => buildFir(1, [{ ssrc: 0x11111111, seqNr: n }])),
      fc.record({ br: fc.nat(), ssrcs: fc.array(u32, { maxLength: 3 }) }).map((r) => buildRemb(1, r.br, r.ssrcs)),
      fc.record({ base: fc.integer({ min: 0, max: 0xffff }), times: fc.array(fc.option(fc.integer({ min: 0, max: 200_000 })), { minLength: 1, maxLength: 30 }) }).map((r) => {
        let t = 0;
        // First packet always received (the builder requires one); null = not received.
        const arrivals = r.times.map((x, i) => (x === null && i > 0 ? -1 : (t += x ?? 0)));
        return buildTransportCc(1, 0x11111111, r.base, 0, arrivals);
      }),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((parts) => Buffer.concat(parts));

function readRtp(b: Buffer): void {
  const len = b.length;
  const h = rtpHeaderLength(b, len);
  if (h >= 0) {
    assert.ok(h >= 12 && h <= len, `header length ${h} of ${len}`);
    const p = rtpPayloadLength(b, len);
    assert.ok(p >= 0 && h + p + rtpPaddingLength(b, len) === len, 'header + payload + padding = length');
  }
  rtpExtensionProfile(b, len);
  for (const e of listRtpExtensions(b, len)) assert.ok(e.offset + e.length <= len, 'extension element inside the packet');
  for (let id = 1; id < 16; id++) {
    const r = findRtpExtension(b, len, id);
    if (r >= 0) assert.ok((r >>> 8) + (r & 0xff) <= len);
    readAudioLevel(b, len, id);
    readAbsSendTime(b, len, id);
    readTransportSeq(b, len, id);
    readExtensionString(b, len, id);
  }
}

const twcc = new TransportCcFeedback();
const block = newReportBlock();
const info = newSenderInfo();
const reader = new RtcpReader();

function readRtcp(b: Buffer): void {
  isValidRtcpCompound(b, b.length);
  const r = reader.reset(b, b.length);
  let n = 0;
  while (r.next()) {
    n++;
    assert.ok(r.offset + r.length <= b.length && r.length >= 4, 'packet inside the datagram');
    const { offset: off, length: len } = r;
    // Every sub-parser is given every packet: each must stay inside [off, off + len) whatever the type says.
    const nacks: number[] = [];
    parseNack(b, off, len, nacks);
    assert.ok(nacks.length <= 17 * Math.max(0, (len - 12) / 4), 'NACK expansion bounded by the packet');
    parseFir(b, off, len);
    firSeqNrFor(b, off, len, 0x11111111);
    parseRemb(b, off, len);
    parseSdes(b, off, len);
    parseBye(b, off, len);
    parseTransportCc(b, off, len, twcc);
    assert.ok(twcc.count <= 0xffff);
    if (r.type === RtcpType.SR || r.type === RtcpType.RR) {
      if (r.type === RtcpType.RR || len >= 28) {
        if (r.type === RtcpType.SR) readSenderInfo(b, off, info);
        const k = reportBlockCount(b, off, len);
        for (let i = 0; i < k; i++) readReportBlock(b, off, i, block);
      }
    }
  }
  assert.ok(n <= b.length / 4);
}

test('RTP: valid, mutated and raw packets: readers stay inside the packet', async () => {
  await boundedHeap(8 << 20, () => {
    check('rtp valid', [validRtp], (v) => {
      const b = Buffer.from(v);
      assert.ok(rtpHeaderLength(b, b.length) >= 12, 'built packet is well-formed');
      readRtp(b);
    }, 300);
    check('rtp mutated', [mutated(validRtp, 4)], (b) => typedOnly(() => readRtp(b), []), 2500);
    check('rtp raw', [rawBytes(200).map((b) => (b.length ? ((b[0] = (b[0]! & 0x3f) | 0x80), b) : b))], (b) => typedOnly(() => readRtp(b), []), 1000);
  });
});

test('RTCP: valid, mutated and raw compounds: reader and every sub-parser stay inside the packet', async () => {
  await boundedHeap(8 << 20, () => {
    check('rtcp valid', [validRtcp], (v) => {
      const b = Buffer.from(v);
      assert.ok(isValidRtcpCompound(b, b.length), 'built compound is well-formed');
      readRtcp(b);
    }, 300);
    check('rtcp mutated', [mutated(validRtcp, 4)], (b) => typedOnly(() => readRtcp(b), []), 2500);
    check('rtcp raw', [rawBytes(200).map((b) => (b.length ? ((b[0] = (b[0]! & 0x3f) | 0x80), b) : b))], (b) => typedOnly(() => readRtcp(b), []), 1000);
  });
});

test('RtpSession: garbage RTP and RTCP interleaved with timers never throw', async () => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant('rtp' as const), b: fc.oneof(mutated(validRtp, 3), validRtp.map((v) => Buffer.from(v))) }),
    fc.record({ kind: fc.constant('rtcp' as const), b: fc.oneof(mutated(validRtcp, 3), validRtcp.map((v) => Buffer.from(v))) }),
    fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
  );
  const out = Buffer.alloc(1500);
  await boundedHeap(16 << 20, () => {
    check('rtp session', [fc.array(step, { maxLength: 40 })], (steps) => {
      const s = new RtpSession({ cname: 'fuzz', unixOffsetMs: 1_700_000_000_000, random: () => 0.5, rtcpSsrc: 0x0eeeeeee, extensions: { mid: 1, rid: 2, repairedRid: 3 } });
      s.addRemoteMid({ mid: 'v', kind: 'video', clockRate: 90000, rtx: [{ pt: 97, apt: 96 }], payloadTypes: [96], rids: ['h', 'm', 'l'] });
      s.addRemoteMid({ mid: 'a', kind: 'audio', clockRate: 48000, payloadTypes: [111] });
      s.addRemoteSsrc('v', 0x11111111, { rtxSsrc: 0x22222222 });
      s.addLocalStream({ mid: 'v', kind: 'video', ssrc: 0x44444444, clockRate: 90000, rtxSsrc: 0x55555555, rtxPt: 97 });
      s.addLocalStream({ mid: 'a', kind: 'audio', ssrc: 0x66666666, clockRate: 48000 });
      let now = 0;
      for (const st of steps) {
        if (st.kind === 'rtp') s.onRtp(st.b, st.b.length, now);
        else if (st.kind === 'rtcp') s.onRtcp(st.b, st.b.length, now);
        else {
          now += st.ms;
          s.handleTimeout(now);
          while (s.pollEvent()) { /* drain */ }
          for (let i = 0; i < 50 && s.pollRtcpInto(out, now) > 0; i++) { /* drain */ }
        }
      }
      s.getStats();
    }, 400);
  });
});
