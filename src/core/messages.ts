/**
 * Janus API message shapes and the validation helpers shared by the core and the Admin API.
 * Validation reasons mirror Janus's JANUS_VALIDATE_JSON_OBJECT texts, which clients sometimes display.
 */
import { ErrorCode, JanusError } from './errors.js';

/** Any JSON object travelling over the Janus API. */
export type JanusMessage = Record<string, unknown>;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `janus_create_message`: session_id only when > 0, transaction only when the reply answers a request. */
export function message(janus: string, sessionId: number, transaction: string | null | undefined, extra?: JanusMessage): JanusMessage {
  const m: JanusMessage = { janus };
  if (sessionId > 0) m.session_id = sessionId;
  if (typeof transaction === 'string') m.transaction = transaction;
  return extra ? Object.assign(m, extra) : m;
}

export function errorMessage(sessionId: number, transaction: string | null | undefined, code: number, reason: string): JanusMessage {
  return message('error', sessionId, transaction, { error: { code, reason } });
}

export type FieldType = 'string' | 'object' | 'array' | 'boolean' | 'integer' | 'positive' | 'number';

const typeNames: Record<FieldType, string> = {
  string: 'a string',
  object: 'an object',
  array: 'an array',
  boolean: 'a boolean',
  integer: 'an integer',
  positive: 'a positive integer',
  number: 'a number',
};

function hasType(v: unknown, t: FieldType): boolean {
  switch (t) {
    case 'string':
      return typeof v === 'string';
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'integer':
      return Number.isSafeInteger(v);
    case 'positive':
      return Number.isSafeInteger(v) && (v as number) >= 0;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
  }
}

/**
 * Checks one field: absent and required gives 456, present with the wrong type gives 467.
 * Returns the value (undefined when optional and absent).
 */
export function field<T = unknown>(obj: Record<string, unknown>, name: string, type: FieldType, required: boolean): T | undefined {
  const v = obj[name];
  if (v === undefined) {
    if (required) throw new JanusError(ErrorCode.MISSING_MANDATORY_ELEMENT, `Missing mandatory element (${name})`);
    return undefined;
  }
  if (!hasType(v, type)) throw new JanusError(ErrorCode.INVALID_ELEMENT_TYPE, `Invalid element type (${name} should be ${typeNames[type]})`);
  return v as T;
}

/** Reads an id the way Janus's json_integer_value does: anything but a positive integer counts as 0 ("absent"). */
export function idValue(v: unknown): number {
  return Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : 0;
}

/**
 * The envelope every Janus and Admin request shares: an object with string `janus` and
 * `transaction`. Returns them, or the error reply to send. Like Janus, a JSON array is
 * looked into like an object and so lacks `transaction` (456).
 */
export function readEnvelope(
  request: unknown,
): { ok: true; request: Record<string, unknown>; janus: string; transaction: string } | { ok: false; error: JanusMessage } {
  if (Array.isArray(request)) return { ok: false, error: errorMessage(0, null, ErrorCode.MISSING_MANDATORY_ELEMENT, 'Missing mandatory element (transaction)') };
  if (!isObject(request)) return { ok: false, error: errorMessage(0, null, ErrorCode.INVALID_JSON_OBJECT, 'JSON error: not an object') };
  try {
    const transaction = field<string>(request, 'transaction', 'string', true)!;
    const janus = field<string>(request, 'janus', 'string', true)!;
    return { ok: true, request, janus, transaction };
  } catch (err) {
    const e = err as JanusError;
    return { ok: false, error: errorMessage(0, null, e.code, e.message) };
  }
}
