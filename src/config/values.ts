/**
 * Lenient readers for single settings, matching how Janus reads its flattened values
 * (every scalar becomes a string, then `janus_is_true` / `atoi`). Each returns
 * `undefined` for a value it cannot read, so the schema can report it instead of
 * silently guessing; an absent value (undefined input) gives the default.
 */
import type { CfgValue } from './types.js';

const TRUE = new Set(['true', 'yes', '1']);
const FALSE = new Set(['false', 'no', '0']);

/** true / "yes" / "true" / "1" / 1 read as true; their opposites as false; anything else undefined. */
export function cfgBool(v: CfgValue | undefined, def: boolean): boolean | undefined {
  if (v === undefined) return def;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (Number(v) === 1) return true;
    if (Number(v) === 0) return false;
    return undefined;
  }
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
  }
  return undefined;
}

/** Integers and integer strings ("8088", " 42 "); floats, booleans and garbage give undefined. */
export function cfgInt(v: CfgValue | undefined, def: number): number | undefined {
  if (v === undefined) return def;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
  if (typeof v === 'string' && /^\s*[-+]?[0-9]+\s*$/.test(v)) {
    const n = Number(v.trim());
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

/** A scalar as the string Janus would see; arrays and groups give undefined. */
export function cfgString(v: CfgValue | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** `"a, b,,c"` or `["a", "b"]` as trimmed non-empty strings; groups (or nested lists) give undefined. */
export function cfgStringList(v: CfgValue | undefined): string[] | undefined {
  if (v === undefined) return [];
  const parts: string[] = [];
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = cfgString(item);
      if (s === undefined) return undefined;
      parts.push(...s.split(','));
    }
  } else {
    const s = cfgString(v);
    if (s === undefined) return undefined;
    parts.push(...s.split(','));
  }
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}
