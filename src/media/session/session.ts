/**
 * RtpSession: the sans-IO RTP/RTCP engine of one PeerConnection (all its BUNDLEd m-lines), between
 * SRTP and the plugins. Bytes and time in, bytes, events and timers out; see index.ts for the
 * contract and a usage example.
 */
import {
  absSendTimeFromMs,
  extensionEquals,
  readExtensionString,
  extLength,
  extOffset,
  findRtpExtension,
  readTransportSeq,
  writeAbsSendTime,
  rtpHeaderLength,
  rtpPayloadType,
  rtpSeq,
  rtpSsrc,
  rtpTimestamp,
  RtpReceiveEvent,
  setRtpPayloadType,
  setRtpSeq,
  setRtpSsrc,
} from '../rtp/index.js';
import {
  newReportBlock,
  newSenderInfo,
  ntpFraction,
  ntpMiddle32FromMs,
  ntpSeconds,
  PsfbFmt,
  readReportBlock,
  readSenderInfo,
  rembBitrate,
  rembEncode,
  reportBlockCount,
  RtcpReader,
  RtcpType,
  RtpfbFmt,
  rtcpSenderSsrc,
  rttFromReport,
  writeRtcpHeader,
  parseTransportCc,
  TransportCcFeedback,
  type ReportBlock,
} from '../rtcp/index.js';
import { FeedbackBatch, GccEstimator, SendHistory, TwccRecorder } from '../cc/index.js';
import { ownedCopy } from '../owned-buffer.js';
import { SsrcTable } from './ssrc-table.js';
import { LocalStream, RecvStream, RemoteMid } from './streams.js';
import type {
  KindCounters,
  LocalStreamConfig,
  MediaKind,
  RemoteMidConfig,
  RemoteSsrcOptions,
  RtpSessionEvent,
  RtpSessionOptions,
  RtpSessionStats,
} from './types.js';

/** Size of each retransmission buffer: a 1500-byte packet, the RTX OSN and an SRTP trailer. */
const RETRANSMIT_BUFFER_SIZE = 1600;
const MAX_NACK_QUEUE_MS = 5000;
const TICK_MS = 1000;
/** How often the estimator's probe check runs while media flows (ms). */
const CC_POLL_MS = 250;
/**
 * Without media sent (or a plugin asking for the estimate with something it wants to send) for this
 * long, the estimator's probe check stops waking the session: an idle PeerConnection costs no timer.
 */
const CC_IDLE_MS = 1000;

/** What a local or remote stream is, for the caller (plugin routing, events). */
export interface StreamInfo {
  readonly index: number;
  readonly mid: string;
  readonly kind: MediaKind;
  readonly ssrc: number;
  /** -1 when none. */
  readonly rtxSsrc: number;
}

export interface InboundStreamInfo extends StreamInfo {
  readonly rid: string | undefined;
  /** -1 when not simulcast. */
  readonly substream: number;
  readonly receiving: boolean;
}

/**
 * What one onRtcp() call found, in a reused object (no allocation per packet). Everything is
 * valid until the next onRtcp() call.
 */
export class RtcpResult {
  /**
   * Retransmissions to SRTP-protect (in place: each buffer has room for the trailer) and send:
   * retransmitBuffers[i][0, retransmitLengths[i]) for i < retransmitCount. They carry our SSRC
   * (or our RTX SSRC/PT with the OSN when RTX was configured for the stream).
   */
  retransmitCount = 0;
  readonly retransmitBuffers: Buffer[] = [];
  readonly retransmitLengths: Uint16Array;
  /** Local stream index of each retransmission. */
  readonly retransmitStreams: Int32Array;
  /**
   * Local streams whose receiver asked for a keyframe (PLI, or FIR with a new sequence number),
   * deduplicated: keyframeStreams[i] / keyframeMids[i] for i < keyframeCount.
   */
  keyframeCount = 0;
  readonly keyframeStreams: number[] = [];
  readonly keyframeMids: string[] = [];
  /** PLI / FIR packets about our streams. */
  pliCount = 0;
  firCount = 0;
  /** Bitrate (bps) of the last REMB in the packet, -1 if none. */
  remb = -1;
  /** Sequence numbers NACKed about our streams (whether or not we could resend them). */
  nackedCount = 0;
  /** SRs from known remote streams; report blocks about our streams; BYEs; transport-cc packets. */
  srCount = 0;
  reportCount = 0;
  byeCount = 0;
  twccCount = 0;
  /** Report blocks about our RTX SSRCs (not in reportCount: no media stream's loss). */
  rtxReportCount = 0;
  /** The compound packet was malformed (what was read before the error was applied). */
  malformed = false;

  constructor(maxRetransmits: number) {
    this.retransmitLengths = new Uint16Array(maxRetransmits);
    this.retransmitStreams = new Int32Array(maxRetransmits);
  }

  reset(): void {
    this.retransmitCount = 0;
    this.keyframeCount = 0;
    this.pliCount = 0;
    this.firCount = 0;
    this.remb = -1;
    this.nackedCount = 0;
    this.srCount = 0;
    this.reportCount = 0;
    this.byeCount = 0;
    this.twccCount = 0;
    this.rtxReportCount = 0;
    this.malformed = false;
  }
}

export class RtpSession {
  /** Result of the last onRtcp(), reused. */
  readonly result: RtcpResult;
  /** Length of the packet after the last onRtp() that returned >= 0 (shorter by 2 after RTX unwrapping). */
  rtpLength = 0;
  /** The last onRtp() packet arrived as RTX and was restored in place. */
  rtpWasRtx = false;
  /**
   * Something is due right now (NACK for a fresh gap, keyframe request, REMB change): call
   * pollRtcpInto()/pollRtcp() soon. Cleared when they return nothing.
   */
  hasPendingRtcp = false;

  private readonly cnameBytes: Buffer;
  private minNackQueueMs: number;
  private nackOptimizations: boolean;
  private noMediaMs: number;
  private slowlinkThreshold: number;
  private readonly reportIntervalMs: number;
  private readonly rembIntervalMs: number;
  private readonly reducedSize: boolean;
  private readonly maxRtcpSize: number;
  private readonly maxRetransmits: number;
  private readonly nackDelayMs: number;
  private readonly rtcpSsrc: number;
  private readonly unixOffsetMs: number;
  private readonly random: () => number;
  private extMid: number;
  private extRid: number;
  private extRrid: number;
  /** transport-wide-cc / abs-send-time ids (0: not negotiated). One id per PeerConnection (BUNDLE). */
  private extTwcc = 0;
  private extAbs = 0;
  private readonly maxRemoteSsrcs: number;

  // transport-cc, receive side: feedback about what the remote sends us
  /**
   * Made at the first RTP packet with a transport-cc number: a subscriber PeerConnection receives no
   * RTP, and the recorder's rings are 64 kB (a fifth of what a webinar subscriber held).
   */
  private twccRecorder: TwccRecorder | null = null;
  private readonly twccPeriodMs: number;
  private nextTwccAt = 0;
  // transport-cc, send side: our sequence numbers, the remote's feedback, the estimate
  private readonly sendHistory: SendHistory;
  private readonly twccFb = new TransportCcFeedback();
  private readonly twccBatch = new FeedbackBatch();
  private gcc: GccEstimator | null = null;
  private readonly gccOptions: RtpSessionOptions['bwe'];
  private twccFeedbacksReceived = 0;
  // probing: padding (RTX or duplicate packets) paced over a cluster
  private probeEndAt = -1;
  private nextProbeAt = 0;
  private probePaddingBps = 0;
  private probePackets = 0;
  private probeBytes = 0;
  private wantedBps = 0;
  /** When wantedBps was last set, and when media last left (for the estimator's idle check). */
  private wantedAt = -Infinity;
  private lastMediaSentAt = -Infinity;
  /**
   * The estimator's periodic check is off (idle, see CC_IDLE_MS): the caller re-reads pollTimeout()
   * when media leaves again (onOutgoingRtp), or a plugin wants something sent (setWantedBitrate).
   */
  ccParked = false;

  private readonly local: LocalStream[] = [];
  private readonly recv: RecvStream[] = [];
  private readonly mids = new Map<string, RemoteMid>();
  private readonly midList: RemoteMid[] = [];
  /** incoming SSRC -> recv index << 1 | isRtx */
  private readonly inTable = new SsrcTable();
  /** our media SSRC -> local index */
  private readonly outTable = new SsrcTable();
  /** our RTX SSRC -> local index (reports about it; NACK/PLI name the media SSRC) */
  private readonly rtxOutTable = new SsrcTable();

  private started = false;
  private lastNow = 0;
  private nextReportAt = 0;
  private nextTickAt = 0;
  private rttMs = 0;

  private rembValue = 0;
  private rembChanged = false;
  private nextRembAt = 0;
  private rembReceived = -1;

  private unknownSsrcPackets = 0;
  private malformedRtp = 0;
  private malformedRtcp = 0;

  private readonly events: RtpSessionEvent[] = [];
  private eventHead = 0;

  // scratch
  private readonly reader = new RtcpReader();
  private readonly block: ReportBlock = newReportBlock();
  private readonly info = newSenderInfo();
  private readonly nackSeqs: number[] = [];
  private readonly sdesSsrcs: number[] = [];
  private pollScratch: Buffer | null = null;

  constructor(opts: RtpSessionOptions) {
    this.random = opts.random ?? Math.random;
    this.cnameBytes = ownedCopy(Buffer.from(opts.cname, 'utf8').subarray(0, 255));
    this.minNackQueueMs = opts.minNackQueueMs ?? 200;
    this.nackOptimizations = opts.nackOptimizations ?? false;
    this.noMediaMs = (opts.noMediaTimerS ?? 1) * 1000;
    this.slowlinkThreshold = opts.slowlinkThreshold ?? 0;
    this.reportIntervalMs = opts.reportIntervalMs ?? 1000;
    this.rembIntervalMs = opts.rembIntervalMs ?? 1000;
    this.reducedSize = opts.reducedSize ?? true;
    this.maxRtcpSize = opts.maxRtcpSize ?? 1200;
    this.maxRetransmits = opts.maxRetransmits ?? 256;
    this.nackDelayMs = opts.nackDelayMs ?? 0;
    this.rtcpSsrc = (opts.rtcpSsrc ?? Math.floor(this.random() * 0xfffffffe) + 1) >>> 0;
    this.unixOffsetMs = opts.unixOffsetMs ?? Date.now() - performance.now();
    this.extMid = opts.extensions?.mid ?? 0;
    this.extRid = opts.extensions?.rid ?? 0;
    this.extRrid = opts.extensions?.repairedRid ?? 0;
    this.maxRemoteSsrcs = opts.maxRemoteSsrcs ?? 32;
    this.extTwcc = opts.extensions?.transportCc ?? 0;
    this.extAbs = opts.extensions?.absSendTime ?? 0;
    this.twccPeriodMs = Math.max(10, opts.twccPeriodMs ?? 200);
    this.gccOptions = opts.bwe;
    this.sendHistory = new SendHistory(Math.floor(this.random() * 0x10000));
    this.result = new RtcpResult(this.maxRetransmits);
  }

  // ================================================================== configuration

  /** Janus set_no_media_timer / set_slowlink_threshold at run time. */
  setNoMediaTimer(seconds: number): void {
    this.noMediaMs = Math.max(0, seconds) * 1000;
  }
  setSlowlinkThreshold(lostPerSecond: number): void {
    this.slowlinkThreshold = Math.max(0, lostPerSecond);
  }
  /** Janus set_min_nack_queue / set_nack_optimizations at run time. */
  setMinNackQueue(ms: number): void {
    this.minNackQueueMs = Math.max(0, ms);
    for (const ls of this.local) this.applyRtt(ls);
  }
  setNackOptimizations(on: boolean): void {
    this.nackOptimizations = on;
  }

  /** Header extension ids after a (re)negotiation (0 or absent = not negotiated). */
  setExtensions(ext: { mid?: number; rid?: number; repairedRid?: number; transportCc?: number; absSendTime?: number }): void {
    this.extMid = ext.mid ?? 0;
    this.extRid = ext.rid ?? 0;
    this.extRrid = ext.repairedRid ?? 0;
    this.extTwcc = ext.transportCc ?? 0;
    this.extAbs = ext.absSendTime ?? 0;
  }

  /**
   * What the caller would send with a free link (bps, 0 = unknown): probes never aim above it, so a
   * subscriber whose best layers already fit is not probed for more.
   */
  setWantedBitrate(bps: number, now = this.lastNow): void {
    this.wantedBps = Math.max(0, bps);
    if (bps > 0) this.wantedAt = now;
  }

  /**
   * Whether the estimator has a reason to run: media left within CC_IDLE_MS, or a plugin wants
   * something sent (a subscriber whose only video auto_layers paused still needs probes to resume).
   */
  private ccActive(now: number): boolean {
    return now - this.lastMediaSentAt < CC_IDLE_MS || (this.wantedBps > 0 && now - this.wantedAt < CC_IDLE_MS);
  }

  /**
   * The send-side bandwidth estimate from the remote's transport-cc feedback (bps), 0 while there
   * is none (transport-cc not negotiated, no feedback yet, or nothing measured yet: see
   * GccEstimator.trusted), so that what acts on it starts from what was asked for.
   */
  get estimateBps(): number {
    return this.gcc !== null && this.twccFeedbacksReceived > 0 && this.gcc.trusted ? this.gcc.estimateBps : 0;
  }

  /**
   * Retransmissions from onRtcp() leave unstamped (no transport-wide sequence number yet): the
   * caller paces them and calls stampRetransmission() when each one actually leaves, so that the
   * estimator sees its real send time.
   */
  deferRetransmitStamp = false;

  /** A retransmission (from onRtcp(), with deferRetransmitStamp) leaving now: transport-cc sequence and abs-send-time. */
  stampRetransmission(buf: Buffer, len: number, now: number): void {
    this.stamp(buf, len, now);
  }

  /** The estimator (diagnostics, tests), null before the first packet we stamped. */
  get estimator(): GccEstimator | null {
    return this.gcc;
  }

  /** Events are waiting in pollEvent() (e.g. `media` receiving:true after the first packet of a stream). */
  get hasPendingEvents(): boolean {
    return this.eventHead < this.events.length;
  }

  /** Declare a stream we send; returns its local index (stable for the session's life). */
  addLocalStream(cfg: LocalStreamConfig): number {
    const existing = this.outTable.get(cfg.ssrc >>> 0);
    if (existing >= 0) return existing;
    const ls = new LocalStream(this.local.length, cfg, this.minNackQueueMs, this.random);
    this.local.push(ls);
    this.outTable.set(ls.ssrc, ls.index);
    if (ls.rtxSsrc >= 0 && this.rtxOutTable.get(ls.rtxSsrc) < 0) this.rtxOutTable.set(ls.rtxSsrc, ls.index);
    if (this.rttMs > 0) this.applyRtt(ls);
    return ls.index;
  }

  /** Stop sending a stream (renegotiation): no more SR, NACK/PLI about it ignored. */
  removeLocalStream(mid: string): void {
    for (const ls of this.local) {
      if (ls.mid === mid && ls.active) {
        ls.active = false;
        this.outTable.delete(ls.ssrc);
        if (ls.rtxSsrc >= 0 && this.rtxOutTable.get(ls.rtxSsrc) === ls.index) this.rtxOutTable.delete(ls.rtxSsrc);
      }
    }
  }

  /** Local index of a mid's outgoing stream, or -1. */
  localIndex(mid: string): number {
    for (const ls of this.local) if (ls.active && ls.mid === mid) return ls.index;
    return -1;
  }

  localStream(index: number): StreamInfo | undefined {
    return this.local[index];
  }

  /** Declare (or replace the settings of) an m-line we receive. */
  addRemoteMid(cfg: RemoteMidConfig): void {
    const old = this.mids.get(cfg.mid);
    if (old) {
      old.active = false;
      this.midList.splice(this.midList.indexOf(old), 1);
    }
    const m = new RemoteMid(cfg);
    this.mids.set(cfg.mid, m);
    this.midList.push(m);
    // SSRCs already known for this mid stay bound to it (renegotiation)
    if (old) for (const st of this.recv) if (st.midInfo === old) st.midInfo = m;
  }

  /** Stop receiving an m-line (renegotiation): its streams are retired and their SSRCs forgotten. */
  removeRemoteMid(mid: string): void {
    const m = this.mids.get(mid);
    if (!m) return;
    m.active = false;
    this.mids.delete(mid);
    this.midList.splice(this.midList.indexOf(m), 1);
    for (const st of this.recv) {
      if (st.midInfo !== m) continue;
      st.retired = true;
      this.inTable.delete(st.ssrc);
      if (st.rtxSsrc >= 0) this.inTable.delete(st.rtxSsrc);
    }
  }

  /**
   * Bind an incoming SSRC to a declared mid (from a=ssrc lines, or learnt by the caller); returns
   * the inbound index, or -1 (unknown mid, unknown rid, too many SSRCs). An SSRC already bound
   * keeps its index. A new SSRC for the same mid/substream retires the previous one.
   */
  addRemoteSsrc(mid: string, ssrc: number, opts: RemoteSsrcOptions = {}): number {
    ssrc >>>= 0;
    const code = this.inTable.get(ssrc);
    if (code >= 0) {
      const st = this.recv[code >> 1]!;
      if (opts.rtxSsrc !== undefined && (code & 1) === 0) this.bindRtx(st, opts.rtxSsrc);
      return st.index;
    }
    const m = this.mids.get(mid);
    if (!m || this.inTable.size >= this.maxRemoteSsrcs) return -1;
    let sub = opts.substream ?? -1;
    if (opts.rid !== undefined && m.rids.length > 0) {
      const i = m.rids.indexOf(opts.rid);
      if (i < 0) return -1;
      if (opts.substream === undefined && m.simulcast) sub = i;
    }
    for (const old of this.recv) {
      if (old.midInfo === m && !old.retired && old.substream === sub) {
        old.retired = true;
        old.receiving = false;
      }
    }
    const st = new RecvStream(this.recv.length, m, ssrc, opts.rid, sub, this.nackDelayMs);
    st.stats.rttMs = this.rttMs;
    this.recv.push(st);
    this.inTable.set(ssrc, st.index << 1);
    if (opts.rtxSsrc !== undefined) this.bindRtx(st, opts.rtxSsrc);
    if (m.pendingKeyframe) {
      m.pendingKeyframe = false;
      if (m.keyframe === 'fir') st.pendingFir = true;
      else st.pendingPli = true;
      this.hasPendingRtcp = true;
    }
    return st.index;
  }

  inboundStream(index: number): InboundStreamInfo | undefined {
    return this.recv[index];
  }

  private bindRtx(st: RecvStream, rtxSsrc: number): void {
    rtxSsrc >>>= 0;
    if (this.inTable.get(rtxSsrc) >= 0) return;
    if (st.rtxSsrc >= 0) this.inTable.delete(st.rtxSsrc);
    st.rtxSsrc = rtxSsrc;
    this.inTable.set(rtxSsrc, (st.index << 1) | 1);
  }

  // ================================================================== plugin requests

  /**
   * Ask the remote for a keyframe on a mid we receive (every SSRC of it, or one substream): PLI or
   * FIR (default: the mid's `keyframe` setting). Coalesced until the next poll; each FIR sent
   * carries the next command sequence number. Remembered if no SSRC is known yet.
   */
  requestKeyframe(mid: string, method?: 'pli' | 'fir', substream?: number): boolean {
    const m = this.mids.get(mid);
    if (!m) return false;
    const fir = (method ?? m.keyframe) === 'fir';
    let n = 0;
    for (const st of this.recv) {
      if (st.midInfo !== m || st.retired) continue;
      if (substream !== undefined && st.substream !== substream) continue;
      if (fir) st.pendingFir = true;
      else st.pendingPli = true;
      n++;
    }
    if (n === 0) m.pendingKeyframe = true;
    else this.hasPendingRtcp = true;
    return n > 0;
  }

  /**
   * Cap the remote's sending bitrate with REMB (bps, 0 = stop). Sent at once when it changes, then
   * every rembIntervalMs, listing the remote's video SSRCs (all its SSRCs if it sends no video).
   */
  setRemb(bitrate: number): void {
    const b = Math.max(0, Math.floor(bitrate));
    if (b === this.rembValue) return;
    this.rembValue = b;
    this.rembChanged = b > 0;
    if (b > 0) this.hasPendingRtcp = true;
  }

  get remb(): number {
    return this.rembValue;
  }

  // ================================================================== RTP in

  /**
   * An incoming RTP packet (SRTP already removed). Returns the inbound stream index (see
   * inboundStream()) to route it by, or -1 to drop it (unknown SSRC, malformed, RTX padding).
   * RTX packets are restored in place to the original SSRC/seq/PT; the new length is rtpLength.
   */
  onRtp(buf: Buffer, len: number, now: number): number {
    if (!this.started) this.start(now);
    const hdr = rtpHeaderLength(buf, len);
    if (hdr < 0) {
      this.malformedRtp++;
      return -1;
    }
    if (this.extTwcc > 0) {
      // Every packet counts for the sender's estimate, probes and unknown SSRCs included.
      const tseq = readTransportSeq(buf, len, this.extTwcc);
      if (tseq >= 0) {
        const rec = (this.twccRecorder ??= new TwccRecorder());
        if (!rec.pending) this.nextTwccAt = Math.max(this.nextTwccAt, now + this.twccPeriodMs);
        rec.record(tseq, now);
      }
    }
    const ssrc = rtpSsrc(buf);
    let code = this.inTable.get(ssrc);
    if (code < 0) {
      code = this.learn(buf, len, ssrc);
      if (code < 0) {
        this.unknownSsrcPackets++;
        return -1;
      }
    }
    const st = this.recv[code >> 1]!;
    this.rtpWasRtx = false;
    if (code & 1) {
      len = this.unwrapRtx(buf, len, hdr, st);
      if (len < 0) return -1;
      this.rtpWasRtx = true;
      st.rtxPackets++;
    }
    this.rtpLength = len;
    const stats = st.stats;
    const missingBefore = stats.missingCount;
    const ev = stats.onPacket(rtpSeq(buf), rtpTimestamp(buf), now);
    st.packets++;
    st.bytes += len;
    st.lastRecvMs = now;
    if (!st.receiving && !st.retired) {
      st.receiving = true;
      this.pushMediaEvent(st, true);
    }
    if (ev === RtpReceiveEvent.GapTooLarge && st.midInfo.kind === 'video') {
      st.pendingPli = true;
      this.hasPendingRtcp = true;
    } else if (st.midInfo.nack && stats.missingCount > missingBefore) {
      this.hasPendingRtcp = true;
    }
    return st.index;
  }

  /** Restore an RTX packet (RFC 4588) in place; returns the new length or -1. */
  private unwrapRtx(buf: Buffer, len: number, hdr: number, st: RecvStream): number {
    const apt = st.midInfo.rtxApt[rtpPayloadType(buf)]!;
    const pad = buf[0]! & 0x20 ? buf[len - 1]! : 0;
    if (apt < 0 || len - hdr - pad < 2) return -1; // unknown RTX pt, or padding-only probe
    const osn = (buf[hdr]! << 8) | buf[hdr + 1]!;
    buf.copyWithin(hdr, hdr + 2, len);
    setRtpSeq(buf, osn);
    setRtpSsrc(buf, st.ssrc);
    setRtpPayloadType(buf, apt);
    return len - 2;
  }

  /** Bind an unknown SSRC from its mid/rid header extensions or a unique payload type. */
  private learn(buf: Buffer, len: number, ssrc: number): number {
    if (this.inTable.size >= this.maxRemoteSsrcs) return -1;
    const pt = rtpPayloadType(buf);
    let m: RemoteMid | undefined;
    if (this.extMid > 0) {
      for (const mm of this.midList) {
        if (extensionEquals(buf, len, this.extMid, mm.mid)) {
          m = mm;
          break;
        }
      }
    }
    if (m === undefined) {
      for (const mm of this.midList) {
        if (mm.payloadTypes.includes(pt) || mm.rtxApt[pt]! >= 0) {
          if (m !== undefined) return -1; // ambiguous
          m = mm;
        }
      }
      if (m === undefined) return -1;
    }
    const isRtx = m.rtxApt[pt]! >= 0;
    const ridId = isRtx ? this.extRrid : this.extRid;
    let rid: string | undefined;
    if (ridId > 0) {
      for (const r of m.rids) {
        if (extensionEquals(buf, len, ridId, r)) {
          rid = r;
          break;
        }
      }
      if (rid === undefined && m.rids.length === 0) rid = readExtensionString(buf, len, ridId);
    }
    if (isRtx) {
      let target: RecvStream | undefined;
      let candidates = 0;
      for (const st of this.recv) {
        if (st.midInfo !== m || st.retired) continue;
        if (rid !== undefined ? st.rid === rid : true) {
          target = st;
          candidates++;
        }
      }
      if (target === undefined || candidates !== 1) return -1;
      this.bindRtx(target, ssrc);
      return (target.index << 1) | 1;
    }
    if (m.simulcast && rid === undefined) return -1;
    const i = this.addRemoteSsrc(m.mid, ssrc, rid !== undefined ? { rid } : {});
    return i < 0 ? -1 : i << 1;
  }

  // ================================================================== RTP out

  /**
   * A packet we are about to send, BEFORE SRTP protection (protectRtp works in place): updates the
   * SR counters and keeps a copy for retransmission. `keyframe`: the packet belongs to a keyframe
   * (with nack_optimizations the retransmission buffer is emptied at each new keyframe). Returns
   * the local index, or -1 for an SSRC not declared with addLocalStream(). Do not pass our own
   * retransmissions (the ones onRtcp() produced) here. `capturedAt`: when the plugin handed the
   * packet over, if a pacer held it since (the SR's RTP/NTP mapping must not shift by the wait,
   * or lip sync would); `now` is when it leaves (transport-cc send time).
   */
  onOutgoingRtp(buf: Buffer, len: number, now: number, keyframe = false, capturedAt = now): number {
    if (!this.started) this.start(now);
    const hdr = rtpHeaderLength(buf, len);
    if (hdr < 0) return -1;
    const idx = this.outTable.get(rtpSsrc(buf));
    if (idx < 0) return -1;
    const ls = this.local[idx]!;
    const pad = buf[0]! & 0x20 ? buf[len - 1]! : 0;
    const ts = rtpTimestamp(buf);
    ls.sendStats.onPacketSent(len - hdr - pad, ts, capturedAt);
    ls.packets++;
    ls.bytes += len;
    ls.lastSentMs = now;
    this.lastMediaSentAt = now;
    if (ls.kind === 'video') ls.lastSeq = rtpSeq(buf);
    this.stamp(buf, len, now);
    const sb = ls.buffer;
    if (sb !== null) {
      if (keyframe && this.nackOptimizations && ts !== ls.lastKeyframeTs) {
        ls.lastKeyframeTs = ts;
        sb.clear();
      }
      sb.store(buf, len, now);
    }
    return idx;
  }

  /**
   * Our transport-wide sequence number and abs-send-time into a packet about to leave, when the
   * packet carries those elements (the plugin left room for them); remembered for the feedback.
   */
  private stamp(buf: Buffer, len: number, now: number): void {
    if (this.extAbs > 0) writeAbsSendTime(buf, len, this.extAbs, absSendTimeFromMs(now + this.unixOffsetMs));
    if (this.extTwcc <= 0) return;
    const at = findRtpExtension(buf, len, this.extTwcc);
    if (at < 0 || extLength(at) < 2) return; // no room left for it: not counted (a hole would read as loss)
    let g = this.gcc;
    const cluster = g !== null && this.probeEndAt >= 0 ? g.probeCluster : 0;
    const seq = this.sendHistory.onSent(now, len, cluster);
    const o = extOffset(at);
    buf[o] = seq >>> 8;
    buf[o + 1] = seq & 0xff;
    if (g === null) g = this.gcc = new GccEstimator(this.gccOptions);
    if (cluster !== 0) g.onProbeSent(now, len);
  }

  /**
   * The next probe packet due at `now` (padding to measure the link: an RTX copy of the latest
   * video packet, which the receiver drops as a duplicate once restored) into `out`, ready for
   * SRTP; returns its length, 0 when none is due. Only with RTX: a duplicate on the media SSRC
   * would be dropped by the receiver's SRTP replay check before it is counted, i.e. read as loss.
   */
  pollProbeInto(out: Buffer, now: number): number {
    const g = this.gcc;
    if (g === null || this.twccFeedbacksReceived === 0 || this.extTwcc <= 0) return 0;
    if (this.probeEndAt < 0) {
      // Nothing sent and nothing wanted: no padding into an idle PeerConnection.
      if (!this.ccActive(now)) return 0;
      const target = g.probeTarget(now, this.wantedBps);
      if (target <= 0) return 0;
      let sending = 0;
      for (const ls of this.local) if (ls.active) sending += ls.bytesLastSec * 8;
      this.probePaddingBps = Math.max(target - sending, target / 2);
      // Sized by the estimator in bytes (a token bucket's burst must be spent early in the cluster);
      // at least half of it padding, that is many packets.
      this.probeEndAt = now + g.probeDurationMs;
      this.nextProbeAt = now;
    }
    if (now > this.probeEndAt || !g.probeSending) {
      this.probeEndAt = -1;
      return 0;
    }
    if (now < this.nextProbeAt) return 0;
    let src: LocalStream | undefined;
    for (const ls of this.local) {
      if (ls.active && ls.kind === 'video' && ls.buffer !== null && ls.lastSeq >= 0 && ls.rtxSsrc >= 0) {
        src = ls;
        break;
      }
    }
    if (src === undefined) {
      this.probeEndAt = -1;
      return 0;
    }
    const seq = src.lastSeq;
    let len = src.buffer!.peekTo(seq, out);
    if (len < 0) return 0;
    const hdr = rtpHeaderLength(out, len);
    if (hdr < 0 || len + 2 > out.length) return 0;
    out.copyWithin(hdr + 2, hdr, len);
    out[hdr] = seq >>> 8;
    out[hdr + 1] = seq & 0xff;
    setRtpSsrc(out, src.rtxSsrc);
    setRtpPayloadType(out, src.rtxPt);
    setRtpSeq(out, src.rtxSeq);
    src.rtxSeq = (src.rtxSeq + 1) & 0xffff;
    len += 2;
    this.countRtx(src, out, len, hdr);
    this.stamp(out, len, now);
    // Paced by what went out: the latest video packet may be far smaller than a full one.
    this.nextProbeAt += (len * 8 * 1000) / this.probePaddingBps;
    if (this.nextProbeAt < now - 50) this.nextProbeAt = now;
    this.probePackets++;
    this.probeBytes += len;
    return len;
  }

  // ================================================================== RTCP in

  /**
   * An incoming (compound) RTCP packet, SRTCP already removed. Returns `this.result` (reused),
   * which lists retransmissions to send, keyframe requests for our streams, REMB, ...
   */
  onRtcp(buf: Buffer, len: number, now: number): RtcpResult {
    if (!this.started) this.start(now);
    const res = this.result;
    res.reset();
    const r = this.reader.reset(buf, len);
    while (r.next()) {
      const off = r.offset;
      const plen = r.length;
      switch (r.type) {
        case RtcpType.SR: {
          if (plen < 28) break;
          const code = this.inTable.get(rtcpSenderSsrc(buf, off));
          if (code >= 0 && (code & 1) === 0) {
            const st = this.recv[code >> 1]!;
            const info = readSenderInfo(buf, off, this.info);
            st.stats.onSenderReport(info.ntpSec, info.ntpFrac, now);
            st.remotePacketsSent = info.packetCount;
            st.remoteBytesSent = info.octetCount;
            res.srCount++;
          }
          this.readBlocks(buf, off, plen, now);
          break;
        }
        case RtcpType.RR:
          if (plen >= 8) this.readBlocks(buf, off, plen, now);
          break;
        case RtcpType.BYE:
          for (let i = 0, p = off + 4; i < r.count && p + 4 <= off + plen; i++, p += 4) {
            const code = this.inTable.get(buf.readUInt32BE(p));
            if (code < 0 || code & 1) continue;
            const st = this.recv[code >> 1]!;
            res.byeCount++;
            this.events.push({ type: 'bye', mid: st.mid, kind: st.kind, ssrc: st.ssrc });
          }
          break;
        case RtcpType.RTPFB:
          if (plen < 12) break;
          if (r.count === RtpfbFmt.NACK) this.onNack(buf, off, plen, now);
          else if (r.count === RtpfbFmt.TransportCC) {
            res.twccCount++;
            this.onTransportCc(buf, off, plen, now);
          }
          break;
        case RtcpType.PSFB:
          if (plen < 12) break;
          if (r.count === PsfbFmt.PLI) {
            const idx = this.outTable.get(buf.readUInt32BE(off + 8));
            if (idx >= 0) {
              const ls = this.local[idx]!;
              ls.plisReceived++;
              res.pliCount++;
              this.addKeyframe(ls);
            }
          } else if (r.count === PsfbFmt.FIR) {
            for (let p = off + 12; p + 8 <= off + plen; p += 8) {
              const idx = this.outTable.get(buf.readUInt32BE(p));
              if (idx < 0) continue;
              const ls = this.local[idx]!;
              res.firCount++;
              const seq = buf[p + 4]!;
              if (seq === ls.lastFirSeq) continue; // a repeat of a request already served (RFC 5104 §4.3.1.1)
              ls.lastFirSeq = seq;
              ls.firsReceived++;
              this.addKeyframe(ls);
            }
          } else if (r.count === PsfbFmt.AFB) {
            const b = rembBitrate(buf, off, plen);
            if (b >= 0) {
              res.remb = b;
              this.rembReceived = b;
            }
          }
          break;
        default:
          break;
      }
    }
    if (r.error) {
      res.malformed = true;
      this.malformedRtcp++;
    }
    return res;
  }

  private onTransportCc(buf: Buffer, off: number, plen: number, now: number): void {
    const g = this.gcc;
    if (g === null || !parseTransportCc(buf, off, plen, this.twccFb)) return;
    if (this.sendHistory.match(this.twccFb, this.twccBatch) === 0) return;
    this.twccFeedbacksReceived++;
    if (this.rttMs > 0) g.rttMs = this.rttMs;
    g.onFeedback(this.twccBatch, now);
  }

  private readBlocks(buf: Buffer, off: number, plen: number, now: number): void {
    const n = reportBlockCount(buf, off, plen);
    for (let i = 0; i < n; i++) {
      const b = readReportBlock(buf, off, i, this.block);
      const idx = this.outTable.get(b.ssrc);
      if (idx < 0) {
        this.readRtxBlock(b, now);
        continue;
      }
      const ls = this.local[idx]!;
      this.result.reportCount++;
      ls.haveReport = true;
      ls.remoteFractionLost = b.fractionLost;
      ls.remoteLost = b.cumulativeLost;
      ls.remoteJitter = b.jitter;
      if (b.lsr !== 0) {
        const rtt = rttFromReport(ntpMiddle32FromMs(now + this.unixOffsetMs), b.lsr, b.dlsr);
        if (rtt >= 0) {
          ls.rttMs = rtt;
          this.setRtt(rtt);
        }
      }
    }
  }

  /**
   * A report block about one of our RTX SSRCs: counted and used for RTT (its LSR echoes the SR we
   * sent for that SSRC), never as the media stream's loss: RTX has no sequence the receiver can
   * judge loss on (retransmissions come only when asked for).
   */
  private readRtxBlock(b: ReportBlock, now: number): void {
    const idx = this.rtxOutTable.get(b.ssrc);
    if (idx < 0) return;
    const ls = this.local[idx]!;
    ls.rtxReports++;
    this.result.rtxReportCount++;
    if (b.lsr !== 0) {
      const rtt = rttFromReport(ntpMiddle32FromMs(now + this.unixOffsetMs), b.lsr, b.dlsr);
      if (rtt >= 0) this.setRtt(rtt);
    }
  }

  private setRtt(rtt: number): void {
    this.rttMs = rtt;
    for (const st of this.recv) st.stats.rttMs = rtt;
    for (const ls of this.local) this.applyRtt(ls);
  }

  /** Janus: NACK queue = 2 × RTT within [min_nack_queue, 5 s]; don't resend a packet still in flight. */
  private applyRtt(ls: LocalStream): void {
    const sb = ls.buffer;
    if (sb === null) return;
    sb.maxAgeMs = Math.min(MAX_NACK_QUEUE_MS, Math.max(this.minNackQueueMs, 2 * this.rttMs));
    sb.minResendIntervalMs = Math.floor(this.rttMs / 2);
  }

  private addKeyframe(ls: LocalStream): void {
    const res = this.result;
    for (let i = 0; i < res.keyframeCount; i++) if (res.keyframeStreams[i] === ls.index) return;
    res.keyframeStreams[res.keyframeCount] = ls.index;
    res.keyframeMids[res.keyframeCount] = ls.mid;
    res.keyframeCount++;
  }

  private onNack(buf: Buffer, off: number, plen: number, now: number): void {
    const idx = this.outTable.get(buf.readUInt32BE(off + 8));
    if (idx < 0) return;
    const ls = this.local[idx]!;
    ls.nacksReceived++;
    for (let p = off + 12; p + 4 <= off + plen; p += 4) {
      const pid = (buf[p]! << 8) | buf[p + 1]!;
      const blp = (buf[p + 2]! << 8) | buf[p + 3]!;
      this.retransmit(ls, pid, now);
      if (blp !== 0) for (let i = 0; i < 16; i++) if (blp & (1 << i)) this.retransmit(ls, (pid + i + 1) & 0xffff, now);
    }
  }

  private retransmit(ls: LocalStream, seq: number, now: number): void {
    const res = this.result;
    res.nackedCount++;
    ls.nackedPackets++;
    const sb = ls.buffer;
    if (sb === null || res.retransmitCount >= this.maxRetransmits) return;
    const i = res.retransmitCount;
    let out = res.retransmitBuffers[i];
    if (out === undefined) {
      out = Buffer.allocUnsafe(RETRANSMIT_BUFFER_SIZE);
      res.retransmitBuffers.push(out);
    }
    let len = sb.copyTo(seq, now, out);
    if (len < 0) return;
    if (ls.rtxSsrc >= 0) {
      const hdr = rtpHeaderLength(out, len);
      if (hdr < 0) return;
      out.copyWithin(hdr + 2, hdr, len);
      out[hdr] = seq >>> 8;
      out[hdr + 1] = seq & 0xff;
      setRtpSsrc(out, ls.rtxSsrc);
      setRtpPayloadType(out, ls.rtxPt);
      setRtpSeq(out, ls.rtxSeq);
      ls.rtxSeq = (ls.rtxSeq + 1) & 0xffff;
      len += 2;
      this.countRtx(ls, out, len, hdr);
    }
    if (!this.deferRetransmitStamp) this.stamp(out, len, now);
    res.retransmitLengths[i] = len;
    res.retransmitStreams[i] = ls.index;
    res.retransmitCount++;
    ls.retransmitted++;
  }

  /** The RTX stream's SR counters: payload octets are the OSN and the original payload, as RFC 4588 sends them. */
  private countRtx(ls: LocalStream, out: Buffer, len: number, hdr: number): void {
    const pad = out[0]! & 0x20 ? out[len - 1]! : 0;
    ls.rtxPackets = (ls.rtxPackets + 1) >>> 0;
    ls.rtxOctets = (ls.rtxOctets + Math.max(0, len - hdr - pad)) >>> 0;
  }

  // ================================================================== time

  private start(now: number): void {
    this.started = true;
    this.lastNow = now;
    // RFC 3550 §6.2: the first interval is halved
    this.nextReportAt = now + (this.reportIntervalMs * (0.5 + this.random())) / 2;
    this.nextTickAt = now + TICK_MS;
  }

  /**
   * When handleTimeout()/pollRtcp() next have work (absolute ms, same clock as `now`), or
   * undefined before any activity. Re-read after every call into the session.
   */
  pollTimeout(): number | undefined {
    if (!this.started) return undefined;
    // Before any stream carried media the per-second tick and the reports have nothing to do (no
    // SR, no RR block, bytes_lastsec stays 0): an idle PeerConnection asks for no wake-up for them.
    // The first packet received raises a `media` event, the first sent is seen by the Peer's send
    // path (mediaSeen): either way the caller re-reads this.
    if (!this.mediaSeenYet) this.mediaSeenYet = this.anyMedia();
    let t = this.mediaSeenYet ? Math.min(this.nextReportAt, this.nextTickAt) : Infinity;
    if (this.hasPendingRtcp) t = Math.min(t, this.lastNow);
    if (this.twccRecorder?.pending === true) t = Math.min(t, this.nextTwccAt);
    if (this.probeEndAt >= 0) {
      this.ccParked = false;
      t = Math.min(t, this.nextProbeAt);
    } else if (this.gcc !== null && this.twccFeedbacksReceived > 0) {
      this.ccParked = !this.ccActive(this.lastNow);
      if (!this.ccParked) t = Math.min(t, this.lastNow + CC_POLL_MS);
    }
    if (this.rembValue > 0 && this.rembTargets() > 0) t = Math.min(t, this.rembChanged ? this.lastNow : this.nextRembAt);
    for (const st of this.recv) {
      if (st.retired) continue;
      if (st.receiving && this.noMediaMs > 0) t = Math.min(t, st.lastRecvMs + this.noMediaMs);
      if (st.pendingPli || st.pendingFir) t = Math.min(t, this.lastNow);
      if (st.midInfo.nack && st.stats.missingCount > 0) {
        const n = st.stats.nextNackTime();
        if (n >= 0) t = Math.min(t, n);
      }
    }
    return t === Infinity ? undefined : t;
  }

  private mediaSeenYet = false;

  /** Some stream sent or received a packet (then the reports and the per-second tick are due). */
  get mediaSeen(): boolean {
    if (!this.mediaSeenYet) this.mediaSeenYet = this.anyMedia();
    return this.mediaSeenYet;
  }

  private anyMedia(): boolean {
    for (const st of this.recv) if (st.packets > 0) return true;
    for (const ls of this.local) if (ls.sendStats.hasSent) return true;
    return false;
  }

  /** Advance timers: media receiving:false, the per-second slowlink/bitrate tick. Then drain pollEvent() and pollRtcp(). */
  handleTimeout(now: number): void {
    if (!this.started) this.start(now);
    if (now > this.lastNow) this.lastNow = now;
    if (this.noMediaMs > 0) {
      for (const st of this.recv) {
        if (st.receiving && !st.retired && now - st.lastRecvMs >= this.noMediaMs) {
          st.receiving = false;
          this.pushMediaEvent(st, false);
        }
      }
    }
    if (now >= this.nextTickAt) {
      this.tick();
      this.nextTickAt += TICK_MS;
      if (this.nextTickAt <= now) this.nextTickAt = now + TICK_MS;
    }
  }

  private tick(): void {
    const th = this.slowlinkThreshold;
    for (const st of this.recv) {
      st.bytesLastSec = st.bytes - st.bytesAtTick;
      st.bytesAtTick = st.bytes;
      const lost = st.stats.packetsLost;
      const delta = lost - st.lostAtTick;
      st.lostAtTick = lost;
      if (th > 0 && !st.retired && delta >= th) {
        this.events.push({ type: 'slowlink', mid: st.mid, kind: st.kind, uplink: false, lost: delta });
      }
    }
    for (const ls of this.local) {
      ls.bytesLastSec = ls.bytes - ls.bytesAtTick;
      ls.bytesAtTick = ls.bytes;
      const delta = ls.remoteLost - ls.remoteLostAtTick;
      ls.remoteLostAtTick = ls.remoteLost;
      if (th > 0 && ls.active && delta >= th) {
        this.events.push({ type: 'slowlink', mid: ls.mid, kind: ls.kind, uplink: true, lost: delta });
      }
    }
  }

  private pushMediaEvent(st: RecvStream, receiving: boolean): void {
    const ev: RtpSessionEvent = { type: 'media', mid: st.mid, kind: st.kind, receiving };
    if (st.substream >= 0) ev.substream = st.substream;
    if (!receiving) ev.seconds = this.noMediaMs / 1000;
    this.events.push(ev);
  }

  /** Next event for the core (media, slowlink, bye), or undefined. */
  pollEvent(): RtpSessionEvent | undefined {
    if (this.eventHead < this.events.length) return this.events[this.eventHead++];
    if (this.eventHead > 0) {
      this.events.length = 0;
      this.eventHead = 0;
    }
    return undefined;
  }

  // ================================================================== RTCP out

  /**
   * Write the next RTCP packet due at `now` into `out` (leave room after maxRtcpSize for the
   * SRTCP trailer) and return its length, 0 when nothing is due. Call until it returns 0.
   * A report (every ~reportIntervalMs) is SR per sending stream + RR blocks + SDES CNAME, followed
   * by any due feedback; between reports, feedback (NACK, PLI, FIR, REMB) goes out alone.
   */
  pollRtcpInto(out: Buffer, now: number): number {
    this.handleTimeout(now);
    const max = Math.min(this.maxRtcpSize, out.length);
    let off = 0;
    if (now >= this.nextReportAt) {
      this.nextReportAt = now + this.reportIntervalMs * (0.5 + this.random());
      off = this.writeReports(out, 0, max, now);
    }
    if (off === 0 && !this.reducedSize) {
      const head = this.writeMinimalHeader(out, max);
      const fb = this.writeFeedback(out, head, max, now);
      off = fb === head ? 0 : fb;
    } else {
      off = this.writeFeedback(out, off, max, now);
    }
    if (off === 0) this.hasPendingRtcp = false;
    return off;
  }

  /** pollRtcpInto() into a fresh Buffer (allocates; fine at RTCP rates), or undefined. */
  pollRtcp(now: number): Buffer | undefined {
    if (this.pollScratch === null) this.pollScratch = Buffer.allocUnsafe(this.maxRtcpSize);
    const n = this.pollRtcpInto(this.pollScratch, now);
    return n > 0 ? Buffer.from(this.pollScratch.subarray(0, n)) : undefined;
  }

  /** RR/SR + SDES + BYE for all our SSRCs, for a clean close; returns the length written. */
  writeBye(out: Buffer, now: number): number {
    const max = Math.min(this.maxRtcpSize, out.length);
    let off = this.writeReports(out, 0, max, now);
    if (off === 0) off = this.writeMinimalHeader(out, max);
    const ssrcs = this.sdesSsrcs;
    ssrcs.length = 0;
    for (const ls of this.local) {
      if (!ls.active) continue;
      ssrcs.push(ls.ssrc);
      if (ls.rtxSsrc >= 0 && ls.rtxPackets > 0) ssrcs.push(ls.rtxSsrc);
    }
    if (ssrcs.length === 0) ssrcs.push(this.rtcpSsrc);
    const n = Math.min(31, ssrcs.length);
    const len = 4 + 4 * n;
    if (off + len > max) return off;
    writeRtcpHeader(out, off, n, RtcpType.BYE, len);
    for (let i = 0; i < n; i++) out.writeUInt32BE(ssrcs[i]!, off + 4 + 4 * i);
    return off + len;
  }

  /** Sender SSRC of RR and feedback. */
  private feedbackSsrc(): number {
    for (const ls of this.local) if (ls.active) return ls.ssrc;
    return this.rtcpSsrc;
  }

  private writeMinimalHeader(out: Buffer, max: number): number {
    const ssrc = this.feedbackSsrc();
    writeRtcpHeader(out, 0, 0, RtcpType.RR, 8);
    out.writeUInt32BE(ssrc, 4);
    this.sdesSsrcs.length = 0;
    this.sdesSsrcs.push(ssrc);
    return this.writeSdes(out, 8, max);
  }

  /** SR for each sending stream (the first carries the report blocks) or one RR, then SDES. 0 if nothing to report. */
  private writeReports(out: Buffer, off: number, max: number, now: number): number {
    const start = off;
    let blocks = 0;
    for (const st of this.recv) if (!st.retired && st.packets > 0) blocks++;
    blocks = Math.min(31, blocks);
    const ssrcs = this.sdesSsrcs;
    ssrcs.length = 0;
    let blocksWritten = false;
    const wall = now + this.unixOffsetMs;
    const ntpSec = ntpSeconds(wall);
    const ntpFrac = ntpFraction(wall);
    for (const ls of this.local) {
      if (!ls.active || !ls.sendStats.hasSent) continue;
      const nb = blocksWritten ? 0 : blocks;
      const len = 28 + 24 * nb;
      if (off + len > max) break;
      writeRtcpHeader(out, off, nb, RtcpType.SR, len);
      out.writeUInt32BE(ls.ssrc, off + 4);
      out.writeUInt32BE(ntpSec >>> 0, off + 8);
      out.writeUInt32BE(ntpFrac >>> 0, off + 12);
      out.writeUInt32BE(ls.sendStats.rtpTimestampAt(now), off + 16);
      out.writeUInt32BE(ls.sendStats.packets >>> 0, off + 20);
      out.writeUInt32BE(ls.sendStats.octets >>> 0, off + 24);
      if (nb > 0) this.writeBlocks(out, off + 28, nb, now);
      blocksWritten = true;
      ssrcs.push(ls.ssrc);
      off += len;
      // The RTX stream gets its own SR (RFC 3550: every sending SSRC reports): the receiver sees an
      // SSRC with counts instead of one it never heard a report about. Its timestamps are the media's.
      if (ls.rtxSsrc >= 0 && ls.rtxPackets > 0 && off + 28 <= max) {
        writeRtcpHeader(out, off, 0, RtcpType.SR, 28);
        out.writeUInt32BE(ls.rtxSsrc, off + 4);
        out.writeUInt32BE(ntpSec >>> 0, off + 8);
        out.writeUInt32BE(ntpFrac >>> 0, off + 12);
        out.writeUInt32BE(ls.sendStats.rtpTimestampAt(now), off + 16);
        out.writeUInt32BE(ls.rtxPackets >>> 0, off + 20);
        out.writeUInt32BE(ls.rtxOctets >>> 0, off + 24);
        ssrcs.push(ls.rtxSsrc);
        off += 28;
      }
    }
    if (!blocksWritten) {
      if (blocks === 0) return start;
      const ssrc = this.feedbackSsrc();
      const len = 8 + 24 * blocks;
      if (off + len > max) return start;
      writeRtcpHeader(out, off, blocks, RtcpType.RR, len);
      out.writeUInt32BE(ssrc, off + 4);
      this.writeBlocks(out, off + 8, blocks, now);
      ssrcs.push(ssrc);
      off += len;
    }
    return this.writeSdes(out, off, max);
  }

  private writeBlocks(out: Buffer, off: number, n: number, now: number): void {
    const b = this.block;
    let k = 0;
    for (const st of this.recv) {
      if (k === n) break;
      if (st.retired || st.packets === 0) continue;
      st.stats.fillReportBlock(now, b);
      st.lastFractionLost = b.fractionLost;
      const o = off + 24 * k;
      out.writeUInt32BE(b.ssrc >>> 0, o);
      out[o + 4] = b.fractionLost;
      out.writeIntBE(b.cumulativeLost, o + 5, 3);
      out.writeUInt32BE(b.highestSeq >>> 0, o + 8);
      out.writeUInt32BE(b.jitter >>> 0, o + 12);
      out.writeUInt32BE(b.lsr >>> 0, o + 16);
      out.writeUInt32BE(b.dlsr >>> 0, o + 20);
      k++;
    }
  }

  /** SDES with a CNAME chunk for each SSRC in sdesSsrcs (all ours: one CNAME per endpoint). */
  private writeSdes(out: Buffer, off: number, max: number): number {
    const ssrcs = this.sdesSsrcs;
    const cn = this.cnameBytes;
    const chunk = 4 + ((2 + cn.length + 1 + 3) & ~3);
    let n = Math.min(31, ssrcs.length);
    while (n > 0 && off + 4 + n * chunk > max) n--;
    if (n === 0) return off;
    const len = 4 + n * chunk;
    writeRtcpHeader(out, off, n, RtcpType.SDES, len);
    let p = off + 4;
    for (let i = 0; i < n; i++) {
      out.writeUInt32BE(ssrcs[i]! >>> 0, p);
      out[p + 4] = 1; // CNAME
      out[p + 5] = cn.length;
      cn.copy(out, p + 6);
      out.fill(0, p + 6 + cn.length, p + chunk); // END item and padding
      p += chunk;
    }
    return off + len;
  }

  /** How many SSRCs a REMB would list (video SSRCs, else all). */
  private rembTargets(): number {
    let video = 0;
    let all = 0;
    for (const st of this.recv) {
      if (st.retired) continue;
      all++;
      if (st.midInfo.kind === 'video') video++;
    }
    return video > 0 ? video : all;
  }

  private writeFeedback(out: Buffer, off: number, max: number, now: number): number {
    const sender = this.feedbackSsrc();
    // transport-cc feedback every twcc_period
    const rec = this.twccRecorder;
    if (rec !== null && rec.pending && now >= this.nextTwccAt) {
      let media = 0;
      for (const st of this.recv) {
        if (!st.retired) {
          media = st.ssrc;
          break;
        }
      }
      off = rec.writeFeedback(out, off, max, sender, media);
      if (!rec.pending) this.nextTwccAt = now + this.twccPeriodMs;
    }
    // keyframe requests
    for (const st of this.recv) {
      if (!st.pendingPli && !st.pendingFir) continue;
      if (st.retired) {
        st.pendingPli = st.pendingFir = false;
        continue;
      }
      if (st.pendingPli && off + 12 <= max) {
        writeRtcpHeader(out, off, PsfbFmt.PLI, RtcpType.PSFB, 12);
        out.writeUInt32BE(sender, off + 4);
        out.writeUInt32BE(st.ssrc, off + 8);
        off += 12;
        st.pendingPli = false;
        st.plisSent++;
      }
      if (st.pendingFir && off + 20 <= max) {
        writeRtcpHeader(out, off, PsfbFmt.FIR, RtcpType.PSFB, 20);
        out.writeUInt32BE(sender, off + 4);
        out.writeUInt32BE(0, off + 8);
        out.writeUInt32BE(st.ssrc, off + 12);
        st.firSeq = (st.firSeq + 1) & 0xff;
        out.writeUInt32BE(0, off + 16);
        out[off + 16] = st.firSeq;
        off += 20;
        st.pendingFir = false;
        st.firsSent++;
      }
    }
    // REMB
    if (this.rembValue > 0 && (this.rembChanged || now >= this.nextRembAt)) {
      const targets = this.rembTargets();
      const n = Math.min(targets, 255, Math.floor((max - off - 20) / 4));
      if (targets > 0 && n > 0) {
        const video = this.hasVideoRecv();
        const len = 20 + 4 * n;
        writeRtcpHeader(out, off, PsfbFmt.AFB, RtcpType.PSFB, len);
        out.writeUInt32BE(sender, off + 4);
        out.writeUInt32BE(0, off + 8);
        out[off + 12] = 0x52; // R
        out[off + 13] = 0x45; // E
        out[off + 14] = 0x4d; // M
        out[off + 15] = 0x42; // B
        const { exp, mantissa } = rembEncode(this.rembValue);
        out[off + 16] = n;
        out[off + 17] = (exp << 2) | (mantissa >>> 16);
        out[off + 18] = (mantissa >>> 8) & 0xff;
        out[off + 19] = mantissa & 0xff;
        let k = 0;
        for (const st of this.recv) {
          if (k === n) break;
          if (st.retired || (video && st.midInfo.kind !== 'video')) continue;
          out.writeUInt32BE(st.ssrc, off + 20 + 4 * k);
          k++;
        }
        off += len;
        this.rembChanged = false;
        this.nextRembAt = now + this.rembIntervalMs;
      }
    }
    // NACKs
    const seqs = this.nackSeqs;
    for (const st of this.recv) {
      if (st.retired || !st.midInfo.nack || st.stats.missingCount === 0) continue;
      if (max - off < 16) break;
      const n = st.stats.collectNacks(now, seqs);
      if (n === 0) continue;
      const maxFci = Math.floor((max - off - 12) / 4);
      let p = off + 12;
      let fci = 0;
      let i = 0;
      while (i < n && fci < maxFci) {
        const pid = seqs[i]!;
        let blp = 0;
        i++;
        while (i < n) {
          const d = (seqs[i]! - pid) & 0xffff;
          if (d < 1 || d > 16) break;
          blp |= 1 << (d - 1);
          i++;
        }
        out[p] = pid >>> 8;
        out[p + 1] = pid & 0xff;
        out[p + 2] = blp >>> 8;
        out[p + 3] = blp & 0xff;
        p += 4;
        fci++;
      }
      const len = 12 + 4 * fci;
      writeRtcpHeader(out, off, RtpfbFmt.NACK, RtcpType.RTPFB, len);
      out.writeUInt32BE(sender, off + 4);
      out.writeUInt32BE(st.ssrc, off + 8);
      off += len;
      st.nacksSent++;
      st.nackedPackets += i;
    }
    return off;
  }

  private hasVideoRecv(): boolean {
    for (const st of this.recv) if (!st.retired && st.midInfo.kind === 'video') return true;
    return false;
  }

  // ================================================================== stats

  /** Latest RTT (ms), 0 while unknown. */
  get rtt(): number {
    return this.rttMs;
  }

  /** Dropped input so far, for /metrics without getStats: packets from unknown SSRCs, malformed RTP, malformed RTCP. */
  get unknownSsrcCount(): number {
    return this.unknownSsrcPackets;
  }
  get malformedRtpCount(): number {
    return this.malformedRtp;
  }
  get malformedRtcpCount(): number {
    return this.malformedRtcp;
  }

  /**
   * Adds this session's /metrics counters to `audio` / `video` (anything not audio counts as video), the
   * same streams and fields getStats reports, without building that snapshot: the metrics walk does this
   * for every PeerConnection every second, and getStats allocates a few objects per stream.
   */
  addCounters(audio: KindCounters, video: KindCounters): void {
    for (const st of this.recv) {
      if (st.retired) continue;
      const c = st.kind === 'audio' ? audio : video;
      c.packetsIn += st.packets;
      c.bytesIn += st.bytes;
      c.lostIn += Math.max(0, st.stats.packetsLost);
      c.nacksOut += st.nacksSent;
      c.plisOut += st.plisSent + st.firsSent;
    }
    for (const ls of this.local) {
      if (!ls.active) continue;
      const c = ls.kind === 'audio' ? audio : video;
      c.packetsOut += ls.packets;
      c.bytesOut += ls.bytes;
      c.retransmitted += ls.retransmitted;
      c.lostOut += Math.max(0, ls.remoteLost);
      c.nacksIn += ls.nacksReceived;
      c.plisIn += ls.plisReceived + ls.firsReceived;
    }
  }

  /** A snapshot for Admin handle_info (allocates). Retired inbound streams are left out. */
  getStats(): RtpSessionStats {
    return {
      rttMs: this.rttMs,
      rembSent: this.rembValue,
      rembReceived: this.rembReceived,
      unknownSsrcPackets: this.unknownSsrcPackets,
      malformedRtp: this.malformedRtp,
      malformedRtcp: this.malformedRtcp,
      bwe: {
        estimate: this.estimateBps,
        twccFeedbacksSent: this.twccRecorder?.feedbacksWritten ?? 0,
        twccFeedbacksReceived: this.twccFeedbacksReceived,
        probePackets: this.probePackets,
        probeBytes: this.probeBytes,
        ...(this.gcc !== null
          ? {
              trusted: this.gcc.trusted,
              delayBased: Math.round(this.gcc.delayBps),
              lossBased: Math.round(this.gcc.lossBps),
              acked: Math.round(this.gcc.ackedBps),
              loss: this.gcc.lossFraction,
              probes: this.gcc.probes,
              probesMeasured: this.gcc.probesMeasured,
              probesStopped: this.gcc.probesStopped,
              probesUp: this.gcc.probesUp,
              probesDown: this.gcc.probesDown,
              lastProbe: Math.round(this.gcc.lastProbeBps),
              overuses: this.gcc.overuses,
            }
          : {}),
      },
      inbound: this.recv
        .filter((st) => !st.retired)
        .map((st) => ({
          mid: st.mid,
          kind: st.kind,
          ssrc: st.ssrc,
          ...(st.rtxSsrc >= 0 ? { rtxSsrc: st.rtxSsrc } : {}),
          ...(st.rid !== undefined ? { rid: st.rid } : {}),
          ...(st.substream >= 0 ? { substream: st.substream } : {}),
          receiving: st.receiving,
          packets: st.packets,
          bytes: st.bytes,
          bytesLastSec: st.bytesLastSec,
          rtxPackets: st.rtxPackets,
          lost: st.stats.packetsLost,
          fractionLost: st.lastFractionLost,
          jitter: st.stats.jitter,
          jitterMs: st.stats.jitterMs,
          nackedPackets: st.nackedPackets,
          nacksSent: st.nacksSent,
          plisSent: st.plisSent,
          firsSent: st.firsSent,
          remotePacketsSent: st.remotePacketsSent,
          remoteBytesSent: st.remoteBytesSent,
        })),
      outbound: this.local
        .filter((ls) => ls.active)
        .map((ls) => ({
          mid: ls.mid,
          kind: ls.kind,
          ssrc: ls.ssrc,
          ...(ls.rtxSsrc >= 0 ? { rtxSsrc: ls.rtxSsrc, rtxPackets: ls.rtxPackets, rtxOctets: ls.rtxOctets, rtxReports: ls.rtxReports } : {}),
          packets: ls.packets,
          bytes: ls.bytes,
          bytesLastSec: ls.bytesLastSec,
          retransmitted: ls.retransmitted,
          remoteLost: ls.remoteLost,
          remoteFractionLost: ls.remoteFractionLost,
          remoteJitterMs: (ls.remoteJitter * 1000) / ls.clockRate,
          rttMs: ls.rttMs,
          nacksReceived: ls.nacksReceived,
          nackedPackets: ls.nackedPackets,
          plisReceived: ls.plisReceived,
          firsReceived: ls.firsReceived,
        })),
    };
  }
}
