/**
 * The one RTP input path, WebRTC and plain RTP alike: header and payload-type checks, the RFC 6464
 * audio level (talking events), the participant's .mjr, then the payload into its jitter buffer.
 */
import { readAudioLevel } from '../../media/rtp/extensions.js';
import { rtpHeaderLength, rtpPaddingLength, rtpPayloadType, rtpSeq, rtpTimestamp } from '../../media/rtp/header.js';
import { notify, type AbContext } from './context.js';
import type { AbSession, Participant, Room } from './room.js';

/**
 * The one RTP input path, WebRTC and plain RTP alike: payload-type and header checks, audio level,
 * then the payload into the jitter buffer (`owned`: `packet` is ours to keep, else it is copied).
 */
export function receiveRtp(ctx: AbContext, s: AbSession, packet: Buffer, len: number, owned: boolean): void {
  const p = s.participant;
  if (!p || !s.started || !p.room || !p.jitter) return;
  const room = p.room;
  if (p.muted || p.suspended || (room.muted && !p.admin)) return;
  if (len > packet.length) return;
  const hl = rtpHeaderLength(packet, len);
  if (hl < 0) return;
  const pt = rtpPayloadType(packet);
  if ((p.codec === 'pcmu' && pt !== 0) || (p.codec === 'pcma' && pt !== 8)) return;
  if (p.codec === 'opus' && p.pt >= 0 && pt !== p.pt) return;
  const end = len - rtpPaddingLength(packet, len);
  if (end <= hl) return;
  // The packet as received (MjrFile copies it into its own buffer; no I/O here).
  p.mjr?.writeRtp(packet, len);
  if (p.extmapId > 0) audioLevel(ctx, p, room, readAudioLevel(packet, len, p.extmapId));
  const payload = owned ? packet.subarray(hl, end) : Buffer.from(packet.subarray(hl, end));
  p.jitter.put(rtpSeq(packet), rtpTimestamp(packet), payload);
}

/** Talk detection from the RFC 6464 level: average over audio_active_packets vs audio_level_average. */
export function audioLevel(ctx: AbContext, p: Participant, room: Room, raw: number): void {
  if (raw < 0) return;
  const level = raw & 0x7f;
  p.dBovLevel = level;
  if (!room.settings.audiolevelEvent) return;
  const packets = p.userActivePackets > 0 ? p.userActivePackets : room.settings.audioActivePackets;
  const average = p.userLevelAverage > 0 ? p.userLevelAverage : room.settings.audioLevelAverage;
  p.dBovSum += level;
  p.activePackets++;
  if (p.activePackets < packets) return;
  const talking = p.dBovSum / p.activePackets < average;
  p.activePackets = 0;
  p.dBovSum = 0;
  if (talking === p.talking) return;
  p.talking = talking;
  notify(ctx, room, { audiobridge: talking ? 'talking' : 'stopped-talking', room: room.settings.id, id: p.id }, null);
}

