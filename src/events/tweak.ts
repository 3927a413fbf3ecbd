/** The Admin `query_eventhandler` request both shipped backends answer: `tweak` (change settings at runtime). */

type Kind = 'string' | 'boolean' | 'integer';

/** Error codes of Janus's sample handlers (invalid request, missing element, invalid element). */
export function tweakError(code: 411 | 412 | 413, error: string): { error_code: number; error: string } {
  return { error_code: code, error };
}

/** Checks `request` is a tweak with well-typed optional fields; the fields present, or the error response. */
export function tweakFields(
  request: Record<string, unknown>,
  kinds: Record<string, Kind>,
): { values: Record<string, unknown> } | { error_code: number; error: string } {
  const name = request.request;
  if (name === undefined) return tweakError(412, 'Missing mandatory element (request)');
  if (typeof name !== 'string') return tweakError(413, 'Invalid element type (request should be a string)');
  if (name !== 'tweak') return tweakError(411, `Unknown request '${name}'`);
  const values: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(kinds)) {
    const v = request[key];
    if (v === undefined) continue;
    const ok = kind === 'integer' ? Number.isSafeInteger(v) : typeof v === kind;
    if (!ok) return tweakError(413, `Invalid element type (${key} should be ${kind === 'integer' ? 'an integer' : `a ${kind}`})`);
    values[key] = v;
  }
  return { values };
}
