/**
 * Validation of the `jsep` a client attaches to a `message`. Reasons follow Janus's texts
 * ("JSEP error: ..."), which janus.js surfaces to applications.
 */
import { ErrorCode, JanusError } from './errors.js';
import type { Jsep } from './jsep.js';
import { isObject } from './messages.js';
import { checkSdpLimits, DEFAULT_SDP_LIMITS, SdpLimitError, type SdpLimits } from '../media/sdp/limits.js';

function jsepField(o: Record<string, unknown>, name: string): string {
  const v = o[name];
  if (v === undefined) throw new JanusError(ErrorCode.MISSING_MANDATORY_ELEMENT, `JSEP error: missing mandatory element (${name})`);
  if (typeof v !== 'string') throw new JanusError(ErrorCode.INVALID_ELEMENT_TYPE, `JSEP error: invalid element type (${name} should be a string)`);
  return v;
}

/** A minimal sanity check; the media plane parses the SDP for real. */
function checkSdp(sdp: string): void {
  if (!sdp.startsWith('v=')) throw new JanusError(ErrorCode.JSEP_INVALID_SDP, "Invalid SDP (doesn't start with v=)");
  const lines = sdp.split(/\r?\n/);
  const has = (p: string) => lines.some((l) => l.startsWith(p));
  if (!has('o=') || !has('s=') || !has('m=')) throw new JanusError(ErrorCode.JSEP_INVALID_SDP, 'Missing mandatory lines (o=, s= or m=)');
}

/**
 * `limits` are checked first, on the raw text: an offer over them costs one scan, never a parse, and
 * no plugin sees it (465 with the limit in the reason).
 */
export function validateJsep(raw: unknown, limits: Readonly<SdpLimits> = DEFAULT_SDP_LIMITS): Jsep {
  if (!isObject(raw)) throw new JanusError(ErrorCode.INVALID_JSON_OBJECT, 'Invalid jsep object');
  const type = jsepField(raw, 'type');
  if (type !== 'offer' && type !== 'answer') throw new JanusError(ErrorCode.JSEP_UNKNOWN_TYPE, `JSEP error: unknown message type '${type}'`);
  const sdp = jsepField(raw, 'sdp');
  try {
    checkSdpLimits(sdp, limits, `JSEP ${type}`);
  } catch (err) {
    if (err instanceof SdpLimitError) throw new JanusError(ErrorCode.JSEP_INVALID_SDP, `Invalid SDP (${err.message})`);
    throw err;
  }
  checkSdp(sdp);
  const jsep: Jsep = { type, sdp };
  // Optional flags: wrong types are ignored rather than failing the negotiation, like Janus does.
  if (typeof raw.trickle === 'boolean') jsep.trickle = raw.trickle;
  if (raw.rid_order === 'hml' || raw.rid_order === 'lmh') jsep.rid_order = raw.rid_order;
  if (typeof raw.force_relay === 'boolean') jsep.force_relay = raw.force_relay;
  if (typeof raw.e2ee === 'boolean') jsep.e2ee = raw.e2ee;
  if (Array.isArray(raw.svc)) jsep.svc = raw.svc;
  return jsep;
}
