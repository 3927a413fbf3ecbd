/**
 * Media counters for /metrics.
 *
 * When the media plane implements `metrics()` (core/media-plane.ts) that is used as is. Until then this
 * module reads the statistics every live PeerConnection already exposes (WebRtcMediaPlane.peerOf ->
 * Peer.addCounters / info) at scrape time, and keeps what a PeerConnection had counted when it goes
 * away (a small tap on the plane's hangup/release/close), so the totals stay monotonic as Prometheus
 * counters must. Nothing here runs on the packet path.
 */
import type { MediaHandle, MediaKindCounters, MediaPlane, MediaPlaneMetrics } from '../core/media-plane.js';

/** The read-only surface of a Peer this module uses (structural: media/peer.ts's Peer satisfies it). */
export interface PeerView {
  readonly isUp: boolean;
  info(): Record<string, unknown>;
  /** Adds the peer's cumulative RTP/RTCP counters and drop counts into the totals (media/peer.ts). */
  addCounters(t: Totals): void;
  /**
   * Whether ICE has failed, without building the Admin info (media/peer.ts has it): a scrape during a
   * burst of joins asks this of every PeerConnection still connecting.
   */
  readonly iceFailed?: boolean;
}

/** The read-only surface of WebRtcMediaPlane this module uses. */
export interface PeerSource {
  peerOf(handleId: number): PeerView | undefined;
  readonly portsInUse: number;
}

export function zeroCounters(): MediaKindCounters {
  return { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, lostIn: 0, lostOut: 0, retransmitted: 0, nacksIn: 0, nacksOut: 0, plisIn: 0, plisOut: 0 };
}

export const ERROR_KINDS = ['dropped', 'srtp', 'unknown_ssrc', 'malformed_rtp', 'malformed_rtcp', 'dtls'] as const;

export interface Totals {
  audio: MediaKindCounters;
  video: MediaKindCounters;
  errors: Record<string, number>;
}

export function zeroTotals(): Totals {
  return { audio: zeroCounters(), video: zeroCounters(), errors: Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) };
}

/** Adds one peer's cumulative counters into `t`. Never throws (a peer mid-teardown counts as nothing). */
export function addPeer(t: Totals, peer: PeerView): void {
  try {
    peer.addCounters(t);
  } catch {
    /* best effort */
  }
}

export function addInto(dst: MediaKindCounters, src: MediaKindCounters): void {
  for (const k of Object.keys(dst) as Array<keyof MediaKindCounters>) dst[k] += src[k];
}

/**
 * Several media planes' metrics added up (the routing plane's planes, the worker pool's workers). Every
 * plane allocates from the same rtp_port_range, so its size is the largest, not a sum.
 */
export function sumPlaneMetrics(parts: Iterable<MediaPlaneMetrics>): MediaPlaneMetrics {
  const sum: MediaPlaneMetrics = { peerConnections: {}, portsInUse: 0, portsTotal: 0, audio: zeroCounters(), video: zeroCounters(), errors: {} };
  for (const m of parts) {
    for (const [k, v] of Object.entries(m.peerConnections)) sum.peerConnections[k] = (sum.peerConnections[k] ?? 0) + v;
    sum.portsInUse += m.portsInUse;
    sum.portsTotal = Math.max(sum.portsTotal, m.portsTotal);
    addInto(sum.audio, m.audio);
    addInto(sum.video, m.video);
    for (const [k, v] of Object.entries(m.errors ?? {})) sum.errors![k] = (sum.errors![k] ?? 0) + v;
  }
  return sum;
}

/** ICE state of a peer from its Admin info (webrtc.ice.state, Janus's words), or null. */
function iceState(peer: PeerView): string | null {
  try {
    const webrtc = peer.info().webrtc as { ice?: { state?: unknown } } | undefined;
    const s = webrtc?.ice?.state;
    return typeof s === 'string' ? s : null;
  } catch {
    return null;
  }
}

export function peerState(peer: PeerView): 'connecting' | 'connected' | 'failed' {
  if (peer.isUp) return 'connected';
  if (peer.iceFailed !== undefined) return peer.iceFailed ? 'failed' : 'connecting';
  return iceState(peer) === 'failed' ? 'failed' : 'connecting';
}

/**
 * Reads media metrics: from `plane.metrics()` when the plane has it, else from its peers (needs
 * `peerSource` and the live handle ids). Counters never go down between two reads.
 */
export class MediaMetricsReader {
  private readonly retired = zeroTotals();
  private readonly high = new Map<string, number>();
  private tapped = false;

  constructor(
    private readonly plane: MediaPlane,
    private readonly peers: PeerSource | null,
    private readonly handleIds: () => Iterable<number>,
    private readonly portsTotal: number,
  ) {}

  /** True when the plane reports its own metrics (the fallback and its tap are not used). */
  get native(): boolean {
    return typeof this.plane.metrics === 'function';
  }

  /**
   * Keeps the counters of PeerConnections that go away (fallback mode only). Wraps the plane's
   * hangup/release/close on this instance: the snapshot is taken just before the plane drops the peer.
   */
  installTap(): void {
    if (this.tapped || this.native || this.peers === null) return;
    this.tapped = true;
    const plane = this.plane;
    const peers = this.peers;
    const retire = (id: number): void => {
      const p = peers.peerOf(id);
      if (p !== undefined) addPeer(this.retired, p);
    };
    const hangup = plane.hangup.bind(plane);
    const release = plane.release.bind(plane);
    plane.hangup = (h: MediaHandle, reason: string) => {
      retire(h.handleId);
      hangup(h, reason);
    };
    plane.release = (h: MediaHandle) => {
      retire(h.handleId);
      release(h);
    };
    if (plane.close) {
      const close = plane.close.bind(plane);
      plane.close = async () => {
        for (const id of this.handleIds()) retire(id);
        await close();
      };
    }
  }

  read(): MediaPlaneMetrics {
    const m = this.native ? this.plane.metrics!() : this.fromPeers();
    // Monotonic guard: a stream forgotten by a peer (renegotiation) must not make a counter go back.
    for (const kind of ['audio', 'video'] as const) {
      for (const k of Object.keys(m[kind]) as Array<keyof MediaKindCounters>) m[kind][k] = this.monotonic(`${kind}.${k}`, m[kind][k]);
    }
    if (m.errors) for (const k of Object.keys(m.errors)) m.errors[k] = this.monotonic(`errors.${k}`, m.errors[k]!);
    return m;
  }

  private monotonic(key: string, v: number): number {
    const prev = this.high.get(key) ?? 0;
    if (v < prev) return prev;
    this.high.set(key, v);
    return v;
  }

  private fromPeers(): MediaPlaneMetrics {
    const t = zeroTotals();
    addInto(t.audio, this.retired.audio);
    addInto(t.video, this.retired.video);
    for (const k of ERROR_KINDS) t.errors[k] = this.retired.errors[k]!;
    const states: Record<string, number> = { connecting: 0, connected: 0, failed: 0 };
    if (this.peers !== null) {
      for (const id of this.handleIds()) {
        const p = this.peers.peerOf(id);
        if (p === undefined) continue;
        states[peerState(p)]!++;
        addPeer(t, p);
      }
    }
    return {
      peerConnections: states,
      portsInUse: this.peers?.portsInUse ?? 0,
      portsTotal: this.portsTotal,
      audio: t.audio,
      video: t.video,
      errors: t.errors,
    };
  }
}

/** `peerOf` and `portsInUse` present: the plane can be read peer by peer. */
export function asPeerSource(plane: unknown): PeerSource | null {
  const p = plane as Partial<PeerSource> | null;
  return p !== null && typeof p === 'object' && typeof p.peerOf === 'function' ? (p as PeerSource) : null;
}
