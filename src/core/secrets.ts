/**
 * Constant-time comparison for secrets, pins, admin keys and tokens. Comparing SHA-256 digests
 * gives equal-length inputs, so timingSafeEqual applies and neither content nor length leaks
 * through timing (Janus's janus_strcmp_const_time has the same aim).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}
