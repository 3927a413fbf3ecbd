/**
 * Sender Report and Receiver Report (RFC 3550 §6.4.1, §6.4.2) with report blocks.
 */
import { RtcpType, writeRtcpHeader } from './header.js';

export interface ReportBlock {
  ssrc: number;
  /** 8-bit fixed point fraction lost since the last report. */
  fractionLost: number;
  /** 24-bit signed cumulative number of packets lost. */
  cumulativeLost: number;
  /** Extended highest sequence number received. */
  highestSeq: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
  /** Middle 32 bits of the last SR's NTP timestamp (0 if none). */
  lsr: number;
  /** Delay since that SR, 1/65536 s. */
  dlsr: number;
}

export interface SenderInfo {
  ntpSec: number;
  ntpFrac: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

export function newReportBlock(): ReportBlock {
  return { ssrc: 0, fractionLost: 0, cumulativeLost: 0, highestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 };
}

export function newSenderInfo(): SenderInfo {
  return { ntpSec: 0, ntpFrac: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0 };
}

const REPORT_BLOCK_SIZE = 24;

/** Read report block `i` of the SR/RR packet at `off` into `out`. */
export function readReportBlock(b: Buffer, off: number, i: number, out: ReportBlock): ReportBlock {
  const base = off + (b[off + 1] === RtcpType.SR ? 28 : 8) + i * REPORT_BLOCK_SIZE;
  out.ssrc = b.readUInt32BE(base);
  out.fractionLost = b[base + 4]!;
  out.cumulativeLost = b.readIntBE(base + 5, 3);
  out.highestSeq = b.readUInt32BE(base + 8);
  out.jitter = b.readUInt32BE(base + 12);
  out.lsr = b.readUInt32BE(base + 16);
  out.dlsr = b.readUInt32BE(base + 20);
  return out;
}

/** Number of report blocks that actually fit in the packet at `off` of length `len`. */
export function reportBlockCount(b: Buffer, off: number, len: number): number {
  const head = b[off + 1] === RtcpType.SR ? 28 : 8;
  return Math.min(b[off]! & 0x1f, Math.max(0, Math.floor((len - head) / REPORT_BLOCK_SIZE)));
}

/** Read the sender info of the SR at `off`. */
export function readSenderInfo(b: Buffer, off: number, out: SenderInfo): SenderInfo {
  out.ntpSec = b.readUInt32BE(off + 8);
  out.ntpFrac = b.readUInt32BE(off + 12);
  out.rtpTimestamp = b.readUInt32BE(off + 16);
  out.packetCount = b.readUInt32BE(off + 20);
  out.octetCount = b.readUInt32BE(off + 24);
  return out;
}

function writeBlock(b: Buffer, o: number, r: ReportBlock): void {
  b.writeUInt32BE(r.ssrc >>> 0, o);
  b[o + 4] = Math.max(0, Math.min(255, r.fractionLost));
  b.writeIntBE(Math.max(-0x800000, Math.min(0x7fffff, r.cumulativeLost)), o + 5, 3);
  b.writeUInt32BE(r.highestSeq >>> 0, o + 8);
  b.writeUInt32BE(r.jitter >>> 0, o + 12);
  b.writeUInt32BE(r.lsr >>> 0, o + 16);
  b.writeUInt32BE(r.dlsr >>> 0, o + 20);
}

/** Bytes an SR with n blocks takes. */
export function senderReportLength(blocks: number): number {
  return 28 + blocks * REPORT_BLOCK_SIZE;
}

/** Write an SR into `out` at `off`; returns the bytes written. At most 31 blocks. */
export function writeSenderReport(out: Buffer, off: number, ssrc: number, info: SenderInfo, blocks: readonly ReportBlock[] = []): number {
  const n = Math.min(31, blocks.length);
  const len = senderReportLength(n);
  writeRtcpHeader(out, off, n, RtcpType.SR, len);
  out.writeUInt32BE(ssrc >>> 0, off + 4);
  out.writeUInt32BE(info.ntpSec >>> 0, off + 8);
  out.writeUInt32BE(info.ntpFrac >>> 0, off + 12);
  out.writeUInt32BE(info.rtpTimestamp >>> 0, off + 16);
  out.writeUInt32BE(info.packetCount >>> 0, off + 20);
  out.writeUInt32BE(info.octetCount >>> 0, off + 24);
  for (let i = 0; i < n; i++) writeBlock(out, off + 28 + i * REPORT_BLOCK_SIZE, blocks[i]!);
  return len;
}

/** Write an RR; returns the bytes written. At most 31 blocks. */
export function writeReceiverReport(out: Buffer, off: number, ssrc: number, blocks: readonly ReportBlock[] = []): number {
  const n = Math.min(31, blocks.length);
  const len = 8 + n * REPORT_BLOCK_SIZE;
  writeRtcpHeader(out, off, n, RtcpType.RR, len);
  out.writeUInt32BE(ssrc >>> 0, off + 4);
  for (let i = 0; i < n; i++) writeBlock(out, off + 8 + i * REPORT_BLOCK_SIZE, blocks[i]!);
  return len;
}

export function buildSenderReport(ssrc: number, info: SenderInfo, blocks: readonly ReportBlock[] = []): Buffer {
  const out = Buffer.alloc(senderReportLength(Math.min(31, blocks.length)));
  writeSenderReport(out, 0, ssrc, info, blocks);
  return out;
}

export function buildReceiverReport(ssrc: number, blocks: readonly ReportBlock[] = []): Buffer {
  const out = Buffer.alloc(8 + Math.min(31, blocks.length) * REPORT_BLOCK_SIZE);
  writeReceiverReport(out, 0, ssrc, blocks);
  return out;
}
