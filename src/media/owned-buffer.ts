/**
 * Copies for small buffers that live as long as a PeerConnection (salts, certificates, names).
 * Buffer.from / allocUnsafe / concat hand out slices of Node's shared 8 KiB pool, and one live
 * slice keeps its whole slab alive: a 14-byte SRTP salt kept for an hour pins 8 KiB of otherwise
 * dead packet garbage. A copy with its own exact-size backing store pins nothing else.
 */
export function ownedCopy(src: Uint8Array): Buffer {
  const b = Buffer.allocUnsafeSlow(src.length);
  b.set(src);
  return b;
}
