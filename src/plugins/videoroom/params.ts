/**
 * Strict request-body validation with the plugin's own codes and Janus's texts
 * ("Missing mandatory element (x)" 429, "Invalid element type (x should be a ...)" 430).
 * Only JSON-typed values pass: a request says `true`, not `"yes"` (unlike the jcfg readers).
 */
import { VrError, VrErrorCode } from './errors.js';

export type Body = Record<string, unknown>;

function invalidType(name: string, what: string): VrError {
  return new VrError(VrErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be ${what})`);
}

export function missing(name: string): VrError {
  return new VrError(VrErrorCode.MISSING_ELEMENT, `Missing mandatory element (${name})`);
}

/** A present-but-null value counts as absent, as jansson lookups of JSON null do in Janus. */
function present(body: Body, name: string): boolean {
  return body[name] !== undefined && body[name] !== null;
}

export class Params {
  constructor(readonly body: Body) {}

  has(name: string): boolean {
    return present(this.body, name);
  }

  string(name: string): string | undefined {
    if (!present(this.body, name)) return undefined;
    const v = this.body[name];
    if (typeof v !== 'string') throw invalidType(name, 'a string');
    return v;
  }

  requireString(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw missing(name);
    return v;
  }

  bool(name: string): boolean | undefined {
    if (!present(this.body, name)) return undefined;
    const v = this.body[name];
    if (typeof v !== 'boolean') throw invalidType(name, 'a boolean');
    return v;
  }

  requireBool(name: string): boolean {
    const v = this.bool(name);
    if (v === undefined) throw missing(name);
    return v;
  }

  /** Janus's "positive" integers include 0 (only negatives are refused). */
  posInt(name: string): number | undefined {
    if (!present(this.body, name)) return undefined;
    const v = this.body[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalidType(name, 'a positive integer');
    return v;
  }

  array(name: string): unknown[] | undefined {
    if (!present(this.body, name)) return undefined;
    const v = this.body[name];
    if (!Array.isArray(v)) throw invalidType(name, 'an array');
    return v;
  }

  /** Any JSON value (metadata is opaque to the plugin). */
  any(name: string): unknown {
    return present(this.body, name) ? this.body[name] : undefined;
  }
}

/** `request` itself: Janus answers 429/430 for a missing or non-string request. */
export function requestName(body: Body): string {
  return new Params(body).requireString('request');
}
