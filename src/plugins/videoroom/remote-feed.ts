/**
 * The media side of a VideoRoom remote publisher (remote-publisher.ts has the requests): its two UDP
 * sockets, the packet intake and the keyframe requests back to the origin.
 *
 * Wire format, as Janus 1.1.2's: one RTP port carries every stream, told apart by SSRC only:
 * 1000 + 10 x mindex (+ 1, + 2 for the simulcast layers, lowest first); a data channel message comes as
 * an RTP header (payload type 0: text, any other binary) with the message as everything after its first
 * 12 bytes, as Janus reads it (remote-data-janus.test.ts pins the details). A second UDP port
 * (`rtcp_port`) is for keyframe requests: whoever sends an RTP or RTCP packet to it (the origin's
 * forwarder "latches" with empty RTP packets) gets our PLIs (sender SSRC 1, media SSRC that of the
 * stream), at most one per stream per second, a later one held back rather than dropped.
 *
 * The participant has no handle: its PluginSession is a RemotePublisherSession (never alive), and the
 * plugin's media host and host are wrapped (wrapMediaHost / wrapHost) so that the code paths written
 * for PeerConnections (keyframe requests on subscribe, fir_freq, PLI relay, kick/destroy teardown)
 * reach the feed instead of the core.
 *
 * The sockets live in the thread that runs the room (a media worker with the pool): requests naming
 * the room are routed there, and so are the packets.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Jsep } from '../../core/jsep.js';
import type { PluginHost, PluginMediaHost, PluginSession, RtpStreamInfo } from '../../core/plugin.js';
import { UdpPortAllocator } from '../../media/net/port-allocator.js';
import { sizeMediaSocket } from '../../media/net/socket-buffers.js';
import type { VrContext } from './context.js';
import type { Participant } from './participant.js';
import type { PublishedStream } from './streams.js';

/** Janus's SSRC plan for remote publishers: base + step x mindex (+ substream). */
export const REMOTE_SSRC_BASE = 1000;
export const REMOTE_SSRC_STEP = 10;
/** Janus's port range for remote publisher sockets (fixed in 1.1.2, not the core's rtp_port_range). */
const PORT_RANGE = { min: 10000, max: 60000 };
/** Keyframe requests to the origin: at most one per stream per second (Janus's pace). */
const PLI_INTERVAL_MS = 1000;

export function remoteSsrc(mindex: number, substream = 0): number {
  return REMOTE_SSRC_BASE + mindex * REMOTE_SSRC_STEP + substream;
}

/** The handle-less session of a remote publisher: events to it go nowhere, media requests go to its feed. */
export class RemotePublisherSession implements PluginSession {
  readonly handleId = 0;
  readonly sessionId = 0;
  readonly opaqueId = null;
  readonly token = null;
  readonly alive = false;
  state: unknown = { kind: 'idle' };
  feed: RemoteFeed | null = null;
}

/**
 * Every method of `o` (own or inherited: the core's hosts are plain objects, test hosts class instances)
 * bound to it once, so calls through the wrapper cost no allocation on the packet path.
 */
function delegate<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (let proto: object | null = o; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const k of Object.getOwnPropertyNames(proto)) {
      if (k === 'constructor' || k in out) continue;
      const d = Object.getOwnPropertyDescriptor(proto, k);
      if (d === undefined || d.get !== undefined) continue;
      const v = (o as Record<string, unknown>)[k];
      if (typeof v === 'function') out[k] = (v as (...a: unknown[]) => unknown).bind(o);
      else if (d.value !== undefined) Object.defineProperty(out, k, { get: () => (o as Record<string, unknown>)[k], enumerable: true });
    }
  }
  return out as T;
}

/** Keyframe requests and REMB for a remote publisher go to its feed; everything else to the core. */
export function wrapMediaHost<H extends PluginMediaHost>(media: H): H {
  return {
    ...delegate(media),
    sendPli: (session: PluginSession, mid: string | null) => {
      if (session instanceof RemotePublisherSession) session.feed?.requestKeyframe(mid);
      else media.sendPli(session, mid);
    },
    sendRemb: (session: PluginSession, bitrate: number) => {
      // Janus has no REMB path back to a remote publisher either.
      if (!(session instanceof RemotePublisherSession)) media.sendRemb(session, bitrate);
    },
    relayRtcp: (session: PluginSession, mid: string | null, buf: Buffer, len: number) => {
      if (!(session instanceof RemotePublisherSession)) media.relayRtcp(session, mid, buf, len);
    },
  };
}

/** Events to a remote publisher are dropped; "closing its PeerConnection" (kick, room destroyed) closes its sockets. */
export function wrapHost<H extends PluginHost>(host: H): H {
  const pushEvent = (session: PluginSession, transaction: string | null, data: Record<string, unknown>, jsep?: Jsep): boolean =>
    session instanceof RemotePublisherSession ? false : host.pushEvent(session, transaction, data, jsep);
  const closePeerConnection = (session: PluginSession, reason?: string): void => {
    if (session instanceof RemotePublisherSession) session.feed?.close();
    else host.closePeerConnection(session, reason);
  };
  // Event handlers hear about a remote publisher without a handle, as from Janus.
  const notifyEvent = (session: PluginSession | null, data: Record<string, unknown>, internal?: boolean): void =>
    host.notifyEvent?.(session instanceof RemotePublisherSession ? null : session, data, internal);
  // A Proxy, not a copy: the core (and tests) may set or replace host members after the plugin
  // started (event handlers switched on later), and the wrapper must see what the host has now.
  // Functions are bound once per member and reused, so a call allocates nothing.
  const bound = new Map<PropertyKey, { fn: unknown; bound: unknown }>();
  return new Proxy(host, {
    get(target, key) {
      if (key === 'pushEvent') return pushEvent;
      if (key === 'closePeerConnection') return closePeerConnection;
      if (key === 'notifyEvent') return target.notifyEvent === undefined ? undefined : notifyEvent;
      const v: unknown = Reflect.get(target, key);
      if (typeof v !== 'function') return v;
      let b = bound.get(key);
      if (b === undefined || b.fn !== v) {
        b = { fn: v, bound: (v as (...a: unknown[]) => unknown).bind(target) };
        bound.set(key, b);
      }
      return b.bound;
    },
  });
}

/** The packet path of the plugin (forward.ts), handed in by plugin.ts. */
export interface FeedPath {
  rtp(me: Participant, info: RtpStreamInfo, buf: Buffer, len: number): void;
  data(me: Participant, data: Buffer, isBinary: boolean): void;
}

/** Plugin-wide: the port allocator and the packet path every feed uses. */
export class RemoteFeeds {
  private readonly ports = new UdpPortAllocator({ range: PORT_RANGE });
  readonly live = new Set<RemoteFeed>();

  constructor(
    readonly ctx: VrContext,
    readonly path: FeedPath,
  ) {}

  /** A bound socket: on `port` when asked (0: the next free one of the range), on `address`. */
  async bind(port: number, address: string): Promise<Socket> {
    // The media sockets' buffers: a feed carries a whole publisher (every layer) in bursts, as theirs do.
    if (port === 0) {
      const s = (await this.ports.allocate(address)).socket;
      sizeMediaSocket(s);
      return s;
    }
    return new Promise((resolve, reject) => {
      const s = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
      s.once('error', (err) => {
        s.close();
        reject(err);
      });
      s.bind(port, address, () => {
        s.removeAllListeners('error');
        sizeMediaSocket(s);
        resolve(s);
      });
    });
  }

  /** The ports the live feeds receive on (RTP and RTCP), for the kernel drop count in /metrics. */
  livePorts(): number[] {
    const out: number[] = [];
    for (const f of this.live) {
      try {
        out.push(f.rtpPort, f.rtcpPort);
      } catch {
        // a socket closed under us: no port
      }
    }
    return out;
  }

  close(): void {
    for (const f of [...this.live]) f.close();
  }
}

/** Per stream: the stream infos of its layers, built once and handed to the packet path with each packet. */
interface FeedStream {
  ps: PublishedStream;
  infos: RtpStreamInfo[];
  lastPliMs: number;
  pliTimer: NodeJS.Timeout | null;
  /** Asked for before anyone latched on the RTCP port: sent as soon as someone does. */
  pliWanted: boolean;
}

/** One remote publisher's sockets and packet intake. */
export class RemoteFeed {
  /** Indexed by mindex (the SSRC names it). */
  private streams: (FeedStream | undefined)[] = [];
  /** Where keyframe requests go: the latest sender on the RTCP port. */
  private rtcpPeer: { address: string; port: number } | null = null;
  closed = false;
  received = 0;
  dropped = 0;

  constructor(
    private readonly feeds: RemoteFeeds,
    readonly me: Participant,
    readonly rtp: Socket,
    readonly rtcp: Socket,
  ) {
    feeds.live.add(this);
    rtp.on('message', (msg) => this.onRtp(msg));
    rtcp.on('message', (msg, rinfo) => this.onRtcp(msg, rinfo.address, rinfo.port));
    // An 'error' event without a listener would end the process (ICMP from a gone origin).
    rtp.on('error', () => undefined);
    rtcp.on('error', () => undefined);
  }

  get rtpPort(): number {
    return this.rtp.address().port;
  }

  get rtcpPort(): number {
    return this.rtcp.address().port;
  }

  /** The publisher's streams changed (add or update): rebuild the SSRC index. */
  setStreams(list: readonly PublishedStream[]): void {
    const next: (FeedStream | undefined)[] = [];
    for (const ps of list) {
      const old = this.streams[ps.mindex];
      if (old !== undefined && old.ps === ps) {
        next[ps.mindex] = old;
        continue;
      }
      const kind = ps.type === 'audio' ? 'audio' : 'video';
      const infos = [0, 1, 2].map((substream) => ({ mid: ps.mid, mindex: ps.mindex, kind, ssrc: remoteSsrc(ps.mindex, substream), substream, rid: undefined }) satisfies RtpStreamInfo);
      next[ps.mindex] = { ps, infos, lastPliMs: -Infinity, pliTimer: null, pliWanted: false };
    }
    this.streams = next;
  }

  private onRtp(msg: Buffer): void {
    try {
      const len = msg.length;
      // As Janus 1.1.2 tells RTP here: a full fixed header, and a payload type outside RTCP's 64-95.
      const pt = msg[1]! & 0x7f;
      if (len < 12 || (pt >= 64 && pt < 96)) return this.drop();
      const ssrc = msg.readUInt32BE(8);
      if (ssrc < REMOTE_SSRC_BASE) return this.drop();
      const diff = ssrc - REMOTE_SSRC_BASE;
      const mindex = Math.floor(diff / REMOTE_SSRC_STEP);
      const layer = diff - mindex * REMOTE_SSRC_STEP;
      const fs = this.streams[mindex];
      if (fs === undefined || layer > 2 || (layer > 0 && !fs.ps.simulcast)) return this.drop();
      if (fs.ps.type === 'data') {
        // The message is everything after the fixed header, as Janus takes it (its forwarder's envelope
        // is a bare 12-byte header: CSRCs, an extension or padding would be message bytes), whatever
        // the version bits; payload type 0 is text. An empty message is not delivered.
        this.received++;
        if (len > 12) this.feeds.path.data(this.me, msg.subarray(12), pt !== 0);
        return;
      }
      // Media must be RTP version 2 (Janus relays any version; every receiver would drop it).
      if ((msg[0]! & 0xc0) !== 0x80) return this.drop();
      this.received++;
      this.feeds.path.rtp(this.me, fs.infos[layer]!, msg, len);
    } catch (err) {
      this.feeds.ctx.log.error(`videoroom: remote publisher ${this.me.id} packet failure: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  private drop(): void {
    this.dropped++;
  }

  /** Only for latching, as Janus: an RTP or RTCP packet from the origin tells us where PLIs go. */
  private onRtcp(msg: Buffer, address: string, port: number): void {
    if (msg.length < 8 || (msg[0]! & 0xc0) !== 0x80) return;
    const first = this.rtcpPeer === null;
    if (first || this.rtcpPeer!.address !== address || this.rtcpPeer!.port !== port) this.rtcpPeer = { address, port };
    // Keyframe requests made before the origin latched (a subscriber quicker than the origin's forwarder).
    if (first) for (const fs of this.streams) if (fs?.pliWanted) this.sendPli(fs);
  }

  /** A keyframe request for one stream (mid) or every video stream (null). */
  requestKeyframe(mid: string | null): void {
    if (this.closed) return;
    for (const fs of this.streams) {
      if (fs === undefined || fs.ps.type !== 'video' || (mid !== null && fs.ps.mid !== mid)) continue;
      this.sendPli(fs);
    }
  }

  private sendPli(fs: FeedStream): void {
    const peer = this.rtcpPeer;
    fs.pliWanted = peer === null;
    if (peer === null) return;
    const now = this.feeds.ctx.now();
    const wait = fs.lastPliMs + PLI_INTERVAL_MS - now;
    if (wait > 0) {
      // Held back, not dropped: a subscriber that joined just after the last one still gets its keyframe.
      if (fs.pliTimer === null) {
        fs.pliTimer = setTimeout(() => {
          fs.pliTimer = null;
          if (!this.closed) this.sendPli(fs);
        }, wait);
        fs.pliTimer.unref();
      }
      return;
    }
    fs.lastPliMs = now;
    // A buffer per PLI (at most one per stream per second): dgram may still hold the previous one.
    const b = Buffer.allocUnsafe(12);
    b[0] = 0x81; // V=2, FMT=1 (PLI)
    b[1] = 206; // PSFB
    b.writeUInt16BE(2, 2);
    b.writeUInt32BE(1, 4);
    b.writeUInt32BE(remoteSsrc(fs.ps.mindex), 8);
    this.rtcp.send(b, 0, 12, peer.port, peer.address, () => undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.feeds.live.delete(this);
    for (const fs of this.streams) if (fs?.pliTimer) clearTimeout(fs.pliTimer);
    for (const s of [this.rtp, this.rtcp]) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}
