/**
 * AudioBridge mixing benchmark (run on demand, never in tests):
 *   npx tsc -p tsconfig.json --outDir dist-ab --tsBuildInfoFile dist-ab/.tsbuildinfo
 *   node dist-ab/bench/audiobridge-mix.js [frames=300] [janusSeconds=10]
 * Prints µs per Opus encode/decode of a 20 ms frame (16/48 kHz mono, complexity 4), then for rooms of
 * N = 10, 50, 100 participants with k talkers: CPU µs per 20 ms mix tick (decode all, mix, encode, packetise)
 * and the resulting "participants mixed per core at 20 ms" = N × 20 ms / tick time, with the shared
 * encoder for non-talkers and without it (one encoder per listener, as Janus does).
 *
 * Then, in the same run, the real Janus 1.1.2 AudioBridge (when /usr/bin/janus is installed): a Janus
 * started on a generated configs folder, a room with `allow_rtp_participants`, N plain-RTP participants
 * (k talking, the others sending Opus silence, 50 packets/s each from this process), and Janus's CPU
 * time from /proc/<pid>/stat over `janusSeconds`. Janus "keeps up" when every participant receives
 * ≥ 98% of the 50 packets/s mix; its participants per core = N / (CPU cores used). Plain RTP (no SRTP)
 * on the Janus side and no network at all on the Portunus side: both figures are mixing cost (decode,
 * mix, encode, RTP), Janus's including its UDP I/O. The ratio printed is Portunus / Janus.
 */
import { createOpusDecoder, createOpusEncoder, type OpusSampleRate } from '../src/codecs/opus.js';
import type { PluginHost, PluginSession, RtpStreamInfo } from '../src/core/plugin.js';
import { defaultJanusConfig } from '../src/config/defaults.js';
import { Jcfg } from '../src/config/jcfg.js';
import type { Logger } from '../src/log.js';
import { AudioBridgePlugin } from '../src/plugins/audiobridge/plugin.js';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { WsClient, type JsonObject } from '../test/helpers/janus-client.js';
import { startMediaGateway, type MediaGateway } from '../test/helpers/media-server.js';
import type { Scheduler } from '../src/plugins/audiobridge/mixer.js';

const FRAMES = Number(process.argv[2] ?? 300);
const JANUS_SECONDS = Number(process.argv[3] ?? 10);

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
  // CPU time of this process (user + system), not wall time: the figure must not depend on what else
  // the machine runs (the Janus side is measured the same way, from /proc/<pid>/stat).
  const c0 = process.cpuUsage();
  for (let f = 60; f < 60 + FRAMES; f++) step(f);
  const c = process.cpuUsage(c0);
  const us = (c.user + c.system) / FRAMES;
  if (sent === 0) throw new Error("nothing was sent");
  plugin.destroy();
  return { us, perCore: Math.floor((n * 20000) / us) };
}

const portunusPerCore = new Map<string, { shared: number; own: number }>();

// ------------------------------------------------------------------------------------------ the real Janus

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}
const CLK_TCK = 100;

async function janusRoomBench(gw: MediaGateway, n: number, talkers: number, rate: number): Promise<{ cores: number; keptUp: number; perCore: number }> {
  const ws = await WsClient.connect(gw.wsUrl);
  const sockets: Socket[] = [];
  const keep = setInterval(() => undefined, 1000);
  try {
    const s = (await ws.request({ janus: 'create' }))['data'] as JsonObject;
    const session = s['id'] as number;
    const ka = setInterval(() => ws.sendRaw({ janus: 'keepalive', session_id: session, transaction: `k${Date.now()}` }), 15_000);
    const room = 5000 + n + rate / 1000;
    const h0 = ((await ws.request({ janus: 'attach', session_id: session, plugin: 'janus.plugin.audiobridge' }))['data'] as JsonObject)['id'] as number;
    const created = await ws.request({ janus: 'message', session_id: session, handle_id: h0, body: { request: 'create', room, sampling_rate: rate, allow_rtp_participants: true, audiolevel_ext: false } });
    const cd = ((created['plugindata'] as JsonObject)['data'] as JsonObject);
    if (cd['audiobridge'] !== 'created') throw new Error(`Janus create: ${JSON.stringify(cd)}`);
    const received = new Array<number>(n).fill(0);
    const targets: Array<{ ip: string; port: number }> = [];
    for (let i = 0; i < n; i++) {
      const sock = createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
      sock.on('message', () => void received[i]!++);
      sockets.push(sock);
      const h = ((await ws.request({ janus: 'attach', session_id: session, plugin: 'janus.plugin.audiobridge' }))['data'] as JsonObject)['id'] as number;
      const t = `j${i}-${Date.now()}`;
      const ack = ws.request({ janus: 'message', session_id: session, handle_id: h, transaction: t, body: { request: 'join', room, display: `p${i}`, rtp: { ip: '127.0.0.1', port: sock.address().port, payload_type: 111 } } });
      await ack;
      const ev = await ws.waitFor((m) => m['transaction'] === t && m['janus'] === 'event', 30_000, `join ${i}`);
      const d = (ev['plugindata'] as JsonObject)['data'] as JsonObject;
      const rtp = d['rtp'] as JsonObject | undefined;
      if (d['audiobridge'] !== 'joined' || !rtp) throw new Error(`Janus join: ${JSON.stringify(d)}`);
      targets.push({ ip: rtp['ip'] as string, port: rtp['port'] as number });
    }
    // What each participant sends (same as the Portunus bench): talkers a tone, the others Opus silence.
    const enc = createOpusEncoder({ sampleRate: 48000, channels: 1 });
    const talk = Array.from({ length: 50 }, (_, i) => enc.encode(tone(300 + 10 * i, 48000, i)));
    enc.destroy();
    const qenc = createOpusEncoder({ sampleRate: 48000, channels: 1 });
    const quietPkts = Array.from({ length: 50 }, () => qenc.encode(new Int16Array(960)));
    qenc.destroy();
    const ssrcs = targets.map((_, i) => 0x10000 + i);
    let f = 0;
    const t0 = performance.now();
    const send = (): void => {
      const due = Math.floor((performance.now() - t0) / 20);
      for (; f <= due; f++) {
        for (let i = 0; i < n; i++) {
          const payload = (i < talkers ? talk : quietPkts)[f % 50]!;
          const pkt = Buffer.alloc(12 + payload.length);
          pkt[0] = 0x80;
          pkt[1] = 111;
          pkt.writeUInt16BE(f & 0xffff, 2);
          pkt.writeUInt32BE((f * 960) >>> 0, 4);
          pkt.writeUInt32BE(ssrcs[i]!, 8);
          payload.copy(pkt, 12);
          sockets[i]!.send(pkt, targets[i]!.port, targets[i]!.ip);
        }
      }
    };
    const sender = setInterval(send, 5);
    await new Promise((r) => setTimeout(r, 2000)); // warm-up (jitter buffers fill, mixer settles)
    const c0 = cpuTicks(gw.pid);
    const r0 = [...received];
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, JANUS_SECONDS * 1000));
    const c1 = cpuTicks(gw.pid);
    const r1 = [...received];
    const w1 = performance.now();
    clearInterval(sender);
    clearInterval(ka);
    const secs = (w1 - w0) / 1000;
    const cores = (c1 - c0) / CLK_TCK / secs;
    const rates = r1.map((x, i) => (x - r0[i]!) / secs / 50);
    const keptUp = rates.filter((x) => x >= 0.98).length / n;
    await ws.request({ janus: 'message', session_id: session, handle_id: h0, body: { request: 'destroy', room } });
    await ws.request({ janus: 'destroy', session_id: session });
    return { cores, keptUp, perCore: Math.floor(n / Math.max(cores, 1e-6)) };
  } finally {
    clearInterval(keep);
    sockets.forEach((s) => s.close());
    await ws.close();
  }
}

async function janusBench(): Promise<void> {
  if (!existsSync('/usr/bin/janus')) {
    console.log('\n(the real Janus is not installed: apt-get install janus to compare)');
    return;
  }
  for (const rate of [16000, 48000]) {
    console.log(`\nReal Janus 1.1.2 AudioBridge at ${rate / 1000} kHz (plain-RTP participants, ${JANUS_SECONDS} s measured, CPU from /proc):`);
    console.log('   N  talkers | Janus CPU (cores)  kept up  participants/core | Portunus participants/core: shared / own encoders | ratio: shared  own');
    for (const n of [10, 50, 100]) {
      const k = 3;
      // A fresh Janus per measurement: 1.1.2 sometimes stops answering plain-RTP joins after a room
      // with many of them was destroyed in the same process.
      const gw = await startMediaGateway('janus', ['audiobridge']);
      let j;
      try {
        j = await janusRoomBench(gw, n, k, rate);
      } catch (err) {
        console.log(`  ${String(n).padStart(3)}  ${String(k).padStart(7)} | failed: ${(err as Error).message.slice(0, 200)}`);
        continue;
      } finally {
        await gw.stop();
      }
      const p = portunusPerCore.get(`${rate}/${n}/${k}`)!;
      console.log(
        `  ${String(n).padStart(3)}  ${String(k).padStart(7)} | ${j.cores.toFixed(3).padStart(17)}  ${(j.keptUp * 100).toFixed(0).padStart(6)}%  ${String(j.perCore).padStart(17)} | ${`${p.shared} / ${p.own}`.padStart(48)} | x${(p.shared / j.perCore).toFixed(2).padEnd(6)} x${(p.own / j.perCore).toFixed(2)}`,
      );
    }
  }
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
        portunusPerCore.set(`${rate}/${n}/${k}`, { shared: a.perCore, own: b.perCore });
        console.log(
          `  ${String(n).padStart(3)}  ${String(k).padStart(7)} | ${a.us.toFixed(0).padStart(22)}  ${String(a.perCore).padStart(17)} | ${b.us
            .toFixed(0)
            .padStart(20)}  ${String(b.perCore).padStart(17)} | x${(b.us / a.us).toFixed(1)}`,
        );
      }
    }
  }
  await janusBench();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
