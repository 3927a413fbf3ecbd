/**
 * One TextRoom of N members over real data channels, Janus 1.1.2 and Portunus in the same run (issue
 * 15). The members are our own data-channel clients spread over several processes
 * (bench/textroom-scale-child.ts) so one client process is not the limit; both gateways advertise the
 * machine's non-loopback address (Janus's libnice ignores loopback) and get a port range wide enough
 * for N members. Two phases per gateway and size:
 *
 *   one: member 0 sends 10 messages/s for --one-seconds
 *   all: every member sends 1 message/s for --all-seconds (a list, one per size: N^2 deliveries/s)
 *
 * Per phase: gateway user+system CPU (/proc/<pid>/stat, all threads) from the first send to the last
 * delivery, divided by the deliveries; delivery latency p50/p99 (send timestamp in the text, epoch
 * clock); exactly-once in order per sender (each receiver tracks each sender's sequence).
 *
 *   node dist/bench/textroom-scale.js [--sizes 50,200] [--gateways janus,portunus] [--procs 3]
 *        [--one-seconds 10] [--all-seconds 5,2] [--drain 120] [--stall 15] [--workers N (Portunus media_workers)] [--rtp-range A-B] [--client-ports A-B] [--json]
 *        [--cpu-prof DIR (Portunus: V8 CPU profiles of main and every worker into DIR)]
 *
 * A gateway `portunus-spreadN` is Portunus with TextRoom's `members_spread_at = N` (0: members always on
 * the least loaded worker, as before that key; the default gathers up to 100 with the room).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TEXTROOM_JCFG, sleep, startTextroomGateway } from '../test/helpers/datachannel-client.js';
import { machineAddress } from '../test/helpers/media-server.js';
import type { RunningServer } from '../test/helpers/server-process.js';
import { LatencyHistogram, type ScaleReply, type ScaleState } from './textroom-scale-protocol.js';

const argv = process.argv;
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? argv[i + 1]! : def;
};
const SIZES = opt('sizes', '50,200').split(',').map(Number);
const GATEWAYS = opt('gateways', 'janus,portunus').split(',');
const CPU_PROF = argv.includes('--cpu-prof') ? opt('cpu-prof', '') : null;
const PROCS = Number(opt('procs', '3'));
const ONE_SECONDS = Number(opt('one-seconds', '10'));
const ALL_SECONDS = opt('all-seconds', '5,2').split(',').map(Number);
const DRAIN_S = Number(opt('drain', '120'));
/** No new delivery for this long: the rest is lost. */
const STALL_S = Number(opt('stall', '15'));
const JSON_OUT = argv.includes('--json');
/** --rtp-range: the gateways' media.rtp_port_range (on a shared machine, a range no one else uses). */
const RTP_RANGE = opt('rtp-range', '20000-20999');
const WORKERS = argv.includes('--workers') ? Number(opt('workers', '0')) : undefined;
/** --client-ports: the members' own UDP ports, split evenly over the client processes (default 40000-4x999). */
const CLIENT_PORTS = argv.includes('--client-ports') ? opt('client-ports', '').split('-').map(Number) : null;
function clientPorts(k: number, procs: number): { portMin: number; portMax: number } {
  if (CLIENT_PORTS === null) return { portMin: 40000 + 1000 * k, portMax: 40999 + 1000 * k };
  const [lo, hi] = CLIENT_PORTS as [number, number];
  const per = Math.floor((hi - lo + 1) / procs);
  return { portMin: lo + per * k, portMax: k === procs - 1 ? hi : lo + per * (k + 1) - 1 };
}

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
}

class Child {
  private next = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly proc: ChildProcess;
  constructor() {
    this.proc = fork(fileURLToPath(new URL('./textroom-scale-child.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: ScaleReply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(`client process: ${m.error}`));
      else w.resolve(m.value);
    });
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`client process exited (${code})`));
      this.waiting.clear();
    });
  }
  request<T>(req: Record<string, unknown>): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...req, id });
    });
  }
  async close(): Promise<void> {
    const exited = new Promise<void>((r) => (this.proc.exitCode !== null ? r() : this.proc.once('exit', () => r())));
    await this.request({ op: 'close' }).catch(() => undefined);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

interface Row {
  gateway: string;
  members: number;
  phase: string;
  sent: number;
  expected: number;
  accepted: number;
  violations: number;
  violationSample: string;
  serverCpuMs: number;
  usPerDelivery: number;
  p50: number;
  p99: number;
  max: number;
  windowMs: number;
  clientCpuMs: number;
  load: number;
  setupS: number;
  /** Gateway CPU per second with the room joined and silent (timers, keepalives, heartbeats). */
  idleMsPerS: number;
  /** µs per delivery with that idle cost over the window taken out. */
  usPerDeliveryNet: number;
}

async function runPhase(gateway: string, n: number, srv: RunningServer, children: Child[], phase: 'one' | 'all', rate: number, seconds: number, setupS: number, idleMsPerS: number): Promise<Row> {
  await Promise.all(children.map((c) => c.request({ op: 'phase', phase })));
  const clientCpu0 = (await Promise.all(children.map((c) => c.request<ScaleState>({ op: 'state' })))).reduce((a, s) => a + s.cpuUs, 0);
  const load0 = loadavg()[0]!;
  const cpu0 = cpuMs(srv.pid);
  const t0 = performance.now();
  const epoch0 = performance.timeOrigin + t0;
  // member i lives in child i % procs at local index floor(i / procs)
  const sendersOf = (k: number): number[] => {
    if (phase === 'one') return k === 0 ? [0] : [];
    const local = Math.floor(n / children.length) + (k < n % children.length ? 1 : 0);
    return Array.from({ length: local }, (_, i) => i);
  };
  const counts = await Promise.all(children.map((c, k) => c.request<number[]>({ op: 'send', senders: sendersOf(k), rate, seconds })));
  const sent = counts.flat().reduce((a, x) => a + x, 0);
  const expected = sent * n; // the sender gets its own message too (both gateways)
  const deadline = performance.now() + DRAIN_S * 1000;
  let states: ScaleState[] = [];
  // The window ends at the last delivery seen: a gateway that lost messages would otherwise be
  // charged its idle CPU until the deadline.
  let cpuEnd = cpu0;
  let tEnd = t0;
  let lastGot = -1;
  for (;;) {
    states = await Promise.all(children.map((c) => c.request<ScaleState>({ op: 'state' })));
    const got = states.reduce((a, s) => a + s.accepted + s.violations, 0);
    if (got !== lastGot) {
      lastGot = got;
      cpuEnd = cpuMs(srv.pid);
      tEnd = performance.now();
    }
    if (got >= expected || performance.now() > deadline || performance.now() - tEnd > STALL_S * 1000) break;
    await sleep(250);
  }
  const hist = new LatencyHistogram();
  for (const s of states) hist.merge(s.hist);
  const accepted = states.reduce((a, s) => a + s.accepted, 0);
  const violations = states.reduce((a, s) => a + s.violations, 0);
  const lastAt = Math.max(...states.map((s) => s.lastAt));
  const serverCpuMs = cpuEnd - cpu0;
  const deliveries = Math.max(1, accepted + violations);
  const cpuWindowS = (tEnd - t0) / 1000;
  return {
    gateway,
    members: n,
    phase,
    sent,
    expected,
    accepted,
    violations,
    violationSample: states.map((s) => s.violationSample).find((x) => x) ?? '',
    serverCpuMs,
    usPerDelivery: (serverCpuMs * 1000) / deliveries,
    idleMsPerS,
    usPerDeliveryNet: ((serverCpuMs - idleMsPerS * cpuWindowS) * 1000) / deliveries,
    p50: hist.quantile(0.5),
    p99: hist.quantile(0.99),
    max: hist.quantile(1),
    windowMs: lastAt > 0 ? lastAt - epoch0 : performance.now() - t0,
    clientCpuMs: (states.reduce((a, s) => a + s.cpuUs, 0) - clientCpu0) / 1000,
    load: (load0 + loadavg()[0]!) / 2,
    setupS,
  };
}

async function runOne(gateway: string, n: number, allSeconds: number): Promise<Row[]> {
  const where = machineAddress();
  const spread = /^portunus-spread(-?\d+)$/.exec(gateway);
  const kind = gateway === 'janus' ? 'janus' : 'portunus';
  const srv = await startTextroomGateway(kind, {
    enforce: where.iface,
    rtpPortRange: RTP_RANGE,
    ...(WORKERS !== undefined ? { mediaWorkers: WORKERS } : {}),
    ...(spread ? { textroomJcfg: DEFAULT_TEXTROOM_JCFG.replace('general: {\n', `general: {\n  members_spread_at = ${spread[1]}\n`) } : {}),
    ...(kind === 'portunus' && CPU_PROF ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] } : {}),
  });
  const procs = Math.min(PROCS, n);
  const children = Array.from({ length: procs }, () => new Child());
  try {
    await Promise.all(children.map((c, k) => c.request({ op: 'init', wsUrl: srv.wsUrl, address: where.address, ...clientPorts(k, procs) })));
    const t0 = performance.now();
    await Promise.all(
      children.map((c, k) => {
        const names: string[] = [];
        for (let i = k; i < n; i += procs) names.push(`m${i}`);
        return c.request({ op: 'connect', names });
      }),
    );
    const setupS = (performance.now() - t0) / 1000;
    await sleep(3000); // the join storm (N^2 join events) settles
    const idle0 = cpuMs(srv.pid);
    const idleT0 = performance.now();
    await sleep(5000);
    const idleMsPerS = (cpuMs(srv.pid) - idle0) / ((performance.now() - idleT0) / 1000);
    const rows = [await runPhase(gateway, n, srv, children, 'one', 10, ONE_SECONDS, setupS, idleMsPerS)];
    await sleep(2000);
    if (allSeconds > 0) rows.push(await runPhase(gateway, n, srv, children, 'all', 1, allSeconds, setupS, idleMsPerS));
    return rows;
  } finally {
    await Promise.all(children.map((c) => c.close()));
    await srv.stop();
  }
}

const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const rows: Row[] = [];
console.log('| gateway | members | phase | messages sent | deliveries in order / expected | violations | gateway CPU | µs CPU per delivery (idle taken out) | latency p50 / p99 / max | window | gateway idle | client CPU | load | setup |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (let si = 0; si < SIZES.length; si++) {
  const n = SIZES[si]!;
  for (const g of GATEWAYS) {
    let rs: Row[];
    try {
      rs = await runOne(g, n, ALL_SECONDS[si] ?? ALL_SECONDS[ALL_SECONDS.length - 1]!);
    } catch (e) {
      console.log(`| ${g} | ${n} | failed: ${String((e as Error).message ?? e).split('\n')[0]!.slice(0, 300)} |`);
      continue;
    }
    for (const r of rs) {
      rows.push(r);
      console.log(
        `| ${r.gateway} | ${r.members} | ${r.phase} | ${r.sent} | ${r.accepted} / ${r.expected} | ${r.violations}${r.violationSample ? ` (${r.violationSample})` : ''} | ${fmt(r.serverCpuMs, 0)} ms | **${fmt(r.usPerDelivery)}** (${fmt(r.usPerDeliveryNet)}) | ${fmt(r.p50)} / ${fmt(r.p99)} / ${fmt(r.max, 0)} ms | ${fmt(r.windowMs / 1000)} s | ${fmt(r.idleMsPerS)} ms/s | ${fmt(r.clientCpuMs, 0)} ms | ${fmt(r.load)} | ${fmt(r.setupS)} s |`,
      );
    }
  }
}
if (JSON_OUT) console.log(JSON.stringify(rows));
process.exit(0);
