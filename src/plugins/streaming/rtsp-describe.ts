/**
 * What an rtsp mountpoint takes from the RTSP server's answers, as pure functions (rtsp-source.ts runs
 * the requests): per stream the payload type, codec, fmtp and control URL from the DESCRIBE body, and
 * the session id and timeout from a SETUP's `Session` header. The server is not trusted: a payload type
 * outside 0-127 or a timeout past what a timer can hold is refused or clamped here, not discovered
 * later in the packet path or in a keepalive timer that overflowed to 1 ms.
 */
import { CODECS, codecNameOf, type CodecName } from '../../media/sdp/negotiate.js';
import type { MediaKind, MediaSection, SessionDescription } from '../../media/sdp/types.js';

/** A DESCRIBE that does not describe what the mountpoint needs. */
export class RtspDescribeError extends Error {
  override readonly name = 'RtspDescribeError';
}

export interface DescribedStream {
  /** The server's payload type (first format of its m-line), 0-127. */
  pt: number;
  /** Undefined when the rtpmap is missing or names a codec Portunus does not relay. */
  codec: CodecName | undefined;
  /** `a=fmtp` of that payload type as the mountpoint's fmtp string; null when none. */
  fmtp: string | null;
  /** The `a=control` of the m-line; undefined when none. */
  control: string | undefined;
}

/** The first m-line of `kind` in a DESCRIBE body. */
export function describedStream(sdp: SessionDescription, kind: MediaKind): DescribedStream {
  const m: MediaSection | undefined = sdp.media.find((x) => x.kind === kind);
  if (m === undefined) throw new RtspDescribeError(`the RTSP server offers no ${kind}`);
  const first = m.formats[0] ?? '';
  if (!/^\d{1,3}$/.test(first) || Number(first) > 127) throw new RtspDescribeError(`the RTSP server's ${kind} has no valid payload type ("${first.slice(0, 16)}")`);
  const pt = Number(first);
  const map = m.rtpmaps.find((r) => r.pt === pt);
  const name = map !== undefined ? codecNameOf(map) : undefined;
  const codec = name !== undefined && CODECS[name].kind === kind ? name : undefined;
  const f = m.fmtps.find((x) => x.pt === pt);
  const fmtp = f !== undefined && Object.keys(f.params).length > 0 ? Object.entries(f.params).map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(';') : null;
  return { pt, codec, fmtp, control: m.attributes.find((a) => a.name === 'control')?.value };
}

/**
 * A control URL relative to the DESCRIBE's base (Content-Base, Content-Location or the request URL).
 * It becomes a request line: spaces and control characters from the server are left out (a bare LF in
 * a header value would otherwise end our request line early).
 */
export function resolveControl(base: string, ctl: string | undefined): string {
  const clean = (u: string): string => u.replace(/[\x00-\x20\x7f]/g, '');
  if (ctl === undefined || ctl === '*') return clean(base);
  if (/^rtsp:\/\//i.test(ctl)) return clean(ctl);
  return clean(base.endsWith('/') ? `${base}${ctl}` : `${base}/${ctl}`);
}

/** RFC 2326's default session timeout, seconds. */
export const DEFAULT_SESSION_TIMEOUT_S = 60;
/**
 * The longest timeout taken from a server (a day): keepalives go at half of it, and a Node timer past
 * 2^31 - 1 ms fires after 1 ms instead.
 */
export const MAX_SESSION_TIMEOUT_S = 86_400;

/**
 * `Session: <id>[;timeout=<s>]` → the id and the timeout (clamped to 1 s - a day), or null when absent.
 * The id goes back in every request's `Session` header: anything but visible ASCII (a bare LF would
 * start a header line of the server's choosing) is left out.
 */
export function parseSessionHeader(value: string): { id: string; timeoutS: number | null } {
  const [raw, ...params] = value.split(';');
  const id = raw!.replace(/[^\x21-\x7e]/g, '');
  let timeoutS: number | null = null;
  for (const p of params) {
    const t = /timeout\s*=\s*(\d+)/i.exec(p);
    if (t !== null) {
      timeoutS = Math.min(MAX_SESSION_TIMEOUT_S, Math.max(1, Number(t[1])));
      break;
    }
  }
  return { id, timeoutS };
}
