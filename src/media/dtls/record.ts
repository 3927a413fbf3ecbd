/**
 * DTLS 1.2 record and handshake-fragment codec (RFC 6347 §4.1, §4.2.2), our own code.
 * Parsing never throws: malformed input yields `undefined` (callers drop and count).
 */

export const CT_CHANGE_CIPHER_SPEC = 20;
export const CT_ALERT = 21;
export const CT_HANDSHAKE = 22;
export const CT_APPLICATION_DATA = 23;

export const HS_HELLO_REQUEST = 0;
export const HS_CLIENT_HELLO = 1;
export const HS_SERVER_HELLO = 2;
export const HS_HELLO_VERIFY_REQUEST = 3;
export const HS_CERTIFICATE = 11;
export const HS_SERVER_KEY_EXCHANGE = 12;
export const HS_CERTIFICATE_REQUEST = 13;
export const HS_SERVER_HELLO_DONE = 14;
export const HS_CERTIFICATE_VERIFY = 15;
export const HS_CLIENT_KEY_EXCHANGE = 16;
export const HS_FINISHED = 20;

export const ALERT_WARNING = 1;
export const ALERT_FATAL = 2;
export const ALERT_CLOSE_NOTIFY = 0;
export const ALERT_HANDSHAKE_FAILURE = 40;
export const ALERT_BAD_CERTIFICATE = 42;
export const ALERT_DECRYPT_ERROR = 51;
export const ALERT_INTERNAL_ERROR = 80;

export const RECORD_HEADER_LEN = 13;
export const HANDSHAKE_HEADER_LEN = 12;
/** explicit nonce (8) + GCM tag (16) for TLS_ECDHE_*_WITH_AES_128_GCM_SHA256 */
export const AEAD_OVERHEAD = 24;

export interface DtlsRecord {
  contentType: number;
  versionMajor: number;
  versionMinor: number;
  epoch: number;
  /** 48-bit sequence number (safe as a JS number). */
  seq: number;
  /** Fragment bytes (a view into the datagram). */
  body: Buffer;
  /** The whole record (header + body), a view. */
  raw: Buffer;
}

/**
 * Splits a datagram into records. Stops at the first malformed record; `ok` is false if anything was
 * malformed (trailing junk, bad version, unknown content type, truncated length).
 */
export function parseRecords(datagram: Buffer): { records: DtlsRecord[]; ok: boolean } {
  const records: DtlsRecord[] = [];
  let off = 0;
  while (off < datagram.length) {
    if (datagram.length - off < RECORD_HEADER_LEN) return { records, ok: false };
    const ct = datagram[off]!;
    const vMaj = datagram[off + 1]!;
    const vMin = datagram[off + 2]!;
    if (ct < 20 || ct > 23 || vMaj !== 0xfe || (vMin !== 0xfd && vMin !== 0xff)) return { records, ok: false };
    const epoch = datagram.readUInt16BE(off + 3);
    const seq = datagram.readUIntBE(off + 5, 6);
    const len = datagram.readUInt16BE(off + 11);
    if (off + RECORD_HEADER_LEN + len > datagram.length) return { records, ok: false };
    const body = datagram.subarray(off + RECORD_HEADER_LEN, off + RECORD_HEADER_LEN + len);
    records.push({
      contentType: ct, versionMajor: vMaj, versionMinor: vMin, epoch, seq, body,
      raw: datagram.subarray(off, off + RECORD_HEADER_LEN + len),
    });
    off += RECORD_HEADER_LEN + len;
  }
  return { records, ok: true };
}

export function buildRecord(contentType: number, epoch: number, seq: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_LEN + body.length);
  out[0] = contentType;
  out[1] = 0xfe;
  out[2] = 0xfd;
  out.writeUInt16BE(epoch, 3);
  out.writeUIntBE(seq, 5, 6);
  out.writeUInt16BE(body.length, 11);
  out.set(body, RECORD_HEADER_LEN);
  return out;
}

export interface HandshakeFragment {
  msgType: number;
  /** Total message length. */
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  fragment: Buffer;
}

/** Parses the handshake fragments of a plaintext handshake record body. */
export function parseHandshakeFragments(body: Buffer): HandshakeFragment[] | undefined {
  const out: HandshakeFragment[] = [];
  let off = 0;
  while (off < body.length) {
    if (body.length - off < HANDSHAKE_HEADER_LEN) return undefined;
    const msgType = body[off]!;
    const length = body.readUIntBE(off + 1, 3);
    const messageSeq = body.readUInt16BE(off + 4);
    const fragmentOffset = body.readUIntBE(off + 6, 3);
    const fragLen = body.readUIntBE(off + 9, 3);
    if (fragmentOffset + fragLen > length) return undefined;
    if (off + HANDSHAKE_HEADER_LEN + fragLen > body.length) return undefined;
    out.push({
      msgType, length, messageSeq, fragmentOffset,
      fragment: body.subarray(off + HANDSHAKE_HEADER_LEN, off + HANDSHAKE_HEADER_LEN + fragLen),
    });
    off += HANDSHAKE_HEADER_LEN + fragLen;
  }
  return out;
}

/** A handshake message header + body as it appears in the handshake transcript (unfragmented form). */
export function encodeHandshake(msgType: number, messageSeq: number, body: Uint8Array,
  fragmentOffset = 0, fragmentLength = body.length, totalLength = body.length): Buffer {
  const out = Buffer.allocUnsafe(HANDSHAKE_HEADER_LEN + fragmentLength);
  out[0] = msgType;
  out.writeUIntBE(totalLength, 1, 3);
  out.writeUInt16BE(messageSeq, 4);
  out.writeUIntBE(fragmentOffset, 6, 3);
  out.writeUIntBE(fragmentLength, 9, 3);
  out.set(body.subarray(fragmentOffset, fragmentOffset + fragmentLength), HANDSHAKE_HEADER_LEN);
  return out;
}

/** A complete handshake message. */
export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Buffer;
}

/** Reassembles fragments of one message, tolerating overlap, duplicates and any order. */
export class MessageAssembler {
  readonly msgType: number;
  readonly length: number;
  private readonly buf: Buffer;
  private readonly have: Uint8Array;
  private filled = 0;

  constructor(msgType: number, length: number) {
    this.msgType = msgType;
    this.length = length;
    this.buf = Buffer.alloc(length);
    this.have = new Uint8Array(length);
  }

  /** Returns false if the fragment is inconsistent with earlier ones (type/length). */
  add(f: HandshakeFragment): boolean {
    if (f.msgType !== this.msgType || f.length !== this.length) return false;
    this.buf.set(f.fragment, f.fragmentOffset);
    for (let i = f.fragmentOffset; i < f.fragmentOffset + f.fragment.length; i++) {
      if (!this.have[i]) { this.have[i] = 1; this.filled++; }
    }
    return true;
  }

  get complete(): boolean { return this.filled === this.length; }
  get body(): Buffer { return this.buf; }
}

/**
 * Splits handshake messages into records/datagrams that fit `mtu`. Each item is either a handshake
 * message to be (re)fragmented in epoch 0, or a prebuilt record (CCS, encrypted Finished) copied as is.
 * `nextSeq` allocates epoch-0 record sequence numbers.
 */
export type FlightItem =
  | { kind: 'handshake'; msg: HandshakeMessage }
  | { kind: 'ccs' }
  | { kind: 'raw'; record: Buffer };

export function packFlight(items: readonly FlightItem[], mtu: number, nextSeq: () => number): Buffer[] {
  const datagrams: Buffer[] = [];
  let current: Buffer[] = [];
  let currentLen = 0;
  const push = (rec: Buffer): void => {
    if (currentLen + rec.length > mtu && current.length > 0) {
      datagrams.push(Buffer.concat(current));
      current = [];
      currentLen = 0;
    }
    current.push(rec);
    currentLen += rec.length;
  };
  const minFrag = 16;
  for (const item of items) {
    if (item.kind === 'raw') { push(item.record); continue; }
    if (item.kind === 'ccs') { push(buildRecord(CT_CHANGE_CIPHER_SPEC, 0, nextSeq(), Buffer.from([1]))); continue; }
    const { msg } = item;
    const total = msg.body.length;
    let off = 0;
    do {
      let room = mtu - currentLen - RECORD_HEADER_LEN - HANDSHAKE_HEADER_LEN;
      if (room < Math.min(minFrag, total - off) || (room <= 0)) {
        if (current.length > 0) {
          datagrams.push(Buffer.concat(current));
          current = [];
          currentLen = 0;
        }
        room = mtu - RECORD_HEADER_LEN - HANDSHAKE_HEADER_LEN;
      }
      const n = Math.max(0, Math.min(room, total - off));
      const hs = encodeHandshake(msg.msgType, msg.messageSeq, msg.body, off, n, total);
      push(buildRecord(CT_HANDSHAKE, 0, nextSeq(), hs));
      off += n;
    } while (off < total);
  }
  if (current.length > 0) datagrams.push(Buffer.concat(current));
  return datagrams;
}
