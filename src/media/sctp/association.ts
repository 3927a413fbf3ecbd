/**
 * SctpAssociation: the narrow interface the data-channel layer needs from SCTP (RFC 8261: SCTP packets
 * carried as DTLS application data), and its implementation over our sans-IO SctpCore
 * (association-core.ts). This file is the core's glue to the clock: the core's deadline goes to the
 * thread's shared SctpClock (clock.ts: one Node timer for every association), and output is drained
 * after every input.
 *
 * Bundling: messages sent in the same tick leave together. send() only queues; the drain runs from one
 * microtask per tick shared by every association of the thread (or right away after an incoming
 * packet, with the SACK it owes). The packets of one drain go to `transmit` back to back, then
 * `transmitted`: over DTLS they share datagrams.
 */
import { performance } from 'node:perf_hooks';
import { SctpCore, type SctpCoreState } from './association-core.js';
import { sctpClock, type DrainClient, type SctpClock } from './clock.js';

export interface SctpSendOptions {
  ordered: boolean;
  maxRetransmits?: number;
  /** ms */
  maxPacketLifeTime?: number;
}

export type SctpState = 'new' | 'connecting' | 'connected' | 'closed';

export interface SctpAssociationEvents {
  /** An SCTP packet to send as DTLS application data. Consume it synchronously (it is a reused buffer). */
  transmit(packet: Buffer): void;
  /**
   * The packets of one drain have all been passed to `transmit` (called only after at least one): the
   * DTLS layer sends the records it has been packing into datagrams.
   */
  transmitted?(): void;
  /** One complete user message. */
  message(streamId: number, ppid: number, data: Buffer): void;
  /** Streams reset (incoming reset request from the peer, or completion of ours). */
  streamsReset(streamIds: number[]): void;
  stateChange(state: SctpState): void;
  /**
   * The association threw from its own timer or from packet input (a bug). It is no longer
   * trustworthy: the owner closes its PeerConnection.
   */
  fault?(err: unknown): void;
}

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
  /** SCTP client (sends INIT) — we use the DTLS client. The other side answers, and a collision is fine. */
  isClient: boolean;
  localPort?: number;
  /** From the remote SDP a=sctp-port (default 5000). */
  remotePort?: number;
  maxMessageSize?: number;
  /** Largest message we reassemble from the peer (default: 4x maxMessageSize, at least 1 MiB). */
  maxReceiveMessageSize?: number;
  /** Largest SCTP packet, bytes (over DTLS: the DTLS MTU minus DTLS_RECORD_OVERHEAD). */
  mtu?: number;
  /** Legacy: largest user-data fragment per DATA chunk; sets mtu to this plus the SCTP headers. */
  maxFragmentSize?: number;
  /** The clock for timers and drains (default: this thread's shared one). */
  clock?: SctpClock;
}

/** DTLS record header (13) + AES-GCM explicit nonce and tag (24). */
export const DTLS_RECORD_OVERHEAD = 13 + 24;
/** Per-datagram overhead around one DATA chunk: DTLS record + SCTP common header (12) + DATA chunk header (16). */
export const SCTP_DTLS_OVERHEAD = DTLS_RECORD_OVERHEAD + 12 + 16;

/** Default a=max-message-size we accept and advertise. */
export const DEFAULT_MAX_MESSAGE_SIZE = 262_144;

const toState = (s: SctpCoreState): SctpState =>
  s === 'established' || s === 'shutdown-pending' || s === 'shutdown-sent' ? 'connected'
    : s === 'closed' ? 'closed'
      : 'connecting';

export class CoreSctpAssociation implements SctpAssociation, DrainClient {
  readonly maxMessageSize: number;
  readonly core: SctpCore;
  private faults = 0;
  private _state: SctpState = 'new';
  private readonly clock: SctpClock;
  /** ClockClient: owned by the clock. */
  clockAt = Infinity;
  flushQueued = false;

  constructor(private readonly opts: SctpAssociationOptions, private readonly events: SctpAssociationEvents) {
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.clock = opts.clock ?? sctpClock;
    const mtu = opts.mtu ?? (opts.maxFragmentSize !== undefined ? opts.maxFragmentSize + 28 : 1200);
    this.core = new SctpCore({
      localPort: opts.localPort ?? 5000,
      remotePort: opts.remotePort ?? 5000,
      mtu,
      maxReceiveMessageSize: opts.maxReceiveMessageSize ?? Math.max(1 << 20, 4 * this.maxMessageSize),
      receiveWindow: Math.max(2 << 20, 2 * (opts.maxReceiveMessageSize ?? 4 * this.maxMessageSize)),
    }, {
      message: (sid, ppid, data) => {
        try { this.events.message(sid, ppid, data); } catch { /* consumer */ }
      },
      streamsReset: (ids) => {
        try { this.events.streamsReset(ids); } catch { /* consumer */ }
      },
      stateChange: (s) => this.setState(toState(s)),
    });
  }

  get state(): SctpState { return this._state; }
  get stats(): { packetsIn: number; dropped: number } {
    return { packetsIn: this.core.stats.packetsIn, dropped: this.core.stats.dropped + this.faults };
  }

  start(): void {
    if (this._state !== 'new') return;
    this.setState('connecting');
    if (this.opts.isClient) this.core.connect(performance.now());
    this.flush();
  }

  handlePacket(packet: Buffer): void {
    if (this._state === 'closed') return;
    try {
      this.core.handle(packet, performance.now());
    } catch (err) {
      this.fail(err);
      return;
    }
    this.flush();
  }

  send(streamId: number, ppid: number, data: Buffer, opts: SctpSendOptions): boolean {
    if (this._state !== 'connected' || data.length > this.maxMessageSize) return false;
    if (!this.core.send(streamId, ppid, data, opts, performance.now())) return false;
    this.flushSoon();
    return true;
  }

  resetStreams(streamIds: number[]): void {
    if (this._state !== 'connected') return;
    this.core.resetStreams(streamIds, performance.now());
    this.flushSoon();
  }

  close(): void {
    if (this._state === 'closed') return;
    this.core.abort();
    this.flush();
    this.setState('closed');
    this.stopTimer();
  }

  private flushSoon(): void {
    this.clock.soon(this);
  }

  /** ClockClient: the drain asked for by send(). */
  onFlush(): void {
    this.flush();
  }

  /** ClockClient: the core's deadline passed. */
  onClock(): void {
    this.flush();
  }

  /** Drains the core's packets to `transmit`, then re-arms the one timer. Faults go to the owner. */
  private flush(): void {
    try {
      const now = performance.now();
      let sent = false;
      for (let p = this.core.poll(now); p !== undefined; p = this.core.poll(now)) {
        sent = true;
        try { this.events.transmit(p); } catch { /* sink */ }
      }
      if (sent && this.events.transmitted !== undefined) {
        try { this.events.transmitted(); } catch { /* sink */ }
      }
      this.arm(this.core.deadline);
    } catch (err) {
      this.fail(err);
    }
  }

  private arm(at: number): void {
    // The deadline moves both ways (a SACK stops T3): the clock keeps one Node timer for the thread.
    this.clock.set(this, this._state === 'closed' ? Infinity : at);
  }

  private stopTimer(): void {
    this.clock.set(this, Infinity);
  }

  private fail(err: unknown): void {
    this.faults++;
    this.stopTimer();
    try { this.events.fault?.(err); } catch { /* the owner's problem */ }
  }

  private setState(s: SctpState): void {
    if (this._state === s || this._state === 'closed') return;
    this._state = s;
    if (s === 'closed') this.stopTimer();
    try { this.events.stateChange(s); } catch { /* consumer */ }
  }
}
