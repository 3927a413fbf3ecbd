/**
 * The .mjr writer: byte layout (magic, jansson-style info header, MEET frames), Janus's seq/ts
 * rebasing across SSRC changes, data frames, buffered asynchronous file writes, failures that are
 * reported instead of thrown, and janus-pp-rec (Janus's own post-processor) accepting the result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MjrEncoder, MjrFile, mjrSupports, type MjrClocks } from '../../src/recording/mjr.js';
import { janusPpRec, oggPages, parseMjr, readMjr } from './mjr-reader.js';

function fakeClocks(): MjrClocks & { ms: number; us: number } {
  const c = { ms: 0, us: 1_700_000_000_000_000, realUs: () => c.us, monoMs: () => c.ms };
  return c;
}

function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  payload.copy(b, 12);
  return b;
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'portunus-mjr-'));

test('encoder: magic, header written with the first frame (jansson layout, Janus keys), MEET frames with relative ms', () => {
  const clk = fakeClocks();
  const enc = new MjrEncoder({ media: 'video', codec: 'vp8', description: 'cam', extmaps: { 13: 'urn:3gpp:video-orientation' } }, clk);
  assert.equal(MjrEncoder.magic().toString('latin1'), 'MJR00002');
  assert.equal(enc.headerWritten, false);
  const out = Buffer.alloc(4096);
  clk.us += 5000;
  clk.ms = 100;
  let off = enc.encodeRtp(rtp(96, 1000, 90000, 0xabc, Buffer.from('one')), 15, out, 0);
  clk.ms = 133.9;
  off = enc.encodeRtp(rtp(96, 1001, 93000, 0xabc, Buffer.from('two')), 15, out, off);
  const file = Buffer.concat([MjrEncoder.magic(), out.subarray(0, off)]);
  const m = parseMjr(file);
  assert.equal(m.magic, 'MJR00002');
  assert.equal(m.headerText, `{"t": "v", "c": "vp8", "d": "cam", "x": {"13": "urn:3gpp:video-orientation"}, "s": 1700000000000000, "u": 1700000000005000}`);
  assert.equal(m.frames.length, 2);
  assert.deepEqual(m.frames.map((f) => f.ms), [0, 33]);
  // Janus rebases: first seq 1, first ts 0; the payload is untouched.
  assert.deepEqual(m.frames.map((f) => [f.bytes.readUInt16BE(2), f.bytes.readUInt32BE(4), f.bytes.subarray(12).toString()]), [[1, 0, 'one'], [2, 3000, 'two']]);
  assert.equal(enc.frames, 2);
});

test('encoder: SSRC change keeps seq/ts continuous (time gap added) and the first SSRC; non-RTP and oversize input is ignored', () => {
  const clk = fakeClocks();
  const enc = new MjrEncoder({ media: 'audio', codec: 'opus' }, clk);
  const out = Buffer.alloc(4096);
  let off = 0;
  off = enc.encodeRtp(rtp(111, 65535, 4294966336, 1, Buffer.from('a')), 13, out, off);
  clk.ms += 20;
  off = enc.encodeRtp(rtp(111, 0, 0, 1, Buffer.from('b')), 13, out, off); // wraps
  clk.ms += 100;
  off = enc.encodeRtp(rtp(111, 777, 123456, 2, Buffer.from('c')), 13, out, off); // new source
  const before = off;
  off = enc.encodeRtp(Buffer.from([0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 13, out, off);
  off = enc.encodeRtp(Buffer.alloc(8, 0x80), 8, out, off);
  assert.equal(off, before, 'nothing written for non-RTP input');
  const m = parseMjr(Buffer.concat([MjrEncoder.magic(), out.subarray(0, off)]));
  const rows = m.frames.map((f) => [f.bytes.readUInt16BE(2), f.bytes.readUInt32BE(4), f.bytes.readUInt32BE(8)]);
  assert.deepEqual(rows, [[1, 0, 1], [2, 960, 1], [3, 960 + 100 * 48, 1]]);
  assert.deepEqual(m.header && Object.keys(m.header), ['t', 'c', 's', 'u']);
});

test('encoder: data frames carry an 8-byte wall-clock µs prefix counted in the length', () => {
  const clk = fakeClocks();
  const enc = new MjrEncoder({ media: 'data', codec: 'text' }, clk);
  const out = Buffer.alloc(1024);
  const off = enc.encodeData(Buffer.from('hello'), out, 0);
  const m = parseMjr(Buffer.concat([MjrEncoder.magic(), out.subarray(0, off)]));
  assert.equal(m.header?.t, 'd');
  assert.equal(m.frames.length, 1);
  assert.equal(m.frames[0]!.bytes.length, 13);
  assert.equal(m.frames[0]!.bytes.readBigUInt64BE(0), BigInt(clk.us));
  assert.equal(m.frames[0]!.bytes.subarray(8).toString(), 'hello');
  assert.equal(enc.encodeData(Buffer.alloc(0), out, off), off, 'empty message ignored');
  assert.equal(enc.encodeData(Buffer.alloc(70_000), out, off), off, 'message too big for a frame ignored');
});

test('codec support matches what Janus records', () => {
  assert.ok(mjrSupports('audio', 'opus') && mjrSupports('video', 'VP8') && mjrSupports('video', 'h265') && mjrSupports('data', 'text'));
  assert.ok(!mjrSupports('audio', 'isac32') && !mjrSupports('audio', 'vp8') && !mjrSupports('video', 'opus'));
});

test('file: buffered writes reach the disk in order; close flushes and is idempotent; a frame too big for a chunk still fits', async () => {
  const dir = join(tmp(), 'nested', 'dir'); // created like Janus does
  const f = new MjrFile(join(dir, 'a.mjr'), { media: 'video', codec: 'vp8' }, { flushMs: 5 });
  const big = Buffer.alloc(1400, 7);
  for (let i = 0; i < 2000; i++) f.writeRtp(rtp(96, i, i * 3000, 5, big), 1412);
  f.writeRtp(rtp(96, 2000, 2000 * 3000, 5, Buffer.alloc(65_000, 1)), 65_012);
  assert.equal(await f.ready(), true);
  await f.close();
  await f.close();
  const m = readMjr(join(dir, 'a.mjr'));
  assert.equal(m.frames.length, 2001);
  assert.deepEqual(m.frames.slice(0, 3).map((x) => x.bytes.readUInt16BE(2)), [1, 2, 3]);
  assert.equal(m.frames[2000]!.bytes.length, 65_012);
  assert.equal(f.dropped, 0);
  assert.equal(f.written, readFileSync(join(dir, 'a.mjr')).length);
  f.writeRtp(rtp(96, 1, 1, 5, big), 1412);
  assert.equal(f.dropped, 1, 'writes after close are dropped, not thrown');
});

test('file: an unusable folder is reported once through onError, frames are dropped, nothing throws', async () => {
  const base = tmp();
  writeFileSync(join(base, 'notadir'), 'x');
  const errors: Error[] = [];
  const f = new MjrFile(join(base, 'notadir', 'sub', 'x.mjr'), { media: 'audio', codec: 'opus' }, { onError: (e) => errors.push(e) });
  f.writeRtp(rtp(111, 1, 960, 1, Buffer.from('x')), 13);
  assert.equal(await f.ready(), false);
  f.writeRtp(rtp(111, 2, 1920, 1, Buffer.from('y')), 13);
  await f.close();
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /ENOTDIR|EEXIST/);
  assert.equal(f.failed || f.error !== null, true);
  assert.ok(f.dropped >= 1);
  assert.equal(existsSync(join(base, 'notadir', 'sub')), false);
});

test('janus-pp-rec accepts our Opus recording and writes an Ogg/Opus file of the right duration', { timeout: 600_000 }, async () => {
  const pp = janusPpRec();
  const dir = tmp();
  const path = join(dir, 'opus.mjr');
  const f = new MjrFile(path, { media: 'audio', codec: 'opus' });
  // 100 packets of 20 ms: 2 s of audio. TOC 0xf8 = CELT fullband 20 ms, one frame.
  for (let i = 0; i < 100; i++) f.writeRtp(rtp(111, 5000 + i, 123_456 + i * 960, 0x1234, Buffer.from([0xf8, 0xff, 0xfe])), 15);
  await f.close();
  const header = spawnSync(pp, ['--header', path], { encoding: 'utf8' });
  assert.equal(header.status, 0, header.stderr + header.stdout);
  const out = join(dir, 'opus.opus');
  const r = spawnSync(pp, [path, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.doesNotMatch(r.stdout + r.stderr, /\[ERR\]|Invalid|error/i);
  const pages = oggPages(readFileSync(out));
  assert.equal(pages[0]!.firstPacket.subarray(0, 8).toString('latin1'), 'OpusHead');
  assert.equal(pages[1]!.firstPacket.subarray(0, 8).toString('latin1'), 'OpusTags');
  const last = pages.at(-1)!.granule;
  const seconds = Number(last) / 48000;
  assert.ok(Math.abs(seconds - 2) <= 0.05, `duration ${seconds}s`);
});
