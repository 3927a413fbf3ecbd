/**
 * Secret/pin/admin_key checks. Comparing SHA-256 digests makes both inputs the same length,
 * so timingSafeEqual can be used and neither content nor length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}
