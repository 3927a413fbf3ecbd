/**
 * Tokenizer for libconfig text, including `@include` expansion. Includes are handled here,
 * as libconfig does, so an included file may appear anywhere a token may; every token
 * remembers the file it came from so errors and spans point at the right text.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigSyntaxError } from './errors.js';

export type Punct = '=' | ':' | ';' | ',' | '{' | '}' | '[' | ']' | '(' | ')';

export type Token =
  | (TokenPos & { kind: 'name'; text: string })
  | (TokenPos & { kind: 'string'; value: string })
  | (TokenPos & { kind: 'int'; value: number | bigint; long: boolean; hex: boolean })
  | (TokenPos & { kind: 'float'; value: number })
  | (TokenPos & { kind: 'bool'; value: boolean })
  | (TokenPos & { kind: 'punct'; text: Punct })
  | (TokenPos & { kind: 'eof' });

export interface TokenPos {
  file: string;
  line: number;
  column: number;
  /** Offsets into the token's own file text: [start, end). */
  start: number;
  end: number;
}

export interface LexerOptions {
  /** Reads an included file; defaults to a synchronous UTF-8 read. */
  readFile?: (path: string) => string;
}

interface Source {
  file: string;
  text: string;
  pos: number;
  line: number;
  lineStart: number;
}

const NAME_RE = /[A-Za-z*][-A-Za-z0-9_*]*/y;
const HEX_RE = /0[xX]([0-9A-Fa-f]+)(LL?)?/y;
const FLOAT_RE = /[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+/y;
const INT_RE = /([-+]?[0-9]+)(LL?)?/y;
const BOOL_RE = /^(?:true|false)$/i;
const PUNCT = new Set(['=', ':', ';', ',', '{', '}', '[', ']', '(', ')']);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

export class Lexer {
  private readonly stack: Source[] = [];
  private readonly readFile: (path: string) => string;

  constructor(text: string, file: string, opts: LexerOptions = {}) {
    this.readFile = opts.readFile ?? ((p) => readFileSync(p, 'utf8'));
    this.stack.push({ file, text, pos: 0, line: 1, lineStart: 0 });
  }

  next(): Token {
    for (;;) {
      const src = this.stack[this.stack.length - 1]!;
      this.skipBlank(src);
      if (src.pos >= src.text.length) {
        if (this.stack.length === 1) return { kind: 'eof', ...this.here(src, src.pos) };
        this.stack.pop();
        continue;
      }
      if (src.text.startsWith('@include', src.pos)) {
        this.include(src);
        continue;
      }
      return this.token(src);
    }
  }

  private here(src: Source, start: number): TokenPos {
    return { file: src.file, line: src.line, column: start - src.lineStart + 1, start, end: start };
  }

  private fail(src: Source, at: number, message: string): never {
    // `at` is on the current line unless a caller says otherwise; columns are 1-based.
    throw new ConfigSyntaxError(src.file, src.line, at - src.lineStart + 1, message);
  }

  private newline(src: Source, at: number): void {
    src.line++;
    src.lineStart = at + 1;
  }

  private skipBlank(src: Source): void {
    const t = src.text;
    while (src.pos < t.length) {
      const c = t[src.pos]!;
      if (c === '\n') {
        this.newline(src, src.pos);
        src.pos++;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        src.pos++;
      } else if (c === '#' || (c === '/' && t[src.pos + 1] === '/')) {
        while (src.pos < t.length && t[src.pos] !== '\n') src.pos++;
      } else if (c === '/' && t[src.pos + 1] === '*') {
        const line = src.line;
        const col = src.pos - src.lineStart + 1;
        src.pos += 2;
        for (;;) {
          if (src.pos >= t.length) throw new ConfigSyntaxError(src.file, line, col, 'unterminated /* comment');
          if (t[src.pos] === '*' && t[src.pos + 1] === '/') {
            src.pos += 2;
            break;
          }
          if (t[src.pos] === '\n') this.newline(src, src.pos);
          src.pos++;
        }
      } else {
        return;
      }
    }
  }

  private include(src: Source): void {
    const at = src.pos;
    if (src.text.slice(src.lineStart, at).trim() !== '') this.fail(src, at, '@include must start a line');
    src.pos += '@include'.length;
    while (src.text[src.pos] === ' ' || src.text[src.pos] === '\t') src.pos++;
    if (src.text[src.pos] !== '"') this.fail(src, at, '@include must be followed by a quoted file name');
    const nameTok = this.string(src);
    const target = (nameTok as { value: string }).value;
    const path = isAbsolute(target) ? target : resolve(dirname(src.file), target);
    if (this.stack.some((s) => resolve(s.file) === path)) {
      this.fail(src, at, `@include cycle: "${target}" is already being read`);
    }
    let text: string;
    try {
      text = this.readFile(path);
    } catch (err) {
      this.fail(src, at, `cannot read @include file "${target}": ${(err as Error).message}`);
    }
    this.stack.push({ file: path, text, pos: 0, line: 1, lineStart: 0 });
  }

  private token(src: Source): Token {
    const t = src.text;
    const start = src.pos;
    const c = t[start]!;
    const pos = this.here(src, start);
    if (PUNCT.has(c)) {
      src.pos++;
      return { kind: 'punct', text: c as Punct, ...pos, end: src.pos };
    }
    if (c === '"') return this.string(src);
    const hex = this.match(HEX_RE, src);
    if (hex) {
      const value = BigInt('0x' + hex[1]!);
      const long = hex[2] !== undefined;
      if (value > UINT64_MAX) this.fail(src, start, `hex integer ${hex[0]} out of 64-bit range`);
      this.boundary(src, start);
      return { kind: 'int', value: narrow(value), long, hex: true, ...pos, end: src.pos };
    }
    const flt = this.match(FLOAT_RE, src);
    if (flt) {
      this.boundary(src, start);
      return { kind: 'float', value: Number(flt[0]), ...pos, end: src.pos };
    }
    const int = this.match(INT_RE, src);
    if (int) {
      const value = BigInt(int[1]!);
      if (value < INT64_MIN || value > INT64_MAX) this.fail(src, start, `integer ${int[0]} out of 64-bit range`);
      this.boundary(src, start);
      return { kind: 'int', value: narrow(value), long: int[2] !== undefined, hex: false, ...pos, end: src.pos };
    }
    const name = this.match(NAME_RE, src);
    if (name) {
      if (BOOL_RE.test(name[0])) return { kind: 'bool', value: name[0].toLowerCase() === 'true', ...pos, end: src.pos };
      return { kind: 'name', text: name[0], ...pos, end: src.pos };
    }
    this.fail(src, start, `unexpected character ${JSON.stringify(c)}`);
  }

  /** A number glued to letters (`12ab`, `0x1g`) is one bad token, not two good ones. */
  private boundary(src: Source, start: number): void {
    const c = src.text[src.pos];
    if (c !== undefined && /[-A-Za-z0-9_*.]/.test(c)) {
      let end = src.pos;
      while (end < src.text.length && /[-A-Za-z0-9_*.+]/.test(src.text[end]!)) end++;
      this.fail(src, start, `invalid number ${JSON.stringify(src.text.slice(start, end))}`);
    }
  }

  private match(re: RegExp, src: Source): RegExpExecArray | null {
    re.lastIndex = src.pos;
    const m = re.exec(src.text);
    if (m) src.pos = re.lastIndex;
    return m;
  }

  private string(src: Source): Token {
    const t = src.text;
    const start = src.pos;
    const pos = this.here(src, start);
    let out = '';
    src.pos++;
    for (;;) {
      if (src.pos >= t.length) {
        throw new ConfigSyntaxError(src.file, pos.line, pos.column, 'unterminated string');
      }
      const c = t[src.pos]!;
      if (c === '"') {
        src.pos++;
        return { kind: 'string', value: out, ...pos, end: src.pos };
      }
      if (c === '\n') this.newline(src, src.pos);
      if (c !== '\\') {
        out += c;
        src.pos++;
        continue;
      }
      const e = t[src.pos + 1];
      const simple: Record<string, string> = { '\\': '\\', '"': '"', n: '\n', r: '\r', t: '\t', f: '\f' };
      const hex = e === 'x' ? t.slice(src.pos + 2, src.pos + 4) : '';
      if (e !== undefined && simple[e] !== undefined) {
        out += simple[e];
        src.pos += 2;
      } else if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        out += String.fromCharCode(parseInt(hex, 16));
        src.pos += 4;
      } else {
        // libconfig keeps any other backslash literally ("\q" reads as backslash-q); so do we.
        out += '\\';
        src.pos++;
      }
    }
  }
}

function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
