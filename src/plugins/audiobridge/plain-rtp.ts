/**
 * Plain-RTP participants (join with an `rtp` object, in rooms with `allow_rtp_participants`): no
 * PeerConnection, no ICE/DTLS/SRTP. Each participant gets one UDP socket of its own, bound on the
 * plugin's local IP inside the RTP port range; the joined event tells the client where to send
 * (`rtp: {ip, port, payload_type}`), and the mix goes back as plain RTP to the ip:port the client gave.
 *
 * As in Janus, the socket is connected to the client's address when it gave one: the kernel then drops
 * datagrams from anyone else (nobody can inject audio into the room by guessing the port), and sends need
 * no address. Nothing is sent before the first valid RTP packet arrives (the plugin treats that packet as
 * "media up", like a PeerConnection's setup), so a client that never sends never gets a stream either.
 *
 * Lives in whichever thread runs the plugin (main or a media worker): only node:dgram, no shared state.
 */
import type { Socket } from 'node:dgram';
import type { JanusConfig } from '../../config/types.js';
import { countFault } from '../../core/fault.js';
import type { Logger } from '../../log.js';
import { discoverLocalAddresses } from '../../media/net/interfaces.js';
import { parsePortRange, UdpPortAllocator, type PortRange } from '../../media/net/port-allocator.js';

export interface PlainRtpRemote {
  ip: string;
  port: number;
}

/** RTP version 2, a full fixed header, and not RTCP (RFC 5761: types 192..223 in the second byte). */
export function looksLikeRtp(buf: Buffer, len: number): boolean {
  if (len < 12 || len > buf.length) return false;
  if ((buf[0]! & 0xc0) !== 0x80) return false;
  const b1 = buf[1]!;
  return b1 < 192 || b1 > 223;
}

/** Where plain-RTP sockets are bound: one allocator and one local address per plugin instance. */
export class PlainRtpPorts {
  private readonly allocator: UdpPortAllocator;

  constructor(
    readonly localIp: string,
    range: PortRange | null,
    private readonly log: Logger,
  ) {
    this.allocator = new UdpPortAllocator({ range: range ?? { min: 0, max: 0 }, address: localIp });
  }

  /**
   * From the configuration: the plugin's own `local_ip` / `rtp_port_range` (Janus's AudioBridge keys)
   * when set, otherwise the gateway's media.rtp_port_range and the first address the ICE interface
   * filters (nat.ice_enforce_list / ice_ignore_list) would use, which is what Janus advertises too.
   */
  static fromConfig(gateway: JanusConfig | undefined, localIp: string | null, portRange: string | null, log: Logger): PlainRtpPorts {
    let range: PortRange | null = gateway?.media.rtp_port_range ?? null;
    if (portRange !== null) {
      try {
        range = parsePortRange(portRange);
      } catch (err) {
        log.warn(`AudioBridge: ignoring rtp_port_range: ${(err as Error).message}`);
      }
    }
    if (range && range.min === 0) range = null;
    return new PlainRtpPorts(localIp ?? PlainRtpPorts.detectIp(gateway), range, log);
  }

  private static detectIp(gateway: JanusConfig | undefined): string {
    try {
      const found = discoverLocalAddresses({ enforceList: gateway?.nat.ice_enforce_list ?? [], ignoreList: gateway?.nat.ice_ignore_list ?? [] });
      return found.find((a) => a.family === 4)?.address ?? '127.0.0.1';
    } catch {
      return '127.0.0.1';
    }
  }

  /** A new endpoint on a free port. Rejects when the range is exhausted or the address is not local. */
  async open(onRtp: (buf: Buffer, len: number) => void): Promise<PlainRtpEndpoint> {
    const { socket, port } = await this.allocator.allocate();
    return new PlainRtpEndpoint(socket, this.localIp, port, onRtp, this.log);
  }
}

/** One participant's socket. `close()` is idempotent; every socket error is logged, never thrown. */
export class PlainRtpEndpoint {
  private socket: Socket | null;
  /** The remote address the socket is connected to (mix is sent only then). */
  private remote: PlainRtpRemote | null = null;
  private connecting = 0;
  private errors = 0;
  /** Counters (diagnostics/tests). */
  received = 0;
  dropped = 0;
  sent = 0;

  constructor(
    socket: Socket,
    readonly localIp: string,
    readonly port: number,
    onRtp: (buf: Buffer, len: number) => void,
    private readonly log: Logger,
  ) {
    this.socket = socket;
    socket.on('message', (msg: Buffer) => {
      // Node hands each datagram over in a Buffer of its own: the plugin may keep slices of it.
      if (!looksLikeRtp(msg, msg.length)) {
        this.dropped++;
        return;
      }
      this.received++;
      try {
        onRtp(msg, msg.length);
      } catch (err) {
        // A bug behind this participant's socket (fault boundary: counted, rate-limited log).
        countFault('plugin_media');
        this.logError('handling a packet', err);
      }
    });
    // ICMP port-unreachable on a connected socket surfaces here (ECONNREFUSED): not fatal, the client
    // may start listening later.
    socket.on('error', (err) => this.logError('socket error', err));
  }

  get closed(): boolean {
    return this.socket === null;
  }

  /** Whether the mix can be sent (connected to the client's address). */
  get canSend(): boolean {
    return this.remote !== null && this.socket !== null;
  }

  get remoteAddress(): PlainRtpRemote | null {
    return this.remote;
  }

  /** Point the socket at the client (replacing an earlier address); null leaves it receive-only. */
  connect(remote: PlainRtpRemote | null): Promise<void> {
    const s = this.socket;
    if (!s) return Promise.resolve();
    if (this.remote) {
      try {
        s.disconnect();
      } catch {
        /* not connected after all */
      }
      this.remote = null;
    }
    if (!remote) return Promise.resolve();
    const attempt = ++this.connecting;
    return new Promise((resolve) => {
      try {
        s.connect(remote.port, remote.ip, (err?: Error) => {
          if (err) this.logError(`cannot send to ${remote.ip}:${remote.port}`, err);
          else if (attempt === this.connecting && this.socket === s) this.remote = { ...remote };
          resolve();
        });
      } catch (err) {
        this.logError(`cannot send to ${remote.ip}:${remote.port}`, err);
        resolve();
      }
    });
  }

  send(packet: Buffer): void {
    const s = this.socket;
    if (!s || !this.remote) return;
    try {
      s.send(packet);
      this.sent++;
    } catch (err) {
      this.logError('send failed', err);
    }
  }

  close(): void {
    const s = this.socket;
    this.socket = null;
    this.remote = null;
    if (!s) return;
    s.removeAllListeners('message');
    try {
      s.close();
    } catch {
      /* already closed */
    }
  }

  /** The first few errors are warnings, then one a hundred: a dead client must not flood the log. */
  private logError(what: string, err: unknown): void {
    this.errors++;
    if (this.errors <= 3 || this.errors % 100 === 0) {
      this.log.warn(`AudioBridge plain RTP: ${what}`, { port: this.port, err: String(err), count: this.errors });
    }
  }
}
