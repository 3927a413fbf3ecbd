/**
 * A Portunus gateway with the real media plane and the EchoTest, plus a client PeerConnection built
 * from our own media modules (a Peer acting as the offerer), over real UDP sockets on 127.0.0.1.
 */
import { EventEmitter } from 'node:events';
import type { RemoteInfo, Socket } from 'node:dgram';
import { defaultJanusConfig } from '../../../src/config/schema.js';
import type { JanusConfig } from '../../../src/config/types.js';
import { Gateway } from '../../../src/core/gateway.js';
import type { JanusMessage } from '../../../src/core/messages.js';
import type { MediaSink, TrickleCandidate } from '../../../src/core/media-plane.js';
import type { Plugin, RtpStreamInfo } from '../../../src/core/plugin.js';
import type { SessionOverReason, TransportClient } from '../../../src/core/transport.js';
import type { Logger } from '../../../src/log.js';
import { LocalCandidates } from '../../../src/media/candidates.js';
import { generateCertificate } from '../../../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../../../src/media/net/port-allocator.js';
import { Peer, type PeerConfig } from '../../../src/media/peer.js';
import { WebRtcMediaPlane, type WebRtcMediaPlaneOptions } from '../../../src/media/plane.js';
import { buildOffer, EXT, extmapsFor } from '../../../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../../../src/media/sdp/jsep.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { EchoTestPlugin } from '../../../src/plugins/echotest/plugin.js';
import { clientPeerConfig } from '../../helpers/client-peer-config.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const quietLog: Logger = {
  fatal() {},
  error() {},
  warn() {},
  info() {},
  verb() {},
  huge() {},
  debug() {},
  enabled: () => false,
  child: () => quietLog,
};

export class RecordingClient implements TransportClient {
  readonly transport = 'test.transport';
  events: JanusMessage[] = [];
  sendEvent(_id: number, ev: JanusMessage): void {
    this.events.push(ev);
  }
  sessionOver(_id: number, _reason: SessionOverReason): void {}
}

export async function waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

let nextRange = 43000 + (process.pid % 20) * 100;

export interface World {
  gw: Gateway;
  plane: WebRtcMediaPlane;
  client: RecordingClient;
  config: JanusConfig;
  req(body: JanusMessage): Promise<JanusMessage>;
  /** create + attach to the EchoTest: [session, handle]. */
  attachEcho(): Promise<[number, number]>;
  stop(): Promise<void>;
}

export interface WorldOptions {
  /** Extra plane options (iceTiming...). */
  plane?: Partial<WebRtcMediaPlaneOptions>;
  /** Plugins (default: the EchoTest). */
  plugins?: Plugin[];
  /** Let the plane discover its candidates from `config.nat` (STUN probe, 1:1 NAT) instead of host-only ones. */
  discover?: boolean;
}

export async function makeWorld(tune?: (c: JanusConfig) => void, opts: WorldOptions = {}): Promise<World> {
  const config = defaultJanusConfig('/nonexistent');
  const base = nextRange;
  nextRange += 20;
  config.media.rtp_port_range = { min: base, max: base + 9 };
  config.nat.ice_enforce_list = ['127.0.0.1'];
  config.general.admin_secret = 'adm';
  tune?.(config);
  const candidates = opts.discover
    ? undefined
    : await LocalCandidates.create({ enforceList: config.nat.ice_enforce_list, ...(config.nat.nat_1_1_mapping.length ? { nat11Mapping: config.nat.nat_1_1_mapping } : {}) });
  const plane = await WebRtcMediaPlane.create({ config, ...(candidates ? { candidates } : {}), log: quietLog, ...(opts.plane ?? {}) });
  const gw = new Gateway({ config, plugins: opts.plugins ?? [new EchoTestPlugin()], mediaPlane: plane, watchdogIntervalMs: 60_000, log: quietLog });
  await gw.start();
  const client = new RecordingClient();
  let n = 0;
  const req = (body: JanusMessage) => gw.handle({ transaction: `t${++n}`, ...body }, client);
  return {
    gw,
    plane,
    client,
    config,
    req,
    async attachEcho() {
      const s = ((await req({ janus: 'create' })).data as { id: number }).id;
      const h = ((await req({ janus: 'attach', session_id: s, plugin: 'janus.plugin.echotest' })).data as { id: number }).id;
      return [s, h];
    },
    async stop() {
      await gw.stop();
    },
  };
}

/** A dgram socket stand-in that can drop incoming datagrams (to simulate loss). */
class LossySocket extends EventEmitter {
  drop: ((msg: Buffer) => boolean) | null = null;
  constructor(readonly real: Socket) {
    super();
    real.on('message', (m: Buffer, r: RemoteInfo) => {
      if (this.drop?.(m)) return;
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

export interface ClientPeer {
  peer: Peer;
  socket: LossySocket;
  rtp: Array<{ stream: RtpStreamInfo; bytes: Buffer }>;
  data: Array<{ label: string; text: string; binary: boolean }>;
  ready: string[];
  closedReason: string | null;
  localCandidates: TrickleCandidate[];
  up: boolean;
  close(): void;
}

const clientCert = generateCertificate();
/** Client sockets on ephemeral ports (never inside a server's rtp_port_range). */
const clientAllocator = new UdpPortAllocator({ range: { min: 0, max: 0 } });

export interface ClientOptions {
  iceTiming?: PeerConfig['iceTiming'];
  /** Pace what the client sends (default: as the server does, when transport-cc is negotiated). */
  pacing?: boolean;
  settings?: Partial<ReturnType<PeerConfig['settings']>>;
}

/** A client PeerConnection (our own Peer): offers audio (opus) + video (vp8, nack) + data channel with clientOffer(). */
export async function makeClient(opts: ClientOptions = {}): Promise<ClientPeer> {
  const sock = await clientAllocator.allocate();
  const lossy = new LossySocket(sock.socket);
  const candidates = await LocalCandidates.create({ enforceList: ['127.0.0.1'] });
  const cfg = clientPeerConfig(clientCert, {
    settings: () => ({ noMediaTimer: 1, slowlinkThreshold: 0, minNackQueue: 500, nackOptimizations: false, ...(opts.settings ?? {}) }),
    log: quietLog,
    ...(opts.iceTiming ? { iceTiming: opts.iceTiming } : {}),
    ...(opts.pacing !== undefined ? { pacing: opts.pacing } : {}),
  });
  const c: ClientPeer = {
    peer: undefined as unknown as Peer,
    socket: lossy,
    rtp: [],
    data: [],
    ready: [],
    closedReason: null,
    localCandidates: [],
    up: false,
    close: () => c.peer.close(),
  };
  c.peer = new Peer(0, lossy as unknown as Socket, sock.port, candidates.hostCandidates(sock.port)!, cfg, {
    webrtcUp: () => (c.up = true),
    mediaState: () => {},
    slowLink: () => {},
    iceFailed: () => {},
    closed: (r) => (c.closedReason = r),
    localCandidate: (cand) => c.localCandidates.push(cand),
  });
  const sink: MediaSink = {
    incomingRtp: (stream, buf, len) => void c.rtp.push({ stream, bytes: Buffer.from(buf.subarray(0, len)) }),
    incomingRtcp: () => {},
    incomingData: (label, d, binary) => void c.data.push({ label, text: d.toString('utf8'), binary }),
    dataReady: (label) => void c.ready.push(label),
  };
  c.peer.setSink(sink);
  return c;
}

/** The client's offer SDP (transport merged by its own Peer). */
export function clientOffer(c: ClientPeer, opts: { stripCandidates?: boolean } = {}): string {
  const d = buildOffer([
    { kind: 'audio', mid: '0', direction: 'sendrecv', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid, EXT.audioLevel]) },
    { kind: 'video', mid: '1', direction: 'sendrecv', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) },
    { kind: 'application', mid: '2' },
  ]);
  let sdp = c.peer.setLocalDescription(writeSdp(d), 'offer');
  if (opts.stripCandidates) sdp = sdp.split('\r\n').filter((l) => !l.startsWith('a=candidate') && !l.startsWith('a=end-of-candidates')).join('\r\n');
  return sdp;
}

export function applyAnswer(c: ClientPeer, sdp: string): void {
  const d = parseSdp(sdp);
  c.peer.setRemoteDescription(d, extractRemoteTransport(d, { type: 'answer' }), 'answer');
}

/** A plain RTP packet: V=2, pt, seq, ts, ssrc, payload (seq and ts wrap, as counters in long runs do). */
export function rtpPacket(pt: number, seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  payload.copy(b, 12);
  return b;
}
