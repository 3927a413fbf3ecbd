/**
 * Peer: one handle's server-side PeerConnection. One UDP socket (BUNDLE + rtcp-mux), one ICE agent,
 * one DTLS association, SRTP in both directions, SCTP data channels when negotiated, and the
 * per-m-line stream state (SSRC <-> mid, receive/send statistics, NACK buffers).
 *
 * The protocol logic lives in the sans-IO modules (ice/, dtls/, srtp/, rtp/, rtcp/, sctp/); this class
 * is their glue to a socket and a timer. The packet path is synchronous and allocation-conscious:
 *
 *   socket 'message' -> onMessage (first-byte demux, RFC 7983)
 *     STUN -> IceAgent.handlePacket              DTLS -> DtlsEndpoint.handleDatagram (-> SCTP)
 *     RTP  -> SrtpContext.unprotectRtp -> stream lookup (SSRC) -> RtpReceiveStats -> sink.incomingRtp
 *     RTCP -> SrtpContext.unprotectRtcp -> SR/RR stats, NACK retransmissions -> sink.incomingRtcp
 *   sendRtp (plugin relay) -> copy into a pooled buffer -> SSRC rewrite -> send buffer -> protect -> send
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { MediaSink, TrickleCandidate } from '../core/media-plane.js';
import type { RtpStreamInfo, SlowLinkInfo } from '../core/plugin.js';
import type { Logger } from '../log.js';
import type { DtlsCertificate, Fingerprint as DtlsFingerprint } from './dtls/certificate.js';
import { DtlsEndpoint, type DtlsCloseReason, type DtlsConnectedInfo } from './dtls/endpoint.js';
import { IceAgent, type IceEvent, type SocketAddress } from './ice/agent.js';
import { serializeCandidate, tryParseCandidate, type IceCandidate } from './ice/candidate.js';
import { RtcpReader, RtcpType, PsfbFmt, RtpfbFmt } from './rtcp/header.js';
import { buildNack, buildPli, buildRemb, fbMediaSsrc, isNack, parseNack, setFbMediaSsrc, setFbSenderSsrc } from './rtcp/feedback.js';
import { ntpFraction, ntpMiddle32FromMs, ntpSeconds, rttFromReport } from './rtcp/ntp.js';
import { newReportBlock, newSenderInfo, readReportBlock, readSenderInfo, reportBlockCount, writeReceiverReport, writeSenderReport, type ReportBlock } from './rtcp/report.js';
import { buildSdesCname } from './rtcp/sdes.js';
import { readExtensionString } from './rtp/extensions.js';
import { rtpHeaderLength, rtpPayloadType, rtpSeq, rtpSsrc, rtpTimestamp, setRtpSsrc } from './rtp/header.js';
import { RtpReceiveEvent, RtpReceiveStats } from './rtp/receive-stats.js';
import { RtpSendBuffer } from './rtp/send-buffer.js';
import { RtpSendStats } from './rtp/send-stats.js';
import { createSctpOverDtls, type DataChannel, type SctpOverDtls } from './sctp/datachannel.js';
import { describeMediaSection, EXT, type MediaInfo } from './sdp/negotiate.js';
import { mergeTransport, type RemoteTransport } from './sdp/jsep.js';
import { parseSdp } from './sdp/parse.js';
import type { SessionDescription } from './sdp/types.js';
import { writeSdp } from './sdp/write.js';
import { SrtpContext, createSrtpSessionsFromDtls, srtpProfileByDtlsId } from './srtp/index.js';

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
  hangupOnFailed: boolean;
  settings: () => MediaRuntimeSettings;
  log: Logger;
}

/** What a Peer reports (the plane turns these into MediaEvents for its handle). */
export interface PeerEvents {
  webrtcUp(): void;
  mediaState(info: { mid: string; type: 'audio' | 'video'; receiving: boolean; seconds?: number }): void;
  slowLink(info: SlowLinkInfo): void;
  iceFailed(): void;
  /** The PeerConnection died on its own; the plane hangs it up. */
  closed(reason: string): void;
  localCandidate(candidate: TrickleCandidate): void;
}

export interface PeerStats {
  /** Datagrams that were not STUN/DTLS/RTP/RTCP, failed SRTP, or had an unknown SSRC. */
  dropped: number;
  srtpErrors: number;
  unknownSsrc: number;
  rtcpErrors: number;
  nacksReceived: number;
  retransmitted: number;
  nacksSent: number;
  plisSent: number;
}

/** Outgoing datagram buffers: reused once their send completed (dgram.send does not copy). */
const OUT_BUFFER_SIZE = 1600;
const MAX_FREE_BUFFERS = 64;

/** One m-line of the negotiated session. */
class MLine {
  kind: 'audio' | 'video' | 'application';
  send = false;
  recv = false;
  localSsrc = 0;
  clockRate = 90000;
  pt = -1;
  codec: string | undefined;
  nack = false;
  /** Remote SSRCs signalled for this m-line (a=ssrc, FID/SIM groups), media ones first. */
  remoteSsrcs: number[] = [];
  rtxSsrcs: number[] = [];
  rids: string[] = [];
  midExtId = 0;
  ridExtId = 0;
  readonly sendStats: RtpSendStats;
  sendBuffer: RtpSendBuffer | null = null;
  /** The stream info handed to plugins for RTCP about this m-line (and RTP when there is one SSRC). */
  info: RtpStreamInfo;
  receiving = false;
  lastRecvMs = 0;
  /** Remote report about what we send: RTT (ms), cumulative lost, jitter, fraction lost. */
  rttMs = -1;
  remoteLost = 0;
  remoteJitter = 0;
  remoteFractionLost = 0;
  lastRemoteLost = 0;
  sendBytes = 0;
  removed = false;

  constructor(
    readonly mid: string,
    public mindex: number,
    kind: 'audio' | 'video' | 'application',
  ) {
    this.kind = kind;
    this.localSsrc = randomSsrc();
    this.sendStats = new RtpSendStats(this.localSsrc, 90000);
    this.info = { mid, mindex, kind: kind === 'audio' ? 'audio' : 'video', ssrc: 0, substream: 0, rid: undefined };
  }
}

/** One incoming SSRC. */
class RecvStream {
  readonly info: RtpStreamInfo;
  readonly stats: RtpReceiveStats;
  packets = 0;
  bytes = 0;
  /** For slowlink: lost count at the last tick. */
  lastLost = 0;
  lastPliMs = -Infinity;

  constructor(
    readonly ssrc: number,
    readonly line: MLine,
    substream: number,
    rid: string | undefined,
    maxAgeMs: number,
  ) {
    this.info = { mid: line.mid, mindex: line.mindex, kind: line.kind === 'audio' ? 'audio' : 'video', ssrc, substream, rid };
    this.stats = new RtpReceiveStats(ssrc, line.clockRate, { maxAgeMs: Math.max(200, maxAgeMs) });
  }
}

function randomSsrc(): number {
  return randomInt(1, 0xffffffff) >>> 0;
}

const ICE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function iceString(n: number): string {
  const b = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ICE_CHARS[b[i]! & 63];
  return s;
}

export class Peer {
  readonly stats: PeerStats = { dropped: 0, srtpErrors: 0, unknownSsrc: 0, rtcpErrors: 0, nacksReceived: 0, retransmitted: 0, nacksSent: 0, plisSent: 0 };
  readonly createdAt = performance.now();
  private closed = false;

  // ICE
  private agent: IceAgent | null = null;
  private localUfrag = iceString(4);
  private localPwd = iceString(22);
  private remoteCreds: { ufrag: string; pwd: string } | null = null;
  private pendingRemoteCandidates: IceCandidate[] = [];
  private pendingEndOfCandidates = false;
  private remoteAddress: SocketAddress | null = null;
  private iceState = 'new';
  private lastRestart = false;

  // DTLS / SRTP / SCTP
  private dtls: DtlsEndpoint | null = null;
  private dtlsRole: 'client' | 'server' | null = null;
  private earlyDtls: Buffer[] = [];
  private srtpIn: SrtpContext | null = null;
  private srtpOut: SrtpContext | null = null;
  private srtpProfileName = '';
  private sctp: (SctpOverDtls & { onDtlsData(d: Buffer): void; start(): void }) | null = null;
  private sctpRemotePort = 5000;
  private wantData = false;
  private up = false;

  // streams
  private readonly lines: MLine[] = [];
  private readonly byMid = new Map<string, MLine>();
  private readonly byLocalSsrc = new Map<number, MLine>();
  private readonly bySsrc = new Map<number, RecvStream>();
  private lastRecv: RecvStream | null = null;
  private lastSendLine: MLine | null = null;
  private remoteDesc: SessionDescription | null = null;
  private localDesc: SessionDescription | null = null;
  private localSetup: 'actpass' | 'active' | 'passive' = 'actpass';
  private remembBitrate = 0;

  // outgoing buffers
  private readonly free: Buffer[] = [];
  private readonly inflight: Buffer[] = [];
  private readonly onSent: () => void;
  private readonly rtcpOut = Buffer.allocUnsafe(OUT_BUFFER_SIZE);
  private readonly nackScratch: number[] = [];
  private readonly block = newReportBlock();
  private readonly blocks: ReportBlock[] = [];
  private readonly senderInfo = newSenderInfo();

  // timers
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private nextTickAt = 0;
  private nextNackAt = Infinity;

  private sink: MediaSink | null = null;

  constructor(
    readonly handleId: number,
    private readonly socket: Socket,
    readonly port: number,
    private readonly candidates: { base: IceCandidate; advertised: IceCandidate[] },
    private readonly cfg: PeerConfig,
    private readonly events: PeerEvents,
  ) {
    this.onSent = () => {
      const b = this.inflight.shift();
      if (b !== undefined && this.free.length < MAX_FREE_BUFFERS) this.free.push(b);
    };
    socket.on('message', this.onMessage);
    socket.on('error', (err) => this.cfg.log.warn('media socket error', { handle: handleId, err: String(err) }));
  }

  setSink(sink: MediaSink | null): void {
    this.sink = sink;
  }

  get isUp(): boolean {
    return this.up;
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
    });
    a.addLocalCandidate(this.candidates.base, 0);
    for (const c of this.candidates.advertised) if (c !== this.candidates.base) a.addLocalCandidate(c, 0);
    this.agent = a;
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
        this.localUfrag = iceString(4);
        this.localPwd = iceString(22);
      }
      agent.restart(this.localUfrag, this.localPwd);
    }
    this.lastRestart = restart;
    this.remoteCreds = { ufrag: transport.iceUfrag, pwd: transport.icePwd };
    agent.setRemoteCredentials(transport.iceUfrag, transport.icePwd);
    for (const line of transport.allCandidates) {
      const c = tryParseCandidate(line);
      if (c) agent.addRemoteCandidate(c);
    }
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
   * candidates, BUNDLE, rtcp-mux) and our SSRCs on the m-lines we send on.
   */
  setLocalDescription(sdp: string, type: 'offer' | 'answer'): string {
    if (this.closed) throw new Error('PeerConnection closed');
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
    this.localDesc = merged;
    this.rebuildStreams();
    if (this.cfg.fullTrickle) {
      const mid = merged.media.find((m) => m.port !== 0)?.mid ?? '0';
      const mindex = Math.max(0, merged.media.findIndex((m) => m.mid === mid));
      setImmediate(() => {
        if (this.closed) return;
        for (const c of this.candidates.advertised) this.events.localCandidate({ sdpMid: mid, sdpMLineIndex: mindex, candidate: serializeCandidate(c) });
        this.events.localCandidate({ completed: true });
      });
    }
    this.flush();
    return writeSdp(merged);
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
      const c = tryParseCandidate(line);
      if (!c) continue;
      if (this.agent && this.remoteCreds) this.agent.addRemoteCandidate(c);
      else this.pendingRemoteCandidates.push(c);
    }
    this.flush();
  }

  /** Our SSRC (a=ssrc cname:janus, a=msid janus janus<mindex>) on every m-line we send on that has none. */
  private addLocalSsrcs(desc: SessionDescription): void {
    desc.media.forEach((m, i) => {
      if (m.kind !== 'audio' && m.kind !== 'video') return;
      if (m.port === 0 && !m.bundleOnly) return;
      const dir = m.direction ?? desc.direction ?? 'sendrecv';
      if (dir !== 'sendrecv' && dir !== 'sendonly') return;
      if (m.ssrcs.length > 0) return; // the plugin chose its own
      const mid = m.mid ?? String(i);
      const line = this.byMid.get(mid);
      const ssrc = line && !line.removed ? line.localSsrc : randomSsrc();
      if (line) line.localSsrc = ssrc;
      else this.pendingLocalSsrc.set(mid, ssrc);
      if (m.msids.length === 0) m.msids.push({ stream: 'janus', track: `janus${i}` });
      m.ssrcs.push({ ssrc, attribute: 'cname', value: 'janus' });
    });
  }
  private readonly pendingLocalSsrc = new Map<string, number>();

  /** (Re)derive the m-line table from the current local and remote descriptions. */
  private rebuildStreams(): void {
    const local = this.localDesc;
    const remote = this.remoteDesc;
    const n = Math.max(local?.media.length ?? 0, remote?.media.length ?? 0);
    const seen = new Set<string>();
    let data = false;
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
        } else if (!rejected && (lm ?? rm)) data = data || lm !== undefined || rm !== undefined;
        continue;
      }
      if (any.kind !== 'audio' && any.kind !== 'video') continue;
      if (rejected) {
        const old = this.byMid.get(mid);
        if (old) old.removed = true;
        continue;
      }
      seen.add(mid);
      let line = this.byMid.get(mid);
      if (!line) {
        line = new MLine(mid, i, any.kind === "audio" ? "audio" : "video");
        const chosen = this.pendingLocalSsrc.get(mid);
        if (chosen !== undefined) {
          line.localSsrc = chosen;
          this.pendingLocalSsrc.delete(mid);
        }
        this.byMid.set(mid, line);
        this.lines.push(line);
      }
      line.removed = false;
      line.mindex = i;
      const linfo: MediaInfo | undefined = lm ? describeMediaSection(lm, i, local!.direction) : undefined;
      const rinfo: MediaInfo | undefined = rm ? describeMediaSection(rm, i, remote!.direction) : undefined;
      // Our view of directions comes from our own SDP when we have it.
      const dir = linfo?.direction ?? (rinfo ? flip(rinfo.direction) : 'sendrecv');
      line.send = dir === 'sendrecv' || dir === 'sendonly';
      line.recv = dir === 'sendrecv' || dir === 'recvonly';
      const neg = linfo ?? rinfo;
      if (neg?.rtpmap) {
        line.clockRate = neg.rtpmap.clock;
        line.pt = neg.pt ?? -1;
        line.codec = neg.codec ?? neg.rtpmap.codec.toLowerCase();
      } else if (neg?.pt !== undefined) {
        line.pt = neg.pt;
        line.clockRate = line.kind === 'audio' ? 8000 : 90000;
      }
      if (linfo && linfo.mediaSsrcs.length > 0) line.localSsrc = linfo.mediaSsrcs[0]!;
      const fbSection = lm ?? rm!;
      line.nack = line.kind === 'video' && fbSection.rtcpFbs.some((f) => f.type === 'nack' && f.subtype === undefined);
      if (line.send && line.kind === 'video' && line.nack && line.sendBuffer === null) {
        line.sendBuffer = new RtpSendBuffer({ capacity: 1024, maxAgeMs: Math.max(200, this.cfg.settings().minNackQueue) });
      }
      if (rinfo) {
        line.remoteSsrcs = rinfo.mediaSsrcs;
        line.rtxSsrcs = rinfo.fid.map((f) => f[1]);
        line.rids = rinfo.rids.filter((r) => r.direction === 'send').map((r) => r.id);
        const ids = linfo?.extmapIds ?? rinfo.extmapIds;
        line.midExtId = ids[EXT.mid] ?? 0;
        line.ridExtId = ids[EXT.rid] ?? 0;
        const first = rinfo.sim?.[0] ?? line.remoteSsrcs[0] ?? 0;
        line.info = { mid, mindex: i, kind: line.kind === 'audio' ? 'audio' : 'video', ssrc: first, substream: 0, rid: undefined };
      }
      (line.sendStats as { clockRate: number }).clockRate = line.clockRate;
      (line.sendStats as { ssrc: number }).ssrc = line.localSsrc;
    }
    this.byLocalSsrc.clear();
    for (const l of this.lines) if (!l.removed) this.byLocalSsrc.set(l.localSsrc, l);
    // Streams whose m-line went away are forgotten.
    for (const [ssrc, rs] of this.bySsrc) if (rs.line.removed) this.bySsrc.delete(ssrc);
    this.lastRecv = null;
    this.lastSendLine = null;
    this.wantData = data;
  }

  private createDtls(transport: RemoteTransport): void {
    const fps: DtlsFingerprint[] = transport.fingerprints.map((f) => ({ algorithm: f.hash, value: f.value.toUpperCase() }));
    this.dtls = new DtlsEndpoint(
      { role: this.dtlsRole!, certificate: this.cfg.certificate, remoteFingerprints: fps, mtu: this.cfg.dtlsMtu },
      {
        transmit: (d) => this.sendRaw(d),
        connected: (info) => this.onDtlsConnected(info),
        data: (d) => this.sctp?.onDtlsData(d),
        closed: (reason, detail) => this.onDtlsClosed(reason, detail),
      },
    );
    const early = this.earlyDtls;
    this.earlyDtls = [];
    for (const d of early) this.dtls.handleDatagram(d, performance.now());
  }

  // ============================================================ receive path

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.closed || msg.length === 0) return;
    const b0 = msg[0]!;
    try {
      if (b0 >= 128 && b0 <= 191) {
        if (msg.length >= 2 && msg[1]! >= 192 && msg[1]! <= 223) this.onRtcp(msg);
        else this.onRtp(msg);
        return;
      }
      if (b0 <= 3) {
        if (this.agent === null || !this.agent.handlePacket(msg, rinfo, 0, performance.now())) this.stats.dropped++;
        this.flush();
        return;
      }
      if (b0 >= 20 && b0 <= 63) {
        if (this.remoteAddress === null) this.remoteAddress = { address: rinfo.address, port: rinfo.port };
        if (this.dtls) this.dtls.handleDatagram(msg, performance.now());
        else if (this.earlyDtls.length < 16) this.earlyDtls.push(msg);
        this.flush();
        return;
      }
      this.stats.dropped++;
    } catch (err) {
      // Garbage must never escape the receive loop.
      this.stats.dropped++;
      this.cfg.log.debug('media packet handling failed', { handle: this.handleId, err: String(err) });
    }
  };

  private onRtp(buf: Buffer): void {
    const srtp = this.srtpIn;
    if (srtp === null) {
      this.stats.dropped++;
      return;
    }
    const len = srtp.unprotectRtp(buf, buf.length);
    if (len < 0) {
      this.stats.srtpErrors++;
      return;
    }
    const ssrc = rtpSsrc(buf);
    let rs = this.lastRecv;
    if (rs === null || rs.ssrc !== ssrc) {
      rs = this.bySsrc.get(ssrc) ?? this.learnSsrc(buf, len, ssrc);
      if (rs === null) {
        this.stats.unknownSsrc++;
        return;
      }
      this.lastRecv = rs;
    }
    const now = performance.now();
    rs.packets++;
    rs.bytes += len;
    const ev = rs.stats.onPacket(rtpSeq(buf), rtpTimestamp(buf), now);
    const line = rs.line;
    if (ev === RtpReceiveEvent.GapTooLarge && line.kind === 'video') this.requestKeyframe(rs, now);
    else if (line.nack && rs.stats.missingCount > 0 && this.nextNackAt === Infinity) {
      this.nextNackAt = now + 5;
      this.armTimer(this.nextNackAt);
    }
    line.lastRecvMs = now;
    if (!line.receiving) {
      line.receiving = true;
      this.events.mediaState({ mid: line.mid, type: line.kind === 'audio' ? 'audio' : 'video', receiving: true });
    }
    const sink = this.sink;
    if (sink !== null && line.recv) sink.incomingRtp(rs.info, buf, len);
  }

  /** First packet of an SSRC: find its m-line (SDP ssrc lines, mid/rid header extensions, payload type). */
  private learnSsrc(buf: Buffer, len: number, ssrc: number): RecvStream | null {
    if (rtpHeaderLength(buf, len) < 0) return null;
    let line: MLine | undefined;
    let substream = 0;
    let rid: string | undefined;
    for (const l of this.lines) {
      if (l.removed) continue;
      const i = l.remoteSsrcs.indexOf(ssrc);
      if (i >= 0) {
        line = l;
        substream = l.remoteSsrcs.length > 1 && l.rids.length === 0 ? i : 0;
        break;
      }
      if (l.rtxSsrcs.includes(ssrc)) return null; // RTX is not negotiated by us: ignore
    }
    if (!line) {
      for (const l of this.lines) {
        if (l.removed || l.midExtId === 0) continue;
        const mid = readExtensionString(buf, len, l.midExtId);
        if (mid !== undefined) {
          line = this.byMid.get(mid);
          break;
        }
      }
    }
    if (!line) {
      const pt = rtpPayloadType(buf);
      const candidates = this.lines.filter((l) => !l.removed && l.pt === pt);
      if (candidates.length === 1) line = candidates[0];
    }
    if (!line || line.removed) return null;
    if (line.ridExtId !== 0) {
      rid = readExtensionString(buf, len, line.ridExtId);
      if (rid !== undefined) {
        const i = line.rids.indexOf(rid);
        substream = i >= 0 ? i : 0;
      }
    }
    const rs = new RecvStream(ssrc, line, substream, rid, this.cfg.settings().minNackQueue);
    this.bySsrc.set(ssrc, rs);
    if (line.info.ssrc === 0 || line.remoteSsrcs.length === 0) line.info = rs.info;
    return rs;
  }

  private readonly rtcpReader = new RtcpReader();
  private readonly srInfo = newSenderInfo();

  private onRtcp(buf: Buffer): void {
    const srtp = this.srtpIn;
    if (srtp === null) {
      this.stats.dropped++;
      return;
    }
    const len = srtp.unprotectRtcp(buf, buf.length);
    if (len < 0) {
      this.stats.srtpErrors++;
      return;
    }
    const now = performance.now();
    const r = this.rtcpReader.reset(buf, len);
    let about: MLine | null = null;
    while (r.next()) {
      const off = r.offset;
      switch (r.type) {
        case RtcpType.SR: {
          if (r.length < 28) break;
          const sender = buf.readUInt32BE(off + 4);
          const rs = this.bySsrc.get(sender);
          if (rs) {
            readSenderInfo(buf, off, this.srInfo);
            rs.stats.onSenderReport(this.srInfo.ntpSec, this.srInfo.ntpFrac, now);
          }
          this.readBlocks(buf, off, r.length);
          break;
        }
        case RtcpType.RR:
          this.readBlocks(buf, off, r.length);
          break;
        case RtcpType.RTPFB:
          if (r.count === RtpfbFmt.NACK && r.length >= 16) this.onNack(buf, off, r.length, now);
          break;
        case RtcpType.PSFB:
          if (r.length >= 12 && about === null) about = this.byLocalSsrc.get(fbMediaSsrc(buf, off)) ?? null;
          break;
        default:
          break;
      }
    }
    if (r.error) this.stats.rtcpErrors++;
    const sink = this.sink;
    if (sink !== null) sink.incomingRtcp(about ? about.info : null, buf, len);
  }

  private readBlocks(buf: Buffer, off: number, plen: number): void {
    const n = reportBlockCount(buf, off, plen);
    const b = this.block;
    for (let i = 0; i < n; i++) {
      readReportBlock(buf, off, i, b);
      const line = this.byLocalSsrc.get(b.ssrc);
      if (!line) continue;
      line.remoteLost = b.cumulativeLost;
      line.remoteJitter = b.jitter;
      line.remoteFractionLost = b.fractionLost;
      const rtt = rttFromReport(ntpMiddle32FromMs(Date.now()), b.lsr, b.dlsr);
      if (rtt >= 0) {
        line.rttMs = rtt;
        for (const rs of this.bySsrc.values()) if (rs.line === line) rs.stats.rttMs = rtt;
      }
    }
  }

  private onNack(buf: Buffer, off: number, plen: number, now: number): void {
    this.stats.nacksReceived++;
    const line = this.byLocalSsrc.get(fbMediaSsrc(buf, off));
    const sb = line?.sendBuffer;
    if (!line || !sb || this.srtpOut === null) return;
    const seqs = this.nackScratch;
    seqs.length = 0;
    parseNack(buf, off, plen, seqs);
    for (const seq of seqs) {
      const out = this.acquire();
      const n = sb.copyTo(seq, now, out);
      if (n < 0) {
        this.releaseUnused(out);
        continue;
      }
      const p = this.srtpOut.protectRtp(out, n);
      if (p < 0) {
        this.releaseUnused(out);
        continue;
      }
      this.stats.retransmitted++;
      this.sendPooled(out, p);
    }
  }

  // ============================================================ send path

  private acquire(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(OUT_BUFFER_SIZE);
  }

  private releaseUnused(b: Buffer): void {
    if (this.free.length < MAX_FREE_BUFFERS) this.free.push(b);
  }

  private sendPooled(b: Buffer, len: number): void {
    const to = this.remoteAddress;
    if (to === null) {
      this.releaseUnused(b);
      return;
    }
    this.inflight.push(b);
    this.socket.send(b, 0, len, to.port, to.address, this.onSent);
  }

  /** Unpooled datagram (STUN, DTLS): the sender allocated it. */
  private sendRaw(d: Buffer, to: SocketAddress | null = this.remoteAddress): void {
    if (this.closed || to === null) return;
    this.socket.send(d, to.port, to.address);
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
    const hdr = rtpHeaderLength(out, len);
    if (hdr < 0) {
      this.releaseUnused(out);
      return;
    }
    line.sendStats.onPacketSent(len - hdr, rtpTimestamp(out), now);
    line.sendBytes += len;
    if (line.sendBuffer !== null) line.sendBuffer.store(out, len, now);
    const n = srtp.protectRtp(out, len);
    if (n < 0) {
      this.releaseUnused(out);
      return;
    }
    this.sendPooled(out, n);
  }

  /** Plugin relay: RTCP feedback about what the peer sends on `mid`. Keeps PLI/FIR/REMB, fixes SSRCs. */
  sendRtcp(mid: string | null, buf: Buffer, len: number): void {
    const srtp = this.srtpOut;
    if (srtp === null || this.remoteAddress === null) return;
    const line = mid !== null ? this.byMid.get(mid) : this.lines.find((l) => !l.removed && l.kind === 'video');
    if (!line) return;
    const mediaSsrc = this.remoteSsrcOf(line);
    const out = this.rtcpOut;
    let w = 0;
    const r = this.rtcpReader.reset(buf, len);
    while (r.next()) {
      if (r.type !== RtcpType.PSFB || r.length < 12) continue;
      if (w + r.length + srtp.rtcpOverhead > out.length) break;
      buf.copy(out, w, r.offset, r.offset + r.length);
      setFbSenderSsrc(out, w, line.localSsrc);
      if (r.count === PsfbFmt.AFB) {
        // REMB: media SSRC field is 0; the SSRC list names the streams it applies to.
        if (r.length >= 24 && out[w + 12] === 0x52) {
          const n = out[w + 16]!;
          for (let i = 0; i < n && w + 24 + 4 * i <= w + r.length; i++) out.writeUInt32BE(mediaSsrc, w + 20 + 4 * i);
        }
      } else {
        setFbMediaSsrc(out, w, mediaSsrc);
        if (r.count === PsfbFmt.FIR && r.length >= 20) out.writeUInt32BE(mediaSsrc, w + 12);
      }
      w += r.length;
    }
    if (w === 0) return;
    this.sendRtcpCompound(out, w);
  }

  private remoteSsrcOf(line: MLine): number {
    if (line.info.ssrc !== 0) return line.info.ssrc;
    if (line.remoteSsrcs.length > 0) return line.remoteSsrcs[0]!;
    for (const rs of this.bySsrc.values()) if (rs.line === line) return rs.ssrc;
    return 0;
  }

  /** Protect and send an RTCP compound that sits in `src` (copied into a pooled buffer). */
  private sendRtcpCompound(src: Buffer, len: number): void {
    const srtp = this.srtpOut;
    if (srtp === null || this.remoteAddress === null) return;
    const out = this.acquire();
    if (len + srtp.rtcpOverhead > out.length) {
      this.releaseUnused(out);
      return;
    }
    src.copy(out, 0, 0, len);
    const n = srtp.protectRtcp(out, len);
    if (n < 0) {
      this.releaseUnused(out);
      return;
    }
    this.sendPooled(out, n);
  }

  sendPli(mid: string | null): void {
    for (const line of this.lines) {
      if (line.removed || line.kind !== 'video' || (mid !== null && line.mid !== mid)) continue;
      const ssrcs = new Set<number>();
      for (const rs of this.bySsrc.values()) if (rs.line === line) ssrcs.add(rs.ssrc);
      if (ssrcs.size === 0) {
        const s = this.remoteSsrcOf(line);
        if (s !== 0) ssrcs.add(s);
      }
      for (const s of ssrcs) {
        const p = buildPli(line.localSsrc, s);
        this.stats.plisSent++;
        this.sendRtcpCompound(p, p.length);
      }
    }
  }

  sendRemb(bitrate: number): void {
    this.remembBitrate = bitrate;
    if (bitrate <= 0) return;
    const ssrcs: number[] = [];
    let sender = 0;
    for (const line of this.lines) {
      if (line.removed || line.kind !== 'video') continue;
      sender = sender || line.localSsrc;
      const s = this.remoteSsrcOf(line);
      if (s !== 0) ssrcs.push(s);
    }
    if (ssrcs.length === 0) return;
    const p = buildRemb(sender, bitrate, ssrcs);
    this.sendRtcpCompound(p, p.length);
  }

  private requestKeyframe(rs: RecvStream, now: number): void {
    if (now - rs.lastPliMs < 300) return;
    rs.lastPliMs = now;
    const p = buildPli(rs.line.localSsrc, rs.ssrc);
    this.stats.plisSent++;
    this.sendRtcpCompound(p, p.length);
  }

  // ============================================================ data channels

  private channelOpen = new Map<string, DataChannel>();

  sendData(label: string | null, data: string | Buffer): void {
    const sctp = this.sctp;
    if (sctp === null) return;
    let ch: DataChannel | undefined;
    if (label === null) ch = this.channelOpen.values().next().value;
    else ch = this.channelOpen.get(label);
    if (!ch) {
      const wanted = label ?? 'JanusDataChannel';
      ch = sctp.channels.channelList.find((c) => c.label === wanted) ?? sctp.channels.createChannel(wanted);
      if (!ch) return;
    }
    sctp.channels.send(ch, data);
  }

  // ============================================================ DTLS / ICE state

  private onDtlsConnected(info: DtlsConnectedInfo): void {
    if (this.closed) return;
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
        events: {
          channelOpen: (ch) => {
            this.channelOpen.set(ch.label, ch);
            this.sink?.dataReady(ch.label);
          },
          message: (ch, data, isBinary) => this.sink?.incomingData(ch.label, data, isBinary),
          channelClosed: (ch) => {
            if (this.channelOpen.get(ch.label) === ch) this.channelOpen.delete(ch.label);
          },
        },
      });
      this.sctp = s;
      s.start();
    }
    this.up = true;
    this.nextTickAt = performance.now() + 1000;
    this.armTimer(this.nextTickAt);
    this.events.webrtcUp();
  }

  private onDtlsClosed(reason: DtlsCloseReason, detail: string): void {
    if (this.closed || reason === 'local') return;
    this.cfg.log.verb('DTLS closed', { handle: this.handleId, reason, detail });
    const why = reason === 'alert' ? 'DTLS alert' : 'DTLS error';
    queueMicrotask(() => {
      if (!this.closed) this.events.closed(why);
    });
  }

  private onIceEvent(e: IceEvent): void {
    switch (e.type) {
      case 'selected-pair':
        this.remoteAddress = { address: e.pair.remoteAddress.address, port: e.pair.remoteAddress.port };
        if (this.dtls && this.dtlsRole === 'client' && this.dtls.state === 'new') this.dtls.start(performance.now());
        break;
      case 'state':
        this.iceState = e.state;
        if (e.state === 'failed') {
          this.cfg.log.info('ICE failed', { handle: this.handleId });
          this.events.iceFailed();
          if (this.cfg.hangupOnFailed) {
            queueMicrotask(() => {
              if (!this.closed) this.events.closed('ICE failed');
            });
          }
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
      for (let t = a.pollTransmit(); t; t = a.pollTransmit()) this.sendRaw(t.bytes, t.to);
      for (let e = a.pollEvent(); e; e = a.pollEvent()) this.onIceEvent(e);
    }
    let at = this.nextTickAt > 0 && this.up ? this.nextTickAt : Infinity;
    const ia = a?.pollTimeout();
    if (ia !== undefined && ia < at) at = ia;
    const da = this.dtls?.pollTimeout();
    if (da !== undefined && da < at) at = da;
    if (this.nextNackAt < at) at = this.nextNackAt;
    this.armTimer(at);
  }

  private armTimer(at: number): void {
    if (this.closed || at === Infinity) return;
    if (this.timer !== null && at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, at - performance.now()));
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = performance.now();
    try {
      this.agent?.handleTimeout(now);
      this.dtls?.handleTimeout(now);
      if (now >= this.nextNackAt) {
        this.nextNackAt = Infinity;
        this.sendNacks(now);
      }
      if (this.up && now >= this.nextTickAt) {
        this.nextTickAt = now + 1000;
        this.tick(now);
      }
    } catch (err) {
      this.cfg.log.warn('media timer failed', { handle: this.handleId, err: err instanceof Error ? err.stack : String(err) });
    }
    this.flush();
  };

  private sendNacks(now: number): void {
    let pending = false;
    for (const rs of this.bySsrc.values()) {
      if (!rs.line.nack || rs.stats.missingCount === 0) continue;
      const n = rs.stats.collectNacks(now, this.nackScratch);
      if (n > 0) {
        const p = buildNack(rs.line.localSsrc, rs.ssrc, this.nackScratch);
        this.stats.nacksSent++;
        this.sendRtcpCompound(p, p.length);
      }
      if (rs.stats.missingCount > 0) pending = true;
    }
    if (pending) this.nextNackAt = now + 20;
  }

  /** Once a second: media/no-media events, slow links, SR/RR. */
  private tick(now: number): void {
    const s = this.cfg.settings();
    const noMediaMs = s.noMediaTimer * 1000;
    for (const line of this.lines) {
      if (line.removed) continue;
      if (line.receiving && noMediaMs > 0 && now - line.lastRecvMs >= noMediaMs) {
        line.receiving = false;
        this.events.mediaState({ mid: line.mid, type: line.kind === 'audio' ? 'audio' : 'video', receiving: false, seconds: s.noMediaTimer });
      }
      if (s.slowlinkThreshold > 0 && line.send) {
        const lost = line.remoteLost - line.lastRemoteLost;
        line.lastRemoteLost = line.remoteLost;
        if (lost >= s.slowlinkThreshold) this.events.slowLink({ mid: line.mid, media: line.kind === 'audio' ? 'audio' : 'video', uplink: true, lost });
      }
    }
    if (s.slowlinkThreshold > 0) {
      for (const rs of this.bySsrc.values()) {
        const lost = rs.stats.packetsLost;
        const d = lost - rs.lastLost;
        rs.lastLost = lost;
        if (d >= s.slowlinkThreshold) this.events.slowLink({ mid: rs.line.mid, media: rs.info.kind, uplink: false, lost: d });
      }
    }
    this.sendReports(now);
    if (this.remembBitrate > 0) this.sendRemb(this.remembBitrate);
  }

  private sendReports(now: number): void {
    if (this.srtpOut === null) return;
    const blocks = this.blocks;
    blocks.length = 0;
    let bi = 0;
    for (const rs of this.bySsrc.values()) {
      if (bi >= 31) break;
      const b = (this.reportPool[bi] ??= newReportBlock());
      rs.stats.fillReportBlock(now, b);
      blocks.push(b);
      bi++;
    }
    const out = this.rtcpOut;
    let w = 0;
    const wall = Date.now();
    const cnames: Array<{ ssrc: number; cname: string }> = [];
    let first = true;
    for (const line of this.lines) {
      if (line.removed || !line.send || !line.sendStats.hasSent) continue;
      const si = this.senderInfo;
      si.ntpSec = ntpSeconds(wall);
      si.ntpFrac = ntpFraction(wall);
      si.rtpTimestamp = line.sendStats.rtpTimestampAt(now);
      si.packetCount = line.sendStats.packets;
      si.octetCount = line.sendStats.octets;
      w += writeSenderReport(out, w, line.localSsrc, si, first ? blocks : []);
      cnames.push({ ssrc: line.localSsrc, cname: 'janus' });
      first = false;
      if (w > 900) break;
    }
    if (first) {
      if (blocks.length === 0) return;
      const ssrc = this.lines.find((l) => !l.removed)?.localSsrc ?? 1;
      w += writeReceiverReport(out, w, ssrc, blocks);
      cnames.push({ ssrc, cname: 'janus' });
    }
    const sdes = buildSdesCname(cnames.slice(0, 8));
    if (w + sdes.length < out.length - 64) {
      sdes.copy(out, w);
      w += sdes.length;
    }
    this.sendRtcpCompound(out, w);
  }
  private readonly reportPool: ReportBlock[] = [];

  // ============================================================ admin / teardown

  info(): Record<string, unknown> {
    const a = this.agent;
    const pair = a?.getSelectedPair();
    const media = this.lines.filter((l) => !l.removed).map((l) => {
      const inbound = [...this.bySsrc.values()].filter((rs) => rs.line === l).map((rs) => ({
        ssrc: rs.ssrc,
        ...(rs.info.rid !== undefined ? { rid: rs.info.rid } : {}),
        substream: rs.info.substream,
        packets: rs.packets,
        bytes: rs.bytes,
        lost: rs.stats.packetsLost,
        jitter: Math.round(rs.stats.jitterMs * 100) / 100,
      }));
      return {
        mid: l.mid,
        mindex: l.mindex,
        type: l.kind,
        codec: l.codec ?? null,
        direction: l.send && l.recv ? 'sendrecv' : l.send ? 'sendonly' : l.recv ? 'recvonly' : 'inactive',
        receiving: l.receiving,
        'ssrc-local': l.localSsrc,
        'ssrc-remote': this.remoteSsrcOf(l) || null,
        in_stats: inbound,
        out_stats: {
          packets: l.sendStats.packets,
          bytes: l.sendBytes,
          'lost-by-remote': l.remoteLost,
          'jitter-remote': l.remoteJitter,
          'fraction-lost-remote': l.remoteFractionLost,
        },
        rtt: l.rttMs >= 0 ? Math.round(l.rttMs) : null,
      };
    });
    const d = this.dtls;
    return {
      'ice-mode': this.cfg.iceLite ? 'lite' : 'full',
      'ice-role': a ? (a.controlling ? 'controlling' : 'controlled') : null,
      flags: {
        ready: this.up,
        'ice-restart': this.lastRestart,
        'data-channels': this.wantData,
        'has-audio': this.lines.some((l) => !l.removed && l.kind === 'audio'),
        'has-video': this.lines.some((l) => !l.removed && l.kind === 'video'),
      },
      streams: [
        {
          id: 1,
          ready: this.up ? 1 : -1,
          components: [
            {
              id: 1,
              state: this.iceState,
              port: this.port,
              'local-candidates': a?.getLocalCandidates().map(serializeCandidate) ?? [],
              'remote-candidates': a?.getRemoteCandidates().map(serializeCandidate) ?? [],
              'selected-pair': pair ? `${pair.local.address}:${pair.local.port} [${pair.local.type},udp] <-> ${pair.remote.address}:${pair.remote.port} [${pair.remote.type},udp]` : null,
              dtls: {
                fingerprint: this.cfg.certificate.sdpFingerprint,
                'dtls-role': this.dtlsRole,
                'dtls-state': d?.state ?? 'new',
                'srtp-profile': this.srtpProfileName || null,
                'sctp-association': this.sctp !== null,
                stats: d ? { ...d.stats } : null,
              },
              errors: { ...this.stats },
            },
          ],
          media,
        },
      ],
    };
  }

  /** Stop everything and close the socket (its port returns to the allocator). Idempotent. */
  close(): void {
    if (this.closed) return;
    try {
      this.sctp?.sctp.close();
    } catch {
      /* best effort */
    }
    try {
      this.dtls?.close(); // close_notify, like a browser's pc.close()
    } catch {
      /* best effort */
    }
    this.closed = true;
    this.agent?.close();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.sink = null;
    this.socket.off('message', this.onMessage);
    // Let queued sends (close_notify) leave before the handle goes.
    setImmediate(() => {
      try {
        this.socket.close();
      } catch {
        /* already closed */
      }
    });
  }
}

function flip(d: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'): 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive' {
  return d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d;
}
