/**
 * VideoRoom plugin-level errors. These travel inside `plugindata.data` as
 * `{videoroom:"event", error_code, error}`, never as core (`janus:"error"`) errors.
 */
export const VrErrorCode = {
  UNKNOWN_ERROR: 499,
  NO_MESSAGE: 421,
  INVALID_JSON: 422,
  INVALID_REQUEST: 423,
  JOIN_FIRST: 424,
  ALREADY_JOINED: 425,
  NO_SUCH_ROOM: 426,
  ROOM_EXISTS: 427,
  NO_SUCH_FEED: 428,
  MISSING_ELEMENT: 429,
  INVALID_ELEMENT: 430,
  INVALID_SDP_TYPE: 431,
  PUBLISHERS_FULL: 432,
  UNAUTHORIZED: 433,
  ALREADY_PUBLISHED: 434,
  NOT_PUBLISHED: 435,
  ID_EXISTS: 436,
  INVALID_SDP: 437,
  INVALID_FEED: 438,
} as const;

export class VrError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'VrError';
  }
}

export function errorData(err: VrError): Record<string, unknown> {
  return { videoroom: 'event', error_code: err.code, error: err.message };
}

/**
 * Features not implemented yet (RTP forwarders, remote publishers) answer this,
 * so a client sees an explicit refusal instead of a request that silently does nothing.
 */
export function notSupported(what: string): VrError {
  return new VrError(VrErrorCode.UNKNOWN_ERROR, `${what} not supported yet`);
}

export function noSuchRoom(id: string | number): VrError {
  return new VrError(VrErrorCode.NO_SUCH_ROOM, `No such room (${id})`);
}
