/**
 * The server side of the benchmarks: start Portunus or Janus on the same configs, and read a process's
 * CPU, threads and memory from /proc, and the machine's UDP drop counters.
 */
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeMediaConfigsFolder, type GatewayKind } from '../test/helpers/media-server.js';
import { startJanusOnFolder } from '../test/helpers/janus-ref.js';
import { startPortunusOnFolder } from '../test/helpers/portunus.js';
import { udpDropsInPorts as udpDropsInPortsOf } from '../src/metrics/udp-drops.js';
export { udpDropsInPortsOf as udpDropsInPorts };
import type { RunningServer } from '../test/helpers/server-process.js';
import type { DtlsCertificate } from '../src/media/dtls/certificate.js';
import type { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import { LightClient } from './light-client.js';
import { Signalling } from './janus-signalling.js';

export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

/** CPU ticks of each thread of the process (/proc/<pid>/task/<tid>/stat), by thread id and name. */
export function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Node 20 names no thread: the main thread is the one whose tid is the pid; the media workers
      // are the other busy ones (each Worker runs its JavaScript on one thread of its own).
      out.set(`${tid} ${Number(tid) === pid ? 'main' : name}`, Number(f[11]) + Number(f[12]));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

export function threads(pid: number): number {
  const m = /Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** System-wide UDP receive-buffer drops (/proc/net/snmp RcvbufErrors): kernel drops at ANY socket of this machine. */
export function rcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const h = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[h.indexOf('RcvbufErrors')]);
}

export function udpErrors(): string {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [h, v] = [lines[0]!.split(/\s+/), lines[1]!.split(/\s+/)];
  return h.map((k, i) => `${k}=${v[i]}`).filter((x) => /Errors|NoPorts/.test(x)).join(' ');
}

export interface GatewayOptions {
  /** Portunus's `media_workers` (unset: its default, one per core). */
  workers?: number | undefined;
  rooms: number;
  publishers: number;
  firstRoom: number;
  /** The server's RTP port range (default 21000-21999). */
  rtpRange?: string;
  /** Portunus's `media.single_port` (unset: a port per PeerConnection from the range). */
  singlePort?: number | undefined;
  /** With singlePort: `single_port_per_worker = true` (a port per worker) instead of one for the process. */
  perWorker?: boolean | undefined;
}

/**
 * Portunus or Janus 1.1.2 on the same generated configs folder content: VideoRoom only, WebSocket and
 * HTTP, quieter logging, RTP ports 21000-21999 (or `rtpRange`), `rooms` rooms from `firstRoom` with `publishers`
 * publishers each and no bitrate cap or FIR period.
 */
export async function startGateway(kind: GatewayKind, o: GatewayOptions): Promise<{ srv: RunningServer; address: string; remove(): void }> {
  const workers = o.workers;
  const conf = await makeMediaConfigsFolder(`bench-${kind}`, ['videoroom']);
  // Same content for both: quieter logging, our own RTP port range, one room without caps.
  const jcfg = join(conf.dir, 'janus.jcfg');
  let text = readFileSync(jcfg, 'utf8').replace('debug_level = 4', 'debug_level = 3').replace(conf.rtpPortRange, o.rtpRange ?? '21000-21999');
  if (kind === 'portunus' && workers !== undefined) text = text.replace('media: {', `media: {\n  media_workers = ${workers}`);
  if (kind === 'portunus' && o.singlePort !== undefined) text = text.replace('media: {', `media: {\n  single_port = ${o.singlePort}${o.perWorker ? '\n  single_port_per_worker = true' : ''}`);
  writeFileSync(jcfg, text);
  // BENCH_METRICS_PORT: Portunus serves /metrics on that port (prom-client's default collectors run, as in a deployment).
  const metricsPort = process.env['BENCH_METRICS_PORT'];
  if (kind === 'portunus' && metricsPort) appendFileSync(join(conf.dir, 'janus.transport.http.jcfg'), `\nmetrics: {\n  metrics = true\n  metrics_port = ${Number(metricsPort)}\n  metrics_ip = "127.0.0.1"\n}\n`);
  const rooms = Array.from({ length: o.rooms }, (_, r) => [`room-${o.firstRoom + r}: {`, '  description = "fan-out bench"', `  publishers = ${o.publishers}`, '  bitrate = 0', '  fir_freq = 0', '  audiocodec = "opus"', '  videocodec = "vp8"', '  record = false', '}', '']).flat();
  writeFileSync(join(conf.dir, 'janus.plugin.videoroom.jcfg'), ['general: {', '  string_ids = false', ...(process.env['BENCH_SPREAD_AT'] ? [`  subscribers_spread_at = ${Number(process.env['BENCH_SPREAD_AT'])}`] : []), '}', '', ...rooms].join('\n'));
  try {
    const srv =
      kind === 'janus'
        ? await startJanusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret)
        : // BENCH_SERVER_NODE_ARGS: extra node flags for Portunus only (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
          await startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret, process.env['BENCH_SERVER_NODE_ARGS'] ? { nodeArgs: process.env['BENCH_SERVER_NODE_ARGS'].split(' ') } : {});
    return { srv, address: conf.address.address, remove: () => conf.remove() };
  } catch (e) {
    conf.remove();
    throw e;
  }
}


const CLK_TCK = 100; // Linux USER_HZ

/** What `measureWindow` read over a steady-state window. */
export interface ServerWindow {
  /** The window's length (s, measured). */
  seconds: number;
  /** The server's CPU over the window, all threads (µs). */
  cpuUs: number;
  /** Each thread's CPU over the window (% of one core), for threads at 2 % or more. */
  perThreadPercent: Record<string, number>;
  /** The busiest thread's share of the server's CPU (%). */
  busiestThreadSharePercent: number;
  /** This (bench) process's CPU over the window (µs): the in-process clients' share of the load side. */
  benchCpuUs: number;
  /** UDP receive-buffer drops since the window opened, read when called (after a tail, so in-flight packets count). */
  drops(): { machine: number; serverSockets: number };
}

/**
 * The benches' steady-state window: opens the counters (server CPU per thread from /proc, this
 * process's CPU, UDP drops machine-wide and at the server's RTP ports), waits `seconds`, calls `atEnd`
 * (e.g. read the publisher pacer's stall) and closes them. Shared by the VideoRoom fan-out and webinar benches.
 */
export async function measureWindow(pid: number, seconds: number, ports: { min: number; max: number }, atEnd?: () => void): Promise<ServerWindow> {
  const drops0 = rcvbufErrors();
  const serverDrops0 = udpDropsInPortsOf(ports.min, ports.max);
  const cpu0 = cpuTicks(pid);
  const tasks0 = threadTicks(pid);
  const bench0 = process.cpuUsage();
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu1 = cpuTicks(pid);
  atEnd?.();
  const tasks1 = threadTicks(pid);
  const bench = process.cpuUsage(bench0);
  const window = (performance.now() - w0) / 1000;
  const perThreadPercent: Record<string, number> = {};
  let busiest = 0;
  let threadSum = 0;
  for (const [t, ticks] of tasks1) {
    const d = ticks - (tasks0.get(t) ?? 0);
    threadSum += d;
    busiest = Math.max(busiest, d);
    const pct = (d / CLK_TCK / window) * 100;
    if (pct >= 2) perThreadPercent[t] = +pct.toFixed(1);
  }
  return {
    seconds: window,
    cpuUs: ((cpu1 - cpu0) / CLK_TCK) * 1e6,
    perThreadPercent,
    busiestThreadSharePercent: threadSum > 0 ? +((busiest / threadSum) * 100).toFixed(1) : 0,
    benchCpuUs: bench.user + bench.system,
    drops: () => ({ machine: rcvbufErrors() - drops0, serverSockets: udpDropsInPortsOf(ports.min, ports.max) - serverDrops0 }),
  };
}

/** One gateway of a comparative run: Portunus (with `media_workers` if given) or Janus 1.1.2. */
export interface Variant {
  label: string;
  kind: GatewayKind;
  workers?: number;
}

/** Portunus (labelled with `--workers` when given) and Janus, or only one of them (`--only`). */
export function gatewayVariants(only: string | undefined, workers: string | undefined): Variant[] {
  const out: Variant[] = [];
  if (only !== 'janus') out.push({ label: workers !== undefined ? `portunus w=${workers}` : 'portunus', kind: 'portunus', ...(workers !== undefined ? { workers: Number(workers) } : {}) });
  if (only !== 'portunus') out.push({ label: 'janus', kind: 'janus' });
  return out;
}

/**
 * A VideoRoom publisher in this process: its own signalling session, `join` as publisher, `publish`
 * a sendonly VP8 offer from a LightClient, and wait until its PeerConnection is up. It sends nothing
 * by itself (bench/vp8-load.ts paces packets through `pub.peer`).
 */
export async function joinPublisher(kind: GatewayKind, wsUrl: string, address: string, cert: DtlsCertificate, allocator: UdpPortAllocator, room: number, display: string): Promise<{ sig: Signalling; pub: LightClient; feed: number }> {
  const sig = await Signalling.open(wsUrl);
  let pub: LightClient | undefined;
  try {
    const h = await sig.attach();
    const joined = await sig.message(h, { request: 'join', ptype: 'publisher', room, display });
    const feed = joined.data.id as number;
    pub = await LightClient.create(address, cert, allocator);
    const r = await sig.message(h, { request: 'publish', videocodec: 'vp8' }, { type: 'offer', sdp: pub.publisherOffer() });
    if (!r.jsep) throw new Error(`${kind}: publish without an answer: ${JSON.stringify(r.data)}`);
    pub.applyAnswer(r.jsep.sdp);
    const end = Date.now() + 20_000;
    while (!pub.up) {
      if (Date.now() > end) throw new Error(`${kind}: publisher not up`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { sig, pub, feed };
  } catch (e) {
    pub?.close();
    await sig.close().catch(() => undefined);
    throw e;
  }
}
