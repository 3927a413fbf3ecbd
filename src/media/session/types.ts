/**
 * Configuration, event and statistics types of the RTP session engine (see index.ts).
 */

export type MediaKind = 'audio' | 'video';

/** Session-wide options; the Janus `media` settings map onto the first five. */
export interface RtpSessionOptions {
  /** Our RTCP CNAME (SDES), the one we put in the SDP's a=ssrc:... cname:. */
  cname: string;
  /**
   * Janus `min_nack_queue` (ms, default 200): packets we send are kept for retransmission at least
   * this long; the window grows to 2 × RTT (capped at 5 s) when the RTT is larger.
   */
  minNackQueueMs?: number;
  /**
   * Janus `nack_optimizations` (default false): when a keyframe is sent on a stream (the caller says
   * so in onOutgoingRtp), its retransmission buffer is emptied, so NACKs for older packets are ignored.
   */
  nackOptimizations?: boolean;
  /** Janus `no_media_timer` (s, default 1): `media` receiving:false after this much silence; 0 = never. */
  noMediaTimerS?: number;
  /** Janus `slowlink_threshold` (lost packets per second, default 0 = disabled). */
  slowlinkThreshold?: number;
  /** Interval of SR/RR + SDES (ms, default 1000); RFC 3550 randomized in [0.5, 1.5] × interval. */
  reportIntervalMs?: number;
  /** Period of REMB while a cap is set (ms, default 1000); a change is sent at once. */
  rembIntervalMs?: number;
  /**
   * RFC 5506 reduced-size RTCP (default true, Chrome/Firefox always negotiate a=rtcp-rsize):
   * NACK/PLI/FIR/REMB go out alone between reports. When false each is prefixed by RR + SDES.
   */
  reducedSize?: boolean;
  /** Largest compound RTCP written (bytes before SRTCP, default 1200). */
  maxRtcpSize?: number;
  /** Cap on retransmissions produced by one onRtcp() call (default 256). */
  maxRetransmits?: number;
  /** Delay before the first NACK of a gap (ms, default 0: at once, like Janus). */
  nackDelayMs?: number;
  /** Sender SSRC of RR/feedback while we have no outgoing stream (default random). */
  rtcpSsrc?: number;
  /**
   * Wall clock for NTP timestamps: unixMs = now + unixOffsetMs. Default `Date.now() - performance.now()`,
   * i.e. `now` is expected to be performance.now(). Pass 0 when `now` is Date.now().
   */
  unixOffsetMs?: number;
  /** Random source in [0, 1) (report interval jitter, initial RTX seq, rtcpSsrc); default Math.random. */
  random?: () => number;
  /**
   * Header extension ids (from the SDP's a=extmap): mid/rid/repaired-rid learn unknown SSRCs on the
   * fly; transport-wide-cc makes the session send transport-cc feedback and stamp what it sends;
   * abs-send-time is stamped on what it sends.
   */
  extensions?: { mid?: number; rid?: number; repairedRid?: number; transportCc?: number; absSendTime?: number };
  /** Janus `twcc_period` (ms, default 200): how often transport-cc feedback goes out. */
  twccPeriodMs?: number;
  /** Bounds of the send-side bandwidth estimate (bps). */
  bwe?: { startBps?: number; minBps?: number; maxBps?: number };
  /** Most incoming SSRCs tracked (default 32); further unknown SSRCs are dropped. */
  maxRemoteSsrcs?: number;
}

/** One stream we send (an m-line's outgoing direction). */
export interface LocalStreamConfig {
  mid: string;
  kind: MediaKind;
  ssrc: number;
  clockRate: number;
  /** RTX (RFC 4588) negotiated for retransmissions: our RTX SSRC and payload type. */
  rtxSsrc?: number;
  rtxPt?: number;
  /** Honour the remote's NACKs (store sent packets). Default true for video, false for audio. */
  nack?: boolean;
  /** Retransmission ring size in packets (power of two). Default 512 video, 64 audio. */
  bufferPackets?: number;
}

/** One m-line we receive, from the remote SDP. SSRCs are added with addRemoteSsrc() or learnt. */
export interface RemoteMidConfig {
  mid: string;
  kind: MediaKind;
  /** Clock rate of the media (jitter units). */
  clockRate: number;
  /** Send NACKs for this m-line (remote offered rtcp-fb nack). Default true for video, false for audio. */
  nack?: boolean;
  /** How requestKeyframe() asks: 'pli' (default) or 'fir' (rtcp-fb ccm fir). */
  keyframe?: 'pli' | 'fir';
  /** RTX payload types of this m-line: [{ pt: rtxPt, apt: mediaPt }]. */
  rtx?: ReadonlyArray<{ pt: number; apt: number }>;
  /** Simulcast rids in substream order (substream = index in this list). */
  rids?: readonly string[];
  /** Media payload types of this m-line: lets a packet without a mid extension be matched. */
  payloadTypes?: readonly number[];
}

export interface RemoteSsrcOptions {
  /** The RTX SSRC paired with it (a=ssrc-group:FID). */
  rtxSsrc?: number;
  rid?: string;
  /** Simulcast substream; taken from `rid`'s position in RemoteMidConfig.rids when omitted. */
  substream?: number;
}

/** Pollable events for the core (rare: not per packet). */
export type RtpSessionEvent =
  | {
      type: 'media';
      mid: string;
      kind: MediaKind;
      /** Present for simulcast streams. */
      substream?: number;
      receiving: boolean;
      /** no_media_timer, on receiving:false. */
      seconds?: number;
    }
  | {
      type: 'slowlink';
      mid: string;
      kind: MediaKind;
      /** true: losses on what we send (remote-reported); false: on what we receive. */
      uplink: boolean;
      /** Packets lost in the last second. */
      lost: number;
    }
  | { type: 'bye'; mid: string; kind: MediaKind; ssrc: number };

export interface InboundStreamStats {
  mid: string;
  kind: MediaKind;
  ssrc: number;
  rtxSsrc?: number;
  rid?: string;
  substream?: number;
  receiving: boolean;
  packets: number;
  bytes: number;
  bytesLastSec: number;
  /** Packets recovered through RTX. */
  rtxPackets: number;
  /** Cumulative lost (expected - received). */
  lost: number;
  /** Fraction lost of the last report we sent (0..255). */
  fractionLost: number;
  /** Interarrival jitter in timestamp units and ms. */
  jitter: number;
  jitterMs: number;
  /** Sequence numbers we asked for, and NACK messages sent. */
  nackedPackets: number;
  nacksSent: number;
  plisSent: number;
  firsSent: number;
  /** From the remote's SR. */
  remotePacketsSent: number;
  remoteBytesSent: number;
}

export interface OutboundStreamStats {
  mid: string;
  kind: MediaKind;
  ssrc: number;
  rtxSsrc?: number;
  /** With RTX: packets (retransmissions and probes) and payload octets sent on rtxSsrc, as in its SR; report blocks about it. */
  rtxPackets?: number;
  rtxOctets?: number;
  rtxReports?: number;
  packets: number;
  bytes: number;
  bytesLastSec: number;
  retransmitted: number;
  /** From the remote's receiver reports. */
  remoteLost: number;
  remoteFractionLost: number;
  remoteJitterMs: number;
  rttMs: number;
  nacksReceived: number;
  nackedPackets: number;
  plisReceived: number;
  firsReceived: number;
}

/**
 * The cumulative RTP/RTCP counters /metrics keeps per media kind: what RtpSession.addCounters adds to.
 * Defined here, where they are counted (this module imports nothing from core); core's
 * MediaKindCounters is this type.
 */
export interface KindCounters {
  /** RTP packets and payload-inclusive bytes received from peers (after SRTP), RTX included. */
  packetsIn: number;
  bytesIn: number;
  /** RTP packets and bytes sent to peers, retransmissions included. */
  packetsOut: number;
  bytesOut: number;
  /** Packets we expected from peers and never received (sequence gaps, RFC 3550 cumulative lost). */
  lostIn: number;
  /** Packets the peers reported lost in their receiver reports (what we sent them). */
  lostOut: number;
  /** Packets we retransmitted after a NACK. */
  retransmitted: number;
  /** NACK feedback messages received from peers / sent to peers. */
  nacksIn: number;
  nacksOut: number;
  /** PLI and FIR keyframe requests received from peers / sent to peers. */
  plisIn: number;
  plisOut: number;
}

export interface RtpSessionStats {
  /** Latest RTT (ms) from the remote's receiver reports, 0 if unknown. */
  rttMs: number;
  /** The cap we send (setRemb), 0 if none; the last REMB received, -1 if none. */
  rembSent: number;
  rembReceived: number;
  /** Dropped input: unknown SSRCs, malformed RTP or RTCP. */
  unknownSsrcPackets: number;
  malformedRtp: number;
  malformedRtcp: number;
  /** transport-cc: the send-side estimate (bps, 0 while unknown) and feedback counters. */
  bwe?: {
    estimate: number;
    twccFeedbacksSent: number;
    twccFeedbacksReceived: number;
    probePackets: number;
    probeBytes: number;
    /** The estimate rests on a measurement (a probe, over-use or loss, or 3 s of feedback). */
    trusted?: boolean;
    delayBased?: number;
    lossBased?: number;
    acked?: number;
    loss?: number;
    /** Probe clusters started, measured, stopped early on a queue, and those that raised the estimate; what the latest one read (bps). */
    probes?: number;
    probesMeasured?: number;
    probesStopped?: number;
    probesUp?: number;
    /** Saturated probes that lowered an estimate above what they read. */
    probesDown?: number;
    lastProbe?: number;
    /** Over-use detections that lowered the delay-based estimate. */
    overuses?: number;
    /** The pacer (src/media/cc/pacer.ts), filled in by the Peer when it paces. */
    pacer?: { rate: number; queued: number; queuedBytes: number; sent: number; delayed: number; dropped: number; maxWaitMs: number; keyframeRequests: number };
  };
  inbound: InboundStreamStats[];
  outbound: OutboundStreamStats[];
}
