/**
 * STUN message codec (RFC 8489 / RFC 5389).
 *
 * Parsing is a zero-copy view: `parseStun` validates the framing once and records, for each
 * attribute, its type and the offset/length of its value inside the original Buffer. Getters
 * decode on demand. Building goes through `StunBuilder`, which writes MESSAGE-INTEGRITY
 * (HMAC-SHA1) and FINGERPRINT (CRC-32 xor 0x5354554e) with the length-adjusted header.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from './crc32.js';
import { formatIPv4, formatIPv6, writeIPv4, writeIPv6 } from './address.js';
import {
  DEFAULT_REASONS,
  FINGERPRINT_XOR,
  HEADER_LENGTH,
  MAGIC_COOKIE,
  StunAttr,
  isKnownAttribute,
  stunClassOf,
  stunMethodOf,
  type StunClass,
} from './constants.js';

export interface StunAddress {
  family: 4 | 6;
  address: string;
  port: number;
}

export interface StunErrorValue {
  code: number;
  reason: string;
}

/**
 * Cheap pre-check for the receive path: top two bits zero, at least a header, magic cookie present,
 * length field consistent with the datagram. Does not allocate.
 */
export function isStunPacket(buf: Uint8Array): boolean {
  if (buf.length < HEADER_LENGTH || (buf[0]! & 0xc0) !== 0) return false;
  if (buf[4] !== 0x21 || buf[5] !== 0x12 || buf[6] !== 0xa4 || buf[7] !== 0x42) return false;
  const len = (buf[2]! << 8) | buf[3]!;
  return (len & 3) === 0 && len + HEADER_LENGTH === buf.length;
}

/** A parsed STUN message: a view over the datagram (the Buffer must not be reused while in use). */
export class StunMessage {
  /** Message type (method + class). */
  readonly type: number;
  /** Attribute table: [type, valueOffset, valueLength] triples in wire order (only attributes before MESSAGE-INTEGRITY, plus MI and FINGERPRINT). */
  readonly attrs: number[];
  /** Offset of the MESSAGE-INTEGRITY attribute header, or -1. */
  readonly integrityOffset: number;
  /** Offset of the FINGERPRINT attribute header, or -1. */
  readonly fingerprintOffset: number;

  constructor(
    readonly buf: Buffer,
    type: number,
    attrs: number[],
    integrityOffset: number,
    fingerprintOffset: number,
  ) {
    this.type = type;
    this.attrs = attrs;
    this.integrityOffset = integrityOffset;
    this.fingerprintOffset = fingerprintOffset;
  }

  get cls(): StunClass {
    return stunClassOf(this.type);
  }
  get method(): number {
    return stunMethodOf(this.type);
  }
  /** 12-byte transaction id (a view, no copy). */
  get transactionId(): Buffer {
    return this.buf.subarray(8, 20);
  }
  /** Transaction id as a compact string, usable as a Map key. */
  transactionKey(): string {
    return this.buf.toString('latin1', 8, 20);
  }

  /** Index in `attrs` of the first attribute of `type` (multiple of 3), or -1. */
  find(type: number): number {
    const a = this.attrs;
    for (let i = 0; i < a.length; i += 3) if (a[i] === type) return i;
    return -1;
  }
  has(type: number): boolean {
    return this.find(type) >= 0;
  }
  /** Raw value view of the first attribute of `type`. */
  value(type: number): Buffer | undefined {
    const i = this.find(type);
    if (i < 0) return undefined;
    const off = this.attrs[i + 1]!;
    return this.buf.subarray(off, off + this.attrs[i + 2]!);
  }

  private str(type: number): string | undefined {
    const i = this.find(type);
    if (i < 0) return undefined;
    const off = this.attrs[i + 1]!;
    return this.buf.toString('utf8', off, off + this.attrs[i + 2]!);
  }
  private u32(type: number): number | undefined {
    const i = this.find(type);
    if (i < 0 || this.attrs[i + 2]! < 4) return undefined;
    return this.buf.readUInt32BE(this.attrs[i + 1]!);
  }
  private u64(type: number): bigint | undefined {
    const i = this.find(type);
    if (i < 0 || this.attrs[i + 2]! < 8) return undefined;
    return this.buf.readBigUInt64BE(this.attrs[i + 1]!);
  }

  getUsername(): string | undefined {
    return this.str(StunAttr.Username);
  }
  getSoftware(): string | undefined {
    return this.str(StunAttr.Software);
  }
  getRealm(): string | undefined {
    return this.str(StunAttr.Realm);
  }
  getNonce(): string | undefined {
    return this.str(StunAttr.Nonce);
  }
  getPriority(): number | undefined {
    return this.u32(StunAttr.Priority);
  }
  getIceControlling(): bigint | undefined {
    return this.u64(StunAttr.IceControlling);
  }
  getIceControlled(): bigint | undefined {
    return this.u64(StunAttr.IceControlled);
  }
  getNomination(): number | undefined {
    const i = this.find(StunAttr.Nomination);
    if (i < 0 || this.attrs[i + 2]! < 4) return undefined;
    return this.buf.readUInt32BE(this.attrs[i + 1]!) & 0xffffff;
  }
  hasUseCandidate(): boolean {
    return this.find(StunAttr.UseCandidate) >= 0;
  }
  getXorMappedAddress(): StunAddress | undefined {
    return this.address(StunAttr.XorMappedAddress, true);
  }
  getMappedAddress(): StunAddress | undefined {
    return this.address(StunAttr.MappedAddress, false);
  }
  getErrorCode(): StunErrorValue | undefined {
    const i = this.find(StunAttr.ErrorCode);
    if (i < 0 || this.attrs[i + 2]! < 4) return undefined;
    const off = this.attrs[i + 1]!;
    const code = (this.buf[off + 2]! & 0x7) * 100 + this.buf[off + 3]!;
    return { code, reason: this.buf.toString('utf8', off + 4, off + this.attrs[i + 2]!) };
  }
  getUnknownAttributes(): number[] {
    const v = this.value(StunAttr.UnknownAttributes);
    const out: number[] = [];
    if (v) for (let o = 0; o + 1 < v.length; o += 2) out.push(v.readUInt16BE(o));
    return out;
  }
  /** Comprehension-required attributes (type < 0x8000) this codec does not know. */
  unknownComprehensionRequired(): number[] {
    let out: number[] | undefined;
    const a = this.attrs;
    for (let i = 0; i < a.length; i += 3) {
      const t = a[i]!;
      if (t < 0x8000 && !isKnownAttribute(t)) (out ??= []).push(t);
    }
    return out ?? [];
  }

  private address(type: number, xor: boolean): StunAddress | undefined {
    const i = this.find(type);
    if (i < 0) return undefined;
    const off = this.attrs[i + 1]!;
    const len = this.attrs[i + 2]!;
    const b = this.buf;
    if (len < 8) return undefined;
    const fam = b[off + 1];
    let port = b.readUInt16BE(off + 2);
    if (xor) port ^= MAGIC_COOKIE >>> 16;
    if (fam === 0x01) {
      if (len !== 8) return undefined;
      if (!xor) return { family: 4, address: formatIPv4(b, off + 4), port };
      const x = new Uint8Array(4);
      for (let k = 0; k < 4; k++) x[k] = b[off + 4 + k]! ^ b[4 + k]!;
      return { family: 4, address: formatIPv4(x, 0), port };
    }
    if (fam === 0x02) {
      if (len !== 20) return undefined;
      if (!xor) return { family: 6, address: formatIPv6(b, off + 4), port };
      const x = new Uint8Array(16);
      // xor with magic cookie (bytes 4..8) followed by transaction id (bytes 8..20): header bytes 4..20
      for (let k = 0; k < 16; k++) x[k] = b[off + 4 + k]! ^ b[4 + k]!;
      return { family: 6, address: formatIPv6(x, 0), port };
    }
    return undefined;
  }
}

/**
 * Parse a STUN datagram. Returns undefined if it is not a well-formed STUN message. Attributes after
 * MESSAGE-INTEGRITY other than FINGERPRINT are ignored (RFC 8489 14.5); anything after FINGERPRINT
 * makes the message invalid.
 */
export function parseStun(buf: Buffer): StunMessage | undefined {
  if (!isStunPacket(buf)) return undefined;
  const type = (buf[0]! << 8) | buf[1]!;
  const attrs: number[] = [];
  let integrity = -1;
  let fingerprint = -1;
  let off = HEADER_LENGTH;
  const end = buf.length;
  while (off < end) {
    if (off + 4 > end) return undefined;
    const at = (buf[off]! << 8) | buf[off + 1]!;
    const alen = (buf[off + 2]! << 8) | buf[off + 3]!;
    const voff = off + 4;
    const next = voff + ((alen + 3) & ~3);
    if (next > end) return undefined;
    if (fingerprint >= 0) return undefined; // FINGERPRINT must be last
    if (at === StunAttr.Fingerprint) {
      if (alen !== 4) return undefined;
      fingerprint = off;
      attrs.push(at, voff, alen);
    } else if (integrity < 0) {
      if (at === StunAttr.MessageIntegrity) {
        if (alen !== 20) return undefined;
        integrity = off;
      }
      attrs.push(at, voff, alen);
    }
    off = next;
  }
  return new StunMessage(buf, type, attrs, integrity, fingerprint);
}

// ---------------------------------------------------------------- integrity / fingerprint

const scratch2 = Buffer.alloc(2);

/** HMAC-SHA1 over `buf[0, end)` with the header length field replaced by `lengthField`. */
function hmacWithLength(buf: Uint8Array, end: number, lengthField: number, key: Buffer | string): Buffer {
  scratch2.writeUInt16BE(lengthField, 0);
  const h = createHmac('sha1', key);
  h.update(buf.subarray(0, 2));
  h.update(scratch2);
  h.update(buf.subarray(4, end));
  return h.digest();
}

function fingerprintWithLength(buf: Uint8Array, end: number, lengthField: number): number {
  scratch2.writeUInt16BE(lengthField, 0);
  let c = crc32(buf, 0, 2);
  c = crc32(scratch2, 0, 2, c);
  c = crc32(buf, 4, end, c);
  return (c ^ FINGERPRINT_XOR) >>> 0;
}

/**
 * Verify MESSAGE-INTEGRITY with `key` (short-term: the password; long-term: see `longTermKey`).
 * False when absent or wrong.
 */
export function verifyMessageIntegrity(msg: StunMessage, key: Buffer | string): boolean {
  const mi = msg.integrityOffset;
  if (mi < 0) return false;
  const mac = hmacWithLength(msg.buf, mi, mi + 24 - HEADER_LENGTH, key);
  return timingSafeEqual(mac, msg.buf.subarray(mi + 4, mi + 24));
}

/** Verify FINGERPRINT. False when absent or wrong. */
export function verifyFingerprint(msg: StunMessage): boolean {
  const fp = msg.fingerprintOffset;
  if (fp < 0) return false;
  return fingerprintWithLength(msg.buf, fp, fp + 8 - HEADER_LENGTH) === msg.buf.readUInt32BE(fp + 4);
}

/** Long-term credential key: MD5(username ":" realm ":" password) (SASLprep not applied). */
export { longTermKey } from './long-term.js';

// ---------------------------------------------------------------- builder

export function randomTransactionId(): Buffer {
  return randomBytes(12);
}

export interface BuildOptions {
  /** Add MESSAGE-INTEGRITY with this key (short-term: the password string). */
  integrityKey?: Buffer | string;
  /** Add FINGERPRINT (last). */
  fingerprint?: boolean;
}

/** Incrementally builds one STUN message. */
export class StunBuilder {
  private readonly parts: Buffer[] = [];
  private size = HEADER_LENGTH;
  readonly transactionId: Buffer;

  constructor(
    readonly type: number,
    transactionId?: Uint8Array,
  ) {
    if (transactionId && transactionId.length !== 12) throw new RangeError('STUN transaction id must be 12 bytes');
    this.transactionId = transactionId ? Buffer.from(transactionId) : randomTransactionId();
  }

  /**
   * Append a raw attribute; the value is padded to a multiple of 4 with `padByte` (0 by default;
   * receivers must ignore padding content, RFC 5769 vectors use 0x20).
   */
  add(type: number, value: Uint8Array, padByte = 0): this {
    if (value.length > 0xffff) throw new RangeError('STUN attribute too long');
    const a = Buffer.alloc(4 + ((value.length + 3) & ~3), padByte);
    a.writeUInt16BE(type, 0);
    a.writeUInt16BE(value.length, 2);
    a.set(value, 4);
    this.parts.push(a);
    this.size += a.length;
    return this;
  }
  private addU32(type: number, v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0, 0);
    return this.add(type, b);
  }
  private addU64(type: number, v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, v), 0);
    return this.add(type, b);
  }

  username(u: string, padByte = 0): this {
    return this.add(StunAttr.Username, Buffer.from(u, 'utf8'), padByte);
  }
  software(s: string, padByte = 0): this {
    return this.add(StunAttr.Software, Buffer.from(s, 'utf8'), padByte);
  }
  priority(p: number): this {
    return this.addU32(StunAttr.Priority, p);
  }
  useCandidate(): this {
    return this.add(StunAttr.UseCandidate, Buffer.alloc(0));
  }
  iceControlling(tieBreaker: bigint): this {
    return this.addU64(StunAttr.IceControlling, tieBreaker);
  }
  iceControlled(tieBreaker: bigint): this {
    return this.addU64(StunAttr.IceControlled, tieBreaker);
  }
  nomination(value: number): this {
    return this.addU32(StunAttr.Nomination, value & 0xffffff);
  }
  errorCode(code: number, reason: string = DEFAULT_REASONS[code] ?? ''): this {
    const r = Buffer.from(reason, 'utf8');
    const b = Buffer.alloc(4 + r.length);
    b[2] = Math.floor(code / 100) & 0x7;
    b[3] = code % 100;
    b.set(r, 4);
    return this.add(StunAttr.ErrorCode, b);
  }
  unknownAttributes(types: readonly number[]): this {
    const b = Buffer.alloc(types.length * 2);
    types.forEach((t, i) => b.writeUInt16BE(t, i * 2));
    return this.add(StunAttr.UnknownAttributes, b);
  }
  mappedAddress(address: string, port: number): this {
    return this.add(StunAttr.MappedAddress, encodeAddress(address, port, undefined));
  }
  xorMappedAddress(address: string, port: number): this {
    return this.add(StunAttr.XorMappedAddress, encodeAddress(address, port, this.transactionId));
  }

  /** Serialize, optionally appending MESSAGE-INTEGRITY and FINGERPRINT. */
  build(opts: BuildOptions = {}): Buffer {
    const miAt = this.size;
    const total = this.size + (opts.integrityKey !== undefined ? 24 : 0) + (opts.fingerprint ? 8 : 0);
    const out = Buffer.allocUnsafe(total);
    out.writeUInt16BE(this.type & 0x3fff, 0);
    out.writeUInt16BE(total - HEADER_LENGTH, 2);
    out.writeUInt32BE(MAGIC_COOKIE, 4);
    out.set(this.transactionId, 8);
    let off = HEADER_LENGTH;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    if (opts.integrityKey !== undefined) {
      const mac = hmacWithLength(out, miAt, miAt + 24 - HEADER_LENGTH, opts.integrityKey);
      out.writeUInt16BE(StunAttr.MessageIntegrity, off);
      out.writeUInt16BE(20, off + 2);
      out.set(mac, off + 4);
      off += 24;
    }
    if (opts.fingerprint) {
      const fp = fingerprintWithLength(out, off, off + 8 - HEADER_LENGTH);
      out.writeUInt16BE(StunAttr.Fingerprint, off);
      out.writeUInt16BE(4, off + 2);
      out.writeUInt32BE(fp, off + 4);
    }
    return out;
  }
}

/** Encode a (XOR-)MAPPED-ADDRESS value. `tid` given means XOR encoding. */
function encodeAddress(address: string, port: number, tid: Buffer | undefined): Buffer {
  const v6 = address.includes(':');
  const b = Buffer.alloc(v6 ? 20 : 8);
  b[1] = v6 ? 0x02 : 0x01;
  if (!(v6 ? writeIPv6(address, b, 4) : writeIPv4(address, b, 4))) {
    throw new TypeError(`not an IP address: ${address}`);
  }
  if (tid) {
    b.writeUInt16BE((port ^ (MAGIC_COOKIE >>> 16)) & 0xffff, 2);
    const mask = Buffer.allocUnsafe(16);
    mask.writeUInt32BE(MAGIC_COOKIE, 0);
    mask.set(tid, 4);
    for (let k = 0; k < (v6 ? 16 : 4); k++) b[4 + k] ^= mask[k]!;
  } else {
    b.writeUInt16BE(port, 2);
  }
  return b;
}
