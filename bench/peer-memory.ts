/**
 * Memory per server-side PeerConnection, in process (run on demand, never in tests):
 *
 *   npx tsc -p tsconfig.json --outDir dist-mem --tsBuildInfoFile dist-mem/.tsbuildinfo
 *   node --expose-gc dist-mem/bench/peer-memory.js [--subscribers 200] [--publishers 2] [--rate 50]
 *        [--seconds 5] [--snapshot] [--alloc-profile] [--json]
 *
 * The server (this process): a Gateway with the real WebRtcMediaPlane and the VideoRoom plugin, one
 * room with `--publishers` publishers; `--subscribers` subscribers each join with every publisher
 * in `streams` (one PeerConnection, P recvonly VP8 m-lines: exactly what a VideoRoom subscriber
 * gets), over real UDP on 127.0.0.1 with ICE and DTLS-SRTP.
 * The load (a child process, so its memory is not counted): the publishers' and subscribers' own
 * WebRTC clients (our Peer), publishers pacing ~1100-byte VP8-like packets at `--rate` packets/s;
 * subscriber sockets count RTP and drop it before SRTP (STUN/DTLS/RTCP go to the client's Peer).
 *
 * Measured in the server process, after two full GCs, with the publishers flowing (baseline) and
 * again with every subscriber up and media flowing for `--seconds`:
 *   heapUsed, external, arrayBuffers and RSS deltas / subscribers; plus, from the live Peers, what
 *   the media state holds (retransmission pool slots, outgoing buffer pools, SCTP, DTLS engine).
 * `--snapshot` also writes a heap snapshot at both points and prints the per-subscriber growth by
 * constructor / native name, backing stores named by who holds them (parsed in a child process; the
 * snapshots perturb RSS, so the RSS figure of a `--snapshot` run is not the one to quote).
 * `--alloc-profile` samples allocations over the flow window (including objects that died young)
 * and prints bytes allocated per forwarded packet by allocating function: what drives the young
 * generation's size (`flowing_before_gc.new_space_mb`), which is most of what an outside RSS figure
 * (bench/videoroom-fanout-e2e.ts) sees per subscriber.
 * The retransmission pools grow with the packet rate as it arrives: on a loaded machine bursts make
 * them larger (`held_per_subscriber.send_pool_slots`), so compare runs by that figure too.
 */
import { fork } from 'node:child_process';
import type { RemoteInfo, Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import type { JanusMessage } from '../src/core/messages.js';
import type { Logger } from '../src/log.js';
import { LocalCandidates } from '../src/media/candidates.js';
import { generateCertificate } from '../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import { Peer } from '../src/media/peer.js';
import { clientPeerConfig } from '../test/helpers/client-peer-config.js';
import { paceVp8, type Vp8Pacer } from './vp8-load.js';
import { buildAnswer, buildOffer, EXT, extmapsFor, type AnswerOptions } from '../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../src/media/sdp/jsep.js';
import { parseSdp } from '../src/media/sdp/parse.js';
import { writeSdp } from '../src/media/sdp/write.js';
import { VideoRoomPlugin } from '../src/plugins/videoroom/plugin.js';
import { makeWorld } from '../test/media/peer/helpers.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '200' },
    publishers: { type: 'string', default: '2' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
    snapshot: { type: 'boolean', default: false },
    'alloc-profile': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    client: { type: 'boolean', default: false },
    parse: { type: 'string', multiple: true },
  },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet: Logger = { fatal() {}, error() {}, warn() {}, info() {}, verb() {}, huge() {}, debug() {}, enabled: () => false, child: () => quiet };

// =============================================================================================
// Load side (child process): client Peers driven over IPC.

type ToChild =
  | { id: number; op: 'publisher' }
  | { id: number; op: 'answer'; client: number; sdp: string }
  | { id: number; op: 'subscriber'; offer: string }
  | { id: number; op: 'status' }
  | { id: number; op: 'pace'; rate: number }
  | { id: number; op: 'exit' };

class CountingSocket extends EventEmitter {
  rtp = 0;
  swallowRtp = false;
  constructor(readonly real: Socket) {
    super();
    real.on('message', (m: Buffer, r: RemoteInfo) => {
      const b0 = m[0]!;
      if (this.swallowRtp && b0 >= 128 && b0 < 192 && m.length >= 12) {
        const pt = m[1]! & 0x7f;
        if (pt < 64 || pt > 95) {
          this.rtp++;
          return;
        }
      }
      this.emit('message', m, r);
    });
  }
  send(...args: unknown[]): void {
    (this.real.send as (...a: unknown[]) => void)(...args);
  }
  getSendQueueCount(): number {
    return this.real.getSendQueueCount();
  }
  close(): void {
    this.real.close();
  }
}

async function clientMain(): Promise<void> {
  const cert = generateCertificate();
  const allocator = new UdpPortAllocator({ range: { min: 0, max: 0 } });
  const candidates = await LocalCandidates.create({ enforceList: ['127.0.0.1'] });
  const FB = ['nack', 'nack pli', 'ccm fir', 'goog-remb'];
  const clients: Array<{ peer: Peer; socket: CountingSocket; up: boolean; closed: string | null }> = [];
  const pubs: number[] = [];
  const make = async (swallow: boolean): Promise<number> => {
    const sock = await allocator.allocate('127.0.0.1');
    const socket = new CountingSocket(sock.socket);
    socket.swallowRtp = swallow;
    const cfg = clientPeerConfig(cert);
    const c = { peer: undefined as unknown as Peer, socket, up: false, closed: null as string | null };
    c.peer = new Peer(0, socket as unknown as Socket, sock.port, candidates.hostCandidates(sock.port)!, cfg, {
      webrtcUp: () => (c.up = true),
      mediaState: () => {},
      slowLink: () => {},
      iceFailed: () => {},
      closed: (r) => (c.closed = r),
      localCandidate: () => {},
    });
    c.peer.setSink({ incomingRtp: () => {}, incomingRtcp: () => {}, incomingData: () => {}, dataReady: () => {} });
    clients.push(c);
    return clients.length - 1;
  };
  let pacer: Vp8Pacer | undefined;
  const reply = (id: number, v: unknown) => process.send!({ id, v });
  process.on('message', (m: ToChild) => {
    void (async () => {
      switch (m.op) {
        case 'publisher': {
          const i = await make(false);
          pubs.push(i);
          const d = buildOffer([{ kind: 'video', mid: '0', direction: 'sendonly', codec: { name: 'vp8', pt: 96, rtcpFb: FB }, extensions: extmapsFor([EXT.mid]) }]);
          reply(m.id, { client: i, sdp: clients[i]!.peer.setLocalDescription(writeSdp(d), 'offer') });
          break;
        }
        case 'answer': {
          const d = parseSdp(m.sdp);
          clients[m.client]!.peer.setRemoteDescription(d, extractRemoteTransport(d, { type: 'answer' }), 'answer');
          reply(m.id, true);
          break;
        }
        case 'subscriber': {
          const i = await make(true);
          const c = clients[i]!;
          const offer = parseSdp(m.offer);
          c.peer.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
          const { description } = buildAnswer(offer, (s): AnswerOptions =>
            s.kind === 'video' ? { codecs: ['vp8'], direction: 'recvonly', extensions: [EXT.mid], rtcpFb: FB, rtx: false, simulcast: false } : { accept: false },
          );
          reply(m.id, { client: i, sdp: c.peer.setLocalDescription(writeSdp(description), 'answer') });
          break;
        }
        case 'status':
          reply(m.id, { up: clients.filter((c) => c.up).length, closed: clients.filter((c) => c.closed).length, rtp: clients.reduce((a, c) => a + c.socket.rtp, 0) });
          break;
        case 'pace': {
          pacer?.stop();
          const rate = m.rate;
          if (rate > 0) {
            pacer = paceVp8(pubs.map((ci) => clients[ci]!.peer), 1100, rate);
          }
          reply(m.id, true);
          break;
        }
        case 'exit':
          pacer?.stop();
          for (const c of clients) c.peer.close();
          reply(m.id, true);
          setTimeout(() => process.exit(0), 200);
          break;
      }
    })().catch((err) => {
      console.error('client side failed:', err);
      process.exit(1);
    });
  });
}

// =============================================================================================
// Heap snapshot attribution (child process: parsing a snapshot costs far more than the heap).

interface Agg {
  [key: string]: { count: number; size: number };
}

function aggregate(file: string): Agg {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const w = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const iEdges = f.indexOf('edge_count');
  const ef = snap.snapshot.meta.edge_fields;
  const ew = ef.length;
  const eType = ef.indexOf('type');
  const eName = ef.indexOf('name_or_index');
  const eTo = ef.indexOf('to_node');
  const edgeTypes = snap.snapshot.meta.edge_types[0];
  const out: Agg = {};
  const nodes = snap.nodes;
  const edges = snap.edges;
  const n = nodes.length / w;
  // Reverse edges (first non-weak retainer of each node), to say who holds each backing store.
  const firstEdge = new Int32Array(n + 1);
  for (let k = 0, e = 0; k < n; k++) {
    firstEdge[k] = e;
    e += nodes[k * w + iEdges]! * ew;
  }
  firstEdge[n] = edges.length;
  const retainer = new Int32Array(n).fill(-1);
  const retainerEdge = new Array<string>(n);
  for (let k = 0; k < n; k++) {
    for (let e = firstEdge[k]!; e < firstEdge[k + 1]!; e += ew) {
      const et = edgeTypes[edges[e + eType]!]!;
      if (et === 'weak' || et === 'shortcut') continue;
      const to = edges[e + eTo]! / w;
      if (retainer[to] === -1) {
        retainer[to] = k;
        retainerEdge[to] = et === 'element' || et === 'hidden' ? `[${edges[e + eName]}]` : String(snap.strings[edges[e + eName]!]);
      }
    }
  }
  const nameOf = (k: number) => snap.strings[nodes[k * w + iName]!]!;
  for (let i = 0; i < nodes.length; i += w) {
    const type = types[nodes[i + iType]!]!;
    let name = snap.strings[nodes[i + iName]!]!;
    // Strings and code are grouped by type; objects by constructor; natives by their label.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(strings)';
    else if (type === 'code') name = '(code)';
    else if (type === 'number' || type === 'hidden' || type === 'synthetic') name = `(${type})`;
    else if (type === 'closure') name = '(closures)';
    else if (type === 'array') name = `(array) ${name.length > 40 ? '' : name}`;
    if (type === 'native' && name === 'system / JSArrayBufferData') {
      // Backing store -> ArrayBuffer -> view (Buffer...) -> holder: name the holder and its field.
      let k = retainer[i / w]!;
      const path: string[] = [];
      for (let hop = 0; hop < 4 && k >= 0; hop++) {
        const r = retainer[k]!;
        if (r < 0) break;
        const holder = nameOf(r);
        path.push(`${holder}.${retainerEdge[k]}`);
        if (!/^(ArrayBuffer|Buffer|Uint8Array|FastBuffer|Object|\(.*\)|Array|system.*)$/.test(holder)) break;
        k = r;
      }
      name = `${name} <- ${path.join(' <- ')}`;
    }
    const key = `${type === 'object' ? '' : type === 'native' ? 'native: ' : ''}${name}`;
    const a = (out[key] ??= { count: 0, size: 0 });
    a.count++;
    a.size += nodes[i + iSize]!;
  }
  return out;
}

function parseMain(files: string[]): void {
  const [a, b, nStr] = files as [string, string, string];
  const n = Number(nStr);
  const before = aggregate(a);
  const after = aggregate(b);
  const rows = Object.keys(after)
    .map((k) => ({ k, count: (after[k]!.count - (before[k]?.count ?? 0)) / n, size: (after[k]!.size - (before[k]?.size ?? 0)) / n }))
    .filter((r) => Math.abs(r.size) >= 256)
    .sort((x, y) => y.size - x.size)
    .slice(0, 40);
  const total = rows.reduce((s, r) => s + r.size, 0);
  process.send!({ rows, total });
}

// =============================================================================================
// Server side (this process).

async function serverMain(): Promise<void> {
  const S = Number(values.subscribers);
  const P = Number(values.publishers);
  const RATE = Number(values.rate);
  const SECONDS = Number(values.seconds);
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const gc = globalThis.gc as () => void;

  const child = fork(process.argv[1]!, ['--client'], { execArgv: [] });
  let nextId = 0;
  const pending = new Map<number, (v: unknown) => void>();
  child.on('message', (m: { id: number; v: unknown }) => pending.get(m.id)?.(m.v));
  child.on('exit', (code) => {
    if (code !== 0) console.error(`client process exited with ${code}`);
  });
  const call = <T>(msg: Record<string, unknown>): Promise<T> =>
    new Promise((resolve) => {
      const id = ++nextId;
      pending.set(id, (v) => {
        pending.delete(id);
        resolve(v as T);
      });
      child.send({ id, ...msg });
    });

  const w = await makeWorld(
    (c) => {
      c.media.rtp_port_range = { min: 31000, max: 31999 };
    },
    { plugins: [new VideoRoomPlugin()] },
  );
  const { req, client } = w;
  const s = ((await req({ janus: 'create' })).data as { id: number }).id;
  const attach = async (): Promise<number> => ((await req({ janus: 'attach', session_id: s, plugin: 'janus.plugin.videoroom' })).data as { id: number }).id;
  let tn = 0;
  const message = async (h: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<{ data: Record<string, unknown>; jsep?: { type: string; sdp: string } }> => {
    const transaction = `m${++tn}`;
    const r = await req({ janus: 'message', session_id: s, handle_id: h, transaction, body, ...(jsep ? { jsep } : {}) } as JanusMessage);
    let ev: JanusMessage | undefined = r.janus === 'ack' ? undefined : r;
    const end = Date.now() + 20_000;
    while (!ev) {
      ev = client.events.find((e) => e.transaction === transaction && e.janus !== 'ack');
      if (Date.now() > end) throw new Error(`no reply to ${JSON.stringify(body)}`);
      if (!ev) await sleep(5);
    }
    client.events.splice(client.events.indexOf(ev), 1);
    const data = ((ev.plugindata as { data?: Record<string, unknown> } | undefined)?.data ?? {}) as Record<string, unknown>;
    if (ev.janus === 'error' || data.error) throw new Error(`${JSON.stringify(body)}: ${JSON.stringify(ev.error ?? data)}`);
    return { data, ...(ev.jsep ? { jsep: ev.jsep as { type: string; sdp: string } } : {}) };
  };
  const waitUp = async (n: number, what: string): Promise<void> => {
    const end = Date.now() + 120_000;
    for (;;) {
      const st = await call<{ up: number; closed: number }>({ op: 'status' });
      if (st.closed > 0) throw new Error(`${st.closed} client PeerConnection(s) closed`);
      if (st.up >= n) return;
      if (Date.now() > end) throw new Error(`timed out: ${what} (${st.up}/${n} up)`);
      await sleep(100);
    }
  };
  // Drop the events the core queued for us (webrtcup, media...): they are this bench's, not the server's.
  const drain = () => void (client.events.length = 0);

  const admin = await attach();
  await message(admin, { request: 'create', room: 4000, publishers: P, bitrate: 0, fir_freq: 0, videocodec: 'vp8' });
  const feeds: number[] = [];
  for (let i = 0; i < P; i++) {
    const h = await attach();
    const joined = await message(h, { request: 'join', ptype: 'publisher', room: 4000, display: `pub${i}` });
    feeds.push(joined.data.id as number);
    const offer = await call<{ client: number; sdp: string }>({ op: 'publisher' });
    const r = await message(h, { request: 'publish', videocodec: 'vp8' }, { type: 'offer', sdp: offer.sdp });
    await call({ op: 'answer', client: offer.client, sdp: r.jsep!.sdp });
  }
  await waitUp(P, 'publishers');
  await call({ op: 'pace', rate: RATE });
  await sleep(1500);
  drain();

  const measure = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    const newSpace = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0;
    return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss, heapTotal: m.heapTotal, newSpace };
  };
  const base = measure();
  const snapA = values.snapshot ? v8.writeHeapSnapshot(join(tmpdir(), `peer-memory-a-${process.pid}.heapsnapshot`)) : null;

  const t0 = Date.now();
  const subHandles: number[] = [];
  for (let i = 0; i < S; i++) {
    const h = await attach();
    const r = await message(h, { request: 'join', ptype: 'subscriber', room: 4000, streams: feeds.map((feed) => ({ feed })) });
    const ans = await call<{ client: number; sdp: string }>({ op: 'subscriber', offer: r.jsep!.sdp });
    await message(h, { request: 'start', room: 4000 }, { type: 'answer', sdp: ans.sdp });
    subHandles.push(h);
    if (i % 20 === 19) drain();
  }
  await waitUp(P + S, 'subscribers');
  const setupS = (Date.now() - t0) / 1000;
  await sleep(1000);
  const profiler = values['alloc-profile'] ? await startAllocationProfile() : null;
  const rtp0 = (await call<{ rtp: number }>({ op: 'status' })).rtp;
  await sleep(SECONDS * 1000);
  const rtp1 = (await call<{ rtp: number }>({ op: 'status' })).rtp;
  // What an outside observer (the e2e bench's VmRSS) sees while media flows, before any forced GC.
  const flowing = { rss: process.memoryUsage().rss, newSpace: v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0 };
  const allocations = profiler ? await profiler.stop(rtp1 - rtp0) : undefined;
  drain();
  const after = measure();

  // What the live server-side subscriber Peers hold (private state, read for diagnosis only).
  const held = { sendPoolSlots: 0, sendPoolBytes: 0, sendIndexBytes: 0, freeOut: 0, inflightOut: 0, sctp: 0, dtls: 0, dtlsHandshakeBytes: 0, streams: 0 };
  for (const h of subHandles) {
    const p = w.plane.peerOf(h) as unknown as Record<string, any> | undefined;
    if (!p) continue;
    held.freeOut += p.free.length;
    held.inflightOut += p.inflight.length;
    if (p.sctp) held.sctp++;
    if (p.dtls) {
      held.dtls++;
      held.dtlsHandshakeBytes += p.dtls.handshakeStateBytes ?? (p.dtls.transcript as Buffer[]).reduce((a, b) => a + b.length, 0);
    }
    for (const ls of p.session.local as Array<Record<string, any>>) {
      held.streams++;
      const b = ls.buffer;
      if (!b) continue;
      held.sendPoolSlots += b.allocatedSlots;
      // (before the compact index: 26 bytes per index entry and maxPacketSize per slot)
      const index = b.footprintBytes !== undefined ? b.slotOf.byteLength : b.capacity * 26;
      held.sendIndexBytes += index;
      held.sendPoolBytes += b.footprintBytes !== undefined ? b.footprintBytes - index : b.allocatedSlots * b.maxPacketSize;
    }
  }

  const per = (k: keyof typeof base) => Math.round((after[k] - base[k]) / S);
  const result: Record<string, unknown> = {
    subscribers: S,
    publishers: P,
    rate_per_publisher: RATE,
    forwarded_per_s: Math.round((rtp1 - rtp0) / SECONDS),
    setup_s: +setupS.toFixed(1),
    per_subscriber_bytes: { heapUsed: per('heapUsed'), external: per('external'), arrayBuffers: per('arrayBuffers'), rss: per('rss'), heapTotal: per('heapTotal') },
    flowing_before_gc: { rss_per_subscriber: Math.round((flowing.rss - base.rss) / S), new_space_mb: +(flowing.newSpace / 2 ** 20).toFixed(1) },
    baseline_mb: { heapUsed: +(base.heapUsed / 2 ** 20).toFixed(1), rss: +(base.rss / 2 ** 20).toFixed(1), new_space: +(base.newSpace / 2 ** 20).toFixed(1) },
    held_per_subscriber: {
      outgoing_streams: held.streams / S,
      send_pool_slots: +(held.sendPoolSlots / S).toFixed(1),
      send_pool_bytes: Math.round(held.sendPoolBytes / S),
      send_index_bytes: Math.round(held.sendIndexBytes / S),
      free_out_buffers: +(held.freeOut / S).toFixed(1),
      free_out_bytes: Math.round((held.freeOut * 1600) / S),
      inflight_out_buffers: +(held.inflightOut / S).toFixed(1),
      sctp_associations: held.sctp / S,
      dtls_endpoints: held.dtls / S,
      dtls_handshake_bytes: Math.round(held.dtlsHandshakeBytes / S),
    },
  };

  let attribution: unknown = undefined;
  if (snapA) {
    const snapB = v8.writeHeapSnapshot(join(tmpdir(), `peer-memory-b-${process.pid}.heapsnapshot`));
    const parser = fork(process.argv[1]!, ['--parse', snapA, '--parse', snapB, '--parse', String(S)], { execArgv: ['--max-old-space-size=6000'] });
    attribution = await new Promise((resolve) => parser.on('message', resolve));
    unlinkSync(snapA);
    unlinkSync(snapB);
  }

  if (allocations) result.allocations = allocations;
  await call({ op: 'exit' });
  await w.stop();
  if (values.json) console.log(JSON.stringify({ ...result, attribution }));
  else {
    console.log(JSON.stringify(result, null, 2));
    if (attribution) {
      const a = attribution as { rows: Array<{ k: string; count: number; size: number }>; total: number };
      console.log(`\nheap growth per subscriber by constructor / native (top rows, ${Math.round(a.total)} B total):`);
      for (const r of a.rows) console.log(`${String(Math.round(r.size)).padStart(9)} B  ${r.count.toFixed(1).padStart(8)} x  ${r.k}`);
    }
  }
  process.exit(0);
}

/**
 * V8's sampling heap profiler over the flow window, counting objects that died young too: the
 * per-packet allocations (what makes the young generation, and so RSS, grow with the packet rate).
 */
async function startAllocationProfile(): Promise<{ stop(forwarded: number): Promise<unknown> }> {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<any> =>
    new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return {
    async stop(forwarded: number) {
      const { profile } = await post('HeapProfiler.stopSampling');
      session.disconnect();
      type Node = { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] };
      const by = new Map<string, number>();
      let total = 0;
      const walk = (n: Node, path: string[]) => {
        const f = n.callFrame;
        const here = `${f.functionName || '(anon)'} ${f.url.replace(/^.*\/(dist-[^/]+|node_modules)\//, '').replace(/^node:/, '')}:${f.lineNumber + 1}`;
        if (n.selfSize > 0) {
          // Attribute to the allocating frame and its two callers: enough to see which path allocates.
          const key = [here, ...path.slice(-2).reverse()].join(' <- ');
          by.set(key, (by.get(key) ?? 0) + n.selfSize);
          total += n.selfSize;
        }
        for (const c of n.children) walk(c, [...path, here]);
      };
      walk(profile.head as Node, []);
      return {
        bytes_per_forward: +(total / Math.max(1, forwarded)).toFixed(1),
        top: [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => `${(v / Math.max(1, forwarded)).toFixed(1)} B/fwd  ${k}`),
      };
    },
  };
}

if (values.client) void clientMain();
else if (values.parse) parseMain(values.parse);
else
  serverMain().catch((err) => {
    console.error(err);
    process.exit(1);
  });
