/**
 * The media model: what a publisher publishes (PublishedStream, one per m-line of its offer) and
 * what a subscriber receives (SubStream, one per m-line of the offer we make it). A SubStream is
 * bound to at most one PublishedStream at a time; the PublishedStream keeps the list of SubStreams
 * bound to it so the packet path iterates an array, never a map.
 */
import type { RtpStreamInfo } from '../../core/plugin.js';
import { Vp8Rewriter } from '../../codecs/vp8.js';
import { RtpRewriter } from '../../media/rtp/rewriter.js';
import type { CodecName } from '../../media/sdp/negotiate.js';
import type { Participant } from './participant.js';
import type { StreamRecorder } from './recording.js';
import type { RtpForwarder } from './rtp-forward.js';
import type { Subscriber } from './subscriber.js';
import type { PacketLane } from '../../workers/bus.js';
import { LayerRates } from './layer-rates.js';

export type StreamType = 'audio' | 'video' | 'data';

/** Simulcast layers we track (Janus: at most three substreams). */
export const MAX_LAYERS = 3;

export class PublishedStream {
  codec: CodecName | undefined;
  pt = -1;
  clockRate = 90000;
  /** fmtp parameters of the negotiated codec (our answer's). */
  fmtp: Record<string, string> = {};
  description: string | undefined;
  /** Rejected in our answer (no common codec, or rejected in the offer). */
  disabled = false;
  /** Muted by a moderator: nothing is forwarded. */
  moderated = false;
  /** `configure` streams[].send=false: the publisher asked us to stop relaying it. */
  send = true;
  // Simulcast: rid-based (rids in SDP order; ridHml: the first rid is the highest quality) or SSRC (SIM group, low to high).
  rids: string[] = [];
  ridHml = true;
  simSsrcs: number[] = [];
  // Extension ids negotiated with the publisher (0: not negotiated).
  audioLevelExt = 0;
  videoOrientExt = 0;
  // Opus parameters (publisher list entries).
  fec = false;
  dtx = false;
  stereo = false;
  h264Profile: string | undefined;
  vp9Profile: string | undefined;
  /** Subscriber m-lines fed by this stream (copy-on-write: the packet path may be iterating the old array). */
  subscribers: SubStream[] = [];

  // ---- packet-path state
  private readonly layerCache = new Map<RtpStreamInfo, number>();
  /** Last time (ms) a packet of each layer arrived; -Infinity before the first. */
  readonly lastLayerMs = new Float64Array(MAX_LAYERS).fill(-Infinity);
  lastPliMs = -Infinity;
  lastFirMs = -Infinity;
  // Audio level accumulation (audiolevel_event).
  levelPackets = 0;
  levelSum = 0;
  talking = false;
  /** Packets and bytes received, for querySession. */
  packets = 0;
  /** Bytes per layer / temporal layer and their bitrates (auto_layers). */
  readonly rates = new LayerRates();
  /** The .mjr this stream is being recorded to (null: not recording). */
  recorder: StreamRecorder | null = null;
  /** RTP forwarders of this stream (copy-on-write, like `subscribers`). */
  forwarders: RtpForwarder[] = [];
  /** How many of them are simulcast "viewers" (they need keyframe detection on the raw packet). */
  simForwarders = 0;
  // ---- cross-worker (remote.ts)
  /** This stream's key in the rings (0: none yet). */
  remoteKey = 0;
  /** Rings of the workers with subscribers of this stream (copy-on-write): each packet goes once to each. */
  remoteOut: PacketLane[] = [];
  /** A mirror stream: the stream infos of its layers (0..2), built once, handed to the packet path. */
  remoteInfos: RtpStreamInfo[] | null = null;
  /** A mirror stream: when (ms) the last keyframe request after stale lane records went (remote.ts stale). */
  stalePliMs = -Infinity;
  /** A mirror stream: called when its subscriber list changes (first one bound, last one gone). */
  onSubscribers: ((ps: PublishedStream) => void) | null = null;

  constructor(
    readonly owner: Participant,
    readonly type: StreamType,
    public mindex: number,
    readonly mid: string,
  ) {}

  get simulcast(): boolean {
    return this.rids.length > 1 || this.simSsrcs.length > 1;
  }

  /** Quality index of the layer a packet belongs to: 0 lowest .. 2 highest. */
  layerOf(info: RtpStreamInfo): number {
    const cached = this.layerCache.get(info);
    if (cached !== undefined) return cached;
    let layer = info.substream;
    if (info.rid !== undefined && this.rids.length > 0) {
      const i = this.rids.indexOf(info.rid);
      if (i >= 0) layer = this.ridHml ? this.rids.length - 1 - i : i;
    } else if (this.simSsrcs.length > 0) {
      const i = this.simSsrcs.indexOf(info.ssrc);
      if (i >= 0) layer = i;
    }
    layer = Math.max(0, Math.min(MAX_LAYERS - 1, layer));
    this.layerCache.set(info, layer);
    return layer;
  }

  /** Highest layer index that can exist for this stream. */
  get maxLayer(): number {
    return Math.max(0, Math.min(MAX_LAYERS, Math.max(this.rids.length, this.simSsrcs.length)) - 1);
  }

  bind(s: SubStream): void {
    if (this.subscribers.includes(s)) return;
    this.subscribers = [...this.subscribers, s];
    if (this.subscribers.length === 1) this.onSubscribers?.(this);
  }

  unbind(s: SubStream): void {
    if (!this.subscribers.includes(s)) return;
    this.subscribers = this.subscribers.filter((x) => x !== s);
    if (this.subscribers.length === 0) this.onSubscribers?.(this);
  }

  /** Entry in a `publishers` list / `configured` reply. */
  entry(withTalking: boolean): Record<string, unknown> {
    const o: Record<string, unknown> = { type: this.type, mindex: this.mindex, mid: this.mid };
    // Janus says nothing more about a disabled stream (not even its description).
    if (this.disabled) {
      o.disabled = true;
      return o;
    }
    if (this.codec !== undefined) o.codec = this.codec;
    if (this.description !== undefined) o.description = this.description;
    if (this.moderated) o.moderated = true;
    if (this.type === 'audio' && !this.disabled) {
      if (this.stereo) o.stereo = true;
      if (this.fec) o.fec = true;
      if (this.dtx) o.dtx = true;
    }
    if (this.h264Profile !== undefined) o.h264_profile = this.h264Profile;
    if (this.vp9Profile !== undefined) o.vp9_profile = this.vp9Profile;
    if (this.simulcast) o.simulcast = true;
    if (withTalking && this.type === 'audio' && this.audioLevelExt > 0) o.talking = this.talking;
    return o;
  }
}

/** Simulcast target/current state of one subscriber m-line. */
export interface SimulcastState {
  targetSub: number;
  currentSub: number;
  targetTemporal: number;
  currentTemporal: number;
  /** Microseconds without packets before a layer counts as gone (Janus `fallback`). */
  fallbackUs: number;
}

/** One m-line of a subscriber's PeerConnection. */
export class SubStream {
  /** What feeds this m-line now (null: inactive). */
  source: PublishedStream | null = null;
  /** Data m-line: every publisher data stream it relays (one m-line carries them all). */
  dataSources: PublishedStream[] = [];
  /** Codec of the m-line as last offered (kept while inactive, for the SDP). */
  codec: CodecName | undefined;
  pt = -1;
  clockRate = 90000;
  fmtp: Record<string, string> = {};
  /** Our SSRC on this m-line (chosen by us, written into the offer). */
  ssrc: number;
  /**
   * Our RTX SSRC (video): offered with an RTX payload type, as Janus does, so retransmissions and
   * bandwidth probes (padding) travel on their own sequence numbers. 0: none.
   */
  rtxSsrc = 0;
  /** `configure` send=false stops relaying this m-line. */
  send = true;
  /** Whether the m-line is active in the last offer the peer answered (only then does the core send on it). */
  ready = false;
  /** No keyframe forwarded since the source changed / the m-line became ready: keep asking for one. */
  waitingKeyframe = true;
  readonly rewriter: RtpRewriter;
  readonly vp8 = new Vp8Rewriter();
  readonly sim: SimulcastState = { targetSub: 2, currentSub: -1, targetTemporal: 2, currentTemporal: -1, fallbackUs: 250000 };
  /** auto_layers: `configure` named a substream/temporal for this m-line, so the automatic choice leaves it alone. */
  explicitLayers = false;
  /** auto_layers: paused because not even the lowest layer fits the estimate. */
  autoPaused = false;
  lastAutoDownMs = -Infinity;
  lastAutoUpMs = -Infinity;
  /** auto_layers: since when the allocation has wanted a step up for this stream without a break (NaN: it does not). */
  autoUpSinceMs = NaN;
  /** auto_layers: how long after a step down no step up is tried (grows while step ups keep failing). */
  autoUpHoldMs = 0;
  /** Per-m-line opus/H.264 things the offer advertises (h264-profile etc. in `streams`). */
  crossrefid: string | undefined;

  constructor(
    readonly owner: Subscriber,
    readonly type: StreamType,
    readonly mindex: number,
    readonly mid: string,
    ssrc: number,
    clockRate: number,
  ) {
    this.ssrc = ssrc;
    this.clockRate = clockRate;
    this.rewriter = new RtpRewriter({ ssrc, clockRate });
  }

  get active(): boolean {
    return this.type === 'data' ? this.dataSources.length > 0 : this.source !== null;
  }

  /** Point this m-line at a new source (or none); resets the per-source state, keeps seq/ts continuity. */
  setSource(ps: PublishedStream | null): void {
    if (this.source === ps) return;
    this.source?.unbind(this);
    this.source = ps;
    this.rewriter.switchSource();
    this.vp8.switchSource();
    this.sim.currentSub = -1;
    this.sim.currentTemporal = -1;
    this.waitingKeyframe = true;
    if (ps !== null) {
      ps.bind(this);
      this.codec = ps.codec;
      this.pt = ps.pt;
      this.clockRate = ps.clockRate;
      this.fmtp = { ...ps.fmtp };
    }
  }

  resetSimulcast(): void {
    this.sim.targetSub = 2;
    this.sim.currentSub = -1;
    this.sim.targetTemporal = 2;
    this.sim.currentTemporal = -1;
    this.sim.fallbackUs = 250000;
    this.explicitLayers = false;
    this.autoPaused = false;
  }
}
