/**
 * AudioBridge mixing benchmark (run on demand, never in tests):
 *   npx tsc -p tsconfig.json --outDir dist-ab --tsBuildInfoFile dist-ab/.tsbuildinfo
 *   node dist-ab/bench/audiobridge-mix.js [frames=300]
 * Prints µs per Opus encode/decode of a 20 ms frame (16/48 kHz mono, complexity 4), then for rooms of
 * N = 10, 50, 100 participants with k talkers: µs per 20 ms mix tick (decode all, mix, encode, packetise)
 * and the resulting "participants mixed per core at 20 ms" = N × 20 ms / tick time, with the shared
 * encoder for non-talkers and without it (one encoder per listener, as Janus does).
 */
import { createOpusDecoder, createOpusEncoder, type OpusSampleRate } from '../src/codecs/opus.js';
import type { PluginHost, PluginSession, RtpStreamInfo } from '../src/core/plugin.js';
import { defaultJanusConfig } from '../src/config/defaults.js';
import { Jcfg } from '../src/config/jcfg.js';
import type { Logger } from '../src/log.js';
import { AudioBridgePlugin } from '../src/plugins/audiobridge/plugin.js';
import type { Scheduler } from '../src/plugins/audiobridge/mixer.js';

const FRAMES = Number(process.argv[2] ?? 300);

function tone(freq: number, rate: number, frame: number, amp = 6000): Int16Array {
  const n = rate / 50;
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(amp * Math.sin((2 * Math.PI * freq * (frame * n + i)) / rate));
  return pcm;
}

function codecBench(rate: OpusSampleRate): { enc: number; dec: number } {
  const enc = createOpusEncoder({ sampleRate: rate, channels: 1, complexity: 4 });
  const dec = createOpusDecoder(rate, 1);
  const frames = Array.from({ length: 500 }, (_, i) => tone(440, rate, i));
  for (let i = 0; i < 2000; i++) dec.decode(enc.encode(frames[i % 500]!)); // warm-up (JIT tiers)
  const packets: Buffer[] = [];
  let t = performance.now();
  for (let i = 0; i < 3000; i++) packets.push(enc.encode(frames[i % 500]!));
  const e = ((performance.now() - t) * 1000) / 3000;
  t = performance.now();
  for (const p of packets) dec.decode(p);
  const d = ((performance.now() - t) * 1000) / 3000;
  enc.destroy();
  dec.destroy();
  return { enc: e, dec: d };
}

const quiet: Logger = (() => {
  const nop = (): void => {};
  const l: Logger = { fatal: nop, error: nop, warn: nop, info: nop, verb: nop, huge: nop, debug: nop, enabled: () => false, child: () => l };
  return l;
})();

const idle: Scheduler = { now: () => performance.now(), setTimeout: () => 0, clearTimeout: () => {} };

const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:Ab1c',
  'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  '',
].join('\r\n');

async function roomBench(n: number, talkers: number, shared: boolean, rate: number): Promise<{ us: number; perCore: number }> {
  let sent = 0;
  const host: PluginHost = {
    pushEvent: () => true,
    closePeerConnection: () => {},
    endSession: () => {},
    isTokenValidForPlugin: () => true,
    sendRtp: () => {
      sent++;
    },
  };
  const config = Jcfg.fromText(`room-1: {\n\tsampling_rate = ${rate}\n}\n`, '/tmp/ab-bench.jcfg');
  const plugin = new AudioBridgePlugin({ scheduler: idle, sharedEncoder: shared, log: quiet });
  await plugin.init({ config, configsFolder: '/tmp', gateway: defaultJanusConfig(), host, log: quiet });
  const sessions: PluginSession[] = [];
  for (let i = 0; i < n; i++) {
    const s: PluginSession = { handleId: i + 1, sessionId: 1, opaqueId: null, token: null, state: undefined, alive: true };
    plugin.createSession(s);
    await plugin.handleMessage(s, `j${i}`, { request: 'join', room: 1 }, null);
    await plugin.handleMessage(s, `c${i}`, { request: 'configure' }, { type: 'offer', sdp: OFFER });
    sessions.push(s);
  }
  await new Promise((r) => setTimeout(r, 50)); // let the async queue finish
  sessions.forEach((s) => plugin.setupMedia(s));
  // What each participant sends: talkers a tone, the others (near-)silence, all encoded like a browser would.
  const enc = createOpusEncoder({ sampleRate: 48000, channels: 1 });
  const talk = Array.from({ length: 50 }, (_, i) => enc.encode(tone(300 + 10 * i, 48000, i)));
  enc.destroy();
  // A separate encoder: silence frames right after a tone would still carry its tail.
  const qenc = createOpusEncoder({ sampleRate: 48000, channels: 1 });
  const quietPkts = Array.from({ length: 50 }, () => qenc.encode(new Int16Array(960)));
  qenc.destroy();
  const streams: RtpStreamInfo[] = sessions.map((_, i) => ({ mid: '0', mindex: 0, kind: 'audio', ssrc: 1000 + i, substream: 0, rid: undefined }));
  const room = plugin.getRoom(1)!;
  const pkt = Buffer.alloc(1500);
  const step = (f: number): void => {
    for (let i = 0; i < n; i++) {
      const payload = (i < talkers ? talk : quietPkts)[f % 50]!;
      pkt[0] = 0x80;
      pkt[1] = 111;
      pkt.writeUInt16BE(f & 0xffff, 2);
      pkt.writeUInt32BE((f * 960) >>> 0, 4);
      pkt.writeUInt32BE(1000 + i, 8);
      payload.copy(pkt, 12);
      plugin.incomingRtp(sessions[i]!, streams[i]!, pkt, 12 + payload.length);
    }
    room.tick();
  };
  for (let f = 0; f < 60; f++) step(f); // warm-up
  const t = performance.now();
  for (let f = 60; f < 60 + FRAMES; f++) step(f);
  const us = ((performance.now() - t) * 1000) / FRAMES;
  if (sent === 0) throw new Error("nothing was sent");
  plugin.destroy();
  return { us, perCore: Math.floor((n * 20000) / us) };
}

async function main(): Promise<void> {
  console.log('Opus (opus-encdec wasm, complexity 4, 20 ms mono frames):');
  for (const rate of [16000, 48000] as const) {
    const r = codecBench(rate);
    console.log(`  ${rate / 1000} kHz: encode ${r.enc.toFixed(1)} µs/frame, decode ${r.dec.toFixed(1)} µs/frame`);
  }
  for (const rate of [16000, 48000]) {
    console.log(`\nRoom mixing at ${rate / 1000} kHz (incomingRtp + jitter buffer + decode + mix + encode + RTP), ${FRAMES} frames:`);
    console.log('   N  talkers | shared encoder: µs/tick  participants/core | own encoders: µs/tick  participants/core | gain');
    for (const n of [10, 50, 100]) {
      for (const k of [1, 3]) {
        const a = await roomBench(n, k, true, rate);
        const b = await roomBench(n, k, false, rate);
        console.log(
          `  ${String(n).padStart(3)}  ${String(k).padStart(7)} | ${a.us.toFixed(0).padStart(22)}  ${String(a.perCore).padStart(17)} | ${b.us
            .toFixed(0)
            .padStart(20)}  ${String(b.perCore).padStart(17)} | x${(b.us / a.us).toFixed(1)}`,
        );
      }
    }
  }
}

void main();
