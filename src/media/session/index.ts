/**
 * RTP session engine: one `RtpSession` per PeerConnection, sitting between SRTP and the plugins.
 * Sans-IO in the style of str0m: the caller feeds decrypted bytes and the time (ms, one monotonic
 * clock for every call), and pulls out bytes to protect and send, events and the next timer. No
 * sockets, no timers, no promises or emitters; the per-packet paths (onRtp, onOutgoingRtp, onRtcp)
 * do not allocate in steady state.
 *
 * What it does
 * - Incoming RTP: per-SSRC receive statistics (extended seq, loss, jitter), RTX unwrapping in
 *   place (RFC 4588), SSRCs bound from the SDP or learnt from the mid / rid / repaired-rid header
 *   extensions (or a unique payload type), `media` receiving true/false (no_media_timer).
 * - Outgoing RTP: SR counters and a retransmission ring per stream sized by min_nack_queue
 *   (grows to 2 × RTT, at most 5 s); nack_optimizations empties it on each keyframe.
 * - Incoming RTCP: SR (for our RR's LSR/DLSR), RR blocks about our streams (RTT, remote loss →
 *   slowlink uplink:true), NACK → retransmissions carrying our SSRC (or our RTX SSRC/PT + OSN),
 *   PLI / FIR (FIR repeats with the same seq nr ignored) → keyframe requests, REMB, BYE.
 * - Outgoing RTCP: every ~1 s (RFC 3550 randomized) SR per sending stream + report blocks + SDES
 *   CNAME; NACKs for lost packets (RTT-paced retries), PLI/FIR on requestKeyframe() (FIR seq nr +1
 *   each), REMB on setRemb() (at once on change, then every second).
 * - transport-cc (when the transport-wide-cc extension id is set): feedback about every packet we
 *   receive every twcc_period ms (TwccRecorder); our own transport-wide sequence numbers (and
 *   abs-send-time) stamped into what we send, retransmissions and probes included (SendHistory);
 *   the remote's feedback feeds a GCC estimator (src/media/cc/gcc.ts): estimateBps; probe padding
 *   from pollProbeInto().
 * - Not done: XR, RTCP for our RTX SSRCs.
 *
 * Usage (the Peer):
 * ```ts
 * const s = new RtpSession({ cname: 'portunus', minNackQueueMs: cfg.min_nack_queue,
 *   noMediaTimerS: cfg.no_media_timer, slowlinkThreshold: cfg.slowlink_threshold,
 *   nackOptimizations: cfg.nack_optimizations, unixOffsetMs: Date.now() - performance.now(),
 *   extensions: { mid: 4, rid: 10, repairedRid: 11 } });
 * // from the negotiated SDP
 * s.addRemoteMid({ mid: '1', kind: 'video', clockRate: 90000, rtx: [{ pt: 97, apt: 96 }], payloadTypes: [96] });
 * s.addRemoteSsrc('1', 0x1234, { rtxSsrc: 0x5678 });            // optional: a=ssrc lines
 * s.addLocalStream({ mid: '1', kind: 'video', ssrc: 0xabc, clockRate: 90000, rtxSsrc: 0xabd, rtxPt: 97 });
 *
 * // receive path (after srtp.unprotectRtp)
 * const i = s.onRtp(buf, len, now);
 * if (i >= 0) plugin.incomingRtp(handle, s.inboundStream(i)!, buf, s.rtpLength);
 * if (s.hasPendingRtcp) flushRtcp(now);               // e.g. a NACK for a gap just seen
 *
 * // send path (before srtp.protectRtp, which works in place)
 * s.onOutgoingRtp(pkt, len, now, isKeyframe);
 *
 * // RTCP in (after srtp.unprotectRtcp)
 * const r = s.onRtcp(buf, len, now);
 * for (let k = 0; k < r.retransmitCount; k++) {
 *   const b = r.retransmitBuffers[k]!;                 // room for the SRTP trailer included
 *   send(b, srtp.protectRtp(b, r.retransmitLengths[k]!));
 * }
 * for (let k = 0; k < r.keyframeCount; k++) plugin.keyframeRequested(handle, r.keyframeMids[k]!);
 * if (r.remb >= 0) plugin.remb(handle, r.remb);
 * // bandwidth probes (after the RTCP in flushRtcp): padding packets to protect and send
 * while ((n = s.pollProbeInto(probeBuf, now)) > 0) send(probeBuf, srtp.protectRtp(probeBuf, n));
 *
 * // timers: one per session, re-armed from pollTimeout() after each call batch
 * function flushRtcp(now: number) {
 *   s.handleTimeout(now);
 *   let n;
 *   while ((n = s.pollRtcpInto(rtcpBuf, now)) > 0) send(rtcpBuf, srtp.protectRtcp(rtcpBuf, n));
 *   let ev;
 *   while ((ev = s.pollEvent())) core.notify(handle, ev); // media / slowlink / bye
 *   arm(s.pollTimeout());
 * }
 * // plugin requests
 * s.requestKeyframe('1');          // PLI (or FIR per the mid's config)
 * s.setRemb(512_000);              // VideoRoom bitrate cap
 * // Admin handle_info
 * s.getStats();
 * ```
 */
export { RtpSession, RtcpResult } from './session.js';
export type { StreamInfo, InboundStreamInfo } from './session.js';
export type {
  MediaKind,
  RtpSessionOptions,
  LocalStreamConfig,
  RemoteMidConfig,
  RemoteSsrcOptions,
  RtpSessionEvent,
  RtpSessionStats,
  KindCounters,
  InboundStreamStats,
  OutboundStreamStats,
} from './types.js';
