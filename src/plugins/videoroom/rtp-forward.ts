/**
 * RTP forwarders (`rtp_forward`, `stop_rtp_forward`, `listforwarders`): a publisher's streams sent as
 * plain RTP (or SRTP with SDES-style keys) to host:port, outside any signalling, as Janus does.
 *
 * Sending: all forwarders of the plugin share one UDP socket per address family. Janus opens one per
 * publisher; a shared one costs one descriptor instead of hundreds and the kernel does not care which
 * socket a datagram left from. Only forwarders with `rtcp_port` get a socket of their own: the receiver
 * must be able to send RTCP back to a port that identifies the forwarder.
 *
 * The packet path (forwardRtp / forwardData) is synchronous and allocation-free: packets are copied
 * into pooled buffers that go back to the pool when dgram reports the datagram sent (dgram may hold a
 * buffer until then, so a single scratch buffer could be overwritten while still queued). Send errors
 * (ICMP unreachable and the like) arrive in that callback: counted, logged rate-limited, never thrown.
 *
 * Forwarders live on their PublishedStream: they die with it (unpublish, hangup, leave, kick, room
 * destroyed, or the stream removed by a renegotiation), as in Janus.
 */
import { stopRtpForwardEvent } from './events.js';
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isH264Keyframe } from '../../codecs/h264.js';
import { isVp8Keyframe } from '../../codecs/vp8.js';
import { isVp9Keyframe } from '../../codecs/vp9.js';
import type { Logger } from '../../log.js';
import { fbMediaSsrc } from '../../media/rtcp/feedback.js';
import { PsfbFmt, RtcpReader, RtcpType } from '../../media/rtcp/header.js';
import { RtpRewriter } from '../../media/rtp/rewriter.js';
import { rtpHeaderLength, setRtpPayloadType, setRtpSsrc } from '../../media/rtp/header.js';
import { SrtpContext } from '../../media/srtp/context.js';
import { AES_CM_128_HMAC_SHA1_32, AES_CM_128_HMAC_SHA1_80 } from '../../media/srtp/profiles.js';
import type { VrContext } from './context.js';
import { noSuchRoom, VrError, VrErrorCode } from './errors.js';
import { checkKey } from './auth.js';
import { missing, Params, type Body } from './params.js';
import type { Participant } from './participant.js';
import { MAX_LAYERS, type PublishedStream } from './streams.js';

type Data = Record<string, unknown>;

/** Pooled packet buffers: the largest RTP packet we relay plus the SRTP tag. */
const BUF_SIZE = 1500 + 64;
const MAX_FREE = 64;
/** A simulcast forwarder stays on a layer until it has been silent this long (Janus's default fallback). */
const FALLBACK_MS = 250;
/** Keyframe requests from a receiver's RTCP, at most this often per stream. */
const PLI_MIN_MS = 500;

export interface SrtpParams {
  suite: 32 | 80;
  crypto: string;
}

export class RtpForwarder {
  /** Payload type / SSRC to write (0: keep the publisher's, as in Janus). */
  readonly pt: number;
  readonly ssrc: number;
  readonly family: 4 | 6;
  /** Simulcast "viewer" mode: one layer at a time, the best one still arriving. */
  readonly rewriter: RtpRewriter | null;
  currentLayer = -1;
  readonly substream: number;
  readonly remoteRtcpPort: number;
  rtcpSocket: Socket | null = null;
  localRtcpPort = 0;
  sent = 0;
  errors = 0;
  closed = false;
  /** Part of a `publish_remotely` (publish-remotely.ts): hidden from listforwarders/stop_rtp_forward, as in Janus. */
  remoteId: string | null = null;

  constructor(
    readonly streamId: number,
    readonly source: PublishedStream,
    readonly host: string,
    readonly port: number,
    opts: { pt: number; ssrc: number; substream: number; simulcast: boolean; remoteRtcpPort: number },
    readonly srtp: SrtpContext | null,
  ) {
    this.pt = opts.pt;
    this.ssrc = opts.ssrc;
    this.substream = opts.substream;
    this.remoteRtcpPort = opts.remoteRtcpPort;
    this.family = isIP(host) === 6 ? 6 : 4;
    // Janus's fixed SSRC for a simulcast forwarder: the low 32 bits of the publisher's id.
    const fixed = typeof source.owner.id === 'number' ? source.owner.id % 0x100000000 : streamId;
    this.rewriter = opts.simulcast && source.type === 'video' ? new RtpRewriter({ ssrc: this.ssrc || fixed, clockRate: source.clockRate }) : null;
  }

  get type(): 'audio' | 'video' | 'data' {
    return this.source.type;
  }

  /** The `forwarders` entry, with Janus's keys (optional ones only when set). */
  summary(): Data {
    const o: Data = { stream_id: this.streamId, host: this.host, port: this.port, type: this.type };
    if (this.type === 'data') return o;
    if (this.localRtcpPort > 0) o.local_rtcp_port = this.localRtcpPort;
    if (this.remoteRtcpPort > 0) o.remote_rtcp_port = this.remoteRtcpPort;
    if (this.pt > 0) o.pt = this.pt;
    if (this.ssrc > 0) o.ssrc = this.ssrc;
    if (this.type === 'video' && this.substream > 0) o.substream = this.substream;
    if (this.srtp !== null) o.srtp = true;
    return o;
  }
}

/** SRTP context from SDES-style parameters; null when the key is too short (Janus then skips the forwarder). */
function srtpContext(p: SrtpParams): SrtpContext | null {
  const profile = p.suite === 32 ? AES_CM_128_HMAC_SHA1_32 : AES_CM_128_HMAC_SHA1_80;
  const raw = Buffer.from(p.crypto, 'base64');
  if (raw.length < profile.keyLength + profile.saltLength) return null;
  return new SrtpContext(profile, raw.subarray(0, profile.keyLength), raw.subarray(profile.keyLength, profile.keyLength + profile.saltLength), { disableReplayCheck: true });
}

/** Plugin-wide forwarding state: the shared sockets, the buffer pool, the packet path. */
export class VrRtpForwarders {
  private sock4: Socket | null = null;
  private sock6: Socket | null = null;
  private readonly free: Buffer[] = [];
  /** Buffers handed to dgram, in send order (dgram completes sends of one socket in order). */
  private readonly inflight4: Buffer[] = [];
  private readonly inflight6: Buffer[] = [];
  private readonly rtcp = new RtcpReader();
  /** Every live forwarder (for shutdown). */
  private readonly live = new Set<RtpForwarder>();
  private errors = 0;
  private readonly onSent4: (err: Error | null) => void;
  private readonly onSent6: (err: Error | null) => void;
  /** The forwarder each in-flight send belongs to, parallel to inflight4/6 (for error accounting). */
  private readonly owners4: RtpForwarder[] = [];
  private readonly owners6: RtpForwarder[] = [];

  constructor(
    private readonly log: Logger,
    private readonly keyframe: (ps: PublishedStream) => void,
    private readonly now: () => number,
  ) {
    this.onSent4 = (err) => this.sentDone(this.inflight4, this.owners4, err);
    this.onSent6 = (err) => this.sentDone(this.inflight6, this.owners6, err);
  }

  get size(): number {
    return this.live.size;
  }

  private sentDone(inflight: Buffer[], owners: RtpForwarder[], err: Error | null): void {
    const b = inflight.shift();
    const f = owners.shift();
    if (b !== undefined && this.free.length < MAX_FREE) this.free.push(b);
    if (err) this.failed(f, err);
  }

  /** The first few errors are warnings, then one in a thousand: a dead receiver must not flood the log. */
  private failed(f: RtpForwarder | undefined, err: unknown): void {
    this.errors++;
    if (f !== undefined) f.errors++;
    if (this.errors <= 3 || this.errors % 1000 === 0) {
      this.log.warn(`videoroom: RTP forwarder send failed: ${String(err)}`, { stream_id: f?.streamId, host: f?.host, port: f?.port, count: this.errors });
    }
  }

  /** The shared sending socket of a family, bound before the first forwarder uses it. */
  async socket(family: 4 | 6): Promise<Socket> {
    const have = family === 6 ? this.sock6 : this.sock4;
    if (have !== null) return have;
    const s = await bindSocket(family);
    // Unconnected UDP rarely reports errors, but an 'error' event without a listener would crash the process.
    s.on('error', (err) => this.failed(undefined, err));
    s.unref();
    if (family === 6) {
      if (this.sock6 !== null) {
        s.close();
        return this.sock6;
      }
      this.sock6 = s;
    } else {
      if (this.sock4 !== null) {
        s.close();
        return this.sock4;
      }
      this.sock4 = s;
    }
    return s;
  }

  register(f: RtpForwarder): void {
    this.live.add(f);
    f.source.forwarders = [...f.source.forwarders, f];
    if (f.rewriter !== null) f.source.simForwarders++;
  }

  /** Remove one forwarder: off the packet path at once, its RTCP socket closed. */
  remove(f: RtpForwarder): void {
    if (f.closed) return;
    f.closed = true;
    this.live.delete(f);
    const ps = f.source;
    if (ps.forwarders.includes(f)) {
      ps.forwarders = ps.forwarders.filter((x) => x !== f);
      if (f.rewriter !== null) ps.simForwarders--;
    }
    if (f.source.owner.rtpForwarders.get(f.streamId) === f) f.source.owner.rtpForwarders.delete(f.streamId);
    const r = f.rtcpSocket;
    f.rtcpSocket = null;
    if (r !== null) {
      try {
        r.close();
      } catch {
        // already closed
      }
    }
  }

  /** Every forwarder of these streams (they are going away). */
  removeStreams(streams: readonly PublishedStream[]): void {
    for (const ps of streams) for (const f of [...ps.forwarders]) this.remove(f);
  }

  /** Shutdown: every forwarder and socket. */
  close(): void {
    for (const f of [...this.live]) this.remove(f);
    for (const s of [this.sock4, this.sock6]) {
      try {
        s?.close();
      } catch {
        // already closed
      }
    }
    this.sock4 = null;
    this.sock6 = null;
  }

  /**
   * A bound RTCP socket for a forwarder with `rtcp_port`: it "latches" (two empty RTP packets to the
   * receiver's RTCP port, so NATs and the receiver learn where to answer, as Janus does) and turns
   * PLI/FIR from the receiver into keyframe requests to the publisher.
   */
  async openRtcp(f: RtpForwarder): Promise<void> {
    const s = await bindSocket(f.family);
    s.on('error', () => {
      // ICMP errors from the receiver's RTCP port are expected when nothing listens there.
    });
    s.on('message', (msg: Buffer) => {
      try {
        this.receiverRtcp(f, msg);
      } catch (err) {
        this.log.warn(`videoroom: RTP forwarder RTCP failure: ${String(err)}`);
      }
    });
    s.unref();
    f.rtcpSocket = s;
    f.localRtcpPort = s.address().port;
    const latch = Buffer.alloc(12);
    latch[0] = 0x80;
    for (let i = 0; i < 2; i++) s.send(latch, f.remoteRtcpPort, f.host, () => undefined);
  }

  private lastPli = new WeakMap<PublishedStream, number>();

  private receiverRtcp(f: RtpForwarder, msg: Buffer): void {
    if (f.closed || f.type !== 'video') return;
    const r = this.rtcp.reset(msg, msg.length);
    while (r.next()) {
      if (r.type !== RtcpType.PSFB || (r.count !== PsfbFmt.PLI && r.count !== PsfbFmt.FIR) || r.length < 12) continue;
      // A remotization has one RTCP port for all its streams: the PLI's media SSRC names the stream.
      const ps = f.remoteId === null ? f.source : remotizedStream(f, fbMediaSsrc(msg, r.offset));
      if (ps === undefined) return;
      const now = this.now();
      const last = this.lastPli.get(ps) ?? -Infinity;
      if (now - last < PLI_MIN_MS) return;
      this.lastPli.set(ps, now);
      this.keyframe(ps);
      return;
    }
  }

  // ------------------------------------------------------------------ packet path (never throws)

  /**
   * One publisher RTP packet (as the publisher sent it, after SRTP) to the stream's forwarders.
   * `layer`: its simulcast layer (0 lowest; 0 when not simulcast).
   */
  forwardRtp(ps: PublishedStream, layer: number, buf: Buffer, len: number, now: number): void {
    const list = ps.forwarders;
    const video = ps.type === 'video';
    let keyframe = -1; // unknown until a simulcast forwarder asks
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      if (f.closed) continue;
      const rw = f.rewriter;
      if (video && rw === null && f.substream !== layer) continue;
      const extra = f.srtp !== null ? f.srtp.rtpOverhead : 0;
      if (len + extra > BUF_SIZE) continue;
      if (rw !== null) {
        if (keyframe < 0) keyframe = isKeyframe(ps, buf, len) ? 1 : 0;
        if (!this.selectLayer(f, ps, layer, keyframe === 1, now)) continue;
      }
      const out = this.free.pop() ?? Buffer.allocUnsafeSlow(BUF_SIZE);
      buf.copy(out, 0, 0, len);
      if (rw !== null && !rw.rewrite(out, now)) {
        // A straggler of the layer we just left.
        this.free.push(out);
        continue;
      }
      if (f.pt > 0) setRtpPayloadType(out, f.pt & 0x7f);
      if (f.ssrc > 0) setRtpSsrc(out, f.ssrc);
      let n = len;
      if (f.srtp !== null) {
        n = f.srtp.protectRtp(out, len);
        if (n < 0) {
          this.free.push(out);
          this.failed(f, new Error(`SRTP protect failed (${n})`));
          continue;
        }
      }
      this.send(f, out, n);
    }
  }

  /**
   * A publisher data channel message to its data forwarders: the message itself is the datagram, or
   * for a remotization an RTP header first (its SSRC names the stream, payload type 1: binary, 0: text).
   */
  forwardData(ps: PublishedStream, data: Buffer, isBinary = true): void {
    const list = ps.forwarders;
    if (data.length + 12 > BUF_SIZE) return;
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      if (f.closed) continue;
      const out = this.free.pop() ?? Buffer.allocUnsafeSlow(BUF_SIZE);
      let off = 0;
      if (f.remoteId !== null) {
        out.fill(0, 0, 12);
        out[0] = 0x80;
        out[1] = isBinary ? 1 : 0;
        out.writeUInt32BE(f.ssrc >>> 0, 8);
        off = 12;
      }
      data.copy(out, off, 0, data.length);
      this.send(f, out, off + data.length);
    }
  }

  private send(f: RtpForwarder, out: Buffer, n: number): void {
    const six = f.family === 6;
    const sock = six ? this.sock6 : this.sock4;
    if (sock === null) {
      this.free.push(out);
      return;
    }
    const inflight = six ? this.inflight6 : this.inflight4;
    const owners = six ? this.owners6 : this.owners4;
    inflight.push(out);
    owners.push(f);
    try {
      sock.send(out, 0, n, f.port, f.host, six ? this.onSent6 : this.onSent4);
      f.sent++;
    } catch (err) {
      // Synchronous refusal (socket closed underneath us): the callback will not come.
      inflight.pop();
      owners.pop();
      this.free.push(out);
      this.failed(f, err);
    }
  }

  /**
   * Simulcast forwarder: stay on the current layer; move to the best layer still arriving (target:
   * the highest, as a default Janus viewer) at one of its keyframes, asking for one meanwhile.
   */
  private selectLayer(f: RtpForwarder, ps: PublishedStream, layer: number, keyframe: boolean, now: number): boolean {
    let want = 0;
    const last = ps.lastLayerMs;
    for (let l = MAX_LAYERS - 1; l >= 0; l--) {
      if (now - last[l]! <= FALLBACK_MS) {
        want = l;
        break;
      }
    }
    if (layer === f.currentLayer) {
      // Another layer is wanted: the current one keeps flowing until that one's keyframe arrives.
      if (want !== layer && now - ps.lastPliMs >= PLI_MIN_MS) this.keyframe(ps);
      return true;
    }
    if (layer !== want) return false;
    if (!keyframe) {
      if (now - ps.lastPliMs >= PLI_MIN_MS) this.keyframe(ps);
      return false;
    }
    f.currentLayer = layer;
    f.rewriter!.switchSource();
    return true;
  }
}

/** The video stream of the same publisher whose remotization forwarder (same remote_id) sends with this SSRC. */
function remotizedStream(f: RtpForwarder, ssrc: number): PublishedStream | undefined {
  for (const ps of f.source.owner.media.streams) {
    if (ps.type !== 'video') continue;
    for (const g of ps.forwarders) if (g.remoteId === f.remoteId && g.ssrc === ssrc) return ps;
  }
  return undefined;
}

function isKeyframe(ps: PublishedStream, buf: Buffer, len: number): boolean {
  const hdr = rtpHeaderLength(buf, len);
  if (hdr < 0) return false;
  const pay = len - hdr - (buf[0]! & 0x20 ? buf[len - 1]! : 0);
  if (pay <= 0) return false;
  switch (ps.codec) {
    case 'vp8':
      return isVp8Keyframe(buf, hdr, pay);
    case 'h264':
      return isH264Keyframe(buf, hdr, pay);
    case 'vp9':
      return isVp9Keyframe(buf, hdr, pay);
    default:
      return false;
  }
}

function bindSocket(family: 4 | 6): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket(family === 6 ? 'udp6' : 'udp4');
    const fail = (err: Error): void => {
      s.close();
      reject(err);
    };
    s.once('error', fail);
    s.bind(0, () => {
      s.off('error', fail);
      resolve(s);
    });
  });
}

// ====================================================================== requests

/** What a client asks for one forwarder (after validation). */
interface Target {
  ps: PublishedStream;
  host: string;
  port: number;
  rtcpPort: number;
  pt: number;
  ssrc: number;
  substream: number;
  simulcast: boolean;
}

export function hostFamily(p: Params, name = 'host_family'): 0 | 4 | 6 {
  const v = p.string(name);
  if (v === undefined) return 0;
  const l = v.toLowerCase();
  if (l === 'ipv4') return 4;
  if (l === 'ipv6') return 6;
  throw new VrError(VrErrorCode.INVALID_ELEMENT, `Unsupported protocol family (${v})`);
}

/** getaddrinfo-like resolution: first answer, restricted to a family when given; 430 when nothing matches. */
export async function resolve(host: string, family: 0 | 4 | 6): Promise<string> {
  const literal = isIP(host);
  try {
    if (literal !== 0) {
      if (family !== 0 && literal !== family) throw new Error('family mismatch');
      return host;
    }
    return (await lookup(host, family === 0 ? {} : { family })).address;
  } catch {
    throw new VrError(VrErrorCode.INVALID_ELEMENT, `Could not resolve address (${host})...`);
  }
}

/** Janus's `lock_rtp_forward`: the admin_key is needed only when both are configured. */
export function checkLock(ctx: VrContext, p: Params): void {
  if (ctx.general.lockRtpForward && ctx.general.adminKey !== null) checkKey(p, 'admin_key', ctx.general.adminKey);
}

function findRoomWithSecret(ctx: VrContext, p: Params) {
  const id = ctx.ids.require(p.body.room, 'room');
  const room = ctx.rooms.get(id);
  if (room === undefined) throw noSuchRoom(id);
  checkKey(p, 'secret', room.settings.secret);
  return room;
}

export function randomStreamId(me: Participant): number {
  for (;;) {
    const id = (Math.random() * 0x100000000) >>> 0;
    if (id !== 0 && !me.rtpForwarders.has(id)) return id;
  }
}

const LEGACY_PORTS = ['video_port', 'video_rtcp_port', 'video_ssrc', 'video_pt', 'video_port_2', 'video_ssrc_2', 'video_pt_2', 'video_port_3', 'video_ssrc_3', 'video_pt_3', 'audio_port', 'audio_rtcp_port', 'audio_ssrc', 'audio_pt', 'data_port'] as const;

export async function rtpForward(ctx: VrContext, body: Body): Promise<Data> {
  const fwd = ctx.rtpfwd;
  const p = new Params(body);
  // Validation in Janus's order: the request's own parameters, room, publisher_id, admin_key, then hosts.
  const host = p.requireString('host');
  p.string('host_family');
  const simulcastRoot = p.bool('simulcast') ?? false;
  const suite = p.posInt('srtp_suite');
  const crypto = p.string('srtp_crypto');
  const streams = p.array('streams');
  const legacy = new Map<string, number>();
  for (const k of LEGACY_PORTS) {
    const v = p.posInt(k);
    if (v !== undefined) legacy.set(k, v);
  }
  const roomId = ctx.ids.require(body.room, 'room');
  const pubId = ctx.ids.require(body.publisher_id, 'publisher_id');
  checkLock(ctx, p);
  const family = hostFamily(p);
  const resolved = await resolve(host, family);
  interface StreamReq { mid: string; host: string; sp: Params }
  const reqs: StreamReq[] = [];
  for (const item of streams ?? []) {
    const sp = new Params(item !== null && typeof item === 'object' && !Array.isArray(item) ? (item as Body) : {});
    const mid = sp.requireString('mid');
    const sHost = sp.string('host');
    sp.string('host_family');
    const port = sp.posInt('port');
    if (port === undefined) throw missing('port');
    for (const k of ['rtcp_port', 'ssrc', 'pt']) sp.posInt(k);
    sp.bool('simulcast');
    sp.posInt('srtp_suite');
    sp.string('srtp_crypto');
    for (const k of ['port_2', 'ssrc_2', 'pt_2', 'port_3', 'ssrc_3', 'pt_3']) sp.posInt(k);
    reqs.push({ mid, host: sHost !== undefined ? await resolve(sHost, hostFamily(sp) || family) : resolved, sp });
  }
  let srtp: SrtpParams | null = null;
  if (suite !== undefined && crypto !== undefined) {
    if (suite !== 32 && suite !== 80) throw new VrError(VrErrorCode.INVALID_ELEMENT, `Invalid SRTP suite (${suite})`);
    srtp = { suite, crypto };
  }
  const room = ctx.rooms.get(roomId);
  if (room === undefined) throw noSuchRoom(roomId);
  checkKey(p, 'secret', room.settings.secret);
  const me = room.participants.get(pubId);
  if (me === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such feed (${pubId})`);

  const targets: Target[] = [];
  const port = (sp: Params, k: string): number => (sp.body[k] as number | undefined) ?? 0;
  if (streams !== undefined) {
    for (const r of reqs) {
      const ps = me.media.byMid.get(r.mid);
      // Janus skips an unknown mid silently (the reply simply lacks that forwarder).
      if (ps === undefined) continue;
      const base = { ps, host: r.host, rtcpPort: 0, pt: 0, ssrc: 0, substream: 0, simulcast: false };
      if (ps.type === 'data') {
        targets.push({ ...base, port: port(r.sp, 'port') });
        continue;
      }
      const sim = ps.type === 'video' && r.sp.body.simulcast === true;
      targets.push({ ...base, port: port(r.sp, 'port'), rtcpPort: port(r.sp, 'rtcp_port'), pt: port(r.sp, 'pt'), ssrc: port(r.sp, 'ssrc'), simulcast: sim });
      if (ps.type !== 'video' || sim) continue;
      for (const [n, sub] of [['2', 1], ['3', 2]] as const) {
        const lp = port(r.sp, `port_${n}`);
        if (lp > 0) targets.push({ ...base, port: lp, pt: port(r.sp, `pt_${n}`), ssrc: port(r.sp, `ssrc_${n}`), substream: sub });
      }
    }
  } else {
    // The deprecated flat form: the first audio, video and data streams.
    const first = (t: string): PublishedStream | undefined => me.media.streams.find((s) => s.type === t);
    const g = (k: string): number => legacy.get(k) ?? 0;
    const a = first('audio');
    if (a !== undefined && g('audio_port') > 0) targets.push({ ps: a, host: resolved, port: g('audio_port'), rtcpPort: g('audio_rtcp_port'), pt: g('audio_pt'), ssrc: g('audio_ssrc'), substream: 0, simulcast: false });
    const v = first('video');
    if (v !== undefined) {
      const ports = [g('video_port'), simulcastRoot ? 0 : g('video_port_2'), simulcastRoot ? 0 : g('video_port_3')];
      const sfx = ['', '_2', '_3'];
      for (let i = 0; i < 3; i++) {
        if (ports[i]! <= 0) continue;
        targets.push({ ps: v, host: resolved, port: ports[i]!, rtcpPort: i === 0 ? g('video_rtcp_port') : 0, pt: g(`video_pt${sfx[i]}`), ssrc: g(`video_ssrc${sfx[i]}`), substream: i, simulcast: i === 0 && simulcastRoot });
      }
    }
    const d = first('data');
    if (d !== undefined && g('data_port') > 0) targets.push({ ps: d, host: resolved, port: g('data_port'), rtcpPort: 0, pt: 0, ssrc: 0, substream: 0, simulcast: false });
  }

  const created: RtpForwarder[] = [];
  for (const t of targets) {
    const f = await createForwarder(ctx, fwd, me, t, t.ps.type === 'data' ? null : srtp);
    if (f !== null) created.push(f);
  }
  // A receiver that starts mid-stream needs a keyframe to decode anything.
  const now = ctx.now();
  for (const ps of new Set(created.map((f) => f.source))) {
    if (ps.type !== 'video') continue;
    ps.lastPliMs = now;
    ctx.media?.sendPli(me.session, ps.mid);
  }
  const reply: Data = { videoroom: 'rtp_forward', room: roomId, publisher_id: pubId };
  if (streams !== undefined) {
    reply.forwarders = created.map((f) => f.summary());
    return reply;
  }
  const rs: Data = {};
  const of = (type: string, sub: number) => created.find((f) => f.type === type && f.substream === sub);
  const au = of('audio', 0);
  if (au) Object.assign(rs, { audio_stream_id: au.streamId, audio: au.port });
  const names = [['video_stream_id', 'video'], ['video_stream_id_2', 'video_2'], ['video_stream_id_3', 'video_3']] as const;
  for (let i = 0; i < 3; i++) {
    const v = of('video', i);
    if (v) Object.assign(rs, { [names[i]![0]]: v.streamId, [names[i]![1]]: v.port });
  }
  const da = of('data', 0);
  if (da) Object.assign(rs, { data_stream_id: da.streamId, data: da.port });
  rs.warning = 'deprecated_api';
  rs.host = resolved;
  reply.rtp_stream = rs;
  return reply;
}

/** One forwarder; null (skipped, as Janus does) when its SRTP key is unusable or a socket cannot be had. */
async function createForwarder(ctx: VrContext, fwd: VrRtpForwarders, me: Participant, t: Target, srtp: SrtpParams | null): Promise<RtpForwarder | null> {
  let ctxSrtp: SrtpContext | null = null;
  if (srtp !== null) {
    ctxSrtp = srtpContext(srtp);
    if (ctxSrtp === null) {
      ctx.log.warn(`videoroom: rtp_forward: invalid SRTP crypto for ${me.id}/${t.ps.mid}, forwarder skipped`, { room: me.room.id, id: me.id });
      return null;
    }
  }
  const f = new RtpForwarder(randomStreamId(me), t.ps, t.host, t.port, { pt: t.pt, ssrc: t.ssrc, substream: t.substream, simulcast: t.simulcast, remoteRtcpPort: t.ps.type === 'data' ? 0 : t.rtcpPort }, ctxSrtp);
  try {
    await fwd.socket(f.family);
    if (f.remoteRtcpPort > 0) await fwd.openRtcp(f);
  } catch (err) {
    ctx.log.warn(`videoroom: rtp_forward: no socket for ${t.host}: ${String(err)}`, { room: me.room.id, id: me.id });
    return null;
  }
  // The publisher may have gone (or renegotiated the stream away) while we awaited the sockets.
  if (me.room.participants.get(me.id) !== me || me.media.byMid.get(t.ps.mid) !== t.ps) {
    fwd.remove(f);
    return null;
  }
  me.rtpForwarders.set(f.streamId, f);
  fwd.register(f);
  ctx.log.verb(`videoroom: ${f.type} forwarder ${f.streamId} of ${me.id}/${t.ps.mid} to ${t.host}:${t.port}`, { room: me.room.id, id: me.id });
  return f;
}

export function stopRtpForward(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  const roomId = ctx.ids.require(body.room, 'room');
  const pubId = ctx.ids.require(body.publisher_id, 'publisher_id');
  const streamId = p.posInt('stream_id');
  if (streamId === undefined) throw missing('stream_id');
  checkLock(ctx, p);
  const room = findRoomWithSecret(ctx, p);
  const me = room.participants.get(pubId);
  if (me === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such feed (${pubId})`);
  // Janus reads stream_id as a 32-bit value.
  const id = streamId % 0x100000000;
  const f = me.rtpForwarders.get(id);
  if (f === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such stream (${id})`);
  ctx.rtpfwd.remove(f);
  stopRtpForwardEvent(ctx, roomId, pubId, id);
  return { videoroom: 'stop_rtp_forward', room: roomId, publisher_id: pubId, stream_id: id };
}

export function listForwarders(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  const roomId = ctx.ids.require(body.room, 'room');
  const room = findRoomWithSecret(ctx, p);
  const publishers: Data[] = [];
  for (const m of room.participants.values()) {
    if (m.rtpForwarders.size === 0) continue;
    const e: Data = { publisher_id: m.id };
    if (m.display !== null) e.display = m.display;
    // Per stream in m-line order, as Janus walks them.
    e.forwarders = m.media.streams.flatMap((s) => s.forwarders.filter((f) => f.remoteId === null).map((f) => f.summary()));
    publishers.push(e);
  }
  return { videoroom: 'forwarders', room: roomId, publishers };
}
