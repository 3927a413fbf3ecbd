/**
 * VP8 RTP payload descriptor (RFC 7741 §4.2) and payload header (§4.3), read and patched in place.
 *
 *        0 1 2 3 4 5 6 7
 *       |X|R|N|S|R| PID | (required)
 *   X:  |I|L|T|K| RSV   | (extension bits)
 *   I:  |M| PictureID   | (7 bits, or 15 with M=1: one more byte)
 *   L:  |   TL0PICIDX   |
 *   T/K:|TID|Y| KEYIDX  |
 *
 * The first byte of the VP8 payload at the start of partition 0 (S=1, PID=0) holds the inverse
 * key-frame flag (P, bit 0): 0 means a key frame, whose header also carries width and height.
 * Everything works on a caller-owned `Vp8Info` so the packet path allocates nothing.
 */

export interface Vp8Info {
  /** Picture ID, -1 when absent. */
  pictureId: number;
  /** 7 or 15 (0 when absent). */
  pictureIdBits: number;
  /** Byte offset of the picture ID in the buffer, -1 when absent. */
  pictureIdOffset: number;
  /** TL0PICIDX, -1 when absent. */
  tl0PicIdx: number;
  tl0PicIdxOffset: number;
  /** Temporal layer index (0..3), -1 when absent. */
  tid: number;
  /** Layer sync bit (Y): this frame only depends on temporal base-layer frames. */
  layerSync: boolean;
  /** S bit set and partition index 0: first packet of a frame. */
  startOfFrame: boolean;
  keyframe: boolean;
  /** Frame size from a key frame's header, 0 otherwise. */
  width: number;
  height: number;
  /** Offset of the VP8 payload (after the descriptor). */
  payloadOffset: number;
}

export function newVp8Info(): Vp8Info {
  return {
    pictureId: -1,
    pictureIdBits: 0,
    pictureIdOffset: -1,
    tl0PicIdx: -1,
    tl0PicIdxOffset: -1,
    tid: -1,
    layerSync: false,
    startOfFrame: false,
    keyframe: false,
    width: 0,
    height: 0,
    payloadOffset: 0,
  };
}

/**
 * Parse the descriptor of the RTP payload `buf[off, off+len)` into `out`.
 * Returns false (and leaves `out` partially filled) when the payload is too short to be VP8.
 */
export function parseVp8(buf: Uint8Array, off: number, len: number, out: Vp8Info): boolean {
  out.pictureId = -1;
  out.pictureIdBits = 0;
  out.pictureIdOffset = -1;
  out.tl0PicIdx = -1;
  out.tl0PicIdxOffset = -1;
  out.tid = -1;
  out.layerSync = false;
  out.startOfFrame = false;
  out.keyframe = false;
  out.width = 0;
  out.height = 0;
  if (len < 1) return false;
  const end = off + len;
  let p = off;
  const b0 = buf[p++]!;
  const x = (b0 & 0x80) !== 0;
  const s = (b0 & 0x10) !== 0;
  const pid = b0 & 0x07;
  if (x) {
    if (p >= end) return false;
    const b1 = buf[p++]!;
    const i = (b1 & 0x80) !== 0;
    const l = (b1 & 0x40) !== 0;
    const t = (b1 & 0x20) !== 0;
    const k = (b1 & 0x10) !== 0;
    if (i) {
      if (p >= end) return false;
      out.pictureIdOffset = p;
      if (buf[p]! & 0x80) {
        if (p + 1 >= end) return false;
        out.pictureId = ((buf[p]! & 0x7f) << 8) | buf[p + 1]!;
        out.pictureIdBits = 15;
        p += 2;
      } else {
        out.pictureId = buf[p]! & 0x7f;
        out.pictureIdBits = 7;
        p += 1;
      }
    }
    if (l) {
      if (p >= end) return false;
      out.tl0PicIdxOffset = p;
      out.tl0PicIdx = buf[p++]!;
    }
    if (t || k) {
      if (p >= end) return false;
      const b = buf[p++]!;
      if (t) {
        out.tid = b >>> 6;
        out.layerSync = (b & 0x20) !== 0;
      }
    }
  }
  out.payloadOffset = p;
  out.startOfFrame = s && pid === 0;
  if (out.startOfFrame && p < end) {
    out.keyframe = (buf[p]! & 0x01) === 0;
    // Key frame: 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height (+2 scale bits each).
    if (out.keyframe && p + 10 <= end && buf[p + 3] === 0x9d && buf[p + 4] === 0x01 && buf[p + 5] === 0x2a) {
      out.width = (buf[p + 6]! | (buf[p + 7]! << 8)) & 0x3fff;
      out.height = (buf[p + 8]! | (buf[p + 9]! << 8)) & 0x3fff;
    }
  }
  return true;
}

/** Whether the RTP payload `buf[off, off+len)` starts a VP8 key frame. */
export function isVp8Keyframe(buf: Uint8Array, off: number, len: number): boolean {
  if (len < 1) return false;
  const end = off + len;
  let p = off;
  const b0 = buf[p++]!;
  if ((b0 & 0x10) === 0 || (b0 & 0x07) !== 0) return false;
  if (b0 & 0x80) {
    if (p >= end) return false;
    const b1 = buf[p++]!;
    if (b1 & 0x80) {
      if (p >= end) return false;
      p += buf[p]! & 0x80 ? 2 : 1;
    }
    if (b1 & 0x40) p++;
    if (b1 & 0x30) p++;
  }
  return p < end && (buf[p]! & 0x01) === 0;
}

/** Overwrite the picture ID in place (same width as parsed: 7 or 15 bits). */
export function setVp8PictureId(buf: Uint8Array, info: Vp8Info, pictureId: number): void {
  const o = info.pictureIdOffset;
  if (o < 0) return;
  if (info.pictureIdBits === 15) {
    buf[o] = 0x80 | ((pictureId >>> 8) & 0x7f);
    buf[o + 1] = pictureId & 0xff;
  } else buf[o] = pictureId & 0x7f;
}

export function setVp8Tl0PicIdx(buf: Uint8Array, info: Vp8Info, tl0: number): void {
  if (info.tl0PicIdxOffset >= 0) buf[info.tl0PicIdxOffset] = tl0 & 0xff;
}

/**
 * Keeps one outgoing stream's picture IDs and TL0PICIDX continuous when its source changes
 * (simulcast layer switch, `switch` to another publisher): the same job RtpRewriter does for
 * sequence numbers, applied to the VP8 descriptor.
 */
export class Vp8Rewriter {
  private picOffset = 0;
  private tl0Offset = 0;
  private lastPic = -1;
  private lastTl0 = -1;
  private rebase = true;

  /** The next frame re-bases the offsets (call on a source/layer switch). */
  switchSource(): void {
    this.rebase = true;
  }

  /** Rewrite in place; `info` must describe this packet (parseVp8). */
  rewrite(buf: Uint8Array, info: Vp8Info): void {
    if (this.rebase) {
      this.rebase = false;
      this.picOffset = info.pictureId < 0 || this.lastPic < 0 ? 0 : this.lastPic + 1 - info.pictureId;
      this.tl0Offset = info.tl0PicIdx < 0 || this.lastTl0 < 0 ? 0 : this.lastTl0 + 1 - info.tl0PicIdx;
    }
    if (info.pictureId >= 0) {
      const mask = info.pictureIdBits === 15 ? 0x7fff : 0x7f;
      const pic = (info.pictureId + this.picOffset) & mask;
      setVp8PictureId(buf, info, pic);
      this.lastPic = pic;
    }
    if (info.tl0PicIdx >= 0) {
      const tl0 = (info.tl0PicIdx + this.tl0Offset) & 0xff;
      setVp8Tl0PicIdx(buf, info, tl0);
      this.lastTl0 = tl0;
    }
  }
}
