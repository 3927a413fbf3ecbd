/**
 * Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01
 * §3.1), RTPFB FMT 15:
 *
 *   header | sender SSRC | media SSRC | base seq (16) | status count (16) |
 *   reference time (24, signed, x64 ms) | fb pkt count (8) | packet chunks (16 each) ... |
 *   recv deltas (1 byte x250us for "small", 2 bytes signed x250us for "large") ... | padding
 *
 * Chunks: run length (0 | symbol(2) | run(13)) or status vector (1 | S | symbols: 14 x 1 bit when
 * S=0, 7 x 2 bits when S=1). Symbols: 0 not received, 1 small delta, 2 large delta.
 */
import { RtcpType, RtpfbFmt, writeRtcpHeader } from './header.js';

export const TwccStatus = { NotReceived: 0, SmallDelta: 1, LargeDelta: 2 } as const;

/** Reusable parse result; arrays grow as needed and are reused. */
export class TransportCcFeedback {
  senderSsrc = 0;
  mediaSsrc = 0;
  baseSeq = 0;
  /** Packets described (status count). */
  count = 0;
  /** Reference time in units of 64 ms (signed 24 bits). */
  referenceTime = 0;
  fbPktCount = 0;
  /** Per packet i (seq = baseSeq + i): a TwccStatus value. */
  status = new Uint8Array(64);
  /** Per packet: receive delta in µs (0 when not received). */
  deltaUs = new Int32Array(64);

  /** Arrival time (µs, on the receiver's clock) of packet i, or NaN if not received. */
  arrivalUs(i: number): number {
    if (this.status[i] === TwccStatus.NotReceived) return NaN;
    let t = this.referenceTime * 64000;
    for (let k = 0; k <= i; k++) t += this.deltaUs[k]!;
    return t;
  }

  ensure(n: number): void {
    if (this.status.length < n) {
      let c = this.status.length;
      while (c < n) c *= 2;
      this.status = new Uint8Array(c);
      this.deltaUs = new Int32Array(c);
    }
  }
}

export function isTransportCc(b: Uint8Array, off: number): boolean {
  return b[off + 1] === RtcpType.RTPFB && (b[off]! & 0x1f) === RtpfbFmt.TransportCC;
}

/** Parse the feedback at `off` (length `len`) into `out`; false if malformed. */
export function parseTransportCc(b: Buffer, off: number, len: number, out: TransportCcFeedback): boolean {
  const end = off + len;
  if (len < 20) return false;
  out.senderSsrc = b.readUInt32BE(off + 4);
  out.mediaSsrc = b.readUInt32BE(off + 8);
  out.baseSeq = b.readUInt16BE(off + 12);
  const count = b.readUInt16BE(off + 14);
  out.count = count;
  out.referenceTime = b.readIntBE(off + 16, 3);
  out.fbPktCount = b[off + 19]!;
  out.ensure(count);
  let p = off + 20;
  let n = 0;
  while (n < count) {
    if (p + 2 > end) return false;
    const chunk = b.readUInt16BE(p);
    p += 2;
    if ((chunk & 0x8000) === 0) {
      const sym = (chunk >>> 13) & 3;
      const run = chunk & 0x1fff;
      for (let k = 0; k < run && n < count; k++) out.status[n++] = sym;
    } else if ((chunk & 0x4000) === 0) {
      for (let k = 13; k >= 0 && n < count; k--) out.status[n++] = (chunk >>> k) & 1;
    } else {
      for (let k = 12; k >= 0 && n < count; k -= 2) out.status[n++] = (chunk >>> k) & 3;
    }
  }
  for (let i = 0; i < count; i++) {
    const s = out.status[i]!;
    if (s === TwccStatus.SmallDelta) {
      if (p + 1 > end) return false;
      out.deltaUs[i] = b[p]! * 250;
      p += 1;
    } else if (s === TwccStatus.LargeDelta) {
      if (p + 2 > end) return false;
      out.deltaUs[i] = b.readInt16BE(p) * 250;
      p += 2;
    } else {
      out.deltaUs[i] = 0;
    }
  }
  return true;
}

/**
 * Build a feedback for packets baseSeq .. baseSeq + arrivalsUs.length - 1. arrivalsUs[i] is the
 * arrival time in µs on our clock, or a negative number for "not received". The first received
 * packet must be present. Deltas are quantised to 250 µs without drift.
 */
export function buildTransportCc(
  senderSsrc: number,
  mediaSsrc: number,
  baseSeq: number,
  fbPktCount: number,
  arrivalsUs: ArrayLike<number>,
): Buffer {
  const count = arrivalsUs.length;
  let first = -1;
  for (let i = 0; i < count; i++) if (arrivalsUs[i]! >= 0) { first = i; break; }
  if (first < 0) throw new RangeError('transport-cc feedback needs at least one received packet');
  const refTime = Math.floor(arrivalsUs[first]! / 64000);
  const status = new Uint8Array(count);
  const deltas: number[] = [];
  let prevTicks = refTime * 256; // 64 ms = 256 ticks of 250 µs
  for (let i = 0; i < count; i++) {
    const a = arrivalsUs[i]!;
    if (a < 0) continue;
    const ticks = Math.round(a / 250);
    let d = ticks - prevTicks;
    if (d >= 0 && d <= 255) status[i] = TwccStatus.SmallDelta;
    else {
      d = Math.max(-32768, Math.min(32767, d));
      status[i] = TwccStatus.LargeDelta;
    }
    deltas.push(d);
    prevTicks += d;
  }
  // chunks
  const chunks: number[] = [];
  let i = 0;
  while (i < count) {
    let run = 1;
    while (i + run < count && status[i + run] === status[i] && run < 0x1fff) run++;
    if (run >= 7) {
      chunks.push((status[i]! << 13) | run);
      i += run;
    } else {
      let c = 0xc000;
      for (let k = 0; k < 7; k++) c |= (i + k < count ? status[i + k]! : 0) << (12 - 2 * k);
      chunks.push(c);
      i += 7;
    }
  }
  let deltaBytes = 0;
  for (let k = 0; k < count; k++) deltaBytes += status[k] === 1 ? 1 : status[k] === 2 ? 2 : 0;
  const body = 20 + chunks.length * 2 + deltaBytes;
  const len = (body + 3) & ~3;
  const out = Buffer.alloc(len);
  const pad = len - body;
  writeRtcpHeader(out, 0, RtpfbFmt.TransportCC, RtcpType.RTPFB, len);
  if (pad > 0) {
    out[0]! |= 0x20;
    out[len - 1] = pad;
  }
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  out.writeUInt32BE(mediaSsrc >>> 0, 8);
  out.writeUInt16BE(baseSeq & 0xffff, 12);
  out.writeUInt16BE(count, 14);
  out.writeIntBE(((refTime + 0x800000) & 0xffffff) - 0x800000, 16, 3);
  out[19] = fbPktCount & 0xff;
  let p = 20;
  for (const c of chunks) {
    out.writeUInt16BE(c, p);
    p += 2;
  }
  let di = 0;
  for (let k = 0; k < count; k++) {
    if (status[k] === 1) out[p++] = deltas[di++]!;
    else if (status[k] === 2) {
      out.writeInt16BE(deltas[di++]!, p);
      p += 2;
    }
  }
  return out;
}
