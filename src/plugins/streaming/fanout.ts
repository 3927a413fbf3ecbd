/**
 * The packet path: one received packet of a mountpoint stream goes to every active viewer of that
 * stream. The buffer is rewritten in place per viewer (SSRC, sequence number, timestamp restored
 * from the source values before each) and handed to the core, which copies it once for that
 * viewer's SRTP protect: no per-viewer copy here, no allocation per packet except the keyframe
 * buffer's copies (one frame at a time).
 */
import type { PluginMediaHost } from '../../core/plugin.js';
import { isH264Keyframe } from '../../codecs/h264.js';
import { isVp8Keyframe, newVp8Info, parseVp8 } from '../../codecs/vp8.js';
import {
  rtpHeaderLength,
  rtpMarker,
  rtpSeq,
  rtpSsrc,
  rtpTimestamp,
  setRtpSeq,
  setRtpSsrc,
  setRtpTimestamp,
} from '../../media/rtp/header.js';
import type { MpStream } from './mountpoint.js';
import { TWCC_EXT } from './sdp.js';
import type { ViewerStream } from './viewer-stream.js';

const vp8 = newVp8Info();

function keyframeStart(st: MpStream, buf: Buffer, len: number): boolean {
  const codec = st.spec.codec;
  if (codec !== 'vp8' && codec !== 'h264') return false;
  const off = rtpHeaderLength(buf, len);
  if (off <= 0 || off >= len) return false;
  return codec === 'vp8' ? isVp8Keyframe(buf, off, len - off) : isH264Keyframe(buf, off, len - off);
}

/** Whether viewers can be gated on keyframes for this stream (we can recognise them). */
export function detectsKeyframes(st: MpStream): boolean {
  return st.spec.type === 'video' && (st.spec.codec === 'vp8' || st.spec.codec === 'h264');
}

/** Keep the newest complete keyframe (non-simulcast streams): copies of its packets. */
function bufferKeyframe(st: MpStream, buf: Buffer, len: number, kf: boolean): void {
  const ts = rtpTimestamp(buf);
  if (kf) {
    st.pending = [];
    st.pendingTs = ts;
  } else if (st.pendingTs < 0) return;
  else if (ts !== st.pendingTs) {
    // a frame started before the keyframe was complete: it is lost, wait for the next one
    st.pending = [];
    st.pendingTs = -1;
    return;
  }
  st.pending.push(Buffer.from(buf.subarray(0, len)));
  if (rtpMarker(buf)) {
    st.keyframe = st.pending;
    st.pending = [];
    st.pendingTs = -1;
  }
}

/**
 * auto_layers: the packet copied into `out` with its header extensions replaced by one zeroed
 * transport-wide sequence number element (under the id the viewer offer negotiated), which the
 * core fills in per viewer PeerConnection as it sends. The source's own extensions mean nothing
 * to a viewer (their ids were never negotiated with it). Returns the length, or -1.
 */
function withTwccRoom(out: Buffer, buf: Buffer, len: number): number {
  const hdr = rtpHeaderLength(buf, len);
  if (hdr <= 0 || len - hdr + 12 + 15 * 4 + 8 > out.length) return -1;
  const fixed = 12 + (buf[0]! & 0x0f) * 4;
  buf.copy(out, 0, 0, fixed);
  out[0] = out[0]! | 0x10; // extension present (padding, if any, comes with the payload copied below)
  out[fixed] = 0xbe;
  out[fixed + 1] = 0xde;
  out[fixed + 2] = 0;
  out[fixed + 3] = 1;
  out[fixed + 4] = (TWCC_EXT << 4) | 1;
  out[fixed + 5] = 0;
  out[fixed + 6] = 0;
  out[fixed + 7] = 0;
  buf.copy(out, fixed + 8, hdr, len);
  return fixed + 8 + (len - hdr);
}

/** One RTP packet of `st` (substream `sub`) to its viewers. */
export function deliverRtp(media: PluginMediaHost, st: MpStream, sub: number, buf: Buffer, len: number, now: number): void {
  st.lastReceived = now;
  st.packets++;
  const isVideo = st.spec.type === 'video';
  const kf = isVideo && keyframeStart(st, buf, len);
  if (isVideo && !st.spec.simulcast && detectsKeyframes(st)) bufferKeyframe(st, buf, len, kf);
  st.recorder?.writeRtp(buf, len);
  const viewers = st.viewers;
  if (viewers.length === 0) return;
  let tid = -1;
  if (isVideo && st.spec.codec === 'vp8') {
    const off = rtpHeaderLength(buf, len);
    if (off > 0 && off < len && parseVp8(buf, off, len - off, vp8)) tid = vp8.tid;
  }
  let pkt = buf;
  let plen = len;
  const rates = st.rates;
  if (rates !== null) {
    // auto_layers: what each substream / temporal layer costs, and room for the core's transport-cc stamp.
    rates.add(sub, tid, len, kf, rtpTimestamp(buf), now);
    st.lastLayerMs[Math.min(sub, 2)] = now;
    const n = withTwccRoom(st.scratch!, buf, len);
    if (n > 0) {
      pkt = st.scratch!;
      plen = n;
    }
  }
  const ssrc = rtpSsrc(buf);
  const seq = rtpSeq(buf);
  const ts = rtpTimestamp(buf);
  const gate = detectsKeyframes(st);
  for (let i = 0; i < viewers.length; i++) {
    const v = viewers[i]!;
    if (!v.active || !v.send) continue;
    const auto = v.auto;
    if (auto !== null) {
      if (now >= auto.nextAt) auto.evaluate(media, now);
      if (v.autoPaused) continue;
    }
    if (st.spec.simulcast) {
      if (sub !== v.substream) {
        // switch layers only on a keyframe of the wanted one (or when the current one is not there yet)
        if (!(kf && (sub === v.targetSubstream || v.substream < 0))) continue;
        v.substream = sub;
        v.rewriter.switchSource();
        v.waitKeyframe = false;
        v.onLayer?.(v);
      }
    }
    if (v.waitKeyframe && gate) {
      if (!kf) continue;
      v.waitKeyframe = false;
    }
    if (tid > v.targetTemporal) {
      v.rewriter.drop(pkt);
      continue;
    }
    setRtpSsrc(pkt, ssrc);
    setRtpSeq(pkt, seq);
    setRtpTimestamp(pkt, ts);
    if (!v.rewriter.rewrite(pkt, now)) continue;
    media.relayRtp(v.session, v.mid, pkt, plen);
  }
}

/**
 * A viewer's video just became active: show the buffered keyframe now (the picture appears at
 * once), then keep waiting for the next live keyframe, since deltas after the buffered one were
 * not sent and a plain RTP source cannot be asked for a new keyframe.
 */
export function sendBufferedKeyframe(media: PluginMediaHost, v: ViewerStream, now: number): void {
  const kf = v.stream.keyframe;
  if (kf.length === 0 || !v.waitKeyframe) return;
  for (const pkt of kf) {
    const ssrc = rtpSsrc(pkt);
    const seq = rtpSeq(pkt);
    const ts = rtpTimestamp(pkt);
    if (v.rewriter.rewrite(pkt, now)) media.relayRtp(v.session, v.mid, pkt, pkt.length);
    setRtpSsrc(pkt, ssrc);
    setRtpSeq(pkt, seq);
    setRtpTimestamp(pkt, ts);
  }
  v.rewriter.switchSource();
}

/** A data message (one UDP datagram) to every active viewer with this stream. */
export function deliverData(media: PluginMediaHost, st: MpStream, buf: Buffer, len: number, now: number): void {
  st.lastReceived = now;
  st.packets++;
  const text = st.spec.datatype === 'text';
  let msg: string | Buffer | null = null;
  if (st.spec.buffermsg) st.lastMessage = Buffer.from(buf.subarray(0, len));
  st.recorder?.writeData(buf.subarray(0, len));
  for (let i = 0; i < st.viewers.length; i++) {
    const v = st.viewers[i]!;
    if (!v.active || !v.send) continue;
    // decoded once for all viewers; relayData copies what it needs
    msg ??= text ? buf.toString('utf8', 0, len) : Buffer.from(buf.subarray(0, len));
    media.relayData(v.session, null, msg);
  }
}
