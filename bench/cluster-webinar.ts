/**
 * The webinar over three nodes (issue 17): a real redis-server and three Portunus cluster nodes A, B, C
 * on this machine, one VideoRoom publisher on A and N subscribers spread evenly over A, B and C; and, in
 * the same run, the same 1 x N on ONE Portunus node (same generated configs, no `cluster` section), and
 * optionally on Janus 1.1.2 (`--janus`). Run on demand, never in tests.
 *
 *   npx tsc -p tsconfig.json && nice -n 19 node dist/bench/cluster-webinar.js [--subscribers 60]
 *        [--pps 30,90] [--size 1000] [--seconds 10] [--warmup 2] [--parallel 10] [--workers 1]
 *        [--rounds 1] [--janus] [--only cluster|single] [--ports 31000]
 *
 * - The publisher (in this process: bench/light-client.ts) sends VP8-like packets (bench/vp8-load.ts).
 * - The subscribers are the bench's light receivers (bench/light-load.ts: Portunus's own ICE/DTLS/SRTP,
 *   count per SSRC, decrypt 1 in 100, RRs), one load process per node, each joined through its node's
 *   own WebSocket API: subscriber i joins through node i % 3 (A, B, C), `--parallel` at a time.
 *   On B and C the publisher is a remote publisher: A `publish_remotely`s it (plain RTP) to each.
 * - Steady state over `--seconds`: loss per subscriber (packets received over packets sent), the
 *   server CPU of every node process (/proc, all threads) and the packets forwarded to subscribers.
 *   "µs per forwarded packet" is ALL server CPU (the three nodes, or the one node) over the packets the
 *   subscribers received: the cascade's extra cost per forwarded packet is the difference between the
 *   two, as a ratio since this machine is shared. Redis is not counted (it carries no media; its CPU is
 *   printed apart). Three processes idle at more CPU than one (heartbeats, cascade passes, worker
 *   timers), so the servers' CPU with the room made and nobody in it (`--idle-seconds`) is measured
 *   first and the figure is also given above that idle floor: what the media path itself costs.
 *
 * Ports (a shared machine: stay inside the range you were given): the publisher client uses
 * `--ports` .. +19, the load processes +100 .. +549 (150 each), Janus's RTP range +600 .. +999. The
 * Portunus nodes' RTP ranges are reserved per process (test/helpers/rtp-ranges.ts); remote publisher
 * sockets come from VideoRoom's 10000-60000 as in Janus.
 */
import { parseArgs } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { generateCertificate } from '../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import { startClusterNode, type ClusterNode } from '../test/helpers/cluster-node.js';
import { machineAddress } from '../test/helpers/media-server.js';
import { startRedis, type RedisServer } from '../test/helpers/redis-server.js';
import { cpuTicks, rcvbufErrors, startGateway } from './gateway-under-test.js';
import { LightClient } from './light-client.js';
import { LoadProcesses, type ChildState } from './light-load.js';
import { Signalling } from './janus-signalling.js';
import { paceVp8, type Vp8Pacer } from './vp8-load.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '60' },
    pps: { type: 'string', default: '30,90' },
    size: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    /** Before the publisher: the servers' CPU with the room made and nobody in it (subtracted below). */
    'idle-seconds': { type: 'string', default: '4' },
    'tail-ms': { type: 'string', default: '1000' },
    parallel: { type: 'string', default: '10' },
    workers: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    janus: { type: 'boolean', default: false },
    only: { type: 'string' },
    ports: { type: 'string', default: '31000' },
    json: { type: 'boolean', default: false },
  },
});

const N = Number(values.subscribers);
/** One window per rate, in this order, on the same room and subscribers: the CPU's slope between them is the marginal cost. */
const RATES = values.pps.split(',').map(Number);
const SIZE = Number(values.size);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const PARALLEL = Math.max(1, Number(values.parallel));
const WORKERS = Number(values.workers);
const PORTS = Number(values.ports);
const ROOM = 4100;
const KEY = 'videoroom_key';
const CLK_TCK = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cert = generateCertificate();
const address = machineAddress().address;
const pubPorts = new UdpPortAllocator({ range: { min: PORTS, max: PORTS + 19 } });

type Kind = 'cluster' | 'single' | 'janus';

interface Result {
  variant: Kind;
  pps: number;
  nodes: number;
  subscribers: number;
  subscribers_per_node: number[];
  load_average: number;
  window_s: number;
  sent_per_s: number;
  forwarded_per_s: number;
  loss_mean_percent: number;
  loss_max_percent: number;
  subscribers_with_loss: number;
  sequence_gaps: number;
  /** Per node (A, B, C): CPU % of one core over the window. */
  node_cpu_percent: number[];
  server_cpu_percent: number;
  server_cpu_us_per_forward: number;
  /** The servers' CPU before anyone joined (timers, heartbeats, cascade passes), % of one core. */
  idle_cpu_percent: number;
  /** (server CPU - idle CPU) over the packets forwarded: what the media itself costs. */
  server_cpu_us_per_forward_above_idle: number;
  redis_cpu_percent: number;
  kernel_rcvbuf_drops: number;
  /** Cluster: cascade links (A's publisher to B and C) and remote publishers, from cluster_info. */
  cascade?: string;
}

async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

interface Server {
  pid: number;
  wsUrl: string;
}

/** A room with one VP8 publisher on servers[0] and N light subscribers over the servers; measured. */
async function webinar(variant: Kind, servers: Server[], create: () => Promise<void>, extraPids: number[], cascadeInfo?: () => Promise<string>): Promise<Result[]> {
  let pub: LightClient | undefined;
  let sig: Signalling | undefined;
  let pacer: Vp8Pacer | undefined;
  const loads: LoadProcesses[] = [];
  try {
    await create();
    const pids = servers.map((s) => s.pid);
    const idle0 = pids.map(cpuTicks);
    const i0 = performance.now();
    await sleep(Number(values['idle-seconds']) * 1000);
    const idleCpu = (pids.map(cpuTicks).reduce((a, c, k) => a + c - idle0[k]!, 0) / CLK_TCK / ((performance.now() - i0) / 1000)) * 100;
    sig = await Signalling.open(servers[0]!.wsUrl);
    const h = await sig.attach();
    const joined = await sig.message(h, { request: 'join', ptype: 'publisher', room: ROOM, display: 'speaker' });
    const feed = joined.data.id as number;
    pub = await LightClient.create(address, cert, pubPorts);
    const r = await sig.message(h, { request: 'publish', videocodec: 'vp8' }, { type: 'offer', sdp: pub.publisherOffer() });
    if (!r.jsep) throw new Error(`${variant}: publish without an answer: ${JSON.stringify(r.data)}`);
    pub.applyAnswer(r.jsep.sdp);
    const p = pub;
    await waitUntil(`${variant}: publisher up`, () => p.up, 20_000);
    pacer = paceVp8([pub.peer], SIZE, RATES[0]!);
    for (const [k, s] of servers.entries()) {
      loads.push(await LoadProcesses.start({ procs: 1, wsUrl: s.wsUrl, address, mode: 'light', decryptEvery: 100, portBase: PORTS + 100 + 150 * k, portsPerProc: 150 }));
    }
    const perNode = servers.map(() => 0);
    for (let i = 0; i < N; i += PARALLEL) {
      await Promise.all(
        Array.from({ length: Math.min(PARALLEL, N - i) }, (_, j) => {
          const k = (i + j) % servers.length;
          perNode[k]!++;
          return loads[k]!.subscribe(ROOM, [feed]);
        }),
      );
    }
    const states = async (): Promise<ChildState[]> => (await Promise.all(loads.map((l) => l.states()))).flat();
    await waitUntil(
      `${variant}: every subscriber's first packet`,
      async () => {
        const st = await states();
        const closed = st.flatMap((x) => x.closed);
        if (closed.length > 0) throw new Error(`${variant}: a subscriber PeerConnection closed: ${closed[0]}`);
        return LoadProcesses.joins(st).every((j) => Number.isFinite(j.first));
      },
      30_000,
    );
    const results: Result[] = [];
    let seqBase = 0;
    for (const [ri, pps] of RATES.entries()) {
      if (ri > 0) {
        // The next rate: a new pacer continuing the sequence numbers.
        seqBase += pacer.sent[0]!;
        pacer.stop();
        pacer = paceVp8([pub.peer], SIZE, pps, seqBase);
      }
      const sent = pacer.sent;
      await sleep(WARMUP * 1000);
      const st0 = await states();
      const recv0 = st0.flatMap((x) => x.rtp);
      const gaps0 = st0.flatMap((x) => x.gaps ?? []);
      const sent0 = sent[0]!;
      const cpu0 = pids.map(cpuTicks);
      const extra0 = extraPids.map(cpuTicks);
      const drops0 = rcvbufErrors();
      const t0 = performance.now();
      await sleep(SECONDS * 1000);
      const cpu1 = pids.map(cpuTicks);
      const extra1 = extraPids.map(cpuTicks);
      const window = (performance.now() - t0) / 1000;
      const sentW = sent[0]! - sent0;
      // In-flight packets arrive; those sent after the window are not expected (scaled below).
      await sleep(Number(values['tail-ms']));
      const sentAtRead = sent[0]! - sent0;
      const st2 = await states();
      const recvW = st2.flatMap((x) => x.rtp).map((x, i) => x - recv0[i]!);
      const gaps = st2.flatMap((x) => x.gaps ?? []).reduce((a, g, i) => a + g - (gaps0[i] ?? 0), 0);
      const losses = recvW.map((x) => Math.max(0, 1 - x / sentAtRead));
      const forwarded = recvW.reduce((a, b) => a + b, 0) * (sentW / Math.max(1, sentAtRead));
      const nodeCpu = cpu1.map((c, k) => ((c - cpu0[k]!) / CLK_TCK / window) * 100);
      const cpuUs = cpu1.reduce((a, c, k) => a + (c - cpu0[k]!), 0) * (1e6 / CLK_TCK);
      const res: Result = {
        variant,
        pps,
        nodes: servers.length,
        subscribers: N,
        subscribers_per_node: perNode,
        load_average: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
        window_s: +window.toFixed(2),
        sent_per_s: +(sentW / window).toFixed(1),
        forwarded_per_s: Math.round(forwarded / window),
        loss_mean_percent: +((losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length)) * 100).toFixed(3),
        loss_max_percent: +(Math.max(0, ...losses) * 100).toFixed(3),
        subscribers_with_loss: losses.filter((x) => x > 0.001).length,
        sequence_gaps: gaps,
        node_cpu_percent: nodeCpu.map((x) => +x.toFixed(1)),
        server_cpu_percent: +nodeCpu.reduce((a, b) => a + b, 0).toFixed(1),
        server_cpu_us_per_forward: +(cpuUs / Math.max(1, forwarded)).toFixed(2),
        idle_cpu_percent: +idleCpu.toFixed(1),
        server_cpu_us_per_forward_above_idle: +((cpuUs - (idleCpu / 100) * window * 1e6) / Math.max(1, forwarded)).toFixed(2),
        redis_cpu_percent: +((extra1.reduce((a, c, k) => a + c - extra0[k]!, 0) / CLK_TCK / window) * 100).toFixed(1),
        kernel_rcvbuf_drops: rcvbufErrors() - drops0,
      };
      if (cascadeInfo) res.cascade = await cascadeInfo();
      results.push(res);
    }
    return results;
  } finally {
    pacer?.stop();
    pub?.close();
    for (const l of loads) await l.close().catch(() => undefined);
    await sig?.close().catch(() => undefined);
  }
}

const ROOM_DEF = { request: 'create', room: ROOM, admin_key: KEY, description: 'webinar', publishers: 1, videocodec: 'vp8', bitrate: 0, fir_freq: 0 };

async function runCluster(): Promise<Result[]> {
  const redis: RedisServer = await startRedis();
  const nodes: ClusterNode[] = [];
  try {
    const prefix = `cw${process.pid}`;
    nodes.push(...(await Promise.all(['cw-a', 'cw-b', 'cw-c'].map((n) => startClusterNode(n, { redisUrl: redis.url, prefix, heartbeatMs: 1000, ttlMs: 4000, mediaWorkers: WORKERS })))));
    // Every node sees the other two before the room is made.
    await waitUntil('three nodes registered', async () => {
      const r = await fetch(nodes[0]!.srv.adminUrl, { method: 'POST', body: JSON.stringify({ janus: 'cluster_info', transaction: 'ci', admin_secret: nodes[0]!.srv.adminSecret }) });
      const j = (await r.json()) as { cluster?: { nodes?: unknown[] } };
      return (j.cluster?.nodes?.length ?? 0) === 3;
    }, 20_000);
    const a = nodes[0]!;
    const cascadeInfo = async (): Promise<string> => {
      const parts: string[] = [];
      for (const n of nodes) {
        const r = await fetch(n.srv.adminUrl, { method: 'POST', body: JSON.stringify({ janus: 'cluster_info', transaction: 'ci', admin_secret: n.srv.adminSecret }) });
        const j = (await r.json()) as { cluster: { cascade: Record<string, { links: unknown[]; incoming: unknown[] }> } };
        const c = j.cluster.cascade['janus.plugin.videoroom']!;
        parts.push(`${n.name}: ${c.links.length} out / ${c.incoming.length} in`);
      }
      return parts.join(', ');
    };
    return await webinar(
      'cluster',
      nodes.map((n) => ({ pid: n.srv.pid, wsUrl: n.srv.wsUrl })),
      async () => {
        const c = await a.api.req(a.handle, ROOM_DEF);
        if (c['videoroom'] !== 'created') throw new Error(`create: ${JSON.stringify(c)}`);
      },
      [redisPid(redis)].filter((x) => x > 0),
      cascadeInfo,
    );
  } finally {
    for (const n of nodes) await n.stop().catch(() => undefined);
    await redis.dispose();
  }
}

/** redis-server's pid, found by its port in /proc (the helper does not expose it); 0: not found. */
function redisPid(redis: RedisServer): number {
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('redis-server') && cmd.includes(`:${redis.port}`)) return Number(d);
    } catch {
      /* gone */
    }
  }
  return 0;
}

async function runSingle(): Promise<Result[]> {
  const node = await startClusterNode('cw-single', { redisUrl: null, mediaWorkers: WORKERS });
  try {
    return await webinar('single', [{ pid: node.srv.pid, wsUrl: node.srv.wsUrl }], async () => {
      const c = await node.api.req(node.handle, ROOM_DEF);
      if (c['videoroom'] !== 'created') throw new Error(`create: ${JSON.stringify(c)}`);
    }, []);
  } finally {
    await node.stop();
  }
}

async function runJanus(): Promise<Result[]> {
  const { srv, remove } = await startGateway('janus', { rooms: 1, publishers: 1, firstRoom: ROOM, rtpRange: `${PORTS + 600}-${PORTS + 999}` });
  try {
    return await webinar('janus', [{ pid: srv.pid, wsUrl: srv.wsUrl }], async () => undefined, []);
  } finally {
    await srv.stop();
    remove();
  }
}

async function main(): Promise<void> {
  const kinds: Kind[] = [];
  if (values.only !== 'single') kinds.push('cluster');
  if (values.only !== 'cluster') kinds.push('single');
  if (values.janus) kinds.push('janus');
  const results: Result[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const k of round % 2 === 0 ? kinds : [...kinds].reverse()) {
      const rs = k === 'cluster' ? await runCluster() : k === 'single' ? await runSingle() : await runJanus();
      results.push(...rs);
      if (!values.json) for (const r of rs) console.log(`${k}: ${JSON.stringify(r)}`);
    }
  }
  if (values.json) {
    console.log(JSON.stringify(results, null, 2));
    process.exit(0);
  }
  console.log(`\n1 publisher x ${N} subscribers, ${RATES.join(' then ')} packets/s of ${SIZE} bytes, ${SECONDS} s window, media_workers ${WORKERS}, ${values.rounds} round(s)\n`);
  console.log(`| | ${results.map((r) => `${r.variant === 'cluster' ? 'Portunus, 3 nodes (A, B, C)' : r.variant === 'single' ? 'Portunus, 1 node' : 'Janus 1.1.2, 1 node'}, ${r.pps} pps`).join(' | ')} |\n|---|${results.map(() => '---').join('|')}|`);
  const row = (label: string, f: (r: Result) => string | number) => console.log(`| ${label} | ${results.map(f).join(' | ')} |`);
  row('subscribers per node', (r) => r.subscribers_per_node.join(' / '));
  row('forwarded packets/s (to subscribers)', (r) => r.forwarded_per_s);
  row('loss per subscriber, mean / max (%)', (r) => `${r.loss_mean_percent} / ${r.loss_max_percent}`);
  row('subscribers with loss / sequence gaps', (r) => `${r.subscribers_with_loss} / ${r.sequence_gaps}`);
  row('CPU per node (% of one core)', (r) => r.node_cpu_percent.join(' / '));
  row('server CPU, all nodes (% of one core)', (r) => r.server_cpu_percent);
  row('server CPU µs per forwarded packet', (r) => r.server_cpu_us_per_forward);
  row('idle server CPU before the publisher (% of one core)', (r) => r.idle_cpu_percent);
  row('server CPU above idle, µs per forwarded packet', (r) => r.server_cpu_us_per_forward_above_idle);
  row('Redis CPU (%)', (r) => (r.variant === 'cluster' ? r.redis_cpu_percent : '-'));
  row('UDP receive-buffer drops (machine)', (r) => r.kernel_rcvbuf_drops);
  row('cascade (links out / remote publishers in)', (r) => r.cascade ?? '-');
  row('load average (1 min)', (r) => r.load_average);
  // The marginal cost: the slope of server CPU against forwarded packets between the first and last
  // rate (same room, same subscribers): timers, heartbeats and per-PeerConnection periodic work cancel.
  // A round whose subscribers lost more than MAX_LOSS_PERCENT is left out: the load clients (or the
  // server) fell behind, so "forwarded" is what starved receivers took in, not what the server sent, and
  // the slope means nothing (on a machine at load 20+ a window can lose half its packets).
  const MAX_LOSS_PERCENT = 1;
  const marginal = new Map<Kind, number[]>();
  const perRound = new Map<Kind, (number | null)[]>();
  for (let i = 0; i + RATES.length <= results.length && RATES.length > 1; i += RATES.length) {
    const lo = results[i]!;
    const hi = results[i + RATES.length - 1]!;
    const us = ((hi.server_cpu_percent - lo.server_cpu_percent) / 100) * 1e6 / Math.max(1, hi.forwarded_per_s - lo.forwarded_per_s);
    const lossy = results.slice(i, i + RATES.length).some((r) => r.loss_mean_percent > MAX_LOSS_PERCENT);
    perRound.set(lo.variant, [...(perRound.get(lo.variant) ?? []), lossy ? null : us]);
    if (lossy) {
      console.log(`${lo.variant}, round ${(perRound.get(lo.variant) ?? []).length}: left out (loss above ${MAX_LOSS_PERCENT} %; slope would be ${us.toFixed(2)} µs)`);
      continue;
    }
    marginal.set(lo.variant, [...(marginal.get(lo.variant) ?? []), us]);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // Rounds on a shared machine scatter: the median and the range, not only the mean.
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const spread = (xs: number[]) => `median ${median(xs).toFixed(2)}, min ${Math.min(...xs).toFixed(2)}, max ${Math.max(...xs).toFixed(2)}`;
  for (const [k, xs] of marginal) console.log(`marginal server CPU per forwarded packet, ${k}: ${mean(xs).toFixed(2)} µs mean, ${spread(xs)} (${xs.map((x) => x.toFixed(2)).join(', ')})`);
  const mc = marginal.get('cluster');
  const ms = marginal.get('single');
  if (mc && ms) {
    console.log(`cascade, marginal: ${mean(mc).toFixed(2)} µs vs ${mean(ms).toFixed(2)} µs per forwarded packet on one node: ${mean(mc) >= mean(ms) ? '+' : ''}${(mean(mc) - mean(ms)).toFixed(2)} µs (x${(mean(mc) / mean(ms)).toFixed(2)})`);
    // Per round (cluster and single of the same round ran back to back): the difference's median and range.
    const rc = perRound.get('cluster') ?? [];
    const rs = perRound.get('single') ?? [];
    const diffs = rc.flatMap((c, i) => (c !== null && rs[i] !== null && rs[i] !== undefined ? [c - rs[i]!] : []));
    if (diffs.length > 0) console.log(`cascade, marginal, per round (both valid): ${diffs.map((d) => d.toFixed(2)).join(', ')} µs: ${spread(diffs)}`);
  }
  for (const pps of RATES) {
    const c = results.filter((r) => r.variant === 'cluster' && r.pps === pps);
    const s1 = results.filter((r) => r.variant === 'single' && r.pps === pps);
    if (c.length === 0 || s1.length === 0) continue;
    const m = (xs: Result[], f: (r: Result) => number) => xs.reduce((a, r) => a + f(r), 0) / xs.length;
    for (const [what, f] of [['all server CPU', (r: Result) => r.server_cpu_us_per_forward], ['server CPU above idle', (r: Result) => r.server_cpu_us_per_forward_above_idle]] as const) {
      const cm = m(c, f);
      const sm = m(s1, f);
      console.log(`cascade at ${pps} pps, ${what}: ${cm.toFixed(2)} µs vs ${sm.toFixed(2)} µs per forwarded packet on one node: ${cm >= sm ? '+' : ''}${(cm - sm).toFixed(2)} µs (x${(cm / sm).toFixed(2)})`);
    }
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
