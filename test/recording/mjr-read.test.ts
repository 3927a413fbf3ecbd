/** Reading .mjr files back (Record&Play's playout index) and the .nfo files that list recordings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexMjr, MjrReadError, readMjrIndex } from '../../src/recording/mjr-read.js';
import { MjrFile } from '../../src/recording/mjr.js';
import { parseNfo, writeNfoText } from '../../src/plugins/recordplay/library.js';
import { rtpPacket } from '../plugins/videoroom/media-helpers.js';

test('our own recording indexes back: header, frame count, timestamps ordered even when written out of order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mjr-read-'));
  try {
    const f = new MjrFile(join(dir, 'v.mjr'), { media: 'video', codec: 'vp9', fmtp: 'profile-id=0' });
    for (const i of [0, 1, 3, 2, 4]) {
      const p = rtpPacket({ pt: 98, seq: 10 + i, ts: 1000 + i * 3000, ssrc: 5 });
      f.writeRtp(p, p.length);
    }
    await f.close();
    const idx = await readMjrIndex(join(dir, 'v.mjr'));
    assert.equal(idx.header.media, 'video');
    assert.equal(idx.header.codec, 'vp9');
    assert.equal(idx.header.fmtp, 'profile-id=0');
    assert.equal(idx.count, 5);
    const ts = Array.from(idx.timestamps);
    assert.deepEqual(ts, [...ts].sort((a, b) => a - b));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Debian's sample recording (old MEETECHO format) indexes", { skip: !safeExists('/usr/share/janus/recordings/rec-sample-video.mjr') }, async () => {
  const v = await readMjrIndex('/usr/share/janus/recordings/rec-sample-video.mjr');
  assert.equal(v.header.codec, 'vp8');
  assert.ok(v.count > 100);
  const a = await readMjrIndex('/usr/share/janus/recordings/rec-sample-audio.mjr');
  assert.equal(a.header.codec, 'opus');
  assert.ok(a.count > 100);
});

function safeExists(p: string): boolean {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
}

test('garbage is a MjrReadError or a shorter index, never a crash', () => {
  assert.throws(() => indexMjr(Buffer.from('hello')), MjrReadError);
  assert.throws(() => indexMjr(Buffer.from('MJR00002\x00\x05{bad}', 'latin1')), MjrReadError);
  assert.throws(() => indexMjr(Buffer.from('MJR00002\x00\x09{"t":"x"}', 'latin1')), MjrReadError);
  // A valid header, then a truncated frame and junk: the index stops there.
  const head = Buffer.from('{"t":"a","c":"opus","s":1,"u":2}');
  const hdr = Buffer.concat([Buffer.from('MJR00002', 'latin1'), Buffer.from([0, head.length]), head]);
  const frame = rtpPacket({ pt: 111, seq: 1, ts: 960, ssrc: 1 });
  const ok = Buffer.concat([Buffer.from('MEET', 'latin1'), Buffer.from([0, 0, 0, 0, 0, frame.length]), frame]);
  const idx = indexMjr(Buffer.concat([hdr, ok, Buffer.from('MEET\x00\x00\x00\x00\xff\xff', 'latin1'), Buffer.alloc(20, 7)]));
  assert.equal(idx.count, 1);
  for (let i = 0; i < 300; i++) {
    const junk = Buffer.concat([hdr, Buffer.from(Array.from({ length: (i * 7) % 97 }, (_, k) => (k * 31 + i) & 0xff))]);
    assert.doesNotThrow(() => indexMjr(junk));
  }
});

test('.nfo files: Janus\'s format round-trips; no section or junk gives null', () => {
  const text = writeNfoText({ id: 12, name: 'hello world', date: '2026-01-01 10:00:00', audio: 'a', video: null, data: 'd', audioCodec: null, audioFmtp: null, videoCodec: null, videoFmtp: null, opusredPt: 0, e2ee: false, completed: true });
  assert.equal(text, '[12]\r\nname = hello world\r\ndate = 2026-01-01 10:00:00\r\naudio = a.mjr\r\ndata = d.mjr\r\n');
  assert.deepEqual(parseNfo(text), { section: '12', items: Object.assign(Object.create(null), { name: 'hello world', date: '2026-01-01 10:00:00', audio: 'a.mjr', data: 'd.mjr' }) });
  assert.equal(parseNfo('name = x\n'), null);
  assert.equal(parseNfo(''), null);
  assert.equal(parseNfo('[1]\n__proto__ = x\n')!.items['__proto__'], 'x');
});
