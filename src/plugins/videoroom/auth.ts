/** Room secret and plugin admin_key checks, with Janus's codes and texts. */
import { VrError, VrErrorCode } from './errors.js';
import { missing, type Params } from './params.js';
import { safeEqual } from './secrets.js';

/** When `expected` is set: absent gives 429, wrong gives 433 "Unauthorized (wrong <name>)". */
export function checkKey(p: Params, name: string, expected: string | null): void {
  if (expected === null) return;
  const given = p.string(name);
  if (given === undefined) throw missing(name);
  if (!safeEqual(given, expected)) throw new VrError(VrErrorCode.UNAUTHORIZED, `Unauthorized (wrong ${name})`);
}
