/**
 * AudioBridge error codes (janus_audiobridge.c) and Janus-style request validation:
 * missing required element gives 483 "Missing mandatory element (x)", wrong JSON type gives
 * 484 "Invalid element type (x should be ...)". Errors travel as
 * `{"audiobridge":"event","error_code":n,"error":"..."}`.
 */
import { safeEqual } from '../../core/secrets.js';

export const AbErrorCode = {
  UNKNOWN_ERROR: 499,
  NO_MESSAGE: 480,
  INVALID_JSON: 481,
  INVALID_REQUEST: 482,
  MISSING_ELEMENT: 483,
  INVALID_ELEMENT: 484,
  NO_SUCH_ROOM: 485,
  ROOM_EXISTS: 486,
  NOT_JOINED: 487,
  LIBOPUS_ERROR: 488,
  UNAUTHORIZED: 489,
  ID_EXISTS: 490,
  ALREADY_JOINED: 491,
  NO_SUCH_USER: 492,
  INVALID_SDP: 493,
  NO_SUCH_GROUP: 494,
} as const;

export class AbError extends Error {
  override readonly name = 'AbError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function errorData(e: AbError): Record<string, unknown> {
  return { audiobridge: 'event', error_code: e.code, error: e.message };
}

export type ParamType = 'string' | 'integer' | 'positive' | 'boolean' | 'array' | 'object';
export interface ParamSpec {
  name: string;
  type: ParamType;
  required?: boolean;
}

const WHAT: Record<ParamType, string> = {
  string: 'a string',
  integer: 'an integer',
  positive: 'a positive integer',
  boolean: 'a boolean',
  array: 'an array',
  object: 'an object',
};

function typeOk(v: unknown, t: ParamType): boolean {
  switch (t) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'positive':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0;
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

/** JANUS_VALIDATE_JSON_OBJECT: first failing parameter wins, in table order. */
export function validate(body: Record<string, unknown>, specs: readonly ParamSpec[]): void {
  for (const s of specs) {
    const v = body[s.name];
    if (v === undefined || v === null) {
      if (s.required) throw new AbError(AbErrorCode.MISSING_ELEMENT, `Missing mandatory element (${s.name})`);
      continue;
    }
    if (!typeOk(v, s.type)) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid element type (${s.name} should be ${WHAT[s.type]})`);
  }
}

export { safeEqual };

/** JANUS_CHECK_SECRET: when `expected` is set the member is required, must be a string and must match. */
export function checkSecret(expected: string | null | undefined, body: Record<string, unknown>, member: string): void {
  if (expected === null || expected === undefined) return;
  validate(body, [{ name: member, type: 'string', required: true }]);
  if (!safeEqual(body[member] as string, expected)) throw new AbError(AbErrorCode.UNAUTHORIZED, `Unauthorized (wrong ${member})`);
}
