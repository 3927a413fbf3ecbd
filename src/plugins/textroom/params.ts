/**
 * Strict request-field validation with Janus's texts: "Missing mandatory element (x)" (413) and
 * "Invalid element type (x should be ...)" (414). Only JSON-typed values pass (`true`, not "yes").
 */
import { TrError, TrErrorCode, type Data } from './errors.js';

export function missing(name: string): TrError {
  return new TrError(TrErrorCode.MISSING_ELEMENT, `Missing mandatory element (${name})`);
}

export function invalidType(name: string, what: string): TrError {
  return new TrError(TrErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be ${what})`);
}

export class Params {
  constructor(readonly body: Data) {}

  /** JSON null counts as absent, as a jansson lookup of null does in Janus. */
  has(name: string): boolean {
    return this.body[name] !== undefined && this.body[name] !== null;
  }

  string(name: string): string | undefined {
    if (!this.has(name)) return undefined;
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
    if (!this.has(name)) return undefined;
    const v = this.body[name];
    if (typeof v !== 'boolean') throw invalidType(name, 'a boolean');
    return v;
  }

  /** Janus's "positive" integers include 0: only negatives (and non-integers) are refused. */
  posInt(name: string): number | undefined {
    if (!this.has(name)) return undefined;
    const v = this.body[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalidType(name, 'a positive integer');
    return v;
  }

  array(name: string): unknown[] | undefined {
    if (!this.has(name)) return undefined;
    const v = this.body[name];
    if (!Array.isArray(v)) throw invalidType(name, 'an array');
    return v;
  }
}

/** An array that must hold only strings (`allowed`, `tos`); `error` is the request-specific text Janus uses. */
export function stringArray(items: unknown[], error: string): string[] {
  for (const item of items) if (typeof item !== 'string') throw new TrError(TrErrorCode.INVALID_ELEMENT, error);
  return items as string[];
}
