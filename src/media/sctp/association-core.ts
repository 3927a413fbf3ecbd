/**
 * SctpCore: a sans-IO SCTP association (RFC 9260) with the extensions WebRTC data channels use:
 * partial reliability (RFC 3758 FORWARD-TSN) and stream reset (RFC 6525 RE-CONFIG). Bytes and time
 * in, bytes and one deadline out; no timers, promises or sockets inside:
 *
 *   core.connect(now)                     we initiate (send INIT); the other side may too (collision is fine)
 *   core.handle(packet, now)              one SCTP packet (DTLS application data) arrived
 *   core.send(sid, ppid, data, opts, now) queue one user message (fragmented to the MTU)
 *   core.poll(now) -> Buffer | undefined  fires due timers, then the next packet to send; call until undefined
 *   core.deadline                         when poll() next has work without input (ms, same clock), or Infinity
 *
 * Messages, stream resets and state changes go to the sink synchronously, from inside handle()/poll().
 * A packet returned by poll() is a view of a scratch buffer: consume it (encrypt, copy) before the next call.
 *
 * Scope: one path, no multi-homing, no association restart (an INIT with a new tag after establishment
 * is answered but its cookie rejected), plain DATA only (no I-DATA / RFC 8260: Chromium and Firefox do
 * not negotiate it by default), no message interleaving, a single FIFO send queue (no stream scheduler).
 */
import { randomBytes } from 'node:crypto';
import { sctpChecksum } from './crc32c.js';
import { FLAG_BEGIN, FLAG_END, FLAG_UNORDERED, SctpReceiver, tsnLe, tsnLt } from './receiver.js';

export type SctpCoreState = 'closed' | 'cookie-wait' | 'cookie-echoed' | 'established' | 'shutdown-pending' | 'shutdown-sent' | 'listen';

export interface SctpCoreSink {
  message(sid: number, ppid: number, data: Buffer): void;
  /** Incoming streams the peer reset, and outgoing streams whose reset the peer performed. */
  streamsReset(ids: number[]): void;
  stateChange(state: SctpCoreState): void;
}

export interface SctpCoreOptions {
  localPort?: number;
  remotePort?: number;
  /** Largest SCTP packet we send, bytes (1200 is safe; over DTLS: the DTLS MTU minus record overhead). */
  mtu?: number;
  /** Receive window advertised, bytes. */
  receiveWindow?: number;
  /** Largest message reassembled; larger ones are dropped. */
  maxReceiveMessageSize?: number;
  /** Bytes queued for sending (unacknowledged included) beyond which send() refuses. */
  maxBufferedBytes?: number;
  rtoInitial?: number;
  rtoMin?: number;
  rtoMax?: number;
  /** Idle time between HEARTBEATs, ms. */
  heartbeatInterval?: number;
  /** Delayed SACK, ms (RFC 9260: at most 500; 200 is usual). */
  sackDelay?: number;
  /** Consecutive retransmission timeouts before the association is given up (Association.Max.Retrans). */
  maxRetransmissions?: number;
  maxInitRetransmits?: number;
}

export interface SctpCoreSendOptions {
  ordered: boolean;
  maxRetransmits?: number | undefined;
  /** ms */
  maxPacketLifeTime?: number | undefined;
}

// Chunk types (RFC 9260 §3.2, RFC 3758, RFC 6525).
const CT_DATA = 0;
const CT_INIT = 1;
const CT_INIT_ACK = 2;
const CT_SACK = 3;
const CT_HEARTBEAT = 4;
const CT_HEARTBEAT_ACK = 5;
const CT_ABORT = 6;
const CT_SHUTDOWN = 7;
const CT_SHUTDOWN_ACK = 8;
const CT_ERROR = 9;
const CT_COOKIE_ECHO = 10;
const CT_COOKIE_ACK = 11;
const CT_SHUTDOWN_COMPLETE = 14;
const CT_RECONFIG = 0x82;
const CT_FORWARD_TSN = 0xc0;

// Parameters.
const PT_STATE_COOKIE = 7;
const PT_SUPPORTED_EXTENSIONS = 0x8008;
const PT_FORWARD_TSN_SUPPORTED = 0xc000;
const PT_HEARTBEAT_INFO = 1;
const PT_OUTGOING_RESET = 13;
const PT_INCOMING_RESET = 14;
const PT_RECONFIG_RESPONSE = 16;

// RE-CONFIG results (RFC 6525 §4.4).
const RESULT_SUCCESS_NOTHING = 0;
const RESULT_SUCCESS_PERFORMED = 1;
const RESULT_DENIED = 2;
const RESULT_BAD_SEQ = 5;
const RESULT_IN_PROGRESS = 6;

// Error causes.
const CAUSE_USER_ABORT = 12;

/** DATA chunk I bit (RFC 7053): acknowledge without delay. */
const FLAG_IMMEDIATE = 0x08;
const COMMON_HEADER = 12;
const DATA_HEADER = 16;
const COOKIE_MAGIC = 0x50544e53; // 'PTNS'
const COOKIE_LEN = 32;
/** INIT chunk with our two parameters (Supported Extensions, Forward-TSN-Supported). */
const INIT_BODY = 32;
const MAX_STREAMS = 65535;

// Outgoing chunk states.
const S_UNSENT = 0;
const S_INFLIGHT = 1;
const S_RTX = 2;
const S_ACKED = 3;
const S_ABANDONED = 4;

/** A message sent with partial reliability: shared by its fragments (abandoned together, RFC 3758 §3.5). */
interface PrMessage {
  expiresAt: number;
  maxRetransmits: number;
}

interface OutChunk {
  tsn: number;
  sid: number;
  ssn: number;
  ppid: number;
  flags: number;
  data: Buffer;
  pr: PrMessage | null;
  state: number;
  sentAt: number;
  txCount: number;
  miss: number;
  fastRtx: boolean;
}

interface PendingControl {
  chunk: Buffer;
  /** Verification tag for this packet when not the peer's (INIT: 0); sent alone. */
  vtag: number;
}

const pad4 = (n: number): number => (n + 3) & ~3;

export class SctpCore {
  readonly stats = {
    packetsIn: 0, packetsOut: 0, dropped: 0, dataChunksOut: 0, retransmits: 0, fastRetransmits: 0, t3Expiries: 0,
    abandoned: 0, messagesOut: 0,
  };
  private _state: SctpCoreState;
  readonly mtu: number;
  private readonly localPort: number;
  private readonly remotePort: number;
  private readonly localTag: number;
  private peerTag = 0;
  private readonly initialTsn: number;
  private readonly receiver: SctpReceiver;
  private readonly opts: Required<SctpCoreOptions>;
  private peerForwardTsn = false;
  private peerReconfig = false;
  private outStreams = MAX_STREAMS;
  private inStreams = MAX_STREAMS;

  // ---- send side
  private nextTsn: number;
  /** Chunks with TSN > cumAckPoint, in TSN order, from index `head`. */
  private outq: OutChunk[] = [];
  private head = 0;
  /** Index of the first never-sent chunk. */
  private nextSend = 0;
  private cumAckPoint: number;
  private advancedAckPoint: number;
  private readonly outSsn = new Map<number, number>();
  private flightSize = 0;
  private queuedBytes = 0;
  private rtxPending = 0;
  private peerRwnd = 0;
  private cwnd: number;
  private ssthresh: number;
  private partialBytesAcked = 0;
  private inFastRecovery = false;
  private fastRecoveryExit = 0;
  private fwdTsnNeeded = false;
  private errorCount = 0;

  // ---- RTT (RFC 9260 §6.3)
  private srtt = 0;
  private rttvar = 0;
  private rto: number;
  private rttTsn = -1;
  private rttSentAt = 0;

  // ---- timers (absolute ms; Infinity = stopped)
  private t1At = Infinity;
  private t1Count = 0;
  private t3At = Infinity;
  private sackAt = Infinity;
  private hbAt = Infinity;
  private hbOutstanding = false;
  private reconfigAt = Infinity;
  private t2At = Infinity;
  private t2Count = 0;
  private lastActivity = 0;

  // ---- control output
  private ctrl: PendingControl[] = [];
  private sackNeeded = false;
  private dataPacketsSinceSack = 0;
  /** INIT or COOKIE-ECHO to retransmit on T1. */
  private t1Chunk: PendingControl | null = null;

  // ---- stream reset (RFC 6525)
  private reqSeq: number;
  private peerReqSeq = 0;
  private readonly resetQueue: number[] = [];
  private resetInFlight: { seq: number; ids: number[]; lastTsn: number; chunk: Buffer } | null = null;
  /** Per stream: 1 our outgoing reset requested, 2 peer reset performed, 4 our reset performed. */
  private readonly resetCycle = new Map<number, number>();
  private lastPeerResponse: { seq: number; result: number } | null = null;
  private deferredPeerReset: { seq: number; ids: number[]; lastTsn: number } | null = null;

  private readonly scratch: Buffer;
  /** Abort cause to send (the ABORT goes out on the next poll, then the association is closed). */
  private abortPending = false;

  constructor(opts: SctpCoreOptions, private readonly sink: SctpCoreSink) {
    this.opts = {
      localPort: opts.localPort ?? 5000,
      remotePort: opts.remotePort ?? 5000,
      mtu: Math.max(256, Math.min(65_535, Math.floor(opts.mtu ?? 1200))),
      receiveWindow: opts.receiveWindow ?? 2 * 1024 * 1024,
      maxReceiveMessageSize: opts.maxReceiveMessageSize ?? 1024 * 1024,
      maxBufferedBytes: opts.maxBufferedBytes ?? 16 * 1024 * 1024,
      rtoInitial: opts.rtoInitial ?? 1000,
      // RFC 9260's RTO.Min (usrsctp's, so Janus's, too). The peer may hold its SACK for a lone packet
      // 200 ms (Chromium and we do), and a loaded receiver adds its event-loop lag: with 200 ms here, a
      // T3 fired while the SACK was on its way, collapsing cwnd to one MTU, and with one packet in flight
      // the peer's delayed SACK then paced the association at a few messages per 200 ms; a room at 1
      // message/s per member queued for seconds. Real loss in a stream of messages is fast-retransmitted.
      rtoMin: opts.rtoMin ?? 1000,
      rtoMax: opts.rtoMax ?? 10_000,
      heartbeatInterval: opts.heartbeatInterval ?? 30_000,
      sackDelay: opts.sackDelay ?? 200,
      maxRetransmissions: opts.maxRetransmissions ?? 10,
      maxInitRetransmits: opts.maxInitRetransmits ?? 8,
    };
    this.mtu = this.opts.mtu & ~3;
    this.localPort = this.opts.localPort;
    this.remotePort = this.opts.remotePort;
    const r = randomBytes(8);
    this.localTag = r.readUInt32BE(0) || 1;
    this.initialTsn = r.readUInt32BE(4);
    this.nextTsn = this.initialTsn;
    this.cumAckPoint = (this.initialTsn - 1) >>> 0;
    this.advancedAckPoint = this.cumAckPoint;
    this.reqSeq = this.initialTsn;
    this.rto = this.opts.rtoInitial;
    this.cwnd = Math.min(4 * this.mtu, Math.max(2 * this.mtu, 4404));
    this.ssthresh = this.opts.receiveWindow;
    this.receiver = new SctpReceiver(sink, this.opts.receiveWindow, this.opts.maxReceiveMessageSize);
    this._state = 'listen';
    this.scratch = Buffer.alloc(this.mtu);
  }

  get state(): SctpCoreState { return this._state; }
  get established(): boolean { return this._state === 'established'; }
  /** Bytes queued and not yet acknowledged (RTCDataChannel.bufferedAmount, association-wide). */
  get bufferedAmount(): number { return this.queuedBytes; }
  get congestionWindow(): number { return this.cwnd; }
  get receiverStats(): SctpReceiver['stats'] { return this.receiver.stats; }
  get deadline(): number {
    return Math.min(this.t1At, this.t3At, this.sackAt, this.hbAt, this.reconfigAt, this.t2At);
  }

  /** Starts the association as the initiator (INIT). */
  connect(now: number): void {
    if (this._state !== 'listen') return;
    const c = Buffer.alloc(INIT_BODY);
    this.writeInitBody(c, CT_INIT);
    this.t1Chunk = { chunk: c, vtag: 0 };
    this.ctrl.push(this.t1Chunk);
    this.t1Count = 0;
    this.t1At = now + this.rto;
    this.setState('cookie-wait');
  }

  /** Queues one user message. False when not established, too big for the buffer, or the stream id is invalid. */
  send(sid: number, ppid: number, data: Buffer, o: SctpCoreSendOptions, now: number): boolean {
    if (this._state !== 'established' || sid < 0 || sid >= this.outStreams || data.length === 0) return false;
    if (this.queuedBytes + data.length > this.opts.maxBufferedBytes) return false;
    const ordered = o.ordered;
    let ssn = 0;
    if (ordered) {
      ssn = this.outSsn.get(sid) ?? 0;
      this.outSsn.set(sid, (ssn + 1) & 0xffff);
    }
    let pr: PrMessage | null = null;
    if (this.peerForwardTsn && (o.maxRetransmits !== undefined || o.maxPacketLifeTime !== undefined)) {
      pr = {
        maxRetransmits: o.maxRetransmits ?? Infinity,
        expiresAt: o.maxPacketLifeTime !== undefined ? now + o.maxPacketLifeTime : Infinity,
      };
    }
    const frag = this.mtu - COMMON_HEADER - DATA_HEADER;
    const n = Math.max(1, Math.ceil(data.length / frag));
    const base = ordered ? 0 : FLAG_UNORDERED;
    for (let i = 0; i < n; i++) {
      const part = n === 1 ? data : data.subarray(i * frag, Math.min(data.length, (i + 1) * frag));
      this.outq.push({
        tsn: this.nextTsn, sid, ssn, ppid, data: part, pr,
        flags: base | (i === 0 ? FLAG_BEGIN : 0) | (i === n - 1 ? FLAG_END : 0),
        state: S_UNSENT, sentAt: 0, txCount: 0, miss: 0, fastRtx: false,
      });
      this.nextTsn = (this.nextTsn + 1) >>> 0;
    }
    this.queuedBytes += data.length;
    this.stats.messagesOut++;
    return true;
  }

  /** Outgoing stream reset (RFC 6525 §5.1.2): how a data channel is closed (RFC 8831 §6.7). */
  resetStreams(ids: readonly number[], now: number): void {
    if (this._state !== 'established' || !this.peerReconfig) return;
    for (const id of ids) {
      if (id < 0 || id > 0xffff) continue;
      const bits = this.resetCycle.get(id) ?? 0;
      if (bits & 1) continue;
      this.resetCycle.set(id, bits | 1);
      this.resetQueue.push(id);
    }
    this.maybeSendReset(now);
  }

  /** Graceful close (SHUTDOWN once everything queued is acknowledged). */
  shutdown(): void {
    if (this._state === 'established') this.setState('shutdown-pending');
    else if (this._state !== 'shutdown-pending' && this._state !== 'shutdown-sent') this.abort();
  }

  /** Immediate close: an ABORT goes out on the next poll(). */
  abort(): void {
    if (this._state === 'closed') return;
    if (this._state !== 'listen' && this.peerTag !== 0) this.abortPending = true;
    this.toClosed();
  }

  // ================================================================= input

  /** One received SCTP packet. Never throws on bad bytes (drops them). */
  handle(p: Buffer, now: number): void {
    this.stats.packetsIn++;
    if (p.length < COMMON_HEADER + 4) { this.stats.dropped++; return; }
    if (p.readUInt32LE(8) !== sctpChecksum(p)) { this.stats.dropped++; return; }
    const vtag = p.readUInt32BE(4);
    const first = p[COMMON_HEADER]!;
    if (this._state === 'closed') {
      // Out of the blue (RFC 9260 §8.4): answer a SHUTDOWN-ACK so the peer can finish; ignore the rest.
      if (first === CT_SHUTDOWN_ACK) this.queueShutdownComplete(vtag, true);
      return;
    }
    if (first === CT_INIT) {
      if (vtag !== 0) { this.stats.dropped++; return; }
    } else if (first === CT_ABORT || first === CT_SHUTDOWN_COMPLETE) {
      const t = (p[COMMON_HEADER + 1]! & 1) === 1;
      if (vtag !== (t ? this.peerTag : this.localTag)) { this.stats.dropped++; return; }
    } else if (vtag !== this.localTag) {
      this.stats.dropped++;
      return;
    }
    this.lastActivity = now;
    let off = COMMON_HEADER;
    let sawData = false;
    while (off + 4 <= p.length) {
      const type = p[off]!;
      const flags = p[off + 1]!;
      const len = p.readUInt16BE(off + 2);
      if (len < 4 || off + len > p.length) { this.stats.dropped++; break; }
      const body = p.subarray(off + 4, off + len);
      let stop = false;
      switch (type) {
        case CT_DATA: if (this.onData(flags, body)) sawData = true; break;
        case CT_SACK: this.onSack(body, now); break;
        case CT_INIT: this.onInit(body); stop = true; break;
        case CT_INIT_ACK: this.onInitAck(body, now); break;
        case CT_COOKIE_ECHO: this.onCookieEcho(body, now); break;
        case CT_COOKIE_ACK: if (this._state === 'cookie-echoed') this.onEstablished(now); break;
        case CT_HEARTBEAT: this.onHeartbeat(body); break;
        case CT_HEARTBEAT_ACK: this.onHeartbeatAck(body, now); break;
        case CT_ABORT: this.toClosed(); return;
        case CT_SHUTDOWN: this.onShutdown(body, now); break;
        case CT_SHUTDOWN_ACK: this.onShutdownAck(); return;
        case CT_SHUTDOWN_COMPLETE: if (this._state === 'shutdown-sent') this.toClosed(); return;
        case CT_ERROR: break;
        case CT_FORWARD_TSN: this.onForwardTsn(body); break;
        case CT_RECONFIG: this.onReconfig(body, now); break;
        default:
          // Unknown: the two high bits say whether to skip it or drop the rest (§3.2); we never report.
          if ((type & 0x80) === 0) stop = true;
      }
      if (stop || (this._state as SctpCoreState) === 'closed') break;
      off += pad4(len);
    }
    if (sawData) {
      this.dataPacketsSinceSack++;
      // Immediately on gaps or duplicates (§6.7), else every second packet or after the delay.
      if (this.receiver.gaps.length > 0 || this.receiver.dups.length > 0 || this.dataPacketsSinceSack >= 2) this.sackNeeded = true;
      else if (this.sackAt === Infinity) this.sackAt = now + this.opts.sackDelay;
      this.checkDeferredReset();
    }
  }

  private onData(flags: number, b: Buffer): boolean {
    if (this._state !== 'established' && this._state !== 'shutdown-pending' && this._state !== 'shutdown-sent') return false;
    if (b.length < 12) { this.stats.dropped++; return false; }
    if (b.length === 12) { this.stats.dropped++; return true; } // no user data (§3.3.1): ack, never deliver
    const sid = b.readUInt16BE(4);
    if (sid >= this.inStreams) { this.stats.dropped++; return false; }
    if (flags & FLAG_IMMEDIATE) this.sackNeeded = true; // RFC 7053: the sender waits for this SACK
    const v = this.receiver.onData(b.readUInt32BE(0), flags & 7, sid, b.readUInt16BE(6), b.readUInt32BE(8), b.subarray(12));
    if (v === 'too-large') {
      this.abortPending = true;
      this.toClosed();
      return false;
    }
    return true;
  }

  private onInit(b: Buffer): void {
    const init = parseInit(b);
    if (init === null) { this.stats.dropped++; return; }
    // Any state (listen, our own INIT outstanding = collision §5.2.1, or established = restart attempt):
    // answer with our own tag; the cookie carries everything, we keep no state for it.
    const cookie = Buffer.alloc(COOKIE_LEN);
    cookie.writeUInt32BE(COOKIE_MAGIC, 0);
    cookie.writeUInt32BE(this.localTag, 4);
    cookie.writeUInt32BE(init.tag, 8);
    cookie.writeUInt32BE(init.initialTsn, 12);
    cookie.writeUInt32BE(init.rwnd, 16);
    cookie.writeUInt16BE(init.os, 20);
    cookie.writeUInt16BE(init.mis, 22);
    cookie[24] = (init.forwardTsn ? 1 : 0) | (init.reconfig ? 2 : 0);
    const c = Buffer.alloc(INIT_BODY + 4 + COOKIE_LEN);
    this.writeInitBody(c, CT_INIT_ACK);
    c.writeUInt16BE(PT_STATE_COOKIE, INIT_BODY);
    c.writeUInt16BE(4 + COOKIE_LEN, INIT_BODY + 2);
    cookie.copy(c, INIT_BODY + 4);
    this.ctrl.push({ chunk: c, vtag: init.tag });
  }

  private onInitAck(b: Buffer, now: number): void {
    if (this._state !== 'cookie-wait') return;
    const init = parseInit(b);
    if (init === null || init.cookie === null) { this.stats.dropped++; return; }
    this.adoptPeer(init);
    const c = Buffer.alloc(4 + pad4(init.cookie.length));
    c[0] = CT_COOKIE_ECHO;
    c.writeUInt16BE(4 + init.cookie.length, 2);
    init.cookie.copy(c, 4);
    this.t1Chunk = { chunk: c, vtag: -1 };
    this.ctrl.push(this.t1Chunk);
    this.t1Count = 0;
    this.t1At = now + this.rto;
    this.setState('cookie-echoed');
  }

  private onCookieEcho(b: Buffer, now: number): void {
    if (b.length < COOKIE_LEN || b.readUInt32BE(0) !== COOKIE_MAGIC || b.readUInt32BE(4) !== this.localTag) { this.stats.dropped++; return; }
    if (this._state === 'listen' || this._state === 'cookie-wait' || this._state === 'cookie-echoed') {
      const peerTag = b.readUInt32BE(8);
      if (this._state === 'cookie-echoed' && peerTag !== this.peerTag) { this.stats.dropped++; return; }
      this.adoptPeer({
        tag: peerTag, initialTsn: b.readUInt32BE(12), rwnd: b.readUInt32BE(16), os: b.readUInt16BE(20), mis: b.readUInt16BE(22),
        forwardTsn: (b[24]! & 1) !== 0, reconfig: (b[24]! & 2) !== 0, cookie: null,
      });
      this.onEstablished(now);
    } else if (b.readUInt32BE(8) !== this.peerTag) {
      this.stats.dropped++; // restart: not supported
      return;
    }
    const ack = Buffer.alloc(4);
    ack[0] = CT_COOKIE_ACK;
    ack.writeUInt16BE(4, 2);
    this.ctrl.push({ chunk: ack, vtag: -1 });
  }

  private adoptPeer(init: ParsedInit): void {
    if (this.peerTag !== 0 && this._state !== 'cookie-wait') return;
    this.peerTag = init.tag;
    this.receiver.init(init.initialTsn);
    this.peerReqSeq = init.initialTsn;
    this.peerRwnd = init.rwnd;
    this.outStreams = Math.min(MAX_STREAMS, init.mis);
    this.inStreams = Math.min(MAX_STREAMS, init.os);
    this.peerForwardTsn = init.forwardTsn;
    this.peerReconfig = init.reconfig;
  }

  private onEstablished(now: number): void {
    this.t1At = Infinity;
    this.t1Chunk = null;
    this.hbAt = now + this.opts.heartbeatInterval;
    this.setState('established');
  }

  private onSack(b: Buffer, now: number): void {
    if (b.length < 12 || (this._state !== 'established' && this._state !== 'shutdown-pending' && this._state !== 'shutdown-sent')) return;
    const cumAck = b.readUInt32BE(0);
    const arwnd = b.readUInt32BE(4);
    const nGaps = b.readUInt16BE(8);
    if (12 + 4 * nGaps > b.length) { this.stats.dropped++; return; }
    this.applyAck(cumAck, now);
    if (tsnLt(cumAck, this.cumAckPoint)) return; // stale (reordered) SACK
    // Gap blocks: mark acked, note the highest TSN newly acked (HTNA) for miss indications.
    let htna = -1;
    const baseTsn = (this.cumAckPoint + 1) >>> 0;
    for (let i = 0; i < nGaps; i++) {
      const s = b.readUInt16BE(12 + 4 * i);
      const e = b.readUInt16BE(14 + 4 * i);
      if (s === 0 || e < s) continue;
      for (let off = s; off <= e; off++) {
        const idx = this.head + ((((cumAck + off) >>> 0) - baseTsn) | 0);
        if (idx < this.head || idx >= this.nextSend) break;
        const c = this.outq[idx]!;
        if (c.state === S_INFLIGHT || c.state === S_RTX) {
          if (c.state === S_INFLIGHT) this.flightSize -= c.data.length;
          else this.rtxPending--;
          c.state = S_ACKED;
          htna = idx;
        }
      }
    }
    if (htna >= 0) {
      for (let i = this.head; i < htna; i++) {
        const c = this.outq[i]!;
        if (c.state !== S_INFLIGHT) continue;
        if (++c.miss >= 3 && !c.fastRtx) {
          c.fastRtx = true;
          if (!this.inFastRecovery) {
            this.inFastRecovery = true;
            this.fastRecoveryExit = (this.nextTsn - 1) >>> 0;
            this.ssthresh = Math.max(this.cwnd >> 1, 4 * this.mtu);
            this.cwnd = this.ssthresh;
            this.partialBytesAcked = 0;
          }
          this.stats.fastRetransmits++;
          this.markRtx(c, now);
        }
      }
    }
    this.peerRwnd = Math.max(0, arwnd - this.flightSize);
    this.updateAdvancedAckPoint();
    if (this.flightSize === 0 && this.rtxPending === 0 && this.advancedAckPoint === this.cumAckPoint) this.t3At = Infinity;
    else if (this.t3At === Infinity) this.t3At = now + this.rto;
  }

  /** Cumulative acknowledgement (SACK or SHUTDOWN): frees acked chunks, RTT, congestion window. */
  private applyAck(cumAck: number, now: number): void {
    if (!tsnLt(this.cumAckPoint, cumAck)) return;
    if (tsnLt(cumAck, this.cumAckPoint) || tsnLe(this.nextTsn, cumAck)) { this.stats.dropped++; return; } // acks what we never sent
    const n = ((cumAck - this.cumAckPoint) >>> 0);
    if (this.head + n > this.nextSend) { this.stats.dropped++; return; }
    let acked = 0;
    for (let i = this.head; i < this.head + n; i++) {
      const c = this.outq[i]!;
      if (c.state === S_INFLIGHT) { this.flightSize -= c.data.length; acked += c.data.length; }
      else if (c.state === S_RTX) { this.rtxPending--; acked += c.data.length; }
      if (c.state !== S_ABANDONED) this.queuedBytes -= c.data.length;
      this.outq[i] = undefined as unknown as OutChunk; // release the data now
    }
    this.head += n;
    this.cumAckPoint = cumAck;
    if (tsnLt(this.advancedAckPoint, cumAck)) this.advancedAckPoint = cumAck;
    if (this.head > 256 && this.head * 2 > this.outq.length) {
      this.outq = this.outq.slice(this.head);
      this.nextSend -= this.head;
      this.head = 0;
    }
    this.errorCount = 0;
    if (this.rttTsn >= 0 && tsnLe(this.rttTsn, cumAck)) {
      this.measureRtt(now - this.rttSentAt);
      this.rttTsn = -1;
    }
    if (this.inFastRecovery && tsnLe(this.fastRecoveryExit, cumAck)) this.inFastRecovery = false;
    if (!this.inFastRecovery && acked > 0) {
      if (this.cwnd <= this.ssthresh) {
        this.cwnd += Math.min(acked, this.mtu);
      } else {
        this.partialBytesAcked += acked;
        if (this.partialBytesAcked >= this.cwnd) {
          this.partialBytesAcked -= this.cwnd;
          this.cwnd += this.mtu;
        }
      }
    }
    this.t3At = this.flightSize > 0 || this.rtxPending > 0 ? now + this.rto : Infinity;
  }

  private measureRtt(r: number): void {
    if (!(r >= 0)) return;
    if (this.srtt === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.min(this.opts.rtoMax, Math.max(this.opts.rtoMin, this.srtt + 4 * this.rttvar));
  }

  /** Marks an outstanding chunk for retransmission, or abandons its message (RFC 3758 §3.5). */
  private markRtx(c: OutChunk, now: number): void {
    if (c.pr !== null && (c.txCount > c.pr.maxRetransmits || c.pr.expiresAt <= now)) {
      this.abandon(c);
      return;
    }
    if (c.state === S_INFLIGHT) this.flightSize -= c.data.length;
    if (c.state !== S_RTX) this.rtxPending++;
    c.state = S_RTX;
    if (this.rttTsn === c.tsn) this.rttTsn = -1; // Karn
  }

  /** Abandons every fragment of c's message still outstanding or unsent. */
  private abandon(c: OutChunk): void {
    const pr = c.pr;
    let i = this.head + ((c.tsn - ((this.cumAckPoint + 1) >>> 0)) | 0);
    while (i > this.head && this.outq[i - 1]!.pr === pr && pr !== null) i--;
    for (; i < this.outq.length; i++) {
      const x = this.outq[i]!;
      if (x !== c && (pr === null || x.pr !== pr)) break;
      if (x.state === S_ABANDONED) continue;
      if (x.state === S_INFLIGHT) this.flightSize -= x.data.length;
      else if (x.state === S_RTX) this.rtxPending--;
      this.queuedBytes -= x.data.length;
      x.state = S_ABANDONED;
      if (this.rttTsn === x.tsn) this.rttTsn = -1;
    }
    this.stats.abandoned++;
  }

  /** RFC 3758 §3.5 C: advance over abandoned chunks; a FORWARD-TSN is due if that moves past the cumulative point. */
  private updateAdvancedAckPoint(): void {
    if (!this.peerForwardTsn) return;
    let i = this.head + ((((this.advancedAckPoint + 1) >>> 0) - ((this.cumAckPoint + 1) >>> 0)) | 0);
    while (i < this.outq.length && this.outq[i]!.state === S_ABANDONED) {
      this.advancedAckPoint = this.outq[i]!.tsn;
      i++;
    }
    if (this.nextSend < i) this.nextSend = i;
    if (tsnLt(this.cumAckPoint, this.advancedAckPoint)) this.fwdTsnNeeded = true;
  }

  private onForwardTsn(b: Buffer): void {
    if (this._state !== 'established' && this._state !== 'shutdown-pending' && this._state !== 'shutdown-sent') return;
    if (b.length < 4) { this.stats.dropped++; return; }
    const skips: Array<[number, number]> = [];
    for (let o = 4; o + 4 <= b.length; o += 4) skips.push([b.readUInt16BE(o), b.readUInt16BE(o + 2)]);
    this.receiver.onForwardTsn(b.readUInt32BE(0), skips);
    this.sackNeeded = true;
    this.checkDeferredReset();
  }

  private onHeartbeat(b: Buffer): void {
    if (this.peerTag === 0) return;
    const c = Buffer.alloc(4 + pad4(b.length));
    c[0] = CT_HEARTBEAT_ACK;
    c.writeUInt16BE(4 + b.length, 2);
    b.copy(c, 4);
    this.ctrl.push({ chunk: c, vtag: -1 });
  }

  private onHeartbeatAck(b: Buffer, now: number): void {
    if (b.length < 4 + 8 || b.readUInt16BE(0) !== PT_HEARTBEAT_INFO) return;
    const sent = b.readDoubleBE(4);
    if (!this.hbOutstanding || !(sent <= now)) return;
    this.hbOutstanding = false;
    this.errorCount = 0;
    this.measureRtt(now - sent);
  }

  private onShutdown(b: Buffer, now: number): void {
    if (b.length < 4 || this.peerTag === 0) return;
    this.applyAck(b.readUInt32BE(0), now);
    const c = Buffer.alloc(4);
    c[0] = CT_SHUTDOWN_ACK;
    c.writeUInt16BE(4, 2);
    this.ctrl.push({ chunk: c, vtag: -1 });
    // We stop here: the peer's SHUTDOWN-COMPLETE (or its retransmitted SHUTDOWN-ACK, answered out of the blue) ends it.
    this.toClosed();
  }

  private onShutdownAck(): void {
    if (this._state !== 'shutdown-sent' && this._state !== 'shutdown-pending') return;
    this.queueShutdownComplete(this.peerTag, false);
    this.toClosed();
  }

  private queueShutdownComplete(vtag: number, reflected: boolean): void {
    const c = Buffer.alloc(4);
    c[0] = CT_SHUTDOWN_COMPLETE;
    c[1] = reflected ? 1 : 0;
    c.writeUInt16BE(4, 2);
    this.ctrl.push({ chunk: c, vtag });
  }

  // ---------------------------------------------------------------- stream reset (RFC 6525)

  private onReconfig(b: Buffer, now: number): void {
    if (this._state !== 'established') return;
    let off = 0;
    while (off + 4 <= b.length) {
      const type = b.readUInt16BE(off);
      const len = b.readUInt16BE(off + 2);
      if (len < 4 || off + len > b.length) { this.stats.dropped++; return; }
      const p = b.subarray(off + 4, off + len);
      if (type === PT_OUTGOING_RESET && p.length >= 12) {
        this.onPeerOutgoingReset(p.readUInt32BE(0), p.readUInt32BE(8), streamList(p, 12), now);
      } else if (type === PT_INCOMING_RESET && p.length >= 4) {
        const seq = p.readUInt32BE(0);
        if (this.checkPeerSeq(seq)) {
          this.peerReqSeq = (seq + 1) >>> 0;
          // The peer asks us to reset our outgoing streams: our own request is the answer (§5.2.3).
          this.respond(seq, RESULT_SUCCESS_NOTHING);
          this.resetStreams(streamList(p, 4), now);
        }
      } else if (type === PT_RECONFIG_RESPONSE && p.length >= 8) {
        this.onReconfigResponse(p.readUInt32BE(0), p.readUInt32BE(4), now);
      } else if (p.length >= 4 && (type === 15 || type === 17 || type === 18)) {
        const seq = p.readUInt32BE(0);
        if (this.checkPeerSeq(seq)) { this.peerReqSeq = (seq + 1) >>> 0; this.respond(seq, RESULT_DENIED); }
      }
      off += pad4(len);
    }
  }

  /** True when `seq` is the next expected request; answers retransmissions and bad numbers itself. */
  private checkPeerSeq(seq: number): boolean {
    if (seq === this.peerReqSeq) return true;
    if (seq === ((this.peerReqSeq - 1) >>> 0)) {
      const last = this.lastPeerResponse;
      this.respond(seq, last !== null && last.seq === seq ? last.result : RESULT_IN_PROGRESS);
    } else {
      this.respond(seq, RESULT_BAD_SEQ);
    }
    return false;
  }

  private onPeerOutgoingReset(seq: number, lastTsn: number, ids: number[], now: number): void {
    if (!this.checkPeerSeq(seq)) return;
    this.peerReqSeq = (seq + 1) >>> 0;
    // Data the peer sent before the reset must arrive first (§5.2.2): defer until the cumulative TSN gets there.
    this.deferredPeerReset = { seq, ids, lastTsn };
    this.lastPeerResponse = { seq, result: RESULT_IN_PROGRESS };
    if (!this.checkDeferredReset(now)) this.respond(seq, RESULT_IN_PROGRESS);
  }

  private checkDeferredReset(now = this.lastActivity): boolean {
    const d = this.deferredPeerReset;
    if (d === null || !tsnLe(d.lastTsn, this.receiver.cum)) return false;
    this.deferredPeerReset = null;
    this.receiver.resetStreams(d.ids);
    this.lastPeerResponse = { seq: d.seq, result: RESULT_SUCCESS_PERFORMED };
    this.respond(d.seq, RESULT_SUCCESS_PERFORMED);
    const ours: number[] = [];
    for (const id of d.ids) {
      const bits = (this.resetCycle.get(id) ?? 0) | 2;
      if (!(bits & 1)) ours.push(id);
      if (bits & 4) this.resetCycle.delete(id);
      else this.resetCycle.set(id, bits);
    }
    this.safeSink(() => this.sink.streamsReset(d.ids.slice()));
    // RFC 8831 §6.7: a data channel closes in both directions; reset ours for the streams the peer closed.
    if (ours.length > 0) this.resetStreams(ours, now);
    return true;
  }

  private onReconfigResponse(seq: number, result: number, now: number): void {
    const r = this.resetInFlight;
    if (r === null || r.seq !== seq) return;
    if (result === RESULT_IN_PROGRESS) {
      this.reconfigAt = now + this.rto; // ask again later, same request
      return;
    }
    this.resetInFlight = null;
    this.reconfigAt = Infinity;
    if (result === RESULT_SUCCESS_PERFORMED || result === RESULT_SUCCESS_NOTHING) {
      for (const id of r.ids) {
        const bits = (this.resetCycle.get(id) ?? 0) | 4;
        if (bits & 2) this.resetCycle.delete(id);
        else this.resetCycle.set(id, bits);
      }
      this.safeSink(() => this.sink.streamsReset(r.ids.slice()));
    } else {
      for (const id of r.ids) this.resetCycle.delete(id);
    }
    this.maybeSendReset(now);
  }

  private maybeSendReset(now: number): void {
    if (this.resetInFlight !== null || this.resetQueue.length === 0 || this._state !== 'established') return;
    const ids = this.resetQueue.splice(0, Math.min(this.resetQueue.length, Math.floor((this.mtu - COMMON_HEADER - 4 - 16) / 2)));
    // New messages on these streams start again at SSN 0 (the peer resets its side at lastTsn).
    for (const id of ids) this.outSsn.delete(id);
    const seq = this.reqSeq;
    this.reqSeq = (this.reqSeq + 1) >>> 0;
    const lastTsn = (this.nextTsn - 1) >>> 0;
    const plen = 16 + 2 * ids.length;
    const c = Buffer.alloc(4 + pad4(plen));
    c[0] = CT_RECONFIG;
    c.writeUInt16BE(4 + plen, 2);
    c.writeUInt16BE(PT_OUTGOING_RESET, 4);
    c.writeUInt16BE(plen, 6);
    c.writeUInt32BE(seq, 8);
    c.writeUInt32BE((this.peerReqSeq - 1) >>> 0, 12);
    c.writeUInt32BE(lastTsn, 16);
    ids.forEach((id, k) => c.writeUInt16BE(id, 20 + 2 * k));
    this.resetInFlight = { seq, ids, lastTsn, chunk: c };
    this.ctrl.push({ chunk: c, vtag: -1 });
    this.reconfigAt = now + this.rto;
  }

  private respond(seq: number, result: number): void {
    const c = Buffer.alloc(16);
    c[0] = CT_RECONFIG;
    c.writeUInt16BE(16, 2);
    c.writeUInt16BE(PT_RECONFIG_RESPONSE, 4);
    c.writeUInt16BE(12, 6);
    c.writeUInt32BE(seq, 8);
    c.writeUInt32BE(result, 12);
    this.ctrl.push({ chunk: c, vtag: -1 });
  }

  // ================================================================= timers and output

  /** Fires due timers, then returns the next packet to send (a view valid until the next call), or undefined. */
  poll(now: number): Buffer | undefined {
    if (now >= this.deadline) this.fireTimers(now);
    if (this.abortPending) {
      this.abortPending = false;
      const c = Buffer.alloc(8);
      c[0] = CT_ABORT;
      c.writeUInt16BE(8, 2);
      c.writeUInt16BE(CAUSE_USER_ABORT, 4);
      c.writeUInt16BE(4, 6);
      return this.finishPacket(this.writeHeader(this.peerTag), c, 0);
    }
    if (this._state === 'shutdown-pending' && this.outq.length === this.head) this.sendShutdown(now);
    const ctl = this.ctrl.shift();
    if (ctl !== undefined) {
      if (ctl.vtag !== -1) return this.finishPacket(this.writeHeader(ctl.vtag), ctl.chunk, 0);
      // Bundle the following control chunks that share the peer's tag (SACK bundled below).
      let off = this.writeHeader(this.peerTag);
      ctl.chunk.copy(this.scratch, off);
      off += pad4(ctl.chunk.length);
      while (this.ctrl.length > 0 && this.ctrl[0]!.vtag === -1 && off + this.ctrl[0]!.chunk.length <= this.mtu) {
        const c = this.ctrl.shift()!.chunk;
        c.copy(this.scratch, off);
        off += pad4(c.length);
      }
      return this.fillData(off, now);
    }
    if (this._state === 'closed' || this.peerTag === 0) return undefined;
    const off = this.writeHeader(this.peerTag);
    const p = this.fillData(off, now);
    return p;
  }

  /** Adds SACK, FORWARD-TSN, retransmissions and new DATA to the packet under construction. */
  private fillData(off: number, now: number): Buffer | undefined {
    const start = COMMON_HEADER;
    const buf = this.scratch;
    const est = this._state === 'established' || this._state === 'shutdown-pending' || this._state === 'shutdown-sent';
    if (est && (this.sackNeeded || (this.sackAt <= now))) {
      const len = this.receiver.writeSack(buf, off, Math.min(this.mtu - off, 4 + 12 + 4 * 64));
      off += pad4(len);
      this.sackNeeded = false;
      this.sackAt = Infinity;
      this.dataPacketsSinceSack = 0;
    }
    if (est && this.fwdTsnNeeded) {
      this.fwdTsnNeeded = false;
      off = this.writeForwardTsn(off, now);
    }
    if (est && this._state !== 'shutdown-sent') off = this.writeDataChunks(off, now);
    if (off === start) return undefined;
    return this.finishPacket(COMMON_HEADER, null, off);
  }

  private writeDataChunks(off: number, now: number): number {
    const buf = this.scratch;
    const mtu = this.mtu;
    let wrote = false;
    // Retransmissions first (§6.1 C), within cwnd (the first one always: it is why we are here).
    if (this.rtxPending > 0) {
      for (let i = this.head; i < this.nextSend && this.rtxPending > 0; i++) {
        const c = this.outq[i]!;
        if (c.state !== S_RTX) continue;
        if (c.pr !== null && c.pr.expiresAt <= now) { this.abandon(c); this.updateAdvancedAckPoint(); continue; }
        if (off + DATA_HEADER + c.data.length > mtu) break;
        if (wrote && this.flightSize + c.data.length > this.cwnd) break;
        off = this.writeData(buf, off, c);
        this.rtxPending--;
        c.state = S_INFLIGHT;
        c.miss = 0;
        c.txCount++;
        c.sentAt = now;
        this.flightSize += c.data.length;
        this.stats.retransmits++;
        wrote = true;
      }
      if (this.fwdTsnNeeded) { this.fwdTsnNeeded = false; off = this.writeForwardTsn(off, now); }
    }
    // New data within cwnd and the peer's window (zero-window probe: one chunk when nothing is in flight).
    const q = this.outq;
    while (this.nextSend < q.length && this.rtxPending === 0) {
      const c = q[this.nextSend]!;
      if (c.state === S_ABANDONED) { this.nextSend++; continue; }
      if (c.pr !== null && c.pr.expiresAt <= now) { this.abandon(c); this.updateAdvancedAckPoint(); continue; }
      const size = c.data.length;
      if (off + DATA_HEADER + size > mtu) break;
      if (this.flightSize > 0 && (this.flightSize + size > this.cwnd || size > this.peerRwnd)) break;
      off = this.writeData(buf, off, c);
      c.state = S_INFLIGHT;
      c.txCount = 1;
      c.sentAt = now;
      this.flightSize += size;
      this.peerRwnd = Math.max(0, this.peerRwnd - size);
      this.nextSend++;
      if (this.rttTsn < 0) { this.rttTsn = c.tsn; this.rttSentAt = now; }
      wrote = true;
    }
    if (this.fwdTsnNeeded) { this.fwdTsnNeeded = false; off = this.writeForwardTsn(off, now); }
    if (wrote && this.t3At === Infinity) this.t3At = now + this.rto;
    return off;
  }

  private writeData(buf: Buffer, off: number, c: OutChunk): number {
    const len = DATA_HEADER + c.data.length;
    buf[off] = CT_DATA;
    buf[off + 1] = c.flags;
    buf.writeUInt16BE(len, off + 2);
    buf.writeUInt32BE(c.tsn, off + 4);
    buf.writeUInt16BE(c.sid, off + 8);
    buf.writeUInt16BE(c.ssn, off + 10);
    buf.writeUInt32BE(c.ppid, off + 12);
    c.data.copy(buf, off + 16);
    let end = off + len;
    while (end & 3) buf[end++] = 0;
    this.stats.dataChunksOut++;
    return end;
  }

  /** FORWARD-TSN (RFC 3758 §3.2): the new cumulative TSN and, per ordered stream, the last SSN skipped. */
  private writeForwardTsn(off: number, now: number): number {
    if (!tsnLt(this.cumAckPoint, this.advancedAckPoint)) return off;
    const buf = this.scratch;
    const n = (this.advancedAckPoint - this.cumAckPoint) >>> 0;
    const streams = new Map<number, number>();
    for (let i = this.head; i < this.head + n && i < this.outq.length; i++) {
      const c = this.outq[i]!;
      if (!(c.flags & FLAG_UNORDERED)) streams.set(c.sid, c.ssn);
    }
    const maxPairs = Math.floor((this.mtu - off - 8) / 4);
    if (maxPairs < streams.size) { this.fwdTsnNeeded = true; return off; } // next packet
    const len = 8 + 4 * streams.size;
    buf[off] = CT_FORWARD_TSN;
    buf[off + 1] = 0;
    buf.writeUInt16BE(len, off + 2);
    buf.writeUInt32BE(this.advancedAckPoint, off + 4);
    let p = off + 8;
    for (const [sid, ssn] of streams) {
      buf.writeUInt16BE(sid, p);
      buf.writeUInt16BE(ssn, p + 2);
      p += 4;
    }
    if (this.t3At === Infinity) this.t3At = now + this.rto;
    return off + len;
  }

  private sendShutdown(now: number): void {
    const c = Buffer.alloc(8);
    c[0] = CT_SHUTDOWN;
    c.writeUInt16BE(8, 2);
    c.writeUInt32BE(this.receiver.cum, 4);
    this.ctrl.push({ chunk: c, vtag: -1 });
    this.setState('shutdown-sent');
    this.t2At = now + this.rto;
  }

  private fireTimers(now: number): void {
    if (this.t1At <= now) {
      if (++this.t1Count > this.opts.maxInitRetransmits || this.t1Chunk === null) { this.toClosed(); return; }
      this.rto = Math.min(this.opts.rtoMax, this.rto * 2);
      this.ctrl.push(this.t1Chunk);
      this.t1At = now + this.rto;
    }
    if (this.t3At <= now) this.onT3(now);
    if (this._state === 'closed') return;
    if (this.sackAt <= now) this.sackNeeded = true;
    if (this.reconfigAt <= now) {
      const r = this.resetInFlight;
      this.reconfigAt = r !== null ? now + this.rto : Infinity;
      if (r !== null) this.ctrl.push({ chunk: r.chunk, vtag: -1 });
    }
    if (this.t2At <= now) {
      if (++this.t2Count > this.opts.maxRetransmissions) { this.abort(); return; }
      this.sendShutdown(now);
    }
    if (this.hbAt <= now) {
      if (this.hbOutstanding && ++this.errorCount > this.opts.maxRetransmissions) { this.abort(); return; }
      this.hbAt = now + this.opts.heartbeatInterval + this.rto;
      // Only when idle: data in flight measures the path already.
      if (now - this.lastActivity >= this.opts.heartbeatInterval || this.hbOutstanding) {
        const c = Buffer.alloc(4 + 4 + 8);
        c[0] = CT_HEARTBEAT;
        c.writeUInt16BE(16, 2);
        c.writeUInt16BE(PT_HEARTBEAT_INFO, 4);
        c.writeUInt16BE(12, 6);
        c.writeDoubleBE(now, 8);
        this.ctrl.push({ chunk: c, vtag: -1 });
        this.hbOutstanding = true;
      }
    }
  }

  /** T3-rtx expiry (§6.3.3): back off, collapse cwnd, retransmit everything outstanding. */
  private onT3(now: number): void {
    this.t3At = Infinity;
    if (this.flightSize === 0 && this.rtxPending === 0 && !tsnLt(this.cumAckPoint, this.advancedAckPoint)) return;
    this.stats.t3Expiries++;
    if (++this.errorCount > this.opts.maxRetransmissions) { this.abort(); return; }
    this.ssthresh = Math.max(this.cwnd >> 1, 4 * this.mtu);
    this.cwnd = this.mtu;
    this.partialBytesAcked = 0;
    this.inFastRecovery = false;
    this.rto = Math.min(this.opts.rtoMax, this.rto * 2);
    for (let i = this.head; i < this.nextSend; i++) {
      const c = this.outq[i]!;
      if (c.state === S_INFLIGHT) this.markRtx(c, now);
    }
    this.flightSize = 0;
    this.updateAdvancedAckPoint();
    if (tsnLt(this.cumAckPoint, this.advancedAckPoint)) this.fwdTsnNeeded = true;
    this.t3At = now + this.rto;
  }

  private writeHeader(vtag: number): number {
    const b = this.scratch;
    b.writeUInt16BE(this.localPort, 0);
    b.writeUInt16BE(this.remotePort, 2);
    b.writeUInt32BE(vtag >>> 0, 4);
    b.writeUInt32BE(0, 8);
    return COMMON_HEADER;
  }

  /** Appends `chunk` (if any) at the header's end, fills in the checksum, returns the packet view. */
  private finishPacket(off: number, chunk: Buffer | null, end: number): Buffer {
    const b = this.scratch;
    if (chunk !== null) {
      if (off + chunk.length > b.length) return this.oversized(chunk, off);
      chunk.copy(b, off);
      end = off + pad4(chunk.length);
      for (let i = off + chunk.length; i < end; i++) b[i] = 0;
    }
    b.writeUInt32LE(sctpChecksum(b, end), 8);
    this.stats.packetsOut++;
    return b.subarray(0, end);
  }

  /** A control chunk larger than the MTU (a long peer cookie or heartbeat echo): its own buffer. */
  private oversized(chunk: Buffer, off: number): Buffer {
    const p = Buffer.alloc(off + pad4(chunk.length));
    this.scratch.copy(p, 0, 0, off);
    chunk.copy(p, off);
    p.writeUInt32LE(sctpChecksum(p), 8);
    this.stats.packetsOut++;
    return p;
  }

  private writeInitBody(c: Buffer, type: number): void {
    c[0] = type;
    c.writeUInt16BE(c.length, 2);
    c.writeUInt32BE(this.localTag, 4);
    c.writeUInt32BE(this.opts.receiveWindow, 8);
    c.writeUInt16BE(MAX_STREAMS, 12);
    c.writeUInt16BE(MAX_STREAMS, 14);
    c.writeUInt32BE(this.initialTsn, 16);
    // Supported Extensions: RE-CONFIG and FORWARD-TSN (RFC 5061 §4.2.7).
    c.writeUInt16BE(PT_SUPPORTED_EXTENSIONS, 20);
    c.writeUInt16BE(6, 22);
    c[24] = CT_RECONFIG;
    c[25] = CT_FORWARD_TSN;
    c.writeUInt16BE(PT_FORWARD_TSN_SUPPORTED, 28);
    c.writeUInt16BE(4, 30);
  }

  private toClosed(): void {
    if (this._state === 'closed') return;
    this.t1At = this.t3At = this.sackAt = this.hbAt = this.reconfigAt = this.t2At = Infinity;
    this.outq = [];
    this.head = this.nextSend = 0;
    this.flightSize = this.queuedBytes = this.rtxPending = 0;
    // Nothing else may follow an ABORT; the shutdown handshake's last words still go out.
    this.ctrl = this.ctrl.filter((c) => c.chunk[0] === CT_SHUTDOWN_ACK || c.chunk[0] === CT_SHUTDOWN_COMPLETE);
    this.t1Chunk = null;
    this.resetInFlight = null;
    this.resetQueue.length = 0;
    this.setState('closed');
  }

  private setState(s: SctpCoreState): void {
    if (this._state === s) return;
    this._state = s;
    this.safeSink(() => this.sink.stateChange(s));
  }

  private safeSink(f: () => void): void {
    try { f(); } catch { /* the consumer's problem */ }
  }

}

interface ParsedInit {
  tag: number;
  rwnd: number;
  os: number;
  mis: number;
  initialTsn: number;
  forwardTsn: boolean;
  reconfig: boolean;
  cookie: Buffer | null;
}

/** INIT / INIT-ACK body (§3.3.2, §3.3.3); null if invalid (zero tag or stream counts, short). */
function parseInit(b: Buffer): ParsedInit | null {
  if (b.length < 16) return null;
  const r: ParsedInit = {
    tag: b.readUInt32BE(0), rwnd: b.readUInt32BE(4), os: b.readUInt16BE(8), mis: b.readUInt16BE(10),
    initialTsn: b.readUInt32BE(12), forwardTsn: false, reconfig: false, cookie: null,
  };
  if (r.tag === 0 || r.os === 0 || r.mis === 0) return null;
  let off = 16;
  while (off + 4 <= b.length) {
    const type = b.readUInt16BE(off);
    const len = b.readUInt16BE(off + 2);
    if (len < 4 || off + len > b.length) break;
    if (type === PT_STATE_COOKIE) r.cookie = Buffer.from(b.subarray(off + 4, off + len));
    else if (type === PT_FORWARD_TSN_SUPPORTED) r.forwardTsn = true;
    else if (type === PT_SUPPORTED_EXTENSIONS) {
      for (let i = off + 4; i < off + len; i++) {
        if (b[i] === CT_FORWARD_TSN) r.forwardTsn = true;
        if (b[i] === CT_RECONFIG) r.reconfig = true;
      }
    }
    off += pad4(len);
  }
  return r;
}

function streamList(p: Buffer, from: number): number[] {
  const ids: number[] = [];
  for (let o = from; o + 2 <= p.length; o += 2) ids.push(p.readUInt16BE(o));
  return ids;
}
