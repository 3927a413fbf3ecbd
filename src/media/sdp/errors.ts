/**
 * Every problem with an SDP is one of these. The core maps any `SdpError` to Janus error
 * 465 (JANUS_ERROR_JSEP_INVALID_SDP, "Invalid SDP"); `janusCode` carries that number.
 */
export class SdpError extends Error {
  override readonly name: string = 'SdpError';
  readonly janusCode = 465;
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The text is not a well-formed session description. `line` is 1-based (0 when not tied to a line). */
export class SdpParseError extends SdpError {
  override readonly name = 'SdpParseError';
  constructor(
    readonly line: number,
    readonly text: string,
    reason: string,
  ) {
    super(reason);
    this.message = line > 0 ? `SDP line ${line}: ${reason}: ${JSON.stringify(text.slice(0, 120))}` : `SDP: ${reason}`;
  }
}

/** The SDP parsed but is unusable for WebRTC (no fingerprint, no ICE credentials, bad setup role, ...). */
export class SdpValidationError extends SdpError {
  override readonly name = 'SdpValidationError';
  constructor(
    reason: string,
    /** The m-line index the problem is in, when there is one. */
    readonly mindex?: number,
    readonly mid?: string,
  ) {
    super(reason);
    this.message = mindex !== undefined ? `SDP m-line ${mindex}${mid !== undefined ? ` (mid ${mid})` : ''}: ${reason}` : `SDP: ${reason}`;
  }
}

/** Negotiation failed (e.g. building an answer for a section that is not in the offer). */
export class SdpNegotiationError extends SdpError {
  override readonly name = 'SdpNegotiationError';
}
