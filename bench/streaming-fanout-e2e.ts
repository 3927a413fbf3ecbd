/**
 * Streaming fan-out benchmark through the WHOLE server (run on demand, never in tests): one rtp
 * mountpoint fed with ~1.5 Mbps of VP8-like RTP plus Opus-like audio from this process, N viewers with
 * real PeerConnections (ICE, DTLS-SRTP), against Portunus AND the real Janus 1.1.2 with the same
 * generated configs folder content.
 *
 *   npx tsc -p tsconfig.json --outDir dist-st --tsBuildInfoFile dist-st/.tsbuildinfo
 *   node dist-st/bench/streaming-fanout-e2e.js [--viewers 20] [--kbps 1500] [--seconds 10] [--warmup 3]
 *        [--only portunus|janus] [--json]
 *
 * Viewers count the RTP datagrams that reach their socket and drop them before SRTP (the load side
 * stays cheap; what is counted is exactly what the server sent). Measured over `--seconds`:
 *  - server CPU µs per forwarded packet = (utime + stime of every thread) / packets received by all viewers;
 *  - viewers per core = 1 s of CPU / (µs per packet × packets per second one viewer gets);
 *  - loss = 1 - received / (viewers × packets sent) in the window.
 */
import { parseArgs } from 'node:util';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCandidates } from '../src/media/candidates.js';
import { generateCertificate } from '../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import { Peer } from '../src/media/peer.js';
import { buildAnswer, type AnswerOptions } from '../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../src/media/sdp/jsep.js';
import { parseSdp } from '../src/media/sdp/parse.js';
import { writeSdp } from '../src/media/sdp/write.js';
import { clientPeerConfig } from '../test/helpers/client-peer-config.js';
import { pollUntil, postJson } from '../test/helpers/janus-client.js';
import { makeMediaConfigsFolder, type GatewayKind } from '../test/helpers/media-server.js';
import { startJanusOnFolder } from '../test/helpers/janus-ref.js';
import { startPortunusOnFolder } from '../test/helpers/portunus.js';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '20' },
    kbps: { type: 'string', default: '1500' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.viewers);
const KBPS = Number(values.kbps);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const SIZE = 1100;
const FPS = 30;
const CLK_TCK = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cert = generateCertificate();
const allocator = new UdpPortAllocator({ range: { min: 48000, max: 48999 } });

class CountingSocket extends EventEmitter {
  rtp = 0;
  constructor(readonly real: Socket) {
    super();
    real.on('message', (m: Buffer, r: RemoteInfo) => {
      const b0 = m[0]!;
      if (b0 >= 128 && b0 < 192 && m.length >= 12) {
        const pt = m[1]! & 0x7f;
        if (pt < 64 || pt > 95) {
          this.rtp++;
          return;
        }
      }
      this.emit('message', m, r);
    });
  }
  send(...args: unknown[]): void {
    (this.real.send as (...a: unknown[]) => void)(...args);
  }
  getSendQueueCount(): number {
    return this.real.getSendQueueCount();
  }
  close(): void {
    this.real.close();
  }
}

/** System-wide UDP receive-buffer drops: kernel drops at ANY socket of this machine. */
function rcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const h = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[h.indexOf('RcvbufErrors')]);
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** The source: VP8-like frames (keyframe every second) split into SIZE-byte packets, and 50 audio packets/s. */
function startSender(audioPort: number, videoPort: number): { sent: () => number; stop: () => void } {
  const s = createSocket('udp4');
  const bytesPerFrame = (KBPS * 1000) / 8 / FPS;
  const perFrame = Math.max(1, Math.round(bytesPerFrame / SIZE));
  let vseq = 0;
  let aseq = 0;
  let frame = 0;
  let audio = 0;
  let count = 0;
  const t0 = performance.now();
  const pkt = (pt: number, seq: number, ts: number, ssrc: number, size: number, marker: boolean, first: boolean, key: boolean): Buffer => {
    const b = Buffer.alloc(12 + size, 0x5a);
    b[0] = 0x80;
    b[1] = pt | (marker ? 0x80 : 0);
    b.writeUInt16BE(seq & 0xffff, 2);
    b.writeUInt32BE(ts >>> 0, 4);
    b.writeUInt32BE(ssrc, 8);
    if (pt === 100) {
      b[12] = first ? 0x10 : 0x00;
      b[13] = key ? 0x00 : 0x01;
    }
    return b;
  };
  const timer = setInterval(() => {
    const now = performance.now() - t0;
    while (frame * (1000 / FPS) <= now) {
      const key = frame % FPS === 0;
      for (let i = 0; i < perFrame; i++) {
        s.send(pkt(100, vseq++, frame * 3000, 0xabc, SIZE, i === perFrame - 1, i === 0, key), videoPort, '127.0.0.1');
        count++;
      }
      frame++;
    }
    while (audio * 20 <= now) {
      s.send(pkt(111, aseq++, audio * 960, 0xdef, 100, false, false, false), audioPort, '127.0.0.1');
      audio++;
      count++;
    }
  }, 5);
  return { sent: () => count, stop: () => (clearInterval(timer), s.close()) };
}

interface Viewer {
  peer: Peer;
  socket: CountingSocket;
  up: boolean;
}

async function watch(httpUrl: string, address: string): Promise<Viewer> {
  const sock = await allocator.allocate(address);
  try {
    sock.socket.setRecvBufferSize(4 << 20);
  } catch {
    /* default */
  }
  const socket = new CountingSocket(sock.socket);
  const candidates = await LocalCandidates.create({ enforceList: [address] });
  const v: Viewer = { peer: undefined as unknown as Peer, socket, up: false };
  v.peer = new Peer(0, socket as unknown as Socket, sock.port, candidates.hostCandidates(sock.port)!, clientPeerConfig(cert), {
    webrtcUp: () => (v.up = true), mediaState: () => {}, slowLink: () => {}, iceFailed: () => {}, closed: () => {}, localCandidate: () => {},
  });
  v.peer.setSink({ incomingRtp: () => {}, incomingRtcp: () => {}, incomingData: () => {}, dataReady: () => {} });
  const s = ((await postJson(httpUrl, { janus: 'create', transaction: 'c' })).data as { id: number }).id;
  const h = ((await postJson(`${httpUrl}/${s}`, { janus: 'attach', plugin: 'janus.plugin.streaming', transaction: 'a' })).data as { id: number }).id;
  await postJson(`${httpUrl}/${s}/${h}`, { janus: 'message', transaction: 'w', body: { request: 'watch', id: 1 } });
  const evs = await pollUntil(httpUrl, s, (e) => e.jsep !== undefined, 20_000);
  const offer = parseSdp((evs[evs.length - 1]!.jsep as { sdp: string }).sdp);
  v.peer.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
  const { description } = buildAnswer(offer, (m): AnswerOptions =>
    m.kind === 'video' ? { codecs: ['vp8'], direction: 'recvonly', rtx: false, simulcast: false } : m.kind === 'audio' ? { codecs: ['opus'], direction: 'recvonly' } : { accept: false },
  );
  const answer = v.peer.setLocalDescription(writeSdp(description), 'answer');
  await postJson(`${httpUrl}/${s}/${h}`, { janus: 'message', transaction: 's', body: { request: 'start' }, jsep: { type: 'answer', sdp: answer } });
  // keep the session alive past the benchmark
  setInterval(() => void postJson(httpUrl, { janus: 'keepalive', session_id: s, transaction: 'k' }).catch(() => undefined), 20_000).unref();
  return v;
}

async function runOne(kind: GatewayKind): Promise<Record<string, unknown>> {
  const conf = await makeMediaConfigsFolder(`bench-st-${kind}`, ['streaming']);
  const jcfg = join(conf.dir, 'janus.jcfg');
  writeFileSync(jcfg, readFileSync(jcfg, 'utf8').replace('debug_level = 4', 'debug_level = 3').replace(conf.rtpPortRange, '22000-22999'));
  const srv = kind === 'janus' ? await startJanusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret) : await startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret);
  const viewers: Viewer[] = [];
  let sender: ReturnType<typeof startSender> | undefined;
  try {
    const s = ((await postJson(srv.httpUrl, { janus: 'create', transaction: 'c' })).data as { id: number }).id;
    const h = ((await postJson(`${srv.httpUrl}/${s}`, { janus: 'attach', plugin: 'janus.plugin.streaming', transaction: 'a' })).data as { id: number }).id;
    const info = await postJson(`${srv.httpUrl}/${s}/${h}`, { janus: 'message', transaction: 'i', body: { request: 'info', id: 1, secret: 'adminpwd' } });
    const [audioPort, videoPort] = (info.plugindata as { data: { info: { media: Array<{ port: number }> } } }).data.info.media.map((m) => m.port);
    sender = startSender(audioPort!, videoPort!);
    for (let i = 0; i < N; i++) viewers.push(await watch(srv.httpUrl, conf.address.address));
    const end = Date.now() + 30_000;
    while (viewers.some((v) => !v.up) && Date.now() < end) await sleep(100);
    await sleep(WARMUP * 1000);
    const c0 = cpuTicks(srv.pid);
    const r0 = viewers.reduce((n, v) => n + v.socket.rtp, 0);
    const each0 = viewers.map((v) => v.socket.rtp);
    const k0 = rcvbufErrors();
    const s0 = sender.sent();
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const c1 = cpuTicks(srv.pid);
    const r1 = viewers.reduce((n, v) => n + v.socket.rtp, 0);
    const s1 = sender.sent();
    const dt = (performance.now() - t0) / 1000;
    const each = viewers.map((v, i) => v.socket.rtp - each0[i]!);
    const kernelDrops = rcvbufErrors() - k0;
    const got = r1 - r0;
    const want = (s1 - s0) * N;
    const cpuUs = ((c1 - c0) / CLK_TCK) * 1e6;
    const usPerPacket = cpuUs / Math.max(1, got);
    const perViewerPps = (s1 - s0) / dt;
    return {
      gateway: kind,
      viewers: N,
      up: viewers.filter((v) => v.up).length,
      source_packets_per_s: Math.round(perViewerPps),
      forwarded_per_s: Math.round(got / dt),
      server_cpu_percent: Math.round((cpuUs / 1e6 / dt) * 1000) / 10,
      server_cpu_us_per_forward: Math.round(usPerPacket * 100) / 100,
      viewers_per_core: Math.round(1e6 / (usPerPacket * perViewerPps)),
      loss_percent: Math.round((1 - got / Math.max(1, want)) * 10000) / 100,
      per_viewer_min: Math.min(...each),
      per_viewer_max: Math.max(...each),
      kernel_rcvbuf_drops: kernelDrops,
    };
  } finally {
    sender?.stop();
    for (const v of viewers) v.peer.close();
    await srv.stop();
    conf.remove();
  }
}

async function main(): Promise<void> {
  const kinds: GatewayKind[] = values.only ? [values.only as GatewayKind] : ['portunus', 'janus'];
  const results: Record<string, unknown>[] = [];
  for (const k of kinds) results.push(await runOne(k));
  if (values.json) console.log(JSON.stringify(results));
  else for (const r of results) console.log(Object.entries(r).map(([k, v]) => `${k}=${String(v)}`).join(' '));
  const p = results.find((r) => r.gateway === 'portunus');
  const j = results.find((r) => r.gateway === 'janus');
  if (p && j) console.log(`ratio (Portunus / Janus CPU per forwarded packet): ${(Number(p.server_cpu_us_per_forward) / Number(j.server_cpu_us_per_forward)).toFixed(2)}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
