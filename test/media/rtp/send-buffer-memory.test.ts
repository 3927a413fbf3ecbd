import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RtpSendBuffer } from '../../../src/media/rtp/send-buffer.js';
import { rtpSsrc } from '../../../src/media/rtp/header.js';

function packet(seq: number, ssrc = 0x11223344): Buffer {
  const b = Buffer.alloc(1000);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ssrc, 8);
  b.writeUInt32BE(seq, 12); // payload marker to tell packets apart
  return b;
}

test('send buffer memory follows packet rate x maxAge, not capacity', () => {
  const sb = new RtpSendBuffer({ capacity: 512, maxAgeMs: 200 });
  // 100 packets/s for 20 s (wrapping the 512-entry index several times).
  for (let n = 0; n < 2000; n++) sb.store(packet(n), 1000, n * 10);
  assert.ok(sb.allocatedSlots <= 25, `allocated ${sb.allocatedSlots} slots for 200 ms at 100 packets/s`);
  const now = 1999 * 10;
  // Recent packets are retransmittable with their own bytes; old ones are gone.
  for (const seq of [1999, 1995, 1982]) {
    const got = sb.get(seq, now);
    assert.ok(got, `seq ${seq} available`);
    assert.equal(got.readUInt32BE(12), seq);
    assert.equal(rtpSsrc(got), 0x11223344);
  }
  assert.equal(sb.get(1970, now), null, 'older than maxAge');
});

test('send buffer grows with a burst and keeps every packet within maxAge', () => {
  const sb = new RtpSendBuffer({ capacity: 1024, maxAgeMs: 1000 });
  // 600 packets in 100 ms: all of them are younger than maxAge, so all must be kept.
  for (let n = 0; n < 600; n++) sb.store(packet(n), 1000, n / 6);
  for (let n = 0; n < 600; n += 37) assert.equal(sb.get(n, 100)?.readUInt32BE(12), n);
  assert.equal(sb.allocatedSlots, 600);
  // Past capacity the index wraps: the pool never exceeds capacity.
  for (let n = 600; n < 3000; n++) sb.store(packet(n), 1000, 100 + (n - 600) / 100);
  assert.ok(sb.allocatedSlots <= 1024);
  assert.equal(sb.get(2999, 124)?.readUInt32BE(12), 2999);
});

test('a new send buffer holds only its 2-byte index; slots follow the packets, not maxPacketSize', () => {
  const sb = new RtpSendBuffer({ capacity: 512, maxAgeMs: 200 });
  assert.equal(sb.allocatedSlots, 0);
  assert.ok(sb.footprintBytes <= 512 * 2, `empty buffer holds ${sb.footprintBytes} bytes`);
  // 100 packets/s of 1000 bytes for 2 s: ~21 slots of 1024 bytes (rounded), not of 1500.
  for (let n = 0; n < 200; n++) sb.store(packet(n), 1000, n * 10);
  const slots = sb.allocatedSlots;
  assert.ok(slots <= 25, `${slots} slots`);
  assert.equal(sb.footprintBytes, 512 * 2 + slots * 1024);
});

test('a packet larger than the slots seen so far is stored whole, in a larger slot', () => {
  const sb = new RtpSendBuffer({ capacity: 64, maxAgeMs: 100 });
  for (let n = 0; n < 40; n++) sb.store(packet(n), 200, n * 10); // small packets: 256-byte slots
  const big = Buffer.alloc(1400, 0xab);
  big.set(packet(40).subarray(0, 16));
  sb.store(big, 1400, 400); // reuses the oldest (small) slot
  const got = sb.get(40, 400);
  assert.ok(got);
  assert.equal(got.length, 1400);
  assert.equal(got.readUInt32BE(12), 40);
  assert.equal(got[1399], 0xab);
  // The other packets are untouched.
  assert.equal(sb.get(39, 400)?.readUInt32BE(12), 39);
  assert.equal(sb.get(39, 400)?.length, 200);
});

test('packets above maxPacketSize are not stored and do not grow the slots', () => {
  const sb = new RtpSendBuffer({ capacity: 64, maxAgeMs: 100, maxPacketSize: 1200 });
  sb.store(Buffer.concat([packet(1).subarray(0, 16), Buffer.alloc(1300)]), 1316, 0);
  assert.equal(sb.has(1), false);
  assert.equal(sb.allocatedSlots, 0);
  sb.store(packet(2), 1000, 0);
  assert.equal(sb.get(2, 0)?.length, 1000);
});
