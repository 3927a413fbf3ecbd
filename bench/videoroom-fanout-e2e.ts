/**
 * VideoRoom fan-out benchmark through the WHOLE server (run on demand, never in tests):
 * P publishers × S subscribers over real UDP with ICE, DTLS-SRTP, against Portunus AND the real
 * Janus 1.1.2, one after the other in the same run, with the same load clients and the same
 * generated configs folder content (VideoRoom only, one room, WebSocket signalling).
 *
 *   npx tsc -p tsconfig.json --outDir dist-vr2 --tsBuildInfoFile dist-vr2/.tsbuildinfo
 *   node dist-vr2/bench/videoroom-fanout-e2e.js [--publishers 10] [--subscribers 20] [--rate 100]
 *        [--seconds 10] [--warmup 3] [--size 1100] [--only portunus|janus] [--rounds 1] [--json]
 *        [--rooms 1] [--workers N] [--procs 1] [--client light|full|count] [--decrypt-every 100]
 *        [--single-port 32500 [--per-worker]]
 *
 * --rooms R runs R rooms side by side, each with P publishers and S subscribers (subscribers see their
 * own room's publishers). --workers N sets Portunus's `media_workers` (default: not set, one per core);
 * a list (--workers 2,1,0) measures one Portunus per value in every round, each next to Janus, and
 * prints each one's CPU per forward over Janus's in the same round (median over the rounds).
 * The split of the server's CPU over its threads (/proc/<pid>/task/N/stat) is reported: the busiest
 * thread's share of the server's CPU, and each busy thread's CPU %.
 *
 * --rounds N runs the pair N times, alternating which gateway goes first, and reports per-gateway
 * medians (CPU per forwarded packet is noisy on a shared machine).
 *
 * Load: the light clients of bench/light-client.ts (Portunus's media modules, real UDP, ICE, DTLS-SRTP):
 *  - each publisher (in this process) sends one sendonly VP8 m-line: pre-made VP8-like RTP packets
 *    (`--size` bytes, one packet per frame with the marker bit, a key frame every second) at `--rate`
 *    packets/s, paced on the clock (a 5 ms timer sends whatever is due), SRTP-protected;
 *  - each subscriber joins once with `streams` = every publisher (one multistream PeerConnection,
 *    P recvonly video m-lines, answered with VP8, nack/pli/fir/remb feedback, only the mid extension,
 *    the same for both servers). `--client light` (default) counts RTP per SSRC from the clear header,
 *    authenticates and decrypts one packet in `--decrypt-every` (100), reads the server's SRs and
 *    sends an RR per second; `--client full` passes every packet through the client Peer (SRTP, RTP
 *    session, its NACKs and RRs); `--client count` counts and drops. Subscribers run in `--procs`
 *    load processes (bench/light-load.ts, default 1; 0 = in this process), each with its own
 *    WebSocket session, so the load side can use more than one core.
 * Measured over `--seconds` after `--warmup` (server process from /proc/<pid>/stat, all threads):
 *  - server CPU µs per forwarded packet = (utime + stime) / packets received by all subscribers;
 *  - loss per subscriber = 1 - received / (P × packets sent per publisher) in the window;
 *  - RSS per subscriber = (VmRSS with subscribers flowing - VmRSS with publishers only) / S;
 *  - the machine's UDP receive-buffer drops in the window (/proc/net/snmp RcvbufErrors, every socket
 *    of the machine): non-zero means loss may be the load side's or another process's, not the server's.
 *  - the load side's CPU (this process + the load processes) per packet the subscribers received, and
 *    the subscriber processes' alone (`subscriber_cpu_us_per_received`), so a run shows whether the
 *    clients or the server saturated.
 * Client sockets get 4 MB receive buffers so a briefly descheduled load process does not drop.
 * The ratio printed at the end is Portunus / Janus CPU per forwarded packet (<= 1: target met).
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { generateCertificate } from '../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import { paceVp8, type Vp8Pacer } from './vp8-load.js';
import { LightClient, type ReceiveMode } from './light-client.js';
import { LoadProcesses, type ChildState } from './light-load.js';
import { Signalling } from './janus-signalling.js';
import type { GatewayKind } from '../test/helpers/media-server.js';
import { measureWindow, rssKb, startGateway, threads, udpErrors } from './gateway-under-test.js';

const { values } = parseArgs({
  options: {
    publishers: { type: 'string', default: '10' },
    subscribers: { type: 'string', default: '20' },
    rate: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    size: { type: 'string', default: '1100' },
    only: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    rooms: { type: 'string', default: '1' },
    workers: { type: 'string' },
    procs: { type: 'string', default: '1' },
    client: { type: 'string', default: 'light' },
    'decrypt-every': { type: 'string', default: '100' },
    /** Port plan: unset, the server's RTP range is 21000-21999, publishers 47000-47999, load processes 44000 + 500 each; N: server N..N+499, publishers N+500..N+599, load processes N+600..N+999. */
    ports: { type: 'string' },
    'single-port': { type: 'string' },
    'per-worker': { type: 'boolean', default: false },
  },
});
const PORTS = values.ports !== undefined ? Number(values.ports) : null;
const SERVER_PORTS = PORTS !== null ? { min: PORTS, max: PORTS + 499 } : { min: 21000, max: 21999 };
/** Portunus with media.single_port (issue 14): every PeerConnection on this one UDP port (checked in the publishers' answers). */
const SINGLE_PORT = values['single-port'] !== undefined ? Number(values['single-port']) : undefined;
const ROOMS = Number(values.rooms);
const P = Number(values.publishers);
const S = Number(values.subscribers);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const SIZE = Number(values.size);
const ROOM = 4000;
const PROCS = Number(values.procs);
const MODE = values.client as ReceiveMode;
const DECRYPT_EVERY = Number(values['decrypt-every']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Load clients (bench/light-client.ts): publishers here, subscribers here (--procs 0) or in load processes

const cert = generateCertificate();
const allocator = new UdpPortAllocator({ range: PORTS !== null ? { min: PORTS + 500, max: PORTS + 599 } : { min: 47000, max: 47999 } });

/** Subscribers, wherever they run: join, read counters and CPU, close. */
interface SubscriberLoad {
  subscribe(room: number, feeds: number[]): Promise<void>;
  states(): Promise<ChildState[]>;
  close(): Promise<void>;
}

function inProcessSubscribers(sig: Signalling, address: string): SubscriberLoad {
  const subs: LightClient[] = [];
  return {
    async subscribe(room, feeds) {
      const c = await LightClient.create(address, cert, allocator, { mode: MODE, decryptEvery: DECRYPT_EVERY });
      subs.push(c);
      const h = await sig.attach();
      const r = await sig.message(h, { request: 'join', ptype: 'subscriber', room, streams: feeds.map((feed) => ({ feed })) });
      if (!r.jsep) throw new Error(`subscriber join without an offer: ${JSON.stringify(r.data)}`);
      await sig.message(h, { request: 'start', room }, { type: 'answer', sdp: c.subscriberAnswer(r.jsep.sdp) });
    },
    async states() {
      return [
        {
          up: subs.filter((c) => c.up).length,
          closed: subs.filter((c) => c.closed !== null).map((c) => c.closed!),
          rtp: subs.map((c) => c.rtp),
          decrypted: subs.reduce((a, c) => a + c.decrypted, 0),
          authFailures: subs.reduce((a, c) => a + c.authFailures, 0),
          reportsSent: subs.reduce((a, c) => a + c.reportsSent, 0),
          cpuUs: 0, // counted with this process's own CPU
          bySsrc: process.env.BENCH_DEBUG && subs[0] ? [...subs[0].bySsrc.values()] : undefined,
        },
      ];
    },
    async close() {
      for (const c of subs) c.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Server measurement

interface Result {
  gateway: GatewayKind;
  /** `portunus`, `portunus w=N` (--workers with several values) or `janus`. */
  variant: string;
  /** The machine's 1-minute load average at the end of the window. */
  load_average: number;
  publishers: number;
  subscribers: number;
  window_s: number;
  sent_per_publisher_per_s: number;
  forwarded_per_s: number;
  server_cpu_percent: number;
  server_cpu_us_per_forward: number;
  loss_mean_percent: number;
  loss_max_percent: number;
  rss_mb_publishers_only: number;
  rss_kb_per_subscriber: number;
  server_threads: number;
  kernel_rcvbuf_drops: number;
  /** Of those, at the server's own media sockets (its RTP range, /proc/net/udp `drops`). */
  server_socket_drops: number;
  load_cpu_percent: number;
  /** Load side (this process + load processes) CPU µs per RTP packet the subscribers received. */
  load_cpu_us_per_received: number;
  load_procs: number;
  /** The subscriber load processes alone (--procs > 0): CPU µs per RTP packet they received. */
  subscriber_cpu_us_per_received: number;
  client_mode: string;
  /** Light clients: packets authenticated+decrypted in the window's sample, and failures. */
  client_decrypted: number;
  client_auth_failures: number;
  /** Sequence-number gaps in the window over every subscriber (packets that never arrived; light/count clients). */
  sequence_gaps: number;
  /** Each subscriber's worst delivery lag in the window (ms behind the publishers' media clock, light clients): median / max. */
  delivery_lag_median_ms: number;
  delivery_lag_max_ms: number;
  /** The publishers' pacer (this process): its longest stall in the window, ms. */
  publisher_stall_ms: number;
  setup_s: number;
  /** The busiest thread's share of the server's CPU in the window (%). */
  busiest_thread_share_percent: number;
  /** The two busiest threads: "tid name" and CPU % of one core in the window. */
  top_threads: string;
  /** Threads above 2 % of a core in the window: "tid name": CPU % of one core. */
  thread_cpu_percent?: Record<string, number>;
}

const gapsOf = (s: ChildState[]): number => s.reduce((a, x) => a + (x.gaps ?? []).reduce((b, g) => b + g, 0), 0);
/** st0 (window start) reset each client's worst lag: `st` at the window's end holds the window's. */
function lagOf(st: ChildState[]): { delivery_lag_median_ms: number; delivery_lag_max_ms: number } {
  const v = st.flatMap((x) => x.maxLag ?? []).sort((a, b) => a - b);
  return { delivery_lag_median_ms: v[v.length >> 1] ?? 0, delivery_lag_max_ms: v.at(-1) ?? 0 };
}

async function waitUntil(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

interface Variant {
  label: string;
  kind: GatewayKind;
  workers?: number;
}

async function runOne(v: Variant): Promise<Result> {
  const kind = v.kind;
  const t0 = Date.now();
  const { srv, address, remove } = await startGateway(kind, { workers: v.workers, rooms: ROOMS, publishers: P, firstRoom: ROOM, rtpRange: `${SERVER_PORTS.min}-${SERVER_PORTS.max}`, singlePort: kind === 'portunus' ? SINGLE_PORT : undefined, perWorker: values['per-worker'] });
  const pubs: LightClient[] = [];
  let load: SubscriberLoad | undefined;
  let sig: Signalling | undefined;
  let pacer: Vp8Pacer | undefined;
  try {
    sig = await Signalling.open(srv.wsUrl);
    const feeds: number[][] = [];
    for (let room = ROOM; room < ROOM + ROOMS; room++) {
      const roomFeeds: number[] = [];
      feeds.push(roomFeeds);
      for (let i = 0; i < P; i++) {
        const h = await sig.attach();
        const joined = await sig.message(h, { request: 'join', ptype: 'publisher', room, display: `pub${i}` });
        roomFeeds.push(joined.data.id as number);
        const c = await LightClient.create(address, cert, allocator);
        const r = await sig.message(h, { request: 'publish', videocodec: 'vp8' }, { type: 'offer', sdp: c.publisherOffer() });
        if (!r.jsep) throw new Error(`${kind}: publish without an answer: ${JSON.stringify(r.data)}`);
        if (kind === 'portunus' && SINGLE_PORT !== undefined && !values['per-worker']) {
          const ports = new Set([...r.jsep.sdp.matchAll(/^a=candidate:\S+ \d+ udp \d+ \S+ (\d+)/gim)].map((m) => Number(m[1])));
          if (ports.size !== 1 || !ports.has(SINGLE_PORT)) throw new Error(`single_port ${SINGLE_PORT}: the answer's UDP candidates are on ${[...ports].join(',')}`);
        }
        c.applyAnswer(r.jsep.sdp);
        pubs.push(c);
      }
    }
    await waitUntil(`${kind}: publishers' PeerConnections up`, () => pubs.every((c) => c.up), 20_000);

    // Paced sending: packets due since start, for every publisher, every 5 ms.
    pacer = paceVp8(pubs.map((c) => c.peer), SIZE, RATE);
    const sent = pacer.sent;
    await sleep(1000);
    const rssPubs = rssKb(srv.pid);

    load = PROCS > 0 ? await LoadProcesses.start({ procs: PROCS, wsUrl: srv.wsUrl, address, mode: MODE, decryptEvery: DECRYPT_EVERY, ...(PORTS !== null ? { portBase: PORTS + 600, portsPerProc: Math.floor(400 / PROCS) } : {}) }) : inProcessSubscribers(sig, address);
    for (let k = 0; k < ROOMS; k++) for (let i = 0; i < S; i++) await load.subscribe(ROOM + k, feeds[k]!);
    const nSubs = S * ROOMS;
    const end = Date.now() + 30_000;
    for (;;) {
      const st = await load.states();
      const closed = st.flatMap((x) => x.closed);
      if (closed.length > 0) throw new Error(`${kind}: a subscriber PeerConnection closed: ${closed[0]}`);
      if (st.reduce((a, x) => a + x.up, 0) === nSubs) break;
      if (Date.now() > end) throw new Error(`${kind}: subscribers' PeerConnections not up`);
      await sleep(100);
    }
    const setup = (Date.now() - t0) / 1000;
    await sleep(WARMUP * 1000);

    const st0 = await load.states();
    pacer.takeMaxTickGap();
    const recv0 = LoadProcesses.received(st0);
    const sent0 = [...sent];
    let pacerStall = 0;
    let sentW: number[] = [];
    const p = pacer;
    const win = await measureWindow(srv.pid, SECONDS, SERVER_PORTS, () => {
      pacerStall = p.takeMaxTickGap();
      sentW = sent.map((n, i) => n - sent0[i]!);
    });
    const st1 = await load.states();
    const window = win.seconds;
    const rss = rssKb(srv.pid);
    const nThreads = threads(srv.pid);
    // Let in-flight packets arrive before reading the receive counters.
    pacer.stop();
    pacer = undefined;
    await sleep(300);
    const { machine: kernelDrops, serverSockets: serverDrops } = win.drops();
    const sentTotal = sentW.reduce((a, b) => a + b, 0);
    const st2 = await load.states();
    const recvW = LoadProcesses.received(st2).map((n, i) => n - recv0[i]!);
    const loadCpuUs = win.benchCpuUs + st1.reduce((a, x, k) => a + x.cpuUs - st0[k]!.cpuUs, 0);
    // Packets sent after the window closed (the pacer ran until stopped) are not expected: compare with sent at stop.
    const sentAtStop = sent.map((n, i) => n - sent0[i]!).reduce((a, b) => a + b, 0);
    // A subscriber expects what its own room's publishers sent.
    const sentByRoom = Array.from({ length: ROOMS }, (_, k) => sent.slice(k * P, (k + 1) * P).reduce((a, n, i) => a + n - sent0[k * P + i]!, 0));
    const losses = recvW.map((r, i) => Math.max(0, 1 - r / sentByRoom[Math.floor(i / S)]!));
    const forwarded = recvW.reduce((a, b) => a + b, 0);
    // CPU over the window vs packets forwarded in the window (receive counts stop ~0.3 s later: scale).
    const forwardedInWindow = forwarded * (sentTotal / sentAtStop);
    const cpuUs = win.cpuUs;
    const perThread = win.perThreadPercent;
    if (process.env.BENCH_DEBUG) console.error(kind, 'sub0 by ssrc', JSON.stringify(st2[0]!.bySsrc), 'sent', sent, 'udp', udpErrors());
    const closed = st2.flatMap((x) => x.closed);
    if (closed.length > 0) throw new Error(`${kind}: a subscriber PeerConnection closed: ${closed[0]}`);
    return {
      gateway: kind,
      variant: v.label,
      load_average: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
      publishers: P * ROOMS,
      subscribers: S * ROOMS,
      window_s: +window.toFixed(2),
      sent_per_publisher_per_s: +(sentTotal / (P * ROOMS) / window).toFixed(1),
      forwarded_per_s: Math.round(forwardedInWindow / window),
      server_cpu_percent: +((cpuUs / 1e6 / window) * 100).toFixed(1),
      server_cpu_us_per_forward: +(cpuUs / forwardedInWindow).toFixed(3),
      loss_mean_percent: +((losses.reduce((a, b) => a + b, 0) / losses.length) * 100).toFixed(3),
      loss_max_percent: +(Math.max(...losses) * 100).toFixed(3),
      rss_mb_publishers_only: +(rssPubs / 1024).toFixed(1),
      rss_kb_per_subscriber: Math.round((rss - rssPubs) / (S * ROOMS)),
      server_threads: nThreads,
      kernel_rcvbuf_drops: kernelDrops,
      server_socket_drops: serverDrops,
      load_cpu_percent: +((loadCpuUs / 1e6 / window) * 100).toFixed(1),
      load_cpu_us_per_received: +(loadCpuUs / forwardedInWindow).toFixed(3),
      load_procs: PROCS,
      subscriber_cpu_us_per_received: PROCS > 0 ? +(st1.reduce((a, x, k) => a + x.cpuUs - st0[k]!.cpuUs, 0) / forwardedInWindow).toFixed(3) : 0,
      client_mode: MODE,
      client_decrypted: st2.reduce((a, x, k) => a + x.decrypted - st0[k]!.decrypted, 0),
      client_auth_failures: st2.reduce((a, x, k) => a + x.authFailures - st0[k]!.authFailures, 0),
      sequence_gaps: gapsOf(st2) - gapsOf(st0),
      ...lagOf(st1),
      publisher_stall_ms: Math.round(pacerStall),
      setup_s: +setup.toFixed(1),
      top_threads: Object.entries(perThread)
        .sort((x, y) => y[1] - x[1])
        .slice(0, 2)
        .map(([t, pct]) => `${t}: ${pct} %`)
        .join(', '),
      busiest_thread_share_percent: win.busiestThreadSharePercent,
      ...(values.json || process.env.BENCH_THREADS ? { thread_cpu_percent: perThread } : {}),
    };
  } finally {
    pacer?.stop();
    for (const c of pubs) c.close();
    await load?.close().catch(() => undefined);
    await sig?.close().catch(() => undefined);
    await srv.stop();
    remove();
  }
}

const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

async function main(): Promise<void> {
  // --workers 2,1,0: one Portunus variant per value, each measured in every round next to Janus.
  const workerList = values.workers === undefined ? [undefined] : values.workers.split(',').map(Number);
  const variants: Variant[] = [];
  if (values.only !== 'janus')
    for (const w of workerList) variants.push({ label: workerList.length > 1 ? `portunus w=${w}` : 'portunus', kind: 'portunus', ...(w !== undefined ? { workers: w } : {}) });
  if (values.only !== 'portunus') variants.push({ label: 'janus', kind: 'janus' });
  const results: Result[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const r = await runOne(v);
      results.push(r);
      if (!values.json) console.log(`${v.label}: ${JSON.stringify(r)}`);
    }
  }
  /** Per variant: the median of every numeric field over its runs. */
  const summary = (label: string): Result => {
    const rs = results.filter((r) => r.variant === label);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(rs[0]!)) {
      const v = rs[0]![key as keyof Result];
      out[key] = typeof v === 'number' ? +median(rs.map((r) => r[key as keyof Result] as number)).toFixed(3) : key === 'thread_cpu_percent' ? undefined : v;
    }
    return out as unknown as Result;
  };
  const medians = variants.map((v) => summary(v.label));
  const j = medians.find((m) => m.gateway === 'janus');
  /** Per round: each Portunus variant's CPU per forward over Janus's in the same round; the median. */
  const ratios: Record<string, number> = {};
  if (j)
    for (const v of variants.filter((x) => x.kind === 'portunus')) {
      const rs: number[] = [];
      for (let round = 0; round < Number(values.rounds); round++) {
        const p = results.filter((r) => r.variant === v.label)[round];
        const jr = results.filter((r) => r.variant === 'janus')[round];
        if (p && jr) rs.push(p.server_cpu_us_per_forward / jr.server_cpu_us_per_forward);
      }
      ratios[v.label] = +median(rs).toFixed(3);
    }
  if (values.json) {
    console.log(JSON.stringify({ results, medians, ratios_over_janus_per_round_median: ratios }, null, 2));
  } else {
    console.log(`\n${ROOMS > 1 ? `${ROOMS} rooms of ` : ''}${P} publishers x ${S} subscribers, ${RATE} packets/s of ${SIZE} bytes per publisher, ${SECONDS} s windows, ${values.rounds} round(s): medians\n`);
    console.log(`| | ${medians.map((m) => m.variant).join(' | ')} |\n|---|${medians.map(() => '---').join('|')}|`);
    const row = (label: string, f: (r: Result) => string | number) => console.log(`| ${label} | ${medians.map(f).join(' | ')} |`);
    row('forwarded packets/s', (r) => r.forwarded_per_s);
    row('server CPU (% of one core)', (r) => r.server_cpu_percent);
    row('server CPU µs per forwarded packet', (r) => r.server_cpu_us_per_forward);
    row('loss per subscriber, mean / max (%)', (r) => `${r.loss_mean_percent} / ${r.loss_max_percent}`);
    row('RSS with publishers only (MB)', (r) => r.rss_mb_publishers_only);
    row('RSS per subscriber (kB)', (r) => r.rss_kb_per_subscriber);
    row('server threads', (r) => r.server_threads);
    row("busiest thread's share of the server's CPU (%)", (r) => r.busiest_thread_share_percent);
    row('two busiest threads (last round)', (r) => results.filter((x) => x.variant === r.variant).at(-1)!.top_threads);
    row('sequence gaps in the window (all subscribers)', (r) => r.sequence_gaps);
    row("worst delivery lag per subscriber, median / max (ms)", (r) => `${r.delivery_lag_median_ms} / ${r.delivery_lag_max_ms}`);
    row("publishers' pacer: longest stall in the window (ms)", (r) => r.publisher_stall_ms);
    row('UDP receive-buffer drops, whole machine, in the window', (r) => r.kernel_rcvbuf_drops);
    row("of those at the server's media sockets", (r) => r.server_socket_drops);
    row('load generator CPU (%)', (r) => r.load_cpu_percent);
    row('subscriber load processes CPU µs per received packet', (r) => r.subscriber_cpu_us_per_received);
    row(`load side CPU µs per received packet (${MODE} clients, ${PROCS} load process(es))`, (r) => r.load_cpu_us_per_received);
    row('setup time for all PeerConnections (s)', (r) => r.setup_s);
    row('load average (1 min)', (r) => r.load_average);
    for (const [label, ratio] of Object.entries(ratios)) console.log(`\nCPU per forwarded packet, ${label} / Janus (median of per-round ratios) = ${ratio}`);
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
