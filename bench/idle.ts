/**
 * What an idle server costs: N established but silent PeerConnections, Portunus AND Janus 1.1.2 as
 * real processes in the same run (run on demand, never in tests).
 *
 *   npx tsc -p tsconfig.json && nice -n 19 node dist/bench/idle.js [--peers 0,50,200] [--seconds 20]
 *        [--settle 20] [--rounds 1] [--procs 2] [--workers N] [--only portunus|janus] [--ports 36000] [--json]
 *
 * - One VideoRoom; N PeerConnections = one publisher that publishes (sendonly VP8) but never sends a
 *   packet, and N-1 subscribers to its feed (bench/light-client.ts in `--procs` load processes). N=0:
 *   the server alone (transports, timers, workers).
 * - Once every PeerConnection is up (ICE + DTLS at the client), `--settle` seconds, then a `--seconds`
 *   window: the server's CPU (all threads, /proc utime+stime), its context switches (voluntary +
 *   involuntary, summed over its threads: how often it woke up), RSS. What an idle PeerConnection costs
 *   is the CPU at N minus the CPU at 0, over N.
 * - The clients do what a browser does on an idle call: ICE consent/keepalive (their Peer), no RTP, and
 *   no RTCP of their own (the light client reports only on SSRCs it received from).
 *
 * Ports: the server's RTP range is `--ports` .. +499, the clients' the next 500.
 * Everything should run under `nice -n 19` on a shared box; CPU figures are only comparable inside one
 * run (Janus and Portunus alternate, the order flips each round).
 */
import { parseArgs } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { generateCertificate } from '../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import type { LightClient } from './light-client.js';
import { LoadProcesses } from './light-load.js';
import type { Signalling } from './janus-signalling.js';
import type { GatewayKind } from '../test/helpers/media-server.js';
import { gatewayVariants, joinPublisher, measureWindow, rssKb, startGateway, threads, type Variant } from './gateway-under-test.js';

const { values } = parseArgs({
  options: {
    peers: { type: 'string', default: '0,50,200' },
    seconds: { type: 'string', default: '20' },
    settle: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '1' },
    procs: { type: 'string', default: '2' },
    parallel: { type: 'string', default: '10' },
    workers: { type: 'string' },
    only: { type: 'string' },
    ports: { type: 'string', default: '36000' },
    json: { type: 'boolean', default: false },
  },
});
process.env['BENCH_CLIENT_DTLS_RTO_MS'] ??= '100';
const SECONDS = Number(values.seconds);
const SETTLE = Number(values.settle);
const PROCS = Math.max(1, Number(values.procs));
const PARALLEL = Math.max(1, Number(values.parallel));
const PORTS = Number(values.ports);
const ROOM = 4100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cert = generateCertificate();
const allocator = new UdpPortAllocator({ range: { min: PORTS + 500, max: PORTS + 519 } });

/** Context switches of every thread of `pid` (voluntary + involuntary): each is a wake-up or a preemption. */
function contextSwitches(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      n += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s)?.[1] ?? 0);
    } catch {
      /* the thread ended */
    }
  }
  return n;
}

interface Result {
  gateway: GatewayKind;
  variant: string;
  peers: number;
  load_average: number;
  window_s: number;
  server_cpu_ms_per_s: number;
  /** Per thread, % of one core (threads at 2 % or more). */
  per_thread_percent: Record<string, number>;
  context_switches_per_s: number;
  rss_mb: number;
  threads: number;
}

async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(200);
  }
}

async function runOne(v: Variant, n: number): Promise<Result> {
  const kind = v.kind;
  const { srv, address, remove } = await startGateway(kind, { workers: v.workers, rooms: 1, publishers: 1, firstRoom: ROOM, rtpRange: `${PORTS}-${PORTS + 499}` });
  let pub: LightClient | undefined;
  let load: LoadProcesses | undefined;
  let sig: Signalling | undefined;
  try {
    if (n > 0) {
      let feed: number;
      ({ sig, pub, feed } = await joinPublisher(kind, srv.wsUrl, address, cert, allocator, ROOM, 'silent'));
      if (n > 1) {
        load = await LoadProcesses.start({ procs: PROCS, wsUrl: srv.wsUrl, address, mode: 'light', decryptEvery: 100, portBase: PORTS + 600, portsPerProc: Math.floor(400 / PROCS) });
        const l = load;
        for (let i = 0; i < n - 1; i += PARALLEL) await Promise.all(Array.from({ length: Math.min(PARALLEL, n - 1 - i) }, () => l.subscribe(ROOM, [feed])));
        await waitUntil(
          `${kind}: ${n - 1} subscribers up`,
          async () => {
            const st = await l.states();
            const closed = st.flatMap((x) => x.closed);
            if (closed.length > 0) throw new Error(`${kind}: a subscriber PeerConnection closed: ${closed[0]}`);
            return st.reduce((a, x) => a + x.up, 0) === n - 1;
          },
          60_000,
        );
      }
    }
    await sleep(SETTLE * 1000);
    const cs0 = contextSwitches(srv.pid);
    const win = await measureWindow(srv.pid, SECONDS, { min: PORTS, max: PORTS + 499 });
    const cs = contextSwitches(srv.pid) - cs0;
    if (load) {
      const st = await load.states();
      const closed = st.flatMap((x) => x.closed);
      if (closed.length > 0) throw new Error(`${kind}: a subscriber PeerConnection closed during the window: ${closed[0]}`);
    }
    return {
      gateway: kind,
      variant: v.label,
      peers: n,
      load_average: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
      window_s: +win.seconds.toFixed(2),
      server_cpu_ms_per_s: +(win.cpuUs / 1000 / win.seconds).toFixed(2),
      per_thread_percent: win.perThreadPercent,
      context_switches_per_s: Math.round(cs / win.seconds),
      rss_mb: +(rssKb(srv.pid) / 1024).toFixed(1),
      threads: threads(srv.pid),
    };
  } finally {
    pub?.close();
    await load?.close().catch(() => undefined);
    await sig?.close().catch(() => undefined);
    await srv.stop();
    remove();
  }
}

async function main(): Promise<void> {
  const sizes = values.peers.split(',').map(Number);
  const variants = gatewayVariants(values.only, values.workers);
  const results: Result[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const n of sizes) {
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        const r = await runOne(v, n);
        results.push(r);
        if (!values.json) console.log(`${v.label} N=${n}: ${JSON.stringify(r)}`);
      }
    }
  }
  if (values.json) {
    console.log(JSON.stringify(results, null, 2));
    process.exit(0);
  }
  const labels = variants.map((v) => v.label);
  const med = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s[(s.length - 1) >> 1]!;
  };
  console.log(`\nidle PeerConnections (1 silent publisher + N-1 subscribers), ${SECONDS} s window after ${SETTLE} s, ${values.rounds} round(s), medians\n`);
  console.log(`| N | ${labels.map((l) => `${l}: CPU ms/s | ctx sw/s | µs/s per PC`).join(' | ')} | load |`);
  console.log(`|---|${labels.map(() => '---|---|---').join('|')}|---|`);
  for (const n of sizes) {
    const cells: string[] = [];
    for (const l of labels) {
      const rs = results.filter((r) => r.variant === l && r.peers === n);
      const base = results.filter((r) => r.variant === l && r.peers === 0);
      const cpu = med(rs.map((r) => r.server_cpu_ms_per_s));
      const per = n > 0 && base.length > 0 ? (((cpu - med(base.map((r) => r.server_cpu_ms_per_s))) * 1000) / n).toFixed(0) : '';
      cells.push(`${cpu.toFixed(1)} | ${med(rs.map((r) => r.context_switches_per_s))} | ${per}`);
    }
    const loads = results.filter((r) => r.peers === n).map((r) => r.load_average);
    console.log(`| ${n} | ${cells.join(' | ')} | ${Math.min(...loads)}-${Math.max(...loads)} |`);
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
