/**
 * Recording of the room mix to WAV: the header is fixed up periodically, so the file is a valid WAV
 * even when the process is killed (kill -9 of a child process mid-recording), and holds the mix.
 * Also enable_recording on and off (header final at close, record_tmp_ext rename).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWav, WavRecorder } from '../../../src/plugins/audiobridge/recorder.js';
import { audioStream, joinWithMedia, makeHarness, rtpPacket } from './harness.js';
import { goertzelAmplitude } from './net.js';
import { createOpusEncoder } from '../../../src/codecs/opus.js';
import { toneFrame } from './net.js';

function samples(buf: Buffer, w: ReturnType<typeof parseWav>): Int16Array {
  const out = new Int16Array(w.dataBytes / 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(w.dataOffset + 2 * i);
  return out;
}

test('kill -9 mid-recording leaves a valid WAV (header fixed up each second) holding the mixed tone', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ab-rec-'));
  try {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./record-child.js', import.meta.url)), dir, '16000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, sig) => r(sig)));
    // Kill once the header on disk counts more than 2 s of audio (so at least two fix-ups happened;
    // on a loaded machine the mixer catches up in bursts, so the bytes written alone say less).
    const headerCount = (): number => {
      try {
        return parseWav(readFileSync(join(dir, 'mix.wav'))).dataBytes;
      } catch {
        return 0;
      }
    };
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child never recorded enough: ${out.slice(-300)} ${err.slice(-1000)}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = [...out.matchAll(/recording (-?\d+)/g)].pop();
        if (m && Number(m[1]) > 2.5 * 32000 && headerCount() >= 2 * 32000) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', 'the child was killed, not closed');
    const file = join(dir, 'mix.wav');
    const buf = readFileSync(file);
    const w = parseWav(buf);
    assert.deepEqual([w.sampleRate, w.channels, w.bits], [16000, 1, 16]);
    assert.ok(w.dataBytes >= 2 * 32000, `the header counts at least 2 s of audio (${w.dataBytes} bytes)`);
    assert.ok(w.dataOffset + w.dataBytes <= buf.length, 'the declared data is all on disk');
    assert.ok(buf.length - (w.dataOffset + w.dataBytes) <= 1.5 * 32000, `at most ~one fix-up interval past the header's count (${buf.length - w.dataOffset - w.dataBytes} bytes)`);
    assert.equal(w.dataBytes % 640, 0, 'whole 20 ms frames');
    // The mix is the participant's 440 Hz tone (the recording is the full mix, the sender included).
    const pcm = samples(buf, w).subarray(16000 / 2);
    const a440 = goertzelAmplitude(pcm, 16000, 440);
    assert.ok(a440 > 3000, `the recording holds the 440 Hz tone (amplitude ${a440.toFixed(0)})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('enable_recording on/off: file under record_dir/record_file, final header at stop; errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ab-rec2-'));
  try {
    const h = await makeHarness(`general: {\n\trecord_tmp_ext = "part"\n}\nroom-7: {\n\tsampling_rate = 48000\n\tsecret = "s"\n\tspatial_audio = true\n}\n`);
    const { s } = await joinWithMedia(h, 7, 'A');
    const admin = h.session();
    const bad = await h.send(admin, { request: 'enable_recording', room: 7, secret: 'x', record: true });
    assert.equal(bad.data['error_code'], 489);
    const missing = await h.send(admin, { request: 'enable_recording', room: 7, secret: 's' });
    assert.equal(missing.data['error_code'], 483);
    const on = await h.send(admin, { request: 'enable_recording', room: 7, secret: 's', record: true, record_dir: dir, record_file: 'r.wav' });
    assert.deepEqual(on.data, { audiobridge: 'success', record: true });
    assert.ok(existsSync(join(dir, 'r.wav.part')), 'written under the temporary extension while recording');
    const enc = createOpusEncoder({ sampleRate: 48000, channels: 1 });
    for (let f = 0; f < 50; f++) {
      h.plugin.incomingRtp(s, audioStream(), rtpPacket({ pt: 111, seq: f, ts: f * 960, ssrc: 1111, payload: enc.encode(toneFrame(660, 48000, f)) }));
      h.sched.advance(20);
    }
    const off = await h.send(admin, { request: 'enable_recording', room: 7, secret: 's', record: false });
    assert.deepEqual(off.data, { audiobridge: 'success', record: false });
    assert.ok(!existsSync(join(dir, 'r.wav.part')) && existsSync(join(dir, 'r.wav')), 'renamed at close');
    const buf = readFileSync(join(dir, 'r.wav'));
    const w = parseWav(buf);
    assert.deepEqual([w.sampleRate, w.channels], [48000, 2], 'spatial room: stereo');
    assert.equal(w.dataOffset + w.dataBytes, buf.length, 'final header counts everything');
    assert.equal(w.dataBytes, 50 * 960 * 2 * 2, '50 stereo frames');
    const list = await h.send(admin, { request: 'list' });
    assert.equal((list.data['list'] as Array<{ record: boolean }>)[0]!.record, false);
    // An unwritable directory: 499, recording stays off.
    const fail = await h.send(admin, { request: 'enable_recording', room: 7, secret: 's', record: true, record_dir: join(dir, 'nope', 'deeper') });
    assert.equal(fail.data['error_code'], 499);
    assert.equal(h.plugin.getRoom(7)!.recorder, null);
    h.plugin.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('WavRecorder: header sizes follow the data at each fix-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ab-rec3-'));
  try {
    let t = 0;
    const r = new WavRecorder({ path: join(dir, 'x.wav'), sampleRate: 8000, channels: 1, fixupMs: 100, now: () => t });
    const frame = new Int16Array(160).fill(1000);
    r.write(frame);
    assert.equal(parseWav(readFileSync(join(dir, 'x.wav'))).dataBytes, 0, 'not fixed up yet');
    t = 100;
    r.write(frame);
    assert.equal(parseWav(readFileSync(join(dir, 'x.wav'))).dataBytes, 640, 'fixed up after 100 ms');
    r.close();
    const buf = readFileSync(join(dir, 'x.wav'));
    assert.equal(buf.length, 44 + 640);
    assert.equal(buf.readUInt32LE(4), 36 + 640);
    assert.equal(buf.readInt16LE(44), 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
