/**
 * EchoTest benchmark, end to end: server CPU microseconds per echoed RTP packet for Portunus and for
 * the real Janus 1.1.2 (/usr/bin/janus), measured in the same run with the same load client.
 *
 *   node dist/bench/echo.js [--peers 4] [--rate 500] [--seconds 10] [--warmup 3] [--size 1000] [--rounds 1] [--only portunus|janus] [--info]
 *        [--twcc] [--pacing on|off|both] [--idle 10] [--base /path/to/other/dist/src/main.js]
 *
 * Each server runs in its own process on a fresh configs folder (EchoTest only, an rtp_port_range
 * block of its own, ICE on this machine's non-loopback address), one after the other. The load client is
 * this process: `peers` PeerConnections made of our own media modules (the Peer class as an offering
 * client: audio + video, SRTP as negotiated) over the Janus API on WebSockets; it counts the echoed
 * packets without decrypting them, so that it stays cheaper than the servers it loads. Each
 * peer sends `rate` video packets per second of `size` bytes payload; the server decrypts, hands them
 * to its EchoTest, re-encrypts and sends them back. Over a fixed window after a warm-up we read the
 * server process's CPU time (/proc/<pid>/stat utime + stime) and count the echoed packets the
 * clients received: µs/packet = server CPU µs / echoed packets. Not a test: run on demand.
 *
 * `--twcc`: the clients offer transport-cc on video and their packets carry the transport-wide
 * element, so Portunus's EchoTest negotiates it: the core stamps what it echoes, estimates from the
 * clients' feedback and paces (src/media/cc/pacer.ts). The clients then pass every echoed packet
 * through their Peer (SRTP, transport-cc feedback): client CPU goes up, the server's is what counts.
 * `--pacing both` measures Portunus twice per round, with the pacer and with `PORTUNUS_PACING=0`
 * (`off`: only without, `on`: only with, the default).
 *
 * `--base M`: every Portunus variant is measured a second time with the build whose main.js is M
 * (PORTUNUS_MAIN; e.g. a copy of main's dist/), labelled "(base)", in the same rounds.
 *
 * `--idle S`: after the window the clients stop sending (the PeerConnections stay up) and, 3 s later,
 * the server's context switches (all threads: how often it woke up) and CPU are read over S seconds.
 * With transport-cc an estimator that keeps polling an idle PeerConnection shows there.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Socket } from 'node:dgram';
import WebSocket from 'ws';
import type { MediaSink } from '../src/core/media-plane.js';
import type { Logger } from '../src/log.js';
import { LocalCandidates } from '../src/media/candidates.js';
import { generateCertificate } from '../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import { Peer } from '../src/media/peer.js';
import { clientPeerConfig } from '../test/helpers/client-peer-config.js';
import { buildOffer, EXT, extmapsFor } from '../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../src/media/sdp/jsep.js';
import { parseSdp } from '../src/media/sdp/parse.js';
import { writeSdp } from '../src/media/sdp/write.js';
import { startMediaGateway, type GatewayKind, type MediaGateway } from '../test/helpers/media-server.js';

const { values } = parseArgs({
  options: {
    peers: { type: 'string', default: '4' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    size: { type: 'string', default: '1000' },
    only: { type: 'string' },
    info: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    twcc: { type: 'boolean', default: false },
    pacing: { type: 'string', default: 'on' },
    idle: { type: 'string', default: '0' },
    base: { type: 'string' },
  },
});
const TWCC = values.twcc;
const PEERS = Number(values.peers);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const SIZE = Number(values.size);
/** What one measurement runs: the gateway, its label, and (Portunus) whether it paces. */
interface Variant {
  kind: GatewayKind;
  label: string;
  pacing: boolean;
  /** --base: another build's dist/src/main.js (PORTUNUS_MAIN), measured in the same rounds. */
  main?: string;
}
const portunusVariants: Variant[] = (values.pacing === 'both' ? [true, false] : [values.pacing !== 'off']).map((pacing) => ({ kind: 'portunus', label: values.pacing === 'on' ? 'portunus' : pacing ? 'portunus paced' : 'portunus PORTUNUS_PACING=0', pacing }));
if (values.base !== undefined) portunusVariants.push(...portunusVariants.map((v) => ({ ...v, label: `${v.label} (base)`, main: values.base })));
const janusVariant: Variant = { kind: 'janus', label: 'janus', pacing: false };
const KINDS: Variant[] = values.only === 'janus' ? [janusVariant] : values.only === 'portunus' ? portunusVariants : [...portunusVariants, janusVariant];
const ownMain = process.env['PORTUNUS_MAIN'];

const quiet: Logger = { fatal() {}, error() {}, warn() {}, info() {}, verb() {}, huge() {}, debug() {}, enabled: () => false, child: () => quiet };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CLK_TCK = 100; // Linux USER_HZ

/** Context switches (voluntary + involuntary) of all of a process's threads. */
function processCtxSwitches(pid: number): number {
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      for (const m of st.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) n += Number(m[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return n;
}

/** utime + stime of a process, in µs. */
function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

/** A minimal Janus API client over WebSocket (janus-protocol). */
class JanusWs {
  private n = 0;
  private readonly waiting = new Map<string, (m: Record<string, unknown>) => void>();
  private readonly events: Array<Record<string, unknown>> = [];
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as Record<string, unknown>;
      const tx = m.transaction as string | undefined;
      if (m.janus === 'ack') return;
      if (tx !== undefined && this.waiting.has(tx)) {
        const f = this.waiting.get(tx)!;
        this.waiting.delete(tx);
        f(m);
      } else this.events.push(m);
    });
  }
  static open(url: string): Promise<JanusWs> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, 'janus-protocol');
      ws.once('open', () => resolve(new JanusWs(ws)));
      ws.once('error', reject);
    });
  }
  request(body: Record<string, unknown>, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const transaction = `b${++this.n}`;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to ${String(body.janus)}`)), timeoutMs);
      this.waiting.set(transaction, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      this.ws.send(JSON.stringify({ ...body, transaction }));
    });
  }
  send(body: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ ...body, transaction: `k${++this.n}` }));
  }
  close(): void {
    this.ws.close();
  }
}

interface LoadPeer {
  /** --twcc: sequence numbers seen (retransmissions of a packet count once). */
  seen: Uint8Array;
  peer: Peer;
  handle: number;
  received: number;
  up: boolean;
  ssrc: number;
}

const cert = generateCertificate();

async function connectPeer(api: JanusWs, session: number, address: string): Promise<LoadPeer> {
  const handle = ((await api.request({ janus: 'attach', session_id: session, plugin: 'janus.plugin.echotest' })).data as { id: number }).id;
  const alloc = await new UdpPortAllocator({ range: { min: 0, max: 0 }, address }).allocate();
  const candidates = await LocalCandidates.create({ enforceList: [address] });
  // --twcc: the clients do not pace (the same load reaches every variant).
  const cfg = clientPeerConfig(cert, TWCC ? { pacing: false } : {});
  const lp: LoadPeer = { seen: new Uint8Array(65536), peer: undefined as unknown as Peer, handle, received: 0, up: false, ssrc: 0x1000 + (handle % 0xffff) };
  lp.peer = new Peer(handle, alloc.socket as Socket, alloc.port, candidates.hostCandidates(alloc.port)!, cfg, {
    webrtcUp: () => (lp.up = true),
    mediaState: () => {},
    slowLink: () => {},
    iceFailed: () => {},
    closed: () => {},
    localCandidate: () => {},
  });
  const sink: MediaSink = {
    // Counted here only with --twcc (every packet goes through the Peer); else the socket handler counts.
    incomingRtp: (_s, buf) => {
      if (!TWCC) return;
      const q = buf.readUInt16BE(2);
      if (lp.seen[q] === 0) {
        lp.seen[q] = 1;
        lp.received++;
      }
    },
    incomingRtcp: () => {},
    incomingData: () => {},
    dataReady: () => {},
  };
  lp.peer.setSink(sink);
  // The load client only counts the echoed RTP (no SRTP unprotect, no receive statistics, no NACKs):
  // its own cost stays low so the servers, not the client, are the bottleneck. STUN, DTLS and RTCP
  // still go to the Peer.
  const sock = alloc.socket as Socket;
  sock.setRecvBufferSize(2 * 1024 * 1024);
  sock.setSendBufferSize(2 * 1024 * 1024);
  const handler = sock.listeners('message')[0] as (m: Buffer, r: unknown) => void;
  sock.removeListener('message', handler);
  sock.on('message', (m: Buffer, r: unknown) => {
    if (!TWCC && m.length > 12 && m[0]! >> 6 === 2 && (m[1]! < 192 || m[1]! > 223)) lp.received++;
    else handler(m, r);
  });
  // --twcc: mid 1, transport-wide sequence number 2 (makePacket leaves room for it).
  const videoExt = TWCC ? extmapsFor([EXT.mid, EXT.transportWideCc]) : extmapsFor([EXT.mid]);
  const offer = lp.peer.setLocalDescription(
    writeSdp(
      buildOffer([
        { kind: 'audio', mid: '0', direction: 'sendrecv', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid]) },
        { kind: 'video', mid: '1', direction: 'sendrecv', codec: { name: 'vp8', pt: 96, ...(TWCC ? { rtcpFb: ['nack', 'nack pli', 'transport-cc'] } : {}) }, extensions: videoExt },
      ]),
    ),
    'offer',
  );
  const res = await api.request({ janus: 'message', session_id: session, handle_id: handle, body: { audio: true, video: true }, jsep: { type: 'offer', sdp: offer } });
  let jsep = res.jsep as { type: string; sdp: string } | undefined;
  if (!jsep) throw new Error(`no answer: ${JSON.stringify(res)}`);
  const d = parseSdp(jsep.sdp);
  lp.peer.setRemoteDescription(d, extractRemoteTransport(d, { type: 'answer' }), 'answer');
  jsep = undefined;
  const end = Date.now() + 10_000;
  while (!lp.up) {
    if (Date.now() > end) throw new Error('PeerConnection did not come up');
    await sleep(20);
  }
  return lp;
}

/** VP8-looking payload (non-key frame descriptor), `size` bytes; --twcc: after a transport-wide element (id 2). */
function makePacket(ssrc: number, size: number): Buffer {
  const x = TWCC ? 8 : 0;
  const b = Buffer.alloc(12 + x + size, 0x5a);
  b[0] = TWCC ? 0x90 : 0x80;
  b[1] = 96;
  b.writeUInt32BE(ssrc, 8);
  if (TWCC) {
    b.writeUInt16BE(0xbede, 12);
    b.writeUInt16BE(1, 14);
    b[16] = (2 << 4) | 1;
    b[17] = b[18] = b[19] = 0;
  }
  b[12 + x] = 0x90;
  b[13 + x] = 0x80;
  b[14 + x] = 0x00;
  b[15 + x] = 0x01;
  return b;
}

interface Result {
  kind: GatewayKind;
  label: string;
  /** Portunus: packets its pacer held, and the estimate towards the first client (handle_info), when it paced. */
  paced?: { delayed: number; sent: number; dropped: number; maxWaitMs: number; estimate: number };
  sent: number;
  echoed: number;
  windowS: number;
  serverCpuUs: number;
  usPerPacket: number;
  clientCpuUsPerPacket: number;
  lossPct: number;
  /** --idle: the server's wake-ups (context switches) and CPU per second once the clients stopped sending. */
  idle?: { ctxPerS: number; cpuMsPerS: number };
}

async function run(v: Variant): Promise<Result> {
  const kind = v.kind;
  // The gateway process inherits this environment.
  if (v.pacing) delete process.env['PORTUNUS_PACING'];
  else process.env['PORTUNUS_PACING'] = '0';
  if (v.main !== undefined) process.env['PORTUNUS_MAIN'] = v.main;
  else if (ownMain !== undefined) process.env['PORTUNUS_MAIN'] = ownMain;
  else delete process.env['PORTUNUS_MAIN'];
  const gw: MediaGateway = await startMediaGateway(kind, ['echotest']);
  const api = await JanusWs.open(gw.wsUrl);
  const peers: LoadPeer[] = [];
  let timer: NodeJS.Timeout | null = null;
  const keepalive = setInterval(() => api.send({ janus: 'keepalive', session_id: session }), 15_000);
  let session = 0;
  try {
    session = ((await api.request({ janus: 'create' })).data as { id: number }).id;
    for (let i = 0; i < PEERS; i++) peers.push(await connectPeer(api, session, gw.address.address));
    const packets = peers.map((p) => makePacket(p.ssrc, SIZE));
    let seq = 0;
    let ts = 0;
    let sent = 0;
    // Paced sender: every 10 ms, rate/100 packets per peer (carry the remainder).
    const perTick = RATE / 100;
    let credit = 0;
    let last = performance.now();
    timer = setInterval(() => {
      const now = performance.now();
      credit += (perTick * (now - last)) / 10;
      last = now;
      const n = Math.floor(credit);
      credit -= n;
      for (let k = 0; k < n; k++) {
        seq = (seq + 1) & 0xffff;
        ts = (ts + 3000) >>> 0;
        for (let i = 0; i < peers.length; i++) {
          const b = packets[i]!;
          b.writeUInt16BE(seq, 2);
          b.writeUInt32BE(ts, 4);
          peers[i]!.peer.sendRtp('1', b, b.length);
          sent++;
        }
      }
    }, 10);
    await sleep(WARMUP * 1000);
    const echoed0 = peers.reduce((a, p) => a + p.received, 0);
    const sent0 = sent;
    const cpu0 = processCpuUs(gw.pid);
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < SECONDS; i++) {
      await sleep(1000);
      if (process.env.BENCH_DEBUG) console.log(kind, `t+${i + 1}s sent ${sent - sent0} echoed ${peers.reduce((a, p) => a + p.received, 0) - echoed0}`);
    }
    const cpu1 = processCpuUs(gw.pid);
    const client1 = process.cpuUsage(client0);
    const t1 = performance.now();
    if (values.info) {
      const r = await fetch(`${gw.adminUrl}/${session}/${peers[0]!.handle}`, { method: 'POST', body: JSON.stringify({ janus: 'handle_info', transaction: 'i', admin_secret: gw.adminSecret }) });
      console.log(kind, 'server handle_info', JSON.stringify(((await r.json()) as { info?: { webrtc?: unknown } }).info?.webrtc, null, 1));
      console.log(kind, 'client stats', JSON.stringify(peers[0]!.peer.stats), JSON.stringify(peers[0]!.peer.rtpStats().inbound));
    }
    const echoed = peers.reduce((a, p) => a + p.received, 0) - echoed0;
    const sentW = sent - sent0;
    const serverCpuUs = cpu1 - cpu0;
    let idle: Result['idle'];
    const IDLE_S = Number(values.idle);
    if (IDLE_S > 0) {
      if (timer) clearInterval(timer);
      timer = null;
      await sleep(3000);
      const c0 = processCtxSwitches(gw.pid);
      const u0 = processCpuUs(gw.pid);
      await sleep(IDLE_S * 1000);
      idle = { ctxPerS: (processCtxSwitches(gw.pid) - c0) / IDLE_S, cpuMsPerS: (processCpuUs(gw.pid) - u0) / 1000 / IDLE_S };
    }
    let paced: Result['paced'];
    if (kind === 'portunus' && TWCC) {
      const r = await fetch(`${gw.adminUrl}/${session}/${peers[0]!.handle}`, { method: 'POST', body: JSON.stringify({ janus: 'handle_info', transaction: 'p', admin_secret: gw.adminSecret }) });
      const bwe = ((await r.json()) as { info?: { webrtc?: { bwe?: { portunus?: { estimate?: number; pacer?: { delayed: number; sent: number; dropped: number; maxWaitMs: number } } } } } }).info?.webrtc?.bwe?.portunus;
      if (bwe?.pacer) paced = { delayed: bwe.pacer.delayed, sent: bwe.pacer.sent, dropped: bwe.pacer.dropped, maxWaitMs: bwe.pacer.maxWaitMs, estimate: Math.round(bwe.estimate ?? 0) };
    }
    return {
      kind,
      label: v.label,
      ...(paced ? { paced } : {}),
      ...(idle ? { idle } : {}),
      sent: sentW,
      echoed,
      windowS: (t1 - t0) / 1000,
      serverCpuUs,
      usPerPacket: echoed > 0 ? serverCpuUs / echoed : NaN,
      clientCpuUsPerPacket: echoed > 0 ? (client1.user + client1.system) / echoed : NaN,
      lossPct: sentW > 0 ? (100 * (sentW - echoed)) / sentW : 0,
    };
  } finally {
    if (timer) clearInterval(timer);
    clearInterval(keepalive);
    for (const p of peers) p.peer.close();
    api.close();
    await gw.stop();
  }
}

const ROUNDS = Number(values.rounds);
const results: Result[] = [];
console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${PEERS} peers x ${RATE} pps, ${SIZE} B payload, ${SECONDS} s window after ${WARMUP} s warm-up, ${ROUNDS} round(s))`);
for (let round = 0; round < ROUNDS; round++) {
  for (const v of round % 2 ? [...KINDS].reverse() : KINDS) {
    const r = await run(v);
    results.push(r);
    console.log(
      `${r.label.padEnd(8)} echoed ${r.echoed} in ${r.windowS.toFixed(1)} s (${(r.echoed / r.windowS).toFixed(0)}/s, loss ${r.lossPct.toFixed(2)}%), ` +
        `server CPU ${(r.serverCpuUs / 1000).toFixed(0)} ms = ${r.usPerPacket.toFixed(2)} µs/packet (client ${r.clientCpuUsPerPacket.toFixed(2)} µs/packet)` +
        (r.paced ? `; pacer: ${r.paced.sent} sent, ${r.paced.delayed} held, ${r.paced.dropped} dropped, longest wait ${r.paced.maxWaitMs} ms, estimate ${r.paced.estimate}` : '') +
        (r.idle ? `; idle: ${r.idle.ctxPerS.toFixed(1)} wake-ups/s, ${r.idle.cpuMsPerS.toFixed(1)} ms CPU/s` : ''),
    );
  }
}
console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const j = results.filter((r) => r.kind === 'janus').map((r) => r.usPerPacket);
for (const v of portunusVariants) {
  const p = results.filter((r) => r.label === v.label).map((r) => r.usPerPacket);
  if (p.length === 0 || j.length === 0) continue;
  const pm = median(p);
  const jm = median(j);
  console.log(`${v.label} ${pm.toFixed(2)} µs vs Janus ${jm.toFixed(2)} µs of server CPU per echoed packet (median of ${ROUNDS}): ratio ${(pm / jm).toFixed(2)}x`);
}
console.log(JSON.stringify({ peers: PEERS, rate: RATE, size: SIZE, seconds: SECONDS, results }));
process.exit(0);
