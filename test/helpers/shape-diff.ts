/**
 * Differential comparison of Janus API transcripts: ids are masked into placeholders,
 * then values are compared exactly except where a rule says to compare only the type,
 * only the key set, or to ignore a path. Produces readable diff lines.
 */

export type Mode = 'exact' | 'type' | 'keys' | 'ignore';

export interface Rule {
  /** Step name (exact) or pattern; '*' = every step. */
  step: string | RegExp;
  /** Dotted path from the step's root value ('' = root), or explicit segments (for keys containing dots);
   *  '*' = any one segment, '**' = any rest (incl. none). */
  path: string | string[];
  mode: Mode;
  /** Why (every rule must say why it exists). */
  why: string;
}

/** Maps random server-assigned values (session/handle ids...) to stable placeholders. */
export class Masker {
  private readonly map = new Map<string, string>();
  private readonly counters = new Map<string, number>();

  register(kind: string, value: unknown): string | undefined {
    if (typeof value !== 'number' && typeof value !== 'string') return undefined;
    const key = String(value);
    if (key.length < 3) return undefined; // too short to substitute safely inside strings
    const existing = this.map.get(key);
    if (existing) return existing;
    const n = (this.counters.get(kind) ?? 0) + 1;
    this.counters.set(kind, n);
    const ph = `<${kind}${n}>`;
    this.map.set(key, ph);
    return ph;
  }

  mask(v: unknown): unknown {
    if (typeof v === 'number') return this.map.get(String(v)) ?? v;
    if (typeof v === 'string') {
      const whole = this.map.get(v);
      if (whole) return `${whole}(string)`;
      let s = v;
      for (const [k, ph] of this.map) if (s.includes(k)) s = s.split(k).join(ph);
      return s;
    }
    if (Array.isArray(v)) return v.map((x) => this.mask(x));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.mask(x);
      return out;
    }
    return v;
  }
}

export interface Step {
  name: string;
  value: unknown;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function matchPath(pattern: string[], path: string[]): boolean {
  if (pattern.length === 0) return path.length === 0;
  const [head, ...rest] = pattern;
  if (head === '**') {
    for (let i = 0; i <= path.length; i++) if (matchPath(rest, path.slice(i))) return true;
    return false;
  }
  if (path.length === 0) return false;
  if (head !== '*' && head !== path[0]) return false;
  return matchPath(rest, path.slice(1));
}

function stepMatches(rule: Rule, step: string): boolean {
  if (rule.step === '*') return true;
  if (typeof rule.step === 'string') return rule.step === step;
  return rule.step.test(step);
}

function modeFor(rules: Rule[], step: string, path: string[], inherited: Mode = 'exact'): Mode {
  let mode: Mode = inherited;
  // The last matching rule wins (so specific rules can follow general ones).
  for (const r of rules) {
    if (!stepMatches(r, step)) continue;
    const pat = Array.isArray(r.path) ? r.path : r.path === '' ? [] : r.path.split('.');
    if (matchPath(pat, path)) mode = r.mode;
  }
  return mode;
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? 'undefined' : s.length > 300 ? `${s.slice(0, 300)}…` : s;
};

/** Compare two values under rules; returns diff lines (empty = same). */
export function diffValues(step: string, ref: unknown, got: unknown, rules: Rule[], path: string[] = [], out: string[] = [], inherited: Mode = 'exact'): string[] {
  const mode = modeFor(rules, step, path, inherited);
  const where = `[${step}] $${path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('')}`;
  if (mode === 'ignore') return out;
  const tr = typeOf(ref);
  const tg = typeOf(got);
  if (tr !== tg) {
    out.push(`${where}: type ${tr} in janus ${show(ref)}, ${tg} in portunus ${show(got)}`);
    return out;
  }
  if (tr === 'object') {
    const a = ref as Record<string, unknown>;
    const b = got as Record<string, unknown>;
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) {
      const sub = [...path, k];
      const inh: Mode = mode === 'keys' || mode === 'type' ? mode : 'exact';
      if (modeFor(rules, step, sub, inh) === 'ignore') continue;
      if (!(k in b)) out.push(`${where}.${k}: missing in portunus (janus has ${show(a[k])})`);
      else if (!(k in a)) out.push(`${where}.${k}: unexpected in portunus (${show(b[k])}; janus has no such key)`);
      else diffValues(step, a[k], b[k], rules, sub, out, inh);
    }
    return out;
  }
  if (mode === 'keys' || mode === 'type') return out; // same type is all we ask
  if (tr === 'array') {
    const a = ref as unknown[];
    const b = got as unknown[];
    if (a.length !== b.length) out.push(`${where}: array length ${a.length} in janus, ${b.length} in portunus (janus ${show(a)}, portunus ${show(b)})`);
    for (let i = 0; i < Math.min(a.length, b.length); i++) diffValues(step, a[i], b[i], rules, [...path, String(i)], out);
    return out;
  }
  if (ref !== got) out.push(`${where}: janus ${show(ref)}, portunus ${show(got)}`);
  return out;
}

export function diffTranscripts(ref: Step[], got: Step[], rules: Rule[]): string[] {
  const out: string[] = [];
  const gotByName = new Map(got.map((s) => [s.name, s]));
  const refNames = new Set(ref.map((s) => s.name));
  for (const s of ref) {
    const g = gotByName.get(s.name);
    if (!g) {
      out.push(`[${s.name}] step missing from portunus transcript (scenario aborted earlier?)`);
      continue;
    }
    diffValues(s.name, s.value, g.value, rules, [], out);
  }
  for (const s of got) if (!refNames.has(s.name)) out.push(`[${s.name}] step only in portunus transcript`);
  return out;
}
