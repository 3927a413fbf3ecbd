import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  absSendTimeFromMs,
  absSendTimeToMs,
  audioLevelDbov,
  audioLevelVoice,
  buildExtensionBlock,
  extensionEquals,
  extLength,
  extOffset,
  findRtpExtension,
  isRtcp,
  isRtp,
  listRtpExtensions,
  readAbsSendTime,
  readAudioLevel,
  readExtensionString,
  readTransportSeq,
  rtpCsrc,
  rtpCsrcCount,
  rtpExtension,
  rtpExtensionProfile,
  rtpHeaderLength,
  rtpMarker,
  rtpPadding,
  rtpPayloadLength,
  rtpPayloadType,
  rtpSeq,
  rtpSsrc,
  rtpTimestamp,
  rtpVersion,
  seqDiff,
  seqNewer,
  setRtpMarker,
  setRtpPayloadType,
  setRtpSeq,
  setRtpSsrc,
  setRtpTimestamp,
  writeAbsSendTime,
  writeTransportSeq,
} from '../../../src/media/rtp/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('fixed header accessors read a known packet', () => {
  // V=2 P=0 X=0 CC=0 M=1 PT=111 seq=0x1234 ts=0xdeadbeef ssrc=0xcafebabe
  const p = hex('80ef1234 deadbeef cafebabe 0102030405');
  assert.equal(rtpVersion(p), 2);
  assert.equal(rtpPadding(p), false);
  assert.equal(rtpExtension(p), false);
  assert.equal(rtpCsrcCount(p), 0);
  assert.equal(rtpMarker(p), true);
  assert.equal(rtpPayloadType(p), 111);
  assert.equal(rtpSeq(p), 0x1234);
  assert.equal(rtpTimestamp(p), 0xdeadbeef);
  assert.equal(rtpSsrc(p), 0xcafebabe);
  assert.equal(rtpHeaderLength(p, p.length), 12);
  assert.equal(rtpPayloadLength(p, p.length), 5);
  assert.equal(isRtp(p, p.length), true);
  assert.equal(isRtcp(p, p.length), false);
});

test('in-place setters change only their fields', () => {
  const p = hex('80ef1234 deadbeef cafebabe 0102');
  setRtpSeq(p, 0xfffe);
  setRtpTimestamp(p, 0x01020304);
  setRtpSsrc(p, 0x0a0b0c0d);
  setRtpPayloadType(p, 96);
  assert.equal(p.toString('hex'), '80e0fffe010203040a0b0c0d0102', 'marker kept when PT changes');
  setRtpMarker(p, false);
  assert.equal(p[1], 96);
  setRtpPayloadType(p, 0x7f + 1); // masked to 7 bits
  assert.equal(rtpPayloadType(p), 0);
});

test('CSRC, one-byte extension and padding lengths', () => {
  // V=2 P=1 X=1 CC=2, extension 0xBEDE length 2 words, payload 3 bytes, padding 4 (last byte 4)
  const p = hex(`b2600001 00000001 00000002 11111111 22222222 bede0002 10ff 22010233 0000
                 aabbcc 00000004`);
  assert.equal(rtpCsrcCount(p), 2);
  assert.equal(rtpCsrc(p, 1), 0x22222222);
  assert.equal(rtpHeaderLength(p, p.length), 12 + 8 + 4 + 8);
  assert.equal(rtpPayloadLength(p, p.length), 3);
  assert.equal(rtpExtensionProfile(p, p.length), 0xbede);
  const r = findRtpExtension(p, p.length, 1);
  assert.equal(extLength(r), 1);
  assert.equal(p[extOffset(r)], 0xff);
  const r2 = findRtpExtension(p, p.length, 2);
  assert.equal(extLength(r2), 3);
  assert.deepEqual([...p.subarray(extOffset(r2), extOffset(r2) + 3)], [0x01, 0x02, 0x33]);
  assert.equal(findRtpExtension(p, p.length, 3), -1);
});

test('malformed packets: wrong version, truncated extension, bad padding', () => {
  assert.equal(rtpHeaderLength(hex('40ef1234deadbeefcafebabe'), 12), -1);
  assert.equal(rtpHeaderLength(hex('90ef1234deadbeefcafebabe bede0005 00'), 17), -1);
  assert.equal(rtpHeaderLength(hex('a0ef1234deadbeefcafebabe 00'), 13), -1, 'padding count 0');
  assert.equal(rtpHeaderLength(hex('a0ef1234deadbeefcafebabe 0009'), 14), -1, 'padding longer than the payload');
  assert.equal(rtpHeaderLength(hex('80ef1234deadbeef'), 8), -1);
});

test('RTP/RTCP demux by payload type range', () => {
  assert.equal(isRtcp(hex('80c80006'), 4), true);
  assert.equal(isRtcp(hex('81cd0003'), 4), true);
  assert.equal(isRtp(hex('80c80006 00000000 00000000'), 12), false);
  assert.equal(isRtp(hex('80600006 00000000 00000000'), 12), true);
});

function packetWithExtensions(elements: Array<{ id: number; data: Uint8Array }>): Buffer {
  const ext = buildExtensionBlock(elements);
  const head = hex('90600001 00000001 00000002');
  return Buffer.concat([head, ext, hex('deadbeef')]);
}

test('one-byte extensions: audio level, abs-send-time, transport-wide seq, mid/rid strings', () => {
  const p = packetWithExtensions([
    { id: 1, data: Uint8Array.of(0x80 | 42) },
    { id: 3, data: Uint8Array.of(0x12, 0x34, 0x56) },
    { id: 5, data: Uint8Array.of(0x01, 0x02) },
    { id: 9, data: Buffer.from('0') },
    { id: 10, data: Buffer.from('hi') },
  ]);
  assert.equal(rtpExtensionProfile(p, p.length), 0xbede);
  const raw = readAudioLevel(p, p.length, 1);
  assert.equal(audioLevelVoice(raw), true);
  assert.equal(audioLevelDbov(raw), 42);
  assert.equal(readAbsSendTime(p, p.length, 3), 0x123456);
  assert.equal(readTransportSeq(p, p.length, 5), 0x0102);
  assert.equal(readExtensionString(p, p.length, 9), '0');
  assert.equal(readExtensionString(p, p.length, 10), 'hi');
  assert.equal(extensionEquals(p, p.length, 10, 'hi'), true);
  assert.equal(extensionEquals(p, p.length, 10, 'h'), false);
  assert.equal(readAudioLevel(p, p.length, 2), -1);
  assert.equal(rtpHeaderLength(p, p.length), p.length - 4, 'payload after the block');
  assert.deepEqual(listRtpExtensions(p, p.length).map((e) => e.id), [1, 3, 5, 9, 10]);
  // in-place writes
  assert.equal(writeTransportSeq(p, p.length, 5, 0xbeef), true);
  assert.equal(readTransportSeq(p, p.length, 5), 0xbeef);
  assert.equal(writeAbsSendTime(p, p.length, 3, 0xabcdef), true);
  assert.equal(readAbsSendTime(p, p.length, 3), 0xabcdef);
  assert.equal(writeTransportSeq(p, p.length, 6, 1), false);
});

test('two-byte extensions (id > 14 or length > 16), padding between elements', () => {
  const long = Buffer.alloc(20, 0x61);
  const p = packetWithExtensions([
    { id: 15, data: Uint8Array.of(7) },
    { id: 200, data: long },
  ]);
  assert.equal(rtpExtensionProfile(p, p.length) & 0xfff0, 0x1000);
  assert.equal(p[extOffset(findRtpExtension(p, p.length, 15))], 7);
  const r = findRtpExtension(p, p.length, 200);
  assert.equal(extLength(r), 20);
  assert.equal(readExtensionString(p, p.length, 200), 'a'.repeat(20));
  // hand-made two-byte block with a padding byte and a zero-length element
  const q = hex('90600001 00000001 00000002 10000002 00 0500 0602abcd 00 ff');
  assert.equal(extLength(findRtpExtension(q, q.length, 5)), 0);
  assert.equal(q[extOffset(findRtpExtension(q, q.length, 6))], 0xab);
  // one-byte block with padding bytes between elements and id 15 stop
  const s = hex('90600001 00000001 00000002 bede0002 00 00 1011 f0 2233 00');
  assert.equal(extLength(findRtpExtension(s, s.length, 1)), 1);
  assert.equal(findRtpExtension(s, s.length, 2), -1, 'parsing stops at id 15');
});

test('abs-send-time conversions (6.18 fixed point, 64 s wrap)', () => {
  assert.equal(absSendTimeFromMs(1000), 1 << 18);
  assert.equal(absSendTimeFromMs(500), 1 << 17);
  assert.equal(absSendTimeFromMs(64000), 0, 'wraps at 64 s');
  assert.equal(absSendTimeToMs(1 << 18), 1000);
  assert.ok(Math.abs(absSendTimeToMs(absSendTimeFromMs(12345.6)) - 12345.6) < 0.004);
});

test('sequence arithmetic across the wrap', () => {
  assert.equal(seqDiff(0, 65535), 1);
  assert.equal(seqDiff(65535, 0), -1);
  assert.equal(seqNewer(5, 65530), true);
  assert.equal(seqNewer(65530, 5), false);
  assert.equal(seqDiff(100, 100), 0);
});
