/**
 * Streaming plugin-level errors: they travel inside `plugindata.data` as
 * `{streaming:"event", error_code, error}` (Janus's 450-470 range), never as core errors.
 */
export const StErrorCode = {
  NO_MESSAGE: 450,
  INVALID_JSON: 451,
  INVALID_REQUEST: 452,
  MISSING_ELEMENT: 453,
  INVALID_ELEMENT: 454,
  NO_SUCH_MOUNTPOINT: 455,
  CANT_CREATE: 456,
  UNAUTHORIZED: 457,
  CANT_SWITCH: 458,
  CANT_RECORD: 459,
  INVALID_STATE: 460,
  INVALID_SDP: 461,
  UNKNOWN_ERROR: 470,
} as const;

export class StError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'StError';
  }
}

export function errorData(err: StError): Record<string, unknown> {
  return { streaming: 'event', error_code: err.code, error: err.message };
}

export function noSuchMountpoint(id: string | number): StError {
  return new StError(StErrorCode.NO_SUCH_MOUNTPOINT, `No such mountpoint/stream ${id}`);
}

export function missing(name: string): StError {
  return new StError(StErrorCode.MISSING_ELEMENT, `Missing mandatory element (${name})`);
}

export function invalidType(name: string, what: string): StError {
  return new StError(StErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be ${what})`);
}
