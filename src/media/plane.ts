/**
 * The WebRTC media plane: the core's MediaPlane implemented with one Peer (server-side PeerConnection)
 * per handle. It owns what is shared by every PeerConnection: the DTLS certificate, the local
 * candidates, the UDP port allocator (media.rtp_port_range) and the ICE/DTLS settings from janus.jcfg.
 *
 * Control plane side (JSEP, trickles, hangups) goes through the MediaPlane methods; the packet path
 * never crosses this class except for the plugin relay calls (one Map lookup by handle id).
 */
import { ErrorCode, JanusError } from '../core/errors.js';
import { fault } from '../core/fault.js';
import type { Jsep } from '../core/jsep.js';
import type { MediaEvents, MediaHandle, MediaPlane, MediaPlaneMetrics, TrickleCandidate } from '../core/media-plane.js';
import { addInto, addPeer, ERROR_KINDS, peerState, zeroTotals } from '../metrics/media.js';
import type { JanusConfig } from '../config/types.js';
import { log as rootLog, type Logger } from '../log.js';
import { LocalCandidates } from './candidates.js';
import { generateCertificate, loadCertificate, type DtlsCertificate } from './dtls/certificate.js';
import { PortRangeExhaustedError, UdpPortAllocator } from './net/port-allocator.js';
import { IceTcpListener, type IceTcpStats } from './net/ice-tcp.js';
import { UdpMux, type UdpMuxStats } from './net/udp-mux.js';
import { UfragRouter } from './net/ufrag-router.js';
import type { IceTiming } from './ice/agent.js';
import type { IceCandidate } from './ice/candidate.js';
import type { Socket } from 'node:dgram';
import { Peer, type MediaRuntimeSettings, type PeerConfig } from './peer.js';
import { SdpError } from './sdp/errors.js';
import { extractRemoteTransport } from './sdp/jsep.js';
import { parseSdp } from './sdp/parse.js';
import type { SdpLimits } from './sdp/limits.js';
import { SOCKET_BUFFER_BYTES } from './net/socket-buffers.js';

export interface WebRtcMediaPlaneOptions {
  config: JanusConfig;
  /** Runtime settings (Admin API may change them); default: the values in `config`. */
  settings?: () => MediaRuntimeSettings;
  certificate?: DtlsCertificate;
  /** Local candidates (default: discovered from `config.nat`). */
  candidates?: LocalCandidates;
  log?: Logger;
  /** ICE timing overrides (tests: fast consent loss / check failure); Janus has no such settings. */
  iceTiming?: Partial<IceTiming>;
  /**
   * The UDP port of this plane's shared socket (media.single_port); default `config.media.single_port`.
   * Media workers pass single_port + their index (one port per worker thread). 0: a socket per PeerConnection.
   */
  singlePort?: number;
  /**
   * One-port mode (media.single_port with media workers): the process's single socket is the main
   * thread's (port-reader.ts); this plane gets muxes over it instead of a socket of its own.
   */
  sharedPort?: SharedPort;
}

/** The process's single port as one plane sees it: a worker's PortLink, or the PortReader itself for main's plane. */
export interface SharedPort {
  readonly port: number;
  /** First character of this plane's ufrags: how the reader finds the thread of a new source. */
  readonly prefix: string;
  /** The process's ICE-TCP port (the main thread listens, nat.ice_tcp), null without. */
  readonly tcpPort: number | null;
  /** That TCP listener takes IPv6 too (advertise IPv6 TCP candidates). */
  readonly tcp6?: boolean;
  /** The one socket's srflx candidate (the main thread asked the STUN server once), null: none. */
  readonly srflx?: IceCandidate | null;
  /** The same for its IPv6 twin (media.ipv6 and a stun_server with an IPv6 address). */
  readonly srflx6?: IceCandidate | null;
  attach(router: UfragRouter): { mux4: UdpMux; mux6: UdpMux | null };
}

export class WebRtcMediaPlane implements MediaPlane {
  private events: MediaEvents | null = null;
  private readonly peers = new Map<number, Peer>();
  private readonly creating = new Map<number, Promise<Peer>>();
  /** Handles hung up while their peer was being created (the result is closed on arrival). */
  private readonly generation = new Map<number, number>();
  private readonly allocator: UdpPortAllocator;
  /** media.ipv6 with IPv6 addresses: a second (udp6) socket per PeerConnection from the same range. */
  private readonly allocator6: UdpPortAllocator | null;
  private readonly peerConfig: PeerConfig;
  private readonly log: Logger;
  private closed = false;
  /** What closed PeerConnections had counted, so /metrics counters never go back. */
  private readonly retired = zeroTotals();
  /** What we generate is held to the same limits as what we accept (media.max_mlines, media.max_sdp_size). */
  private readonly sdpLimits: SdpLimits;
  /**
   * nat.ice_tcp: this plane's listener, opened with the first PeerConnection (a plane that never hosts
   * one, like main's when media workers carry the PeerConnections, holds no port).
   */
  private iceTcp: Promise<IceTcpListener | null> | null = null;
  private iceTcpListener: IceTcpListener | null = null;
  private tcpDualStack = false;
  /** media.single_port: the shared UDP socket, opened with the first PeerConnection like the ICE-TCP listener. */
  private readonly singlePort: number;
  private udpMux: Promise<UdpMux> | null = null;
  private udpMuxReady: UdpMux | null = null;
  /** media.single_port with media.ipv6: the IPv6-only twin on the same port number. */
  private udpMux6Ready: UdpMux | null = null;
  /** One-port mode: the main thread's socket, reached through this (see SharedPort). */
  private shared: SharedPort | null = null;
  /** Who owns which ufrag, for every listener that routes by it (single-port sockets, ICE-TCP). */
  private readonly router = new UfragRouter();
  /** The srflx candidate of the shared socket, asked once (every PeerConnection has the same one). */
  private muxSrflx: Promise<IceCandidate | null> | null = null;
  /** The same for the shared IPv6 socket. */
  private muxSrflx6: Promise<IceCandidate | null> | null = null;

  private constructor(
    private readonly config: JanusConfig,
    readonly certificate: DtlsCertificate,
    readonly candidates: LocalCandidates,
    settings: () => MediaRuntimeSettings,
    log: Logger,
    iceTiming: Partial<IceTiming> | undefined,
    singlePort: number,
    shared: SharedPort | undefined,
  ) {
    this.log = log;
    this.singlePort = singlePort;
    if (shared !== undefined) this.useSharedPort(shared);
    this.sdpLimits = { maxMlines: config.media.max_mlines, maxSize: config.media.max_sdp_size };
    const range = config.media.rtp_port_range ?? { min: 0, max: 0 };
    this.allocator = new UdpPortAllocator({ range, address: '0.0.0.0' });
    this.allocator6 = candidates.addresses6.length > 0 ? new UdpPortAllocator({ range, address: '::', type: 'udp6' }) : null;
    const nat = config.nat;
    this.peerConfig = {
      certificate,
      iceLite: nat.ice_lite,
      fullTrickle: nat.full_trickle,
      nomination: nat.ice_nomination,
      consentFreshness: nat.ice_consent_freshness,
      keepaliveConncheck: nat.ice_keepalive_conncheck,
      dtlsMtu: config.media.dtls_mtu,
      twccPeriodMs: config.media.twcc_period,
      // The pacer is on wherever transport-cc is negotiated; PORTUNUS_PACING=0 turns it off (experiments, escape hatch).
      pacing: process.env['PORTUNUS_PACING'] !== '0',
      hangupOnFailed: nat.hangup_on_failed,
      settings,
      log,
      ...(iceTiming ? { iceTiming } : {}),
      ...(singlePort > 0 || shared !== undefined || nat.ice_tcp ? { ufragRouter: this.router } : {}),
    };
  }

  /**
   * One-port mode: PeerConnections from now on go on the process's single port (main's plane gets this
   * from the pool once the port reader is bound). Before the first PeerConnection only.
   */
  useSharedPort(shared: SharedPort): void {
    this.shared = shared;
    this.router.prefix = shared.prefix;
    if (this.peerConfig !== undefined) this.peerConfig.ufragRouter = this.router;
  }

  /** Loads or generates the certificate, discovers addresses and probes the STUN server. */
  static async create(opts: WebRtcMediaPlaneOptions): Promise<WebRtcMediaPlane> {
    const { config } = opts;
    const log = (opts.log ?? rootLog).child({ module: 'media' });
    let certificate = opts.certificate;
    if (!certificate) {
      const c = config.certificates;
      if (c.cert_pem && c.cert_key) certificate = loadCertificate(c.cert_pem, c.cert_key, c.cert_pwd ?? undefined);
      else certificate = generateCertificate();
    }
    const candidates =
      opts.candidates ??
      (await LocalCandidates.create({
        enforceList: config.nat.ice_enforce_list,
        ignoreList: config.nat.ice_ignore_list,
        ipv6: config.media.ipv6,
        ipv6LinkLocal: config.media.ipv6_linklocal,
        nat11Mapping: config.nat.nat_1_1_mapping,
        keepPrivateHost: config.nat.keep_private_host,
        stunServer: config.nat.stun_server,
        stunPort: config.nat.stun_port,
        log,
      }));
    const settings =
      opts.settings ??
      (() => ({
        noMediaTimer: config.media.no_media_timer,
        slowlinkThreshold: config.media.slowlink_threshold,
        minNackQueue: config.media.min_nack_queue,
        nackOptimizations: config.media.nack_optimizations,
      }));
    log.info('media plane ready', {
      addresses: candidates.addresses.map((a) => a.address),
      ...(candidates.addresses6.length > 0 ? { addresses6: candidates.addresses6.map((a) => a.address) } : {}),
      rtp_port_range: config.media.rtp_port_range ? `${config.media.rtp_port_range.min}-${config.media.rtp_port_range.max}` : 'any',
      fingerprint: certificate.sdpFingerprint,
      ice_lite: config.nat.ice_lite,
      full_trickle: config.nat.full_trickle,
    });
    return new WebRtcMediaPlane(config, certificate, candidates, settings, log, opts.iceTiming, opts.singlePort ?? config.media.single_port, opts.sharedPort);
  }

  attach(events: MediaEvents): void {
    this.events = events;
  }

  /** Live PeerConnections (for tests and leak checks). */
  get peerCount(): number {
    return this.peers.size;
  }
  /** Handles the plane keeps any bookkeeping for (peers, creations in flight, drop generations): leak checks. */
  get trackedHandles(): number {
    return new Set([...this.peers.keys(), ...this.creating.keys(), ...this.generation.keys()]).size;
  }
  get portsInUse(): number {
    return this.allocator.inUse;
  }
  /** The handle's peer, if any (tests, diagnostics). */
  peerOf(handleId: number): Peer | undefined {
    return this.peers.get(handleId);
  }

  // ------------------------------------------------------------------ MediaPlane: signalling

  remoteJsep(handle: MediaHandle, jsep: Jsep): Jsep | Promise<Jsep> {
    const type = jsep.type === 'answer' ? 'answer' : 'offer';
    let desc;
    let transport;
    const existing = this.peers.get(handle.handleId);
    try {
      desc = parseSdp(jsep.sdp);
      const previous = existing?.previousRemote;
      transport = extractRemoteTransport(desc, previous ? { type, previous } : { type });
    } catch (err) {
      throw invalidSdp(err);
    }
    const apply = (peer: Peer): Jsep => {
      try {
        peer.setRemoteDescription(desc, transport, type);
      } catch (err) {
        throw invalidSdp(err);
      }
      return jsep;
    };
    if (existing) return apply(existing);
    return this.peerFor(handle).then(apply);
  }

  localJsep(handle: MediaHandle, jsep: Jsep): Jsep | Promise<Jsep> {
    const type = jsep.type === 'answer' ? 'answer' : 'offer';
    const apply = (peer: Peer): Jsep => {
      try {
        // A plugin offer flagged `restart` (VideoRoom subscriber configure with restart) gets new ICE
        // credentials; the flag itself is not part of what the client receives.
        if (type === 'offer' && jsep.restart === true) peer.restartIce();
        const { restart: _restart, ...rest } = jsep;
        return { ...rest, sdp: peer.setLocalDescription(jsep.sdp, type, this.sdpLimits) };
      } catch (err) {
        throw invalidSdp(err);
      }
    };
    const existing = this.peers.get(handle.handleId);
    if (existing) return apply(existing);
    if (type === 'answer') throw new JanusError(ErrorCode.JSEP_INVALID_SDP, 'Answer without a PeerConnection (no remote offer)');
    return this.peerFor(handle).then(apply);
  }

  trickle(handle: MediaHandle, candidates: TrickleCandidate[]): void {
    const peer = this.peers.get(handle.handleId);
    if (peer) {
      peer.addTrickle(candidates);
      return;
    }
    // The peer is being created (the core saw the remote SDP first): apply once it exists.
    void this.creating.get(handle.handleId)?.then(
      (p) => {
        try {
          p.addTrickle(candidates);
        } catch (err) {
          fault(this.log, 'core', err, { handle_id: handle.handleId, where: 'trickle' });
        }
      },
      () => undefined,
    );
  }

  hangup(handle: MediaHandle, reason: string): void {
    this.drop(handle.handleId, reason);
  }

  release(handle: MediaHandle): void {
    this.drop(handle.handleId, 'Detach');
  }

  private drop(id: number, reason: string): void {
    // Only a PeerConnection being created needs to learn it was dropped meanwhile; the entry goes when
    // that creation settles (one entry per handle ever seen used to stay forever).
    if (this.creating.has(id)) this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    addPeer(this.retired, peer);
    this.log.verb('closing PeerConnection', { handle: id, reason, port: peer.port });
    peer.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.peers.keys()]) this.drop(id, 'Shutdown');
    await Promise.allSettled([...this.creating.values()]);
    for (const id of [...this.peers.keys()]) this.drop(id, 'Shutdown');
    await this.iceTcp;
    this.iceTcpListener?.close();
    await this.udpMux?.catch(() => null);
    // A shared port's muxes are closed by their owner (PortLink / PortReader); ours with the plane.
    if (this.shared === null) {
      this.udpMuxReady?.close();
      this.udpMux6Ready?.close();
    }
  }

  /** The ICE-TCP listener's port and refusal counters, null when nat.ice_tcp is off or not opened yet. */
  get iceTcpInfo(): { port: number; connections: number; stats: IceTcpStats } | null {
    const l = this.iceTcpListener;
    return l === null ? null : { port: l.port, connections: l.connections, stats: { ...l.stats } };
  }

  /** The shared UDP socket's port and drop counters, null when media.single_port is off or not opened yet. */
  get singlePortInfo(): { port: number; peerConnections: number; addresses: number; stats: UdpMuxStats } | null {
    const m = this.udpMuxReady;
    return m === null ? null : { port: m.port, peerConnections: m.portCount, addresses: m.addressCount, stats: { ...m.stats } };
  }

  /** Bind the shared UDP socket once. Unlike ICE-TCP, failing to bind it fails the call: there is no other UDP. */
  private ensureUdpMux(): Promise<UdpMux> {
    const shared = this.shared;
    if (shared !== null) {
      if (this.udpMuxReady === null) {
        const { mux4, mux6 } = shared.attach(this.router);
        this.udpMuxReady = mux4;
        this.udpMux6Ready = this.candidates.addresses6.length > 0 ? mux6 : null;
      }
      return Promise.resolve(this.udpMuxReady);
    }
    const opts = { bufferBytes: 4 * SOCKET_BUFFER_BYTES, log: this.log, router: this.router };
    this.udpMux ??= UdpMux.bind(this.singlePort, opts).then(
      async (m) => {
        if (this.candidates.addresses6.length > 0) {
          // media.ipv6: an IPv6-only socket on the same port number (one port to open, both families).
          try {
            this.udpMux6Ready = await UdpMux.bind(m.port, { ...opts, family: 6 });
          } catch (err) {
            m.close();
            throw err;
          }
        }
        if (this.closed) {
          m.close();
          this.udpMux6Ready?.close();
        }
        this.udpMuxReady = m;
        this.log.info('single-port UDP listening', { port: m.port, ...(this.udpMux6Ready ? { ipv6: true } : {}) });
        return m;
      },
      (err: unknown) => {
        this.udpMux = null; // try again with the next PeerConnection (the port may be freed)
        throw err;
      },
    );
    return this.udpMux;
  }

  /** Open the ICE-TCP listener once; a failure is a warning (UDP keeps working), not a refused call. */
  private ensureIceTcp(): Promise<IceTcpListener | null> {
    if (!this.config.nat.ice_tcp) return Promise.resolve(null);
    // Single-port mode: TCP on the same port number, so a firewall opens one port for both. (Not
    // called in one-port mode: the main thread's PortReader listens for the whole process.)
    const range = this.udpMuxReady !== null ? { min: this.udpMuxReady.port, max: this.udpMuxReady.port } : (this.config.media.rtp_port_range ?? { min: 0, max: 0 });
    // media.ipv6: one dual-stack listener ('::') takes both families.
    this.tcpDualStack = this.candidates.addresses6.length > 0;
    this.iceTcp ??= IceTcpListener.listen({ range, log: this.log, router: this.router, ...(this.tcpDualStack ? { address: '::' } : {}) })
      .then((l) => {
        if (this.closed) {
          l.close();
          return null;
        }
        this.iceTcpListener = l;
        this.peerConfig.iceTcp = l;
        this.log.info('ICE-TCP listening', { port: l.port });
        return l;
      })
      .catch((err: unknown) => {
        this.log.warn('ICE-TCP disabled: cannot listen', { err: err instanceof Error ? err.message : String(err) });
        return null;
      });
    return this.iceTcp;
  }

  /** /metrics: live PeerConnections by state and the cumulative counters of every PeerConnection so far. */
  metrics(): MediaPlaneMetrics {
    const t = zeroTotals();
    addInto(t.audio, this.retired.audio);
    addInto(t.video, this.retired.video);
    for (const k of ERROR_KINDS) t.errors[k] = this.retired.errors[k]!;
    const states: Record<string, number> = { connecting: 0, connected: 0, failed: 0 };
    for (const peer of this.peers.values()) {
      states[peerState(peer)]!++;
      addPeer(t, peer);
    }
    const mux = this.udpMuxReady;
    if (mux !== null) {
      // Datagrams on the shared socket that no PeerConnection owns (portunus_media_errors_total{type="single_port_..."}).
      t.errors.single_port_unknown_source = mux.stats.unknownSource;
      t.errors.single_port_unknown_ufrag = mux.stats.unknownUfrag;
      t.errors.single_port_garbage = mux.stats.garbage;
    }
    const tcp = this.iceTcpListener;
    if (tcp !== null) {
      // ICE-TCP connections closed for bad input (portunus_media_errors_total{type="ice_tcp_..."}).
      const st = tcp.stats;
      t.errors.ice_tcp_garbage = st.garbage;
      t.errors.ice_tcp_oversize = st.oversize;
      t.errors.ice_tcp_timeout = st.timeout;
      t.errors.ice_tcp_unknown_ufrag = st.unknownUfrag;
      t.errors.ice_tcp_overflow = st.overflow;
      t.errors.ice_tcp_refused = st.refused;
      t.errors.ice_tcp_send_dropped = st.sendDropped;
    }
    const range = this.config.media.rtp_port_range;
    return {
      peerConnections: states,
      portsInUse: this.allocator.inUse,
      portsTotal: range && range.min > 0 ? range.max - range.min + 1 : 0,
      audio: t.audio,
      video: t.video,
      errors: t.errors,
    };
  }

  // ------------------------------------------------------------------ MediaPlane: relay (packet path)

  relayRtp(handle: MediaHandle, mid: string, buf: Buffer, len: number): void {
    const peer = this.peers.get(handle.handleId);
    if (peer !== undefined) peer.sendRtp(mid, buf, len);
  }

  relayRtcp(handle: MediaHandle, mid: string | null, buf: Buffer, len: number): void {
    const peer = this.peers.get(handle.handleId);
    if (peer !== undefined) peer.sendRtcp(mid, buf, len);
  }

  relayData(handle: MediaHandle, label: string | null, data: string | Buffer): void {
    this.peers.get(handle.handleId)?.sendData(label, data);
  }

  sendPli(handle: MediaHandle, mid: string | null): void {
    this.peers.get(handle.handleId)?.sendPli(mid);
  }

  bandwidthEstimate(handle: MediaHandle, wantedBps?: number): number {
    const p = this.peers.get(handle.handleId);
    if (p === undefined) return 0;
    if (wantedBps !== undefined) p.setWantedBitrate(wantedBps);
    return p.bandwidthEstimate;
  }

  sendQueueMs(handle: MediaHandle): number {
    return this.peers.get(handle.handleId)?.takeSendQueueMs(performance.now()) ?? 0;
  }

  sendRemb(handle: MediaHandle, bitrate: number): void {
    this.peers.get(handle.handleId)?.sendRemb(bitrate);
  }

  handleInfo(handle: MediaHandle): Record<string, unknown> | null {
    const peer = this.peers.get(handle.handleId);
    if (!peer) return null;
    return peer.info();
  }

  // ------------------------------------------------------------------ peer creation

  private peerFor(handle: MediaHandle): Promise<Peer> {
    const id = handle.handleId;
    const inFlight = this.creating.get(id);
    if (inFlight) return inFlight;
    const gen = this.generation.get(id) ?? 0;
    const p = this.createPeer(handle)
      .then((peer) => {
        if (this.closed || (this.generation.get(id) ?? 0) !== gen) {
          peer.close();
          throw new JanusError(ErrorCode.WEBRTC_STATE, 'PeerConnection closed while being set up');
        }
        this.peers.set(id, peer);
        return peer;
      })
      .finally(() => {
        this.creating.delete(id);
        this.generation.delete(id);
      });
    this.creating.set(id, p);
    return p;
  }

  private async createPeer(handle: MediaHandle): Promise<Peer> {
    if (this.closed) throw new JanusError(ErrorCode.WEBRTC_STATE, 'Media plane is shutting down');
    if (this.singlePort > 0 || this.shared !== null) return this.createMuxedPeer(handle);
    let allocated;
    try {
      allocated = await this.allocator.allocate();
    } catch (err) {
      if (err instanceof PortRangeExhaustedError) {
        this.log.error('cannot create a PeerConnection', { handle: handle.handleId, err: err.message });
        throw new JanusError(ErrorCode.UNKNOWN, `Error creating PeerConnection: ${err.message}`);
      }
      throw new JanusError(ErrorCode.UNKNOWN, `Error creating PeerConnection: ${err instanceof Error ? err.message : String(err)}`);
    }
    // A single-threaded receiver needs slack for GC pauses and scheduling hiccups: ask for 2 MiB
    // socket buffers (the kernel caps them at net.core.rmem_max / wmem_max) instead of ~200 KiB.
    try {
      allocated.socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
      allocated.socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
    } catch {
      /* keep the defaults */
    }
    const cands = this.candidates.hostCandidates(allocated.port);
    if (!cands) {
      allocated.socket.close();
      throw new JanusError(ErrorCode.UNKNOWN, 'Error creating PeerConnection: no usable local address (ice_enforce_list / ice_ignore_list)');
    }
    // Both families' STUN transactions run at once (each up to stunTimeoutMs); srflx is optional.
    const srflx4 = this.candidates.srflxFor(allocated.socket, cands.base).catch(() => null);
    let srflx6: Promise<IceCandidate | null> = Promise.resolve(null);
    if (this.allocator6 !== null) {
      // IPv6 is extra reach: a PeerConnection without it still works over IPv4.
      try {
        const a6 = await this.allocator6.allocate();
        try {
          a6.socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
          a6.socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
        } catch {
          /* keep the defaults */
        }
        this.candidates.addIpv6(cands, a6.socket, a6.port);
        const v6 = cands.v6;
        if (v6 !== undefined) srflx6 = this.candidates.srflxFor(v6.socket, v6.base).catch(() => null);
      } catch (err) {
        this.log.warn('no IPv6 socket for this PeerConnection', { handle: handle.handleId, err: err instanceof Error ? err.message : String(err) });
      }
    }
    for (const srflx of [await srflx4, await srflx6]) if (srflx) cands.advertised.push(srflx);
    return this.finishPeer(handle, allocated.socket, allocated.port, cands);
  }

  /** media.single_port: the PeerConnection gets a view of the plane's shared socket, no port of its own. */
  private async createMuxedPeer(handle: MediaHandle): Promise<Peer> {
    let mux: UdpMux;
    try {
      mux = await this.ensureUdpMux();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.log.error('cannot create a PeerConnection: single_port not bound', { handle: handle.handleId, port: this.singlePort, err: msg });
      throw new JanusError(ErrorCode.UNKNOWN, `Error creating PeerConnection: single_port ${this.singlePort}: ${msg}`);
    }
    const cands = this.candidates.hostCandidates(mux.port);
    if (!cands) throw new JanusError(ErrorCode.UNKNOWN, 'Error creating PeerConnection: no usable local address (ice_enforce_list / ice_ignore_list)');
    // Once per socket: the mapping is the socket's, not the PeerConnection's. stunBinding listens on the
    // socket itself; the mux sees the server's answer too and counts it as unknown (one datagram).
    // (One-port mode: the main thread asked once on its socket, before the workers started.)
    const dgram = mux.dgram;
    const m6 = this.udpMux6Ready;
    if (this.shared !== null) {
      this.muxSrflx ??= Promise.resolve(this.shared.srflx ?? null);
      this.muxSrflx6 ??= Promise.resolve(this.shared.srflx6 ?? null);
    } else {
      if (dgram !== null) this.muxSrflx ??= this.candidates.srflxFor(dgram, cands.base).catch(() => null);
      const base6 = m6 !== null && m6.dgram !== null ? this.candidates.ipv6Base(m6.port) : null;
      if (base6 !== null) this.muxSrflx6 ??= this.candidates.srflxFor(m6!.dgram!, base6).catch(() => null);
    }
    const srflx = this.muxSrflx !== null ? await this.muxSrflx : null;
    const srflx6 = this.muxSrflx6 !== null ? await this.muxSrflx6 : null;
    const port = mux.open();
    const port6 = m6 !== null ? m6.open() : null;
    if (port6 !== null) this.candidates.addIpv6(cands, port6 as unknown as Socket, m6!.port);
    if (srflx) cands.advertised.push({ ...srflx });
    if (srflx6 && port6 !== null) cands.advertised.push({ ...srflx6 });
    try {
      return await this.finishPeer(handle, port as unknown as Socket, mux.port, cands);
    } catch (err) {
      port.close(); // its view would otherwise stay registered on the shared socket
      port6?.close();
      throw err;
    }
  }

  private async finishPeer(handle: MediaHandle, socket: Socket, localPort: number, cands: NonNullable<ReturnType<LocalCandidates['hostCandidates']>>): Promise<Peer> {
    let tcpPort: number | null = null;
    let tcp6 = false;
    if (this.shared !== null) {
      // One-port mode: the main thread listens for the whole process and relays our connections.
      if (this.config.nat.ice_tcp) {
        tcpPort = this.shared.tcpPort;
        tcp6 = this.shared.tcp6 === true;
      }
    } else {
      const tcp = await this.ensureIceTcp();
      if (tcp !== null) {
        tcpPort = tcp.port;
        tcp6 = this.tcpDualStack;
      }
    }
    if (tcpPort !== null) {
      cands.advertised.push(...this.candidates.tcpCandidates(tcpPort));
      if (tcp6) cands.advertised.push(...this.candidates.tcpCandidates6(tcpPort));
    }
    const id = handle.handleId;
    const events = this.events;
    const peer = new Peer(id, socket, localPort, cands, this.peerConfig, {
      webrtcUp: () => events?.webrtcUp(id),
      mediaState: (info) => events?.mediaState(id, info),
      slowLink: (info) => events?.slowLink(id, info),
      iceFailed: () => events?.iceFailed(id),
      closed: (reason) => events?.peerClosed(id, reason),
      localCandidate: (c) => events?.localCandidate(id, c),
    });
    peer.setSink(events?.mediaSink?.(id) ?? null);
    this.log.verb('PeerConnection created', { handle: id, port: localPort });
    return peer;
  }
}

function invalidSdp(err: unknown): JanusError {
  if (err instanceof JanusError) return err;
  const msg = err instanceof SdpError ? err.message : err instanceof Error ? err.message : String(err);
  return new JanusError(ErrorCode.JSEP_INVALID_SDP, `Invalid SDP (${msg})`);
}
