/**
 * Secret / pin / admin_key checks. Comparing SHA-256 digests gives equal-length inputs, so
 * timingSafeEqual applies and neither content nor length leaks through timing.
 * (Same idea as src/plugins/videoroom/secrets.ts: a candidate for a shared helper.)
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { TrError, TrErrorCode } from './errors.js';
import type { Params } from './params.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** When `expected` is set the request must carry it in `name`: 413 missing, 414 not a string, 419 wrong. */
export function checkSecret(expected: string | null, p: Params, name: string): void {
  if (expected === null) return;
  const given = p.requireString(name);
  if (!safeEqual(given, expected)) throw new TrError(TrErrorCode.UNAUTHORIZED, `Unauthorized (wrong ${name})`);
}
