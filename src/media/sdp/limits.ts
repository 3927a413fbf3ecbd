/**
 * Size limits on session descriptions, checked on the raw text before anything parses it: a
 * 10,000-m-line offer is refused after one scan of the string instead of being parsed, validated,
 * negotiated and answered (an answer that size costs megabytes and seconds). Janus has no such
 * limits; browsers need about two m-lines per remote participant, so the default leaves room for
 * a VideoRoom subscription to 100+ feeds with audio and video.
 */
import { SdpError } from './errors.js';

export interface SdpLimits {
  /** Most m-lines one description may carry (`media.max_mlines`). */
  maxMlines: number;
  /** Longest description in characters (`media.max_sdp_size`). */
  maxSize: number;
}

export const DEFAULT_SDP_LIMITS: Readonly<SdpLimits> = { maxMlines: 256, maxSize: 1024 * 1024 };

/** A description over one of the limits; the core answers 465 with the message. */
export class SdpLimitError extends SdpError {
  override readonly name = 'SdpLimitError';
}

/**
 * Number of m-lines in `sdp`, counting at most `stopAfter + 1` (enough to tell "over the limit").
 * indexOf per line start, no split: the cost is one pass over the text with no allocation.
 */
export function countMlines(sdp: string, stopAfter = Number.MAX_SAFE_INTEGER): number {
  let n = sdp.startsWith('m=') ? 1 : 0;
  let at = 0;
  while (n <= stopAfter) {
    const i = sdp.indexOf('\nm=', at);
    if (i < 0) break;
    n++;
    at = i + 3;
  }
  return n;
}

/** Throws SdpLimitError when `sdp` is over a limit; `what` names it in the message ("offer", "our answer"). */
export function checkSdpLimits(sdp: string, limits: Readonly<SdpLimits>, what: string): void {
  if (sdp.length > limits.maxSize) {
    throw new SdpLimitError(`${what} is too large (${sdp.length} characters; media.max_sdp_size is ${limits.maxSize})`);
  }
  const n = countMlines(sdp, limits.maxMlines);
  if (n > limits.maxMlines) {
    throw new SdpLimitError(`${what} has too many m-lines (more than media.max_mlines = ${limits.maxMlines})`);
  }
}
