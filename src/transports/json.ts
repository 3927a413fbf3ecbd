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

/**
 * Parses a request. Returns the parsed value, or the Janus error reply to send instead.
 * Like Janus (jansson without JSON_DECODE_ANY), a top-level scalar is a parse error (454);
 * arrays parse, and each transport decides what a non-object means (HTTP answers 455,
 * WebSocket hands it to the core, which finds no `transaction`: 456).
 */
export function parseRequest(text: string): { ok: true; value: unknown } | { ok: false; error: JanusMessage } {
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
  if (value === null || typeof value !== 'object') {
    const near = text.trim().slice(0, 32);
    return { ok: false, error: errorMessage(0, null, ErrorCode.INVALID_JSON, `JSON error: on line 1: '[' or '{' expected near '${near}'`) };
  }
  return { ok: true, value };
}

/** HTTP's stricter rule: the body must be a JSON object (455 otherwise). */
export function requireObject(value: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; error: JanusMessage } {
  if (!isObject(value)) return { ok: false, error: errorMessage(0, null, ErrorCode.INVALID_JSON_OBJECT, 'JSON error: not an object') };
  return { ok: true, value };
}
