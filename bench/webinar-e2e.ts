/**
 * The webinar through the WHOLE server (issue 12), Portunus AND Janus 1.1.2 as real processes in the
 * same run (run on demand, never in tests): one VideoRoom, 1 publisher x N subscribers at `--pps`
 * packets/s, built like videoroom-fanout-e2e.ts (same load clients, same generated configs).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/webinar-e2e.js [--subscribers 100[,300]] [--pps 30]
 *        [--size 1000] [--seconds 10] [--warmup 2] [--parallel 10] [--late 10] [--procs 2]
 *        [--workers N] [--only portunus|janus] [--rounds 1] [--json] [--ports 36000]
 *
 * - The publisher (in this process) sends VP8-like packets (bench/vp8-load.ts: one packet per frame, a
 *   key frame every second) once its PeerConnection is up and the room knows it.
 * - The N subscribers (bench/light-client.ts, light mode: count per SSRC, decrypt 1 in 100, RRs) live
 *   in `--procs` load processes and join `--parallel` at a time, as a webinar's audience arrives in a
 *   burst. Each join is timed at the client from sending `join` to: its offer, `start` answered, its
 *   PeerConnection up (ICE + DTLS at the client), its first RTP packet ("join to first packet").
 * - Then, with every subscriber receiving, `--seconds` of steady state: loss per subscriber, server
 *   CPU (all threads, /proc) per forwarded packet, RSS per subscriber (RSS now minus RSS with the
 *   publisher only, over N), the machine's UDP receive-buffer drops.
 * - Then `--late` more subscribers join one at a time into the running room: join to first packet
 *   without the burst's own queueing (what one viewer joining a busy webinar sees).
 *
 * The clients' DTLS starts its retransmission timer at `--client-dtls-rto` (100 ms) as a browser does
 * (libwebrtc: ~2x the ICE RTT, at least 50 ms), not RFC 6347's 1 s: a server that drops the first
 * ClientHello (Janus does while its own ICE side is not done yet) would otherwise show a 1 s join that
 * no browser sees.
 *
 * Ports: the server's RTP range is `--ports` .. +499, the clients' the next 500 (a shared machine:
 * stay inside the range you were given). Everything should run under `nice -n 19` on a shared box.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { generateCertificate } from '../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import { paceVp8, type Vp8Pacer } from './vp8-load.js';
import { LightClient, type ReceiveMode } from './light-client.js';
import { LoadProcesses, type ChildState, type JoinTiming } from './light-load.js';
import { Signalling } from './janus-signalling.js';
import type { GatewayKind } from '../test/helpers/media-server.js';
import { gatewayVariants, joinPublisher, measureWindow, rssKb, startGateway, threads, type Variant } from './gateway-under-test.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '100' },
    pps: { type: 'string', default: '30' },
    size: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    /** After the window: how long to let in-flight packets arrive before reading the counters. */
    'tail-ms': { type: 'string', default: '1000' },
    parallel: { type: 'string', default: '10' },
    late: { type: 'string', default: '10' },
    procs: { type: 'string', default: '2' },
    workers: { type: 'string' },
    only: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    ports: { type: 'string', default: '36000' },
    client: { type: 'string', default: 'light' },
    'decrypt-every': { type: 'string', default: '100' },
    /** The clients' first DTLS retransmission timeout (ms): a browser's is ~2x the ICE RTT, at least 50 ms. */
    'client-dtls-rto': { type: 'string', default: '100' },
  },
});
// Read by every LightClient, here and in the load processes (forked after this: they inherit it).
process.env['BENCH_CLIENT_DTLS_RTO_MS'] = values['client-dtls-rto'];
const PPS = Number(values.pps);
const SIZE = Number(values.size);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const PARALLEL = Math.max(1, Number(values.parallel));
const LATE = Number(values.late);
const PROCS = Math.max(1, Number(values.procs));
const PORTS = Number(values.ports);
const MODE = values.client as ReceiveMode;
const DECRYPT_EVERY = Number(values['decrypt-every']);
const ROOM = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cert = generateCertificate();
/** The publisher's port: the first of the clients' 500. */
const allocator = new UdpPortAllocator({ range: { min: PORTS + 500, max: PORTS + 519 } });

interface Dist {
  median: number;
  p95: number;
  max: number;
}

interface Result {
  gateway: GatewayKind;
  variant: string;
  subscribers: number;
  load_average: number;
  /** Burst: N joins, `parallel` at a time. */
  join_phase_s: number;
  join_to_first_ms: Dist;
  /** Medians of the burst's steps, ms from `join`: offer, start answered, PeerConnection up, first packet. */
  join_steps_median_ms: JoinTiming;
  /** Subscribers of the burst without a packet 30 s after their join. */
  never_got_packet: number;
  late_join_to_first_ms: Dist;
  late_join_steps_median_ms: JoinTiming;
  window_s: number;
  sent_per_s: number;
  forwarded_per_s: number;
  loss_mean_percent: number;
  loss_max_percent: number;
  /** Subscribers that lost anything in the window (uniform loss = before the fan-out). */
  subscribers_with_loss: number;
  /** Sequence-number gaps over the window, summed over subscribers (what never arrived, whatever the timing). */
  sequence_gaps: number;
  /** Over the window: each subscriber's worst delivery lag (ms behind the publisher's clock), median / p95 / max over subscribers. */
  delivery_lag_ms: Dist;
  /** The publisher's pacer (in this process): its longest stall in the window (ms); its packets left that late. */
  publisher_stall_ms: number;
  server_cpu_percent: number;
  server_cpu_us_per_forward: number;
  rss_mb_publisher_only: number;
  rss_kb_per_subscriber: number;
  server_threads: number;
  busiest_thread_share_percent: number;
  kernel_rcvbuf_drops: number;
  /** Of those, at the server's own media sockets (its RTP port range, /proc/net/udp `drops`). */
  server_socket_drops: number;
  load_cpu_us_per_received: number;
}

const pct = (xs: number[], p: number): number => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)]!;
};
const median = (xs: number[]): number => pct(xs, 50);
const dist = (xs: number[]): Dist => ({ median: Math.round(median(xs)), p95: Math.round(pct(xs, 95)), max: Math.round(pct(xs, 100)) });
const steps = (js: JoinTiming[]): JoinTiming => ({
  offer: Math.round(median(js.map((j) => j.offer))),
  started: Math.round(median(js.map((j) => j.started))),
  up: Math.round(median(js.map((j) => j.up))),
  first: Math.round(median(js.map((j) => j.first))),
});

async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) {
      console.error(`timed out: ${what}`);
      return false;
    }
    await sleep(100);
  }
  return true;
}


async function runOne(v: Variant, n: number): Promise<Result> {
  const kind = v.kind;
  const { srv, address, remove } = await startGateway(kind, { workers: v.workers, rooms: 1, publishers: 1, firstRoom: ROOM, rtpRange: `${PORTS}-${PORTS + 499}` });
  let pub: LightClient | undefined;
  let load: LoadProcesses | undefined;
  let sig: Signalling | undefined;
  let pacer: Vp8Pacer | undefined;
  try {
    let feed: number;
    ({ sig, pub, feed } = await joinPublisher(kind, srv.wsUrl, address, cert, allocator, ROOM, 'speaker'));
    pacer = paceVp8([pub.peer], SIZE, PPS);
    const sent = pacer.sent;
    await sleep(1500);
    const rssPub = rssKb(srv.pid);

    // Subscriber slices: the 400 ports after the publisher's 100.
    load = await LoadProcesses.start({ procs: PROCS, wsUrl: srv.wsUrl, address, mode: MODE, decryptEvery: DECRYPT_EVERY, portBase: PORTS + 600, portsPerProc: Math.floor(400 / PROCS) });
    const l = load;
    const t0 = performance.now();
    for (let i = 0; i < n; i += PARALLEL) {
      await Promise.all(Array.from({ length: Math.min(PARALLEL, n - i) }, () => l.subscribe(ROOM, [feed])));
    }
    const joinPhase = (performance.now() - t0) / 1000;
    let st: ChildState[] = [];
    await waitUntil(
      `${kind}: every subscriber's first packet`,
      async () => {
        st = await l.states();
        const closed = st.flatMap((x) => x.closed);
        if (closed.length > 0) throw new Error(`${kind}: a subscriber PeerConnection closed: ${closed[0]}`);
        return LoadProcesses.joins(st).every((j) => Number.isFinite(j.first));
      },
      30_000,
    );
    const burst = LoadProcesses.joins(st);
    await sleep(WARMUP * 1000);

    // Steady state.
    const st0 = await l.states();
    pacer.takeMaxTickGap();
    const recv0 = LoadProcesses.received(st0);
    const sent0 = sent[0]!;
    let pacerStall = 0;
    let sentW = 0;
    const vp8 = pacer;
    const win = await measureWindow(srv.pid, SECONDS, { min: PORTS, max: PORTS + 499 }, () => {
      pacerStall = vp8.takeMaxTickGap();
      sentW = sent[0]! - sent0;
    });
    const window = win.seconds;
    const rss = rssKb(srv.pid);
    const nThreads = threads(srv.pid);
    const st1 = await l.states();
    // In-flight packets arrive; those sent after the window are not expected (scaled below).
    await sleep(Number(values['tail-ms']));
    const sentAtRead = sent[0]! - sent0;
    const st2 = await l.states();
    const { machine: kernelDrops, serverSockets: serverDrops } = win.drops();
    const gaps = (s: ChildState[]) => s.reduce((a, x) => a + (x.gaps ?? []).reduce((b, g) => b + g, 0), 0);
    const recvW = LoadProcesses.received(st2).map((x, i) => x - recv0[i]!);
    const losses = recvW.map((x) => Math.max(0, 1 - x / sentAtRead));
    const forwarded = recvW.reduce((a, b) => a + b, 0) * (sentW / Math.max(1, sentAtRead));
    const cpuUs = win.cpuUs;
    const loadCpuUs = win.benchCpuUs + st1.reduce((a, x, k) => a + x.cpuUs - st0[k]!.cpuUs, 0);

    // Late joiners, one at a time, into the running room.
    const before = st2.map((x) => x.joins?.length ?? 0);
    for (let i = 0; i < LATE; i++) await l.subscribe(ROOM, [feed]);
    let stL: ChildState[] = [];
    await waitUntil(
      `${kind}: late subscribers' first packets`,
      async () => {
        stL = await l.states();
        return stL.every((x, k) => (x.joins ?? []).slice(before[k]).every((j) => Number.isFinite(j.first)));
      },
      30_000,
    );
    const late = LoadProcesses.joins(stL.map((x, k) => ({ ...x, joins: (x.joins ?? []).slice(before[k]) })));

    return {
      gateway: kind,
      variant: v.label,
      subscribers: n,
      load_average: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
      join_phase_s: +joinPhase.toFixed(1),
      join_to_first_ms: dist(burst.map((j) => j.first)),
      join_steps_median_ms: steps(burst),
      never_got_packet: burst.filter((j) => !Number.isFinite(j.first)).length,
      late_join_to_first_ms: dist(late.map((j) => j.first)),
      late_join_steps_median_ms: steps(late),
      window_s: +window.toFixed(2),
      sent_per_s: +(sentW / window).toFixed(1),
      forwarded_per_s: Math.round(forwarded / window),
      loss_mean_percent: +((losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length)) * 100).toFixed(3),
      loss_max_percent: +(Math.max(0, ...losses) * 100).toFixed(3),
      subscribers_with_loss: losses.filter((x) => x > 0.001).length,
      sequence_gaps: gaps(st2) - gaps(st0),
      // st0 reset the lag; st1 (end of the window) holds the window's worst, st2 the tail's.
      publisher_stall_ms: Math.round(pacerStall),
      delivery_lag_ms: dist(st1.flatMap((x, k) => (x.maxLag ?? []).map((v, i) => Math.max(v, st2[k]!.maxLag?.[i] ?? 0)))),
      server_cpu_percent: +((cpuUs / 1e6 / window) * 100).toFixed(1),
      server_cpu_us_per_forward: +(cpuUs / Math.max(1, forwarded)).toFixed(2),
      rss_mb_publisher_only: +(rssPub / 1024).toFixed(1),
      rss_kb_per_subscriber: Math.round((rss - rssPub) / n),
      server_threads: nThreads,
      busiest_thread_share_percent: win.busiestThreadSharePercent,
      kernel_rcvbuf_drops: kernelDrops,
      server_socket_drops: serverDrops,
      load_cpu_us_per_received: +(loadCpuUs / Math.max(1, forwarded)).toFixed(2),
    };
  } catch (err) {
    // What the server said before a failed run (BENCH_SERVER_LOG=1: its log tail).
    if (process.env['BENCH_SERVER_LOG']) console.error(`--- ${kind} log tail ---\n${srv.log().slice(-6000)}`);
    throw err;
  } finally {
    pacer?.stop();
    pub?.close();
    await load?.close().catch(() => undefined);
    await sig?.close().catch(() => undefined);
    await srv.stop();
    remove();
  }
}

async function main(): Promise<void> {
  const sizes = values.subscribers.split(',').map(Number);
  const variants = gatewayVariants(values.only, values.workers);
  const results: Result[] = [];
  for (const n of sizes) {
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        const r = await runOne(v, n);
        results.push(r);
        if (!values.json) console.log(`${v.label} N=${n}: ${JSON.stringify(r)}`);
      }
    }
  }
  if (values.json) {
    console.log(JSON.stringify(results, null, 2));
  } else {
    for (const n of sizes) {
      const rs = results.filter((r) => r.subscribers === n);
      console.log(`\n1 publisher x ${n} subscribers, ${PPS} packets/s of ${SIZE} bytes, joins ${PARALLEL} at a time, ${SECONDS} s window, ${values.rounds} round(s)\n`);
      console.log(`| | ${rs.map((r) => r.variant).join(' | ')} |\n|---|${rs.map(() => '---').join('|')}|`);
      const row = (label: string, f: (r: Result) => string | number) => console.log(`| ${label} | ${rs.map(f).join(' | ')} |`);
      const d = (x: Dist) => `${x.median} / ${x.p95} / ${x.max}`;
      const s = (x: JoinTiming) => `${x.offer} / ${x.started} / ${x.up} / ${x.first}`;
      row('join to first packet, burst: median / p95 / max (ms)', (r) => d(r.join_to_first_ms));
      row('burst steps, medians: offer / started / up / first (ms)', (r) => s(r.join_steps_median_ms));
      row('join to first packet, late joiners one at a time (ms)', (r) => d(r.late_join_to_first_ms));
      row('late steps, medians: offer / started / up / first (ms)', (r) => s(r.late_join_steps_median_ms));
      row('all N joined in (s)', (r) => r.join_phase_s);
      row('forwarded packets/s', (r) => r.forwarded_per_s);
      row('loss per subscriber, mean / max (%)', (r) => `${r.loss_mean_percent} / ${r.loss_max_percent}`);
      row('subscribers with loss / sequence gaps in the window (all subscribers)', (r) => `${r.subscribers_with_loss} / ${r.sequence_gaps}`);
      row("worst delivery lag per subscriber over the window: median / p95 / max (ms)", (r) => d(r.delivery_lag_ms));
      row("the publisher's pacer: longest stall in the window (ms)", (r) => r.publisher_stall_ms);
      row('server CPU (% of one core)', (r) => r.server_cpu_percent);
      row('server CPU µs per forwarded packet', (r) => r.server_cpu_us_per_forward);
      row('RSS with the publisher only (MB)', (r) => r.rss_mb_publisher_only);
      row('RSS per subscriber (kB)', (r) => r.rss_kb_per_subscriber);
      row("server threads / busiest thread's share (%)", (r) => `${r.server_threads} / ${r.busiest_thread_share_percent}`);
      row("UDP receive-buffer drops: whole machine / the server's sockets", (r) => `${r.kernel_rcvbuf_drops} / ${r.server_socket_drops}`);
      row('load side CPU µs per received packet', (r) => r.load_cpu_us_per_received);
      row('load average (1 min)', (r) => r.load_average);
    }
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
