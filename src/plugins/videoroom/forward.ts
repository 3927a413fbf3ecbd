/**
 * The packet path. A publisher's RTP packet is turned once into the packet every subscriber gets
 * (header extensions rebuilt with the subscriber-side ids of SUB_EXT: the publisher's ids mean
 * nothing on a subscriber's PeerConnection, and a stale mid would misroute it), then for each
 * subscriber m-line bound to the stream: simulcast/temporal layer selection, sequence number /
 * timestamp / VP8 picture ID rewriting (continuous across switches, pauses and layer changes) and
 * host.relayRtp. One scratch buffer serves every subscriber (relayRtp copies before returning):
 * nothing is allocated per subscriber.
 *
 * Subscriber RTCP: PLI/FIR become (rate-limited) keyframe requests to the publisher; NACKs are the
 * core's business and never reach us. Data channel messages of a publisher go to every subscriber
 * whose data m-line carries that publisher, on this worker and (lane-data.ts) on the others.
 */
import type { PluginMediaHost, PluginSession, RtpStreamInfo } from '../../core/plugin.js';
import { isH264Keyframe } from '../../codecs/h264.js';
import { newVp8Info, parseVp8 } from '../../codecs/vp8.js';
import { isVp9Keyframe } from '../../codecs/vp9.js';
import { fbMediaSsrc } from '../../media/rtcp/feedback.js';
import { PsfbFmt, RtcpReader, RtcpType } from '../../media/rtcp/header.js';
import { extLength, extOffset, findRtpExtension } from '../../media/rtp/extensions.js';
import { rtpHeaderLength, rtpSeq, rtpSsrc, rtpTimestamp, setRtpPayloadType, setRtpSeq, setRtpSsrc, setRtpTimestamp } from '../../media/rtp/header.js';
import { notify, type VrContext } from './context.js';
import { talkingEvent } from './events.js';
import { recordRtp } from './recording.js';
import type { Participant } from './participant.js';
import { SUB_EXT } from './sdp.js';
import { AutoLayers } from './auto-layers.js';
import { DataLaneWriter } from './lane-data.js';
import { MAX_LAYERS, type PublishedStream, type SubStream } from './streams.js';
import { PLI_MIN_INTERVAL_MS, type Subscriber } from './subscriber.js';

/** Largest packet we forward (bigger ones cannot be SRTP-protected into a datagram anyway). */
const MAX_PACKET = 1500;

export class Forwarder {
  private readonly scratch = Buffer.allocUnsafe(MAX_PACKET + 64);
  private readonly vp8 = newVp8Info();
  private readonly rtcp = new RtcpReader();
  private readonly dataOut = new DataLaneWriter();
  /** Cache of the last stream info -> published stream lookup (one publisher usually sends in bursts). */
  private lastInfo: RtpStreamInfo | null = null;
  private lastStream: PublishedStream | null = null;
  private lastOwner: Participant | null = null;
  /** Packets handed to relayRtp (for the benchmark and diagnostics). */
  forwarded = 0;
  readonly autoLayers: AutoLayers;

  constructor(
    private readonly ctx: VrContext,
    private readonly media: PluginMediaHost,
  ) {
    this.autoLayers = new AutoLayers(ctx, media, (ps, now) => this.keyframeRequest(ps, now));
  }

  /** Forget cached lookups (a publisher's streams changed). */
  invalidate(): void {
    this.lastInfo = null;
    this.lastStream = null;
    this.lastOwner = null;
  }

  // ------------------------------------------------------------------------ publisher RTP

  publisherRtp(me: Participant, info: RtpStreamInfo, buf: Buffer, len: number): void {
    let ps: PublishedStream | null | undefined;
    if (info === this.lastInfo && me === this.lastOwner) ps = this.lastStream;
    else {
      ps = me.media.byMid.get(info.mid);
      if (ps === undefined) return;
      this.lastInfo = info;
      this.lastOwner = me;
      this.lastStream = ps;
    }
    if (ps === null || ps.disabled || ps.owner !== me || !me.media.negotiated) return;
    const hdr = rtpHeaderLength(buf, len);
    if (hdr < 0 || len > MAX_PACKET) return;
    const now = this.ctx.now();
    ps.packets++;
    const padding = len - hdr - (buf[0]! & 0x20 ? buf[len - 1]! : 0) <= 0;
    const room = me.room;
    const settings = room.settings;

    const local = me.remoteFrom < 0;
    if (ps.type === 'audio') {
      if (local && ps.audioLevelExt > 0 && settings.audiolevel_event) this.audioLevel(me, ps, buf, len);
      if (settings.auto_layers) {
        ps.rates.bytes[0] += len;
        if (ps.audioLevelExt > 0) {
          const r = findRtpExtension(buf, len, ps.audioLevelExt);
          if (r >= 0 && extLength(r) >= 1 && (buf[extOffset(r)]! & 0x7f) < settings.audio_level_average) me.lastTalkMs = now;
        }
      }
    } else {
      const layer = ps.layerOf(info);
      // A padding-only packet (Chrome pads its lowest layer up to its bandwidth estimate, or to
      // x-google-min-bitrate, when RTX is not used) says nothing about a layer being alive.
      if (!padding) ps.lastLayerMs[layer] = now;
      // Periodic keyframe requests (fir_freq seconds): the room's worker sends them, not a mirror.
      const fir = settings.fir_freq;
      if (local && fir > 0 && now - ps.lastFirMs >= fir * 1000) {
        ps.lastFirMs = now;
        ps.lastPliMs = now;
        this.media.sendPli(me.session, ps.mid);
      }
    }
    if (ps.moderated || !ps.send) return;
    // Forwarders get the packet as the publisher sent it (only their own SSRC/PT rewriting).
    if (ps.forwarders.length > 0) this.ctx.rtpfwd.forwardRtp(ps, ps.type === 'video' ? ps.layerOf(info) : 0, buf, len, now);
    const rec = ps.recorder;
    if (rec !== null) recordRtp(ps, rec, info, buf, len, now);
    // Workers with subscribers of this stream get it once each, as the publisher sent it (remote.ts).
    const outs = ps.remoteOut;
    if (outs.length > 0) {
      const meta = ps.type === 'video' ? ps.layerOf(info) : 0;
      for (let i = 0; i < outs.length; i++) outs[i]!.write(ps.remoteKey, meta, buf, 0, len);
    }
    const subs = ps.subscribers;
    if (subs.length === 0) return;

    // Build the packet subscribers get, once.
    const out = this.scratch;
    const n = this.rebuild(ps, buf, len, hdr);
    const outHdr = rtpHeaderLength(out, n);
    if (outHdr < 0) return;
    const seq = rtpSeq(out);
    const ts = rtpTimestamp(out);
    const ssrc = rtpSsrc(out);
    let keyframe = false;
    let vp8 = false;
    let tid = -1;
    let layerSync = false;
    let layer = 0;
    const payLen = n - outHdr - (out[0]! & 0x20 ? out[n - 1]! : 0);
    if (ps.type === 'video') {
      layer = ps.layerOf(info);
      switch (ps.codec) {
        case 'vp8':
          vp8 = parseVp8(out, outHdr, payLen, this.vp8);
          if (vp8) {
            keyframe = this.vp8.keyframe;
            tid = this.vp8.tid;
            layerSync = this.vp8.layerSync;
          }
          break;
        case 'h264':
          keyframe = isH264Keyframe(out, outHdr, payLen);
          break;
        case 'vp9':
          keyframe = isVp9Keyframe(out, outHdr, payLen);
          break;
        default:
          break;
      }
    }
    if (ps.type === 'video' && settings.auto_layers && !padding) {
      ps.rates.add(layer, tid, n, keyframe, ts, now);
    }
    const simulcast = ps.type === 'video' && ps.simulcast;
    const auto = settings.auto_layers;
    const vp8Pic = vp8 ? this.vp8.pictureId : -1;
    const vp8Tl0 = vp8 ? this.vp8.tl0PicIdx : -1;

    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]!;
      const owner = sub.owner;
      if (!owner.started || owner.paused || !sub.ready || !sub.send || sub.source !== ps) continue;
      if (auto) {
        if (now >= owner.nextAutoAt) this.autoLayers.evaluate(owner, now);
        if (sub.autoPaused) continue;
      }
      // Every subscriber starts from the publisher's header values.
      setRtpSeq(out, seq);
      setRtpTimestamp(out, ts);
      setRtpSsrc(out, ssrc);
      if (padding) {
        // Padding is the publisher probing its own uplink: forwarded it would only eat into the
        // subscriber's link (and its estimate) without a byte of video. Sequence numbers close up.
        if (!simulcast || layer === sub.sim.currentSub) sub.rewriter.drop(out);
        continue;
      }
      if (simulcast && !this.selectLayer(sub, ps, layer, keyframe, now)) continue;
      if (tid >= 0 && !this.selectTemporal(sub, tid, layerSync, keyframe)) {
        sub.rewriter.drop(out);
        continue;
      }
      if (!sub.rewriter.rewrite(out, now)) continue;
      setRtpPayloadType(out, sub.pt);
      if (sub.waitingKeyframe && ps.type === 'video') {
        // A decoder that joined mid-stream (or lost the keyframe we asked for) needs one: keep asking.
        if (keyframe) sub.waitingKeyframe = false;
        else this.keyframeRequest(ps, now);
      }
      if (vp8) {
        this.vp8.pictureId = vp8Pic;
        this.vp8.tl0PicIdx = vp8Tl0;
        sub.vp8.rewrite(out, this.vp8);
      }
      this.forwarded++;
      this.media.relayRtp(owner.session, sub.mid, out, n);
    }
  }

  /**
   * Copy the packet into the scratch buffer with the extension block rebuilt: only the extensions
   * subscribers negotiated (audio level, video orientation), under SUB_EXT ids, plus (video) zeroed
   * abs-send-time and transport-wide sequence number elements the core fills in per subscriber
   * PeerConnection as it sends (left zero, and ignored, where not negotiated). Returns the length.
   */
  private rebuild(ps: PublishedStream, buf: Buffer, len: number, hdr: number): number {
    const out = this.scratch;
    const transport = ps.type === 'video';
    const hasExt = (buf[0]! & 0x10) !== 0;
    if (!hasExt && !transport) {
      buf.copy(out, 0, 0, len);
      return len;
    }
    const fixed = 12 + (buf[0]! & 0x0f) * 4;
    buf.copy(out, 0, 0, fixed);
    out[0] = out[0]! | 0x10;
    let p = fixed + 4;
    if (hasExt && ps.type === 'audio' && ps.audioLevelExt > 0) {
      const r = findRtpExtension(buf, len, ps.audioLevelExt);
      if (r >= 0 && extLength(r) >= 1) {
        out[p++] = (SUB_EXT.audioLevel << 4) | 0;
        out[p++] = buf[extOffset(r)]!;
      }
    } else if (hasExt && ps.type === 'video' && ps.videoOrientExt > 0) {
      const r = findRtpExtension(buf, len, ps.videoOrientExt);
      if (r >= 0 && extLength(r) >= 1) {
        out[p++] = (SUB_EXT.videoOrientation << 4) | 0;
        out[p++] = buf[extOffset(r)]!;
      }
    }
    if (transport) {
      out[p++] = (SUB_EXT.absSendTime << 4) | 2;
      out[p++] = 0;
      out[p++] = 0;
      out[p++] = 0;
      out[p++] = (SUB_EXT.transportCc << 4) | 1;
      out[p++] = 0;
      out[p++] = 0;
    }
    if (p === fixed + 4) {
      // Nothing kept: no extension block at all.
      out[0] = out[0]! & ~0x10;
      p = fixed;
    } else {
      while ((p - fixed) & 3) out[p++] = 0;
      out[fixed] = 0xbe;
      out[fixed + 1] = 0xde;
      const words = (p - fixed - 4) >>> 2;
      out[fixed + 2] = words >>> 8;
      out[fixed + 3] = words & 0xff;
    }
    buf.copy(out, p, hdr, len);
    return p + (len - hdr);
  }

  /**
   * Simulcast: whether a packet of `layer` goes to this subscriber. The subscriber stays on its
   * current layer until a keyframe of the layer it wants arrives; the wanted layer is the target,
   * or the best lower one still receiving (a layer is gone after `fallback` µs without packets).
   */
  private selectLayer(sub: SubStream, ps: PublishedStream, layer: number, keyframe: boolean, now: number): boolean {
    const sim = sub.sim;
    if (layer === sim.currentSub) return true;
    const want = this.wantedLayer(sub, ps, now);
    if (layer !== want) return false;
    if (!keyframe) {
      this.keyframeRequest(ps, now);
      return false;
    }
    sim.currentSub = layer;
    sub.rewriter.switchSource();
    sub.vp8.switchSource();
    this.ctx.host.pushEvent(sub.owner.session, null, { videoroom: 'event', room: sub.owner.room.id, mid: sub.mid, substream: layer });
    return true;
  }

  private wantedLayer(sub: SubStream, ps: PublishedStream, now: number): number {
    const fallbackMs = sub.sim.fallbackUs / 1000;
    const last = ps.lastLayerMs;
    const target = Math.min(sub.sim.targetSub, MAX_LAYERS - 1);
    for (let l = target; l >= 0; l--) if (now - last[l]! <= fallbackMs) return l;
    for (let l = target + 1; l < MAX_LAYERS; l++) if (now - last[l]! <= fallbackMs) return l;
    return target;
  }

  /** VP8 temporal layers: drop what is above the target; go up only at a layer sync or keyframe. */
  private selectTemporal(sub: SubStream, tid: number, layerSync: boolean, keyframe: boolean): boolean {
    const sim = sub.sim;
    const target = sim.targetTemporal;
    let current = sim.currentTemporal;
    const before = current;
    if (keyframe) current = target;
    else if (current > target) current = target;
    else if (tid > current && tid <= target && layerSync) current = tid;
    else if (current < 0) current = tid <= target ? Math.max(tid, 0) : current;
    sim.currentTemporal = current;
    if (current !== before && current >= 0) {
      this.ctx.host.pushEvent(sub.owner.session, null, { videoroom: 'event', room: sub.owner.room.id, mid: sub.mid, temporal: current });
    }
    return tid <= current;
  }

  /** Ask the publisher for a keyframe on this stream, at most every PLI_MIN_INTERVAL_MS. */
  keyframeRequest(ps: PublishedStream, now: number): void {
    if (now - ps.lastPliMs < PLI_MIN_INTERVAL_MS) return;
    ps.lastPliMs = now;
    if (ps.owner.remoteFrom >= 0) this.ctx.remote?.pli(ps);
    else this.media.sendPli(ps.owner.session, ps.mid);
  }

  // ------------------------------------------------------------------------ audio levels

  private audioLevel(me: Participant, ps: PublishedStream, buf: Buffer, len: number): void {
    const r = findRtpExtension(buf, len, ps.audioLevelExt);
    if (r < 0 || extLength(r) < 1) return;
    const level = buf[extOffset(r)]! & 0x7f;
    const s = me.room.settings;
    const packets = me.media.audioActivePackets || s.audio_active_packets;
    const threshold = me.media.audioLevelAverage || s.audio_level_average;
    ps.levelSum += level;
    ps.levelPackets++;
    if (ps.levelPackets < packets) return;
    const avg = ps.levelSum / ps.levelPackets;
    ps.levelSum = 0;
    ps.levelPackets = 0;
    const talking = avg < threshold;
    if (talking === ps.talking) return;
    ps.talking = talking;
    const room = me.room;
    notify(this.ctx, room.participants.values(), {
      videoroom: talking ? 'talking' : 'stopped-talking',
      room: room.id,
      id: me.id,
      mindex: ps.mindex,
      mid: ps.mid,
      'audio-level-dBov-avg': avg,
    });
    talkingEvent(this.ctx, me, talking, ps.mindex, ps.mid, avg);
  }

  // ------------------------------------------------------------------------ subscriber RTCP

  subscriberRtcp(sub: Subscriber, info: RtpStreamInfo | null, buf: Buffer, len: number): void {
    const r = this.rtcp.reset(buf, len);
    const now = this.ctx.now();
    while (r.next()) {
      if (r.type !== RtcpType.PSFB || (r.count !== PsfbFmt.PLI && r.count !== PsfbFmt.FIR) || r.length < 12) continue;
      let line = info !== null ? sub.byMid.get(info.mid) : undefined;
      if (line === undefined) {
        const media = fbMediaSsrc(buf, r.offset);
        line = sub.streams.find((s) => s.ssrc === media);
      }
      const ps = line?.source;
      if (ps && ps.type === 'video') this.keyframeRequest(ps, now);
    }
  }

  // ------------------------------------------------------------------------ data channels

  publisherData(me: Participant, label: string | null, data: Buffer, isBinary: boolean): void {
    const ps = me.media.streams.find((s) => s.type === 'data');
    if (ps === undefined || ps.moderated || !ps.send) return;
    ps.recorder?.file.writeData(data);
    if (ps.forwarders.length > 0) this.ctx.rtpfwd.forwardData(ps, data, isBinary);
    // Workers with subscribers of this data stream get it once each (lane-data.ts). The moderation
    // and send rules are applied above, here, where they are current: a mirror's copy of them follows
    // by a control message (feedChanged), which a message already on the lane may overtake.
    if (ps.remoteOut.length > 0) this.dataOut.write(ps, label, data, isBinary);
    if (ps.subscribers.length === 0) return;
    this.relayData(ps, label, isBinary ? data : data.toString('utf8'));
  }

  /**
   * A data stream's message to its subscribers here: the local publisher's (publisherData) and, on a
   * mirror, the room's worker's records (remote.ts), which passed the room's rules there already.
   */
  relayData(ps: PublishedStream, label: string | null, payload: string | Buffer): void {
    for (const line of ps.subscribers) {
      const owner = line.owner;
      if (!owner.started || owner.paused || !line.send) continue;
      this.media.relayData(owner.session as PluginSession, label, payload);
    }
  }
}
