/** Record&Play error codes (Janus's JANUS_RECORDPLAY_ERROR_*) and request validation with Janus's texts. */
export const RpErrorCode = {
  NO_MESSAGE: 411,
  INVALID_JSON: 412,
  INVALID_REQUEST: 413,
  INVALID_ELEMENT: 414,
  MISSING_ELEMENT: 415,
  NOT_FOUND: 416,
  INVALID_RECORDING: 417,
  INVALID_STATE: 418,
  INVALID_SDP: 419,
  RECORDING_EXISTS: 420,
  UNKNOWN_ERROR: 499,
} as const;

export class RpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

type Kind = 'string' | 'nonempty' | 'boolean' | 'positive';
const WHAT: Record<Kind, string> = { string: 'a string', nonempty: 'a non-empty string', boolean: 'a boolean', positive: 'a positive integer' };

/** Janus's JANUS_VALIDATE_JSON_OBJECT: a JSON null counts as absent; `required` names must be present. */
export function validate(body: Record<string, unknown>, fields: ReadonlyArray<[string, Kind, boolean?]>): void {
  for (const [name, kind, required] of fields) {
    const v = body[name];
    if (v === undefined || v === null) {
      if (required) throw new RpError(RpErrorCode.MISSING_ELEMENT, `Missing mandatory element (${name})`);
      continue;
    }
    const ok =
      kind === 'string'
        ? typeof v === 'string'
        : kind === 'nonempty'
          ? typeof v === 'string' && v !== ''
          : kind === 'boolean'
            ? typeof v === 'boolean'
            : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!ok) throw new RpError(RpErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be ${WHAT[kind]})`);
  }
}
