/**
 * AudioBridge mixing benchmark, Portunus vs Janus 1.1.2, like for like (run on demand, never in tests):
 *   npx tsc -p tsconfig.json --outDir dist-rtp --tsBuildInfoFile dist-rtp/.tsbuildinfo
 *   node dist-rtp/bench/audiobridge-mix.js [--seconds 10] [--rates 16000,48000] [--sizes 10,50,100]
 *        [--talkers 3] [--modes shared,own,main] [--inprocess] [--frames 300]
 *
 * For each sampling rate and room size N, each gateway in turn (a fresh process per measurement, started
 * on the same generated configs folder content, test/helpers/media-server.ts): a room created over the
 * Janus API with `allow_rtp_participants` and `audiolevel_ext: false`, N plain-RTP participants joined
 * with `rtp: {ip, port, payload_type: 111}`, each a UDP socket of this process that sends 50 Opus
 * packets/s to the port of its joined event (k talkers send a tone, the others Opus-encoded silence;
 * 48 kHz mono, libopus defaults) and counts the mix packets it gets back. Measured over `--seconds`
 * after a 2 s warm-up: the gateway's CPU time (utime + stime of the whole process, all threads, from
 * /proc/<pid>/stat) and the share of participants that received >= 98 % of the 50 packets/s mix.
 * Participants per core = N / (CPU cores used). Same load client, same codec settings, same packets for
 * both: the only difference is the server.
 *
 * Portunus modes (`--modes`): `shared` = the default configuration (AudioBridge in its media worker
 * thread, one shared encoder for listeners who are not talking), `own` = `shared_encoder = false` (every
 * listener its own encoder, as Janus does), `main` = `media_worker = false` (in the main thread, shared
 * encoder). The ratio printed is Portunus participants per core / Janus participants per core.
 *
 * `--inprocess` also runs the older plugin-only measurement (no sockets: incomingRtp + mix + encode with a
 * host that drops the packets, `--frames` ticks), and the Opus codec micro-benchmark is always printed.
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

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : def;
}
const FRAMES = Number(arg('frames', '300'));
const SECONDS = Number(arg('seconds', '10'));
const RATES = arg('rates', '16000,48000').split(',').map(Number);
const SIZES = arg('sizes', '10,50,100').split(',').map(Number);
const TALKERS = Number(arg('talkers', '3'));
const MODES = arg('modes', 'shared,own').split(',') as PortunusMode[];
const IN_PROCESS = process.argv.includes('--inprocess');
type PortunusMode = 'shared' | 'own' | 'main';

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

// ------------------------------------------------------------------------------------------ the real Janus

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}
const CLK_TCK = 100;

async function gatewayRoomBench(gw: MediaGateway, n: number, talkers: number, rate: number): Promise<Result> {
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
    if (cd['audiobridge'] !== 'created') throw new Error(`create: ${JSON.stringify(cd)}`);
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
      if (d['audiobridge'] !== 'joined' || !rtp) throw new Error(`join: ${JSON.stringify(d)}`);
      targets.push({ ip: rtp['ip'] as string, port: rtp['port'] as number });
    }
    // What each participant sends: talkers a tone, the others Opus silence (as the in-process bench).
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
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
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
    const delivered = rates.reduce((a, x) => a + Math.min(1, x), 0) / n;
    return { cores, keptUp, delivered, perCore: Math.floor(n / Math.max(cores, 1e-6)) };
  } finally {
    clearInterval(keep);
    sockets.forEach((s) => s.close());
    await ws.close();
  }
}

function portunusJcfg(mode: PortunusMode): string {
  const general = mode === 'own' ? '  shared_encoder = false\n' : mode === 'main' ? '  media_worker = false\n' : '';
  return `general: {\n${general}}\n`;
}

function startGateway(kind: 'janus' | PortunusMode): Promise<MediaGateway> {
  // A fresh process per measurement: Janus 1.1.2 sometimes stops answering plain-RTP joins after a room
  // with many of them was destroyed in the same process.
  if (kind === 'janus') return startMediaGateway('janus', ['audiobridge']);
  return startMediaGateway('portunus', ['audiobridge'], { audiobridge: portunusJcfg(kind) });
}

/** CPU cores used, share of participants kept up, mean share of the mix packets delivered, participants per core. */
type Result = { cores: number; keptUp: number; delivered: number; perCore: number };

/** Up to 3 attempts, each on a fresh process: Janus 1.1.2 now and then never answers a plain-RTP join. */
async function measure(kind: 'janus' | PortunusMode, n: number, k: number, rate: number): Promise<Result | string> {
  let last = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    let gw: MediaGateway | undefined;
    try {
      gw = await startGateway(kind);
      return await gatewayRoomBench(gw, n, k, rate);
    } catch (err) {
      last = `failed: ${(err as Error).message.slice(0, 60)}`;
      console.log(`  (${kind} N=${n} attempt ${attempt} ${last})`);
    } finally {
      await gw?.stop();
    }
  }
  return last;
}

const fmtResult = (r: Result | string): string =>
  typeof r === 'string' ? 'failed'.padEnd(27) : `${r.cores.toFixed(3).padStart(6)} ${`${(r.keptUp * 100).toFixed(0)}%`.padStart(5)} ${`${(r.delivered * 100).toFixed(1)}%`.padStart(6)} ${String(r.perCore).padStart(6)}`;

async function gatewaysBench(): Promise<void> {
  const haveJanus = existsSync('/usr/bin/janus');
  if (!haveJanus) console.log('\n(the real Janus is not installed: apt-get install janus to compare; Portunus only)');
  const kinds: Array<'janus' | PortunusMode> = [...(haveJanus ? (['janus'] as const) : []), ...MODES];
  for (const rate of RATES) {
    console.log(`\nPlain-RTP participants at ${rate / 1000} kHz, ${TALKERS} talking, ${SECONDS} s measured; per gateway: CPU cores used, participants kept up (>= 98 % of the mix), mix packets delivered, participants per core`);
    console.log(`    N | ${kinds.map((x) => (x === 'janus' ? 'Janus 1.1.2' : `Portunus ${x}`).padEnd(27)).join(' | ')} | ratio Portunus/Janus per core`);
    for (const n of SIZES) {
      const row = new Map<string, Result | string>();
      for (const kind of kinds) row.set(kind, await measure(kind, n, TALKERS, rate));
      const j = row.get('janus');
      const ratios = MODES.map((m) => {
        const p = row.get(m);
        // A gateway that fell behind (not every participant got its mix) used less CPU than the load needs:
        // its figure flatters it, so the ratio is flagged.
        const behind = typeof p === 'object' && typeof j === 'object' && (p.keptUp < 1 || j.keptUp < 1) ? ' (behind)' : '';
        return typeof p === 'object' && typeof j === 'object' ? `${m} x${(p.perCore / j.perCore).toFixed(2)}${behind}` : `${m} -`;
      });
      console.log(`  ${String(n).padStart(3)} | ${kinds.map((x) => fmtResult(row.get(x)!).padEnd(27)).join(' | ')} | ${ratios.join('  ')}`);
      if (process.env['BENCH_JSON']) console.log(JSON.stringify({ rate, n, talkers: TALKERS, ...Object.fromEntries(row) }));
    }
  }
}

async function main(): Promise<void> {
  console.log('Opus (opus-encdec wasm, complexity 4, 20 ms mono frames):');
  for (const rate of [16000, 48000] as const) {
    const r = codecBench(rate);
    console.log(`  ${rate / 1000} kHz: encode ${r.enc.toFixed(1)} µs/frame, decode ${r.dec.toFixed(1)} µs/frame`);
  }
  if (IN_PROCESS) {
    for (const rate of RATES) {
      console.log(`\nIn-process room mixing at ${rate / 1000} kHz (incomingRtp + jitter buffer + decode + mix + encode + RTP, no sockets), ${FRAMES} frames:`);
      console.log('   N  talkers | shared encoder: µs/tick  participants/core | own encoders: µs/tick  participants/core | gain');
      for (const n of SIZES) {
        for (const k of [1, TALKERS]) {
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
  await gatewaysBench();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
