/**
 * JSON in and out for every transport: parsing with Janus-style error texts, and the three
 * output styles of the `json` setting (compact, indented with 3 spaces, plain) as jansson writes them.
 */
import { ErrorCode } from '../core/errors.js';
import { errorMessage, isObject, type JanusMessage } from '../core/messages.js';

export type JsonStyle = 'compact' | 'indented' | 'plain';

function plain(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => plain(x === undefined ? null : x)).join(', ')}]`;
  if (isObject(v)) {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v)) if (x !== undefined) parts.push(`${JSON.stringify(k)}: ${plain(x)}`);
    return `{${parts.join(', ')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function serialize(v: unknown, style: JsonStyle): string {
  if (style === 'indented') return JSON.stringify(v, null, 3);
  if (style === 'plain') return plain(v);
  return JSON.stringify(v);
}

/** Parses a request. Returns the object, or the Janus error reply to send instead (454 / 455). */
export function parseRequest(text: string): { ok: true; value: Record<string, unknown> } | { ok: false; error: JanusMessage } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(msg);
    const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : 1;
    const reason = msg.replace(/ in JSON at position \d+.*$/, '');
    return { ok: false, error: errorMessage(0, null, ErrorCode.INVALID_JSON, `JSON error: on line ${line}: ${reason}`) };
  }
  if (!isObject(value)) return { ok: false, error: errorMessage(0, null, ErrorCode.INVALID_JSON_OBJECT, 'JSON error: not an object') };
  return { ok: true, value };
}
