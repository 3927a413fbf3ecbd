/**
 * media.single_port's cost per packet (src/media/net/udp-mux.ts) against the port-range mode (one socket
 * per PeerConnection, the socket's 'message' listener is the PeerConnection's handler).
 *
 * Part 1, in process, no I/O: the demux step alone (address -> PeerConnection) over `--peers` bound
 * addresses: the mux's lookup (port, then address string compare), and for comparison a 48-bit
 * address+port number key and a `${address}:${port}` string key; with the GCs each caused (allocation).
 * Part 2, real UDP on 127.0.0.1: a child process sends `--packets` datagrams round-robin from `--peers`
 * client sockets, to `--peers` sockets (range), to one shared socket read on the thread of its
 * PeerConnections (mux: what each worker does with single_port_per_worker), or to the process's one
 * port read by the main thread and handed to a media worker thread through the rings (oneport:
 * port-reader.ts + port-link.ts, the default with media workers). The receiving process's CPU (all
 * its threads) per received datagram is what is compared (the sender's CPU is in the child). With
 * `--echo` every datagram is also sent back by its PeerConnection (in oneport: through the ring back
 * and the main thread's socket), so the send path is in the figure too.
 *
 * Mode fdsend (with --echo only; a probe, not something Portunus does): as oneport, but the worker
 * sends its echoes itself on a dgram socket opened on the main thread's file descriptor (Node internals:
 * the handle's fd, bind({ fd }), receiving stopped on the worker's handle), i.e. the "workers send
 * from the shared fd" alternative to the ring back, to see what it would save.
 *
 *   node dist/bench/single-port.js [--peers 200] [--packets 200000] [--size 1200] [--echo] [--modes range,mux,oneport,fdsend] [--skip-micro]
 */
import { fork } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { UdpMux, type UdpMuxPort } from '../src/media/net/udp-mux.js';
import { PortReader, type PortLinkInit } from '../src/media/net/port-reader.js';
import { PortLink } from '../src/media/net/port-link.js';
import { UfragRouter } from '../src/media/net/ufrag-router.js';

const { values } = isMainThread
  ? parseArgs({
      options: {
        peers: { type: 'string', default: '200' },
        packets: { type: 'string', default: '200000' },
        size: { type: 'string', default: '1200' },
        child: { type: 'string' },
        echo: { type: 'boolean', default: false },
        modes: { type: 'string', default: 'range,mux,oneport' },
        'skip-micro': { type: 'boolean', default: false },
      },
    })
  : { values: {} as Record<string, undefined> };
const PEERS = Number(values.peers);
const PACKETS = Number(values.packets);
const SIZE = Number(values.size);
const ECHO = values.echo === true;

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

if (!isMainThread) {
  // The media worker of the oneport mode: a PortLink's mux with one view per client, bound as their
  // first checks would have bound them (the binds go to the main thread's table through the ring).
  const { init, clientPorts, echo, fd } = workerData as { init: PortLinkInit; clientPorts: number[]; echo: boolean; fd?: number };
  const link = new PortLink(init);
  let raw: Socket | null = null;
  if (fd !== undefined) {
    raw = createSocket('udp4');
    await new Promise<void>((r) => raw!.bind({ fd } as never, () => r()));
    udpHandle(raw)?.recvStop?.(); // the main thread reads; this handle only sends
  }
  const direct = raw;
  const { mux4 } = link.attach(new UfragRouter(link.prefix));
  let got = 0;
  for (const cp of clientPorts) {
    const v = mux4.open();
    v.on('message', ((msg: Buffer, r: RemoteInfo) => {
      got++;
      if (!echo) return;
      if (direct !== null) direct.send(msg, 0, msg.length, r.port, r.address);
      else v.send(msg, 0, msg.length, r.port, r.address);
    }) as never);
    mux4.bindTo('127.0.0.1', cp, v);
  }
  parentPort!.on('message', (m) => {
    if (m === 'count') parentPort!.postMessage(got);
    else if (m === 'close') {
      link.close();
      parentPort!.close();
    }
  });
  parentPort!.postMessage('ready');
} else if (values.child !== undefined) {
  // Sender: `--child host:port,port,...` (one target port per client, or the same one for all).
  const targets = values.child.split(',').map(Number);
  const socks: Socket[] = [];
  for (let i = 0; i < PEERS; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    socks.push(s);
  }
  const pkt = Buffer.alloc(SIZE, 0);
  pkt[0] = 0x80;
  pkt[1] = 111;
  let sent = 0;
  // Bursts of 64 then a turn of the event loop: paced enough that loopback drops few.
  const burst = (): void => {
    for (let k = 0; k < 64 && sent < PACKETS; k++, sent++) socks[sent % PEERS]!.send(pkt, targets[sent % targets.length]!, '127.0.0.1');
    if (sent < PACKETS) setTimeout(burst, 0);
    else setTimeout(() => process.send!('done'), 200);
  };
  process.send!(socks.map((x) => x.address().port));
  process.once('message', () => burst());
} else {
  await main();
}

async function main(): Promise<void> {
  console.log(`# single-port bench: ${PEERS} PeerConnections, ${PACKETS} packets of ${SIZE} bytes${ECHO ? ', each echoed' : ''}`);
  if (values['skip-micro'] !== true) await micro();
  const res: Partial<Record<Mode, { us: number; got: number }>> = {};
  for (const m of String(values.modes).split(',') as Mode[]) {
    const r = await overUdp(m);
    res[m] = r;
    const label = { range: `range   (${PEERS} sockets)`, mux: 'mux     (1 socket, same thread)', oneport: 'oneport (main reads, 1 worker)', fdsend: 'fdsend  (oneport, worker sends on main\'s fd)' }[m];
    console.log(`udp  ${label}: ${r.us.toFixed(2)} µs CPU/packet received (${r.got}/${PACKETS} received${ECHO ? ', each echoed' : ''})`);
  }
  if (res.range && res.mux) console.log(`udp  mux - range: ${(res.mux.us - res.range.us).toFixed(2)} µs/packet`);
  if (res.mux && res.oneport) console.log(`udp  oneport - mux (the hand-over): ${(res.oneport.us - res.mux.us).toFixed(2)} µs/packet`);
  if (res.range && res.oneport) console.log(`udp  oneport - range: ${(res.oneport.us - res.range.us).toFixed(2)} µs/packet`);
  if (res.oneport && res.fdsend) console.log(`udp  fdsend - oneport (ring back vs direct send): ${(res.fdsend.us - res.oneport.us).toFixed(2)} µs/packet`);
}

type Mode = 'range' | 'mux' | 'oneport' | 'fdsend';

/** Node's internal UDP handle of a dgram socket (bench probe only: fd, recvStop). */
function udpHandle(s: Socket): { fd?: number; recvStop?: () => void } | undefined {
  const sym = Object.getOwnPropertySymbols(s).find((x) => x.description === 'state symbol');
  return sym ? ((s as unknown as Record<symbol, { handle?: { fd?: number; recvStop?: () => void } }>)[sym]?.handle ?? undefined) : undefined;
}

/** Part 1: demux step only. */
async function micro(): Promise<void> {
  const N = 5_000_000;
  const rinfos: RemoteInfo[] = [];
  for (let i = 0; i < PEERS; i++) rinfos.push({ address: `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`, port: 20_000 + i, family: 'IPv4', size: SIZE });
  let hits = 0;
  const sink = (): void => {
    hits++;
  };
  const EMPTY = Buffer.alloc(0);
  const mux = await UdpMux.bind(0, { address: '127.0.0.1' });
  const byNum = new Map<number, () => void>();
  const byStr = new Map<string, () => void>();
  for (const r of rinfos) {
    const v = mux.open();
    v.on('message', sink as never);
    mux.bindTo(r.address, r.port, v);
    byNum.set(ipv4Key(r.address) * 65536 + r.port, sink);
    byStr.set(`${r.address}:${r.port}`, sink);
  }
  const run = async (label: string, f: (r: RemoteInfo) => void): Promise<number> => {
    for (let i = 0; i < 200_000; i++) f(rinfos[i % PEERS]!); // warm-up
    await new Promise((r) => setTimeout(r, 100)); // GC entries are delivered asynchronously
    const gc0 = gcs;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) f(rinfos[i % PEERS]!);
    const ns = Number(process.hrtime.bigint() - t0) / N;
    await new Promise((r) => setTimeout(r, 100));
    console.log(`demux ${label}: ${ns.toFixed(1)} ns/packet, ${gcs - gc0} GCs in ${N / 1e6}M`);
    return ns;
  };
  let gcs = 0;
  const obs = new PerformanceObserver((l) => void (gcs += l.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  const direct = await run('none (port-range: the socket calls the handler)', () => sink());
  const ours = await run('mux.lookup (port Map + address compare)        ', (r) => mux.lookup(r.address, r.port)!.listener!(EMPTY, r));
  const num = await run('48-bit number key + Map<number>                ', (r) => byNum.get(ipv4Key(r.address) * 65536 + r.port)!());
  const str = await run('string key `${address}:${port}` + Map<string>  ', (r) => byStr.get(`${r.address}:${r.port}`)!());
  obs.disconnect();
  console.log(`demux extra per packet: lookup ${(ours - direct).toFixed(1)} ns, number ${(num - direct).toFixed(1)} ns, string ${(str - direct).toFixed(1)} ns (hits ${hits})`);
  mux.close();
}

/** Dotted-quad to a number (the alternative key measured above). */
function ipv4Key(a: string): number {
  let ip = 0;
  let part = 0;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c === 46) {
      ip = ip * 256 + part;
      part = 0;
    } else part = part * 10 + (c - 48);
  }
  return ip * 256 + part;
}

/** Part 2: real datagrams; the receiver's CPU per received packet. */
async function overUdp(mode: Mode): Promise<{ us: number; got: number }> {
  let got = 0;
  const handler = (): void => {
    got++;
  };
  const sockets: Socket[] = [];
  let mux: UdpMux | null = null;
  let reader: PortReader | null = null;
  let targets: number[];
  if (mode === 'mux') {
    mux = await UdpMux.bind(0, { address: '127.0.0.1', bufferBytes: 8 << 20 });
    targets = [mux.port];
  } else if (mode === 'oneport' || mode === 'fdsend') {
    reader = await PortReader.bind({ port: 0, workers: 1, bufferBytes: 8 << 20 });
    targets = [reader.port];
  } else {
    targets = [];
    for (let i = 0; i < PEERS; i++) {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      try {
        s.setRecvBufferSize(1 << 20);
      } catch {
        /* keep */
      }
      s.on('message', ECHO ? (msg: Buffer, r: RemoteInfo) => {
        got++;
        s.send(msg, r.port, r.address);
      } : handler);
      sockets.push(s);
      targets.push(s.address().port);
    }
  }
  const child = fork(fileURLToPath(import.meta.url), ['--child', targets.join(','), '--peers', String(PEERS), '--packets', String(PACKETS), '--size', String(SIZE)], { stdio: 'inherit' });
  const clientPorts = await new Promise<number[]>((r) => child.once('message', (m) => r(m as number[])));
  if (mux !== null) {
    // Each client's address bound to its own PeerConnection view, as its first check would have done
    // (the cost measured is the per-packet lookup, not the learning).
    for (const cp of clientPorts) {
      const v: UdpMuxPort = mux.open();
      v.on('message', (ECHO ? (msg: Buffer, r: RemoteInfo) => {
        got++;
        v.send(msg, 0, msg.length, r.port, r.address);
      } : handler) as never);
      mux.bindTo('127.0.0.1', cp, v);
    }
  }
  let worker: Worker | null = null;
  if (reader !== null) {
    const fd = mode === 'fdsend' ? udpHandle(reader.socket4)?.fd : undefined;
    if (mode === 'fdsend' && (fd === undefined || fd < 0)) throw new Error('fdsend: no fd on the UDP handle (Node internals changed)');
    worker = new Worker(fileURLToPath(import.meta.url), { workerData: { init: reader.link(0), clientPorts, echo: ECHO, ...(fd !== undefined ? { fd } : {}) } });
    await new Promise<void>((r) => worker!.once('message', () => r()));
    const rd = reader;
    const end = Date.now() + 5000;
    while (rd.addressCount < clientPorts.length && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }
  const c0 = cpuUs();
  child.send('go');
  await new Promise<void>((r) => child.once('message', () => r()));
  if (worker !== null) {
    // Let the worker drain what is still in its ring, then ask its count.
    await new Promise((r) => setTimeout(r, 200));
    got = await new Promise<number>((r) => {
      worker!.once('message', (n) => r(n as number));
      worker!.postMessage('count');
    });
  }
  const cpu = cpuUs() - c0;
  child.kill();
  for (const s of sockets) s.close();
  mux?.close();
  if (worker !== null) {
    worker.postMessage('close');
    await worker.terminate();
  }
  reader?.close();
  return { us: cpu / Math.max(1, got), got };
}
