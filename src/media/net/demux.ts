/**
 * First-byte demultiplexing of a shared UDP 5-tuple (RFC 7983, updating RFC 5764 section 5.1.2):
 *
 *   0..3     STUN            16..19   ZRTP
 *   20..63   DTLS            64..79   TURN channel
 *   128..191 RTP / RTCP      anything else: drop
 *
 * RTP vs RTCP (RFC 5761 section 4): the second byte of RTCP is the packet type 192..223 (SR 200,
 * RR 201, SDES 202, BYE 203, APP 204, RTPFB 205, PSFB 206, XR 207, ...), which RTP never uses when
 * payload types 64..95 are avoided.
 */

export const PacketKind = {
  Unknown: 0,
  Stun: 1,
  Dtls: 2,
  /** RTP or RTCP: use `classifyPacket` (needs the second byte) to split them. */
  RtpOrRtcp: 3,
  Rtp: 4,
  Rtcp: 5,
  Zrtp: 6,
  TurnChannel: 7,
} as const;
export type PacketKind = (typeof PacketKind)[keyof typeof PacketKind];

/** Classify by the first byte only. */
export function classify(firstByte: number): PacketKind {
  if (firstByte <= 3) return PacketKind.Stun;
  if (firstByte >= 20 && firstByte <= 63) return PacketKind.Dtls;
  if (firstByte >= 128 && firstByte <= 191) return PacketKind.RtpOrRtcp;
  if (firstByte >= 16 && firstByte <= 19) return PacketKind.Zrtp;
  if (firstByte >= 64 && firstByte <= 79) return PacketKind.TurnChannel;
  return PacketKind.Unknown;
}

/** True if `secondByte` (marker bit + payload type) is an RTCP packet type (192..223). */
export function isRtcpSecondByte(secondByte: number): boolean {
  return secondByte >= 192 && secondByte <= 223;
}

/** Classify a datagram, splitting RTP from RTCP. No allocation. */
export function classifyPacket(buf: Uint8Array): PacketKind {
  if (buf.length === 0) return PacketKind.Unknown;
  const k = classify(buf[0]!);
  if (k !== PacketKind.RtpOrRtcp) return k;
  if (buf.length < 2) return PacketKind.Unknown;
  return isRtcpSecondByte(buf[1]!) ? PacketKind.Rtcp : PacketKind.Rtp;
}
