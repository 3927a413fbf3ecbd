/**
 * One way to read a mountpoint's settings from two places: a request body (JSON types only, errors
 * are 453/454 with Janus's texts) and a jcfg category (Janus's lenient reading: "5002" is a port,
 * "yes" is true; a bad value is an error naming the key). create and the config share every rule
 * after this point, so the two cannot disagree about a key.
 */
import type { CfgValue } from '../../config/types.js';
import { cfgBool, cfgInt, cfgString } from '../../config/values.js';
import { invalidType, missing } from './errors.js';

export interface Fields {
  has(name: string): boolean;
  string(name: string): string | undefined;
  bool(name: string): boolean | undefined;
  /** Non-negative integer (Janus's "positive" includes 0). */
  uint(name: string): number | undefined;
  /** The `media` list: one Fields per entry. */
  list(name: string): Fields[] | undefined;
  /** The raw value, for IDs whose type depends on string_ids. */
  raw(name: string): unknown;
}

export function requireString(f: Fields, name: string): string {
  const v = f.string(name);
  if (v === undefined) throw missing(name);
  return v;
}

export function requireUint(f: Fields, name: string): number {
  const v = f.uint(name);
  if (v === undefined) throw missing(name);
  return v;
}

/** A present-but-null value counts as absent, as jansson lookups of JSON null do in Janus. */
const present = (v: unknown): boolean => v !== undefined && v !== null;

export class JsonFields implements Fields {
  constructor(readonly body: Record<string, unknown>) {}
  has(name: string): boolean {
    return present(this.body[name]);
  }
  raw(name: string): unknown {
    return present(this.body[name]) ? this.body[name] : undefined;
  }
  string(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw invalidType(name, 'a string');
    return v;
  }
  bool(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw invalidType(name, 'a boolean');
    return v;
  }
  uint(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalidType(name, 'a positive integer');
    return v;
  }
  list(name: string): Fields[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw invalidType(name, 'an array');
    return v.map((item, i) => {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) throw invalidType(`${name}[${i}]`, 'an object');
      return new JsonFields(item as Record<string, unknown>);
    });
  }
}

/** A jcfg category (or a group inside `media = (...)`): values as Janus reads them. */
export class CfgFields implements Fields {
  constructor(private readonly items: Record<string, CfgValue>) {}
  static ofGroup(v: CfgValue): CfgFields | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || (v as { kind?: string }).kind !== 'group') return undefined;
    const items: Record<string, CfgValue> = {};
    for (const e of (v as { entries: Array<{ name: string; value: CfgValue }> }).entries) items[e.name] = e.value;
    return new CfgFields(items);
  }
  has(name: string): boolean {
    return this.items[name] !== undefined;
  }
  raw(name: string): unknown {
    return this.items[name];
  }
  string(name: string): string | undefined {
    const v = this.items[name];
    if (v === undefined) return undefined;
    const s = cfgString(v);
    if (s === undefined) throw invalidType(name, 'a string');
    return s;
  }
  bool(name: string): boolean | undefined {
    const v = this.items[name];
    if (v === undefined) return undefined;
    const b = cfgBool(v, false);
    if (b === undefined) throw invalidType(name, 'a boolean');
    return b;
  }
  uint(name: string): number | undefined {
    const v = this.items[name];
    if (v === undefined) return undefined;
    const n = cfgInt(v, 0);
    if (n === undefined || n < 0) throw invalidType(name, 'a positive integer');
    return n;
  }
  list(name: string): Fields[] | undefined {
    const v = this.items[name];
    if (v === undefined) return undefined;
    const arr = Array.isArray(v) ? v : (v as { kind?: string }).kind === 'group' ? [v] : undefined;
    if (arr === undefined) throw invalidType(name, 'a list');
    return arr.map((item, i) => {
      const f = CfgFields.ofGroup(item);
      if (f === undefined) throw invalidType(`${name}[${i}]`, 'a group');
      return f;
    });
  }
}
