/**
 * Sans-IO ICE agent (RFC 8445 full and lite, RFC 8838 trickle, RFC 7675 consent freshness).
 *
 * The agent never touches sockets or clocks. Feed it:
 *   - candidates (`addLocalCandidate`, `addRemoteCandidate`, `endOfCandidates`),
 *   - datagrams (`handlePacket(bytes, from, localSocketId, now)`),
 *   - time (`handleTimeout(now)`, whenever `pollTimeout()` is due),
 * and drain its outputs: `pollTransmit()` (datagrams to send), `pollTimeout()` (absolute time, in
 * the same millisecond clock as `now`, at which `handleTimeout` must be called next), and
 * `pollEvent()` (state changes, selected pair, peer-reflexive candidates, role changes).
 *
 * Scope: one component (component 1: BUNDLE + rtcp-mux, as in WebRTC). Local candidates
 * are tied to an opaque `localSocketId`; pairs are formed per (socket, remote address), i.e. local
 * srflx candidates (and 1:1-NAT-mapped ones) share their base's pairs (RFC 8445 6.1.2.4 pruning).
 *
 * ICE-TCP (RFC 6544), passive side only: each accepted TCP connection is a local socket of its own
 * whose base is a `tcp` host candidate. Such a base never forms pairs from signalled candidates (we
 * do not connect out, and what browsers signal is `tcptype active` with the discard port 9); its
 * pairs come from the checks arriving on the connection (peer-reflexive remote candidates), and the
 * triggered checks, responses and consent checks of those pairs go back on the same connection.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { normalizeIp, ipFamily } from '../stun/address.js';
import { StunAttr, StunClass, StunErrorCode, StunMessageType } from '../stun/constants.js';
import { StunBuilder, parseStun, verifyFingerprint, verifyMessageIntegrity, type StunMessage } from '../stun/message.js';
import { computeFoundation, computePriority, isMdnsAddress, isUsableDestination, pairPriority, type IceCandidate } from './candidate.js';

export type IceState = 'new' | 'checking' | 'connected' | 'completed' | 'failed' | 'disconnected' | 'closed';
export type IceNomination = 'regular' | 'aggressive';

export interface SocketAddress {
  address: string;
  port: number;
}

export interface Transmit {
  bytes: Buffer;
  to: SocketAddress;
  localSocketId: number;
}

export interface SelectedPair {
  local: IceCandidate;
  remote: IceCandidate;
  localSocketId: number;
  /** Where to send media. */
  remoteAddress: SocketAddress;
}

export type IceEvent =
  | { type: 'state'; state: IceState }
  | { type: 'selected-pair'; pair: SelectedPair }
  | { type: 'remote-prflx'; candidate: IceCandidate }
  | { type: 'role'; controlling: boolean };

export interface IceTiming {
  /** Pacing between checks (RFC 8445 Ta). */
  ta: number;
  /** Initial retransmission timeout for checks; doubles per retransmit up to rtoMax. */
  rto: number;
  rtoMax: number;
  /** Transmissions per check transaction including the first (RFC 8489 Rc). */
  maxTransmits: number;
  /** Regular nomination: how long the controlling agent waits after the first valid pair for better ones. */
  nominationDelay: number;
  /** Consent checks every consentInterval * [0.8, 1.2) (RFC 7675: 5 s). */
  consentInterval: number;
  /** Consent lost (state failed) after this long without a consent response (RFC 7675: 30 s). */
  consentTimeout: number;
  /** State disconnected after this long without a consent response (recovers on the next response). */
  disconnectedTimeout: number;
  /** Keepalive period when consent freshness is off (RFC 8445 11: 15 s). */
  keepaliveInterval: number;
  /** Give up (state failed) if nothing is selected this long after checks start; 0 disables. */
  checkingTimeout: number;
}

export const DEFAULT_ICE_TIMING: Readonly<IceTiming> = {
  ta: 50,
  rto: 500,
  rtoMax: 3000,
  maxTransmits: 7,
  nominationDelay: 1000,
  consentInterval: 5000,
  consentTimeout: 30000,
  disconnectedTimeout: 10000,
  keepaliveInterval: 15000,
  checkingTimeout: 30000,
};

export interface IceAgentOptions {
  /** ICE-lite (RFC 8445 2.5): only answers checks, never sends; always controlled. */
  lite?: boolean;
  controlling: boolean;
  localUfrag: string;
  localPwd: string;
  remoteUfrag?: string;
  remotePwd?: string;
  /** Controlling-side nomination (default regular). */
  nomination?: IceNomination;
  /** RFC 7675 consent checks on the selected pair (default true; Janus ice_consent_freshness). */
  consentFreshness?: boolean;
  /** Without consent freshness: keepalive with Binding requests (and fail if unanswered) instead of indications. */
  keepaliveConncheck?: boolean;
  /** 64-bit tie-breaker for role conflicts; random by default. */
  tieBreaker?: bigint;
  /** Randomness sources (inject for deterministic tests). */
  randomBytes?: (n: number) => Buffer;
  random?: () => number;
  /** SOFTWARE attribute on our responses. */
  software?: string;
  timing?: Partial<IceTiming>;
}

export type IcePairState = 'frozen' | 'waiting' | 'in-progress' | 'succeeded' | 'failed';
type PairState = IcePairState;

interface LocalEntry {
  cand: IceCandidate;
  socketId: number;
  family: 4 | 6;
}

interface RemoteEntry {
  cand: IceCandidate;
  key: string;
  family: 4 | 6;
}

interface Pair {
  local: LocalEntry;
  remote: RemoteEntry;
  priority: bigint;
  foundation: string;
  state: PairState;
  /** Both sides agree: this pair is nominated (and it is valid). */
  nominated: boolean;
  /** Controlled: the peer sent USE-CANDIDATE; nominate once our own check succeeds. */
  remoteNominated: boolean;
  /** Controlling, regular nomination: the next check on this pair carries USE-CANDIDATE. */
  nominating: boolean;
  triggered: boolean;
  /** Our reflexive address seen by the peer (XOR-MAPPED-ADDRESS of the success response). */
  mapped?: SocketAddress;
}

type TxKind = 'check' | 'consent' | 'keepalive';

interface Transaction {
  key: string;
  kind: TxKind;
  pair: Pair;
  bytes: Buffer;
  remotePwd: string;
  useCandidate: boolean;
  controllingAtSend: boolean;
  transmits: number;
  rto: number;
  nextAt: number;
}

interface EarlyCheck {
  from: SocketAddress;
  socketId: number;
  priority: number;
  useCandidate: boolean;
  remoteUfrag: string;
}

const MAX_EARLY_CHECKS = 64;
const MAX_PAIRS = 100;

function addrKey(address: string, port: number): string {
  return `${address}|${port}`;
}

/** TCP remotes live apart from UDP ones: the same address and port number are another endpoint. */
function tcpKey(address: string, port: number): string {
  return `tcp|${address}|${port}`;
}

export class IceAgent {
  readonly lite: boolean;
  private _controlling: boolean;
  private localUfrag: string;
  private localPwd: string;
  private remoteUfrag: string | undefined;
  private remotePwd: string | undefined;
  private readonly nomination: IceNomination;
  private readonly consentFreshness: boolean;
  private readonly keepaliveConncheck: boolean;
  private readonly tieBreaker: bigint;
  private readonly randomBytes: (n: number) => Buffer;
  private readonly random: () => number;
  private readonly software: string | undefined;
  readonly timing: IceTiming;

  private _state: IceState = 'new';
  private now = 0;
  private readonly locals: LocalEntry[] = [];
  /** Base (first host/relay candidate) per local socket. */
  private readonly bases = new Map<number, LocalEntry>();
  private readonly remotes = new Map<string, RemoteEntry>();
  private pairs: Pair[] = [];
  private readonly pairIndex = new Map<string, Pair>();
  private triggeredQueue: Pair[] = [];
  private readonly transactions = new Map<string, Transaction>();
  private earlyChecks: EarlyCheck[] = [];
  private remoteEnded = false;
  private prflxCounter = 0;

  private nextCheckAt: number | undefined;
  private firstValidAt: number | undefined;
  private checkingStartedAt: number | undefined;
  private selected: Pair | undefined;
  /** Credentials the selected pair was established with (consent keeps using them across a restart). */
  private selectedCreds: { localUfrag: string; remoteUfrag: string; remotePwd: string } | undefined;
  private lastConsentAt = 0;
  private nextConsentAt: number | undefined;
  private nextKeepaliveAt: number | undefined;
  private consentOk = true;

  private readonly transmits: Transmit[] = [];
  private readonly events: IceEvent[] = [];

  constructor(opts: IceAgentOptions) {
    this.lite = opts.lite ?? false;
    this._controlling = this.lite ? false : opts.controlling;
    this.localUfrag = opts.localUfrag;
    this.localPwd = opts.localPwd;
    this.remoteUfrag = opts.remoteUfrag;
    this.remotePwd = opts.remotePwd;
    this.nomination = opts.nomination ?? 'regular';
    this.consentFreshness = opts.consentFreshness ?? true;
    this.keepaliveConncheck = opts.keepaliveConncheck ?? false;
    this.randomBytes = opts.randomBytes ?? cryptoRandomBytes;
    this.random = opts.random ?? Math.random;
    this.tieBreaker = opts.tieBreaker ?? this.randomBytes(8).readBigUInt64BE(0);
    this.software = opts.software;
    this.timing = { ...DEFAULT_ICE_TIMING, ...opts.timing };
  }

  // ------------------------------------------------------------------ accessors

  get state(): IceState {
    return this._state;
  }
  get controlling(): boolean {
    return this._controlling;
  }
  get localCredentials(): { ufrag: string; pwd: string } {
    return { ufrag: this.localUfrag, pwd: this.localPwd };
  }
  get remoteEndOfCandidates(): boolean {
    return this.remoteEnded;
  }
  getSelectedPair(): SelectedPair | undefined {
    return this.selected ? this.describe(this.selected) : undefined;
  }
  getLocalCandidates(): IceCandidate[] {
    return this.locals.map((l) => ({ ...l.cand }));
  }
  getRemoteCandidates(): IceCandidate[] {
    return [...this.remotes.values()].map((r) => ({ ...r.cand }));
  }
  /** Snapshot of the checklist, highest priority first (for stats / admin API). */
  getPairs(): { local: IceCandidate; remote: IceCandidate; state: IcePairState; nominated: boolean; priority: bigint }[] {
    return this.pairs.map((p) => ({ local: { ...p.local.cand }, remote: { ...p.remote.cand }, state: p.state, nominated: p.nominated, priority: p.priority }));
  }

  // ------------------------------------------------------------------ inputs: candidates and credentials

  /**
   * Add a local candidate sent from socket `localSocketId`. The first host (or relay) candidate of a
   * socket is its base and forms pairs; other candidates of the same socket (srflx, NAT-mapped) are
   * only advertised.
   */
  addLocalCandidate(candidate: IceCandidate, localSocketId: number): void {
    if (this._state === 'closed') return;
    const family = ipFamily(candidate.address);
    if (family === 0) return;
    const address = normalizeIp(candidate.address);
    // The same candidate twice (a base that is also advertised as it is) would be listed twice.
    for (const l of this.locals) {
      const c = l.cand;
      if (l.socketId === localSocketId && c.address === address && c.port === candidate.port && c.type === candidate.type && c.transport === candidate.transport && c.component === candidate.component) return;
    }
    const entry: LocalEntry = { cand: { ...candidate, address }, socketId: localSocketId, family };
    this.locals.push(entry);
    if (this.bases.has(localSocketId) || (candidate.type !== 'host' && candidate.type !== 'relay')) return;
    if (candidate.component !== 1) return;
    this.bases.set(localSocketId, entry);
    if (this.lite) return;
    for (const r of this.remotes.values()) this.formPair(entry, r);
    this.armPacer();
  }

  /**
   * Add a (trickled) remote candidate. Returns false if it is ignored: not component 1 / UDP (TCP
   * remote candidates are learnt from the checks on an accepted connection instead), an
   * unresolved mDNS name (resolve it first; checks from it still arrive as peer-reflexive), a
   * `ufrag` of another ICE generation, or a duplicate.
   */
  addRemoteCandidate(candidate: IceCandidate): boolean {
    if (this._state === 'closed') return false;
    if (candidate.component !== 1 || candidate.transport !== 'udp') return false;
    if (isMdnsAddress(candidate.address)) return false;
    if (candidate.ufrag !== undefined && this.remoteUfrag !== undefined && candidate.ufrag !== this.remoteUfrag) return false;
    const family = ipFamily(candidate.address);
    if (family === 0) return false;
    const address = normalizeIp(candidate.address);
    // Never a pair with a destination nothing can be sent to (port 0, unspecified, multicast, broadcast).
    if (!isUsableDestination(address, candidate.port)) return false;
    const key = addrKey(address, candidate.port);
    const existing = this.remotes.get(key);
    if (existing) {
      if (existing.cand.type !== 'prflx' || candidate.type === 'prflx') return false;
      // a signalled candidate replaces the peer-reflexive one learnt from a check
      existing.cand = { ...candidate, address };
      this.recomputePriorities();
      return true;
    }
    const entry: RemoteEntry = { cand: { ...candidate, address }, key, family };
    this.remotes.set(key, entry);
    if (!this.lite) {
      for (const l of this.bases.values()) this.formPair(l, entry);
      this.armPacer();
    }
    return true;
  }

  /** The peer signalled end-of-candidates (trickle): failure can now be declared. */
  endOfCandidates(): void {
    this.remoteEnded = true;
    this.updateState();
  }

  /** Set (or replace, e.g. from an answer) the remote credentials; processes checks that arrived early. */
  setRemoteCredentials(ufrag: string, pwd: string): void {
    this.remoteUfrag = ufrag;
    this.remotePwd = pwd;
    const early = this.earlyChecks;
    this.earlyChecks = [];
    for (const e of early) {
      if (e.remoteUfrag === ufrag) this.processCheck(e.from, e.socketId, e.priority, e.useCandidate);
    }
    this.armPacer();
    this.updateState();
  }

  /**
   * ICE restart with new local credentials. Remote credentials and candidates are forgotten until
   * the new ones are signalled (`setRemoteCredentials`, `addRemoteCandidate`); local candidates are
   * kept. The previously selected pair keeps carrying media (and its consent checks keep using the
   * old credentials) until a new pair is selected.
   */
  restart(newUfrag: string, newPwd: string): void {
    if (this._state === 'closed') return;
    this.localUfrag = newUfrag;
    this.localPwd = newPwd;
    this.remoteUfrag = undefined;
    this.remotePwd = undefined;
    this.remotes.clear();
    this.pairs = [];
    this.pairIndex.clear();
    this.triggeredQueue = [];
    for (const [k, tx] of this.transactions) if (tx.kind === 'check') this.transactions.delete(k);
    this.earlyChecks = [];
    this.remoteEnded = false;
    this.firstValidAt = undefined;
    this.nextCheckAt = undefined;
    this.checkingStartedAt = undefined;
    if (this._state === 'failed') this.selected = this.selectedCreds = undefined;
    // A selected pair stays in use (detached from the cleared checklist) until a new one is chosen.
    if (!this.selected && this._state !== 'new') this.setState('new');
  }

  /** Stop everything; no more output. */
  close(): void {
    this.transactions.clear();
    this.triggeredQueue = [];
    this.transmits.length = 0;
    this.nextCheckAt = this.nextConsentAt = this.nextKeepaliveAt = undefined;
    this.setState('closed');
  }

  // ------------------------------------------------------------------ inputs: packets and time

  /**
   * Feed a datagram received on `localSocketId` from `from`. Returns true if it was STUN (consumed,
   * possibly discarded), false otherwise (the caller routes it to DTLS/SRTP).
   */
  handlePacket(bytes: Buffer, from: SocketAddress, localSocketId: number, now: number): boolean {
    const msg = parseStun(bytes);
    if (!msg) return false;
    if (now > this.now) this.now = now;
    if (this._state === 'closed') return true;
    if (msg.method !== 0x001) return true;
    if (msg.fingerprintOffset >= 0 && !verifyFingerprint(msg)) return true;
    switch (msg.cls) {
      case StunClass.Request:
        this.handleRequest(msg, from, localSocketId);
        break;
      case StunClass.SuccessResponse:
      case StunClass.ErrorResponse:
        this.handleResponse(msg, from, localSocketId);
        break;
      default:
        break; // indications are keepalives: nothing to do
    }
    this.updateState();
    return true;
  }

  /** Advance time: retransmissions, paced checks, nomination, consent, keepalives. */
  handleTimeout(now: number): void {
    if (now > this.now) this.now = now;
    if (this._state === 'closed' || this._state === 'failed') return;
    now = this.now;
    const t = this.timing;

    for (const tx of this.transactions.values()) {
      if (tx.nextAt > now) continue;
      if (tx.kind === 'consent' || tx.transmits >= t.maxTransmits) {
        this.transactions.delete(tx.key);
        this.transactionFailed(tx);
        continue;
      }
      tx.transmits++;
      tx.rto = Math.min(tx.rto * 2, t.rtoMax);
      tx.nextAt = now + tx.rto;
      this.send(tx.pair, tx.bytes);
    }

    if (this.nextCheckAt !== undefined && this.nextCheckAt <= now) {
      this.nextCheckAt = undefined;
      if (this.sendNextCheck()) this.nextCheckAt = now + t.ta;
    }

    this.maybeNominate();

    if (this.selected && !this.lite && this.selectedCreds) {
      if (this.consentFreshness) {
        if (this.nextConsentAt !== undefined && this.nextConsentAt <= now) {
          this.sendRequest(this.selected, 'consent', false, this.selectedCreds);
          this.nextConsentAt = now + t.consentInterval * (0.8 + 0.4 * this.random());
        }
        const silent = now - this.lastConsentAt;
        if (silent >= t.consentTimeout) {
          this.fail();
          return;
        }
        if (silent >= t.disconnectedTimeout) this.consentOk = false;
      } else if (this.nextKeepaliveAt !== undefined && this.nextKeepaliveAt <= now) {
        if (this.keepaliveConncheck) this.sendRequest(this.selected, 'keepalive', false, this.selectedCreds);
        else this.send(this.selected, new StunBuilder(StunMessageType.BindingIndication, this.randomBytes(12)).build({ fingerprint: true }));
        this.nextKeepaliveAt = now + t.keepaliveInterval;
      }
    }

    if (!this.selected && t.checkingTimeout > 0 && this.checkingStartedAt !== undefined && now - this.checkingStartedAt >= t.checkingTimeout) {
      this.fail();
      return;
    }
    this.updateState();
  }

  // ------------------------------------------------------------------ outputs

  pollTransmit(): Transmit | undefined {
    return this.transmits.shift();
  }

  pollEvent(): IceEvent | undefined {
    return this.events.shift();
  }

  /** Absolute time (same clock as `now`) at which `handleTimeout` must run next, or undefined. */
  pollTimeout(): number | undefined {
    if (this._state === 'closed' || this._state === 'failed') return undefined;
    let min = Infinity;
    const consider = (v: number | undefined): void => {
      if (v !== undefined && v < min) min = v;
    };
    consider(this.nextCheckAt);
    for (const tx of this.transactions.values()) consider(tx.nextAt);
    if (this.canNominate() && this.firstValidAt !== undefined) consider(this.firstValidAt + this.timing.nominationDelay);
    if (this.selected && !this.lite && this.selectedCreds) {
      if (this.consentFreshness) {
        consider(this.nextConsentAt);
        if (this.consentOk) consider(this.lastConsentAt + this.timing.disconnectedTimeout);
        consider(this.lastConsentAt + this.timing.consentTimeout);
      } else consider(this.nextKeepaliveAt);
    }
    if (!this.selected && this.timing.checkingTimeout > 0 && this.checkingStartedAt !== undefined) {
      consider(this.checkingStartedAt + this.timing.checkingTimeout);
    }
    return min === Infinity ? undefined : min;
  }

  // ------------------------------------------------------------------ request handling (7.3)

  private respondError(msg: StunMessage, from: SocketAddress, socketId: number, code: number, withIntegrity: boolean, unknown?: number[]): void {
    const b = new StunBuilder(StunMessageType.BindingError, msg.transactionId).errorCode(code);
    if (unknown) b.unknownAttributes(unknown);
    if (this.software) b.software(this.software);
    this.transmits.push({ bytes: b.build({ integrityKey: withIntegrity ? this.localPwd : undefined, fingerprint: true }), to: { address: from.address, port: from.port }, localSocketId: socketId });
  }

  private handleRequest(msg: StunMessage, from: SocketAddress, socketId: number): void {
    const unknown = msg.unknownComprehensionRequired();
    if (unknown.length > 0) return this.respondError(msg, from, socketId, StunErrorCode.UnknownAttribute, false, unknown);
    const username = msg.getUsername();
    if (username === undefined || msg.integrityOffset < 0) return this.respondError(msg, from, socketId, StunErrorCode.BadRequest, false);
    const lu = this.localUfrag;
    if (username.length <= lu.length || !username.startsWith(lu) || username.charCodeAt(lu.length) !== 58 /* ':' */) {
      return this.respondError(msg, from, socketId, StunErrorCode.Unauthorized, false);
    }
    if (!verifyMessageIntegrity(msg, this.localPwd)) return this.respondError(msg, from, socketId, StunErrorCode.Unauthorized, false);

    // role conflict (7.3.1.1); a lite agent is always controlled and does not arbitrate
    if (!this.lite) {
      const theirControlling = msg.getIceControlling();
      const theirControlled = msg.getIceControlled();
      if (this._controlling && theirControlling !== undefined) {
        if (this.tieBreaker >= theirControlling) return this.respondError(msg, from, socketId, StunErrorCode.RoleConflict, true);
        this.setRole(false);
      } else if (!this._controlling && theirControlled !== undefined) {
        if (this.tieBreaker >= theirControlled) this.setRole(true);
        else return this.respondError(msg, from, socketId, StunErrorCode.RoleConflict, true);
      }
    }

    const b = new StunBuilder(StunMessageType.BindingSuccess, msg.transactionId).xorMappedAddress(from.address, from.port);
    if (this.software) b.software(this.software);
    this.transmits.push({ bytes: b.build({ integrityKey: this.localPwd, fingerprint: true }), to: { address: from.address, port: from.port }, localSocketId: socketId });

    const remoteUfrag = username.slice(lu.length + 1);
    const priority = msg.getPriority() ?? computePriority('prflx', 0xffff, 1);
    const useCandidate = msg.hasUseCandidate();
    if (this.remotePwd === undefined) {
      // Remote credentials not known yet (trickle: the check beat the answer). Remember it.
      if (this.earlyChecks.length < MAX_EARLY_CHECKS) {
        this.earlyChecks.push({ from: { address: from.address, port: from.port }, socketId, priority, useCandidate, remoteUfrag });
      }
      if (this._state === 'new') this.startChecking();
      return;
    }
    if (remoteUfrag !== this.remoteUfrag) {
      // the peer already uses other credentials (e.g. its restart beat our signalling): hold it
      // like an early check; it is processed if setRemoteCredentials brings that ufrag
      if (this.earlyChecks.length < MAX_EARLY_CHECKS) {
        this.earlyChecks.push({ from: { address: from.address, port: from.port }, socketId, priority, useCandidate, remoteUfrag });
      }
      return;
    }
    this.processCheck(from, socketId, priority, useCandidate);
  }

  /** Pair bookkeeping for an authenticated incoming check (7.3.1.3 - 7.3.1.5). */
  private processCheck(from: SocketAddress, socketId: number, priority: number, useCandidate: boolean): void {
    const local = this.bases.get(socketId);
    if (!local) return;
    const tcp = local.cand.transport === 'tcp';
    const address = normalizeIp(from.address);
    const key = tcp ? tcpKey(address, from.port) : addrKey(address, from.port);
    let remote = this.remotes.get(key);
    if (!remote) {
      const family = ipFamily(address);
      if (family === 0 || !isUsableDestination(address, from.port)) return;
      const cand: IceCandidate = {
        foundation: `p${++this.prflxCounter}`,
        component: 1,
        transport: tcp ? 'tcp' : 'udp',
        priority,
        address,
        port: from.port,
        type: 'prflx',
        ...(tcp ? { tcpType: 'active' as const } : {}),
      };
      remote = { cand, key, family };
      this.remotes.set(key, remote);
      this.events.push({ type: 'remote-prflx', candidate: { ...cand } });
    }
    if (local.family !== remote.family) return;
    let pair = this.pairIndex.get(`${socketId}|${key}`);
    if (!pair) {
      pair = this.formPair(local, remote, true);
      if (!pair) return;
    }
    if (this._state === 'new') this.startChecking();

    if (this.lite) {
      // lite: a pair is valid as soon as a check arrives on it; USE-CANDIDATE nominates it
      pair.state = 'succeeded';
      if (useCandidate && !pair.nominated) {
        pair.nominated = true;
        this.updateSelected();
      }
      return;
    }

    if (useCandidate && !this._controlling) {
      pair.remoteNominated = true;
      if (pair.state === 'succeeded' && !pair.nominated) {
        pair.nominated = true;
        this.updateSelected();
      }
    }
    // triggered check (7.3.1.4); an in-progress transaction is left to complete
    if (pair.state === 'frozen' || pair.state === 'waiting' || pair.state === 'failed') {
      pair.state = 'waiting';
      this.enqueueTriggered(pair);
    }
  }

  // ------------------------------------------------------------------ response handling (7.2.5)

  private handleResponse(msg: StunMessage, from: SocketAddress, socketId: number): void {
    const key = msg.transactionKey();
    const tx = this.transactions.get(key);
    if (!tx) return;
    if (!verifyMessageIntegrity(msg, tx.remotePwd)) return; // not authentic: keep waiting
    this.transactions.delete(key);
    const pair = tx.pair;
    const symmetric = socketId === pair.local.socketId && from.port === pair.remote.cand.port && normalizeIp(from.address) === pair.remote.cand.address;

    if (tx.kind !== 'check') {
      if (msg.cls === StunClass.SuccessResponse && symmetric && pair === this.selected) {
        this.lastConsentAt = this.now;
        this.consentOk = true;
      }
      return;
    }
    if (msg.cls === StunClass.ErrorResponse) {
      const err = msg.getErrorCode();
      if (err?.code === StunErrorCode.RoleConflict) {
        // 7.2.5.1: switch to the role opposite of what the request claimed, then retry
        this.setRole(!tx.controllingAtSend);
        pair.state = 'waiting';
        this.enqueueTriggered(pair);
        return;
      }
      this.pairFailed(pair);
      return;
    }
    if (!symmetric) {
      this.pairFailed(pair);
      return;
    }
    const mapped = msg.getXorMappedAddress();
    if (mapped) pair.mapped = { address: mapped.address, port: mapped.port };
    pair.state = 'succeeded';
    if (this.firstValidAt === undefined) this.firstValidAt = this.now;
    // unfreeze pairs with the same foundation (7.2.5.3.3)
    for (const p of this.pairs) if (p.state === 'frozen' && p.foundation === pair.foundation) p.state = 'waiting';
    if (tx.useCandidate && this._controlling) {
      pair.nominated = true;
      pair.nominating = false;
    } else if (!this._controlling && pair.remoteNominated) {
      pair.nominated = true;
    }
    if (pair.nominated) this.updateSelected();
    this.armPacer();
  }

  private transactionFailed(tx: Transaction): void {
    if (tx.kind === 'check') this.pairFailed(tx.pair);
    else if (tx.kind === 'keepalive' && tx.pair === this.selected) this.fail();
    // consent: silence is handled by consentTimeout
  }

  private pairFailed(pair: Pair): void {
    pair.state = 'failed';
    pair.nominating = false;
    this.armPacer(); // frozen pairs of the same foundation may now be checked
    this.updateState();
  }

  // ------------------------------------------------------------------ checklist

  private formPair(local: LocalEntry, remote: RemoteEntry, fromCheck = false): Pair | undefined {
    if (local.family !== remote.family || local.cand.transport !== remote.cand.transport) return undefined;
    // a passive TCP base pairs only with the peer that connected to it (see the header)
    if (local.cand.transport === 'tcp' && !fromCheck) return undefined;
    const id = `${local.socketId}|${remote.key}`;
    if (this.pairIndex.has(id)) return undefined;
    if (this.pairs.length >= MAX_PAIRS) return undefined;
    const foundation = `${local.cand.foundation}:${remote.cand.foundation}`;
    const pair: Pair = {
      local,
      remote,
      priority: this.computePairPriority(local.cand.priority, remote.cand.priority),
      foundation,
      state: 'frozen',
      nominated: false,
      remoteNominated: false,
      nominating: false,
      triggered: false,
    };
    if (fromCheck) pair.state = 'waiting';
    else if (!this.pairs.some((p) => p.foundation === foundation && (p.state === 'waiting' || p.state === 'in-progress'))) {
      pair.state = 'waiting';
    }
    this.pairIndex.set(id, pair);
    this.insertSorted(pair);
    return pair;
  }

  private computePairPriority(localPrio: number, remotePrio: number): bigint {
    return this._controlling ? pairPriority(localPrio, remotePrio) : pairPriority(remotePrio, localPrio);
  }

  private insertSorted(pair: Pair): void {
    let i = this.pairs.length;
    while (i > 0 && this.pairs[i - 1]!.priority < pair.priority) i--;
    this.pairs.splice(i, 0, pair);
  }

  private recomputePriorities(): void {
    for (const p of this.pairs) p.priority = this.computePairPriority(p.local.cand.priority, p.remote.cand.priority);
    this.pairs.sort((a, b) => (a.priority > b.priority ? -1 : a.priority < b.priority ? 1 : 0));
  }

  private setRole(controlling: boolean): void {
    if (this._controlling === controlling) return;
    this._controlling = controlling;
    for (const p of this.pairs) {
      p.nominating = false;
      if (!controlling) continue;
      p.remoteNominated = false;
    }
    this.recomputePriorities();
    this.events.push({ type: 'role', controlling });
  }

  private enqueueTriggered(pair: Pair): void {
    if (!pair.triggered) {
      pair.triggered = true;
      this.triggeredQueue.push(pair);
    }
    this.armPacer();
  }

  private armPacer(): void {
    if (this.lite || this._state === 'closed' || this._state === 'failed') return;
    if (this.nextCheckAt === undefined && this.hasCheckWork()) this.nextCheckAt = this.now;
  }

  private canCheck(): boolean {
    return !this.lite && this.remotePwd !== undefined && this.remoteUfrag !== undefined;
  }

  private hasCheckWork(): boolean {
    if (!this.canCheck()) return false;
    if (this.triggeredQueue.length > 0) return true;
    if (this.selected && this.selected.nominated && this.pairIndexHas(this.selected)) return false;
    return this.pairs.some((p) => p.state === 'waiting' || p.state === 'frozen');
  }

  private pairIndexHas(p: Pair): boolean {
    return this.pairIndex.get(`${p.local.socketId}|${p.remote.key}`) === p;
  }

  /** Send one check (triggered first, then ordinary per 6.1.4.2). Returns whether one was sent. */
  private sendNextCheck(): boolean {
    if (!this.canCheck()) return false;
    while (this.triggeredQueue.length > 0) {
      const pair = this.triggeredQueue.shift()!;
      pair.triggered = false;
      if (!this.pairIndexHas(pair)) continue;
      if (pair.state !== 'waiting' && !pair.nominating) continue;
      this.sendCheck(pair);
      return true;
    }
    // After selection ordinary checks stop (8.1.2); triggered checks and consent continue.
    if (this.selected && this.pairIndexHas(this.selected)) return false;
    let next = this.pairs.find((p) => p.state === 'waiting');
    if (!next) {
      const busy = new Set<string>();
      for (const p of this.pairs) if (p.state === 'waiting' || p.state === 'in-progress') busy.add(p.foundation);
      for (const p of this.pairs) {
        if (p.state === 'frozen' && !busy.has(p.foundation)) {
          p.state = 'waiting';
          busy.add(p.foundation);
        }
      }
      next = this.pairs.find((p) => p.state === 'waiting');
    }
    if (!next) return false;
    this.sendCheck(next);
    return true;
  }

  private sendCheck(pair: Pair): void {
    const useCandidate = this._controlling && (this.nomination === 'aggressive' || pair.nominating);
    pair.state = 'in-progress';
    this.sendRequest(pair, 'check', useCandidate, { localUfrag: this.localUfrag, remoteUfrag: this.remoteUfrag!, remotePwd: this.remotePwd! });
    if (this._state === 'new') this.startChecking();
  }

  private sendRequest(pair: Pair, kind: TxKind, useCandidate: boolean, creds: { localUfrag: string; remoteUfrag: string; remotePwd: string }): void {
    const tid = this.randomBytes(12);
    const localPref = (pair.local.cand.priority >>> 8) & 0xffff;
    const b = new StunBuilder(StunMessageType.BindingRequest, tid)
      .username(`${creds.remoteUfrag}:${creds.localUfrag}`)
      .priority(computePriority('prflx', localPref, pair.local.cand.component));
    if (this._controlling) b.iceControlling(this.tieBreaker);
    else b.iceControlled(this.tieBreaker);
    if (useCandidate) b.useCandidate();
    const bytes = b.build({ integrityKey: creds.remotePwd, fingerprint: true });
    const key = tid.toString('latin1');
    const t = this.timing;
    this.transactions.set(key, {
      key,
      kind,
      pair,
      bytes,
      remotePwd: creds.remotePwd,
      useCandidate,
      controllingAtSend: this._controlling,
      transmits: 1,
      rto: t.rto,
      nextAt: this.now + (kind === 'consent' ? t.consentInterval * 2 : t.rto),
    });
    this.send(pair, bytes);
  }

  private send(pair: Pair, bytes: Buffer): void {
    this.transmits.push({ bytes, to: { address: pair.remote.cand.address, port: pair.remote.cand.port }, localSocketId: pair.local.socketId });
  }

  // ------------------------------------------------------------------ nomination and selection

  private canNominate(): boolean {
    return (
      this._controlling &&
      !this.lite &&
      this.nomination === 'regular' &&
      !this.pairs.some((p) => p.nominated || p.nominating) &&
      this.pairs.some((p) => p.state === 'succeeded')
    );
  }

  /** Regular nomination: once checks are done or nominationDelay elapsed, nominate the best valid pair. */
  private maybeNominate(): void {
    if (!this.canNominate() || !this.canCheck()) return;
    const pending = this.pairs.some((p) => p.state === 'waiting' || p.state === 'frozen' || p.state === 'in-progress');
    const delayOver = this.firstValidAt !== undefined && this.now >= this.firstValidAt + this.timing.nominationDelay;
    if (pending && !delayOver) return;
    const best = this.pairs.find((p) => p.state === 'succeeded');
    if (!best) return;
    best.nominating = true;
    this.enqueueTriggered(best);
  }

  private updateSelected(): void {
    let best: Pair | undefined;
    for (const p of this.pairs) {
      if (p.nominated && p.state === 'succeeded' && (!best || p.priority > best.priority)) best = p;
    }
    if (!best || best === this.selected) return;
    const first = !this.selected || !this.pairIndexHas(this.selected);
    this.selected = best;
    this.selectedCreds = this.remotePwd !== undefined && this.remoteUfrag !== undefined ? { localUfrag: this.localUfrag, remoteUfrag: this.remoteUfrag, remotePwd: this.remotePwd } : undefined;
    this.events.push({ type: 'selected-pair', pair: this.describe(best) });
    if (first) {
      this.lastConsentAt = this.now;
      this.consentOk = true;
      const t = this.timing;
      this.nextConsentAt = this.now + t.consentInterval * (0.8 + 0.4 * this.random());
      this.nextKeepaliveAt = this.now + t.keepaliveInterval;
    }
    this.updateState();
  }

  private describe(p: Pair): SelectedPair {
    return {
      local: { ...p.local.cand },
      remote: { ...p.remote.cand },
      localSocketId: p.local.socketId,
      remoteAddress: { address: p.remote.cand.address, port: p.remote.cand.port },
    };
  }

  // ------------------------------------------------------------------ state

  private startChecking(): void {
    if (this.checkingStartedAt === undefined) this.checkingStartedAt = this.now;
    if (this._state === 'new') this.setState('checking');
  }

  private fail(): void {
    this.transactions.clear();
    this.triggeredQueue = [];
    this.nextCheckAt = undefined;
    this.setState('failed');
  }

  private setState(s: IceState): void {
    if (this._state === s) return;
    this._state = s;
    this.events.push({ type: 'state', state: s });
  }

  /** Every pair failed, nothing in flight or queued, and the peer has no more candidates. */
  private checklistExhausted(): boolean {
    if (this.lite || !this.remoteEnded || this.pairs.length === 0) return false;
    if (this.earlyChecks.length > 0 || this.triggeredQueue.length > 0) return false;
    if (!this.pairs.every((p) => p.state === 'failed')) return false;
    for (const tx of this.transactions.values()) if (tx.kind === 'check') return false;
    return true;
  }

  private updateState(): void {
    const s = this._state;
    if (s === 'closed' || s === 'failed') return;
    const sel = this.selected;
    const current = sel !== undefined && this.pairIndexHas(sel);
    if (!current && this.checklistExhausted()) return this.fail();
    if (!sel) return;
    if (!this.consentOk) return this.setState('disconnected');
    if (!current) {
      // restart in progress: the previous pair still carries media
      if (s === 'disconnected' || s === 'new' || s === 'checking') this.setState('connected');
      return;
    }
    if (s === 'completed') return;
    let pending = this.triggeredQueue.length > 0;
    if (!pending) for (const tx of this.transactions.values()) if (tx.kind === 'check') pending = true;
    // always report connected before completed (consumers key "media may flow" on connected)
    this.setState('connected');
    if (!pending && this.remoteEnded) this.setState('completed');
  }
}
