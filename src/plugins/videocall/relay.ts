/**
 * The packet path of a call: what one peer sends goes to the other on the same mid (both
 * PeerConnections were negotiated from the same SDP, so payload types and extension ids match).
 * State for the direction A -> B lives in B's `Inbound` (what B receives), as `set` substream/temporal
 * are B's choices: per mid an RtpRewriter (seq/ts continuous across simulcast layer switches), and for
 * simulcast video the layer B gets, switched at a keyframe of the wanted layer. One scratch buffer per
 * plugin: the incoming packet is copied once and rewritten there (relayRtp copies before returning).
 */
import { isH264Keyframe } from '../../codecs/h264.js';
import { newVp8Info, parseVp8, Vp8Rewriter } from '../../codecs/vp8.js';
import { isVp9Keyframe } from '../../codecs/vp9.js';
import type { PluginMediaHost, PluginSession, RtpStreamInfo } from '../../core/plugin.js';
import { rembBitrate, rembEncode } from '../../media/rtcp/feedback.js';
import { PsfbFmt, RtcpReader, RtcpType } from '../../media/rtcp/header.js';
import { rtpHeaderLength } from '../../media/rtp/header.js';
import { RtpRewriter } from '../../media/rtp/rewriter.js';

const MAX_PACKET = 1500;
const LAYERS = 3;
/** At most one keyframe request per this many ms towards a sender (layer switches ask per packet). */
const PLI_MIN_INTERVAL_MS = 300;

/** One m-line as a receiver gets it. */
export class InboundLine {
  readonly rewriter: RtpRewriter;
  readonly vp8 = new Vp8Rewriter();
  /** Simulcast layer being relayed (-1: none yet). */
  currentLayer = -1;
  /** VP8 temporal layer being relayed (-1: none yet). */
  currentTemporal = -1;
  constructor(clockRate: number) {
    this.rewriter = new RtpRewriter({ ssrc: 0, clockRate });
  }
}

/** What one peer receives from the other, and the knobs of `set` that shape it. */
export class Inbound {
  readonly lines = new Map<string, InboundLine>();
  targetLayer = 2;
  targetTemporal = 2;
  /** µs without packets after which a layer counts as gone (Janus's `fallback`, default 250000). */
  fallbackUs = 250_000;
  /** When each simulcast layer of the sender last carried a packet (ms). */
  readonly lastLayerMs = [0, 0, 0];
  // performance.now() starts near 0 in a fresh process (or worker): no request may be held back by a request never sent.
  lastPliMs = -Infinity;

  line(mid: string, kind: 'audio' | 'video'): InboundLine {
    let l = this.lines.get(mid);
    if (l === undefined) {
      l = new InboundLine(kind === 'audio' ? 48000 : 90000);
      this.lines.set(mid, l);
    }
    return l;
  }

  reset(): void {
    this.lines.clear();
    this.targetLayer = 2;
    this.targetTemporal = 2;
    this.lastLayerMs.fill(0);
  }
}

/** What the relay needs to know about each side of the call. */
export interface CallSide {
  readonly session: PluginSession;
  readonly inbound: Inbound;
  audioActive: boolean;
  videoActive: boolean;
  videoCodec: string | null;
  /** REMB cap (bps) on what this side sends, 0 = none. */
  bitrate: number;
  /** Last REMB its peer's browser reported about this side's media. */
  peerBitrate: number;
  /** Whether the sender simulcasts (the receiver gets one layer). */
  simulcast: boolean;
  /** Send-side estimate towards this side (bps, transport-cc; 0 while unknown). */
  estimate: number;
  /** REMB we last sent this side from the estimate of the other (bps; 0: none, Janus's REMB only). */
  rembCap: number;
  /** Estimate bookkeeping: next evaluation, highest estimate since the last slow_link, when that was sent. */
  bweNextAt: number;
  bwePeak: number;
  lastSlowLinkMs: number;
}

/** How often the estimate towards a receiver is read (and the sender's REMB cap updated). */
export const BWE_EVAL_MS = 500;
/** A new REMB cap is sent when it moves by more than this fraction (the core repeats the last one every second). */
const REMB_STEP = 0.05;
/** `slow_link` when the estimate towards a receiver falls below this fraction of its recent peak... */
const SLOWLINK_DROP = 0.85;
/** ...at most this often (as VideoRoom's auto_layers). */
const SLOWLINK_EVENT_MS = 5000;
/** Probing aims no higher (bps) when the sender has no `bitrate` cap: Chrome sends at most ~2.5 Mbit/s of 720p. */
const PROBE_CEILING_BPS = 3_000_000;

export interface RelayEvents {
  /** The receiver now gets another simulcast layer / temporal layer. */
  layerChanged(receiver: CallSide, what: 'substream' | 'temporal', value: number): void;
  /** A packet as relayed (for recording: post layer selection). */
  recordRtp(sender: CallSide, stream: RtpStreamInfo, buf: Buffer, len: number): void;
  /** The estimate towards `receiver` fell (transport-cc): Janus's slow_link, carrying it. */
  slowLink?(receiver: CallSide, estimate: number): void;
}

export class CallRelay {
  private readonly scratch = Buffer.allocUnsafe(MAX_PACKET + 64);
  private readonly vp8 = newVp8Info();
  private readonly reader = new RtcpReader();
  forwarded = 0;

  constructor(
    private readonly media: PluginMediaHost,
    private readonly events: RelayEvents,
    private readonly now: () => number = () => performance.now(),
  ) {}

  rtp(from: CallSide, to: CallSide, stream: RtpStreamInfo, buf: Buffer, len: number): void {
    if (stream.kind === 'audio' ? !from.audioActive : !from.videoActive) return;
    const hdr = rtpHeaderLength(buf, len);
    if (hdr < 0 || len > MAX_PACKET) return;
    const inbound = to.inbound;
    const line = inbound.line(stream.mid, stream.kind);
    const out = this.scratch;
    buf.copy(out, 0, 0, len);
    const now = this.now();
    if (now >= to.bweNextAt) this.updateEstimate(from, to, now);
    if (stream.kind === 'video') {
      const payLen = len - hdr - (out[0]! & 0x20 ? out[len - 1]! : 0);
      let keyframe = false;
      let vp8 = false;
      if (payLen > 0) {
        switch (from.videoCodec) {
          case 'vp8':
            vp8 = parseVp8(out, hdr, payLen, this.vp8);
            keyframe = vp8 && this.vp8.keyframe;
            break;
          case 'vp9':
            keyframe = isVp9Keyframe(out, hdr, payLen);
            break;
          case 'h264':
            keyframe = isH264Keyframe(out, hdr, payLen);
            break;
          default:
            break;
        }
      }
      if (from.simulcast) {
        const layer = Math.min(stream.substream, LAYERS - 1);
        inbound.lastLayerMs[layer] = now;
        if (!this.selectLayer(from, to, line, layer, keyframe, now)) return;
      }
      if (vp8 && this.vp8.tid >= 0 && !this.selectTemporal(to, line, this.vp8.tid, this.vp8.layerSync, keyframe)) {
        line.rewriter.drop(out);
        return;
      }
      if (!line.rewriter.rewrite(out, now)) return;
      if (vp8) line.vp8.rewrite(out, this.vp8);
    } else if (!line.rewriter.rewrite(out, now)) return;
    this.events.recordRtp(from, stream, out, len);
    this.forwarded++;
    this.media.relayRtp(to.session, stream.mid, out, len);
  }

  /**
   * The estimate towards `to` (transport-cc feedback on its PeerConnection) caps what `from` sends:
   * REMB to `from` of min(its `bitrate`, the estimate). With transport-cc negotiated the receiving
   * browser sends no REMB of its own, so without this the sender would know only its own uplink
   * and a slow downlink on the other side would fill up (Janus 1.1.2 has no estimate: it sends the
   * sender its `bitrate` or 10 Mbit/s, whatever the other side can take). A fall of the estimate
   * below SLOWLINK_DROP of its recent peak is told to `to` as slow_link (at most every 5 s).
   */
  updateEstimate(from: CallSide, to: CallSide, now: number): void {
    to.bweNextAt = now + BWE_EVAL_MS;
    const est = this.media.bandwidthEstimate?.(to.session, from.bitrate > 0 ? from.bitrate : PROBE_CEILING_BPS) ?? 0;
    to.estimate = est;
    if (est <= 0) return;
    const cap = from.bitrate > 0 ? Math.min(from.bitrate, est) : est;
    if (from.rembCap <= 0 || Math.abs(cap - from.rembCap) > from.rembCap * REMB_STEP) {
      from.rembCap = Math.round(cap);
      this.media.sendRemb(from.session, from.rembCap);
    }
    if (est > to.bwePeak) to.bwePeak = est;
    else if (est < to.bwePeak * SLOWLINK_DROP && now - to.lastSlowLinkMs >= SLOWLINK_EVENT_MS) {
      to.lastSlowLinkMs = now;
      to.bwePeak = est;
      this.events.slowLink?.(to, Math.round(est));
    }
  }

  private selectLayer(from: CallSide, to: CallSide, line: InboundLine, layer: number, keyframe: boolean, now: number): boolean {
    if (layer === line.currentLayer) return true;
    const want = this.wantedLayer(to.inbound, now);
    if (layer !== want) return false;
    if (!keyframe) {
      this.keyframeRequest(from, to.inbound, now);
      return false;
    }
    line.currentLayer = layer;
    line.rewriter.switchSource();
    line.vp8.switchSource();
    this.events.layerChanged(to, 'substream', layer);
    return true;
  }

  private wantedLayer(inb: Inbound, now: number): number {
    const fallbackMs = (inb.fallbackUs || 250_000) / 1000;
    const target = Math.min(inb.targetLayer, LAYERS - 1);
    for (let l = target; l >= 0; l--) if (now - inb.lastLayerMs[l]! <= fallbackMs) return l;
    for (let l = target + 1; l < LAYERS; l++) if (now - inb.lastLayerMs[l]! <= fallbackMs) return l;
    return target;
  }

  private selectTemporal(to: CallSide, line: InboundLine, tid: number, layerSync: boolean, keyframe: boolean): boolean {
    const target = to.inbound.targetTemporal;
    let current = line.currentTemporal;
    const before = current;
    if (keyframe) current = target;
    else if (current > target) current = target;
    else if (tid > current && tid <= target && layerSync) current = tid;
    else if (current < 0) current = tid <= target ? Math.max(tid, 0) : current;
    line.currentTemporal = current;
    if (current !== before && current >= 0 && before >= 0) this.events.layerChanged(to, 'temporal', current);
    return tid <= current;
  }

  keyframeRequest(from: CallSide, inb: Inbound, now: number): void {
    if (now - inb.lastPliMs < PLI_MIN_INTERVAL_MS) return;
    inb.lastPliMs = now;
    this.media.sendPli(from.session, null);
  }

  /**
   * Feedback from `to`'s browser about what it receives: keyframe requests go to the sender
   * (rate-limited), REMB goes to the sender capped by the sender's `bitrate`.
   */
  rtcp(to: CallSide, from: CallSide, stream: RtpStreamInfo | null, buf: Buffer, len: number): void {
    let relay = false;
    const r = this.reader.reset(buf, len);
    while (r.next()) {
      if (r.type !== RtcpType.PSFB) continue;
      if (r.count === PsfbFmt.PLI || r.count === PsfbFmt.FIR) {
        this.keyframeRequest(from, to.inbound, this.now());
        continue;
      }
      if (r.count !== PsfbFmt.AFB || r.length < 20) continue;
      const br = rembBitrate(buf, r.offset, r.length);
      if (br < 0) continue;
      relay = true;
      from.peerBitrate = br;
      const limit = from.rembCap > 0 ? from.rembCap : from.bitrate;
      if (limit > 0 && br > limit) {
        const { exp, mantissa } = rembEncode(limit);
        const o = r.offset + 17;
        buf[o] = ((exp & 0x3f) << 2) | ((mantissa >>> 16) & 0x03);
        buf[o + 1] = (mantissa >>> 8) & 0xff;
        buf[o + 2] = mantissa & 0xff;
      }
    }
    if (relay) this.media.relayRtcp(from.session, stream ? stream.mid : null, buf, len);
  }
}
