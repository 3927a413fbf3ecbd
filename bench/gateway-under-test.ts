/**
 * The server side of the benchmarks: start Portunus or Janus on the same configs, and read a process's
 * CPU, threads and memory from /proc, and the machine's UDP drop counters.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeMediaConfigsFolder, type GatewayKind } from '../test/helpers/media-server.js';
import { startJanusOnFolder } from '../test/helpers/janus-ref.js';
import { startPortunusOnFolder } from '../test/helpers/portunus.js';
export { udpDropsInPorts } from '../src/metrics/udp-drops.js';
import type { RunningServer } from '../test/helpers/server-process.js';

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

