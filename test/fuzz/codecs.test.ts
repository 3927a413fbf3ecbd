/**
 * Codec payload readers (src/codecs): VP8/VP9/H.264 descriptors never throw and every offset they
 * report lies inside the payload (the VideoRoom rewrites bytes there), Ogg/Opus files (operator
 * input for AudioBridge announcements) give a stream or OggError, and the Opus decoder answers
 * garbage packets with samples or OpusError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fc, check, boundedHeap, mutated, rawBytes, typedOnly } from './harness.js';
import { isVp8Keyframe, newVp8Info, parseVp8, Vp8Rewriter } from '../../src/codecs/vp8.js';
import { isVp9Keyframe, newVp9Info, parseVp9 } from '../../src/codecs/vp9.js';
import { h264NalType, isH264Keyframe } from '../../src/codecs/h264.js';
import { OggError, oggCrc, oggPages, oggPackets, parseOggOpus } from '../../src/codecs/ogg.js';
import { createOpusDecoder, createOpusEncoder, OpusError } from '../../src/codecs/opus.js';

/** A VP8 payload descriptor (RFC 7741) with optional extensions, then a (key)frame header. */
const vp8Payload: fc.Arbitrary<Uint8Array> = fc
  .record({ x: fc.boolean(), s: fc.boolean(), pid: fc.integer({ min: 0, max: 7 }), i: fc.boolean(), m: fc.boolean(), l: fc.boolean(), t: fc.boolean(), k: fc.boolean(),
    pic: fc.integer({ min: 0, max: 0x7fff }), tl0: fc.integer({ min: 0, max: 255 }), tid: fc.integer({ min: 0, max: 3 }), key: fc.boolean(), w: fc.integer({ min: 0, max: 0x3fff }), h: fc.integer({ min: 0, max: 0x3fff }), tail: fc.uint8Array({ maxLength: 30 }) })
  .map((r) => {
    const out: number[] = [(r.x ? 0x80 : 0) | (r.s ? 0x10 : 0) | r.pid];
    if (r.x) {
      out.push((r.i ? 0x80 : 0) | (r.l ? 0x40 : 0) | (r.t ? 0x20 : 0) | (r.k ? 0x10 : 0));
      if (r.i) out.push(...(r.m ? [0x80 | (r.pic >> 8), r.pic & 0xff] : [r.pic & 0x7f]));
      if (r.l) out.push(r.tl0);
      if (r.t || r.k) out.push(r.tid << 6);
    }
    // Frame tag: bit 0 clear = key frame, then the start code and 14-bit sizes.
    if (r.key) out.push(0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, r.w & 0xff, r.w >> 8, r.h & 0xff, r.h >> 8);
    else out.push(0x01, 0, 0);
    return Uint8Array.from([...out, ...r.tail]);
  });

const vp9Payload: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 30 }))
  .map(([flags, rest]) => Uint8Array.from([flags, ...rest]));

const h264Payload: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.constantFrom(1, 5, 7, 8, 24, 28, 29, 0, 31), fc.uint8Array({ maxLength: 40 }))
  .map(([nal, rest]) => Uint8Array.from([nal, ...rest]));

/** Runs the readers on the payload placed at an offset inside a bigger buffer (as in an RTP packet). */
function readVideo(p: Uint8Array): void {
  const pre = 12;
  const buf = Buffer.alloc(pre + p.length + 8, 0xee);
  buf.set(p, pre);
  const len = p.length;
  const v8 = newVp8Info();
  if (parseVp8(buf, pre, len, v8)) {
    for (const o of [v8.pictureIdOffset, v8.tl0PicIdxOffset]) if (o >= 0) assert.ok(o >= pre && o < pre + len, `VP8 field offset ${o} outside [${pre}, ${pre + len})`);
    assert.ok(v8.payloadOffset >= pre && v8.payloadOffset <= pre + len, `VP8 payload offset ${v8.payloadOffset}`);
    const before = Buffer.from(buf);
    new Vp8Rewriter().rewrite(buf, v8);
    // The rewriter only touches descriptor bytes inside the payload.
    assert.deepEqual(buf.subarray(0, pre), before.subarray(0, pre));
    assert.deepEqual(buf.subarray(pre + len), before.subarray(pre + len));
  }
  isVp8Keyframe(buf, pre, len);
  parseVp9(buf, pre, len, newVp9Info());
  isVp9Keyframe(buf, pre, len);
  h264NalType(buf, pre, len);
  isH264Keyframe(buf, pre, len);
}

test('VP8/VP9/H.264 descriptors: never throw, offsets inside the payload', async () => {
  await boundedHeap(8 << 20, () => {
    check('vp8', [fc.oneof(mutated(vp8Payload, 3), vp8Payload)], (p) => typedOnly(() => readVideo(p), []), 2000);
    check('vp9', [mutated(vp9Payload, 2)], (p) => typedOnly(() => readVideo(p), []), 800);
    check('h264', [mutated(h264Payload, 2)], (p) => typedOnly(() => readVideo(p), []), 800);
    check('video raw', [rawBytes(40)], (p) => typedOnly(() => readVideo(p), []), 800);
  });
});

// ------------------------------------------------------------------ Ogg / Opus

/** One Ogg page with a correct CRC. */
function page(flags: number, granule: bigint, serial: number, seq: number, packets: Uint8Array[]): Buffer {
  const segs: number[] = [];
  for (const p of packets) {
    let n = p.length;
    while (n >= 255) {
      segs.push(255);
      n -= 255;
    }
    segs.push(n);
  }
  const body = Buffer.concat(packets);
  const b = Buffer.alloc(27 + segs.length + body.length);
  b.write('OggS', 0, 'latin1');
  b[5] = flags;
  b.writeBigInt64LE(granule, 6);
  b.writeUInt32LE(serial, 14);
  b.writeUInt32LE(seq, 18);
  b[26] = segs.length;
  Buffer.from(segs).copy(b, 27);
  body.copy(b, 27 + segs.length);
  b.writeUInt32LE(oggCrc(b), 22);
  return b;
}

const oggOpusFile: fc.Arbitrary<Uint8Array> = fc
  .record({ channels: fc.integer({ min: 0, max: 3 }), audio: fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 4 }), serial: fc.nat() })
  .map((r) => {
    const head = Buffer.alloc(19);
    head.write('OpusHead', 0, 'latin1');
    head[8] = 1;
    head[9] = r.channels;
    head.writeUInt16LE(312, 10);
    head.writeUInt32LE(48000, 12);
    return Buffer.concat([
      page(2, 0n, r.serial, 0, [head]),
      page(0, 0n, r.serial, 1, [Buffer.from('OpusTags\0\0\0\0\0\0\0\0', 'latin1')]),
      page(4, 960n, r.serial, 2, r.audio),
    ]);
  });

test('Ogg/Opus: any file gives a stream or OggError; pages and packets stay inside the file', async () => {
  await boundedHeap(8 << 20, () => {
    check('ogg', [fc.oneof(oggOpusFile.map((u) => Buffer.from(u)), mutated(oggOpusFile, 4), rawBytes(100).map((b) => Buffer.concat([Buffer.from('OggS'), b])))], (b) => {
      const pages = typedOnly(() => oggPages(b), []) ?? [];
      let total = 0;
      for (const p of pages) total += p.body.length;
      assert.ok(total <= b.length);
      const packets = typedOnly(() => oggPackets(pages), []) ?? [];
      assert.ok(packets.reduce((n, p) => n + p.length, 0) <= total, 'packets come from page bodies');
      const s = typedOnly(() => parseOggOpus(b), [OggError]);
      if (s) assert.ok(s.channels > 0 && s.packets.length > 0);
    }, 1500);
  });
});

test('Opus decoder: garbage packets give samples or OpusError', async () => {
  const enc = createOpusEncoder({ sampleRate: 48000, channels: 1 });
  const real: Uint8Array[] = [];
  const pcm = new Int16Array(960);
  for (let i = 0; i < 4; i++) {
    for (let k = 0; k < pcm.length; k++) pcm[k] = Math.round(8000 * Math.sin((i * 960 + k) / 7));
    real.push(Uint8Array.from(enc.encode(pcm)));
  }
  enc.destroy();
  const dec = createOpusDecoder(48000, 1);
  try {
    await boundedHeap(8 << 20, () => {
      check('opus decode', [fc.oneof(mutated(fc.constantFrom(...real), 3), rawBytes(60)), fc.boolean()], (p, fec) => {
        const out = typedOnly(() => dec.decode(p, fec), [OpusError]);
        if (out) assert.ok(out.length <= 5760, `at most 120 ms of samples (${out.length})`);
      }, 1500);
    });
  } finally {
    dec.destroy();
  }
});
