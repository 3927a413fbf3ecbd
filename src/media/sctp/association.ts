/**
 * SctpAssociation: the narrow interface the data-channel layer needs from SCTP (RFC 8261: SCTP packets
 * carried as DTLS application data), and its werift-sctp implementation. Only this file touches werift-sctp.
 *
 * Not sans-IO: werift-sctp runs its own wall-clock timers (T1/T3/SACK/heartbeat) and async sends.
 */
import { SCTP } from 'werift-sctp';
import { DataChunk } from 'werift-sctp/lib/sctp/src/chunk.js';

export interface SctpSendOptions {
  ordered: boolean;
  maxRetransmits?: number;
  /** ms */
  maxPacketLifeTime?: number;
}

export type SctpState = 'new' | 'connecting' | 'connected' | 'closed';

export interface SctpAssociationEvents {
  /** An SCTP packet to send as DTLS application data. */
  transmit(packet: Buffer): void;
  /** One complete user message. */
  message(streamId: number, ppid: number, data: Buffer): void;
  /** Streams reset (incoming reset request from the peer, or completion of ours). */
  streamsReset(streamIds: number[]): void;
  stateChange(state: SctpState): void;
  /**
   * One of the association's own timers threw (a bug; werift arms them with setTimeout, outside any
   * caller's stack). The association is no longer trustworthy: the owner closes its PeerConnection.
   */
  fault?(err: unknown): void;
}

/** werift's timer callbacks (writable instance properties it passes to setTimeout by name). */
const WERIFT_TIMERS = ['timer1Expired', 'timer2Expired', 'timer3Expired', 'timerReconfigHandleExpired', 'timerHeartbeatExpired'] as const;

export interface SctpAssociation {
  readonly state: SctpState;
  /** Largest message accepted by send(), bytes (advertise as a=max-message-size). */
  readonly maxMessageSize: number;
  start(): void;
  /** Input: one SCTP packet (DTLS application data). Never throws. */
  handlePacket(packet: Buffer): void;
  send(streamId: number, ppid: number, data: Buffer, opts: SctpSendOptions): boolean;
  /** Outgoing stream reset (RFC 6525) — how a data channel is closed (RFC 8831 §6.7). */
  resetStreams(streamIds: number[]): void;
  close(): void;
  readonly stats: { packetsIn: number; dropped: number };
}

export interface SctpAssociationOptions {
  /** SCTP client (sends INIT) — we use the DTLS client. */
  isClient: boolean;
  localPort?: number;
  /** From the remote SDP a=sctp-port (default 5000). */
  remotePort?: number;
  maxMessageSize?: number;
  /**
   * Largest user-data fragment per DATA chunk (bytes). werift-sctp always cuts messages into
   * 1200-byte fragments, which makes 1265-byte DTLS datagrams with AES-GCM: above a dtls_mtu of 1200.
   * When smaller than 1200, messages are fragmented by this adapter instead (RFC 4960 §6.9).
   */
  maxFragmentSize?: number;
}

/** werift-sctp's fixed fragment size. */
const WERIFT_FRAGMENT_SIZE = 1200;
/** Per-datagram overhead around one DATA chunk: DTLS record (13) + AES-GCM nonce and tag (24) + SCTP common header (12) + DATA chunk header (16). */
export const SCTP_DTLS_OVERHEAD = 13 + 24 + 12 + 16;

/** Default a=max-message-size we accept and advertise. */
export const DEFAULT_MAX_MESSAGE_SIZE = 262_144;

interface WeriftSctpInternals {
  handleData(buf: Buffer): Promise<void>;
  reconfigQueue: number[];
  transmitReconfigRequest(): Promise<void>;
  send(streamId: number, ppid: number, data: Buffer, opts?: { ordered?: boolean; maxRetransmits?: number; expiry?: number }): Promise<void>;
  localTsn: number;
  outboundQueue: DataChunk[];
  outboundStreamSeq: Record<number, number>;
  transmit(): Promise<void>;
}

const DATA_UNORDERED = 0x04;
const DATA_FIRST_FRAG = 0x02;
const DATA_LAST_FRAG = 0x01;

/**
 * Replace werift's send() with one that cuts user messages into `size`-byte DATA chunks: same
 * bookkeeping (TSN, stream sequence number, outbound queue), our own fragment size.
 */
function installFragmentingSend(sctp: WeriftSctpInternals, size: number): void {
  sctp.send = (streamId, ppid, data, opts = {}) => {
    const ordered = opts.ordered ?? true;
    const ssn = ordered ? (sctp.outboundStreamSeq[streamId] ?? 0) : 0;
    const count = Math.max(1, Math.ceil(data.length / size));
    for (let i = 0; i < count; i++) {
      const chunk = new DataChunk(0, undefined);
      chunk.flags = (ordered ? 0 : DATA_UNORDERED) | (i === 0 ? DATA_FIRST_FRAG : 0) | (i === count - 1 ? DATA_LAST_FRAG : 0);
      chunk.tsn = sctp.localTsn;
      chunk.streamId = streamId;
      chunk.streamSeqNum = ssn;
      chunk.protocol = ppid;
      chunk.userData = data.subarray(i * size, (i + 1) * size);
      chunk.bookSize = chunk.userData.length;
      chunk.expiry = opts.expiry;
      chunk.maxRetransmits = opts.maxRetransmits;
      sctp.localTsn = (sctp.localTsn + 1) >>> 0;
      sctp.outboundQueue.push(chunk);
    }
    if (ordered) sctp.outboundStreamSeq[streamId] = (ssn + 1) & 0xffff;
    return sctp.transmit();
  };
}

export class WeriftSctpAssociation implements SctpAssociation {
  readonly maxMessageSize: number;
  readonly stats = { packetsIn: 0, dropped: 0 };
  private _state: SctpState = 'new';
  private readonly sctp: SCTP;
  private readonly remotePort: number;

  constructor(opts: SctpAssociationOptions, private readonly events: SctpAssociationEvents) {
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.remotePort = opts.remotePort ?? 5000;
    const transport = {
      onData: undefined as ((b: Buffer) => void) | undefined,
      send: (buf: Buffer): Promise<void> => {
        if (this._state !== 'closed') {
          try { this.events.transmit(buf); } catch { /* sink */ }
        }
        return Promise.resolve();
      },
      close: (): void => {},
    };
    const port = opts.localPort ?? 5000;
    this.sctp = opts.isClient ? SCTP.client(transport, port) : SCTP.server(transport, port);
    const frag = Math.floor(opts.maxFragmentSize ?? WERIFT_FRAGMENT_SIZE);
    if (frag < WERIFT_FRAGMENT_SIZE) installFragmentingSend(this.sctp as unknown as WeriftSctpInternals, Math.max(256, frag) & ~3); // chunks are padded to 4 bytes
    // werift installs transport.onData -> handleData without catching its rejection; we never call it.
    transport.onData = undefined;
    this.sctp.onReceive.subscribe((streamId: number, ppid: number, data: Buffer) => {
      try { this.events.message(streamId, ppid, data); } catch { /* consumer */ }
    });
    this.sctp.onReconfigStreams.subscribe((ids: number[]) => {
      try { this.events.streamsReset([...ids]); } catch { /* consumer */ }
    });
    this.containTimers();
    this.sctp.stateChanged.connected.subscribe(() => this.setState('connected'));
    this.sctp.stateChanged.closed.subscribe(() => this.setState('closed'));
  }

  get state(): SctpState { return this._state; }

  /**
   * Fault boundary around werift's timers: a throw (or rejection) from one would otherwise be an
   * uncaught exception. werift re-arms them by reading the property again, so the wrapper stays.
   */
  private containTimers(): void {
    const internals = this.sctp as unknown as Record<string, unknown>;
    for (const name of WERIFT_TIMERS) {
      const original = internals[name];
      if (typeof original !== 'function') continue;
      internals[name] = () => {
        try {
          const r: unknown = (original as () => unknown)();
          if (r instanceof Promise) r.catch((err: unknown) => this.timerFailed(err));
        } catch (err) {
          this.timerFailed(err);
        }
      };
    }
  }

  private timerFailed(err: unknown): void {
    this.stats.dropped++;
    try { this.events.fault?.(err); } catch { /* the owner's problem */ }
  }

  start(): void {
    if (this._state !== 'new') return;
    this.setState('connecting');
    this.sctp.start(this.remotePort).catch(() => { this.stats.dropped++; });
  }

  handlePacket(packet: Buffer): void {
    this.stats.packetsIn++;
    if (this._state === 'closed') return;
    if (packet.length < 12) { this.stats.dropped++; return; }
    try {
      (this.sctp as unknown as WeriftSctpInternals).handleData(packet).catch(() => { this.stats.dropped++; });
    } catch {
      this.stats.dropped++;
    }
  }

  send(streamId: number, ppid: number, data: Buffer, opts: SctpSendOptions): boolean {
    if (this._state !== 'connected' || data.length > this.maxMessageSize) return false;
    const o: { ordered: boolean; maxRetransmits?: number; expiry?: number } = { ordered: opts.ordered };
    if (opts.maxRetransmits !== undefined) o.maxRetransmits = opts.maxRetransmits;
    if (opts.maxPacketLifeTime !== undefined) o.expiry = Date.now() / 1000 + opts.maxPacketLifeTime / 1000;
    this.sctp.send(streamId, ppid, data, o).catch(() => { this.stats.dropped++; });
    return true;
  }

  resetStreams(streamIds: number[]): void {
    if (this._state !== 'connected') return;
    const s = this.sctp as unknown as WeriftSctpInternals;
    for (const id of streamIds) if (!s.reconfigQueue.includes(id)) s.reconfigQueue.push(id);
    s.transmitReconfigRequest().catch(() => { this.stats.dropped++; });
  }

  close(): void {
    if (this._state === 'closed') return;
    this.sctp.stop().catch(() => {});
    this.setState('closed');
  }

  private setState(s: SctpState): void {
    if (this._state === s || this._state === 'closed') return;
    this._state = s;
    try { this.events.stateChange(s); } catch { /* consumer */ }
  }
}
