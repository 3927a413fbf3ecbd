/**
 * JSON in and out for every transport: parsing with Janus-style error texts, and the three
 * output styles of the `json` setting (compact, indented with 3 spaces, plain) as jansson writes them.
 */
import { isUtf8 } from 'node:buffer';
import { ErrorCode } from '../core/errors.js';
import { errorMessage, isObject, type JanusMessage } from '../core/messages.js';
import { diagnoseJson } from './json-diagnosis.js';

export type JsonStyle = 'compact' | 'indented' | 'plain';

/**
 * How a transport words a parse error. Janus 1.1.2 differs per transport: HTTP answers
 * `JSON error: on line L: <text>`, WebSockets `Invalid Janus API request - <string>(L,C): <text>`.
 */
export type ErrorWording = 'http' | 'ws';

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

export type Parsed = { ok: true; value: unknown } | { ok: false; error: JanusMessage };

function parseError(wording: ErrorWording, line: number, column: number, text: string): JanusMessage {
  const reason = wording === 'ws' ? `Invalid Janus API request - <string>(${line},${column}): ${text}` : `JSON error: on line ${line}: ${text}`;
  return errorMessage(0, null, ErrorCode.INVALID_JSON, reason);
}

/** Line and column (1-based line, column = characters before `pos` on its line, as jansson counts) of a string offset. */
function lineColumn(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < pos; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: pos - start };
}

/**
 * Parses a request. Returns the parsed value, or the Janus error reply to send instead.
 * Like Janus (jansson without JSON_DECODE_ANY), a top-level scalar is a parse error (454);
 * arrays parse, and each transport decides what a non-object means (HTTP answers 455,
 * WebSocket hands it to the core, which finds no `transaction`: 456).
 */
export function parseRequest(text: string, wording: ErrorWording = 'http'): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: syntaxError(text, err, wording) };
  }
  if (value === null || typeof value !== 'object') return { ok: false, error: syntaxError(text, null, wording) };
  return { ok: true, value };
}

/** Longest text given jansson's wording; longer ones get V8's description at its position. */
const DIAGNOSE_MAX_CHARS = 64 * 1024;

/** jansson's description of the fault where we can give it, else V8's at its position. */
function syntaxError(text: string, err: unknown, wording: ErrorWording): JanusMessage {
  // The diagnosis walks the text in JS: bounded, so a flood of big bad messages costs what JSON.parse does.
  const d = text.length <= DIAGNOSE_MAX_CHARS ? diagnoseJson(text, wording === 'ws' ? 'next-document' : 'end-of-file') : null;
  if (d) return parseError(wording, d.line, d.column, d.text);
  const msg = err instanceof Error ? err.message : String(err);
  const m = /at position (\d+)/.exec(msg);
  const { line, column } = lineColumn(text, m ? Number(m[1]) : text.length);
  // V8 sometimes quotes the whole input back ("..." is not valid JSON): keep only the diagnosis.
  const reason = msg.replace(/ (in JSON )?at position \d+.*$/s, '').replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, '');
  return parseError(wording, line, column, reason);
}

/**
 * Parses a request received as bytes: invalid UTF-8 is a 454 with jansson's "unable to decode byte"
 * (Node would otherwise turn it into U+FFFD and parse something the client never sent).
 */
export function parseRequestBytes(buf: Buffer, wording: ErrorWording = 'http'): Parsed {
  if (!isUtf8(buf)) return { ok: false, error: invalidUtf8Error(buf, wording) };
  return parseRequest(buf.toString('utf8'), wording);
}

/** Length of the UTF-8 sequence starting at `i`, or 0 if it is not valid there (overlongs, surrogates, truncation). */
function utf8SequenceAt(buf: Buffer, i: number): number {
  const b = buf[i]!;
  if (b < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const c = buf[i + k];
    return c !== undefined && c >= lo && c <= hi;
  };
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    const lo = b === 0xe0 ? 0xa0 : 0x80;
    const hi = b === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const lo = b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** The 454 for bytes that are not UTF-8, located and worded like jansson's (only on this error path). */
function invalidUtf8Error(buf: Buffer, wording: ErrorWording): JanusMessage {
  let line = 1;
  let column = 0;
  let stringStart = -1;
  let escaped = false;
  for (let i = 0; i < buf.length; ) {
    const b = buf[i]!;
    const len = utf8SequenceAt(buf, i);
    if (len === 0) {
      const near = stringStart >= 0 ? buf.subarray(stringStart, Math.min(i, stringStart + 64)).toString('utf8') : '';
      const hex = b.toString(16).padStart(2, '0');
      return parseError(wording, line, column, `unable to decode byte 0x${hex}${stringStart >= 0 ? ` near '${near}'` : ''}`);
    }
    if (b === 0x0a) {
      line++;
      column = 0;
    } else column++;
    if (stringStart >= 0) {
      if (escaped) escaped = false;
      else if (b === 0x5c) escaped = true;
      else if (b === 0x22) stringStart = -1;
    } else if (b === 0x22) stringStart = i;
    i += len;
  }
  return parseError(wording, line, column, 'unable to decode input');
}

const TRANSACTION = /"transaction"\s*:\s*"((?:[^"\\\x00-\x1f]|\\.){1,256})"/;

/**
 * Best effort: the `transaction` of a request we cannot parse, so the client's pending request
 * still gets its error. Looks at the first and last `window` bytes only (janus.js writes the
 * transaction after the body, so an oversized request has it at the end); a nested
 * "transaction" key in a body could be picked instead, which only mislabels an error reply.
 */
export function scanTransaction(buf: Buffer, window = 4096): string | null {
  const pick = (slice: Buffer): string | null => {
    const m = TRANSACTION.exec(slice.toString('latin1'));
    if (!m) return null;
    const raw = Buffer.from(m[1]!, 'latin1');
    if (!isUtf8(raw)) return null;
    try {
      const v: unknown = JSON.parse(`"${raw.toString('utf8')}"`);
      return typeof v === 'string' ? v : null;
    } catch {
      return null;
    }
  };
  const head = pick(buf.subarray(0, window));
  if (head !== null || buf.length <= window) return head;
  return pick(buf.subarray(Math.max(window, buf.length - window)));
}

/** HTTP's stricter rule: the body must be a JSON object (455 otherwise). */
export function requireObject(value: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; error: JanusMessage } {
  if (!isObject(value)) return { ok: false, error: errorMessage(0, null, ErrorCode.INVALID_JSON_OBJECT, 'JSON error: not an object') };
  return { ok: true, value };
}
