/** VideoCall error codes (Janus's JANUS_VIDEOCALL_ERROR_*) and request validation with Janus's texts. */
export const VcErrorCode = {
  UNKNOWN_ERROR: 499,
  NO_MESSAGE: 470,
  INVALID_JSON: 471,
  INVALID_REQUEST: 472,
  REGISTER_FIRST: 473,
  INVALID_ELEMENT: 474,
  MISSING_ELEMENT: 475,
  USERNAME_TAKEN: 476,
  ALREADY_REGISTERED: 477,
  NO_SUCH_USERNAME: 478,
  USE_ECHO_TEST: 479,
  ALREADY_IN_CALL: 480,
  NO_CALL: 481,
  MISSING_SDP: 482,
  INVALID_SDP: 483,
} as const;

export class VcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

type Kind = 'string' | 'boolean' | 'positive';
const WHAT: Record<Kind, string> = { string: 'a string', boolean: 'a boolean', positive: 'a positive integer' };

/** Janus's JANUS_VALIDATE_JSON_OBJECT: a JSON null counts as absent; `required` names must be present. */
export function validate(body: Record<string, unknown>, fields: ReadonlyArray<[string, Kind, boolean?]>): void {
  for (const [name, kind, required] of fields) {
    const v = body[name];
    if (v === undefined || v === null) {
      if (required) throw new VcError(VcErrorCode.MISSING_ELEMENT, `Missing mandatory element (${name})`);
      continue;
    }
    const ok = kind === 'string' ? typeof v === 'string' : kind === 'boolean' ? typeof v === 'boolean' : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!ok) throw new VcError(VcErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be ${WHAT[kind]})`);
  }
}
