/**
 * A Node-side WebRTC data-channel client built from Portunus's own media modules (ice/, dtls/,
 * sctp/, sdp/), for the TextRoom flow where the gateway offers first and the client answers:
 *
 *   gateway offer (setup / restart) -> answer(offerSdp) -> our answer SDP (ICE credentials, host
 *   candidate, DTLS fingerprint, setup:active, m=application) -> ICE (we are controlled) -> DTLS
 *   (we are the client) -> SCTP (client) -> we open one data channel ("JanusDataChannel", like
 *   janus.js) -> text/binary frames both ways.
 *
 * It is not the server's Peer class: data channels only (no RTP), one UDP socket (127.0.0.1 by default), and
 * a configurable SCTP send limit so tests can send frames larger than the gateway advertises (what
 * a broken or hostile client would do; browsers refuse to).
 *
 * Also: startTextroomPortunus() (a Portunus process with only the TextRoom plugin, advertising
 * 127.0.0.1) and TextroomParticipant (create/attach/setup/ack over the Janus API on WebSocket).
 */
import { randomBytes } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateCertificate, type DtlsCertificate, type Fingerprint } from '../../src/media/dtls/certificate.js';
import { DtlsEndpoint } from '../../src/media/dtls/endpoint.js';
import { IceAgent, type IceEvent, type SocketAddress } from '../../src/media/ice/agent.js';
import { hostCandidate, serializeCandidate, tryParseCandidate } from '../../src/media/ice/candidate.js';
import { UdpPortAllocator } from '../../src/media/net/port-allocator.js';
import { createSctpOverDtls, type DataChannel, type SctpOverDtls } from '../../src/media/sctp/datachannel.js';
import { extractRemoteTransport, mergeTransport } from '../../src/media/sdp/jsep.js';
import { buildAnswer } from '../../src/media/sdp/negotiate.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { WsClient, type JsonObject } from './janus-client.js';
import { freePorts, httpJcfg, uniqueServerName, websocketsJcfg } from './server-conf.js';
import { mediaJanusJcfg } from './media-server.js';
import { reserveRtpPortRange } from './rtp-ranges.js';
import { startJanusOnFolder } from './janus-ref.js';
import { startPortunusOnFolder } from './portunus.js';
import { withRetries, type RunningServer } from './server-process.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const ICE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function iceString(n: number): string {
  const b = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ICE_CHARS[b[i]! & 63];
  return s;
}

let sharedCert: DtlsCertificate | null = null;
function certificate(): DtlsCertificate {
  return (sharedCert ??= generateCertificate());
}

/** Client sockets: their own range (gateways get blocks in 23000-29999, rtp-ranges.ts), shifted per process so parallel test files do not collide. */
const allocators = new Map<string, UdpPortAllocator>();
function allocatorFor(address: string, range?: { min: number; max: number }): UdpPortAllocator {
  const key = range ? `${address}/${range.min}-${range.max}` : address;
  let a = allocators.get(key);
  if (!a) {
    const base = 46000 + (process.pid % 10) * 300 + allocators.size * 3000;
    allocators.set(key, (a = new UdpPortAllocator({ range: range ?? { min: base, max: base + 299 }, address })));
  }
  return a;
}

export interface DataChannelClientOptions {
  /** Address to bind and advertise (default 127.0.0.1; the real Janus ignores loopback, so its self-checks use the machine's address). */
  address?: string;
  /** Label of the channel we open (janus.js: "JanusDataChannel"). */
  label?: string;
  /** Largest frame send() accepts (default 1 MiB, above what the gateway advertises on purpose). */
  maxMessageSize?: number;
  /** Name for error messages. */
  name?: string;
  /** Local UDP port range (default: 300 ports picked from the process id); load generators with many clients per process give each process its own. */
  portRange?: { min: number; max: number };
}

export interface ReceivedFrame {
  text: string;
  binary: boolean;
  /** Parsed JSON when the frame is a text JSON object. */
  json: JsonObject | undefined;
}

interface Waiter {
  pred: (f: ReceivedFrame) => boolean;
  resolve: (f: ReceivedFrame) => void;
}

export class DataChannelClient {
  readonly name: string;
  readonly label: string;
  /** Every frame received, in order. */
  readonly frames: ReceivedFrame[] = [];
  /** Frames not yet taken by waitFor()/request(). */
  private unconsumed: ReceivedFrame[] = [];
  private waiters: Waiter[] = [];
  private listeners: ((f: ReceivedFrame) => void)[] = [];

  private localUfrag = iceString(8);
  private localPwd = iceString(24);
  private agent: IceAgent | null = null;
  private remoteCreds: { iceUfrag: string; icePwd: string } | null = null;
  /** ICE restarts seen (offers with new credentials after the first). */
  restarts = 0;
  private dtls: DtlsEndpoint | null = null;
  private sctp: (SctpOverDtls & { onDtlsData(d: Buffer): void; start(): void }) | null = null;
  private channel: DataChannel | null = null;
  private remoteAddress: SocketAddress | null = null;
  private remoteSctpPort = 5000;
  private earlyDtls: Buffer[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private closed = false;
  private openWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;
  readonly maxMessageSize: number;
  /** Timestamps (performance.now()) of the connection milestones. */
  readonly milestones: Record<string, number> = {};

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
    readonly address: string,
    opts: DataChannelClientOptions,
  ) {
    this.name = opts.name ?? `dc-client:${port}`;
    this.label = opts.label ?? 'JanusDataChannel';
    this.maxMessageSize = opts.maxMessageSize ?? 1024 * 1024;
    socket.on('message', this.onMessage);
    socket.on('error', () => {
      /* a send to a closed peer: ignore */
    });
  }

  static async create(opts: DataChannelClientOptions = {}): Promise<DataChannelClient> {
    const address = opts.address ?? '127.0.0.1';
    const s = await allocatorFor(address, opts.portRange).allocate();
    return new DataChannelClient(s.socket, s.port, address, opts);
  }

  get isOpen(): boolean {
    return this.channel !== null && this.channel.state === 'open';
  }

  // ---------------------------------------------------------------- signalling

  /**
   * Take the gateway's offer (from `setup`, or a `restart`) and return our answer SDP. The
   * first offer starts ICE/DTLS/SCTP; a later one with new ICE credentials restarts ICE and keeps
   * the DTLS association and the channel.
   */
  answer(offerSdp: string): string {
    if (this.closed) throw new Error(`${this.name}: closed`);
    const offer = parseSdp(offerSdp);
    const t = extractRemoteTransport(offer, { type: 'offer', ...(this.remoteCreds ? { previous: this.remoteCreds } : {}) });
    this.remoteCreds = { iceUfrag: t.iceUfrag, icePwd: t.icePwd };
    const app = offer.media.find((m) => m.kind === 'application' && m.port !== 0);
    if (!app) throw new Error(`${this.name}: the offer has no usable m=application line:\n${offerSdp}`);
    this.remoteSctpPort = app.sctpPort ?? 5000;
    const first = this.agent === null;
    const agent = (this.agent ??= new IceAgent({
      controlling: t.iceLite, // the offerer is controlling unless it is ICE-lite
      localUfrag: this.localUfrag,
      localPwd: this.localPwd,
      nomination: 'aggressive',
      consentFreshness: true,
      software: 'portunus-test-dc-client',
    }));
    const restart = !first && t.iceRestart;
    if (first) agent.addLocalCandidate(hostCandidate(this.address, this.port), 0);
    else if (restart) {
      // ICE restart (new remote credentials): new credentials on our side too (RFC 8445 9).
      this.localUfrag = iceString(8);
      this.localPwd = iceString(24);
      agent.restart(this.localUfrag, this.localPwd);
      this.restarts++;
    }
    agent.setRemoteCredentials(t.iceUfrag, t.icePwd);
    for (const line of t.allCandidates) {
      const c = tryParseCandidate(line);
      if (c) agent.addRemoteCandidate(c);
    }
    if (t.endOfCandidates) agent.endOfCandidates();
    if (first) {
      // actpass offer: we take the DTLS client role (setup:active), like browsers do.
      this.dtls = new DtlsEndpoint(
        {
          role: 'client',
          certificate: certificate(),
          remoteFingerprints: t.fingerprints.map((f): Fingerprint => ({ algorithm: f.hash, value: f.value.toUpperCase() })),
          mtu: 1200,
        },
        {
          transmit: (d) => this.sendRaw(d),
          connected: () => this.onDtlsConnected(),
          data: (d) => this.sctp?.onDtlsData(d),
          closed: (reason, detail) => this.fail(new Error(`${this.name}: DTLS closed (${reason}: ${detail})`)),
        },
      );
      for (const d of this.earlyDtls.splice(0)) this.dtls.handleDatagram(d, performance.now());
    }
    const { description } = buildAnswer(offer, () => ({ sctpPort: 5000, maxMessageSize: this.maxMessageSize }), {
      origin: { sessionId: String(Date.now()), sessionVersion: '1', address: this.address },
      sessionName: '-',
    });
    const cert = certificate();
    const merged = mergeTransport(description, {
      iceUfrag: this.localUfrag,
      icePwd: this.localPwd,
      fingerprint: cert.fingerprint.value,
      fingerprintHash: cert.fingerprint.algorithm,
      setup: 'active',
      candidates: [serializeCandidate(hostCandidate(this.address, this.port))],
      endOfCandidates: true,
    });
    this.milestones.answered ??= performance.now();
    this.flush();
    return writeSdp(merged);
  }

  /** A candidate the gateway trickled (`trickle` event). */
  addRemoteCandidate(c: { candidate?: string; completed?: boolean }): void {
    if (!this.agent) return;
    if (c.completed) this.agent.endOfCandidates();
    else if (c.candidate) {
      const parsed = tryParseCandidate(c.candidate);
      if (parsed) this.agent.addRemoteCandidate(parsed);
    }
    this.flush();
  }

  /** Resolves when our data channel is open (DCEP ACK received). */
  waitOpen(timeoutMs = 10_000): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const w = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.openWaiters = this.openWaiters.filter((x) => x !== w);
        reject(new Error(`${this.name}: data channel not open within ${timeoutMs} ms (ICE ${this.agent?.state ?? 'none'}, DTLS ${this.dtls?.state ?? 'none'}, SCTP ${this.sctp?.sctp.state ?? 'none'})`));
      }, timeoutMs);
      this.openWaiters.push(w);
    });
  }

  // ---------------------------------------------------------------- data

  /** Send one text frame. Throws if the channel is not open or the frame was refused. */
  send(text: string): void {
    this.sendFrame(text);
  }

  /** Send one binary frame (PPID "WebRTC Binary"). */
  sendBinary(data: Uint8Array): void {
    this.sendFrame(data);
  }

  private sendFrame(data: string | Uint8Array): void {
    if (!this.sctp || !this.channel || !this.isOpen) throw new Error(`${this.name}: data channel not open`);
    if (!this.sctp.channels.send(this.channel, data)) throw new Error(`${this.name}: frame refused by SCTP (${typeof data === 'string' ? Buffer.byteLength(data) : data.length} bytes)`);
  }

  /** Send a JSON object. */
  sendJson(body: Record<string, unknown>): void {
    this.send(JSON.stringify(body));
  }

  /** Called for every frame (after it is recorded). */
  onFrame(fn: (f: ReceivedFrame) => void): void {
    this.listeners.push(fn);
  }

  /** Next frame (already received or future) matching pred; consumed. */
  waitFor(pred: (f: ReceivedFrame) => boolean, timeoutMs = 5000, what = 'frame'): Promise<ReceivedFrame> {
    const i = this.unconsumed.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.unconsumed.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; unconsumed: ${this.unconsumed.map((f) => f.text.slice(0, 200)).join(' | ').slice(0, 1500)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Next JSON event matching pred. */
  async waitJson(pred: (m: JsonObject) => boolean, timeoutMs = 5000, what = 'event'): Promise<JsonObject> {
    const f = await this.waitFor((x) => x.json !== undefined && pred(x.json), timeoutMs, what);
    return f.json!;
  }

  /** Send a TextRoom request (a transaction is added if absent) and resolve with the reply carrying it. */
  async request(body: Record<string, unknown>, timeoutMs = 5000): Promise<JsonObject> {
    const msg = { ...body };
    if (msg.transaction === undefined) msg.transaction = `dc-${randomBytes(6).toString('hex')}`;
    const t = msg.transaction;
    this.sendJson(msg); // replies are buffered until taken: waiting after sending cannot miss one
    return this.waitJson((m) => m.transaction === t, timeoutMs, `reply to ${JSON.stringify(msg).slice(0, 200)}`);
  }

  /** Frames received but not taken by waitFor()/request(). */
  pending(): ReceivedFrame[] {
    return [...this.unconsumed];
  }

  /** Forget unconsumed frames (e.g. join events before the part of a test that counts). */
  drain(): ReceivedFrame[] {
    return this.unconsumed.splice(0);
  }

  get stats(): { iceState: string; dtlsState: string; sctpState: string; framesIn: number } {
    return { iceState: this.agent?.state ?? 'none', dtlsState: this.dtls?.state ?? 'none', sctpState: this.sctp?.sctp.state ?? 'none', framesIn: this.frames.length };
  }

  close(): void {
    if (this.closed) return;
    try {
      this.sctp?.sctp.close();
    } catch {
      /* best effort */
    }
    try {
      this.dtls?.close();
    } catch {
      /* best effort */
    }
    this.closed = true;
    this.agent?.close();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.socket.off('message', this.onMessage);
    for (const w of this.openWaiters.splice(0)) w.reject(new Error(`${this.name}: closed`));
    setImmediate(() => {
      try {
        this.socket.close();
      } catch {
        /* already closed */
      }
    });
  }

  // ---------------------------------------------------------------- internals

  private fail(e: Error): void {
    if (this.failure || this.closed) return;
    this.failure = e;
    for (const w of this.openWaiters.splice(0)) w.reject(e);
  }

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.closed || msg.length === 0) return;
    const b0 = msg[0]!;
    const now = performance.now();
    try {
      if (b0 <= 3) {
        this.agent?.handlePacket(msg, { address: rinfo.address, port: rinfo.port }, 0, now);
      } else if (b0 >= 20 && b0 <= 63) {
        if (this.remoteAddress === null) this.remoteAddress = { address: rinfo.address, port: rinfo.port };
        if (this.dtls) this.dtls.handleDatagram(msg, now);
        else if (this.earlyDtls.length < 16) this.earlyDtls.push(msg);
      }
    } catch {
      /* garbage never escapes */
    }
    this.flush();
  };

  private onIceEvent(e: IceEvent): void {
    if (e.type === 'selected-pair') {
      this.remoteAddress = { ...e.pair.remoteAddress };
      this.milestones.iceSelected ??= performance.now();
      if (this.dtls && this.dtls.state === 'new') this.dtls.start(performance.now());
    } else if (e.type === 'state' && e.state === 'failed') {
      this.fail(new Error(`${this.name}: ICE failed`));
    }
  }

  private onDtlsConnected(): void {
    if (this.closed || !this.dtls) return;
    this.milestones.dtlsConnected = performance.now();
    const s = createSctpOverDtls(this.dtls, {
      remotePort: this.remoteSctpPort,
      maxMessageSize: this.maxMessageSize,
      events: {
        channelOpen: (ch) => {
          if (ch !== this.channel) return;
          this.milestones.channelOpen = performance.now();
          for (const w of this.openWaiters.splice(0)) w.resolve();
        },
        message: (_ch, data, binary) => this.onData(data, binary),
        channelClosed: (ch) => {
          if (ch === this.channel) this.fail(new Error(`${this.name}: data channel closed by the gateway`));
        },
      },
    });
    this.sctp = s;
    this.channel = s.channels.createChannel(this.label) ?? null;
    s.start();
  }

  private onData(data: Buffer | string, binary: boolean): void {
    const text = typeof data === 'string' ? data : binary ? data.toString('hex') : data.toString('utf8');
    let json: JsonObject | undefined;
    if (!binary) {
      try {
        const v = JSON.parse(text) as unknown;
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) json = v as JsonObject;
      } catch {
        json = undefined;
      }
    }
    const f: ReceivedFrame = { text, binary, json };
    this.frames.push(f);
    for (const l of this.listeners) l(f);
    const i = this.waiters.findIndex((w) => w.pred(f));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(f);
    else this.unconsumed.push(f);
  }

  private sendRaw(d: Buffer, to: SocketAddress | null = this.remoteAddress): void {
    if (this.closed || to === null) return;
    this.socket.send(d, to.port, to.address);
  }

  private flush(): void {
    if (this.closed) return;
    const a = this.agent;
    if (a) {
      for (let t = a.pollTransmit(); t; t = a.pollTransmit()) this.sendRaw(t.bytes, t.to);
      for (let e = a.pollEvent(); e; e = a.pollEvent()) this.onIceEvent(e);
    }
    let at = Infinity;
    const ia = a?.pollTimeout();
    if (ia !== undefined && ia < at) at = ia;
    const da = this.dtls?.pollTimeout();
    if (da !== undefined && da < at) at = da;
    if (at === Infinity) return;
    if (this.timer !== null && at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, at - performance.now()));
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = performance.now();
    this.agent?.handleTimeout(now);
    this.dtls?.handleTimeout(now);
    this.flush();
  };
}

// ==================================================================== Janus API side

/** One TextRoom handle over the Janus API (WebSocket) with its data-channel client. */
export class TextroomParticipant {
  private constructor(
    readonly ws: WsClient,
    readonly sessionId: number,
    readonly handleId: number,
    readonly dc: DataChannelClient,
    readonly name: string,
  ) {
    // A run of many participants on a loaded machine can outlast session_timeout (60 s) between
    // requests: keep the session alive as janus.js does.
    this.keepalive = setInterval(() => {
      this.ws.request({ janus: 'keepalive', session_id: this.sessionId }, 10_000).catch(() => undefined);
    }, 20_000);
    this.keepalive.unref();
  }

  private readonly keepalive: NodeJS.Timeout;

  /**
   * create + attach janus.plugin.textroom + setup (the gateway offers) + ack (our answer), then wait
   * for the data channel to open and the `webrtcup` event. The gateway's candidates must be in its
   * offer (the default; with full_trickle, feed `trickle` events to dc.addRemoteCandidate).
   */
  static async connect(wsUrl: string, name: string, opts: DataChannelClientOptions = {}): Promise<TextroomParticipant> {
    const ws = await WsClient.connect(wsUrl);
    const dc = await DataChannelClient.create({ name, ...opts });
    let p: TextroomParticipant | undefined;
    try {
      const created = await ws.request({ janus: 'create' }, 10_000);
      const sessionId = (created.data as JsonObject).id as number;
      const attached = await ws.request({ janus: 'attach', session_id: sessionId, plugin: 'janus.plugin.textroom' }, 10_000);
      const handleId = (attached.data as JsonObject).id as number;
      p = new TextroomParticipant(ws, sessionId, handleId, dc, name);
      const ev = await p.message({ request: 'setup' });
      const jsep = ev.jsep as JsonObject | undefined;
      const data = (ev.plugindata as JsonObject).data as JsonObject;
      if (data.result !== 'ok' || !jsep || jsep.type !== 'offer') throw new Error(`${name}: setup answered ${JSON.stringify(ev)}`);
      const answer = dc.answer(jsep.sdp as string);
      const acked = await p.message({ request: 'ack' }, { type: 'answer', sdp: answer }, 30_000); // loaded machine: see startTextroomGateway
      const ackData = (acked.plugindata as JsonObject).data as JsonObject;
      if (ackData.result !== 'ok') throw new Error(`${name}: ack answered ${JSON.stringify(acked)}`);
      await dc.waitOpen(15_000);
      await ws.waitFor((m) => m.janus === 'webrtcup' && m.sender === handleId, 15_000, `${name}: webrtcup`);
      return p;
    } catch (e) {
      if (p) clearInterval(p.keepalive);
      dc.close();
      await ws.close();
      throw e;
    }
  }

  /** A Janus API `message` to the plugin; resolves with the (asynchronous) event. */
  async message(body: Record<string, unknown>, jsep?: Record<string, unknown>, timeoutMs = 10_000): Promise<JsonObject> {
    const transaction = `m-${randomBytes(6).toString('hex')}`;
    const ack = await this.ws.request({ janus: 'message', session_id: this.sessionId, handle_id: this.handleId, body, ...(jsep ? { jsep } : {}), transaction }, timeoutMs);
    if (ack.janus === 'event') return ack; // synchronous answer
    if (ack.janus !== 'ack') throw new Error(`${this.name}: message ${JSON.stringify(body)} answered ${JSON.stringify(ack)}`);
    // WsClient keeps what nobody waited for yet, so the event cannot be missed here.
    return this.ws.waitFor((m) => m.transaction === transaction && m.janus === 'event', timeoutMs, `${this.name}: event for ${JSON.stringify(body)}`);
  }

  async close(): Promise<void> {
    clearInterval(this.keepalive);
    this.dc.close();
    try {
      await this.ws.request({ janus: 'destroy', session_id: this.sessionId }, 3000);
    } catch {
      /* the gateway may be gone */
    }
    await this.ws.close();
  }
}

// ==================================================================== gateway

export interface TextroomGatewayOptions {
  /** ice_enforce_list: an address or interface name (default 127.0.0.1; Janus needs a non-loopback one, see machineAddress()). */
  enforce?: string;
  /** Contents of janus.plugin.textroom.jcfg (default: room 1234 like Janus's sample, compact JSON). */
  textroomJcfg?: string;
  /** Extra node flags for the Portunus process (e.g. ['--cpu-prof']). */
  nodeArgs?: string[];
  /** media.rtp_port_range (default: a 101-port block of its own, rtp-ranges.ts): one port per member on both gateways, so hundreds of members need a wider one. */
  rtpPortRange?: string;
  /** Portunus only: general.media_workers (default: one per core). */
  mediaWorkers?: number;
}

export const DEFAULT_TEXTROOM_JCFG = ['general: {', '  json = "compact"', '}', '', 'room-1234: {', '  description = "Demo Room"', '  secret = "adminpwd"', '}', ''].join('\n');

/**
 * Portunus with only the TextRoom plugin and the HTTP/WebSockets transports, advertising 127.0.0.1
 * (ice_enforce_list), media ports in a block of its own (rtp-ranges.ts). Configs folder removed on stop().
 */
export async function startTextroomPortunus(opts: TextroomGatewayOptions = {}): Promise<RunningServer> {
  return startTextroomGateway('portunus', opts);
}

/** The same configs folder run by the real Janus 1.1.2 or by Portunus (the harness self-check runs Janus). */
export async function startTextroomGateway(kind: 'janus' | 'portunus', opts: TextroomGatewayOptions = {}): Promise<RunningServer> {
  return withRetries(4, async () => {
    const rtp = opts.rtpPortRange === undefined ? await reserveRtpPortRange() : null;
    const dir = mkdtempSync(join(tmpdir(), 'portunus-textroom-conf-'));
    const remove = (): void => {
      rmSync(dir, { recursive: true, force: true });
      rtp?.release();
    };
    try {
      const ports = await freePorts();
      const serverName = uniqueServerName('portunus-textroom');
      const adminSecret = 'textroom_admin_secret';
      let jcfg = mediaJanusJcfg(serverName, adminSecret, ['textroom'], opts.enforce ?? '127.0.0.1', opts.rtpPortRange ?? rtp!.text);
      if (kind === 'portunus' && opts.mediaWorkers !== undefined) jcfg = jcfg.replace('general: {\n', `general: {\n  media_workers = ${opts.mediaWorkers}\n`);
      writeFileSync(join(dir, 'janus.jcfg'), jcfg);
      writeFileSync(join(dir, 'janus.transport.http.jcfg'), httpJcfg(ports));
      writeFileSync(join(dir, 'janus.transport.websockets.jcfg'), websocketsJcfg(ports, false));
      writeFileSync(join(dir, 'janus.plugin.textroom.jcfg'), opts.textroomJcfg ?? DEFAULT_TEXTROOM_JCFG);
      const srv =
        kind === 'janus'
          ? await startJanusOnFolder(dir, ports, serverName, adminSecret)
          // 60 s, as startMediaGateway: next to Chromium and other jobs on the shared 2-core machine, a
          // niced Portunus start (main + worker threads loading their modules) has taken over 20 s
          : await startPortunusOnFolder(dir, ports, serverName, adminSecret, { readyTimeoutMs: 60_000, ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}) });
      const stop = srv.stop;
      srv.stop = async () => {
        await stop();
        remove();
      };
      return srv;
    } catch (e) {
      remove();
      throw e;
    }
  });
}
