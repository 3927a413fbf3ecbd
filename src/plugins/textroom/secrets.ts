/** Secret / pin / admin_key checks, with the core's constant-time comparison. */
import { safeEqual } from '../../core/secrets.js';
import { TrError, TrErrorCode } from './errors.js';
import type { Params } from './params.js';

export { safeEqual };

/** When `expected` is set the request must carry it in `name`: 413 missing, 414 not a string, 419 wrong. */
export function checkSecret(expected: string | null, p: Params, name: string): void {
  if (expected === null) return;
  const given = p.requireString(name);
  if (!safeEqual(given, expected)) throw new TrError(TrErrorCode.UNAUTHORIZED, `Unauthorized (wrong ${name})`);
}
