/**
 * Child process for record.test.ts (not a test itself): an AudioBridge room recording its mix with the
 * real mixer clock, one participant sending a 440 Hz Opus tone. Prints "recording <bytes>" lines as the
 * WAV grows; the parent kills it with SIGKILL mid-recording.
 *   node record-child.js <dir> <sampling_rate>
 */
import { createOpusEncoder } from '../../../src/codecs/opus.js';
import { realScheduler } from '../../../src/plugins/audiobridge/mixer.js';
import { audioStream, joinWithMedia, makeHarness, rtpPacket } from './harness.js';
import { toneFrame } from './net.js';

const dir = process.argv[2]!;
const rate = Number(process.argv[3] ?? 16000);
const config = `general: {\n}\nroom-42: {\n\tsampling_rate = ${rate}\n\trecord = true\n\trecord_file = "mix.wav"\n\trecord_dir = "${dir}"\n}\n`;
const h = await makeHarness(config, { scheduler: realScheduler });
const { s } = await joinWithMedia(h, 42, 'A');
const enc = createOpusEncoder({ sampleRate: 48000, channels: 1 });
let f = 0;
const t0 = performance.now();
setInterval(() => {
  const due = Math.floor((performance.now() - t0) / 20) + 1;
  for (; f < due; f++) h.plugin.incomingRtp(s, audioStream(), rtpPacket({ pt: 111, seq: f, ts: f * 960, ssrc: 1111, payload: enc.encode(toneFrame(440, 48000, f)) }));
}, 10);
setInterval(() => console.log(`recording ${h.plugin.getRoom(42)?.recorder?.bytes ?? -1}`), 200);
