import { buildExtensionBlock, writeRtpHeader } from '../../../src/media/rtp/index.js';
import { RtcpReader } from '../../../src/media/rtcp/index.js';
import { RtpSession, type RtpSessionOptions } from '../../../src/media/session/index.js';

export const WALL = 1_700_000_000_000; // unixOffsetMs used by the tests: wall = now + WALL

export function session(opts: Partial<RtpSessionOptions> = {}): RtpSession {
  return new RtpSession({ cname: 'test-cname', unixOffsetMs: WALL, random: () => 0.5, rtcpSsrc: 0x0eeeeeee, ...opts });
}

/** RTP packet with a payload whose bytes identify it; room for an SRTP trailer. */
export function rtp(ssrc: number, seq: number, ts: number, opts: { pt?: number; payload?: number; ext?: Buffer; marker?: boolean } = {}): Buffer {
  const ext = opts.ext ?? Buffer.alloc(0);
  const payload = opts.payload ?? 100;
  const b = Buffer.alloc(12 + ext.length + payload + 32);
  writeRtpHeader(b, opts.pt ?? 96, seq & 0xffff, ts >>> 0, ssrc, opts.marker ?? false);
  if (ext.length) {
    b[0]! |= 0x10;
    ext.copy(b, 12);
  }
  for (let i = 0; i < payload; i++) b[12 + ext.length + i] = (seq * 7 + i) & 0xff;
  return b;
}
export function rtpLen(b: Buffer, payload = 100, extLen = 0): number {
  return 12 + extLen + payload;
}

export function midExt(id: number, mid: string, extra: Array<{ id: number; data: string }> = []): Buffer {
  return buildExtensionBlock([{ id, data: Buffer.from(mid) }, ...extra.map((e) => ({ id: e.id, data: Buffer.from(e.data) }))]);
}

export interface RtcpPart {
  type: number;
  fmt: number;
  off: number;
  len: number;
}

/** The packets of a compound RTCP packet. */
export function parts(buf: Buffer): RtcpPart[] {
  const out: RtcpPart[] = [];
  const r = new RtcpReader().reset(buf, buf.length);
  while (r.next()) out.push({ type: r.type, fmt: r.count, off: r.offset, len: r.length });
  if (r.error) throw new Error('malformed compound');
  return out;
}

/** Drain every RTCP packet due at `now`. */
export function drainRtcp(s: RtpSession, now: number): Buffer[] {
  const out: Buffer[] = [];
  s.handleTimeout(now);
  for (let i = 0; i < 100; i++) {
    const b = s.pollRtcp(now);
    if (!b) return out;
    out.push(b);
  }
  throw new Error('pollRtcp never returned undefined');
}

