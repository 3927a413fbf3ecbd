/**
 * H.264 RTP payloads (RFC 6184): key-frame detection over single NAL units, STAP-A aggregates and
 * FU-A fragments. An IDR slice (type 5) or an SPS (type 7, which browsers send right before an IDR)
 * starts a key frame.
 */

const NAL_IDR = 5;
const NAL_SPS = 7;
const STAP_A = 24;
const FU_A = 28;

function isKeyNal(type: number): boolean {
  return type === NAL_IDR || type === NAL_SPS;
}

/** NAL unit type of the first NAL in the payload (the fragment's original type for FU-A), -1 if unreadable. */
export function h264NalType(buf: Uint8Array, off: number, len: number): number {
  if (len < 1) return -1;
  const type = buf[off]! & 0x1f;
  if (type === FU_A) return len < 2 ? -1 : buf[off + 1]! & 0x1f;
  if (type === STAP_A) return len < 4 ? -1 : buf[off + 3]! & 0x1f;
  return type;
}

/** Whether the RTP payload `buf[off, off+len)` carries (the start of) a key frame. */
export function isH264Keyframe(buf: Uint8Array, off: number, len: number): boolean {
  if (len < 1) return false;
  const type = buf[off]! & 0x1f;
  if (type === FU_A) {
    if (len < 2) return false;
    const fu = buf[off + 1]!;
    return (fu & 0x80) !== 0 && isKeyNal(fu & 0x1f);
  }
  if (type === STAP_A) {
    let p = off + 1;
    const end = off + len;
    while (p + 2 < end) {
      const size = (buf[p]! << 8) | buf[p + 1]!;
      if (size === 0 || p + 2 + size > end) return false;
      if (isKeyNal(buf[p + 2]! & 0x1f)) return true;
      p += 2 + size;
    }
    return false;
  }
  return isKeyNal(type);
}
