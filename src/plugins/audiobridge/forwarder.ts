/**
 * RTP forwarders of a room's mix (`rtp_forward`): every 20 ms frame the mix of the whole room (or of one
 * group's participants) goes as RTP (or SRTP with SDES-style keys) to host:port, as Janus does.
 *
 * Work per frame is per distinct output, not per forwarder: the full mix is encoded to Opus once (with
 * the room's shared listener encoder when one has the same settings, see Room.fullMixOpus), each group
 * mix once per codec, and every forwarder only adds its own header (SSRC, sequence number, timestamp,
 * payload type) and, for SRTP, its own protection.
 *
 * As in Janus, forwarders send only while the room has participants, except `always_on` ones, which keep
 * sending (silence) in an empty room. Send errors are counted and logged (rate-limited), never thrown:
 * a forwarder to a dead address must not disturb the mix.
 *
 * Lives in whichever thread runs the plugin: only node:dgram / node:dns, no shared state.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { linearToAlaw, linearToUlaw } from '../../codecs/g711.js';
import { createOpusEncoder, type OpusEncoder, type OpusSampleRate } from '../../codecs/opus.js';
import type { Logger } from '../../log.js';
import { writeRtpHeader } from '../../media/rtp/header.js';
import { SrtpContext } from '../../media/srtp/context.js';
import { AES_CM_128_HMAC_SHA1_32, AES_CM_128_HMAC_SHA1_80 } from '../../media/srtp/profiles.js';

export type ForwardCodec = 'opus' | 'pcmu' | 'pcma';

export interface ForwarderSrtp {
  /** Authentication tag length in bits: AES_CM_128_HMAC_SHA1_32 or _80. */
  suite: 32 | 80;
  /** Base64 master key || salt (30 bytes decoded), as in SDES. */
  crypto: string;
}

export interface ForwarderSpec {
  streamId: number;
  /** An IP address (already resolved). */
  host: string;
  port: number;
  /** null: the stream_id is the SSRC (what listforwarders reports). */
  ssrc: number | null;
  codec: ForwardCodec;
  ptype: number;
  /** 0: the full mix; n: the mix of group n (1-based index into the room's groups). */
  group: number;
  alwaysOn: boolean;
  srtp: ForwarderSrtp | null;
}

/** A forwarder's SRTP context from SDES-style parameters; throws on a key that is too short. */
export function forwarderSrtpContext(s: ForwarderSrtp): SrtpContext {
  const raw = Buffer.from(s.crypto, 'base64');
  const profile = s.suite === 32 ? AES_CM_128_HMAC_SHA1_32 : AES_CM_128_HMAC_SHA1_80;
  const keyLen = profile.keyLength;
  if (raw.length < keyLen + profile.saltLength) throw new Error(`SRTP crypto must decode to at least ${keyLen + profile.saltLength} bytes`);
  return new SrtpContext(profile, raw.subarray(0, keyLen), raw.subarray(keyLen, keyLen + profile.saltLength), { disableReplayCheck: true });
}

/**
 * Resolve `host` to one IP address like getaddrinfo does for Janus (first answer, in the resolver's
 * order), restricted to `family` when given. Rejects when nothing matches.
 */
export async function resolveForwardHost(host: string, family: 4 | 6 | 0): Promise<string> {
  const literal = isIP(host);
  if (literal !== 0) {
    // dns.lookup hands IP literals back whatever family was asked for; getaddrinfo with a family hint does not.
    if (family !== 0 && literal !== family) throw new Error(`${host} is not an IPv${family} address`);
    return host;
  }
  const r = await lookup(host, family === 0 ? {} : { family });
  return r.address;
}

export class MixForwarder {
  readonly family: 4 | 6;
  /** Next sequence number / timestamp (per forwarder, continuous while it exists). */
  private seq = (Math.random() * 0x10000) >>> 0;
  private ts = (Math.random() * 0x100000000) >>> 0;
  readonly srtp: SrtpContext | null;
  /** Packets handed to the socket, and failed sends (diagnostics/tests). */
  sent = 0;
  errors = 0;
  /** One callback for every send of this forwarder (no closure per packet). */
  readonly onSent: (err: Error | null) => void;

  constructor(
    readonly spec: ForwarderSpec,
    private readonly log: Logger,
  ) {
    this.family = isIP(spec.host) === 6 ? 6 : 4;
    this.srtp = spec.srtp ? forwarderSrtpContext(spec.srtp) : null;
    this.onSent = (err) => {
      if (err) this.failed(err);
    };
  }

  get ssrc(): number {
    return this.spec.ssrc ?? this.spec.streamId;
  }

  /** The RTP (or SRTP) packet for this frame's payload; null when protection failed. */
  packet(payload: Uint8Array): Buffer | null {
    // A packet of its own per send: dgram may keep the Buffer until the datagram has left.
    const len = 12 + payload.length;
    const buf = Buffer.allocUnsafe(len + (this.srtp ? this.srtp.rtpOverhead : 0));
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + (this.spec.codec === 'opus' ? 960 : 160)) >>> 0;
    writeRtpHeader(buf, this.spec.ptype, this.seq, this.ts, this.ssrc);
    buf.set(payload, 12);
    if (!this.srtp) return buf;
    const n = this.srtp.protectRtp(buf, len);
    if (n < 0) {
      this.failed(new Error(`SRTP protect failed (${n})`));
      return null;
    }
    return buf.subarray(0, n);
  }

  /** The first few errors are warnings, then one a hundred: a dead destination must not flood the log. */
  failed(err: unknown): void {
    this.errors++;
    if (this.errors <= 3 || this.errors % 100 === 0) {
      this.log.warn('AudioBridge RTP forwarder: send failed', { stream_id: this.spec.streamId, host: this.spec.host, port: this.spec.port, err: String(err), count: this.errors });
    }
  }
}

/** What a room's frame offers its forwarders. */
export interface MixSource {
  readonly sampleRate: number;
  readonly channels: 1 | 2;
  /** Samples per channel in a frame. */
  readonly samples: number;
  /** This frame's mix: everyone (0) or one group (1-based); `samples * channels` interleaved. */
  mixOf(group: number): Int16Array;
  /** This frame's full mix as Opus (encoded at most once per frame). Throws on encoder errors. */
  fullMixOpus(): Buffer;
  /** Settings for a group's own Opus encoder (the room's forwarder defaults). */
  opusSettings(): { bitrate: number; complexity: number; fec: boolean; expectedLoss: number };
}

/** Per-group (index 0 = full mix) scratch for one frame's G.711 and Opus payloads. */
class GroupOut {
  opus: Buffer | null = null;
  readonly pcmu = Buffer.alloc(160);
  readonly pcma = Buffer.alloc(160);
  haveU = false;
  haveA = false;
  encoder: OpusEncoder | null = null;
}

/** A room's forwarders, their sockets and per-frame encoding. */
export class MixForwarders {
  private readonly byId = new Map<number, MixForwarder>();
  private sock4: Socket | null = null;
  private sock6: Socket | null = null;
  private readonly out: GroupOut[] = [];
  /** 8 kHz mono scratch for G.711. */
  private readonly narrow = new Int16Array(160);
  private alwaysOnCount = 0;

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.byId.size;
  }

  /** Whether some forwarder wants frames even when the room is empty. */
  get anyAlwaysOn(): boolean {
    return this.alwaysOnCount > 0;
  }

  get(streamId: number): MixForwarder | undefined {
    return this.byId.get(streamId);
  }

  all(): IterableIterator<MixForwarder> {
    return this.byId.values();
  }

  /** Add a forwarder (throws on bad SRTP keys or when the socket cannot be created). */
  add(spec: ForwarderSpec): MixForwarder {
    const f = new MixForwarder(spec, this.log);
    this.socketFor(f.family);
    this.byId.set(spec.streamId, f);
    if (spec.alwaysOn) this.alwaysOnCount++;
    return f;
  }

  remove(streamId: number): boolean {
    const f = this.byId.get(streamId);
    if (!f) return false;
    this.byId.delete(streamId);
    if (f.spec.alwaysOn) this.alwaysOnCount--;
    if (this.byId.size === 0) this.closeSockets();
    return true;
  }

  /** Remove every forwarder and close the sockets and encoders. Idempotent. */
  close(): void {
    this.byId.clear();
    this.alwaysOnCount = 0;
    this.closeSockets();
    for (const o of this.out) {
      o.encoder?.destroy();
      o.encoder = null;
    }
    this.out.length = 0;
  }

  /**
   * Send this frame to every forwarder that should get it (`occupied`: the room has participants).
   * Never throws.
   */
  forward(src: MixSource, occupied: boolean): void {
    if (this.byId.size === 0 || (!occupied && this.alwaysOnCount === 0)) return;
    for (const o of this.out) {
      o.opus = null;
      o.haveU = false;
      o.haveA = false;
    }
    for (const f of this.byId.values()) {
      if (!occupied && !f.spec.alwaysOn) continue;
      let payload: Buffer | null;
      try {
        payload = this.payload(src, f.spec.group, f.spec.codec);
      } catch (err) {
        f.failed(err);
        continue;
      }
      const pkt = f.packet(payload);
      if (!pkt) continue;
      const sock = f.family === 6 ? this.sock6 : this.sock4;
      if (!sock) continue;
      try {
        sock.send(pkt, f.spec.port, f.spec.host, f.onSent);
        f.sent++;
      } catch (err) {
        f.failed(err);
      }
    }
  }

  private group(g: number): GroupOut {
    while (this.out.length <= g) this.out.push(new GroupOut());
    return this.out[g]!;
  }

  /** This frame's payload for (group, codec), encoded on first use in the frame. */
  private payload(src: MixSource, g: number, codec: ForwardCodec): Buffer {
    const o = this.group(g);
    if (codec === 'opus') {
      if (o.opus) return o.opus;
      if (g === 0) o.opus = src.fullMixOpus();
      else {
        if (!o.encoder) {
          const s = src.opusSettings();
          o.encoder = createOpusEncoder({ sampleRate: src.sampleRate as OpusSampleRate, channels: src.channels, ...s });
        }
        o.opus = o.encoder.encode(src.mixOf(g));
      }
      return o.opus;
    }
    const ulaw = codec === 'pcmu';
    if (ulaw ? o.haveU : o.haveA) return ulaw ? o.pcmu : o.pcma;
    this.toNarrow(src, src.mixOf(g));
    const out = ulaw ? o.pcmu : o.pcma;
    const enc = ulaw ? linearToUlaw : linearToAlaw;
    const n = this.narrow;
    for (let i = 0; i < 160; i++) out[i] = enc(n[i]!);
    if (ulaw) o.haveU = true;
    else o.haveA = true;
    return out;
  }

  /** Down-mix to mono and box-filter down to 8 kHz (every mixing rate is a multiple of 8000 but 12000). */
  private toNarrow(src: MixSource, pcm: Int16Array): void {
    const ch = src.channels;
    const ratio = src.sampleRate / 8000;
    const n = this.narrow;
    if (Number.isInteger(ratio)) {
      for (let i = 0; i < 160; i++) {
        let s = 0;
        const base = i * ratio * ch;
        for (let k = 0; k < ratio * ch; k++) s += pcm[base + k]!;
        n[i] = Math.round(s / (ratio * ch));
      }
      return;
    }
    // 12 kHz: 1.5 input samples per output sample, nearest-neighbour pairs averaged.
    for (let i = 0; i < 160; i++) {
      const j = Math.floor(i * ratio);
      let s = 0;
      for (let c = 0; c < ch; c++) s += pcm[j * ch + c]! + pcm[Math.min(src.samples - 1, j + 1) * ch + c]!;
      n[i] = Math.round(s / (2 * ch));
    }
  }

  private socketFor(family: 4 | 6): Socket {
    const have = family === 6 ? this.sock6 : this.sock4;
    if (have) return have;
    const s = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    // Nothing is expected back; errors (e.g. a failed implicit bind) are logged, never thrown.
    s.on('error', (err) => this.log.warn('AudioBridge RTP forwarder socket error', { err: String(err) }));
    s.on('message', () => undefined);
    if (family === 6) this.sock6 = s;
    else this.sock4 = s;
    return s;
  }

  private closeSockets(): void {
    for (const s of [this.sock4, this.sock6]) {
      if (!s) continue;
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
    this.sock4 = this.sock6 = null;
  }
}
