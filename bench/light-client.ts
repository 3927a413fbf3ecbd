/**
 * A light WebRTC load client for the benchmarks, on Portunus's own media stack (src/media: ICE, DTLS,
 * SRTP, RTCP through the Peer), so a run pushes the server and not the clients.
 *
 * Publishing: the Peer's own send path (SRTP-protected VP8-like RTP from bench/vp8-load.ts).
 * Subscribing, `mode`:
 *  - 'light' (default): RTP is taken off the socket before the Peer. Every packet is counted per SSRC
 *    from its clear header (packets, extended highest sequence number, so loss is known without
 *    decrypting); one packet in `decryptEvery` is authenticated and decrypted with the negotiated SRTP
 *    context (auth failures are counted: a server that sent garbage would show). Once a second the
 *    client sends an SRTCP Receiver Report with one block per SSRC (fraction/cumulative lost, highest
 *    sequence number, LSR/DLSR from the server's SRs so it can compute the RTT), as a browser does.
 *    The server's SRTCP is authenticated and read here too (SRs); STUN and DTLS go to the Peer as
 *    usual (ICE consent, the handshake).
 *  - 'full': every packet goes through the Peer (SRTP, RTP session statistics, NACK generation, its
 *    own RRs): what a full client costs, for comparison.
 *  - 'count': RTP is counted and dropped (no decryption, no RR): the cheapest possible receiver.
 *
 * Per received packet in 'light' mode: a header read, a Map lookup by SSRC (one object per SSRC,
 * made on its first packet), a few integer updates; no allocation.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { LocalCandidates } from '../src/media/candidates.js';
import type { DtlsCertificate } from '../src/media/dtls/certificate.js';
import type { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import { Peer } from '../src/media/peer.js';
import { RtcpReader, RtcpType, writeRtcpHeader } from '../src/media/rtcp/header.js';
import { buildAnswer, buildOffer, EXT, extmapsFor, type AnswerOptions } from '../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../src/media/sdp/jsep.js';
import { parseSdp } from '../src/media/sdp/parse.js';
import { writeSdp } from '../src/media/sdp/write.js';
import { clientPeerConfig } from '../test/helpers/client-peer-config.js';

export type ReceiveMode = 'light' | 'full' | 'count';

/** What one subscriber received from one SSRC. */
export interface SsrcCount {
  readonly ssrc: number;
  packets: number;
  /** First sequence number seen, and the extended highest (cycles × 65536 + seq). */
  baseSeq: number;
  highestSeq: number;
  /** At the previous RR, for the fraction lost over the interval. */
  priorExpected: number;
  priorReceived: number;
  /** Middle 32 bits of the NTP time of the last SR about this SSRC, and when it arrived (ms). */
  lsr: number;
  lsrAt: number;
  /**
   * Arrival time minus media time (RTP timestamp at 90 kHz, unwrapped from the first packet), ms: the
   * smallest seen is this stream's baseline, so `lag` = the latest packet's delay beyond it and
   * `maxLag` the worst since reset: how far behind the sender's clock delivery ran (a stall anywhere on
   * the path shows here even when nothing is lost). Video at 90 kHz only.
   */
  minDelay: number;
  lag: number;
  maxLag: number;
  firstTs: number;
}

export interface LightClientOptions {
  mode?: ReceiveMode;
  /** Authenticate and decrypt one RTP packet in N ('light' mode). */
  decryptEvery?: number;
  /** SO_RCVBUF for the client socket: a briefly descheduled load process must not drop. */
  receiveBuffer?: number;
  /**
   * First DTLS retransmission timeout, ms (default: the environment's BENCH_CLIENT_DTLS_RTO_MS, else
   * 1000 as RFC 6347). A browser uses ~2x the ICE RTT, at least 50 ms: a ClientHello the server was not
   * ready for costs it ~50 ms, not 1 s.
   */
  dtlsInitialRtoMs?: number;
}

const FB = ['nack', 'nack pli', 'ccm fir', 'goog-remb'];
const RR_INTERVAL_MS = 1000;
const MAX_BLOCKS = 31;

/** The client's socket as the Peer sees it: RTP stops here (light/count), the rest is passed on. */
class ReceiveTap extends EventEmitter {
  constructor(
    readonly real: Socket,
    private readonly onRtp: (m: Buffer) => boolean,
    private readonly onRtcp: (m: Buffer) => boolean,
  ) {
    super();
    real.on('message', (m: Buffer, r: RemoteInfo) => {
      const b0 = m[0]!;
      if (b0 >= 128 && b0 < 192 && m.length >= 12) {
        const pt = m[1]! & 0x7f;
        if (pt < 64 || pt > 95 ? this.onRtp(m) : this.onRtcp(m)) return;
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

function dtlsRto(opts: LightClientOptions): { dtlsInitialRtoMs?: number } {
  const ms = opts.dtlsInitialRtoMs ?? (process.env['BENCH_CLIENT_DTLS_RTO_MS'] ? Number(process.env['BENCH_CLIENT_DTLS_RTO_MS']) : undefined);
  return ms !== undefined && ms > 0 ? { dtlsInitialRtoMs: ms } : {};
}

export class LightClient {
  /** RTP packets received (every mode). */
  rtp = 0;
  decrypted = 0;
  authFailures = 0;
  reportsSent = 0;
  /** SRTCP packets from the server, authenticated ('light'). */
  rtcpIn = 0;
  up = false;
  /** performance.now() when the PeerConnection came up (DTLS done) and when the first RTP packet arrived; NaN before. */
  upAt = NaN;
  firstRtpAt = NaN;
  closed: string | null = null;
  readonly bySsrc = new Map<number, SsrcCount>();
  readonly mode: ReceiveMode;
  private readonly decryptEvery: number;
  private sinceDecrypt = 0;
  private rrTimer: NodeJS.Timeout | null = null;
  private readonly rrBuf = Buffer.alloc(8 + 24 * MAX_BLOCKS + 64);
  private readonly rrSsrc = (Math.random() * 0xffffffff) >>> 0;
  private readonly rtcpReader = new RtcpReader();
  private peerRef!: Peer;
  private tap!: ReceiveTap;

  private constructor(opts: LightClientOptions) {
    this.mode = opts.mode ?? 'light';
    this.decryptEvery = Math.max(1, opts.decryptEvery ?? 100);
  }

  get peer(): Peer {
    return this.peerRef;
  }

  static async create(address: string, cert: DtlsCertificate, allocator: UdpPortAllocator, opts: LightClientOptions = {}): Promise<LightClient> {
    const c = new LightClient(opts);
    const sock = await allocator.allocate(address);
    try {
      sock.socket.setRecvBufferSize(opts.receiveBuffer ?? 4 << 20);
    } catch {
      /* net.core.rmem_max: keep the default */
    }
    c.tap = new ReceiveTap(
      sock.socket,
      c.mode === 'full' ? () => false : (m) => c.onRtp(m),
      c.mode === 'light' ? (m) => c.onRtcp(m) : () => false,
    );
    const candidates = await LocalCandidates.create({ enforceList: [address] });
    const hc = candidates.hostCandidates(sock.port);
    if (!hc) throw new Error(`no host candidate for ${address}`);
    c.peerRef = new Peer(0, c.tap as unknown as Socket, sock.port, hc, clientPeerConfig(cert, dtlsRto(opts)), {
      webrtcUp: () => {
        c.up = true;
        c.upAt = performance.now();
        if (c.mode === 'light') c.rrTimer = setInterval(() => c.sendReport(), RR_INTERVAL_MS);
      },
      mediaState: () => {},
      slowLink: () => {},
      iceFailed: () => {},
      closed: (r) => (c.closed = r),
      localCandidate: () => {},
    });
    c.peerRef.setSink({ incomingRtp: () => c.mode === 'full' && (c.rtp === 0 && (c.firstRtpAt = performance.now()), c.rtp++), incomingRtcp: () => {}, incomingData: () => {}, dataReady: () => {} });
    return c;
  }

  /** A sendonly VP8 offer (publisher). */
  publisherOffer(): string {
    const d = buildOffer([{ kind: 'video', mid: '0', direction: 'sendonly', codec: { name: 'vp8', pt: 96, rtcpFb: FB }, extensions: extmapsFor([EXT.mid]) }]);
    return this.peerRef.setLocalDescription(writeSdp(d), 'offer');
  }

  /** The answer to a subscriber offer: every video m-line recvonly VP8, only the mid extension. */
  subscriberAnswer(offerSdp: string): string {
    const offer = parseSdp(offerSdp);
    this.peerRef.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
    const { description } = buildAnswer(offer, (m): AnswerOptions =>
      m.kind === 'video' ? { codecs: ['vp8'], direction: 'recvonly', extensions: [EXT.mid], rtcpFb: FB, rtx: false, simulcast: false } : { accept: false },
    );
    return this.peerRef.setLocalDescription(writeSdp(description), 'answer');
  }

  applyAnswer(sdp: string): void {
    const d = parseSdp(sdp);
    this.peerRef.setRemoteDescription(d, extractRemoteTransport(d, { type: 'answer' }), 'answer');
  }

  /** The worst delivery lag over this client's streams since the last call (ms, see SsrcCount.maxLag); resets it. */
  takeMaxLag(): number {
    let worst = 0;
    for (const s of this.bySsrc.values()) {
      if (s.maxLag > worst) worst = s.maxLag;
      s.maxLag = 0;
    }
    return worst;
  }

  /** Received packets summed over SSRCs, and the loss the sequence numbers show (light/count). */
  lossFromSequence(): { expected: number; received: number } {
    let expected = 0;
    let received = 0;
    for (const s of this.bySsrc.values()) {
      if (s.packets === 0) continue;
      expected += s.highestSeq - s.baseSeq + 1;
      received += s.packets;
    }
    return { expected, received };
  }

  close(): void {
    if (this.rrTimer) clearInterval(this.rrTimer);
    this.rrTimer = null;
    this.peerRef.close();
    try {
      this.tap.close(); // normally already closed by peer.close()
    } catch {
      /* closed */
    }
  }

  /** Returns true when the packet stops here. */
  private onRtp(m: Buffer): boolean {
    if (this.rtp++ === 0) this.firstRtpAt = performance.now();
    if (this.mode === 'count') return true;
    const ssrc = m.readUInt32BE(8);
    const seq = m.readUInt16BE(2);
    let s = this.bySsrc.get(ssrc);
    if (s === undefined) {
      s = this.track(ssrc, seq);
      s.firstTs = m.readUInt32BE(4);
    } else if (s.packets === 0) {
      s.baseSeq = s.highestSeq = seq;
      s.firstTs = m.readUInt32BE(4);
    } else {
      const max = s.highestSeq & 0xffff;
      const delta = (seq - max) & 0xffff;
      // Ahead of the highest (a gap or the next one), not a late or repeated packet.
      if (delta !== 0 && delta < 0x8000) s.highestSeq += delta;
    }
    s.packets++;
    const media = ((m.readUInt32BE(4) - s.firstTs) >>> 0) / 90;
    const delay = performance.now() - media;
    if (delay < s.minDelay) s.minDelay = delay;
    s.lag = delay - s.minDelay;
    if (s.lag > s.maxLag) s.maxLag = s.lag;
    if (++this.sinceDecrypt >= this.decryptEvery) {
      this.sinceDecrypt = 0;
      const t = this.peerRef.srtpTransport;
      if (t !== null) {
        // In place: the datagram is ours and dropped after this.
        if (t.inbound.unprotectRtp(m, m.length) < 0) this.authFailures++;
        else this.decrypted++;
      }
    }
    return true;
  }

  private track(ssrc: number, seq: number): SsrcCount {
    const s = { ssrc, packets: 0, baseSeq: seq, highestSeq: seq, priorExpected: 0, priorReceived: 0, lsr: 0, lsrAt: 0, minDelay: Infinity, lag: 0, maxLag: 0, firstTs: 0 };
    this.bySsrc.set(ssrc, s);
    return s;
  }

  /**
   * The server's RTCP (a few packets a second): unprotected here, SRs noted for the LSR/DLSR of our
   * RRs (so the server can compute the RTT, as with a browser); nothing else is acted upon.
   */
  private onRtcp(m: Buffer): boolean {
    const t = this.peerRef.srtpTransport;
    if (t === null) return false; // before DTLS: nothing of ours, let the Peer count it
    const len = t.inbound.unprotectRtcp(m, m.length);
    if (len < 0) {
      this.authFailures++;
      return true;
    }
    this.rtcpIn++;
    const r = this.rtcpReader.reset(m, len);
    while (r.next()) {
      if (r.type !== RtcpType.SR || r.length < 28) continue;
      const ssrc = m.readUInt32BE(r.offset + 4);
      const s = this.bySsrc.get(ssrc) ?? this.track(ssrc, 0);
      s.lsr = ((m.readUInt32BE(r.offset + 8) & 0xffff) * 65536 + (m.readUInt32BE(r.offset + 12) >>> 16)) >>> 0;
      s.lsrAt = performance.now();
    }
    return true;
  }

  /** SRTCP Receiver Report, one block per SSRC seen (RFC 3550 §6.4.2; jitter and LSR left at 0). */
  private sendReport(): void {
    const t = this.peerRef.srtpTransport;
    if (t === null || this.bySsrc.size === 0) return;
    const now = performance.now();
    const b = this.rrBuf;
    let blocks = 0;
    let off = 8;
    for (const s of this.bySsrc.values()) {
      if (blocks === MAX_BLOCKS) break;
      if (s.packets === 0) continue;
      const expected = s.highestSeq - s.baseSeq + 1;
      const lost = Math.max(-0x800000, Math.min(0x7fffff, expected - s.packets));
      const expInt = expected - s.priorExpected;
      const lostInt = expInt - (s.packets - s.priorReceived);
      s.priorExpected = expected;
      s.priorReceived = s.packets;
      b.writeUInt32BE(s.ssrc, off);
      b[off + 4] = expInt > 0 && lostInt > 0 ? Math.min(255, Math.floor((lostInt * 256) / expInt)) : 0;
      b.writeIntBE(lost, off + 5, 3);
      b.writeUInt32BE(s.highestSeq >>> 0, off + 8);
      b.writeUInt32BE(0, off + 12);
      b.writeUInt32BE(s.lsr, off + 16);
      b.writeUInt32BE(s.lsrAt > 0 ? Math.min(0xffffffff, Math.round(((now - s.lsrAt) / 1000) * 65536)) : 0, off + 20);
      off += 24;
      blocks++;
    }
    if (blocks === 0) return;
    writeRtcpHeader(b, 0, blocks, RtcpType.RR, off);
    b.writeUInt32BE(this.rrSsrc, 4);
    const n = t.outbound.protectRtcp(b, off);
    if (n < 0) return;
    // protectRtcp wrote into rrBuf: send a copy (the send completes later, the next report reuses rrBuf).
    this.tap.real.send(Buffer.from(b.subarray(0, n)), t.remote.port, t.remote.address);
    this.reportsSent++;
  }
}
