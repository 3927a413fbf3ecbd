/**
 * Sender-side counters of one outgoing stream, for RTCP SR (RFC 3550 §6.4.1): packet and octet
 * counts, and the RTP timestamp that corresponds to "now" (extrapolated from the last packet).
 */
export class RtpSendStats {
  packets = 0;
  /** Payload octets (RTP header and padding excluded). */
  octets = 0;
  private lastTs = 0;
  private lastMs = -1;

  constructor(readonly ssrc: number, readonly clockRate: number) {}

  onPacketSent(payloadBytes: number, rtpTs: number, nowMs: number): void {
    this.packets = (this.packets + 1) >>> 0;
    this.octets = (this.octets + payloadBytes) >>> 0;
    this.lastTs = rtpTs >>> 0;
    this.lastMs = nowMs;
  }

  get hasSent(): boolean {
    return this.lastMs >= 0;
  }

  /** RTP timestamp for wall-clock `nowMs`, for the SR's RTP timestamp field. */
  rtpTimestampAt(nowMs: number): number {
    if (this.lastMs < 0) return 0;
    return (this.lastTs + Math.round(((nowMs - this.lastMs) * this.clockRate) / 1000)) >>> 0;
  }
}
