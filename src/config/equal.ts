/** Structural equality of config values, ignoring where they were read (group entry lines). */
import type { CfgGroupValue, CfgValue } from './types.js';

export function cfgEqual(a: CfgValue, b: CfgValue): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => cfgEqual(v, b[i]!));
  }
  if (typeof a === 'object' || typeof b === 'object') {
    if (typeof a !== 'object' || typeof b !== 'object') return false;
    const ga = a as CfgGroupValue;
    const gb = b as CfgGroupValue;
    return (
      ga.entries.length === gb.entries.length &&
      ga.entries.every((e, i) => e.name === gb.entries[i]!.name && cfgEqual(e.value, gb.entries[i]!.value))
    );
  }
  // 5 and 5n are the same setting; libconfig only distinguishes them by width.
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    const intA = typeof a === 'bigint' || Number.isInteger(a);
    const intB = typeof b === 'bigint' || Number.isInteger(b);
    return intA && intB ? BigInt(a) === BigInt(b) : Number(a) === Number(b);
  }
  return a === b;
}

export function settingsEqual(
  a: Array<{ name: string; value: CfgValue }>,
  b: Array<{ name: string; value: CfgValue }>,
): boolean {
  return a.length === b.length && a.every((s, i) => s.name === b[i]!.name && cfgEqual(s.value, b[i]!.value));
}
