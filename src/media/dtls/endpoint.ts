/**
 * DtlsEndpoint: one DTLS 1.2 association (RFC 6347) for DTLS-SRTP (RFC 5764) and SCTP (RFC 8261).
 *
 * Sans-IO shape: bytes and time in (`handleDatagram`, `handleTimeout`, `send`), bytes and timers out
 * (`events.transmit`, `pollTimeout`). No sockets, no wall-clock timers of ours.
 *
 * The handshake state machine and key schedule come from a HandshakeEngine (werift-dtls today, see
 * werift-engine.ts). Around it we own:
 *  - record framing: outgoing flights are re-fragmented and packed into datagrams <= mtu, with fresh
 *    epoch-0 record sequence numbers on every (re)transmission;
 *  - incoming handshake reassembly (any order, duplicates, overlaps), delivered to the engine in order;
 *  - retransmission timers with exponential backoff (RFC 6347 §4.2.4), plus reactive retransmission
 *    when the peer repeats its previous flight;
 *  - peer authentication: certificate fingerprint (RFC 8122), ServerKeyExchange / CertificateVerify
 *    signatures and the peer's Finished (werift checks none of these);
 *  - alerts (parsing, sending close_notify / fatal alerts), application-data protection with our own
 *    epoch-1 sequence numbers (werift reuses sequence numbers — and so AES-GCM nonces — after Finished);
 *  - the protected record layer itself (record-protection.ts): once the engine has a master secret we
 *    derive the epoch-1 keys from it and protect/verify every record ourselves (the peer's Finished
 *    included), with keys imported once, a replay window, records opened in place, and records queued
 *    in one go (queue() ... flush()) sharing datagrams up to the MTU. werift's own record cipher is only
 *    a fallback for a cipher suite we do not implement (werift offers none today).
 *
 * Caveat: werift processes handshake messages asynchronously (promises), so some outputs and the
 * `connected` event are emitted from a microtask after `handleDatagram` returns, never synchronously.
 */
import { ALERT_BAD_CERTIFICATE, ALERT_CLOSE_NOTIFY, ALERT_DECRYPT_ERROR, ALERT_FATAL, ALERT_HANDSHAKE_FAILURE,
  ALERT_WARNING, CT_ALERT, CT_APPLICATION_DATA, CT_CHANGE_CIPHER_SPEC, CT_HANDSHAKE, HS_CERTIFICATE,
  HS_CERTIFICATE_VERIFY, HS_CLIENT_HELLO, HS_CLIENT_KEY_EXCHANGE, HS_FINISHED, HS_HELLO_VERIFY_REQUEST,
  HS_SERVER_HELLO, HS_SERVER_HELLO_DONE, HS_SERVER_KEY_EXCHANGE, MessageAssembler, RECORD_HEADER_LEN,
  buildRecord, encodeHandshake, packFlight, parseHandshakeFragments, parseRecords,
  type DtlsRecord, type FlightItem, type HandshakeMessage } from './record.js';
import { certificateMatches, fingerprintOf, type DtlsCertificate, type Fingerprint } from './certificate.js';
import { finishedVerifyData, helloRandom, parseCertificateList, publicKeyOf, verifyCertificateVerify,
  verifyServerKeyExchange } from './handshake-auth.js';
import { createWeriftEngine, type HandshakeEngine } from './werift-engine.js';
import { OPEN_AUTH_FAILED, OPEN_REPLAY, PROTECTED_RECORD_OVERHEAD, RecordProtection, deriveRecordKeys,
  isAes128GcmSuite } from './record-protection.js';
import type { GcmEngine } from './gcm.js';
import type { KeyObject } from 'node:crypto';
import { ownedCopy } from '../owned-buffer.js';

export const SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001;
export const SRTP_AEAD_AES_128_GCM = 0x0007;
export type SrtpProfile = typeof SRTP_AES128_CM_HMAC_SHA1_80 | typeof SRTP_AEAD_AES_128_GCM;

/** Master key and salt lengths per profile (RFC 5764 §4.1.2, RFC 7714 §12). */
export function srtpKeyLengths(profile: SrtpProfile): { keyLength: number; saltLength: number } {
  return profile === SRTP_AEAD_AES_128_GCM ? { keyLength: 16, saltLength: 12 } : { keyLength: 16, saltLength: 14 };
}

export type DtlsRole = 'client' | 'server';
export type DtlsState = 'new' | 'connecting' | 'connected' | 'closed';
export type DtlsCloseReason = 'alert' | 'timeout' | 'fingerprint-mismatch' | 'handshake-failure' | 'local';

export interface SrtpKeys {
  profile: SrtpProfile;
  /** client_write_key | server_write_key | client_write_salt | server_write_salt (RFC 5764 §4.2). */
  keyingMaterial: Buffer;
  localKey: Buffer;
  localSalt: Buffer;
  remoteKey: Buffer;
  remoteSalt: Buffer;
}

export interface DtlsConnectedInfo {
  /** Undefined if the peer did not negotiate use_srtp (data-channel-only peers may still). */
  srtp: SrtpKeys | undefined;
  remoteCertificate: Buffer;
  /** SHA-256 fingerprint of the peer certificate. */
  remoteFingerprint: Fingerprint;
}

export interface DtlsEndpointEvents {
  /** A datagram to send to the peer (never larger than mtu during the handshake). */
  transmit(datagram: Buffer): void;
  connected?(info: DtlsConnectedInfo): void;
  /**
   * Decrypted application data (SCTP packets): a view into the received datagram, which was decrypted
   * in place. Valid for as long as the datagram is (Node hands out a new Buffer per datagram).
   */
  data?(data: Buffer): void;
  /**
   * Optional pooled output for application-data datagrams: `acquireBuffer` lends a buffer to fill
   * (any size; one smaller than a record is ignored), `transmitBuffer` hands it back holding `len` bytes
   * to send, and the sink owns it again. Without them each such datagram is a new Buffer via `transmit`.
   */
  acquireBuffer?(): Buffer;
  transmitBuffer?(buf: Buffer, len: number): void;
  /** Terminal. Fires once. reason 'alert' when the peer sent close_notify or a fatal alert. */
  closed?(reason: DtlsCloseReason, detail: string): void;
  /** Fires (before `closed`) when the association ends without ever connecting. */
  failed?(error: Error): void;
}

export interface DtlsEndpointOptions {
  role: DtlsRole;
  certificate: DtlsCertificate;
  /** From the remote SDP a=fingerprint; the peer certificate must match one of them. */
  remoteFingerprints: readonly Fingerprint[];
  /** Janus dtls_mtu: max datagram size for handshake flights (default 1200). */
  mtu?: number;
  /** In preference order. Default: AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM. */
  srtpProfiles?: readonly SrtpProfile[];
  /** Initial retransmission timeout (RFC 6347: 1 s). */
  initialRtoMs?: number;
  maxRtoMs?: number;
  /** Retransmissions of one flight before giving up with reason 'timeout'. */
  maxRetransmits?: number;
  /** Max datagram size accepted from send() (a DTLS record can carry up to 2^14 bytes). */
  maxAppDataSize?: number;
  /** AES-GCM engine of the record layer (gcm.ts; default 'auto': by record size). */
  gcmEngine?: GcmEngine;
}

export interface DtlsStats {
  datagramsIn: number;
  datagramsOut: number;
  /** Malformed, undecryptable, unexpected or late input that was ignored. */
  dropped: number;
  retransmits: number;
  engineErrors: number;
}

const MAX_REORDER_AHEAD = 16;
const MAX_EARLY_APP_DATA = 32;

export class DtlsEndpoint {
  readonly role: DtlsRole;
  readonly mtu: number;
  readonly stats: DtlsStats = { datagramsIn: 0, datagramsOut: 0, dropped: 0, retransmits: 0, engineErrors: 0 };
  /** Application data (SCTP packets) carried once connected, for Admin handle_info. */
  readonly appStats = {
    packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0,
    /** Datagrams of application data sent, and records that shared one with an earlier record. */
    datagramsOut: 0, coalesced: 0,
    /** Protected records refused: failed authentication, or replayed. */
    authFailed: 0, replayed: 0,
  };
  /** When the handshake started and completed (the caller's clock, as passed in), -1 until then. */
  startedAt = -1;
  connectedAt = -1;

  private _state: DtlsState = 'new';
  private readonly opts: DtlsEndpointOptions;
  private readonly events: DtlsEndpointEvents;
  private readonly engine: HandshakeEngine;
  private remoteFingerprints: Fingerprint[];
  private now = 0;

  // Outgoing flight being collected from the engine, and the last complete flight (for retransmission).
  private collecting: FlightItem[] | undefined;
  private lastFlight: FlightItem[] | undefined;
  private lastFlightFinal = false;
  private epoch0Seq = 0;
  private epoch1Seq = 0;
  private sentEpoch1 = false;
  private outgoingMsgSeqs = new Set<number>();
  private lastOutgoingSeq = -1;
  private rto: number;
  private retransmitAt: number | undefined;
  private retransmitCount = 0;
  private lastReactiveAt = -Infinity;

  // Incoming handshake reassembly.
  private nextRecvSeq = 0;
  private assemblers = new Map<number, MessageAssembler>();
  private peerFlightFirstSeq = 0;
  private awaitingPeerFlight = true;

  // Transcript and authentication state.
  private transcript: Buffer[] = [];
  private clientRandom: Buffer | undefined;
  private serverRandom: Buffer | undefined;
  private peerCert: Buffer | undefined;
  private peerKey: KeyObject | undefined;
  private peerAuthenticated = false;
  private peerFinishedVerified = false;
  private earlyAppData: Buffer[] = [];

  // Our record layer (epoch 1), once the engine's keys exist; `noRecordLayer` if the suite is not ours.
  private records: RecordProtection | undefined;
  private noRecordLayer = false;
  // The application-data datagram being filled by queue(), sent by flush().
  private out: Buffer | null = null;
  private outLen = 0;
  private outCap = 0;
  private outPooled = false;

  constructor(opts: DtlsEndpointOptions, events: DtlsEndpointEvents) {
    this.opts = opts;
    this.events = events;
    this.role = opts.role;
    this.mtu = Math.max(opts.mtu ?? 1200, 228);
    this.rto = opts.initialRtoMs ?? 1000;
    this.remoteFingerprints = [...opts.remoteFingerprints];
    const profiles = opts.srtpProfiles ?? [SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_128_GCM];
    this.engine = createWeriftEngine({
      role: opts.role,
      certPem: opts.certificate.certPem,
      keyPem: opts.certificate.keyPem,
      keyType: opts.certificate.keyType,
      srtpProfiles: [...profiles],
    }, {
      output: (b) => this.onEngineOutput(b),
      connected: () => this.onEngineConnected(),
      error: (e) => this.onEngineError(e),
    });
  }

  get state(): DtlsState { return this._state; }

  /** Replaces the accepted fingerprints (e.g. on renegotiated SDP) before the peer certificate arrives. */
  setRemoteFingerprints(fps: readonly Fingerprint[]): void { this.remoteFingerprints = [...fps]; }

  /** Begins the handshake. Client: sends ClientHello. Server: waits for one. */
  start(now: number = Date.now()): void {
    if (this._state !== 'new') return;
    this.now = now;
    this._state = 'connecting';
    this.startedAt = now;
    this.engine.start();
  }

  /** Absolute time (ms, same clock as the `now` passed in) of the next timer, if any. */
  pollTimeout(): number | undefined {
    return this._state === 'connecting' ? this.retransmitAt : undefined;
  }

  handleTimeout(now: number): void {
    this.now = now;
    if (this._state !== 'connecting' || this.retransmitAt === undefined || now < this.retransmitAt) return;
    if (this.retransmitCount >= (this.opts.maxRetransmits ?? 7)) {
      this.terminate('timeout', 'handshake timed out', undefined);
      return;
    }
    this.retransmitCount++;
    this.stats.retransmits++;
    this.rto = Math.min(this.rto * 2, this.opts.maxRtoMs ?? 60_000);
    this.retransmitAt = now + this.rto;
    this.transmitFlight();
  }

  /**
   * Input: one UDP datagram demultiplexed as DTLS (first byte 20..63). Never throws. Protected records
   * are decrypted in place: the datagram's bytes are the endpoint's to overwrite.
   */
  handleDatagram(datagram: Uint8Array, now: number = Date.now()): void {
    this.now = now;
    this.stats.datagramsIn++;
    if (this._state === 'closed') { this.stats.dropped++; return; }
    if (this._state === 'new') {
      if (this.role === 'client') { this.stats.dropped++; return; }
      this._state = 'connecting';
      this.startedAt = now;
      this.engine.start();
    }
    try {
      const buf = Buffer.isBuffer(datagram) ? datagram : Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
      // Connected: application data (almost every datagram) without building record objects.
      const rest = this._state === 'connected' && this.records !== undefined ? this.appDataFastPath(buf, this.records) : 0;
      if (rest >= 0) this.handleRecords(rest === 0 ? buf : buf.subarray(rest));
    } catch (e) {
      // Defensive: nothing above should throw, but garbage must never escape.
      this.stats.dropped++;
      this.stats.engineErrors++;
      void e;
    }
  }

  /**
   * Opens and delivers the leading application-data records of `buf`. Returns -1 when it consumed the
   * whole datagram, else the offset of the first record it left for the general path (0: all of it).
   */
  private appDataFastPath(buf: Buffer, rp: RecordProtection): number {
    let off = 0;
    const end = buf.length;
    while (off < end) {
      if (end - off < RECORD_HEADER_LEN || buf[off] !== CT_APPLICATION_DATA || buf[off + 1] !== 0xfe ||
        (buf[off + 2] !== 0xfd && buf[off + 2] !== 0xff)) return off;
      const len = RECORD_HEADER_LEN + ((buf[off + 11]! << 8) | buf[off + 12]!);
      if (off + len > end) return off;
      this.openAppData(buf, off, len, rp);
      if ((this._state as DtlsState) !== 'connected') return -1;
      off += len;
    }
    return -1;
  }

  /** One protected application-data record at buf[off, off + len): open in place and deliver. */
  private openAppData(buf: Buffer, off: number, len: number, rp: RecordProtection): void {
    const n = rp.open(buf, off, len);
    if (n < 0) {
      this.stats.dropped++;
      if (n === OPEN_AUTH_FAILED) this.appStats.authFailed++;
      else if (n === OPEN_REPLAY) this.appStats.replayed++;
      return;
    }
    const p = off + RECORD_HEADER_LEN + 8;
    const plain = buf.subarray(p, p + n);
    if (this._state === 'connected') this.deliver(plain);
    else if (this.earlyAppData.length < MAX_EARLY_APP_DATA) this.earlyAppData.push(plain);
    else this.stats.dropped++;
  }

  private handleRecords(buf: Buffer): void {
    const { records, ok } = parseRecords(buf);
    if (!ok) this.stats.dropped++;
    const toEngine: Buffer[] = [];
    let sawDup = false;
    for (const rec of records) {
      if ((this._state as DtlsState) === 'closed') break;
      switch (rec.contentType) {
        case CT_HANDSHAKE:
          if (rec.epoch === 0) {
            const r = this.onPlainHandshake(rec, toEngine);
            if (r === 'dup') sawDup = true;
          } else if (rec.epoch === 1) {
            this.flushToEngine(toEngine);
            if (this.onProtectedHandshake(rec) === 'dup') sawDup = true;
          } else this.stats.dropped++;
          break;
        case CT_CHANGE_CIPHER_SPEC:
          break; // implicit in the engine; nothing to do
        case CT_ALERT:
          this.flushToEngine(toEngine);
          this.onAlert(rec);
          break;
        case CT_APPLICATION_DATA:
          this.flushToEngine(toEngine);
          this.onAppData(rec);
          break;
      }
    }
    this.flushToEngine(toEngine);
    if (sawDup) this.reactiveRetransmit();
  }

  /** Sends application data (one SCTP packet) in one protected record, in a datagram of its own (with
   * anything queue()d before). False if not connected / too big. */
  send(data: Uint8Array): boolean {
    if (!this.queue(data)) return false;
    this.flush();
    return true;
  }

  /**
   * Protects application data (one SCTP packet) as one record into the datagram being filled; flush()
   * sends it. Records queued back to back share datagrams up to the MTU (a datagram is sent early when
   * the next record would not fit). False if not connected / too big.
   */
  queue(data: Uint8Array): boolean {
    if (this._state !== 'connected') return false;
    const n = data.length;
    if (n > (this.opts.maxAppDataSize ?? 16_384)) return false;
    const rp = this.records;
    if (rp === undefined) {
      // werift's record cipher (a suite we do not implement): one record, one datagram
      const body = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      this.flush();
      this.emit(this.protect(CT_APPLICATION_DATA, body));
      this.appStats.datagramsOut++;
    } else {
      const recLen = n + PROTECTED_RECORD_OVERHEAD;
      if (this.out !== null && this.outLen + recLen > this.outCap) this.flush();
      if (this.out === null) this.takeOutBuffer(recLen);
      const w = rp.seal(CT_APPLICATION_DATA, this.epoch1Seq + 1, data, 0, n, this.out!, this.outLen);
      if (w < 0) return false; // 2^48 records: never in practice
      this.epoch1Seq++;
      if (this.outLen > 0) this.appStats.coalesced++;
      this.outLen += w;
    }
    this.appStats.packetsOut++;
    this.appStats.bytesOut += n;
    return true;
  }

  /** Sends the datagram queue() has been filling, if any. */
  flush(): void {
    const b = this.out;
    if (b === null) return;
    const len = this.outLen;
    this.out = null;
    this.outLen = 0;
    if (len === 0) return;
    this.stats.datagramsOut++;
    this.appStats.datagramsOut++;
    try {
      if (this.outPooled) this.events.transmitBuffer!(b, len);
      else this.events.transmit(len === b.length ? b : b.subarray(0, len));
    } catch { /* the sink's problem */ }
  }

  private takeOutBuffer(recLen: number): void {
    const want = Math.max(this.mtu, recLen);
    let b: Buffer | undefined;
    if (this.events.acquireBuffer !== undefined && this.events.transmitBuffer !== undefined) {
      try { b = this.events.acquireBuffer(); } catch { b = undefined; }
    }
    if (b !== undefined && b.length >= recLen) {
      this.outPooled = true;
      this.outCap = Math.min(b.length, want);
    } else {
      b = Buffer.allocUnsafe(want);
      this.outPooled = false;
      this.outCap = want;
    }
    this.out = b;
    this.outLen = 0;
  }

  /** Local close: sends close_notify (if the handshake started) and ends with reason 'local'. */
  close(): void {
    if (this._state === 'closed') return;
    this.flush();
    if (this._state !== 'new') this.sendAlert(ALERT_WARNING, ALERT_CLOSE_NOTIFY);
    this.terminate('local', 'closed locally', undefined);
  }

  // ------------------------------------------------------------------------------------------------
  // Outgoing flights

  private onEngineOutput(buf: Buffer): void {
    if (this._state === 'closed') return;
    const { records } = parseRecords(buf);
    for (const rec of records) {
      if (rec.contentType === CT_HANDSHAKE && rec.epoch === 0) {
        const frags = parseHandshakeFragments(rec.body);
        if (!frags) continue;
        for (const f of frags) this.collectOutgoingFragment(f.msgType, f.messageSeq, f.length, f.fragmentOffset, f.fragment);
      } else if (rec.contentType === CT_CHANGE_CIPHER_SPEC) {
        this.collect({ kind: 'ccs' });
      } else if (rec.contentType === CT_HANDSHAKE && rec.epoch === 1) {
        this.epoch1Seq = Math.max(this.epoch1Seq, rec.seq);
        this.sentEpoch1 = true;
        this.collect({ kind: 'raw', record: ownedCopy(rec.raw) });
      }
      // Engine application data / alerts are never produced (we bypass werift's send path).
    }
  }

  private pendingOutgoing = new Map<number, MessageAssembler>();

  private collectOutgoingFragment(msgType: number, seq: number, length: number, offset: number, frag: Buffer): void {
    if (this.outgoingMsgSeqs.has(seq) && !this.pendingOutgoing.has(seq)) return; // engine resend: we own resends
    let asm = this.pendingOutgoing.get(seq);
    if (!asm) { asm = new MessageAssembler(msgType, length); this.pendingOutgoing.set(seq, asm); }
    asm.add({ msgType, length, messageSeq: seq, fragmentOffset: offset, fragment: frag });
    this.outgoingMsgSeqs.add(seq);
    if (!asm.complete) return;
    this.pendingOutgoing.delete(seq);
    // Own copies: a server keeps its last flight for the association's life (see ownedCopy).
    const msg: HandshakeMessage = { msgType, messageSeq: seq, body: ownedCopy(asm.body) };
    this.lastOutgoingSeq = Math.max(this.lastOutgoingSeq, seq);
    this.onTranscriptOut(msg);
    this.collect({ kind: 'handshake', msg });
  }

  private collect(item: FlightItem): void {
    if (!this.collecting) {
      this.collecting = [];
      queueMicrotask(() => this.finishFlight());
    }
    this.collecting.push(item);
  }

  private finishFlight(): void {
    const items = this.collecting;
    this.collecting = undefined;
    if (!items || items.length === 0 || this._state === 'closed') return;
    const isHvr = items.some((i) => i.kind === 'handshake' && i.msg.msgType === HS_HELLO_VERIFY_REQUEST);
    const hasCcs = items.some((i) => i.kind === 'ccs');
    this.lastFlight = items;
    // No timer: HelloVerifyRequest (stateless) and the server's final flight (CCS + Finished).
    this.lastFlightFinal = isHvr || (this.role === 'server' && hasCcs);
    this.retransmitCount = 0;
    this.rto = this.opts.initialRtoMs ?? 1000;
    this.retransmitAt = this.lastFlightFinal || this._state !== 'connecting' ? undefined : this.now + this.rto;
    this.awaitingPeerFlight = true;
    this.transmitFlight();
  }

  private transmitFlight(): void {
    if (!this.lastFlight) return;
    for (const d of packFlight(this.lastFlight, this.mtu, () => this.epoch0Seq++)) this.emit(d);
  }

  private reactiveRetransmit(): void {
    if (!this.lastFlight || this._state === 'closed') return;
    if (this.role === 'client' && this._state === 'connected') return;
    if (this.now - this.lastReactiveAt < 100) return;
    this.lastReactiveAt = this.now;
    this.stats.retransmits++;
    this.transmitFlight();
  }

  private emit(datagram: Buffer): void {
    this.stats.datagramsOut++;
    try { this.events.transmit(datagram); } catch { /* the sink's problem */ }
  }

  // ------------------------------------------------------------------------------------------------
  // Incoming records

  private onPlainHandshake(rec: DtlsRecord, toEngine: Buffer[]): 'dup' | 'ok' | 'drop' {
    const frags = parseHandshakeFragments(rec.body);
    if (!frags || frags.length === 0) { this.stats.dropped++; return 'drop'; }
    let dup = false;
    for (const f of frags) {
      if (f.messageSeq < this.nextRecvSeq) {
        if (f.messageSeq >= this.peerFlightFirstSeq) dup = true;
        continue;
      }
      if (this._state === 'connected') { this.stats.dropped++; continue; } // no renegotiation
      if (f.messageSeq >= this.nextRecvSeq + MAX_REORDER_AHEAD || f.length > 65_536) { this.stats.dropped++; continue; }
      let asm = this.assemblers.get(f.messageSeq);
      if (!asm) { asm = new MessageAssembler(f.msgType, f.length); this.assemblers.set(f.messageSeq, asm); }
      if (!asm.add(f)) this.stats.dropped++;
    }
    // Deliver complete messages in order.
    for (;;) {
      const asm = this.assemblers.get(this.nextRecvSeq);
      if (!asm || !asm.complete) break;
      this.assemblers.delete(this.nextRecvSeq);
      const msg: HandshakeMessage = { msgType: asm.msgType, messageSeq: this.nextRecvSeq, body: Buffer.from(asm.body) };
      if (this.awaitingPeerFlight) { this.peerFlightFirstSeq = msg.messageSeq; this.awaitingPeerFlight = false; }
      this.nextRecvSeq++;
      // Progress from the peer: our last flight arrived, stop its timer.
      this.retransmitAt = undefined;
      if (!this.onTranscriptIn(msg)) return 'drop';
      toEngine.push(encodeHandshake(msg.msgType, msg.messageSeq, msg.body));
    }
    return dup ? 'dup' : 'ok';
  }

  private flushToEngine(toEngine: Buffer[]): void {
    if (toEngine.length === 0 || this._state === 'closed') { toEngine.length = 0; return; }
    const body = Buffer.concat(toEngine);
    toEngine.length = 0;
    this.engine.input(buildRecord(CT_HANDSHAKE, 0, 0, body));
  }

  private onProtectedHandshake(rec: DtlsRecord): 'dup' | 'ok' | 'drop' {
    if (this.peerFinishedVerified) return 'dup'; // retransmitted Finished: the peer lacks our last flight
    const ms = this.engine.masterSecret();
    if (!this.engine.keysReady() || !ms) { this.stats.dropped++; return 'drop'; }
    const plain = this.openCopy(rec);
    if (plain === undefined) { this.stats.dropped++; return 'drop'; }
    const frags = parseHandshakeFragments(plain);
    const fin = frags?.[0];
    if (!frags || frags.length !== 1 || !fin || fin.msgType !== HS_FINISHED || fin.fragment.length !== 12 || fin.length !== 12) {
      this.stats.dropped++;
      return 'drop';
    }
    if (!this.peerAuthenticated) {
      this.fail('handshake-failure', 'peer Finished before peer authentication', ALERT_HANDSHAKE_FAILURE);
      return 'drop';
    }
    let transcript = this.transcript;
    if (this.role === 'client') {
      // The server's Finished covers our own Finished, which the engine encrypted; recompute it.
      const ours = finishedVerifyData(ms, true, transcript);
      transcript = [...transcript, encodeHandshake(HS_FINISHED, this.lastOutgoingSeq + 1, ours)];
    }
    const expected = finishedVerifyData(ms, this.role === 'server', transcript);
    if (!expected.equals(fin.fragment)) {
      this.fail('handshake-failure', 'peer Finished verify_data mismatch', ALERT_DECRYPT_ERROR);
      return 'drop';
    }
    this.peerFinishedVerified = true;
    this.retransmitAt = undefined;
    this.engine.input(Buffer.from(rec.raw));
    return 'ok';
  }

  private onAlert(rec: DtlsRecord): void {
    let body: Buffer | undefined;
    // Once connected, an unprotected alert is anyone's forgery (whoever can reach our port could end the
    // association with one), and a peer that has finished the handshake protects its alerts: only those count.
    if (rec.epoch === 0 && this._state === 'connected') { this.stats.dropped++; return; }
    if (rec.epoch === 0) body = rec.body;
    else if (rec.epoch === 1 && this.engine.keysReady()) body = this.openCopy(rec);
    if (body === undefined) { this.stats.dropped++; return; }
    if (body.length !== 2) { this.stats.dropped++; return; }
    const level = body[0]!;
    const desc = body[1]!;
    if (desc === ALERT_CLOSE_NOTIFY || level === ALERT_FATAL) {
      this.terminate('alert', `peer alert level=${level} description=${desc}`, undefined);
    }
    // other warnings: ignored
  }

  private onAppData(rec: DtlsRecord): void {
    if (rec.epoch !== 1 || !this.engine.keysReady()) { this.stats.dropped++; return; }
    const rp = this.recordLayer();
    if (rp !== undefined) { this.openAppData(rec.raw, 0, rec.raw.length, rp); return; }
    let plain: Buffer;
    try { plain = this.engine.decrypt(Buffer.from(rec.raw)); } catch { this.stats.dropped++; return; }
    if (this._state === 'connected') this.deliver(plain);
    else if (this.earlyAppData.length < MAX_EARLY_APP_DATA) this.earlyAppData.push(plain);
    else this.stats.dropped++;
  }

  /**
   * Our epoch-1 record layer, made once the engine has negotiated its keys (master secret and both
   * randoms known). Undefined before, or for a cipher suite other than AES_128_GCM_SHA256.
   */
  private recordLayer(): RecordProtection | undefined {
    if (this.records !== undefined || this.noRecordLayer) return this.records;
    const ms = this.engine.masterSecret();
    if (!this.engine.keysReady() || !ms || !this.clientRandom || !this.serverRandom) return undefined;
    if (!isAes128GcmSuite(this.engine.cipherSuite())) { this.noRecordLayer = true; return undefined; }
    this.records = new RecordProtection(deriveRecordKeys(ms, this.clientRandom, this.serverRandom), this.role, 1,
      { engine: this.opts.gcmEngine });
    return this.records;
  }

  /** Opens a protected handshake or alert record into a copy (the original may go on to the engine). */
  private openCopy(rec: DtlsRecord): Buffer | undefined {
    const rp = this.recordLayer();
    if (rp === undefined) {
      try { return this.engine.decrypt(Buffer.from(rec.raw)); } catch { return undefined; }
    }
    const copy = Buffer.from(rec.raw);
    const n = rp.open(copy, 0, copy.length);
    return n < 0 ? undefined : copy.subarray(RECORD_HEADER_LEN + 8, RECORD_HEADER_LEN + 8 + n);
  }

  private deliver(data: Buffer): void {
    this.appStats.packetsIn++;
    this.appStats.bytesIn += data.length;
    try { this.events.data?.(data); } catch { /* the consumer's problem */ }
  }

  // ------------------------------------------------------------------------------------------------
  // Transcript and peer authentication

  private onTranscriptOut(msg: HandshakeMessage): void {
    if (msg.msgType === HS_HELLO_VERIFY_REQUEST) { this.transcript = []; return; } // RFC 6347 §4.2.6
    if (msg.msgType === HS_CLIENT_HELLO) this.clientRandom = helloRandom(msg.body);
    if (msg.msgType === HS_SERVER_HELLO) this.serverRandom = helloRandom(msg.body);
    this.transcript.push(encodeHandshake(msg.msgType, msg.messageSeq, msg.body));
  }

  /** Returns false if the handshake was failed. */
  private onTranscriptIn(msg: HandshakeMessage): boolean {
    switch (msg.msgType) {
      case HS_HELLO_VERIFY_REQUEST:
        this.transcript = [];
        return true;
      case HS_CLIENT_HELLO:
        if (this.role !== 'server') return this.fail('handshake-failure', 'unexpected ClientHello', ALERT_HANDSHAKE_FAILURE);
        this.transcript = []; // a ClientHello (re)starts the transcript; with a cookie it is the one that counts
        this.clientRandom = helloRandom(msg.body);
        break;
      case HS_SERVER_HELLO:
        this.serverRandom = helloRandom(msg.body);
        break;
      case HS_CERTIFICATE: {
        const certs = parseCertificateList(msg.body);
        const leaf = certs?.[0];
        if (!leaf) return this.fail('handshake-failure', 'peer sent no certificate', ALERT_HANDSHAKE_FAILURE);
        if (!certificateMatches(leaf, this.remoteFingerprints)) {
          return this.fail('fingerprint-mismatch', `peer certificate ${fingerprintOf(leaf).value} matches no remote fingerprint`,
            ALERT_BAD_CERTIFICATE);
        }
        this.peerKey = publicKeyOf(leaf);
        if (!this.peerKey) return this.fail('handshake-failure', 'unparseable peer certificate', ALERT_BAD_CERTIFICATE);
        this.peerCert = ownedCopy(leaf);
        break;
      }
      case HS_SERVER_KEY_EXCHANGE:
        if (this.role !== 'client' || !this.peerKey || !this.clientRandom || !this.serverRandom ||
          !verifyServerKeyExchange(this.peerKey, msg.body, this.clientRandom, this.serverRandom)) {
          return this.fail('handshake-failure', 'ServerKeyExchange signature invalid', ALERT_DECRYPT_ERROR);
        }
        this.peerAuthenticated = true;
        break;
      case HS_SERVER_HELLO_DONE:
        if (!this.peerAuthenticated) return this.fail('handshake-failure', 'server not authenticated', ALERT_HANDSHAKE_FAILURE);
        break;
      case HS_CLIENT_KEY_EXCHANGE:
        if (this.role === 'server' && !this.peerCert) {
          return this.fail('handshake-failure', 'client sent no certificate', ALERT_HANDSHAKE_FAILURE);
        }
        break;
      case HS_CERTIFICATE_VERIFY:
        if (this.role !== 'server' || !this.peerKey || !verifyCertificateVerify(this.peerKey, msg.body, this.transcript)) {
          return this.fail('handshake-failure', 'CertificateVerify signature invalid', ALERT_DECRYPT_ERROR);
        }
        this.peerAuthenticated = true;
        break;
      default:
        break;
    }
    this.transcript.push(encodeHandshake(msg.msgType, msg.messageSeq, msg.body));
    return true;
  }

  private onEngineConnected(): void {
    if (this._state !== 'connecting') return;
    if (!this.peerAuthenticated || !this.peerFinishedVerified || !this.peerCert) {
      this.fail('handshake-failure', 'engine completed without verified peer', ALERT_HANDSHAKE_FAILURE);
      return;
    }
    // Made now at the latest: releaseHandshake() below drops the randoms and master secret it needs.
    this.recordLayer();
    this._state = 'connected';
    this.connectedAt = this.now;
    this.retransmitAt = undefined;
    let srtp: SrtpKeys | undefined;
    const profile = this.engine.srtpProfile();
    if (profile === SRTP_AES128_CM_HMAC_SHA1_80 || profile === SRTP_AEAD_AES_128_GCM) {
      const { keyLength: k, saltLength: s } = srtpKeyLengths(profile);
      const km = this.engine.exportKeyingMaterial('EXTRACTOR-dtls_srtp', 2 * (k + s));
      const clientKey = km.subarray(0, k);
      const serverKey = km.subarray(k, 2 * k);
      const clientSalt = km.subarray(2 * k, 2 * k + s);
      const serverSalt = km.subarray(2 * k + s, 2 * (k + s));
      const client = this.role === 'client';
      srtp = {
        profile, keyingMaterial: km,
        localKey: client ? clientKey : serverKey, localSalt: client ? clientSalt : serverSalt,
        remoteKey: client ? serverKey : clientKey, remoteSalt: client ? serverSalt : clientSalt,
      };
    }
    try {
      this.events.connected?.({ srtp, remoteCertificate: this.peerCert, remoteFingerprint: fingerprintOf(this.peerCert) });
    } catch { /* consumer */ }
    const early = this.earlyAppData;
    this.earlyAppData = [];
    for (const d of early) if (this._state === 'connected') this.deliver(d);
    if (this._state === 'connected') this.releaseHandshake();
  }

  /**
   * Connected: the transcript, reassembly buffers and the peer's key were only needed to verify the
   * handshake (duplicates after this point are answered from lastFlight without touching them), so
   * a long-lived PeerConnection does not keep a copy of every handshake message, twice (ours and
   * werift's). A client never retransmits once connected, so its last flight goes too.
   */
  private releaseHandshake(): void {
    this.transcript = [];
    this.assemblers.clear();
    this.pendingOutgoing.clear();
    this.peerKey = undefined;
    this.clientRandom = undefined;
    this.serverRandom = undefined;
    if (this.role === 'client') this.lastFlight = undefined;
    this.records?.releaseTables();
    this.engine.releaseHandshake();
  }

  /** Handshake state still held (tests: released once connected). */
  get handshakeStateBytes(): number {
    let n = 0;
    for (const b of this.transcript) n += b.length;
    for (const a of this.assemblers.values()) n += a.length;
    return n;
  }

  private onEngineError(e: unknown): void {
    this.stats.engineErrors++;
    // werift's own give-up after its (disabled) retransmissions is expected noise; our timers decide.
    const msg = e instanceof Error ? e.message : String(e);
    if (/retransmitCount|waitForReady/.test(msg)) return;
    if (this._state === 'connecting') this.fail('handshake-failure', `engine: ${msg}`, ALERT_HANDSHAKE_FAILURE);
  }

  // ------------------------------------------------------------------------------------------------
  // Alerts and termination

  private protect(contentType: number, body: Buffer): Buffer {
    // Our own epoch-1 sequence numbers continue after the engine's Finished (never reused: AES-GCM nonce).
    const seq = ++this.epoch1Seq;
    const rp = this.recordLayer();
    if (rp === undefined) return this.engine.encrypt(contentType, 1, seq, body);
    const out = Buffer.allocUnsafe(body.length + PROTECTED_RECORD_OVERHEAD);
    rp.seal(contentType, seq, body, 0, body.length, out, 0);
    return out;
  }

  private sendAlert(level: number, desc: number): void {
    const body = Buffer.from([level, desc]);
    try {
      this.flush();
      if (this.sentEpoch1 && this.engine.keysReady()) this.emit(this.protect(CT_ALERT, body));
      else this.emit(buildRecord(CT_ALERT, 0, this.epoch0Seq++, body));
    } catch { /* best effort */ }
  }

  /** Fails the handshake with a fatal alert. Always returns false (convenience for callers). */
  private fail(reason: DtlsCloseReason, detail: string, alert: number): false {
    if (this._state !== 'closed') {
      this.sendAlert(ALERT_FATAL, alert);
      this.terminate(reason, detail, new Error(detail));
    }
    return false;
  }

  private terminate(reason: DtlsCloseReason, detail: string, error: Error | undefined): void {
    if (this._state === 'closed') return;
    const wasConnected = this._state === 'connected';
    this._state = 'closed';
    this.retransmitAt = undefined;
    this.lastFlight = undefined;
    this.collecting = undefined;
    this.out = null;
    this.outLen = 0;
    this.engine.stop();
    if (!wasConnected) {
      try { this.events.failed?.(error ?? new Error(`${reason}: ${detail}`)); } catch { /* consumer */ }
    }
    try { this.events.closed?.(reason, detail); } catch { /* consumer */ }
  }
}
