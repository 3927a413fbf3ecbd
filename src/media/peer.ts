/**
 * Peer: one handle's server-side PeerConnection. One UDP socket (BUNDLE + rtcp-mux; a second, IPv6
 * one with media.ipv6; ICE-TCP connections with nat.ice_tcp: see below), one ICE agent,
 * one DTLS association, SRTP in both directions, SCTP data channels when negotiated, and one
 * RtpSession (session/) for everything RTP/RTCP: receive statistics, NACK in both directions,
 * SR/RR/SDES, REMB, PLI/FIR, `media` and `slowlink` events, per-stream statistics.
 *
 * The protocol logic lives in the sans-IO modules (ice/, dtls/, srtp/, session/, sctp/); this class
 * is their glue to a socket and a timer. The packet path is synchronous and allocation-free in
 * steady state:
 *
 *   socket 'message' -> onMessage (first-byte demux, RFC 7983)
 *     STUN -> IceAgent.handlePacket              DTLS -> DtlsEndpoint.handleDatagram (-> SCTP)
 *     RTP  -> SrtpContext.unprotectRtp -> RtpSession.onRtp (SSRC -> stream, stats, NACK) -> sink.incomingRtp
 *     RTCP -> SrtpContext.unprotectRtcp -> RtpSession.onRtcp (reports, NACK -> retransmissions) -> sink.incomingRtcp
 *   sendRtp (plugin relay) -> copy into a pooled buffer -> SSRC rewrite -> RtpSession.onOutgoingRtp
 *     (SR counters, retransmission ring) -> SRTP protect -> send
 *   timer / due feedback -> RtpSession.pollRtcpInto -> SRTCP protect -> send; pollEvent -> PeerEvents
 *
 * ICE-TCP (RFC 6544): connections accepted by the plane's IceTcpListener that name our ufrag are
 * adopted as extra local ICE sockets (ids 2, 3, ...; the UDP sockets are 0 and 1). Their RFC 4571 frames enter
 * the same receive path as datagrams, and "send" goes through a MediaPath chosen when ICE selects a
 * pair: the UDP socket towards the remote address (no allocation, as before) or the TCP connection.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { MediaSink, TrickleCandidate } from '../core/media-plane.js';
import type { RtpStreamInfo, SlowLinkInfo } from '../core/plugin.js';
import type { Logger } from '../log.js';
import { countFault, fault, inject, type FaultBoundary } from '../core/fault.js';
import { isH264Keyframe } from '../codecs/h264.js';
import { isVp8Keyframe } from '../codecs/vp8.js';
import { isVp9Keyframe } from '../codecs/vp9.js';
import type { DtlsCertificate, Fingerprint as DtlsFingerprint } from './dtls/certificate.js';
import { DtlsEndpoint, type DtlsCloseReason, type DtlsConnectedInfo } from './dtls/endpoint.js';
import { IceAgent, type IceEvent, type IceState, type IceTiming, type SocketAddress } from './ice/agent.js';
import { serializeCandidate, tcpPassiveCandidate, tryParseCandidate, type IceCandidate } from './ice/candidate.js';
import type { IceTcpConn, IceTcpListener, IceTcpOwner, IceTcpReceiver } from './net/ice-tcp.js';
import { iceString, type UfragRoute, type UfragRouter } from './net/ufrag-router.js';
import { buildMediaInfo } from './handle-info.js';
import { RtcpReader, RtcpType, PsfbFmt } from './rtcp/header.js';
import { fbMediaSsrc, setFbSenderSsrc } from './rtcp/feedback.js';
import { rtpHeaderLength, setRtpSsrc } from './rtp/header.js';
import { createSctpOverDtls, type DataChannel, type SctpOverDtls } from './sctp/datachannel.js';
import { describeMediaSection, EXT, type MediaInfo } from './sdp/negotiate.js';
import { mergeTransport, type RemoteTransport } from './sdp/jsep.js';
import { parseSdp } from './sdp/parse.js';
import { checkSdpLimits, type SdpLimits } from './sdp/limits.js';
import type { MediaSection, SessionDescription } from './sdp/types.js';
import { writeSdp } from './sdp/write.js';
import { RtpSession, type RtpSessionEvent, type RtpSessionStats } from './session/index.js';
import { Pacer, PACE_AUDIO, PACE_RTX, PACE_VIDEO, PACER_DROP, PACER_IDLE } from './cc/index.js';
import { SrtpContext, createSrtpSessionsFromDtls, srtpProfileByDtlsId } from './srtp/index.js';
import { ThreadClock, type ClockClient } from './clock.js';

/**
 * The PeerConnections' clock of this thread (module state: each media worker has its own): one Node
 * timer for every PeerConnection's ICE, DTLS and RTP session deadlines. Near deadlines (ICE checks,
 * DTLS retransmissions, NACK, PLI, transport-cc feedback) keep a 1 ms grain; those a quarter second
 * or more away (RTCP reports, the per-second statistics, ICE keepalives and consent checks, REMB)
 * are rounded up to 50 ms, so the housekeeping of N idle PeerConnections wakes the thread at most
 * 20 times a second instead of ~2N (bench/idle.ts).
 */
export const peerClock = new ThreadClock({ grainMs: 1, coarseAfterMs: 250, coarseGrainMs: 50 });
import { ownedCopy } from './owned-buffer.js';
import type { Totals } from '../metrics/media.js';

/** Gateway settings the packet path reads (Admin API can change them at runtime). */
export interface MediaRuntimeSettings {
  noMediaTimer: number;
  slowlinkThreshold: number;
  minNackQueue: number;
  nackOptimizations: boolean;
}

export interface PeerConfig {
  certificate: DtlsCertificate;
  iceLite: boolean;
  fullTrickle: boolean;
  nomination: 'regular' | 'aggressive';
  consentFreshness: boolean;
  keepaliveConncheck: boolean;
  dtlsMtu: number;
  /** First DTLS retransmission timeout (default RFC 6347's 1 s; browsers derive ~2x the ICE RTT, at least 50 ms). */
  dtlsInitialRtoMs?: number;
  hangupOnFailed: boolean;
  settings: () => MediaRuntimeSettings;
  log: Logger;
  /** ICE timing overrides (tests: fast consent loss). */
  iceTiming?: Partial<IceTiming>;
  /** Janus `twcc_period` (ms, default 200): cadence of transport-cc feedback. */
  twccPeriodMs?: number;
  /** nat.ice_tcp: the plane's ICE-TCP listener (it routes by our ufrag through `ufragRouter`). */
  iceTcp?: IceTcpListener;
  /**
   * nat.ice_tcp or media.single_port: the plane's ufrag registry, shared by the ICE-TCP listener and the
   * single-port socket(s) (our socket is then a view of one, routed by our ufrag). Absent: nothing routes by ufrag.
   */
  ufragRouter?: UfragRouter;
  /**
   * Pace what we send when transport-cc is negotiated (default true; src/media/cc/pacer.ts).
   * Without transport-cc there is no estimate to pace by and packets leave as they come, as in Janus.
   */
  pacing?: boolean;
}

/**
 * Where media for the selected pair goes. `send` returns true when `buf` is free again (the bytes
 * left or were copied: the caller may reuse it at once), false when the transport still holds it
 * (the caller must not reuse it; nothing tells it when it is free: it is garbage once sent).
 */
interface MediaPath {
  send(buf: Buffer, off: number, len: number): boolean;
}

/**
 * The UDP socket towards one remote address: one object per selected pair, nothing per packet.
 * No send callback: with one, Node queues a tick per datagram to report a send that has already
 * finished (libuv sends at once when its queue is empty, as it almost always is), and the SendWrap
 * grows two more properties. Whether the datagram left is read from the socket's send queue right
 * after (libuv keeps datagrams in order: when anything is queued, ours is too): empty, the buffer is
 * free; not empty (a full socket buffer), Node keeps a reference to it until it is sent.
 */
class UdpPath implements MediaPath {
  /** A stand-in for a socket (tests, benches) that cannot tell: its buffers are never reused. */
  private readonly knowsQueue: boolean;
  constructor(
    private readonly socket: Socket,
    private readonly address: string,
    private readonly port: number,
  ) {
    this.knowsQueue = typeof (socket as Partial<Socket>).getSendQueueCount === 'function';
  }
  send(buf: Buffer, off: number, len: number): boolean {
    const socket = this.socket;
    socket.send(buf, off, len, this.port, this.address);
    return this.knowsQueue && socket.getSendQueueCount() === 0;
  }
}

/** An adopted ICE-TCP connection (RFC 4571 framing; the connection copies each packet). */
class TcpPath implements MediaPath {
  constructor(readonly conn: IceTcpConn) {}
  send(buf: Buffer, off: number, len: number): boolean {
    this.conn.send(buf, off, len);
    return true;
  }
}

/** Local ICE socket ids: the UDP sockets; ICE-TCP connections take the ids after them. */
const SOCKET_UDP4 = 0;
const SOCKET_UDP6 = 1;

/** ICE-TCP connections one PeerConnection keeps at most (a browser opens one per local interface). */
const MAX_TCP_CONNECTIONS = 8;

/** What a Peer reports (the plane turns these into MediaEvents for its handle). */
export interface PeerEvents {
  webrtcUp(): void;
  mediaState(info: { mid: string; type: 'audio' | 'video'; receiving: boolean; substream?: number; seconds?: number }): void;
  slowLink(info: SlowLinkInfo): void;
  iceFailed(): void;
  /** The PeerConnection died on its own; the plane hangs it up. */
  closed(reason: string): void;
  localCandidate(candidate: TrickleCandidate): void;
}

export interface PeerStats {
  /** Datagrams dropped before reaching a protocol handler: not STUN/DTLS/RTP/RTCP, rejected STUN, no SRTP yet, handler errors. */
  dropped: number;
  /** RTP/RTCP that failed SRTP/SRTCP authentication, decryption or replay checks. */
  srtpErrors: number;
  /** Decrypted RTP with an SSRC we could not bind to an m-line. */
  unknownSsrc: number;
  /** Decrypted RTP with a malformed header. */
  malformedRtp: number;
  /** Malformed (compound) RTCP. */
  rtcpErrors: number;
  /** DTLS datagrams the DTLS endpoint dropped (garbage, bad records). */
  dtlsDropped: number;
  nacksReceived: number;
  retransmitted: number;
  nacksSent: number;
  plisSent: number;
}

/** Outgoing datagram buffers: reused once their send completed (dgram.send does not copy). */
const OUT_BUFFER_SIZE = 1600;
const MAX_FREE_BUFFERS = 64;
/** RTCP compounds written by the session before SRTCP (leaves room for the trailer in OUT_BUFFER_SIZE). */
const MAX_RTCP_SIZE = 1200;
/**
 * Exceptions from the receive path a PeerConnection survives. Bad input is rejected by return codes in
 * the protocol modules, so a throw there is a bug; but the datagram that triggers it may come from
 * anyone who can reach the port, and closing at the first one would make such a bug a remote kill
 * switch for every PeerConnection. A few are counted and dropped; more mean this PeerConnection's state
 * is broken and it is hung up. Timers and sends get no input from outside: they close at the first.
 */
const RECEIVE_FAULT_LIMIT = 3;

/** Which branch of the receive path was running (labels the fault; an int, no allocation per packet). */
const STAGE_NAMES = ['demux', 'stun', 'dtls', 'rtp', 'rtcp'] as const;
const STAGE_DEMUX = 0;
const STAGE_STUN = 1;
const STAGE_DTLS = 2;
const STAGE_RTP = 3;
const STAGE_RTCP = 4;

type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** One m-line of the negotiated session (what the session's streams are derived from). */
class MLine {
  kind: 'audio' | 'video';
  send = false;
  recv = false;
  localSsrc = 0;
  /** Our RTX SSRC on this m-line (0: none in our SDP). */
  localRtxSsrc = 0;
  clockRate = 90000;
  pt = -1;
  codec: string | undefined;
  /** Video and rtcp-fb nack negotiated. */
  nack = false;
  /** Negotiated RTX payload type for `pt` (both SDPs), -1 when none. */
  rtxPt = -1;
  removed = false;
  /** The pacer dropped video of this m-line since the last keyframe request for it (see pacerDropped). */
  pacerDropped = false;
  /** Signature of what was declared to the session (re-declared when it changes). */
  localKey = '';
  remoteKey = '';
  /**
   * The stream info handed to plugins with RTCP about this m-line: the first incoming stream of the
   * m-line once there is one, else a placeholder with SSRC 0.
   */
  info: RtpStreamInfo;

  constructor(
    readonly mid: string,
    public mindex: number,
    kind: 'audio' | 'video',
  ) {
    this.kind = kind;
    this.localSsrc = randomSsrc();
    this.info = { mid, mindex, kind, ssrc: 0, substream: 0, rid: undefined };
  }
}

function randomSsrc(): number {
  return randomInt(1, 0xffffffff) >>> 0;
}


/** Primary payload types of an m-section (no RTX/RED/FEC/DTMF/CN). */
function primaryPayloadTypes(m: MediaSection): number[] {
  const out: number[] = [];
  for (const f of m.formats) {
    if (!/^\d+$/.test(f)) continue;
    const pt = Number(f);
    const map = m.rtpmaps.find((r) => r.pt === pt);
    const name = map?.codec.toLowerCase();
    if (name === 'rtx' || name === 'red' || name === 'ulpfec' || name === 'flexfec-03' || name === 'telephone-event' || name === 'cn') continue;
    out.push(pt);
  }
  return out;
}

function hasFb(m: MediaSection, pt: number, type: string, subtype?: string): boolean {
  return m.rtcpFbs.some((f) => (f.pt === '*' || f.pt === pt) && f.type === type && f.subtype === subtype);
}

/** The RTX payload type whose apt is `pt` in an m-section, or -1. */
function rtxPtFor(m: MediaSection, pt: number): number {
  for (const r of m.rtpmaps) {
    if (r.codec.toLowerCase() !== 'rtx') continue;
    const f = m.fmtps.find((x) => x.pt === r.pt);
    if (f && Number(f.params.apt) === pt) return r.pt;
  }
  return -1;
}

function isKeyframe(codec: string | undefined, buf: Buffer, hdr: number, len: number): boolean {
  switch (codec) {
    case 'vp8':
      return isVp8Keyframe(buf, hdr, len - hdr);
    case 'vp9':
      return isVp9Keyframe(buf, hdr, len - hdr);
    case 'h264':
      return isH264Keyframe(buf, hdr, len - hdr);
    default:
      return false;
  }
}

export class Peer implements ClockClient {
  readonly createdAt = performance.now();
  private closed = false;
  private readonly counters = { dropped: 0, srtpErrors: 0 };
  /** Exceptions caught at this PeerConnection's boundaries (receive path, timer, send, SCTP). */
  private faults = 0;
  /** A fault asked for the hangup already (once). */
  private failing = false;

  // ICE
  private agent: IceAgent | null = null;
  private localUfrag = iceString(4);
  private localPwd = iceString(22);
  private remoteCreds: { ufrag: string; pwd: string } | null = null;
  private pendingRemoteCandidates: IceCandidate[] = [];
  private pendingEndOfCandidates = false;
  private remoteAddress: SocketAddress | null = null;
  /** How media reaches `remoteAddress` (set together with it). */
  private path: MediaPath | null = null;
  /** Adopted ICE-TCP connections by local ICE socket id. */
  private readonly tcpConns = new Map<number, IceTcpConn>();
  /** ICE-TCP connections get local socket ids after the UDP ones. */
  private tcpSeq = SOCKET_UDP6;
  private registeredUfrag: string | null = null;
  /** What our ufrag routes to on the plane's shared listeners (each picks its field; see ufrag-router.ts). */
  private readonly route: UfragRoute;
  private iceState: IceState = 'new';
  private lastRestart = false;
  /** performance.now() when the agent was created / got the remote description / first connected (Admin). */
  private agentCreatedAt = -1;
  private agentStartedAt = -1;
  private iceConnectedAt = -1;

  // DTLS / SRTP / SCTP
  private dtls: DtlsEndpoint | null = null;
  private dtlsRole: 'client' | 'server' | null = null;
  private earlyDtls: Buffer[] = [];
  private srtpIn: SrtpContext | null = null;
  private srtpOut: SrtpContext | null = null;
  private srtpProfileName = '';
  private remoteFingerprint: { hash: string; value: string } | null = null;
  private sctp: (SctpOverDtls & { onDtlsData(d: Buffer): void; start(): void }) | null = null;
  private sctpRemotePort = 5000;
  private wantData = false;
  private up = false;

  // RTP/RTCP
  private readonly session: RtpSession;
  private readonly lines: MLine[] = [];
  private readonly byMid = new Map<string, MLine>();
  /** Inbound stream index (RtpSession) -> what plugins see, and the m-line it belongs to. */
  private readonly inInfo: Array<RtpStreamInfo | undefined> = [];
  private readonly inLine: Array<MLine | undefined> = [];
  /** One RtpStreamInfo per remote SSRC for the PeerConnection's life (reused when an SSRC is re-bound). */
  private readonly infoBySsrc = new Map<number, RtpStreamInfo>();
  private lastSendLine: MLine | null = null;
  private remoteDesc: SessionDescription | null = null;
  private localDesc: SessionDescription | null = null;
  private localSetup: 'actpass' | 'active' | 'passive' = 'actpass';
  /** The settings last pushed into the session (compared field by field on every timer: no allocation). */
  private applied: MediaRuntimeSettings | null = null;
  private nackOptimizations = false;

  /** Spreads what we send at a multiple of the bandwidth estimate (transport-cc negotiated only). */
  private pacer: Pacer | null = null;

  // outgoing buffers
  private readonly free: Buffer[] = [];
  // Not from Node's shared pool: a long-lived slice would pin an 8 KiB slab of packet garbage.
  private readonly rtcpOut = Buffer.allocUnsafeSlow(OUT_BUFFER_SIZE);
  private readonly rtcpReader = new RtcpReader();

  // timers
  /** ClockClient (peerClock): the rounded time of this PeerConnection's next timer work; owned by the clock. */
  clockAt = Infinity;

  private sink: MediaSink | null = null;

  constructor(
    readonly handleId: number,
    private readonly socket: Socket,
    readonly port: number,
    private readonly candidates: { base: IceCandidate; advertised: IceCandidate[]; v6?: { socket: Socket; base: IceCandidate } },
    private readonly cfg: PeerConfig,
    private readonly events: PeerEvents,
  ) {
    const s = cfg.settings();
    this.session = new RtpSession({
      cname: 'janus',
      minNackQueueMs: s.minNackQueue,
      noMediaTimerS: s.noMediaTimer,
      slowlinkThreshold: s.slowlinkThreshold,
      nackOptimizations: s.nackOptimizations,
      maxRtcpSize: MAX_RTCP_SIZE,
      twccPeriodMs: cfg.twccPeriodMs ?? 200,
    });
    this.applySettings(s);
    this.route = { udp4: socket, udp6: candidates.v6?.socket, tcp: this.tcpOwner };
    if (cfg.ufragRouter !== undefined) this.registerUfrag(this.freshUfrag());
    socket.on('message', this.onMessage);
    const s6 = candidates.v6?.socket;
    if (s6 !== undefined) {
      s6.on('message', this.onMessage6);
      s6.on('error', (err) => this.cfg.log.warn('media socket error', { handle: handleId, family: 6, err: String(err) }));
    }
    socket.on('error', (err) => this.cfg.log.warn('media socket error', { handle: handleId, err: String(err) }));
  }

  setSink(sink: MediaSink | null): void {
    this.sink = sink;
  }

  get isUp(): boolean {
    return this.up;
  }

  /**
   * The negotiated SRTP contexts and the selected remote address, null until DTLS is up. For load
   * clients (bench/light-client.ts) that take RTP off the socket before the Peer, count it and decrypt
   * only a sample themselves; the Peer keeps using `outbound` for what it sends.
   */
  get srtpTransport(): { inbound: SrtpContext; outbound: SrtpContext; remote: SocketAddress } | null {
    if (this.srtpIn === null || this.srtpOut === null || this.remoteAddress === null) return null;
    return { inbound: this.srtpIn, outbound: this.srtpOut, remote: this.remoteAddress };
  }

  /** Drop and error counters (tests, Admin). Allocates: not for the packet path. */
  get stats(): PeerStats {
    const st = this.session.getStats();
    let nacksReceived = 0;
    let retransmitted = 0;
    let nacksSent = 0;
    let plisSent = 0;
    for (const o of st.outbound) {
      nacksReceived += o.nacksReceived;
      retransmitted += o.retransmitted;
    }
    for (const i of st.inbound) {
      nacksSent += i.nacksSent;
      plisSent += i.plisSent + i.firsSent;
    }
    return {
      dropped: this.counters.dropped,
      srtpErrors: this.counters.srtpErrors,
      unknownSsrc: st.unknownSsrcPackets,
      malformedRtp: st.malformedRtp,
      rtcpErrors: st.malformedRtcp,
      dtlsDropped: this.dtls?.stats.dropped ?? 0,
      nacksReceived,
      retransmitted,
      nacksSent,
      plisSent,
    };
  }

  /**
   * /metrics: this PeerConnection's cumulative counters added into `t`, the numbers addPeer would take
   * from rtpStats() and stats, without building either (the workers' metrics walk does this for every
   * PeerConnection every second).
   */
  addCounters(t: Totals): void {
    this.session.addCounters(t.audio, t.video);
    const e = t.errors;
    e.dropped! += this.counters.dropped;
    e.srtp! += this.counters.srtpErrors;
    e.unknown_ssrc! += this.session.unknownSsrcCount;
    e.malformed_rtp! += this.session.malformedRtpCount;
    e.malformed_rtcp! += this.session.malformedRtcpCount;
    e.dtls! += this.dtls?.stats.dropped ?? 0;
  }

  /** The RTP session's statistics snapshot (tests, Admin). */
  rtpStats(): RtpSessionStats {
    return this.statsWithPacer();
  }

  /** Janus settings that may change at run time (Admin API): pushed into the session when they do. */
  private applySettings(s: MediaRuntimeSettings): void {
    const a = this.applied;
    if (a !== null && a.noMediaTimer === s.noMediaTimer && a.slowlinkThreshold === s.slowlinkThreshold && a.minNackQueue === s.minNackQueue && a.nackOptimizations === s.nackOptimizations) return;
    this.applied = { noMediaTimer: s.noMediaTimer, slowlinkThreshold: s.slowlinkThreshold, minNackQueue: s.minNackQueue, nackOptimizations: s.nackOptimizations };
    this.session.setNoMediaTimer(s.noMediaTimer);
    this.session.setSlowlinkThreshold(s.slowlinkThreshold);
    this.session.setMinNackQueue(s.minNackQueue);
    this.session.setNackOptimizations(s.nackOptimizations);
    this.nackOptimizations = s.nackOptimizations;
  }

  // ============================================================ signalling

  /** Remote credentials for ICE-restart detection. */
  get previousRemote(): { iceUfrag: string; icePwd: string } | undefined {
    return this.remoteCreds ? { iceUfrag: this.remoteCreds.ufrag, icePwd: this.remoteCreds.pwd } : undefined;
  }

  private ensureAgent(controlling: boolean): IceAgent {
    if (this.agent) return this.agent;
    const a = new IceAgent({
      lite: this.cfg.iceLite,
      controlling: this.cfg.iceLite ? false : controlling,
      localUfrag: this.localUfrag,
      localPwd: this.localPwd,
      nomination: this.cfg.nomination,
      consentFreshness: this.cfg.consentFreshness,
      keepaliveConncheck: this.cfg.keepaliveConncheck,
      software: 'Portunus',
      ...(this.cfg.iceTiming ? { timing: this.cfg.iceTiming } : {}),
    });
    a.addLocalCandidate(this.candidates.base, SOCKET_UDP4);
    const v6 = this.candidates.v6;
    if (v6 !== undefined) a.addLocalCandidate(v6.base, SOCKET_UDP6);
    for (const c of this.candidates.advertised) {
      if (c === this.candidates.base || c === v6?.base) continue;
      a.addLocalCandidate(c, v6 !== undefined && c.transport === 'udp' && c.address.includes(':') ? SOCKET_UDP6 : SOCKET_UDP4);
    }
    this.agent = a;
    this.agentCreatedAt = performance.now();
    return a;
  }

  /** The client's SDP (already validated by extractRemoteTransport). Throws on unusable content. */
  setRemoteDescription(desc: SessionDescription, transport: RemoteTransport, type: 'offer' | 'answer'): void {
    if (this.closed) throw new Error('PeerConnection closed');
    // ICE role: answering a full agent we are controlled; a lite remote makes us controlling.
    const agent = this.ensureAgent(type === 'answer' || transport.iceLite);
    const restart = this.remoteCreds !== null && (this.remoteCreds.ufrag !== transport.iceUfrag || this.remoteCreds.pwd !== transport.icePwd);
    if (restart) {
      if (type === 'offer') {
        // The client restarts ICE: new local credentials for our answer.
        this.registerUfrag(this.freshUfrag());
        this.localPwd = iceString(22);
      }
      agent.restart(this.localUfrag, this.localPwd);
    }
    this.lastRestart = restart;
    this.remoteCreds = { ufrag: transport.iceUfrag, pwd: transport.icePwd };
    agent.setRemoteCredentials(transport.iceUfrag, transport.icePwd);
    if (this.agentStartedAt < 0) this.agentStartedAt = performance.now();
    for (const line of transport.allCandidates) this.remoteCandidate(agent, line);
    for (const c of this.pendingRemoteCandidates) agent.addRemoteCandidate(c);
    this.pendingRemoteCandidates = [];
    if (transport.endOfCandidates || this.pendingEndOfCandidates) agent.endOfCandidates();

    // DTLS role, decided once (renegotiations keep the association).
    if (this.dtlsRole === null) {
      if (type === 'offer') this.dtlsRole = transport.setup === 'active' ? 'server' : 'client';
      else this.dtlsRole = transport.setup === 'passive' ? 'client' : 'server';
      this.localSetup = type === 'offer' ? (this.dtlsRole === 'client' ? 'active' : 'passive') : 'actpass';
      this.createDtls(transport);
    } else if (type === 'offer') {
      this.localSetup = this.dtlsRole === 'client' ? 'active' : 'passive';
    }
    this.remoteDesc = desc;
    this.rebuildStreams();
    this.flush();
  }

  /**
   * The plugin's SDP: returns it with our transport merged in (ICE credentials, fingerprint, setup,
   * candidates, BUNDLE, rtcp-mux) and our SSRCs on the m-lines we send on. Over `limits` (before or
   * after the merge) it throws and nothing is committed: the peer keeps its previous description.
   */
  setLocalDescription(sdp: string, type: 'offer' | 'answer', limits?: Readonly<SdpLimits>): string {
    if (this.closed) throw new Error('PeerConnection closed');
    if (limits) checkSdpLimits(sdp, limits, `the plugin's ${type}`);
    const desc = parseSdp(sdp);
    if (type === 'offer') {
      this.ensureAgent(true);
      if (this.dtlsRole === null) this.localSetup = 'actpass';
    } else if (this.remoteDesc === null) {
      throw new Error('answer without a remote offer');
    }
    this.addLocalSsrcs(desc);
    const candidates = this.cfg.fullTrickle ? [] : this.candidates.advertised.map(serializeCandidate);
    const merged = mergeTransport(desc, {
      iceUfrag: this.localUfrag,
      icePwd: this.localPwd,
      iceLite: this.cfg.iceLite,
      fingerprint: this.cfg.certificate.fingerprint.value,
      fingerprintHash: this.cfg.certificate.fingerprint.algorithm,
      setup: this.localSetup,
      candidates,
      endOfCandidates: !this.cfg.fullTrickle,
      candidatesOnAllMedia: true,
    });
    const advertisedIp = this.candidates.advertised[0]?.address ?? this.candidates.base.address;
    merged.origin = { ...merged.origin, addrType: advertisedIp.includes(':') ? 'IP6' : 'IP4', address: advertisedIp };
    const text = writeSdp(merged);
    if (limits) checkSdpLimits(text, limits, `our ${type}`);
    this.localDesc = merged;
    this.rebuildStreams();
    if (this.cfg.fullTrickle) {
      const mid = merged.media.find((m) => m.port !== 0)?.mid ?? '0';
      const mindex = Math.max(0, merged.media.findIndex((m) => m.mid === mid));
      setImmediate(() => {
        if (this.closed) return;
        try {
          for (const c of this.candidates.advertised) this.events.localCandidate({ sdpMid: mid, sdpMLineIndex: mindex, candidate: serializeCandidate(c) });
          this.events.localCandidate({ completed: true });
        } catch (err) {
          this.failure('peer_timer', 'trickle', err);
        }
      });
    }
    this.flush();
    return text;
  }

  /**
   * Restart ICE from our side (we are about to offer): new local credentials, used by the next
   * setLocalDescription(offer); the current pair keeps carrying media until a new one is selected.
   */
  restartIce(): void {
    if (this.closed) return;
    this.registerUfrag(this.freshUfrag());
    this.localPwd = iceString(22);
    this.agent?.restart(this.localUfrag, this.localPwd);
    this.flush();
  }

  /** The ICE agent (tests, diagnostics: checklist, selected pair). */
  get iceAgent(): IceAgent | null {
    return this.agent;
  }

  /** Our current ICE credentials (tests, diagnostics). */
  get localCredentials(): { ufrag: string; pwd: string } {
    return { ufrag: this.localUfrag, pwd: this.localPwd };
  }

  /** Did the last remote description restart ICE? */
  get iceRestarted(): boolean {
    return this.lastRestart;
  }

  /** Candidates the client trickled (queued until the remote description is known). */
  addTrickle(list: TrickleCandidate[]): void {
    if (this.closed) return;
    for (const t of list) {
      if (t.completed === true) {
        if (this.agent && this.remoteCreds) this.agent.endOfCandidates();
        else this.pendingEndOfCandidates = true;
        continue;
      }
      const line = typeof t.candidate === 'string' ? t.candidate : undefined;
      if (line === undefined || line === '') continue;
      if (this.agent && this.remoteCreds) this.remoteCandidate(this.agent, line);
      else {
        const c = tryParseCandidate(line);
        if (c) this.pendingRemoteCandidates.push(c);
        else this.cfg.log.debug('remote candidate ignored (unparsable)', { handle: this.handleId, candidate: line });
      }
    }
    this.flush();
  }

  /**
   * One signalled remote candidate. Like Janus, one that cannot be used is ignored (the request is still
   * answered): unparsable, port 0 or out of range, an address nothing can be sent to (the agent refuses
   * those), another family than our socket's (never paired). mDNS names are ignored as before.
   */
  private remoteCandidate(agent: IceAgent, line: string): void {
    const c = tryParseCandidate(line);
    if (c === undefined) this.cfg.log.debug('remote candidate ignored (unparsable)', { handle: this.handleId, candidate: line });
    else if (!agent.addRemoteCandidate(c)) this.cfg.log.debug('remote candidate ignored', { handle: this.handleId, candidate: line });
  }

  /**
   * Our SSRC (a=ssrc cname:janus, a=msid janus janus<mindex>) on every m-line we send on that has
   * none; plus an RTX SSRC and its FID group when the plugin's m-line carries an RTX payload type.
   */
  private addLocalSsrcs(desc: SessionDescription): void {
    desc.media.forEach((m, i) => {
      if (m.kind !== 'audio' && m.kind !== 'video') return;
      if (m.port === 0 && !m.bundleOnly) return;
      const dir = m.direction ?? desc.direction ?? 'sendrecv';
      if (dir !== 'sendrecv' && dir !== 'sendonly') return;
      if (m.ssrcs.length > 0) return; // the plugin chose its own
      const mid = m.mid ?? String(i);
      const line = this.byMid.get(mid);
      const live = line !== undefined && !line.removed;
      const ssrc = live ? line.localSsrc : randomSsrc();
      const pts = primaryPayloadTypes(m);
      const wantRtx = m.kind === 'video' && pts.length > 0 && rtxPtFor(m, pts[0]!) >= 0;
      let rtx = 0;
      if (wantRtx) rtx = live && line.localRtxSsrc !== 0 ? line.localRtxSsrc : randomSsrc();
      if (line) {
        line.localSsrc = ssrc;
        line.localRtxSsrc = rtx;
      } else this.pendingLocalSsrc.set(mid, { ssrc, rtx });
      if (m.msids.length === 0) m.msids.push({ stream: 'janus', track: `janus${i}` });
      if (rtx !== 0) m.ssrcGroups.push({ semantics: 'FID', ssrcs: [ssrc, rtx] });
      m.ssrcs.push({ ssrc, attribute: 'cname', value: 'janus' });
      if (rtx !== 0) m.ssrcs.push({ ssrc: rtx, attribute: 'cname', value: 'janus' });
    });
  }
  private readonly pendingLocalSsrc = new Map<string, { ssrc: number; rtx: number }>();

  /** (Re)derive the m-line table from the current local and remote descriptions, and declare it to the RTP session. */
  private rebuildStreams(): void {
    const local = this.localDesc;
    const remote = this.remoteDesc;
    const n = Math.max(local?.media.length ?? 0, remote?.media.length ?? 0);
    let data = false;
    const ext = { mid: 0, rid: 0, repairedRid: 0, transportCc: 0, absSendTime: 0 };
    for (let i = 0; i < n; i++) {
      const lm = local?.media[i];
      const rm = remote?.media[i];
      const any = lm ?? rm!;
      const mid = any.mid ?? String(i);
      const rejected = (lm !== undefined && lm.port === 0 && !lm.bundleOnly) || (rm !== undefined && rm.port === 0 && !rm.bundleOnly);
      if (any.kind === 'application') {
        if (!rejected && lm !== undefined && rm !== undefined) {
          data = true;
          this.sctpRemotePort = rm.sctpPort ?? 5000;
        } else if (!rejected) data = true;
        continue;
      }
      if (any.kind !== 'audio' && any.kind !== 'video') continue;
      if (rejected) {
        const old = this.byMid.get(mid);
        if (old) this.retireLine(old);
        continue;
      }
      let line = this.byMid.get(mid);
      if (!line) {
        line = new MLine(mid, i, any.kind === 'audio' ? 'audio' : 'video');
        const chosen = this.pendingLocalSsrc.get(mid);
        if (chosen !== undefined) {
          line.localSsrc = chosen.ssrc;
          line.localRtxSsrc = chosen.rtx;
          this.pendingLocalSsrc.delete(mid);
        }
        this.byMid.set(mid, line);
        this.lines.push(line);
      }
      line.removed = false;
      if (line.mindex !== i) {
        line.mindex = i;
        line.info = { ...line.info, mindex: i };
      }
      const linfo: MediaInfo | undefined = lm ? describeMediaSection(lm, i, local!.direction) : undefined;
      const rinfo: MediaInfo | undefined = rm ? describeMediaSection(rm, i, remote!.direction) : undefined;
      // Our view of directions comes from our own SDP when we have it.
      const dir: Direction = linfo?.direction ?? (rinfo ? flip(rinfo.direction) : 'sendrecv');
      line.send = dir === 'sendrecv' || dir === 'sendonly';
      line.recv = dir === 'sendrecv' || dir === 'recvonly';
      const neg = linfo ?? rinfo;
      const negSection = lm ?? rm!;
      if (neg?.rtpmap) {
        line.clockRate = neg.rtpmap.clock;
        line.pt = neg.pt ?? -1;
        line.codec = neg.codec ?? neg.rtpmap.codec.toLowerCase();
      } else if (neg?.pt !== undefined) {
        line.pt = neg.pt;
        line.clockRate = line.kind === 'audio' ? 8000 : 90000;
      }
      if (linfo && linfo.mediaSsrcs.length > 0) {
        line.localSsrc = linfo.mediaSsrcs[0]!;
        line.localRtxSsrc = linfo.fid.find((f) => f[0] === line!.localSsrc)?.[1] ?? 0;
      }
      line.nack = line.kind === 'video' && line.pt >= 0 && hasFb(negSection, line.pt, 'nack');
      // RTX only when both descriptions carry it for the negotiated payload type.
      line.rtxPt = -1;
      if (line.kind === 'video' && line.pt >= 0 && lm && rm) {
        const a = rtxPtFor(lm, line.pt);
        if (a >= 0 && rtxPtFor(rm, line.pt) === a) line.rtxPt = a;
      }
      const ids = negSection.extmaps;
      for (const e of ids) {
        if (e.uri === EXT.mid && ext.mid === 0) ext.mid = e.id;
        else if (e.uri === EXT.rid && ext.rid === 0) ext.rid = e.id;
        else if (e.uri === EXT.repairedRid && ext.repairedRid === 0) ext.repairedRid = e.id;
        else if (e.uri === EXT.transportWideCc && ext.transportCc === 0) ext.transportCc = e.id;
        else if (e.uri === EXT.absSendTime && ext.absSendTime === 0) ext.absSendTime = e.id;
      }
      this.declareLocal(line, local !== null && remote !== null);
      this.declareRemote(line, rinfo, linfo, primaryPayloadTypes(negSection), hasFb(negSection, line.pt, 'nack', 'pli') || !hasFb(negSection, line.pt, 'ccm', 'fir') ? 'pli' : 'fir');
    }
    this.session.setExtensions(ext);
    this.updatePacer(ext.transportCc > 0);
    this.lastSendLine = null;
    this.wantData = data;
  }

  /** A pacer while transport-cc is negotiated (and pacing not turned off); without, packets leave as they come. */
  private updatePacer(twcc: boolean): void {
    const want = twcc && this.cfg.pacing !== false;
    if (want === (this.pacer !== null)) return;
    if (want) {
      this.pacer = new Pacer();
      this.session.deferRetransmitStamp = true;
      return;
    }
    // Renegotiated without transport-cc: what waits goes now, unpaced.
    this.flushPacer(performance.now(), true);
    this.pacer = null;
    this.session.deferRetransmitStamp = false;
  }

  /** Our outgoing stream on `line` (SR, retransmission ring), declared once both SDPs are known. */
  private declareLocal(line: MLine, negotiated: boolean): void {
    const rtx = line.rtxPt >= 0 && line.localRtxSsrc !== 0;
    const key = !negotiated || !line.send ? '' : `${line.localSsrc}/${rtx ? line.localRtxSsrc : 0}/${line.rtxPt}/${line.nack}/${line.clockRate}`;
    if (key === line.localKey) return;
    if (line.localKey !== '') this.session.removeLocalStream(line.mid);
    line.localKey = key;
    if (key === '') return;
    this.session.addLocalStream({
      mid: line.mid,
      kind: line.kind,
      ssrc: line.localSsrc,
      clockRate: line.clockRate,
      nack: line.nack,
      ...(rtx ? { rtxSsrc: line.localRtxSsrc, rtxPt: line.rtxPt } : {}),
    });
  }

  /** The m-line as we receive it (payload types, RTX, rids, signalled SSRCs). */
  private declareRemote(line: MLine, rinfo: MediaInfo | undefined, linfo: MediaInfo | undefined, pts: number[], keyframe: 'pli' | 'fir'): void {
    if (!line.recv) {
      if (line.remoteKey !== '') this.session.removeRemoteMid(line.mid);
      line.remoteKey = '';
      return;
    }
    // The rids the peer sends, once our own SDP is known only those it accepted (a=rid:<id> recv): an
    // answer without a=simulcast (EchoTest) declines them all, and the peer then sends one plain
    // stream (Firefox keeps its a=ssrc lines; expecting rid layers would drop its video).
    let rids = rinfo ? rinfo.rids.filter((r) => r.direction === 'send').map((r) => r.id) : [];
    if (linfo) rids = rids.filter((id) => linfo.rids.some((r) => r.id === id && r.direction === 'recv'));
    const rtx = line.rtxPt >= 0 && line.pt >= 0 ? [{ pt: line.rtxPt, apt: line.pt }] : [];
    const key = JSON.stringify([line.kind, line.clockRate, line.nack, keyframe, rtx, rids, pts]);
    if (key !== line.remoteKey) {
      line.remoteKey = key;
      this.session.addRemoteMid({ mid: line.mid, kind: line.kind, clockRate: line.clockRate, nack: line.nack, keyframe, rtx, rids, payloadTypes: pts });
    }
    if (!rinfo) return;
    const sim = rinfo.sim;
    const fidOf = (s: number): number | undefined => (line.rtxPt >= 0 ? rinfo.fid.find((f) => f[0] === s)?.[1] : undefined);
    if (sim && sim.length > 1) {
      sim.forEach((ssrc, k) => {
        const r = fidOf(ssrc);
        this.session.addRemoteSsrc(line.mid, ssrc, { substream: k, ...(r !== undefined ? { rtxSsrc: r } : {}) });
      });
    } else if (rinfo.mediaSsrcs.length > 0 && rids.length <= 1) {
      const ssrc = rinfo.mediaSsrcs[0]!;
      const r = fidOf(ssrc);
      this.session.addRemoteSsrc(line.mid, ssrc, r !== undefined ? { rtxSsrc: r } : {});
    }
  }

  private retireLine(line: MLine): void {
    if (line.removed) return;
    line.removed = true;
    line.send = line.recv = false;
    if (line.localKey !== '') this.session.removeLocalStream(line.mid);
    if (line.remoteKey !== '') this.session.removeRemoteMid(line.mid);
    line.localKey = line.remoteKey = '';
  }

  private createDtls(transport: RemoteTransport): void {
    const fps: DtlsFingerprint[] = transport.fingerprints.map((f) => ({ algorithm: f.hash, value: f.value.toUpperCase() }));
    this.remoteFingerprint = fps[0] ? { hash: fps[0].algorithm, value: fps[0].value } : null;
    this.dtls = new DtlsEndpoint(
      { role: this.dtlsRole!, certificate: this.cfg.certificate, remoteFingerprints: fps, mtu: this.cfg.dtlsMtu, ...(this.cfg.dtlsInitialRtoMs !== undefined ? { initialRtoMs: this.cfg.dtlsInitialRtoMs } : {}) },
      {
        transmit: (d) => this.sendRaw(d),
        // Application-data datagrams are built in the pooled send buffers (returned once sent).
        acquireBuffer: () => this.acquire(),
        transmitBuffer: (b, len) => this.sendPooled(b, len),
        connected: (info) => this.onDtlsConnected(info),
        // The endpoint swallows what its consumer throws: catch it here so an SCTP bug closes this PeerConnection.
        data: (d) => {
          try {
            this.sctp?.onDtlsData(d);
          } catch (err) {
            this.failure('sctp', 'sctp', err);
          }
        },
        closed: (reason, detail) => this.onDtlsClosed(reason, detail),
      },
    );
    const early = this.earlyDtls;
    this.earlyDtls = [];
    for (const d of early) this.dtls.handleDatagram(d, performance.now());
  }

  // ============================================================ receive path

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    this.receive(msg, rinfo, SOCKET_UDP4);
  };

  private readonly onMessage6 = (msg: Buffer, rinfo: RemoteInfo): void => {
    this.receive(msg, rinfo, SOCKET_UDP6);
  };

  /** One packet from local ICE socket `socketId` (0: the UDP socket, else an ICE-TCP connection). */
  private receive(msg: Buffer, rinfo: SocketAddress, socketId: number): void {
    if (this.closed || msg.length === 0) return;
    const b0 = msg[0]!;
    let stage = STAGE_DEMUX;
    try {
      if (b0 >= 128 && b0 <= 191) {
        if (msg.length >= 2 && msg[1]! >= 192 && msg[1]! <= 223) {
          stage = STAGE_RTCP;
          this.onRtcp(msg);
        } else {
          stage = STAGE_RTP;
          this.onRtp(msg);
        }
        return;
      }
      if (b0 <= 3) {
        stage = STAGE_STUN;
        if (this.agent === null || !this.agent.handlePacket(msg, rinfo, socketId, performance.now())) this.counters.dropped++;
        this.flush();
        return;
      }
      if (b0 >= 20 && b0 <= 63) {
        stage = STAGE_DTLS;
        // A DTLS packet from anywhere before ICE picked a pair sets the destination: only a real one.
        if (this.remoteAddress === null && rinfo.port > 0) this.setPath(socketId, rinfo);
        if (this.dtls) this.dtls.handleDatagram(msg, performance.now());
        else if (this.earlyDtls.length < 16) this.earlyDtls.push(msg);
        else this.counters.dropped++;
        this.flush();
        return;
      }
      this.counters.dropped++;
    } catch (err) {
      // Never out of the receive loop. Not bad input (that is rejected by return codes): a bug.
      this.counters.dropped++;
      this.failure('socket', STAGE_NAMES[stage]!, err, RECEIVE_FAULT_LIMIT);
    }
  }

  // ============================================================ ICE-TCP

  /** A ufrag no other PeerConnection of this plane uses (the ICE-TCP listener and the single-port socket route by it). */
  private freshUfrag(): string {
    return this.cfg.ufragRouter?.fresh() ?? iceString(4);
  }

  private registerUfrag(ufrag: string): void {
    this.localUfrag = ufrag;
    const r = this.cfg.ufragRouter;
    if (r === undefined) return;
    if (this.registeredUfrag !== null) r.unregister(this.registeredUfrag, this.route);
    this.registeredUfrag = ufrag;
    r.register(ufrag, this.route);
  }

  private readonly tcpOwner: IceTcpOwner = {
    adopt: (conn) => {
      const a = this.agent;
      if (this.closed || a === null || this.tcpConns.size >= MAX_TCP_CONNECTIONS) return false;
      const id = ++this.tcpSeq;
      conn.socketId = id;
      conn.setReceiver(this.tcpReceiver);
      this.tcpConns.set(id, conn);
      a.addLocalCandidate(tcpPassiveCandidate(conn.local.address, conn.local.port), id);
      this.cfg.log.verb('ICE-TCP connection adopted', { handle: this.handleId, remote: `${conn.remote.address}:${conn.remote.port}` });
      return true;
    },
  };

  private readonly tcpReceiver: IceTcpReceiver = {
    onFrame: (frame, conn) => this.receive(frame, conn.remote, conn.socketId),
    onClose: (conn) => {
      this.tcpConns.delete(conn.socketId);
      // The selected pair's connection is gone: nothing to send on until ICE picks another (consent fails).
      if (this.path instanceof TcpPath && this.path.conn === conn) this.path = null;
    },
  };

  /** Media goes to `to` through local ICE socket `socketId` from now on. */
  private setPath(socketId: number, to: SocketAddress): void {
    this.remoteAddress = { address: to.address, port: to.port };
    if (socketId === SOCKET_UDP4) this.path = new UdpPath(this.socket, to.address, to.port);
    else if (socketId === SOCKET_UDP6) this.path = this.candidates.v6 !== undefined ? new UdpPath(this.candidates.v6.socket, to.address, to.port) : null;
    else {
      const conn = this.tcpConns.get(socketId);
      this.path = conn !== undefined ? new TcpPath(conn) : null;
    }
  }

  /** Where a selected pair's media goes: 'udp' or 'tcp' (tests, diagnostics). */
  get selectedTransport(): 'udp' | 'tcp' | null {
    return this.path === null ? null : this.path instanceof TcpPath ? 'tcp' : 'udp';
  }

  /**
   * A fault caught at one of this PeerConnection's boundaries: counted and logged with the handle id,
   * then (from the `limit`-th on) the PeerConnection is hung up with a reason, as the core does for
   * ICE failure: `hangup` event, the plugin's hangupMedia. Only this PeerConnection.
   */
  private failure(boundary: FaultBoundary, stage: string, err: unknown, limit = 1): void {
    this.faults++;
    if (this.closed || this.failing) {
      // Already being hung up: counted, not logged again (a flush can fail once per pending datagram).
      countFault(boundary);
      return;
    }
    fault(this.cfg.log, boundary, err, { handle_id: this.handleId, where: stage });
    if (this.faults < limit) return;
    this.failing = true;
    this.closeSoon(`Internal error (${stage})`, boundary);
  }

  /**
   * Ask the owner to hang this PeerConnection up (`hangup` event with `reason`), on a fresh stack: the
   * hangup closes the agent/DTLS/SCTP whose callback we may be in. A microtask, not per packet.
   */
  private closeSoon(reason: string, boundary: FaultBoundary): void {
    queueMicrotask(() => {
      if (this.closed) return;
      try {
        this.events.closed(reason);
      } catch (e) {
        fault(this.cfg.log, boundary, e, { handle_id: this.handleId, where: 'hangup' });
      }
      // The owner did not close us (it failed): stop here anyway.
      if (!this.closed && this.failing) this.close();
    });
  }

  /** Faults caught at this PeerConnection's boundaries so far (tests, diagnostics). */
  get faultCount(): number {
    return this.faults;
  }

  private onRtp(buf: Buffer): void {
    const srtp = this.srtpIn;
    if (srtp === null) {
      this.counters.dropped++;
      return;
    }
    const len = srtp.unprotectRtp(buf, buf.length);
    if (len < 0) {
      this.counters.srtpErrors++;
      return;
    }
    const now = performance.now();
    const s = this.session;
    const i = s.onRtp(buf, len, now);
    if (i >= 0) {
      const info = this.inInfo[i] ?? this.bindInbound(i);
      const line = this.inLine[i]!;
      const sink = this.sink;
      if (sink !== null && line.recv) sink.incomingRtp(info, buf, s.rtpLength);
    }
    if (s.hasPendingRtcp || s.hasPendingEvents) this.service(now);
  }

  /** First packet of an inbound stream: its RtpStreamInfo (one object per SSRC) and m-line. */
  private bindInbound(i: number): RtpStreamInfo {
    const st = this.session.inboundStream(i)!;
    const line = this.byMid.get(st.mid)!;
    const substream = st.substream < 0 ? 0 : st.substream;
    let info = this.infoBySsrc.get(st.ssrc);
    if (info === undefined || info.mid !== st.mid || info.mindex !== line.mindex || info.substream !== substream || info.rid !== st.rid) {
      info = { mid: st.mid, mindex: line.mindex, kind: st.kind, ssrc: st.ssrc, substream, rid: st.rid };
      this.infoBySsrc.set(st.ssrc, info);
    }
    this.inInfo[i] = info;
    this.inLine[i] = line;
    if (line.info.ssrc === 0 || substream === 0) line.info = info;
    return info;
  }

  private onRtcp(buf: Buffer): void {
    const srtp = this.srtpIn;
    if (srtp === null) {
      this.counters.dropped++;
      return;
    }
    const len = srtp.unprotectRtcp(buf, buf.length);
    if (len < 0) {
      this.counters.srtpErrors++;
      return;
    }
    const now = performance.now();
    const r = this.session.onRtcp(buf, len, now);
    const out = this.srtpOut;
    const pacer = this.pacer;
    if (pacer !== null && r.twccCount > 0) pacer.setEstimate(this.session.estimateBps, now, this.session.estimator?.nearLimit ?? true);
    if (r.retransmitCount > 0 && out !== null) {
      for (let k = 0; k < r.retransmitCount; k++) {
        const n = r.retransmitLengths[k]!;
        if (n + out.rtpOverhead > OUT_BUFFER_SIZE) continue;
        const b = this.acquire();
        r.retransmitBuffers[k]!.copy(b, 0, 0, n);
        if (pacer !== null) {
          if (!pacer.trySend(PACE_RTX, n, now)) {
            const dropped = pacer.enqueue(PACE_RTX, b, n, now);
            if (dropped !== null) this.releaseUnused(dropped);
            this.armPacerTimer(pacer.nextSendAt(now));
            continue;
          }
          this.session.stampRetransmission(b, n, now);
        }
        const p = out.protectRtp(b, n);
        if (p < 0) {
          this.releaseUnused(b);
          continue;
        }
        this.sendPooled(b, p);
      }
    }
    let about: MLine | null = null;
    if (r.keyframeCount > 0) about = this.byMid.get(r.keyframeMids[0]!) ?? null;
    else if (r.pliCount + r.firCount > 0) about = this.psfbLine(buf, len);
    const sink = this.sink;
    if (sink !== null) sink.incomingRtcp(about !== null ? about.info : null, buf, len);
    if (this.session.hasPendingEvents) this.service(now);
  }

  /** The m-line whose local SSRC the first PLI/FIR of a compound is about. */
  private psfbLine(buf: Buffer, len: number): MLine | null {
    const r = this.rtcpReader.reset(buf, len);
    while (r.next()) {
      if (r.type !== RtcpType.PSFB || r.length < 12 || r.count === PsfbFmt.AFB) continue;
      const ssrc = r.count === PsfbFmt.FIR && r.length >= 20 ? buf.readUInt32BE(r.offset + 12) : fbMediaSsrc(buf, r.offset);
      for (const l of this.lines) if (!l.removed && l.localSsrc === ssrc) return l;
    }
    return null;
  }

  // ============================================================ send path

  private acquire(): Buffer {
    // allocUnsafeSlow: pooled buffers live as long as the peer (see rtcpOut).
    return this.free.pop() ?? Buffer.allocUnsafeSlow(OUT_BUFFER_SIZE);
  }

  private releaseUnused(b: Buffer): void {
    if (this.free.length < MAX_FREE_BUFFERS) this.free.push(b);
  }

  private sendPooled(b: Buffer, len: number): void {
    const path = this.path;
    if (path === null) {
      this.releaseUnused(b);
      return;
    }
    try {
      // Not free (queued behind a full socket buffer): the transport keeps it, the pool makes another.
      if (path.send(b, 0, len)) this.releaseUnused(b);
    } catch (err) {
      // Synchronous: bad port/address (ICE never selects one) or a closed socket.
      this.releaseUnused(b);
      this.failure('send', 'send', err);
    }
  }

  /** Unpooled packet on the selected path (DTLS): the sender allocated it. */
  private sendRaw(d: Buffer): void {
    const path = this.path;
    if (this.closed || path === null) return;
    try {
      path.send(d, 0, d.length);
    } catch (err) {
      this.failure('send', 'send', err);
    }
  }

  /** An ICE agent's packet: out of the local ICE socket it names. */
  private sendIce(d: Buffer, to: SocketAddress, socketId: number): void {
    if (this.closed) return;
    try {
      if (socketId === SOCKET_UDP4) this.socket.send(d, to.port, to.address);
      else if (socketId === SOCKET_UDP6) this.candidates.v6?.socket.send(d, to.port, to.address);
      else this.tcpConns.get(socketId)?.send(d, 0, d.length);
    } catch (err) {
      this.failure('send', 'send', err);
    }
  }

  /** Plugin relay: a plain RTP packet for m-line `mid`. */
  sendRtp(mid: string, buf: Buffer, len: number): void {
    const srtp = this.srtpOut;
    if (srtp === null || this.remoteAddress === null) return;
    let line = this.lastSendLine;
    if (line === null || line.mid !== mid) {
      line = this.byMid.get(mid) ?? null;
      if (line === null || line.removed) return;
      this.lastSendLine = line;
    }
    if (!line.send || len < 12 || len + srtp.rtpOverhead > OUT_BUFFER_SIZE) return;
    const out = this.acquire();
    buf.copy(out, 0, 0, len);
    setRtpSsrc(out, line.localSsrc);
    const now = performance.now();
    let kf = false;
    if (this.nackOptimizations && line.kind === 'video') {
      const hdr = rtpHeaderLength(out, len);
      kf = hdr > 0 && isKeyframe(line.codec, out, hdr, len);
    }
    const pacer = this.pacer;
    if (pacer !== null) {
      const kind = line.kind === 'audio' ? PACE_AUDIO : PACE_VIDEO;
      if (!pacer.trySend(kind, len, now)) {
        // Held by the pacer (the buffer is ours until it leaves); stamped and protected then.
        const dropped = pacer.enqueue(kind, out, len, now, kf ? 1 : 0);
        if (dropped !== null) {
          // A full queue dropped its oldest video packet: the receiver cannot decode past it.
          this.pacerDropped(dropped);
          this.releaseUnused(dropped);
        }
        this.armPacerTimer(pacer.nextSendAt(now));
        return;
      }
    }
    if (this.session.onOutgoingRtp(out, len, now, kf) < 0) {
      this.releaseUnused(out);
      return;
    }
    if (!this.sentMedia || this.session.ccParked) this.firstMediaSent();
    const n = srtp.protectRtp(out, len);
    if (n < 0) {
      this.releaseUnused(out);
      return;
    }
    this.sendPooled(out, n);
  }

  /**
   * Plugin relay: RTCP feedback about what the peer sends on `mid`. PLI/FIR become the session's
   * keyframe requests (its own FIR sequence numbers, coalesced); REMB goes out with our SSRCs.
   */
  sendRtcp(mid: string | null, buf: Buffer, len: number): void {
    const srtp = this.srtpOut;
    if (srtp === null || this.remoteAddress === null) return;
    const line = mid !== null ? this.byMid.get(mid) : this.lines.find((l) => !l.removed && l.recv && l.kind === 'video');
    if (!line || line.removed) return;
    const out = this.rtcpOut;
    let w = 0;
    let keyframe = false;
    const r = this.rtcpReader.reset(buf, len);
    while (r.next()) {
      if (r.type !== RtcpType.PSFB || r.length < 12) continue;
      if (r.count === PsfbFmt.PLI) {
        keyframe = this.session.requestKeyframe(line.mid, 'pli') || keyframe;
      } else if (r.count === PsfbFmt.FIR) {
        keyframe = this.session.requestKeyframe(line.mid, 'fir') || keyframe;
      } else if (r.count === PsfbFmt.AFB && r.length >= 24 && buf[r.offset + 12] === 0x52 && w + r.length <= MAX_RTCP_SIZE) {
        // REMB: media SSRC field is 0; the SSRC list names the streams it applies to.
        buf.copy(out, w, r.offset, r.offset + r.length);
        setFbSenderSsrc(out, w, line.localSsrc);
        const n = out[w + 16]!;
        const remote = line.info.ssrc;
        for (let i = 0; i < n && 24 + 4 * i <= r.length; i++) out.writeUInt32BE(remote, w + 20 + 4 * i);
        w += r.length;
      }
    }
    if (w > 0) this.sendRtcpCompound(out, w);
    if (keyframe || this.session.hasPendingRtcp) this.service(performance.now());
  }

  private sentMedia = false;

  /**
   * The first RTP packet sent: until now the session's reports and per-second tick were off the timer
   * (nothing to report, see RtpSession.pollTimeout); the first SR goes out on time from here. Also
   * the first after an idle spell that parked the estimator's check (RtpSession.ccParked).
   */
  private firstMediaSent(): void {
    this.sentMedia = true;
    const at = this.session.pollTimeout();
    if (at !== undefined && this.up) this.armTimer(at);
  }

  /** Protect and send an RTCP compound that sits in `src` (copied into a pooled buffer). */
  private sendRtcpCompound(src: Buffer, len: number): void {
    const srtp = this.srtpOut;
    if (srtp === null || this.remoteAddress === null) return;
    if (len + srtp.rtcpOverhead > OUT_BUFFER_SIZE) return;
    const out = this.acquire();
    src.copy(out, 0, 0, len);
    const n = srtp.protectRtcp(out, len);
    if (n < 0) {
      this.releaseUnused(out);
      return;
    }
    this.sendPooled(out, n);
  }

  /** Ask the peer for a keyframe on `mid` (null: every video m-line we receive). */
  sendPli(mid: string | null): void {
    for (const line of this.lines) {
      if (line.removed || !line.recv || line.kind !== 'video' || (mid !== null && line.mid !== mid)) continue;
      this.session.requestKeyframe(line.mid);
    }
    if (this.up) this.service(performance.now());
  }

  /** REMB towards the peer (bps; 0 stops it): sent at once, then every second while set. */
  sendRemb(bitrate: number): void {
    this.session.setRemb(bitrate);
    if (this.up) this.service(performance.now());
  }

  /**
   * Drive the RTP session: timers, due RTCP (reports, NACK, PLI/FIR, REMB) protected and sent,
   * events turned into PeerEvents; then re-arm the timer. Not per packet: only when something is due.
   */
  private service(now: number): void {
    if (this.closed) return;
    const s = this.session;
    s.handleTimeout(now);
    if (this.srtpOut !== null && this.remoteAddress !== null) {
      let n: number;
      for (let guard = 0; guard < 16 && (n = s.pollRtcpInto(this.rtcpOut, now)) > 0; guard++) this.sendRtcpCompound(this.rtcpOut, n);
      this.flushPacer(now, false);
      this.sendProbes(now);
    }
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) this.onSessionEvent(e);
    const at = s.pollTimeout();
    if (at !== undefined && this.up) this.armTimer(at);
    if (this.pacer !== null && this.up) this.armPacerTimer(this.pacer.nextSendAt(now));
  }

  /**
   * What the pacer lets go now: stamped (transport-cc send time = now), protected and sent; stale
   * packets it dropped go back to the pool. `all`: everything, unpaced (pacing turned off).
   */
  private flushPacer(now: number, all: boolean): void {
    const p = this.pacer;
    if (p === null) return;
    p.setEstimate(this.session.estimateBps, now, this.session.estimator?.nearLimit ?? true);
    const srtp = this.srtpOut;
    if (all) {
      // Pacing turned off by a renegotiation: what waited is dropped (stamping it now, after what
      // leaves unpaced, would reorder it); the receiver asks for it again.
      for (let d = p.drain(); d !== null; d = p.drain()) this.releaseUnused(d);
      return;
    }
    for (let guard = 0; guard < 256; guard++) {
      const r = p.poll(now);
      if (r === PACER_IDLE) return;
      const b = p.buf!;
      const len = p.len;
      const kind = p.kind;
      if (r === PACER_DROP || srtp === null || this.path === null) {
        // Stale video dropped (it waited past maxDelayMs): the receiver will miss that frame.
        if (r === PACER_DROP && kind === PACE_VIDEO) this.pacerDropped(b);
        this.releaseUnused(b);
        continue;
      }
      if (kind === PACE_RTX) this.session.stampRetransmission(b, len, now);
      else if (this.session.onOutgoingRtp(b, len, now, (p.flags & 1) !== 0, p.queuedAt) < 0) {
        this.releaseUnused(b);
        continue;
      }
      if (!this.sentMedia || this.session.ccParked) this.firstMediaSent();
      const n = srtp.protectRtp(b, len);
      if (n < 0) {
        this.releaseUnused(b);
        continue;
      }
      this.sendPooled(b, n);
    }
  }

  /**
   * The pacer dropped a video packet (stale, or a full queue) that was never sent: the receiver
   * loses that frame, and a NACK cannot bring it back (it is in no send buffer). Its decoder needs
   * a keyframe, so the plugin gets what it gets when the receiver asks for one itself: a PLI about
   * that m-line through incomingRtcp, with the plugin's own rate limit (VideoRoom, Streaming:
   * PLI_MIN_INTERVAL_MS per publisher stream). Once per burst of drops, after the current call
   * stack has unwound (the plugin may relay into this very peer).
   */
  private pacerDropped(b: Buffer): void {
    const ssrc = b.readUInt32BE(8);
    for (const l of this.lines) {
      if (l.removed || l.kind !== 'video' || l.localSsrc !== ssrc) continue;
      l.pacerDropped = true;
      if (!this.keyframeAfterDropPending) {
        this.keyframeAfterDropPending = true;
        setImmediate(this.requestKeyframesAfterDrops);
      }
      return;
    }
  }

  private keyframeAfterDropPending = false;
  /** A PLI as the receiver would send it (sender SSRC 1, media SSRC set per use). */
  private readonly dropPli = ownedCopy(Uint8Array.of(0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0)); // own store: a pool slice pins 8 kB
  private readonly requestKeyframesAfterDrops = (): void => {
    this.keyframeAfterDropPending = false;
    if (this.closed) return;
    for (const l of this.lines) {
      if (!l.pacerDropped) continue;
      l.pacerDropped = false;
      if (l.removed) continue;
      this.pacerKeyframeRequests++;
      this.dropPli.writeUInt32BE(l.localSsrc, 8);
      this.sink?.incomingRtcp(l.info, this.dropPli, 12);
    }
  };
  /** Keyframe requests made for video the pacer dropped (stats: `bwe.portunus.pacer.keyframeRequests`). */
  private pacerKeyframeRequests = 0;

  /** Probe packets due now (bandwidth probing towards this peer), protected and sent. */
  private sendProbes(now: number): void {
    const srtp = this.srtpOut;
    if (srtp === null) return;
    const pacer = this.pacer;
    // Padding has the lowest priority: none while media waits in the pacer.
    if (pacer !== null && pacer.queuedPackets > 0) return;
    for (let guard = 0; guard < 8; guard++) {
      const b = this.acquire();
      const n = this.session.pollProbeInto(b.subarray(0, OUT_BUFFER_SIZE - srtp.rtpOverhead), now);
      if (n <= 0) {
        this.releaseUnused(b);
        return;
      }
      const p = srtp.protectRtp(b, n);
      if (p < 0) {
        this.releaseUnused(b);
        return;
      }
      pacer?.onPadding(n, now);
      this.sendPooled(b, p);
    }
  }

  /**
   * The longest a packet waited in the pacer since the last call, or the oldest waits now (ms; 0
   * without a pacer). Read by auto_layers (PluginMediaHost.sendQueueMs) to step down before stale drops.
   */
  takeSendQueueMs(now: number): number {
    const p = this.pacer;
    if (p === null) return 0;
    // What a late timer explains is the process's (CPU starvation), not the link's: on the loaded
    // machine a 400 ms stall stepped subscribers down to their cheapest layer on a free link.
    const late = Math.max(this.pacerLateMs, this.pacerTimer !== null ? now - this.pacerTimerAt : 0);
    this.pacerLateMs = 0;
    return Math.max(0, p.takeRecentWait(now) - Math.max(0, late));
  }

  /** Longest a pacer timer fired after its time since the last takeSendQueueMs() (ms). */
  private pacerLateMs = 0;

  /** Send-side bandwidth estimate towards this peer from its transport-cc feedback (bps), 0 while unknown. */
  get bandwidthEstimate(): number {
    return this.session.estimateBps;
  }

  /** What the plugin would send this peer on a free link (bps): probing aims no higher. */
  setWantedBitrate(bps: number): void {
    const now = performance.now();
    this.session.setWantedBitrate(bps, now);
    if (bps > 0 && this.session.ccParked && this.up) {
      const at = this.session.pollTimeout();
      if (at !== undefined) this.armTimer(at);
    }
  }

  private onSessionEvent(e: RtpSessionEvent): void {
    switch (e.type) {
      case 'media': {
        const info: { mid: string; type: 'audio' | 'video'; receiving: boolean; substream?: number; seconds?: number } = { mid: e.mid, type: e.kind, receiving: e.receiving };
        if (e.substream !== undefined) info.substream = e.substream;
        if (e.seconds !== undefined) info.seconds = e.seconds;
        this.events.mediaState(info);
        break;
      }
      case 'slowlink':
        this.events.slowLink({ mid: e.mid, media: e.kind, uplink: e.uplink, lost: e.lost });
        break;
      case 'bye':
        this.cfg.log.verb('RTCP BYE', { handle: this.handleId, mid: e.mid, ssrc: e.ssrc });
        break;
    }
  }

  // ============================================================ data channels

  private channelOpen = new Map<string, DataChannel>();
  /** Messages the plugin sent before their channel (or the association) was open, by label. */
  private pendingData = new Map<string, Array<string | Buffer>>();
  private pendingDataBytes = 0;

  sendData(label: string | null, data: string | Buffer): void {
    if (typeof data !== 'string') data = Buffer.from(data); // the caller may reuse its buffer (SCTP sends later)
    const sctp = this.sctp;
    let ch: DataChannel | undefined;
    if (label === null) ch = this.channelOpen.values().next().value;
    else ch = this.channelOpen.get(label);
    if (ch !== undefined && sctp !== null && sctp.channels.send(ch, data)) return;
    // Not open yet: open it if needed (SCTP queues the DCEP OPEN until the association is up) and queue.
    const wanted = ch?.label ?? label ?? 'JanusDataChannel';
    if (sctp !== null && !sctp.channels.channelList.some((c) => c.label === wanted)) sctp.channels.createChannel(wanted);
    if (!this.wantData || this.pendingDataBytes > 4 * 1024 * 1024) return;
    let q = this.pendingData.get(wanted);
    if (q === undefined) this.pendingData.set(wanted, (q = []));
    q.push(data);
    this.pendingDataBytes += typeof data === 'string' ? data.length : data.length;
  }

  private flushPendingData(label: string): void {
    const q = this.pendingData.get(label);
    const ch = this.channelOpen.get(label);
    if (q === undefined || ch === undefined || this.sctp === null) return;
    this.pendingData.delete(label);
    for (const d of q) {
      this.pendingDataBytes -= d.length;
      this.sctp.channels.send(ch, d);
    }
  }

  // ============================================================ DTLS / ICE state

  /** The DTLS endpoint swallows what its callbacks throw: a throw here must still close this PeerConnection. */
  private onDtlsConnected(info: DtlsConnectedInfo): void {
    if (this.closed) return;
    try {
      inject('dtls', this.handleId);
      this.dtlsConnected(info);
    } catch (err) {
      this.failure('dtls', 'dtls', err);
    }
  }

  private dtlsConnected(info: DtlsConnectedInfo): void {
    if (info.srtp) {
      const profile = srtpProfileByDtlsId(info.srtp.profile);
      if (profile) {
        const pair = createSrtpSessionsFromDtls(info.srtp.keyingMaterial, profile, this.dtlsRole!);
        this.srtpIn = pair.inbound;
        this.srtpOut = pair.outbound;
        this.srtpProfileName = profile.name;
      }
    }
    if (this.wantData && this.dtls) {
      const s = createSctpOverDtls(this.dtls, {
        remotePort: this.sctpRemotePort,
        // The channel layer swallows what these throw: caught here so it closes this PeerConnection.
        events: {
          channelOpen: (ch) => {
            try {
              this.channelOpen.set(ch.label, ch);
              this.flushPendingData(ch.label);
              this.sink?.dataReady(ch.label);
            } catch (err) {
              this.failure('sctp', 'sctp', err);
            }
          },
          message: (ch, data, isBinary) => {
            try {
              inject('sctp', this.handleId);
              this.sink?.incomingData(ch.label, data, isBinary);
            } catch (err) {
              this.failure('sctp', 'sctp', err);
            }
          },
          channelClosed: (ch) => {
            if (this.channelOpen.get(ch.label) === ch) this.channelOpen.delete(ch.label);
          },
          fault: (err) => this.failure('sctp', 'sctp timer', err),
        },
      });
      this.sctp = s;
      // Messages queued before the association existed: their channels open now.
      for (const label of this.pendingData.keys()) if (!s.channels.channelList.some((c) => c.label === label)) s.channels.createChannel(label);
      s.start();
    }
    this.up = true;
    this.events.webrtcUp();
    this.service(performance.now());
  }

  private onDtlsClosed(reason: DtlsCloseReason, detail: string): void {
    if (this.closed || reason === 'local') return;
    this.cfg.log.verb('DTLS closed', { handle: this.handleId, reason, detail });
    this.closeSoon(reason === 'alert' ? 'DTLS alert' : 'DTLS error', 'dtls');
  }

  private onIceEvent(e: IceEvent): void {
    switch (e.type) {
      case 'selected-pair':
        this.setPath(e.pair.localSocketId, e.pair.remoteAddress);
        // Janus's ICE "connected" time is when a pair is selected (DTLS starts right after).
        if (this.iceConnectedAt < 0) this.iceConnectedAt = performance.now();
        if (this.dtls && this.dtlsRole === 'client' && this.dtls.state === 'new') this.dtls.start(performance.now());
        break;
      case 'state':
        this.iceState = e.state;
        if (this.iceConnectedAt < 0 && (e.state === 'connected' || e.state === 'completed')) this.iceConnectedAt = performance.now();
        if (e.state === 'failed') {
          this.cfg.log.info('ICE failed', { handle: this.handleId });
          this.events.iceFailed();
          if (this.cfg.hangupOnFailed) this.closeSoon('ICE failed', 'peer_timer');
        }
        break;
      default:
        break;
    }
  }

  /** Drain the agent's output, then re-arm the timer. */
  private flush(): void {
    if (this.closed) return;
    const a = this.agent;
    if (a !== null) {
      for (let t = a.pollTransmit(); t; t = a.pollTransmit()) this.sendIce(t.bytes, t.to, t.localSocketId);
      for (let e = a.pollEvent(); e; e = a.pollEvent()) this.onIceEvent(e);
    }
    let at = Infinity;
    const ia = a?.pollTimeout();
    if (ia !== undefined && ia < at) at = ia;
    const da = this.dtls?.pollTimeout();
    if (da !== undefined && da < at) at = da;
    if (this.up) {
      const sa = this.session.pollTimeout();
      if (sa !== undefined && sa < at) at = sa;
      const pa = this.pacer?.nextSendAt(performance.now());
      if (pa !== undefined) this.armPacerTimer(pa);
    }
    this.armTimer(at);
  }

  /** Only ever earlier: a later deadline is re-read from the state machines when the timer fires. */
  private armTimer(at: number): void {
    if (this.closed || at === Infinity) return;
    if (peerClock.round(at) >= this.clockAt) return;
    peerClock.set(this, at);
  }

  /** ClockClient: the deadline passed. */
  onClock(): void {
    this.onTimer();
  }

  /**
   * The pacer's own timer: it only lets out what the pacer allows (flushPacer), not the whole
   * PeerConnection's timer work (ICE, DTLS, settings, RTCP, events). Paced packets leave one or
   * two per wake-up at the peak rate, so on the main timer each of them cost a full service():
   * in bench/echo.ts --twcc that tripled the server's CPU per echoed packet.
   */
  private armPacerTimer(at: number): void {
    if (this.closed || at === Infinity) return;
    if (this.pacerTimer !== null && at >= this.pacerTimerAt) return;
    if (this.pacerTimer !== null) clearTimeout(this.pacerTimer);
    this.pacerTimerAt = at;
    this.pacerTimer = setTimeout(this.onPacerTimer, Math.max(0, at - performance.now()));
  }

  private pacerTimer: NodeJS.Timeout | null = null;
  private pacerTimerAt = Infinity;
  private readonly onPacerTimer = (): void => {
    const now = performance.now();
    if (now - this.pacerTimerAt > this.pacerLateMs) this.pacerLateMs = now - this.pacerTimerAt;
    this.pacerTimer = null;
    this.pacerTimerAt = Infinity;
    const p = this.pacer;
    if (this.closed || p === null || !this.up || this.srtpOut === null || this.remoteAddress === null) return;
    try {
      this.flushPacer(now, false);
    } catch (err) {
      this.failure('peer_timer', 'pacer timer', err);
      return;
    }
    this.armPacerTimer(p.nextSendAt(now));
  };

  private onTimer(): void {
    if (this.closed) return;
    const now = performance.now();
    let stage = 'ice';
    try {
      this.agent?.handleTimeout(now);
      stage = 'dtls';
      this.dtls?.handleTimeout(now);
      if (this.up) {
        stage = 'rtp';
        this.applySettings(this.cfg.settings());
        this.service(now);
      }
      stage = 'ice';
      this.flush();
    } catch (err) {
      // A timer gets no outside input: whatever threw is this PeerConnection's broken state. Hang it up.
      this.failure('peer_timer', `${stage} timer`, err);
    }
  }

  // ============================================================ admin / teardown

  /** ICE failed (metrics: a PeerConnection's state without building `info()`). */
  get iceFailed(): boolean {
    return this.iceState === 'failed';
  }

  /** The media part of Admin handle_info, in Janus 1.x's layout (media/handle-info.ts). Allocates. */
  info(): Record<string, unknown> {
    const a = this.agent;
    const pair = a?.getSelectedPair();
    const d = this.dtls;
    return buildMediaInfo({
      iceLite: this.cfg.iceLite,
      controlling: a ? a.controlling : null,
      iceState: this.iceState,
      agentCreatedAt: this.agentCreatedAt,
      agentStartedAt: this.agentStartedAt,
      iceConnectedAt: this.iceConnectedAt,
      localCandidates: a?.getLocalCandidates() ?? [],
      remoteCandidates: a?.getRemoteCandidates() ?? [],
      selectedPair: pair ? { local: pair.local, remote: pair.remote } : null,
      up: this.up,
      iceRestart: this.lastRestart,
      wantData: this.wantData,
      fingerprint: this.cfg.certificate.fingerprint.value,
      remoteFingerprint: this.remoteFingerprint,
      dtlsRole: this.dtlsRole,
      dtls: d ? { state: d.state, stats: d.stats, appStats: d.appStats, startedAt: d.startedAt, connectedAt: d.connectedAt } : null,
      srtpProfileName: this.srtpProfileName,
      sctp: this.sctp !== null,
      lines: this.lines.filter((l) => !l.removed),
      session: this.statsWithPacer(),
      localDesc: this.localDesc,
      remoteDesc: this.remoteDesc,
      minNackQueueMs: this.cfg.settings().minNackQueue,
      errors: { ...this.stats },
    });
  }

  /** The session's statistics with the pacer's under bwe.pacer (Admin `webrtc.bwe.portunus.pacer`). */
  private statsWithPacer(): RtpSessionStats {
    const st = this.session.getStats();
    const p = this.pacer;
    if (p !== null && st.bwe !== undefined) {
      st.bwe.pacer = { rate: Math.round(p.rateBps), queued: p.queuedPackets, queuedBytes: p.queuedBytes, sent: p.sent, delayed: p.queued, dropped: p.dropped, maxWaitMs: Math.round(p.maxWaitMs), keyframeRequests: this.pacerKeyframeRequests };
    }
    return st;
  }

  /** Stop everything and close the socket (its port returns to the allocator). Idempotent. */
  close(): void {
    if (this.closed) return;
    try {
      // RTCP BYE for our streams, like a browser's pc.close().
      if (this.up && this.srtpOut !== null && this.remoteAddress !== null) {
        const n = this.session.writeBye(this.rtcpOut, performance.now());
        if (n > 0) this.sendRtcpCompound(this.rtcpOut, n);
      }
    } catch {
      /* best effort */
    }
    try {
      this.sctp?.sctp.close();
    } catch {
      /* best effort */
    }
    try {
      this.dtls?.close(); // close_notify
    } catch {
      /* best effort */
    }
    this.closed = true;
    this.agent?.close();
    peerClock.set(this, Infinity);
    if (this.pacerTimer !== null) clearTimeout(this.pacerTimer);
    this.pacerTimer = null;
    this.sink = null;
    this.pendingData.clear();
    this.socket.off('message', this.onMessage);
    const s6 = this.candidates.v6?.socket;
    s6?.off('message', this.onMessage6);
    if (this.cfg.ufragRouter !== undefined && this.registeredUfrag !== null) this.cfg.ufragRouter.unregister(this.registeredUfrag, this.route);
    const conns = [...this.tcpConns.values()];
    this.tcpConns.clear();
    this.path = null;
    // Let queued sends (close_notify) leave before the handle goes.
    setImmediate(() => {
      try {
        this.socket.close();
      } catch {
        /* already closed */
      }
      try {
        s6?.close();
      } catch {
        /* already closed */
      }
      for (const c of conns) c.close(true);
    });
  }
}

function flip(d: Direction): Direction {
  return d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d;
}
