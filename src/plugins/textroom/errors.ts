/**
 * TextRoom plugin-level errors (janus_textroom.c codes). On the data channel they travel as
 * `{textroom:"error",error_code,error,transaction}`; over the Janus/Admin API inside the success
 * reply, as `"error"` for failures of a request and `"event"` for a missing/unknown `request`
 * (that split is what Janus 1.1.2 answers, see the report in test/plugins/textroom/README.md).
 */
export const TrErrorCode = {
  NO_MESSAGE: 411,
  INVALID_JSON: 412,
  MISSING_ELEMENT: 413,
  INVALID_ELEMENT: 414,
  INVALID_REQUEST: 415,
  ALREADY_SETUP: 416,
  NO_SUCH_ROOM: 417,
  ROOM_EXISTS: 418,
  UNAUTHORIZED: 419,
  USERNAME_EXISTS: 420,
  ALREADY_IN_ROOM: 421,
  NOT_IN_ROOM: 422,
  NO_SUCH_USER: 423,
  UNKNOWN_ERROR: 499,
} as const;

export class TrError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'TrError';
  }
}

export type Data = Record<string, unknown>;

export function errorPayload(kind: 'error' | 'event', err: TrError): Data {
  return { textroom: kind, error_code: err.code, error: err.message };
}

/** Anything that is not a TrError is a bug: reported as 499 so one bad request never takes the plugin down. */
export function asTrError(err: unknown): TrError {
  return err instanceof TrError ? err : new TrError(TrErrorCode.UNKNOWN_ERROR, 'Unknown error');
}

export function noSuchRoom(id: string | number): TrError {
  return new TrError(TrErrorCode.NO_SUCH_ROOM, `No such room (${id})`);
}
