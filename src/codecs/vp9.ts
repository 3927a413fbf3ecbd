/**
 * VP9 RTP payload descriptor (RFC 9628 §4.2), enough for key-frame detection and layer indices:
 *
 *   |I|P|L|F|B|E|V|Z|  I: picture ID present, P: inter-picture predicted, L: layer indices present,
 *                       F: flexible mode, B: start of frame, E: end of frame.
 *   I:  |M| PICTURE ID | (7 or 15 bits)
 *   L:  |TID|U| SID |D|  (+ TL0PICIDX in non-flexible mode)
 *
 * A key frame is a frame that starts (B) with no inter-picture prediction (P=0) in spatial layer 0.
 */

export interface Vp9Info {
  keyframe: boolean;
  startOfFrame: boolean;
  endOfFrame: boolean;
  pictureId: number;
  /** -1 without layer indices. */
  tid: number;
  sid: number;
}

export function newVp9Info(): Vp9Info {
  return { keyframe: false, startOfFrame: false, endOfFrame: false, pictureId: -1, tid: -1, sid: -1 };
}

export function parseVp9(buf: Uint8Array, off: number, len: number, out: Vp9Info): boolean {
  out.keyframe = false;
  out.startOfFrame = false;
  out.endOfFrame = false;
  out.pictureId = -1;
  out.tid = -1;
  out.sid = -1;
  if (len < 1) return false;
  const end = off + len;
  const b0 = buf[off]!;
  let p = off + 1;
  const i = (b0 & 0x80) !== 0;
  const pBit = (b0 & 0x40) !== 0;
  const l = (b0 & 0x20) !== 0;
  out.startOfFrame = (b0 & 0x08) !== 0;
  out.endOfFrame = (b0 & 0x04) !== 0;
  if (i) {
    if (p >= end) return false;
    if (buf[p]! & 0x80) {
      if (p + 1 >= end) return false;
      out.pictureId = ((buf[p]! & 0x7f) << 8) | buf[p + 1]!;
      p += 2;
    } else out.pictureId = buf[p++]! & 0x7f;
  }
  if (l) {
    if (p >= end) return false;
    const b = buf[p]!;
    out.tid = b >>> 5;
    out.sid = (b >>> 1) & 0x07;
  }
  out.keyframe = !pBit && out.startOfFrame && (out.sid <= 0);
  return true;
}

export function isVp9Keyframe(buf: Uint8Array, off: number, len: number): boolean {
  if (len < 1) return false;
  const b0 = buf[off]!;
  if (b0 & 0x40 || (b0 & 0x08) === 0) return false;
  if ((b0 & 0x20) === 0) return true;
  let p = off + 1;
  if (b0 & 0x80) p += p < off + len && buf[p]! & 0x80 ? 2 : 1;
  return p < off + len && ((buf[p]! >>> 1) & 0x07) === 0;
}
