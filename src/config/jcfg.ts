/**
 * A jcfg file as plugins see it (JcfgDocument): top-level groups are Janus "categories".
 * Saving splices only the categories that changed into the operator's original text, so
 * their comments and layout survive a `permanent: true` room edit.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { JcfgDocument } from '../core/plugin.js';
import type { CfgGroupValue, CfgValue } from './types.js';
import { documentValues, nodeValue, parseLibconfig, type LcSetting } from './libconfig.js';
import { formatSetting, isValidName, writeLibconfig } from './libconfig-writer.js';
import { cfgEqual, settingsEqual } from './equal.js';

interface Entry {
  name: string;
  value: CfgValue;
  /** The parsed setting this entry still occupies in `text`, if any. */
  orig?: LcSetting;
  changed: boolean;
}

export class Jcfg implements JcfgDocument {
  private text = '';
  private entries: Entry[] = [];
  /** Parsed settings removed since the last load/save: their text spans must go. */
  private removed: LcSetting[] = [];
  private indent = '\t';
  private saving: Promise<void> = Promise.resolve();

  private constructor(readonly file: string) {}

  /** Read `path`; a missing file gives an empty document that will be created on save. */
  static async load(path: string): Promise<Jcfg> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Jcfg(path);
      throw err;
    }
    return Jcfg.fromText(text, path);
  }

  /** Parse `text` as if read from `file` (throws ConfigSyntaxError). */
  static fromText(text: string, file: string): Jcfg {
    const doc = new Jcfg(file);
    doc.reset(text);
    return doc;
  }

  private reset(text: string): void {
    const parsed = parseLibconfig(text, this.file);
    this.text = text;
    this.entries = parsed.settings.map((s) => ({ name: s.name, value: nodeValue(s.value), orig: s, changed: false }));
    this.removed = [];
    this.indent = detectIndent(text);
  }

  categoryNames(): string[] {
    return this.entries.filter((e) => isGroup(e.value)).map((e) => e.name);
  }

  category(name: string): Record<string, CfgValue> | undefined {
    const e = this.find(name);
    if (!e || !isGroup(e.value)) return undefined;
    const out: Record<string, CfgValue> = {};
    for (const item of e.value.entries) out[item.name] = item.value;
    return out;
  }

  categoryLine(name: string): number | undefined {
    return this.find(name)?.orig?.line;
  }

  setCategory(name: string, items: Record<string, CfgValue>): void {
    for (const key of [name, ...Object.keys(items)]) {
      // Fail here, where the caller can tell the user, rather than at save time.
      if (!isValidName(key)) throw new Error(`invalid jcfg name '${key}': must match [A-Za-z*][-A-Za-z0-9_*]*`);
    }
    const value: CfgGroupValue = { kind: 'group', entries: Object.entries(items).map(([n, v]) => ({ name: n, value: v })) };
    const existing = this.find(name);
    if (!existing) {
      this.entries.push({ name, value, changed: true });
    } else if (!cfgEqual(existing.value, value)) {
      existing.value = value;
      existing.changed = true;
    }
  }

  removeCategory(name: string): boolean {
    const i = this.entries.findIndex((e) => e.name === name && isGroup(e.value));
    if (i < 0) return false;
    const [e] = this.entries.splice(i, 1);
    if (e!.orig) this.removed.push(e!.orig);
    return true;
  }

  /** The text `save()` would write. */
  serialize(): string {
    const expected = this.entries.map((e) => ({ name: e.name, value: e.value }));
    const spliced = this.splice();
    if (spliced !== undefined) {
      try {
        // Belt and braces: a splice that does not read back to the same values is discarded.
        if (settingsEqual(documentValues(parseLibconfig(spliced, this.file)), expected)) return spliced;
      } catch {
        /* fall through to a full rewrite */
      }
    }
    return writeLibconfig(expected, { indent: this.indent });
  }

  save(): Promise<void> {
    const text = this.serialize();
    const run = this.saving.then(async () => {
      await atomicWrite(this.file, text);
      this.reset(text);
    });
    // A failed save must not wedge later ones; the caller still sees its own failure.
    this.saving = run.catch(() => {});
    return run;
  }

  private find(name: string): Entry | undefined {
    return this.entries.find((e) => e.name === name);
  }

  /** Original text with changed/removed categories replaced; undefined when that is not possible. */
  private splice(): string | undefined {
    if (this.text === '') return undefined;
    const touched = [...this.removed, ...this.entries.filter((e) => e.changed && e.orig).map((e) => e.orig!)];
    // Settings that came through @include live in another file: we cannot edit them in place.
    if (touched.some((s) => s.file !== this.file)) return undefined;
    const byOrig = new Map<LcSetting, Entry>();
    for (const e of this.entries) if (e.orig) byOrig.set(e.orig, e);
    const removed = new Set(this.removed);
    const spans = [...byOrig.keys(), ...this.removed].filter((s) => s.file === this.file).sort((a, b) => a.start - b.start);

    const t = this.text;
    let out = '';
    let cursor = 0;
    for (const s of spans) {
      const e = byOrig.get(s);
      if (removed.has(s)) {
        const from = Math.max(cursor, leadingCommentStart(t, s.start));
        out += t.slice(cursor, from);
        cursor = skipRestOfLine(t, s.end);
        // Do not leave two blank lines where the category was.
        if (/\n[ \t]*\n$/.test(out) || out === '') cursor = skipBlankLine(t, cursor);
      } else if (e && e.changed) {
        out += t.slice(cursor, s.start) + formatSetting(e.name, e.value, this.indent, 0);
        cursor = s.end;
      } else {
        out += t.slice(cursor, s.end);
        cursor = s.end;
      }
    }
    out += t.slice(cursor);
    const added = this.entries.filter((e) => !e.orig);
    for (const e of added) {
      if (out !== '' && !out.endsWith('\n')) out += '\n';
      if (out !== '' && !out.endsWith('\n\n')) out += '\n';
      out += formatSetting(e.name, e.value, this.indent, 0) + '\n';
    }
    return out;
  }
}

function isGroup(v: CfgValue): v is CfgGroupValue {
  return typeof v === 'object' && !Array.isArray(v) && v.kind === 'group';
}

/** The indentation unit the operator used (first indented setting), so our edits blend in. */
function detectIndent(text: string): string {
  const m = /^([ \t]+)[A-Za-z*]/m.exec(text);
  return m ? m[1]! : '\t';
}

/**
 * Start of the comment block sitting directly above a setting (no blank line between):
 * it describes that setting, so it goes when the setting goes.
 */
function leadingCommentStart(t: string, start: number): number {
  let lineStart = t.lastIndexOf('\n', start - 1) + 1;
  if (t.slice(lineStart, start).trim() !== '') return start;
  for (;;) {
    if (lineStart === 0) return lineStart;
    const prevStart = t.lastIndexOf('\n', lineStart - 2) + 1;
    const prev = t.slice(prevStart, lineStart - 1).trim();
    if (!(prev.startsWith('#') || prev.startsWith('//'))) return lineStart;
    lineStart = prevStart;
  }
}

/** Past trailing blanks and the newline after `end`, if nothing else follows on that line. */
function skipRestOfLine(t: string, end: number): number {
  let i = end;
  while (t[i] === ' ' || t[i] === '\t' || t[i] === '\r') i++;
  if (t[i] === '\n') return i + 1;
  return i === t.length ? i : end;
}

function skipBlankLine(t: string, at: number): number {
  const m = /^[ \t\r]*\n/.exec(t.slice(at));
  return m ? at + m[0].length : at;
}

/** Write to a temp file in the same folder, then rename: readers never see half a file. */
async function atomicWrite(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let mode: number | undefined;
  try {
    mode = (await stat(file)).mode & 0o7777;
  } catch {
    mode = undefined;
  }
  try {
    await writeFile(tmp, text, { encoding: 'utf8', flag: 'wx' });
    if (mode !== undefined) await chmod(tmp, mode);
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
