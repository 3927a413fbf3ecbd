import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketKind, classify, classifyPacket, isRtcpSecondByte } from '../../../src/media/net/demux.js';

test('RFC 7983 first-byte table', () => {
  const expect = (from: number, to: number, kind: PacketKind) => {
    for (let b = from; b <= to; b++) assert.equal(classify(b), kind, `byte ${b}`);
  };
  expect(0, 3, PacketKind.Stun);
  expect(4, 15, PacketKind.Unknown);
  expect(16, 19, PacketKind.Zrtp);
  expect(20, 63, PacketKind.Dtls);
  expect(64, 79, PacketKind.TurnChannel);
  expect(80, 127, PacketKind.Unknown);
  expect(128, 191, PacketKind.RtpOrRtcp);
  expect(192, 255, PacketKind.Unknown);
});

test('RTP vs RTCP by the second byte (payload type 192..223)', () => {
  assert.equal(classifyPacket(Buffer.from([0x80, 111])), PacketKind.Rtp); // Opus PT 111
  assert.equal(classifyPacket(Buffer.from([0x80, 0x80 | 96])), PacketKind.Rtp); // marker + PT 96
  assert.equal(classifyPacket(Buffer.from([0x80, 200])), PacketKind.Rtcp); // SR
  assert.equal(classifyPacket(Buffer.from([0x81, 201])), PacketKind.Rtcp); // RR
  assert.equal(classifyPacket(Buffer.from([0x8f, 206])), PacketKind.Rtcp); // PSFB
  assert.equal(classifyPacket(Buffer.from([0x80, 191])), PacketKind.Rtp);
  assert.equal(classifyPacket(Buffer.from([0x80, 224])), PacketKind.Rtp);
  assert.ok(isRtcpSecondByte(192) && isRtcpSecondByte(223) && !isRtcpSecondByte(224));
  assert.equal(classifyPacket(Buffer.from([22, 0xfe, 0xfd])), PacketKind.Dtls);
  assert.equal(classifyPacket(Buffer.from([0x00, 0x01])), PacketKind.Stun);
  assert.equal(classifyPacket(Buffer.alloc(0)), PacketKind.Unknown);
  assert.equal(classifyPacket(Buffer.from([0x80])), PacketKind.Unknown);
});
