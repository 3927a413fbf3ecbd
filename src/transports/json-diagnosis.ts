/**
 * Describes why a text is not a Janus request the way jansson (Janus's JSON library) does, so error
 * replies read like Janus's: `string or '}' expected near 'bad'` at line 1, column 4. Runs only after
 * JSON.parse has refused the text (or found a scalar): a small tokenizer and recursive-descent checker
 * that stops at the first fault. Written from jansson's observable messages, not from its code.
 */

export interface JsonDiagnosis {
  line: number;
  /** Characters of the line consumed when the fault was found (jansson's column). */
  column: number;
  text: string;
}

type Kind = '{' | '}' | '[' | ']' | ':' | ',' | 'string' | 'number' | 'literal' | 'invalid' | 'eof';

const STRING_STOP = /["\\\x00-\x1f]/g;

class Fault extends Error {
  constructor(readonly diagnosis: JsonDiagnosis) {
    super(diagnosis.text);
  }
}

class Lexer {
  private i = 0;
  private line = 1;
  private column = 0;
  kind: Kind = 'eof';
  /** The current token's raw text, as jansson quotes it after "near". */
  saved = '';

  constructor(private readonly s: string) {}

  /** The current token's kind (a call, so the checker's narrowing does not outlive next()). */
  at(): Kind {
    return this.kind;
  }

  private get(): string {
    const c = this.s[this.i++] ?? '';
    if (c === '\n') {
      this.line++;
      this.column = 0;
    } else if (c !== '') this.column++;
    return c;
  }

  /** The next character, not consumed ('' at the end). */
  private peek(): string {
    return this.s[this.i] ?? '';
  }

  fail(message: string): never {
    const near = this.kind === 'eof' ? 'near end of file' : `near '${this.saved}'`;
    throw new Fault({ line: this.line, column: this.column, text: `${message} ${near}` });
  }

  next(): void {
    let c = this.get();
    while (c === ' ' || c === '\t' || c === '\n' || c === '\r') c = this.get();
    this.saved = c;
    if (c === '') {
      this.kind = 'eof';
      return;
    }
    if ('{}[]:,'.includes(c)) {
      this.kind = c as Kind;
      return;
    }
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number(c);
    if (/[A-Za-z]/.test(c)) {
      while (/[A-Za-z]/.test(this.peek())) this.saved += this.get();
      this.kind = this.saved === 'true' || this.saved === 'false' || this.saved === 'null' ? 'literal' : 'invalid';
      return;
    }
    this.kind = 'invalid';
  }

  /** Offset just past the current token. */
  offset(): number {
    return this.i;
  }

  private string(): void {
    this.kind = 'string';
    for (;;) {
      // Plain characters in one step (no newline among them, so only the column moves).
      STRING_STOP.lastIndex = this.i;
      const stop = STRING_STOP.exec(this.s)?.index ?? this.s.length;
      if (stop > this.i) {
        this.saved += this.s.slice(this.i, stop);
        this.column += stop - this.i;
        this.i = stop;
      }
      if (this.s[this.i] === '\n') {
        this.kind = 'invalid';
        this.fail('unexpected newline');
      }
      const c = this.get();
      if (c === '') {
        this.kind = 'invalid';
        this.fail('premature end of input');
      }
      if (c === '"') {
        this.saved += c;
        return;
      }
      if (c < ' ') {
        this.kind = 'invalid';
        this.fail(`control character 0x${c.charCodeAt(0).toString(16)} in string`);
      }
      this.saved += c;
      if (c === '\\') {
        const e = this.get();
        this.saved += e;
        if (e === 'u') {
          for (let k = 0; k < 4; k++) {
            const h = this.get();
            this.saved += h;
            if (!/[0-9A-Fa-f]/.test(h)) {
              this.kind = 'invalid';
              this.fail('invalid escape');
            }
          }
        } else if (!'"\\/bfnrt'.includes(e) || e === '') {
          this.kind = 'invalid';
          this.fail('invalid escape');
        }
      }
    }
  }

  private number(first: string): void {
    // Greedy like a lexer: the characters a number may contain; JSON's grammar decides below.
    const start = this.i - 1;
    const startColumn = this.column - 1;
    let text = first;
    while (/[0-9eE.+-]/.test(this.peek())) text += this.get();
    // A leading zero followed by a digit: the token ends at the zero.
    const zero = /^-?0(?=\d)/.exec(text);
    if (zero) {
      text = zero[0];
      this.i = start + text.length;
      this.column = startColumn + text.length;
    }
    this.saved = text;
    this.kind = !zero && /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text) ? 'number' : 'invalid';
  }
}

function value(lx: Lexer, depth: number): void {
  switch (lx.at()) {
    case 'string':
    case 'number':
    case 'literal':
      return;
    case '{':
      return object(lx, depth + 1);
    case '[':
      return array(lx, depth + 1);
    case 'invalid':
      return lx.fail('invalid token');
    default:
      return lx.fail('unexpected token');
  }
}

function object(lx: Lexer, depth: number): void {
  if (depth > 2048) lx.fail('maximum parsing depth reached');
  lx.next();
  if (lx.at() === '}') return;
  for (;;) {
    if (lx.at() !== 'string') lx.fail("string or '}' expected");
    lx.next();
    if (lx.at() !== ':') lx.fail("':' expected");
    lx.next();
    value(lx, depth);
    lx.next();
    if (lx.at() === '}') return;
    if (lx.at() !== ',') lx.fail("'}' expected");
    lx.next();
  }
}

function array(lx: Lexer, depth: number): void {
  if (depth > 2048) lx.fail('maximum parsing depth reached');
  lx.next();
  if (lx.at() === ']') return;
  if (lx.at() === 'eof') lx.fail("']' expected");
  for (;;) {
    value(lx, depth);
    lx.next();
    if (lx.at() === ']') return;
    if (lx.at() !== ',') lx.fail("']' expected");
    lx.next();
    if (lx.at() === 'eof') lx.fail("']' expected");
  }
}

/**
 * What follows a complete document. Janus's HTTP transport wants the end of the text; its WebSocket
 * transport reads the rest as another document, so trailing text gets that document's error,
 * located from where the rest starts.
 */
export type Trailing = 'end-of-file' | 'next-document';

/**
 * The first fault in `text` as jansson reports it for a request (an object or array, nothing after
 * it), or null if it has none (then the caller's own error stands).
 */
export function diagnoseJson(text: string, trailing: Trailing = 'end-of-file'): JsonDiagnosis | null {
  const lx: Lexer = new Lexer(text);
  try {
    lx.next();
    if (lx.at() !== '{' && lx.at() !== '[') lx.fail("'[' or '{' expected");
    value(lx, 0);
    const end = lx.offset();
    lx.next();
    if (lx.at() === 'eof') return null;
    if (trailing === 'next-document') return diagnoseJson(text.slice(end), trailing);
    lx.fail('end of file expected');
  } catch (err) {
    if (err instanceof Fault) return err.diagnosis;
    throw err;
  }
}
