/**
 * Applies one parsed jcfg file to its typed config object, section by section, using a
 * key table (schema-keys.ts). Misplaced keys whose home is unambiguous are honoured where
 * Janus expects them, with a warning; everything else unknown is only warned about.
 */
import { ConfigError } from './errors.js';
import { nodeValue, type LcDocument, type LcSetting } from './libconfig.js';
import type { FileSpec, KeyCtx, Reader } from './schema-keys.js';
import type { CfgValue, ConfigWarning } from './types.js';

export interface OtherFile {
  /** File name as the operator knows it, e.g. "janus.transport.http.jcfg". */
  name: string;
  spec: FileSpec;
}

interface Assignment {
  section: string;
  key: string;
  value: CfgValue;
  line: number;
  /** Where the operator wrote it (`admin.admin_secret`), for messages. */
  writtenAs: string;
  relocated: boolean;
}

/**
 * Mutates `target` (prefilled with defaults); pushes warnings; throws ConfigError on unusable values.
 * Returns where each key that took effect was written ("section.key" -> line).
 */
export function applyDocument(
  doc: LcDocument,
  spec: FileSpec,
  target: object,
  warnings: ConfigWarning[],
  others: OtherFile[] = [],
): Record<string, number> {
  const file = doc.file;
  const homes = sectionsByKey(spec);
  const warn = (line: number | undefined, key: string, message: string): void => {
    warnings.push({ file, ...(line !== undefined ? { line } : {}), key, message });
  };
  const assignments: Assignment[] = [];

  const place = (section: string | null, s: LcSetting): void => {
    const writtenAs = section === null ? s.name : `${section}.${s.name}`;
    const value = nodeValue(s.value);
    if (section !== null && spec[section] && Object.hasOwn(spec[section]!, s.name)) {
      assignments.push({ section, key: s.name, value, line: s.line, writtenAs, relocated: false });
      return;
    }
    const where = homes.get(s.name) ?? [];
    if (where.length === 1) {
      const home = where[0]!;
      warn(
        s.line,
        writtenAs,
        `Janus reads '${s.name}' from the '${home}' section${section === null ? ' (not at top level)' : `, not '${section}'`}; using it as ${home}.${s.name}`,
      );
      assignments.push({ section: home, key: s.name, value, line: s.line, writtenAs, relocated: true });
      return;
    }
    if (where.length > 1) {
      warn(s.line, writtenAs, `'${s.name}' is not read from '${section ?? 'top level'}'; Janus expects it in one of: ${where.join(', ')} (ignored)`);
      return;
    }
    const elsewhere = others.flatMap((o) => Object.keys(o.spec).filter((sec) => Object.hasOwn(o.spec[sec]!, s.name)).map((sec) => `${o.name} [${sec}]`));
    if (elsewhere.length > 0) {
      warn(s.line, writtenAs, `'${s.name}' does not belong in this file; Janus reads it from ${elsewhere.join(' or ')} (ignored)`);
      return;
    }
    warn(s.line, writtenAs, `unknown setting '${writtenAs}' (ignored)`);
  };

  for (const s of doc.settings) {
    if (s.value.kind !== 'group') {
      place(null, s);
      continue;
    }
    if (!spec[s.name] && s.value.settings.length === 0) {
      warn(s.line, s.name, `unknown section '${s.name}' (ignored); sections here are: ${Object.keys(spec).join(', ')}`);
    }
    for (const inner of s.value.settings) place(s.name, inner);
  }

  const set = new Map<string, Assignment>();
  // Keys written in their proper section win over relocated ones, whatever the file order.
  for (const a of [...assignments.filter((x) => !x.relocated), ...assignments.filter((x) => x.relocated)]) {
    const id = `${a.section}.${a.key}`;
    const prior = set.get(id);
    if (prior) {
      warn(a.line, a.writtenAs, `'${id}' is already set at line ${prior.line}; this value is ignored`);
      continue;
    }
    set.set(id, a);
    const reader = spec[a.section]![a.key];
    if (reader) assign(target, a, reader, file, warn);
  }
  const lines: Record<string, number> = {};
  for (const [id, a] of set) lines[id] = a.line;
  return lines;
}

function assign(
  target: object,
  a: Assignment,
  reader: Reader,
  file: string,
  warn: (line: number | undefined, key: string, message: string) => void,
): void {
  const section = (target as Record<string, Record<string, unknown>>)[a.section];
  if (!section) throw new Error(`config schema: no '${a.section}' section in the target for ${file}`);
  const ctx: KeyCtx = {
    def: section[a.key],
    fail: (reason) => {
      throw new ConfigError(file, a.line, a.writtenAs, reason);
    },
    warn: (message) => warn(a.line, a.writtenAs, message),
  };
  section[a.key] = reader(a.value, ctx);
}

function sectionsByKey(spec: FileSpec): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [section, keys] of Object.entries(spec)) {
    for (const key of Object.keys(keys)) out.set(key, [...(out.get(key) ?? []), section]);
  }
  return out;
}
