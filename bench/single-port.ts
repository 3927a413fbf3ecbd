/**
 * media.single_port's cost per packet (src/media/net/udp-mux.ts) against the port-range mode (one socket
 * per PeerConnection, the socket's 'message' listener is the PeerConnection's handler).
 *
 * Part 1, in process, no I/O: the demux step alone (address -> PeerConnection) over `--peers` bound
 * addresses: the mux's lookup (port, then address string compare), and for comparison a 48-bit
 * address+port number key and a `${address}:${port}` string key; with the GCs each caused (allocation).
 * Part 2, real UDP on 127.0.0.1: a child process sends `--packets` datagrams round-robin from `--peers`
 * client sockets, to one shared socket (mux) or to `--peers` sockets (range); the receiving process's
 * CPU per received datagram is what is compared (the sender's CPU is in the child, not counted).
 *
 *   node dist/bench/single-port.js [--peers 200] [--packets 200000] [--size 1200]
 */
import { fork } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { UdpMux, type UdpMuxPort } from '../src/media/net/udp-mux.js';

const { values } = parseArgs({
  options: {
    peers: { type: 'string', default: '200' },
    packets: { type: 'string', default: '200000' },
    size: { type: 'string', default: '1200' },
    child: { type: 'string' },
  },
});
const PEERS = Number(values.peers);
const PACKETS = Number(values.packets);
const SIZE = Number(values.size);

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

if (values.child !== undefined) {
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
  console.log(`# single-port bench: ${PEERS} PeerConnections, ${PACKETS} packets of ${SIZE} bytes`);
  await micro();
  const range = await overUdp('range');
  const mux = await overUdp('mux');
  console.log(`udp  range (${PEERS} sockets): ${range.us.toFixed(2)} µs CPU/packet received (${range.got}/${PACKETS} received)`);
  console.log(`udp  mux   (1 socket):  ${mux.us.toFixed(2)} µs CPU/packet received (${mux.got}/${PACKETS} received)`);
  console.log(`udp  mux - range: ${(mux.us - range.us).toFixed(2)} µs/packet`);
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
async function overUdp(mode: 'range' | 'mux'): Promise<{ us: number; got: number }> {
  let got = 0;
  const handler = (): void => {
    got++;
  };
  const sockets: Socket[] = [];
  let mux: UdpMux | null = null;
  let targets: number[];
  if (mode === 'mux') {
    mux = await UdpMux.bind(0, { address: '127.0.0.1', bufferBytes: 8 << 20 });
    targets = [mux.port];
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
      s.on('message', handler);
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
      v.on('message', handler as never);
      mux.bindTo('127.0.0.1', cp, v);
    }
  }
  const c0 = cpuUs();
  child.send('go');
  await new Promise<void>((r) => child.once('message', () => r()));
  const cpu = cpuUs() - c0;
  child.kill();
  for (const s of sockets) s.close();
  mux?.close();
  return { us: cpu / Math.max(1, got), got };
}
