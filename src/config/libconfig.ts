/**
 * libconfig parser (the syntax of Janus's .jcfg files) producing an AST that keeps where
 * every setting came from, so callers can report `file:line` and splice edits back into
 * the operator's text. Values convert to plain `CfgValue`s with `nodeValue`.
 */
import { Lexer, type LexerOptions, type Punct, type Token } from './libconfig-lexer.js';
import { ConfigSyntaxError } from './errors.js';
import type { CfgScalar, CfgValue } from './types.js';

export { ConfigSyntaxError } from './errors.js';
export { writeLibconfig, formatValue, isValidName, type WriteOptions } from './libconfig-writer.js';

export type ScalarType = 'int' | 'int64' | 'float' | 'bool' | 'string';

interface NodePos {
  file: string;
  line: number;
  column: number;
}

export type LcNode =
  | (NodePos & { kind: 'scalar'; type: ScalarType; value: CfgScalar; hex?: boolean })
  | (NodePos & { kind: 'array'; items: LcNode[] })
  | (NodePos & { kind: 'list'; items: LcNode[] })
  | (NodePos & { kind: 'group'; settings: LcSetting[] });

export interface LcSetting {
  name: string;
  value: LcNode;
  /** File the setting was read from (differs from the document's when it came through @include). */
  file: string;
  line: number;
  column: number;
  /** Offsets in `file`'s text: from the name to the end of the value or its `;`/`,` terminator. */
  start: number;
  end: number;
}

export interface LcDocument {
  file: string;
  settings: LcSetting[];
}

/** Parse libconfig text. `file` names the text in errors and anchors relative @include paths. */
export function parseLibconfig(text: string, file: string, opts: LexerOptions = {}): LcDocument {
  const p = new Parser(new Lexer(text, file, opts));
  return { file, settings: p.document() };
}

/** Deepest nesting of groups/arrays/lists accepted (Janus's files use 2-3 levels). */
export const MAX_NESTING = 128;

class Parser {
  private tok: Token;
  private depth = 0;

  constructor(private readonly lexer: Lexer) {
    this.tok = lexer.next();
  }

  document(): LcSetting[] {
    const settings = this.settings();
    if (this.tok.kind !== 'eof') this.unexpected('a setting name');
    return settings;
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  private isPunct(p: Punct): boolean {
    return this.tok.kind === 'punct' && this.tok.text === p;
  }

  private error(t: Token, message: string): never {
    throw new ConfigSyntaxError(t.file, t.line, t.column, message);
  }

  private unexpected(expected: string): never {
    this.error(this.tok, `expected ${expected} but found ${describe(this.tok)}`);
  }

  private settings(): LcSetting[] {
    const out: LcSetting[] = [];
    const seen = new Set<string>();
    while (this.tok.kind === 'name') {
      const s = this.setting();
      if (seen.has(s.name)) {
        throw new ConfigSyntaxError(s.file, s.line, s.column, `duplicate setting name '${s.name}'`);
      }
      seen.add(s.name);
      out.push(s);
    }
    return out;
  }

  private setting(): LcSetting {
    const nameTok = this.advance() as Extract<Token, { kind: 'name' }>;
    if (!this.isPunct('=') && !this.isPunct(':')) this.unexpected(`'=' or ':' after '${nameTok.text}'`);
    this.advance();
    const value = this.value();
    let end = this.lastEnd;
    if ((this.isPunct(';') || this.isPunct(',')) && this.tok.file === nameTok.file) end = this.advance().end;
    else if (this.isPunct(';') || this.isPunct(',')) this.advance();
    return {
      name: nameTok.text,
      value,
      file: nameTok.file,
      line: nameTok.line,
      column: nameTok.column,
      start: nameTok.start,
      end,
    };
  }

  /** End offset of the last consumed token (for spans). */
  private lastEnd = 0;

  private take(): Token {
    const t = this.advance();
    this.lastEnd = t.end;
    return t;
  }

  private value(): LcNode {
    const t = this.tok;
    const pos = { file: t.file, line: t.line, column: t.column };
    switch (t.kind) {
      case 'string': {
        let s = '';
        // Adjacent literals concatenate ("a" "b" is "ab"), which lets long strings span lines.
        while (this.tok.kind === 'string') s += (this.take() as { value: string }).value;
        return { kind: 'scalar', type: 'string', value: s, ...pos };
      }
      case 'int':
        this.take();
        return {
          kind: 'scalar',
          type: t.long || typeof t.value === 'bigint' || !isInt32(t.value, t.hex) ? 'int64' : 'int',
          value: t.value,
          ...pos,
          ...(t.hex ? { hex: true } : {}),
        };
      case 'float':
        this.take();
        return { kind: 'scalar', type: 'float', value: t.value, ...pos };
      case 'bool':
        this.take();
        return { kind: 'scalar', type: 'bool', value: t.value, ...pos };
      case 'punct':
        if (t.text === '{' || t.text === '[' || t.text === '(') {
          // The parser recurses per level: without a bound, a few kB of '{' overflow the stack
          // (a RangeError instead of an error that names the file and line).
          if (this.depth >= MAX_NESTING) this.error(t, `groups, arrays and lists nested deeper than ${MAX_NESTING} levels`);
          this.depth++;
          try {
            if (t.text === '{') return this.group(pos);
            if (t.text === '[') return this.array(pos);
            return this.list(pos);
          } finally {
            this.depth--;
          }
        }
        break;
      default:
        break;
    }
    this.unexpected('a value');
  }

  private group(pos: NodePos): LcNode {
    this.take();
    const settings = this.settings();
    if (!this.isPunct('}')) this.unexpected(`a setting name or '}'`);
    this.take();
    return { kind: 'group', settings, ...pos };
  }

  private array(pos: NodePos): LcNode {
    this.take();
    const items = this.items(']', (item) => {
      if (item.kind !== 'scalar') {
        throw new ConfigSyntaxError(item.file, item.line, item.column, 'arrays may only hold scalar values (use a list "( )" instead)');
      }
    });
    let cls: string | undefined;
    for (const item of items) {
      const c = item.kind === 'scalar' ? scalarClass(item.type) : item.kind;
      if (cls !== undefined && c !== cls) {
        throw new ConfigSyntaxError(item.file, item.line, item.column, `mismatched element type in array (${c} among ${cls}s)`);
      }
      cls = c;
    }
    return { kind: 'array', items, ...pos };
  }

  private list(pos: NodePos): LcNode {
    this.take();
    return { kind: 'list', items: this.items(')', () => {}), ...pos };
  }

  private items(close: ']' | ')', check: (item: LcNode) => void): LcNode[] {
    const items: LcNode[] = [];
    if (this.isPunct(close)) {
      this.take();
      return items;
    }
    for (;;) {
      const item = this.value();
      check(item);
      items.push(item);
      if (this.isPunct(',')) {
        this.take();
        continue;
      }
      if (this.isPunct(close)) {
        this.take();
        return items;
      }
      this.unexpected(`',' or '${close}'`);
    }
  }
}

function isInt32(v: number | bigint, hex: boolean): boolean {
  const n = Number(v);
  return hex ? n <= 0xffffffff : n >= -0x80000000 && n <= 0x7fffffff;
}

/** libconfig refuses `[1, 2L]` as well as `[1, 2.0]`: every scalar type is its own class. */
function scalarClass(t: ScalarType): string {
  return t;
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of file';
    case 'name':
      return `'${t.text}'`;
    case 'punct':
      return `'${t.text}'`;
    case 'string':
      return `string ${JSON.stringify(t.value)}`;
    default:
      return `${t.kind} ${String(t.value)}`;
  }
}

/** Plain value of a node: groups become CfgGroupValue, arrays and lists JS arrays. */
export function nodeValue(node: LcNode): CfgValue {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'array':
    case 'list':
      return node.items.map(nodeValue);
    case 'group':
      return {
        kind: 'group',
        entries: node.settings.map((s) => ({ name: s.name, value: nodeValue(s.value), line: s.line })),
      };
  }
}

/** Top-level settings as plain values, in file order. */
export function documentValues(doc: LcDocument): Array<{ name: string; value: CfgValue }> {
  return doc.settings.map((s) => ({ name: s.name, value: nodeValue(s.value) }));
}
