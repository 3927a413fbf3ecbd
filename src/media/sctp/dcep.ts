/**
 * Data Channel Establishment Protocol (RFC 8832) codec and stream-id rules. Our own code.
 * Parsing never throws: malformed input yields undefined.
 */

export const DCEP_DATA_CHANNEL_ACK = 0x02;
export const DCEP_DATA_CHANNEL_OPEN = 0x03;

/** SCTP payload protocol identifiers (RFC 8831 §8, RFC 8832 §8). */
export const PPID_DCEP = 50;
export const PPID_STRING = 51;
export const PPID_BINARY_PARTIAL = 52; // deprecated
export const PPID_BINARY = 53;
export const PPID_STRING_PARTIAL = 54; // deprecated
export const PPID_STRING_EMPTY = 56;
export const PPID_BINARY_EMPTY = 57;

/** Channel types (RFC 8832 §5.1). 0x80 bit = unordered. */
export const CHANNEL_RELIABLE = 0x00;
export const CHANNEL_RELIABLE_UNORDERED = 0x80;
export const CHANNEL_PARTIAL_RELIABLE_REXMIT = 0x01;
export const CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED = 0x81;
export const CHANNEL_PARTIAL_RELIABLE_TIMED = 0x02;
export const CHANNEL_PARTIAL_RELIABLE_TIMED_UNORDERED = 0x82;

const KNOWN_CHANNEL_TYPES = new Set([0x00, 0x80, 0x01, 0x81, 0x02, 0x82]);

export interface DataChannelOpen {
  channelType: number;
  priority: number;
  /** Max retransmissions (REXMIT types) or lifetime in ms (TIMED types); 0 for reliable. */
  reliabilityParameter: number;
  label: string;
  protocol: string;
}

export type DcepMessage = ({ type: 'open' } & DataChannelOpen) | { type: 'ack' };

export function buildDataChannelOpen(m: DataChannelOpen): Buffer {
  const label = Buffer.from(m.label, 'utf8');
  const protocol = Buffer.from(m.protocol, 'utf8');
  if (label.length > 0xffff || protocol.length > 0xffff) throw new RangeError('label/protocol too long');
  const out = Buffer.alloc(12 + label.length + protocol.length);
  out[0] = DCEP_DATA_CHANNEL_OPEN;
  out[1] = m.channelType;
  out.writeUInt16BE(m.priority & 0xffff, 2);
  out.writeUInt32BE(m.reliabilityParameter >>> 0, 4);
  out.writeUInt16BE(label.length, 8);
  out.writeUInt16BE(protocol.length, 10);
  label.copy(out, 12);
  protocol.copy(out, 12 + label.length);
  return out;
}

export function buildDataChannelAck(): Buffer {
  return Buffer.from([DCEP_DATA_CHANNEL_ACK]);
}

export function parseDcep(buf: Uint8Array): DcepMessage | undefined {
  if (buf.length < 1) return undefined;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b[0] === DCEP_DATA_CHANNEL_ACK) return buf.length === 1 ? { type: 'ack' } : undefined;
  if (b[0] !== DCEP_DATA_CHANNEL_OPEN || b.length < 12) return undefined;
  const channelType = b[1]!;
  if (!KNOWN_CHANNEL_TYPES.has(channelType)) return undefined;
  const labelLen = b.readUInt16BE(8);
  const protocolLen = b.readUInt16BE(10);
  if (12 + labelLen + protocolLen !== b.length) return undefined;
  return {
    type: 'open',
    channelType,
    priority: b.readUInt16BE(2),
    reliabilityParameter: b.readUInt32BE(4),
    label: b.toString('utf8', 12, 12 + labelLen),
    protocol: b.toString('utf8', 12 + labelLen, 12 + labelLen + protocolLen),
  };
}

export interface ChannelReliability {
  ordered: boolean;
  maxRetransmits?: number;
  maxPacketLifeTime?: number;
}

export function channelTypeOf(r: ChannelReliability): { channelType: number; reliabilityParameter: number } {
  const unordered = r.ordered ? 0 : 0x80;
  if (r.maxRetransmits !== undefined) return { channelType: 0x01 | unordered, reliabilityParameter: r.maxRetransmits };
  if (r.maxPacketLifeTime !== undefined) return { channelType: 0x02 | unordered, reliabilityParameter: r.maxPacketLifeTime };
  return { channelType: unordered, reliabilityParameter: 0 };
}

export function reliabilityOf(channelType: number, reliabilityParameter: number): ChannelReliability {
  const ordered = (channelType & 0x80) === 0;
  switch (channelType & 0x7f) {
    case 0x01: return { ordered, maxRetransmits: reliabilityParameter };
    case 0x02: return { ordered, maxPacketLifeTime: reliabilityParameter };
    default: return { ordered };
  }
}

/**
 * RFC 8832 §6: the DTLS client uses even stream identifiers, the DTLS server odd ones.
 */
export function streamIdParity(dtlsRole: 'client' | 'server'): 0 | 1 {
  return dtlsRole === 'client' ? 0 : 1;
}

export function isLocalStreamId(id: number, dtlsRole: 'client' | 'server'): boolean {
  return (id & 1) === streamIdParity(dtlsRole);
}
