/**
 * Memory per subscriber PeerConnection, whole server process, Portunus vs Janus 1.1.2 (run on demand):
 * the server's RSS (VmRSS: every thread, Portunus's media workers included) at 0 subscribers and at
 * each step of `--steps`, with media flowing, and a least-squares line through the points: the base
 * (intercept, the process with its publishers) and the slope (kB per subscriber PeerConnection).
 *
 *   node dist/bench/subscriber-rss.js [--steps 50,100,200] [--publishers 2] [--rate 50] [--size 1100]
 *        [--workers 2] [--only portunus|janus] [--procs 2] [--settle 5] [--json] [--ports 36000]
 *
 * One room with P publishers (this process, bench/vp8-load.ts pacing at `--rate` packets/s); each
 * subscriber one PeerConnection with every publisher's stream (P recvonly VP8 m-lines), light clients
 * (bench/light-client.ts) in `--procs` load processes. At each step, after `--settle` s, RSS is read
 * 3 times a second apart (median). The gateways run one after the other on the same configs content;
 * `--workers` sets Portunus's media_workers (default 2: the pool).
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { generateCertificate } from '../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import type { GatewayKind } from '../test/helpers/media-server.js';
import { LightClient } from './light-client.js';
import { LoadProcesses } from './light-load.js';
import { Signalling } from './janus-signalling.js';
import { paceVp8, type Vp8Pacer } from './vp8-load.js';
import { rssKb, startGateway } from './gateway-under-test.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '50,100,200' },
    publishers: { type: 'string', default: '2' },
    rate: { type: 'string', default: '50' },
    size: { type: 'string', default: '1100' },
    workers: { type: 'string', default: '2' },
    only: { type: 'string' },
    procs: { type: 'string', default: '2' },
    settle: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    /** Ports (a shared machine): the server's RTP range is this..+499, the clients' the next 500. Unset: 21000-21999 and 47000-47999. */
    ports: { type: 'string' },
  },
});
const STEPS = values.steps.split(',').map(Number);
const P = Number(values.publishers);
const ROOM = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cert = generateCertificate();
const PORTS = values.ports !== undefined ? Number(values.ports) : null;
const allocator = new UdpPortAllocator({ range: PORTS !== null ? { min: PORTS + 500, max: PORTS + 599 } : { min: 47000, max: 47999 } });

interface Result {
  gateway: GatewayKind;
  /** [subscribers, RSS kB] with media flowing. */
  points: Array<[number, number]>;
  rss_idle_kb: number;
  base_kb: number;
  per_subscriber_kb: number;
  load_average: number[];
  loss_percent_last_step: number;
}

/** Least squares y = a + b x. */
function fit(points: Array<[number, number]>): { a: number; b: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const b = sxx > 0 ? sxy / sxx : 0;
  return { a: my - b * mx, b };
}

const loadAvg = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

async function steadyRss(pid: number): Promise<number> {
  await sleep(Number(values.settle) * 1000);
  const r: number[] = [];
  for (let i = 0; i < 3; i++) {
    r.push(rssKb(pid));
    await sleep(1000);
  }
  return r.sort((a, b) => a - b)[1]!;
}

async function runOne(kind: GatewayKind): Promise<Result> {
  const { srv, address, remove } = await startGateway(kind, { workers: kind === 'portunus' ? Number(values.workers) : undefined, rooms: 1, publishers: P, firstRoom: ROOM, ...(PORTS !== null ? { rtpRange: `${PORTS}-${PORTS + 499}` } : {}) });
  const pubs: LightClient[] = [];
  let sig: Signalling | undefined;
  let pacer: Vp8Pacer | undefined;
  let load: LoadProcesses | undefined;
  try {
    await sleep(2000);
    const idle = await steadyRss(srv.pid);
    sig = await Signalling.open(srv.wsUrl);
    const feeds: number[] = [];
    for (let i = 0; i < P; i++) {
      const h = await sig.attach();
      const joined = await sig.message(h, { request: 'join', ptype: 'publisher', room: ROOM, display: `pub${i}` });
      feeds.push(joined.data.id as number);
      const c = await LightClient.create(address, cert, allocator);
      const r = await sig.message(h, { request: 'publish', videocodec: 'vp8' }, { type: 'offer', sdp: c.publisherOffer() });
      if (!r.jsep) throw new Error(`${kind}: publish without an answer`);
      c.applyAnswer(r.jsep.sdp);
      pubs.push(c);
    }
    const end = Date.now() + 30_000;
    while (!pubs.every((c) => c.up)) {
      if (Date.now() > end) throw new Error(`${kind}: publishers not up`);
      await sleep(100);
    }
    pacer = paceVp8(pubs.map((c) => c.peer), Number(values.size), Number(values.rate));
    const points: Array<[number, number]> = [[0, await steadyRss(srv.pid)]];
    const loads = [loadAvg()];
    const procs = Number(values.procs);
    load = await LoadProcesses.start({ procs, wsUrl: srv.wsUrl, address, mode: 'light', decryptEvery: 100, ...(PORTS !== null ? { portBase: PORTS + 600, portsPerProc: Math.floor(400 / procs) } : {}) });
    let have = 0;
    for (const target of STEPS) {
      // A few joins at a time: setup of hundreds of PeerConnections one by one takes long.
      while (have < target) {
        const batch = Math.min(4, target - have);
        await Promise.all(Array.from({ length: batch }, () => load!.subscribe(ROOM, feeds)));
        have += batch;
      }
      const until = Date.now() + 60_000;
      for (;;) {
        const st = await load.states();
        if (st.reduce((a, x) => a + x.up, 0) === have) break;
        const closed = st.flatMap((x) => x.closed);
        if (closed.length > 0 || Date.now() > until) throw new Error(`${kind}: subscribers not up (${closed[0] ?? 'timeout'})`);
        await sleep(200);
      }
      points.push([have, await steadyRss(srv.pid)]);
      loads.push(loadAvg());
      if (!values.json) console.error(`${kind}: ${have} subscribers, RSS ${points.at(-1)![1]} kB`);
    }
    // Loss over 2 s at the last step: memory figures of a server that is not keeping up mean little.
    const s0 = LoadProcesses.received(await load.states());
    const sent0 = pacer.sent.reduce((a, b) => a + b, 0);
    await sleep(2000);
    const sent1 = pacer.sent.reduce((a, b) => a + b, 0);
    await sleep(300);
    const s1 = LoadProcesses.received(await load.states());
    const got = s1.reduce((a, n, i) => a + n - s0[i]!, 0);
    const expected = (sent1 - sent0) * s1.length;
    const { a, b } = fit(points);
    return {
      gateway: kind,
      points,
      rss_idle_kb: idle,
      base_kb: Math.round(a),
      per_subscriber_kb: Math.round(b),
      load_average: loads,
      loss_percent_last_step: +Math.max(0, (1 - got / expected) * 100).toFixed(2),
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

async function main(): Promise<void> {
  const kinds: GatewayKind[] = values.only ? [values.only as GatewayKind] : ['portunus', 'janus'];
  const results: Result[] = [];
  for (const k of kinds) {
    const r = await runOne(k);
    results.push(r);
    console.log(JSON.stringify(r));
  }
  if (!values.json) {
    console.log(`\n${P} publishers at ${values.rate} packets/s, subscribers with ${P} streams each; RSS in MB\n`);
    console.log(`| | idle | ${['0', ...STEPS].map((n) => `${n} subs`).join(' | ')} | base (fit) | per subscriber (fit) | loss at last step |`);
    console.log(`|---|---|${['0', ...STEPS].map(() => '---').join('|')}|---|---|---|`);
    for (const r of results)
      console.log(`| ${r.gateway} | ${(r.rss_idle_kb / 1024).toFixed(1)} | ${r.points.map((p) => (p[1] / 1024).toFixed(1)).join(' | ')} | ${(r.base_kb / 1024).toFixed(1)} MB | ${r.per_subscriber_kb} kB | ${r.loss_percent_last_step} % |`);
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
