import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOpusDecoder, createOpusEncoder, opusInstanceCount, OpusError, type OpusSampleRate } from '../../src/codecs/opus.js';
import { g711Decode, g711Encode, linearToAlaw, linearToUlaw, resampleFrame } from '../../src/codecs/g711.js';
import { concat, goertzel, rms, toneFrames } from './signal.js';

function encodeTone(rate: OpusSampleRate, freq: number, frames: number, opts: { fec?: boolean; loss?: number } = {}): Buffer[] {
  const enc = createOpusEncoder({ sampleRate: rate, channels: 1, complexity: 4, fec: opts.fec ?? false, expectedLoss: opts.loss ?? 0 });
  const out = toneFrames(freq, rate, frames).map((f) => enc.encode(f));
  enc.destroy();
  return out;
}

for (const rate of [16000, 48000] as const) {
  test(`opus ${rate} Hz: a 440 Hz tone survives encode/decode`, () => {
    const packets = encodeTone(rate, 440, 50);
    assert.ok(packets.every((p) => p.length > 2 && p.length < 400));
    const dec = createOpusDecoder(rate, 1);
    const pcm = concat(packets.map((p) => dec.decode(p)));
    dec.destroy();
    assert.equal(pcm.length, 50 * (rate / 50));
    const tail = 10 * (rate / 50);
    const a440 = goertzel(pcm, 440, rate, tail, pcm.length - tail);
    const a1000 = goertzel(pcm, 1000, rate, tail, pcm.length - tail);
    assert.ok(a440 > 5000, `440 Hz amplitude ${a440}`);
    assert.ok(a1000 < a440 / 20, `1000 Hz leak ${a1000}`);
  });

  test(`opus ${rate} Hz: PLC yields exactly one frame that continues the signal`, () => {
    const packets = encodeTone(rate, 440, 30);
    const dec = createOpusDecoder(rate, 1);
    for (let i = 0; i < 20; i++) dec.decode(packets[i]!);
    const plc = dec.decode(null);
    assert.equal(plc.length, rate / 50);
    assert.ok(goertzel(plc, 440, rate) > 1000, 'concealment keeps the tone going');
    // A second concealed frame is still exactly one frame long.
    assert.equal(dec.decode(null).length, rate / 50);
    // Decoding resumes normally afterwards.
    assert.equal(dec.decode(packets[22]!).length, rate / 50);
    dec.destroy();
  });

  test(`opus ${rate} Hz: in-band FEC from the next packet recovers a lost frame better than PLC`, () => {
    const frames = toneFrames(440, rate, 60).map((f, i) => {
      // Vary the signal so PLC cannot just extrapolate it: a second tone switches on at frame 30.
      const g = toneFrames(1300, rate, 60)[i]!;
      return f.map((v, k) => v + (i >= 30 ? g[k]! : 0));
    });
    const enc = createOpusEncoder({ sampleRate: rate, channels: 1, complexity: 4, fec: true, expectedLoss: 20, bitrate: 32000 });
    const packets = frames.map((f) => enc.encode(f));
    enc.destroy();
    const lost = 31;
    const ref = createOpusDecoder(rate, 1);
    let reference!: Int16Array;
    packets.forEach((p, i) => {
      const d = ref.decode(p);
      if (i === lost) reference = d;
    });
    ref.destroy();
    const run = (useFec: boolean): Int16Array => {
      const dec = createOpusDecoder(rate, 1);
      for (let i = 0; i < lost; i++) dec.decode(packets[i]!);
      const out = useFec ? dec.decode(packets[lost + 1]!, true) : dec.decode(null);
      dec.destroy();
      return out;
    };
    const fec = run(true);
    const plc = run(false);
    assert.equal(fec.length, rate / 50);
    const err = (x: Int16Array): number => rms(x.map((v, i) => v - reference[i]!));
    const e1300fec = goertzel(fec, 1300, rate);
    assert.ok(err(fec) < err(plc) * 0.7, `FEC error ${err(fec).toFixed(0)} vs PLC ${err(plc).toFixed(0)}`);
    assert.ok(e1300fec > 2000, `FEC frame carries the new 1300 Hz tone (${e1300fec.toFixed(0)})`);
  });
}

test('opus: FEC request on a packet without FEC falls back to concealment of the right length', () => {
  const packets = encodeTone(16000, 440, 20, { fec: false });
  const dec = createOpusDecoder(16000, 1);
  for (let i = 0; i < 10; i++) dec.decode(packets[i]!);
  assert.equal(dec.decode(packets[11]!, true).length, 320);
  dec.destroy();
});

test('opus: stereo encoder round trip keeps channels apart', () => {
  const rate = 48000;
  const left = toneFrames(500, rate, 30);
  const enc = createOpusEncoder({ sampleRate: rate, channels: 2, bitrate: 64000 });
  const dec = createOpusDecoder(rate, 2);
  const outs = left.map((l) => {
    const st = new Int16Array(l.length * 2);
    for (let i = 0; i < l.length; i++) st[2 * i] = l[i]!; // right channel silent
    return dec.decode(enc.encode(st));
  });
  const pcm = concat(outs.slice(10));
  const L = pcm.filter((_, i) => i % 2 === 0);
  const R = pcm.filter((_, i) => i % 2 === 1);
  assert.ok(goertzel(L, 500, rate) > 10 * goertzel(R, 500, rate));
  enc.destroy();
  dec.destroy();
});

test('opus: hundreds of codec states spill over into new wasm instances', () => {
  const encs = Array.from({ length: 300 }, () => createOpusEncoder({ sampleRate: 48000, channels: 2 }));
  assert.ok(opusInstanceCount().encoder >= 2);
  const frame = new Int16Array(1920);
  assert.ok(encs[299]!.encode(frame).length > 0);
  encs.forEach((e) => e.destroy());
  assert.equal(opusInstanceCount().encoder, 1);
});

test('opus: invalid settings and use after destroy throw OpusError', () => {
  assert.throws(() => createOpusEncoder({ sampleRate: 44100 as OpusSampleRate, channels: 1 }), OpusError);
  const enc = createOpusEncoder({ sampleRate: 16000, channels: 1 });
  assert.throws(() => enc.encode(new Int16Array(100)), OpusError);
  enc.destroy();
  assert.throws(() => enc.encode(new Int16Array(320)), OpusError);
});

test('g711: known code points and round trip error', () => {
  assert.equal(linearToUlaw(0), 0xff);
  assert.equal(linearToAlaw(0), 0xd5);
  for (const law of ['pcmu', 'pcma'] as const) {
    const tone = toneFrames(440, 8000, 1, 10000)[0]!;
    const back = g711Decode(law, g711Encode(law, tone));
    const err = rms(back.map((v, i) => v - tone[i]!));
    assert.ok(err < 200, `${law} error ${err}`);
    assert.ok(goertzel(back, 440, 8000) > 9000);
  }
});

test('resampleFrame: 8k <-> 16k/48k keeps a tone', () => {
  const tone = toneFrames(300, 8000, 1, 10000)[0]!;
  const up = resampleFrame(tone, 8000, 48000);
  assert.equal(up.length, 960);
  assert.ok(goertzel(up, 300, 48000) > 9000);
  const down = resampleFrame(up, 48000, 8000);
  assert.equal(down.length, 160);
  assert.ok(goertzel(down, 300, 8000) > 9000);
});
