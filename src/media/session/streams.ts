/**
 * Per-stream state of an RtpSession. Internal: the session's public surface is in session.ts.
 */
import { RtpReceiveStats, RtpSendBuffer, RtpSendStats } from '../rtp/index.js';
import type { LocalStreamConfig, MediaKind, RemoteMidConfig } from './types.js';

/** A stream we send. */
export class LocalStream {
  readonly index: number;
  readonly mid: string;
  readonly kind: MediaKind;
  readonly ssrc: number;
  readonly clockRate: number;
  readonly rtxSsrc: number;
  readonly rtxPt: number;
  readonly nack: boolean;
  readonly buffer: RtpSendBuffer | null;
  readonly sendStats: RtpSendStats;
  active = true;

  lastSentMs = -1;
  packets = 0;
  bytes = 0;
  retransmitted = 0;
  /** What went out on the RTX SSRC (retransmissions and probes), for its own SR: packets, payload octets. */
  rtxPackets = 0;
  rtxOctets = 0;
  /** Report blocks the remote sent about our RTX SSRC (libwebrtc reports every SSRC it receives). */
  rtxReports = 0;
  rtxSeq: number;
  /** Sequence number of the last video packet sent (probes copy it), -1 before any. */
  lastSeq = -1;
  /** RTP timestamp of the last keyframe that emptied the buffer (nack_optimizations). */
  lastKeyframeTs = -1;

  // from the remote's reports about this stream
  remoteFractionLost = 0;
  remoteLost = 0;
  remoteJitter = 0;
  rttMs = 0;
  haveReport = false;

  nacksReceived = 0;
  nackedPackets = 0;
  plisReceived = 0;
  firsReceived = 0;
  lastFirSeq = -1;

  // 1 s tick
  bytesAtTick = 0;
  bytesLastSec = 0;
  remoteLostAtTick = 0;

  constructor(index: number, cfg: LocalStreamConfig, minNackQueueMs: number, random: () => number) {
    this.index = index;
    this.mid = cfg.mid;
    this.kind = cfg.kind;
    this.ssrc = cfg.ssrc >>> 0;
    this.clockRate = cfg.clockRate;
    this.rtxSsrc = cfg.rtxSsrc !== undefined && cfg.rtxPt !== undefined ? cfg.rtxSsrc >>> 0 : -1;
    this.rtxPt = this.rtxSsrc >= 0 ? cfg.rtxPt! & 0x7f : -1;
    this.nack = cfg.nack ?? cfg.kind === 'video';
    this.buffer = this.nack
      ? new RtpSendBuffer({ capacity: cfg.bufferPackets ?? (cfg.kind === 'video' ? 512 : 64), maxAgeMs: minNackQueueMs })
      : null;
    this.sendStats = new RtpSendStats(this.ssrc, cfg.clockRate);
    this.rtxSeq = Math.floor(random() * 0x10000) & 0xffff;
  }
}

/** An m-line we receive. */
export class RemoteMid {
  readonly mid: string;
  readonly kind: MediaKind;
  readonly clockRate: number;
  readonly nack: boolean;
  readonly keyframe: 'pli' | 'fir';
  /** rtx pt -> apt, -1 when not an RTX pt. */
  readonly rtxApt = new Int16Array(128).fill(-1);
  readonly rids: readonly string[];
  readonly payloadTypes: readonly number[];
  /** A keyframe was requested before any SSRC was known. */
  pendingKeyframe = false;
  active = true;

  constructor(cfg: RemoteMidConfig) {
    this.mid = cfg.mid;
    this.kind = cfg.kind;
    this.clockRate = cfg.clockRate;
    this.nack = cfg.nack ?? cfg.kind === 'video';
    this.keyframe = cfg.keyframe ?? 'pli';
    for (const r of cfg.rtx ?? []) this.rtxApt[r.pt & 0x7f] = r.apt & 0x7f;
    this.rids = cfg.rids ?? [];
    this.payloadTypes = cfg.payloadTypes ?? [];
  }

  get simulcast(): boolean {
    return this.rids.length > 1;
  }
}

/** One incoming SSRC (with its RTX SSRC, if any). */
export class RecvStream {
  readonly index: number;
  midInfo: RemoteMid;
  readonly ssrc: number;
  rtxSsrc = -1;
  readonly rid: string | undefined;
  /** -1 when not simulcast. */
  readonly substream: number;
  readonly stats: RtpReceiveStats;
  /** Replaced by another SSRC for the same mid/substream: no more events or reports. */
  retired = false;

  packets = 0;
  bytes = 0;
  rtxPackets = 0;
  lastRecvMs = -1;
  receiving = false;
  lastFractionLost = 0;

  nackedPackets = 0;
  nacksSent = 0;
  plisSent = 0;
  firsSent = 0;
  firSeq = 0;
  pendingPli = false;
  pendingFir = false;

  remotePacketsSent = 0;
  remoteBytesSent = 0;

  bytesAtTick = 0;
  bytesLastSec = 0;
  lostAtTick = 0;

  constructor(index: number, midInfo: RemoteMid, ssrc: number, rid: string | undefined, substream: number, nackDelayMs: number) {
    this.index = index;
    this.midInfo = midInfo;
    this.ssrc = ssrc >>> 0;
    this.rid = rid;
    this.substream = substream;
    this.stats = new RtpReceiveStats(this.ssrc, midInfo.clockRate, { initialDelayMs: nackDelayMs });
  }

  get mid(): string {
    return this.midInfo.mid;
  }
  get kind(): MediaKind {
    return this.midInfo.kind;
  }
}
