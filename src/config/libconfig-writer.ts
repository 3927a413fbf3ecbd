/**
 * Serializes plain values back to libconfig text in the style of Janus's sample files:
 * `name = value` inside groups written as `name: { ... }`. Whatever it writes, the parser
 * reads back to equal values (bigints keep their `L` suffix, integral floats excepted).
 */
import type { CfgGroupValue, CfgValue } from './types.js';

export interface WriteOptions {
  /** One level of indentation; Janus's samples use a tab. */
  indent?: string;
}

const NAME_RE = /^[A-Za-z*][-A-Za-z0-9_*]*$/;

export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}

/** A whole document: top-level settings, groups separated by a blank line. */
export function writeLibconfig(
  settings: Array<{ name: string; value: CfgValue }> | Record<string, CfgValue>,
  opts: WriteOptions = {},
): string {
  const list = Array.isArray(settings) ? settings : Object.entries(settings).map(([name, value]) => ({ name, value }));
  const indent = opts.indent ?? '\t';
  const parts = list.map((s) => formatSetting(s.name, s.value, indent, 0));
  let out = '';
  parts.forEach((p, i) => {
    if (i > 0) out += isGroup(list[i]!.value) || isGroup(list[i - 1]!.value) ? '\n\n' : '\n';
    out += p;
  });
  return out === '' ? '' : out + '\n';
}

/** One `name = value` (or `name: { ... }`) at the given depth, without a trailing newline. */
export function formatSetting(name: string, value: CfgValue, indent: string, depth: number): string {
  if (!isValidName(name)) {
    throw new Error(`cannot write setting '${name}': libconfig names must match [A-Za-z*][-A-Za-z0-9_*]*`);
  }
  const pad = indent.repeat(depth);
  if (isGroup(value)) return `${pad}${name}: ${formatGroup(value, indent, depth)}`;
  return `${pad}${name} = ${formatValue(value, indent, depth)}`;
}

function formatGroup(g: CfgGroupValue, indent: string, depth: number): string {
  if (g.entries.length === 0) return '{\n' + indent.repeat(depth) + '}';
  const seen = new Set<string>();
  const body = g.entries.map((e) => {
    if (seen.has(e.name)) throw new Error(`cannot write group: duplicate setting '${e.name}'`);
    seen.add(e.name);
    return formatSetting(e.name, e.value, indent, depth + 1);
  });
  return '{\n' + body.join('\n') + '\n' + indent.repeat(depth) + '}';
}

/** A value as it appears right of `=`. Arrays of one scalar kind use `[ ]`, anything else `( )`. */
export function formatValue(value: CfgValue, indent = '\t', depth = 0): string {
  if (isGroup(value)) return formatGroup(value, indent, depth);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const inner = value.map((v) => formatValue(v, indent, depth + 1));
    const open = isHomogeneousScalars(value) ? ['[', ']'] : ['(', ')'];
    if (value.some(isGroup)) {
      const pad = indent.repeat(depth + 1);
      return `${open[0]}\n${inner.map((s) => pad + s).join(',\n')}\n${indent.repeat(depth)}${open[1]}`;
    }
    return `${open[0]} ${inner.join(', ')} ${open[1]}`;
  }
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `${value}L`;
    case 'number':
      return formatNumber(value);
  }
  throw new Error(`cannot write value of type ${typeof value}`);
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`cannot write non-finite number ${n}`);
  // -0 is "integral" to JavaScript, but written as "0" it would read back as the integer 0.
  if (Object.is(n, -0)) return '-0.0';
  if (Number.isInteger(n)) {
    // Past 32 bits libconfig wants the 64-bit suffix to keep the value exact.
    if (isInt32(n)) return String(n);
    // Integral doubles past int64 can only be written as floats. String() would give plain digits
    // up to 1e21 ("9223372036854776000"), which reads back as an out-of-range integer: the file
    // would no longer load. The exponent form always reads as a float.
    return Math.abs(n) < 2 ** 63 ? `${BigInt(n)}L` : n.toExponential();
  }
  // String() of a non-integer always shows a '.' or an exponent, which libconfig reads as float.
  return String(n);
}

function isInt32(n: number): boolean {
  return n >= -0x80000000 && n <= 0x7fffffff;
}

function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case '\\':
        out += '\\\\';
        break;
      case '"':
        out += '\\"';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      case '\f':
        out += '\\f';
        break;
      default: {
        const code = ch.codePointAt(0)!;
        out += code < 0x20 || code === 0x7f ? '\\x' + code.toString(16).padStart(2, '0') : ch;
      }
    }
  }
  return out + '"';
}

function isGroup(v: CfgValue): v is CfgGroupValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as CfgGroupValue).kind === 'group';
}

function isHomogeneousScalars(values: CfgValue[]): boolean {
  let cls: string | undefined;
  for (const v of values) {
    if (typeof v === 'object') return false;
    // The class the parser will see, i.e. of the written form: integral doubles past int64 are
    // written as floats (formatNumber), so [2^63 - 1 as bigint, 1e21] must be a list, not an array;
    // so is -0.
    const c = typeof v === 'bigint' ? 'int64' : typeof v === 'number' ? (Number.isInteger(v) && !Object.is(v, -0) && Math.abs(v) < 2 ** 63 ? (isInt32(v) ? 'int' : 'int64') : 'float') : typeof v;
    if (cls !== undefined && c !== cls) return false;
    cls = c;
  }
  return true;
}
