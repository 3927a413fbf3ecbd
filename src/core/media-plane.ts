/**
 * Where the ICE/DTLS/SRTP media plane plugs into the control plane.
 *
 * The core calls a MediaPlane for every JSEP that crosses it and every trickled candidate;
 * the media plane reports connection state back through the MediaEvents the core hands it
 * (`attach`). Until the real plane exists, PassThroughMediaPlane forwards SDPs untouched, so
 * signalling can be built and tested end to end.
 */
import type { Jsep } from './jsep.js';
import type { RtpStreamInfo } from './plugin.js';
import type { KindCounters } from '../media/session/types.js';

/** The handle, as the media plane sees it (it never touches sessions or plugins). */
export interface MediaHandle {
  readonly handleId: number;
  readonly sessionId: number;
  readonly pluginPackage: string;
}

/** A trickled candidate as the client sent it (`{"sdpMid","sdpMLineIndex","candidate"}` or `{"completed":true}`). */
export type TrickleCandidate = Record<string, unknown>;

/** Reports from the media plane; the core turns them into Janus events and plugin callbacks. */
export interface MediaEvents {
  /** ICE + DTLS done: `webrtcup` event, plugin.setupMedia. */
  webrtcUp(handleId: number): void;
  /** `media` event (receiving started/stopped on one m-line). */
  mediaState(handleId: number, info: { mid: string; type: 'audio' | 'video'; receiving: boolean; substream?: number; seconds?: number }): void;
  /** `slowlink` event. */
  slowLink(handleId: number, info: { mid: string; media: 'audio' | 'video'; uplink: boolean; lost: number }): void;
  /** ICE failed: `ice-failed` event. */
  iceFailed(handleId: number): void;
  /** The PeerConnection died on its own (DTLS alert, ICE failure with hangup_on_failed...). */
  peerClosed(handleId: number, reason: string): void;
  /** A local candidate to trickle to the client (only with full_trickle). */
  localCandidate(handleId: number, candidate: TrickleCandidate): void;
  /**
   * The packet-path sink of a handle: the plugin's media hooks bound to it. The plane asks once per
   * PeerConnection and calls the sink for every packet (no lookup per packet). Null if the handle is gone.
   */
  mediaSink?(handleId: number): MediaSink | null;
}

/** The plugin's media hooks for one handle (see Plugin.incomingRtp and friends). Never throws. */
export interface MediaSink {
  incomingRtp(stream: RtpStreamInfo, buf: Buffer, len: number): void;
  incomingRtcp(stream: RtpStreamInfo | null, buf: Buffer, len: number): void;
  incomingData(label: string, data: Buffer, isBinary: boolean): void;
  dataReady(label: string): void;
}

export interface MediaPlane {
  attach(events: MediaEvents): void;
  /**
   * The client's offer or answer. Returns the JSEP the plugin receives. Throw (or reject with) a JanusError
   * (465 Invalid SDP, 469 unexpected answer...) to refuse it; the whole request then fails.
   * May be asynchronous (the first JSEP of a handle binds its UDP socket).
   */
  remoteJsep(handle: MediaHandle, jsep: Jsep): Jsep | Promise<Jsep>;
  /**
   * The plugin's offer or answer. Returns what the client receives (ICE credentials, fingerprint, candidates
   * merged). Throw (or reject) to refuse. May be asynchronous; the core keeps the handle's events in order.
   */
  localJsep(handle: MediaHandle, jsep: Jsep): Jsep | Promise<Jsep>;
  /** Candidates the client trickled, once the handle has a remote description. */
  trickle(handle: MediaHandle, candidates: TrickleCandidate[]): void;
  /** Tear down the handle's PeerConnection (the handle itself survives). */
  hangup(handle: MediaHandle, reason: string): void;
  /** The handle is gone: release everything it held. */
  release(handle: MediaHandle): void;

  // ---- the relay side of the plugin media contract (see PluginMediaHost); absent: media is dropped.
  relayRtp?(handle: MediaHandle, mid: string, buf: Buffer, len: number): void;
  relayRtcp?(handle: MediaHandle, mid: string | null, buf: Buffer, len: number): void;
  relayData?(handle: MediaHandle, label: string | null, data: string | Buffer): void;
  sendPli?(handle: MediaHandle, mid: string | null): void;
  sendRemb?(handle: MediaHandle, bitrate: number): void;
  /** Send-side estimate towards the handle's peer (bps, 0 unknown); `wantedBps` caps probing. */
  bandwidthEstimate?(handle: MediaHandle, wantedBps?: number): number;
  /** Longest pacer wait towards the handle's peer since the last call (ms, see PluginMediaHost.sendQueueMs). */
  sendQueueMs?(handle: MediaHandle): number;
  /**
   * The media part of Admin `handle_info` (ICE/DTLS state, `streams` statistics), or null without a PeerConnection.
   * May be asynchronous (a PeerConnection that lives in a media worker).
   */
  handleInfo?(handle: MediaHandle): Record<string, unknown> | null | Promise<Record<string, unknown> | null>;
  /** Shutdown: close every PeerConnection and socket. */
  close?(): Promise<void>;
  /**
   * Counters and gauges for /metrics (see MediaPlaneMetrics). Optional: without it the metrics module
   * reads each live Peer's statistics and keeps what closed ones had counted.
   */
  metrics?(): MediaPlaneMetrics;
}

/**
 * Cumulative RTP/RTCP counters of one media kind, since the plane started (closed PeerConnections
 * included): the media session's own type (media/session/types.ts, where they are counted).
 */
export type MediaKindCounters = KindCounters;

/** What a media plane reports to /metrics, read at scrape time (may allocate; must not throw). */
export interface MediaPlaneMetrics {
  /** Live PeerConnections by state: "connecting" (ICE/DTLS in progress), "connected" (webrtcup), "failed". */
  peerConnections: Record<string, number>;
  /** UDP ports held by PeerConnections, and the size of rtp_port_range (0: any port). */
  portsInUse: number;
  portsTotal: number;
  audio: MediaKindCounters;
  video: MediaKindCounters;
  /** Cumulative drop/error counters by kind (srtp, dropped, unknown_ssrc, malformed_rtp, malformed_rtcp, dtls). */
  errors?: Record<string, number>;
}

/** Signalling-only media plane: SDPs pass through unchanged, nothing is ever connected. */
export class PassThroughMediaPlane implements MediaPlane {
  attach(_events: MediaEvents): void {}
  remoteJsep(_handle: MediaHandle, jsep: Jsep): Jsep {
    return jsep;
  }
  localJsep(_handle: MediaHandle, jsep: Jsep): Jsep {
    return jsep;
  }
  trickle(_handle: MediaHandle, _candidates: TrickleCandidate[]): void {}
  hangup(_handle: MediaHandle, _reason: string): void {}
  release(_handle: MediaHandle): void {}
}
