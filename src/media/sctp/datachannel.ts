/**
 * DataChannelManager: WebRTC data channels (RFC 8831) with in-band DCEP negotiation (RFC 8832) over an
 * SctpAssociation. Plus `connectSctpOverDtls` to wire an association onto a DtlsEndpoint (RFC 8261).
 */
import { CoreSctpAssociation, DEFAULT_MAX_MESSAGE_SIZE, DTLS_RECORD_OVERHEAD, type SctpAssociation, type SctpState } from './association.js';
import {
  PPID_BINARY, PPID_BINARY_EMPTY, PPID_BINARY_PARTIAL, PPID_DCEP, PPID_STRING, PPID_STRING_EMPTY, PPID_STRING_PARTIAL,
  buildDataChannelAck, buildDataChannelOpen, channelTypeOf, isLocalStreamId, parseDcep, reliabilityOf, streamIdParity,
  type ChannelReliability,
} from './dcep.js';
import type { DtlsEndpoint } from '../dtls/endpoint.js';

export type DataChannelState = 'connecting' | 'open' | 'closing' | 'closed';

export interface DataChannel {
  readonly id: number;
  readonly label: string;
  readonly protocol: string;
  readonly priority: number;
  readonly reliability: ChannelReliability;
  readonly negotiated: boolean;
  state: DataChannelState;
}

export interface DataChannelEvents {
  /** The channel is open: for the opener when the ACK arrives, for the other side on the OPEN. */
  channelOpen?(channel: DataChannel): void;
  message?(channel: DataChannel, data: Buffer, isBinary: boolean): void;
  channelClosed?(channel: DataChannel): void;
  /** The SCTP association's own timer threw (see SctpAssociationEvents.fault). */
  fault?(err: unknown): void;
}

export interface CreateChannelOptions extends Partial<ChannelReliability> {
  protocol?: string;
  priority?: number;
  /** Out-of-band negotiated channel (no DCEP) with this stream id. */
  negotiatedId?: number;
}

export interface DataChannelManagerStats {
  dropped: number;
  messagesIn: number;
  messagesOut: number;
}

/**
 * A message arriving in deprecated PPID_*_PARTIAL fragments, gathered in one buffer that doubles as
 * needed. (An array of the fragments, summed on every arrival, made 60,000 one-byte fragments block
 * the event loop for seconds and cost ~100 bytes of object per byte of message.)
 */
interface PartialMessage {
  partial?: Buffer | undefined;
  partialBytes?: number;
}

/** Appends a fragment; false (and the message dropped) once it would exceed `max` bytes. */
function appendPartial(m: PartialMessage, data: Buffer, max: number): boolean {
  const used = m.partial ? (m.partialBytes ?? 0) : 0;
  const need = used + data.length;
  if (need > max) {
    m.partial = undefined;
    m.partialBytes = 0;
    return false;
  }
  if (!m.partial || m.partial.length < need) {
    const grown = Buffer.allocUnsafe(Math.min(max, Math.max(need, 2 * (m.partial?.length ?? 0), 1024)));
    if (m.partial) m.partial.copy(grown, 0, 0, used);
    m.partial = grown;
  }
  data.copy(m.partial, used);
  m.partialBytes = need;
  return true;
}

export class DataChannelManager {
  readonly stats: DataChannelManagerStats = { dropped: 0, messagesIn: 0, messagesOut: 0 };
  private readonly channels = new Map<number, DataChannel & PartialMessage>();
  private nextId: number;
  private readonly pendingOpen: DataChannel[] = [];

  constructor(
    private readonly sctp: SctpAssociation,
    private readonly dtlsRole: 'client' | 'server',
    private readonly events: DataChannelEvents = {},
    private readonly maxChannels = 1024,
  ) {
    this.nextId = streamIdParity(dtlsRole);
  }

  get channelList(): DataChannel[] { return [...this.channels.values()]; }
  getChannel(id: number): DataChannel | undefined { return this.channels.get(id); }

  /** Opens a channel (sends DATA_CHANNEL_OPEN once SCTP is up). Returns undefined if no stream id is free. */
  createChannel(label: string, opts: CreateChannelOptions = {}): DataChannel | undefined {
    let id: number;
    if (opts.negotiatedId !== undefined) {
      id = opts.negotiatedId;
      if (id < 0 || id > 65534 || this.channels.has(id)) return undefined;
    } else {
      const found = this.allocateId();
      if (found === undefined) return undefined;
      id = found;
    }
    const reliability: ChannelReliability = { ordered: opts.ordered ?? true };
    if (opts.maxRetransmits !== undefined) reliability.maxRetransmits = opts.maxRetransmits;
    else if (opts.maxPacketLifeTime !== undefined) reliability.maxPacketLifeTime = opts.maxPacketLifeTime;
    const ch: DataChannel = {
      id, label, protocol: opts.protocol ?? '', priority: opts.priority ?? 256, reliability,
      negotiated: opts.negotiatedId !== undefined, state: opts.negotiatedId !== undefined ? 'open' : 'connecting',
    };
    this.channels.set(id, ch);
    if (!ch.negotiated) {
      if (this.sctp.state === 'connected') this.sendOpen(ch);
      else this.pendingOpen.push(ch);
    }
    return ch;
  }

  /** Sends a text (string) or binary (Uint8Array) message. False if the channel cannot send now. */
  send(channel: DataChannel | number, data: string | Uint8Array): boolean {
    const ch = typeof channel === 'number' ? this.channels.get(channel) : this.channels.get(channel.id);
    if (!ch || (ch.state !== 'open' && ch.state !== 'connecting') || this.sctp.state !== 'connected') return false;
    let ppid: number;
    let payload: Buffer;
    if (typeof data === 'string') {
      payload = utf8Once(data);
      ppid = payload.length === 0 ? PPID_STRING_EMPTY : PPID_STRING;
    } else {
      payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      ppid = payload.length === 0 ? PPID_BINARY_EMPTY : PPID_BINARY;
    }
    // RFC 8831 §6.6: empty messages are sent as a single zero byte with the *_EMPTY PPID.
    if (payload.length === 0) payload = Buffer.from([0]);
    const ok = this.sctp.send(ch.id, ppid, payload, ch.reliability);
    if (ok) this.stats.messagesOut++;
    return ok;
  }

  /** Closes a channel by resetting its outgoing stream. */
  close(channel: DataChannel | number): void {
    const ch = this.channels.get(typeof channel === 'number' ? channel : channel.id);
    if (!ch || ch.state === 'closed' || ch.state === 'closing') return;
    ch.state = 'closing';
    this.sctp.resetStreams([ch.id]);
    if (this.sctp.state !== 'connected') this.finishClose(ch);
  }

  /** Call when the SCTP association's state changes. */
  onSctpState(state: SctpState): void {
    if (state === 'connected') {
      const pending = this.pendingOpen.splice(0);
      for (const ch of pending) if (ch.state === 'connecting') this.sendOpen(ch);
    } else if (state === 'closed') {
      for (const ch of [...this.channels.values()]) this.finishClose(ch);
    }
  }

  /** Call for each SCTP user message. Never throws. */
  onSctpMessage(streamId: number, ppid: number, data: Buffer): void {
    try {
      if (ppid === PPID_DCEP) { this.onDcep(streamId, data); return; }
      const ch = this.channels.get(streamId);
      if (!ch || ch.state === 'closed') { this.stats.dropped++; return; }
      // The peer may send right after its OPEN; ordered delivery means we already saw it. For our own
      // channels, data before the ACK implies the peer processed the OPEN (RFC 8832 §6).
      if (ch.state === 'connecting') this.markOpen(ch);
      switch (ppid) {
        case PPID_STRING: this.deliver(ch, this.joinPartial(ch, data), false); break;
        case PPID_BINARY: this.deliver(ch, this.joinPartial(ch, data), true); break;
        case PPID_STRING_EMPTY: this.deliver(ch, Buffer.alloc(0), false); break;
        case PPID_BINARY_EMPTY: this.deliver(ch, Buffer.alloc(0), true); break;
        case PPID_STRING_PARTIAL:
        case PPID_BINARY_PARTIAL: // deprecated (RFC 8831 §8): accumulate until the final fragment
          if (!appendPartial(ch, data, this.sctp.maxMessageSize)) this.stats.dropped++;
          break;
        default: this.stats.dropped++;
      }
    } catch {
      this.stats.dropped++;
    }
  }

  /** Call when streams were reset (peer closed them, or our reset completed). */
  onStreamsReset(ids: number[]): void {
    for (const id of ids) {
      const ch = this.channels.get(id);
      if (!ch) continue;
      if (ch.state !== 'closing') {
        // Peer-initiated: the association resets our outgoing side too (RFC 8831 §6.7); close.
        ch.state = 'closing';
      }
      this.finishClose(ch);
    }
  }

  private allocateId(): number | undefined {
    for (let n = 0; n < 32768; n++) {
      const id = this.nextId;
      this.nextId += 2;
      if (this.nextId > 65534) this.nextId = streamIdParity(this.dtlsRole);
      if (!this.channels.has(id)) return id;
    }
    return undefined;
  }

  private sendOpen(ch: DataChannel): void {
    const { channelType, reliabilityParameter } = channelTypeOf(ch.reliability);
    const open = buildDataChannelOpen({ channelType, priority: ch.priority, reliabilityParameter, label: ch.label, protocol: ch.protocol });
    // DCEP messages are always reliable and ordered (RFC 8832 §6).
    if (!this.sctp.send(ch.id, PPID_DCEP, open, { ordered: true })) this.stats.dropped++;
  }

  private onDcep(streamId: number, data: Buffer): void {
    const msg = parseDcep(data);
    if (!msg) { this.stats.dropped++; return; }
    if (msg.type === 'ack') {
      const ch = this.channels.get(streamId);
      if (!ch || !isLocalStreamId(streamId, this.dtlsRole)) { this.stats.dropped++; return; }
      if (ch.state === 'connecting') this.markOpen(ch);
      return;
    }
    // OPEN: the peer's stream ids have the other parity; anything else is a protocol violation.
    if (isLocalStreamId(streamId, this.dtlsRole) || this.channels.has(streamId) || this.channels.size >= this.maxChannels) {
      this.stats.dropped++;
      return;
    }
    const ch: DataChannel = {
      id: streamId, label: msg.label, protocol: msg.protocol, priority: msg.priority,
      reliability: reliabilityOf(msg.channelType, msg.reliabilityParameter), negotiated: false, state: 'open',
    };
    this.channels.set(streamId, ch);
    this.sctp.send(streamId, PPID_DCEP, buildDataChannelAck(), { ordered: true });
    try { this.events.channelOpen?.(ch); } catch { /* consumer */ }
  }

  private markOpen(ch: DataChannel): void {
    ch.state = 'open';
    try { this.events.channelOpen?.(ch); } catch { /* consumer */ }
  }

  private joinPartial(ch: DataChannel & PartialMessage, data: Buffer): Buffer {
    if (!ch.partial) return data;
    const all = Buffer.concat([ch.partial.subarray(0, ch.partialBytes), data]);
    ch.partial = undefined;
    ch.partialBytes = 0;
    return all;
  }

  private deliver(ch: DataChannel, data: Buffer, isBinary: boolean): void {
    this.stats.messagesIn++;
    try { this.events.message?.(ch, data, isBinary); } catch { /* consumer */ }
  }

  private finishClose(ch: DataChannel): void {
    if (ch.state === 'closed') return;
    ch.state = 'closed';
    this.channels.delete(ch.id);
    try { this.events.channelClosed?.(ch); } catch { /* consumer */ }
  }
}

/**
 * The UTF-8 bytes of the last string sent, on any channel: a broadcast sends one string to every member
 * in a row, so it is encoded once, not once per recipient. Safe to share: SCTP only reads a payload
 * (and keeps it until acknowledged), nobody writes into it.
 */
let lastText: string | null = null;
let lastBytes: Buffer = Buffer.alloc(0);
function utf8Once(text: string): Buffer {
  if (text !== lastText) {
    lastBytes = Buffer.from(text, 'utf8');
    lastText = text;
  }
  return lastBytes;
}

export interface SctpOverDtls {
  sctp: SctpAssociation;
  channels: DataChannelManager;
}

export interface SctpOverDtlsOptions {
  /** Remote a=sctp-port (default 5000). */
  remotePort?: number;
  localPort?: number;
  maxMessageSize?: number;
  events?: DataChannelEvents;
}

/**
 * Wires an SCTP association and a DataChannelManager onto a DTLS endpoint. The caller forwards the
 * endpoint's `data` event to `sctp.handlePacket` (returned `onDtlsData`) and calls `start()` once DTLS
 * is connected. The SCTP client is the DTLS client.
 */
export function createSctpOverDtls(dtls: DtlsEndpoint, opts: SctpOverDtlsOptions = {}): SctpOverDtls & {
  onDtlsData(data: Buffer): void;
  start(): void;
} {
  let channels: DataChannelManager | undefined;
  const sctp = new CoreSctpAssociation({
    isClient: dtls.role === 'client',
    localPort: opts.localPort ?? 5000,
    remotePort: opts.remotePort ?? 5000,
    maxMessageSize: opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    // Every SCTP packet fits in one DTLS datagram of at most dtls_mtu bytes.
    mtu: dtls.mtu - DTLS_RECORD_OVERHEAD,
  }, {
    // The packets of one drain become records packed into as few datagrams as the MTU allows.
    transmit: (p) => { dtls.queue(p); },
    transmitted: () => dtls.flush(),
    message: (sid, ppid, data) => channels?.onSctpMessage(sid, ppid, data),
    streamsReset: (ids) => channels?.onStreamsReset(ids),
    stateChange: (s) => channels?.onSctpState(s),
    fault: (err) => opts.events?.fault?.(err),
  });
  channels = new DataChannelManager(sctp, dtls.role, opts.events ?? {});
  return {
    sctp, channels,
    onDtlsData: (data) => sctp.handlePacket(data),
    start: () => sctp.start(),
  };
}
