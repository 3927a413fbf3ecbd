/**
 * SRTP/SRTCP crypto context for one direction (RFC 3711 §3.2, RFC 7714).
 *
 * One SrtpContext holds the session keys of one master key (one direction of a DTLS-SRTP
 * association) and a small state record per SSRC: rollover counter, highest sequence number,
 * replay windows and the SRTCP send index. Protect/unprotect work in place on a caller Buffer and
 * return the new length, or a negative SrtpError code; nothing throws on the packet path.
 *
 * Protect needs room after `len` in the Buffer for the trailer: `rtpOverhead` / `rtcpOverhead`.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { ownedCopy } from '../owned-buffer.js';
import { AesCmXor, type AesCmEngine } from './aes-cm.js';
import { createSrtpAuthenticator, NO_ROC, type SrtpAuthenticator, type SrtpHmacEngine } from './hmac-sha1.js';
import { deriveSrtpSessionKeys, type SrtpSessionKeys } from './kdf.js';
import { batchXor, KeystreamBatch } from './keystream-batch.js';
import { srtpProfileByName, type SrtpProfile, type SrtpProfileName } from './profiles.js';
import { ReplayWindow } from './replay.js';
import { estimateSrtpIndex } from './rollover.js';

export const SrtpError = {
  /** Packet shorter than a header plus trailer, or a malformed RTP header. */
  Malformed: -1,
  /** Authentication tag mismatch (or GCM tag failure). */
  AuthFailed: -2,
  /** Index already seen (replay window). */
  Replayed: -3,
  /** Index older than the replay window, or before the stream start. */
  TooOld: -4,
  /** The Buffer has no room for the trailer. */
  BufferTooSmall: -5,
} as const;
export type SrtpErrorCode = (typeof SrtpError)[keyof typeof SrtpError];

export function srtpErrorName(code: number): string {
  for (const [k, v] of Object.entries(SrtpError)) if (v === code) return k;
  return code >= 0 ? 'ok' : 'unknown';
}

export interface SrtpContextOptions {
  /** Replay window size in packets (rounded up to a power of two, minimum 64). Default 1024. */
  replayWindow?: number;
  /** AES-CM keystream engine, see aes-cm.ts. Default 'ecb'. */
  engine?: AesCmEngine;
  /**
   * HMAC-SHA1 implementation: 'js' (hmac-sha1.ts, no allocation per packet) or 'node' (a
   * createHmac per packet, measured slower: bench/hmac.ts). Default 'js'.
   */
  hmac?: SrtpHmacEngine;
  /**
   * protectRtp and unprotectRtp take AES-CM keystream from batches made for the next packets of each
   * SSRC (keystream-batch.ts; up to ~12 kB per video SSRC, less for slow streams). Default true;
   * 'ecb' engine only.
   */
  keystreamBatch?: boolean;
  /** Disable replay checks (e.g. for a context that only protects). Default false. */
  disableReplayCheck?: boolean;
}

/** Per-SSRC state. */
class SsrcState {
  /** Rollover counter (send or receive side). */
  roc = 0;
  /** Highest sequence number seen/sent; -1 before the first packet. */
  sl = -1;
  /** Next SRTCP index to send. */
  rtcpSendIndex = 0;
  /** Keystream made ahead for the next packets of the SSRC (sent or received; created on first use). */
  batch: KeystreamBatch | null = null;
  rtpReplay: ReplayWindow;
  rtcpReplay: ReplayWindow;
  constructor(
    readonly ssrc: number,
    window: number,
  ) {
    this.rtpReplay = new ReplayWindow(window);
    this.rtcpReplay = new ReplayWindow(window);
  }
}

const RTCP_E_BIT = 0x80000000;

export class SrtpContext {
  readonly profile: SrtpProfile;
  /** Bytes protectRtp appends. */
  readonly rtpOverhead: number;
  /** Bytes protectRtcp appends (E|index plus tag). */
  readonly rtcpOverhead: number;

  private readonly rtpTagLen: number;
  private readonly rtcpTagLen: number;
  private readonly window: number;
  private readonly replayCheck: boolean;
  private readonly batchKeystream: boolean;
  private readonly streams = new Map<number, SsrcState>();
  private last: SsrcState | null = null;

  // AES-CM
  private readonly rtpXor: AesCmXor | null;
  private readonly rtcpXor: AesCmXor | null;
  private readonly rtpAuth: SrtpAuthenticator | null;
  private readonly rtcpAuth: SrtpAuthenticator | null;
  // GCM
  private readonly rtpGcmKey: KeyObject | null;
  private readonly rtcpGcmKey: KeyObject | null;

  private readonly rtpSalt: Buffer;
  private readonly rtcpSalt: Buffer;
  /** Scratch: 16-byte counter block / 12-byte GCM nonce. */
  private readonly iv = Buffer.alloc(16);
  private readonly iv12: Buffer;
  /** Scratch: E|SRTCP index, big-endian (GCM additional data). */
  private readonly word = Buffer.alloc(4);

  constructor(
    profile: SrtpProfile | SrtpProfileName,
    masterKey: Uint8Array | null,
    masterSalt: Uint8Array | null,
    options: SrtpContextOptions = {},
    sessionKeys?: SrtpSessionKeys,
  ) {
    const p = typeof profile === 'string' ? srtpProfileByName(profile) : profile;
    if (!p) throw new Error(`unknown SRTP profile ${String(profile)}`);
    let keys: SrtpSessionKeys;
    if (sessionKeys) {
      keys = sessionKeys;
    } else {
      if (masterKey?.length !== p.keyLength) throw new RangeError(`${p.name}: master key must be ${p.keyLength} bytes`);
      if (masterSalt?.length !== p.saltLength) throw new RangeError(`${p.name}: master salt must be ${p.saltLength} bytes`);
      keys = deriveSrtpSessionKeys(masterKey, masterSalt, p.keyLength, p.saltLength, p.authKeyLength);
    }
    this.profile = p;
    this.rtpTagLen = p.rtpTagLength;
    this.rtcpTagLen = p.rtcpTagLength;
    this.rtpOverhead = p.rtpTagLength;
    this.rtcpOverhead = p.rtcpTagLength + 4;
    this.window = options.replayWindow ?? 1024;
    this.replayCheck = !options.disableReplayCheck;
    this.batchKeystream = options.keystreamBatch ?? true;
    this.rtpSalt = ownedCopy(keys.rtpSalt);
    this.rtcpSalt = ownedCopy(keys.rtcpSalt);
    this.iv12 = this.iv.subarray(0, 12);
    if (p.aead) {
      this.rtpGcmKey = createSecretKey(keys.rtpKey);
      this.rtcpGcmKey = createSecretKey(keys.rtcpKey);
      this.rtpXor = this.rtcpXor = null;
      this.rtpAuth = this.rtcpAuth = null;
    } else {
      const engine = options.engine ?? 'ecb';
      this.rtpXor = new AesCmXor(keys.rtpKey, engine);
      this.rtcpXor = new AesCmXor(keys.rtcpKey, engine);
      this.rtpAuth = createSrtpAuthenticator(keys.rtpAuthKey, options.hmac);
      this.rtcpAuth = createSrtpAuthenticator(keys.rtcpAuthKey, options.hmac);
      this.rtpGcmKey = this.rtcpGcmKey = null;
    }
  }

  /** A context from already-derived session keys (test vectors, SDES with external KDF). */
  static fromSessionKeys(
    profile: SrtpProfile | SrtpProfileName,
    keys: SrtpSessionKeys,
    options: SrtpContextOptions = {},
  ): SrtpContext {
    return new SrtpContext(profile, null, null, options, keys);
  }

  // ---------------------------------------------------------------- state

  private state(ssrc: number): SsrcState {
    const last = this.last;
    if (last !== null && last.ssrc === ssrc) return last;
    let s = this.streams.get(ssrc);
    if (s === undefined) {
      s = new SsrcState(ssrc, this.window);
      this.streams.set(ssrc, s);
    }
    this.last = s;
    return s;
  }

  private peek(ssrc: number): SsrcState | null {
    const last = this.last;
    if (last !== null && last.ssrc === ssrc) return last;
    const s = this.streams.get(ssrc);
    if (s === undefined) return null;
    this.last = s;
    return s;
  }

  /** Current rollover counter of an SSRC (0 if unknown). */
  getRoc(ssrc: number): number {
    return this.streams.get(ssrc >>> 0)?.roc ?? 0;
  }

  /** Highest packet index seen/sent for an SSRC, or -1. */
  getIndex(ssrc: number): number {
    const s = this.streams.get(ssrc >>> 0);
    return s === undefined || s.sl < 0 ? -1 : s.roc * 0x10000 + s.sl;
  }

  /** Seed the rollover counter (e.g. a stream joined mid-way, RFC 4568 / RFC 7714 ROC signalling). */
  setRoc(ssrc: number, roc: number, seq = -1): void {
    const s = this.state(ssrc >>> 0);
    s.roc = roc >>> 0;
    s.sl = seq;
  }

  /** Set the next SRTCP index protectRtcp uses for an SSRC (31 bits). */
  setRtcpSendIndex(ssrc: number, index: number): void {
    this.state(ssrc >>> 0).rtcpSendIndex = index & 0x7fffffff;
  }

  /** Forget an SSRC (stream ended); frees its state. */
  removeSsrc(ssrc: number): void {
    ssrc >>>= 0;
    if (this.last?.ssrc === ssrc) this.last = null;
    this.streams.delete(ssrc);
  }

  get ssrcCount(): number {
    return this.streams.size;
  }

  // ---------------------------------------------------------------- RTP

  /**
   * Encrypt and authenticate an RTP packet in place. buf[0, len) holds the RTP packet; the tag is
   * written at buf[len, len + rtpOverhead). Returns the SRTP length or a negative SrtpError.
   */
  protectRtp(buf: Buffer, len: number): number {
    const hdr = rtpHeaderLength(buf, len);
    if (hdr < 0) return SrtpError.Malformed;
    if (buf.length < len + this.rtpTagLen) return SrtpError.BufferTooSmall;
    const seq = (buf[2]! << 8) | buf[3]!;
    const ssrc = rtpSsrcOf(buf);
    const s = this.state(ssrc);
    let index: number;
    if (s.sl < 0) {
      index = s.roc * 0x10000 + seq;
    } else {
      index = estimateSrtpIndex(s.roc, s.sl, seq);
      if (index < 0) index = seq; // retransmission from before a late-seeded start: ROC 0
    }
    const roc = Math.floor(index / 0x10000);
    if (s.sl < 0 || index > s.roc * 0x10000 + s.sl) {
      s.roc = roc;
      s.sl = seq;
    }
    if (this.rtpGcmKey !== null) return this.gcmProtectRtp(buf, len, hdr, ssrc, roc, seq);

    let batched = false;
    if (this.batchKeystream) batched = batchXor((s.batch ??= new KeystreamBatch()), this.rtpXor!, this.rtpSalt, ssrc, index, buf, hdr, len);
    if (!batched) {
      this.cmIv(this.rtpSalt, ssrc, roc, seq);
      this.rtpXor!.xor(this.iv, buf, hdr, len);
    }
    this.rtpAuth!.sign(buf, 0, len, roc >>> 0, buf, len, this.rtpTagLen);
    return len + this.rtpTagLen;
  }

  /**
   * Verify and decrypt an SRTP packet in place. Returns the RTP length (trailer removed) or a
   * negative SrtpError. The packet is left untouched when it is rejected.
   */
  unprotectRtp(buf: Buffer, len: number): number {
    const tagLen = this.rtpTagLen;
    if (len > buf.length) return SrtpError.Malformed;
    const end = len - tagLen;
    const hdr = rtpHeaderLength(buf, end);
    if (hdr < 0) return SrtpError.Malformed;
    const seq = (buf[2]! << 8) | buf[3]!;
    const ssrc = rtpSsrcOf(buf);
    // state is only created once a packet of a new SSRC authenticated (no state for forged SSRCs)
    const known = this.peek(ssrc);
    const index = known === null ? seq : known.sl < 0 ? known.roc * 0x10000 + seq : estimateSrtpIndex(known.roc, known.sl, seq);
    if (index < 0) return SrtpError.TooOld;
    if (this.replayCheck && known !== null) {
      const r = known.rtpReplay.check(index);
      if (r !== 0) return r === 1 ? SrtpError.Replayed : SrtpError.TooOld;
    }
    const roc = Math.floor(index / 0x10000);

    let s: SsrcState;
    if (this.rtpGcmKey !== null) {
      const r = this.gcmUnprotectRtp(buf, end, hdr, ssrc, roc, seq);
      if (r < 0) return r;
      s = known ?? this.state(ssrc);
    } else {
      if (!this.rtpAuth!.verify(buf, 0, end, roc >>> 0, buf, end, tagLen)) return SrtpError.AuthFailed;
      // Authenticated: the SSRC gets its state now (none for forged ones). A sender's next indices
      // are as predictable on this side as on protectRtp's, so the keystream comes from batches too
      // (the keystream of an index is the same whichever side makes it).
      s = known ?? this.state(ssrc);
      let batched = false;
      if (this.batchKeystream) batched = batchXor((s.batch ??= new KeystreamBatch()), this.rtpXor!, this.rtpSalt, ssrc, index, buf, hdr, end);
      if (!batched) {
        this.cmIv(this.rtpSalt, ssrc, roc, seq);
        this.rtpXor!.xor(this.iv, buf, hdr, end);
      }
    }
    // commit ROC / highest seq / replay state
    if (s.sl < 0 || index > s.roc * 0x10000 + s.sl) {
      s.roc = roc;
      s.sl = seq;
    }
    if (this.replayCheck) s.rtpReplay.commit(index);
    return end;
  }

  // ---------------------------------------------------------------- RTCP

  /**
   * Encrypt and authenticate a (compound) RTCP packet in place; appends E|SRTCP index and the tag
   * (AES-CM: index then tag; GCM: tag then index, RFC 7714 §9.1). Returns the new length.
   */
  protectRtcp(buf: Buffer, len: number): number {
    if (len < 8) return SrtpError.Malformed;
    if (buf.length < len + this.rtcpOverhead) return SrtpError.BufferTooSmall;
    const ssrc = buf.readUInt32BE(4);
    const s = this.state(ssrc);
    const index = s.rtcpSendIndex;
    s.rtcpSendIndex = (index + 1) & 0x7fffffff;
    const eIndex = (RTCP_E_BIT | index) >>> 0;

    if (this.rtcpGcmKey !== null) {
      this.gcmIv(this.rtcpSalt, ssrc, 0, index, true);
      this.word.writeUInt32BE(eIndex, 0);
      const c = createCipheriv('aes-128-gcm', this.rtcpGcmKey, this.iv12);
      c.setAAD(buf.subarray(0, 8));
      c.setAAD(this.word);
      const out = c.update(buf.subarray(8, len));
      c.final();
      buf.set(out, 8);
      c.getAuthTag().copy(buf, len);
      buf.writeUInt32BE(eIndex, len + 16);
      return len + 20;
    }

    this.cmIv(this.rtcpSalt, ssrc, 0, index);
    this.rtcpXor!.xor(this.iv, buf, 8, len);
    buf.writeUInt32BE(eIndex, len);
    this.rtcpAuth!.sign(buf, 0, len + 4, NO_ROC, buf, len + 4, this.rtcpTagLen);
    return len + 4 + this.rtcpTagLen;
  }

  /** Verify and decrypt an SRTCP packet in place; returns the RTCP length or a negative SrtpError. */
  unprotectRtcp(buf: Buffer, len: number): number {
    const tagLen = this.rtcpTagLen;
    if (len < 8 + 4 + tagLen || len > buf.length) return SrtpError.Malformed;
    const ssrc = buf.readUInt32BE(4);
    const aead = this.rtcpGcmKey !== null;
    // AES-CM: ... | E|index | tag ;  GCM: ... | tag | E|index
    const eOff = aead ? len - 4 : len - tagLen - 4;
    const eIndex = buf.readUInt32BE(eOff);
    const encrypted = (eIndex & RTCP_E_BIT) !== 0;
    const index = eIndex & 0x7fffffff;
    const known = this.peek(ssrc);
    if (this.replayCheck && known !== null) {
      const r = known.rtcpReplay.check(index);
      if (r !== 0) return r === 1 ? SrtpError.Replayed : SrtpError.TooOld;
    }
    let end: number;
    if (aead) {
      end = len - 4 - tagLen;
      this.gcmIv(this.rtcpSalt, ssrc, 0, index, true);
      this.word.writeUInt32BE(eIndex, 0);
      const d = createDecipheriv('aes-128-gcm', this.rtcpGcmKey!, this.iv12);
      d.setAuthTag(buf.subarray(end, end + tagLen));
      let out: Buffer | null = null;
      if (encrypted) {
        d.setAAD(buf.subarray(0, 8));
        d.setAAD(this.word);
        out = d.update(buf.subarray(8, end));
      } else {
        d.setAAD(buf.subarray(0, end));
        d.setAAD(this.word);
      }
      try {
        d.final();
      } catch {
        return SrtpError.AuthFailed;
      }
      if (out !== null) buf.set(out, 8);
    } else {
      end = eOff;
      if (!this.rtcpAuth!.verify(buf, 0, end + 4, NO_ROC, buf, end + 4, tagLen)) return SrtpError.AuthFailed;
      if (encrypted) {
        this.cmIv(this.rtcpSalt, ssrc, 0, index);
        this.rtcpXor!.xor(this.iv, buf, 8, end);
      }
    }
    if (this.replayCheck) (known ?? this.state(ssrc)).rtcpReplay.commit(index);
    return end;
  }

  // ---------------------------------------------------------------- internals

  /** AES-CM IV into this.iv: (salt * 2^16) XOR (ssrc * 2^64) XOR (index * 2^16), index = roc:seq. */
  private cmIv(salt: Buffer, ssrc: number, roc: number, seq: number): void {
    const iv = this.iv;
    salt.copy(iv, 0, 0, 14);
    iv[14] = 0;
    iv[15] = 0;
    iv[4]! ^= ssrc >>> 24;
    iv[5]! ^= (ssrc >>> 16) & 0xff;
    iv[6]! ^= (ssrc >>> 8) & 0xff;
    iv[7]! ^= ssrc & 0xff;
    // 48-bit index = roc (32 bits) || seq (16 bits) at bytes 8..13
    iv[8]! ^= (roc >>> 24) & 0xff;
    iv[9]! ^= (roc >>> 16) & 0xff;
    iv[10]! ^= (roc >>> 8) & 0xff;
    iv[11]! ^= roc & 0xff;
    iv[12]! ^= (seq >>> 8) & 0xff;
    iv[13]! ^= seq & 0xff;
  }

  /**
   * GCM nonce into this.iv12 (RFC 7714 §8.1 / §9.1):
   *   RTP:  00 00 | SSRC | ROC | SEQ         XOR salt
   *   RTCP: 00 00 | SSRC | 00 00 | 0|index   XOR salt
   */
  private gcmIv(salt: Buffer, ssrc: number, roc: number, seqOrIndex: number, rtcp: boolean): void {
    const iv = this.iv;
    iv[0] = 0;
    iv[1] = 0;
    iv.writeUInt32BE(ssrc >>> 0, 2);
    if (rtcp) {
      iv[6] = 0;
      iv[7] = 0;
      iv.writeUInt32BE(seqOrIndex >>> 0, 8);
    } else {
      iv.writeUInt32BE(roc >>> 0, 6);
      iv[10] = (seqOrIndex >>> 8) & 0xff;
      iv[11] = seqOrIndex & 0xff;
    }
    for (let i = 0; i < 12; i++) iv[i]! ^= salt[i]!;
  }

  private gcmProtectRtp(buf: Buffer, len: number, hdr: number, ssrc: number, roc: number, seq: number): number {
    this.gcmIv(this.rtpSalt, ssrc, roc, seq, false);
    const c = createCipheriv('aes-128-gcm', this.rtpGcmKey!, this.iv12);
    c.setAAD(buf.subarray(0, hdr));
    const out = c.update(buf.subarray(hdr, len));
    c.final();
    buf.set(out, hdr);
    c.getAuthTag().copy(buf, len);
    return len + 16;
  }

  private gcmUnprotectRtp(buf: Buffer, end: number, hdr: number, ssrc: number, roc: number, seq: number): number {
    this.gcmIv(this.rtpSalt, ssrc, roc, seq, false);
    const d = createDecipheriv('aes-128-gcm', this.rtpGcmKey!, this.iv12);
    d.setAuthTag(buf.subarray(end, end + 16));
    d.setAAD(buf.subarray(0, hdr));
    const out = d.update(buf.subarray(hdr, end));
    try {
      d.final();
    } catch {
      return SrtpError.AuthFailed;
    }
    buf.set(out, hdr);
    return end;
  }
}

/**
 * The SSRC from byte loads: in the echo profile a method call on a received packet's Buffer (Node
 * makes those in C++, setting their prototype) went through V8's generic property-load stub.
 */
function rtpSsrcOf(buf: Buffer): number {
  return ((buf[8]! << 24) | (buf[9]! << 16) | (buf[10]! << 8) | buf[11]!) >>> 0;
}

/** RTP header length (fixed + CSRCs + extension) or -1 if buf[0, len) is not a valid RTP packet. */
function rtpHeaderLength(buf: Buffer, len: number): number {
  if (len < 12 || buf.length < len) return -1;
  const b0 = buf[0]!;
  if (b0 >>> 6 !== 2) return -1;
  let n = 12 + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (n + 4 > len) return -1;
    n += 4 + ((buf[n + 2]! << 8) | buf[n + 3]!) * 4;
  }
  return n <= len ? n : -1;
}
