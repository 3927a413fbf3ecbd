/**
 * A reader for the YAML subset docker-compose.yml is kept to (no dependency): block mappings and
 * block sequences by indentation, plain / 'single' / "double" quoted scalars, flow sequences and flow
 * mappings of scalars on one line, and # comments. Anything else (anchors, tags, multi-line
 * strings, tabs) is an error naming the line, so the compose file stays within what this reads.
 */
export type Yaml = string | number | boolean | null | Yaml[] | { [k: string]: Yaml };

export class YamlSubsetError extends Error {}

interface Line {
  n: number;
  indent: number;
  text: string;
}

function stripComment(s: string): string {
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"') i++;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]!))) return s.slice(0, i);
  }
  return s;
}

function scalar(raw: string, n: number): Yaml {
  const s = raw.trim();
  if (s.startsWith('"')) {
    if (!s.endsWith('"') || s.length < 2) throw new YamlSubsetError(`line ${n}: unterminated "string"`);
    return JSON.parse(s) as string;
  }
  if (s.startsWith("'")) {
    if (!s.endsWith("'") || s.length < 2) throw new YamlSubsetError(`line ${n}: unterminated 'string'`);
    return s.slice(1, -1).replace(/''/g, "'");
  }
  if (s.startsWith('[')) return flowSeq(s, n);
  if (s.startsWith('{')) return flowMap(s, n);
  if (/^[&*!|>%@`]/.test(s)) throw new YamlSubsetError(`line ${n}: "${s[0]}" (anchors, tags, block scalars) is outside the supported subset`);
  if (s === '' || s === '~' || s === 'null') return null;
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  return s;
}

/** Splits a flow collection's body on top-level commas. */
function splitFlow(body: string, n: number): string[] {
  const parts: string[] = [];
  let depth = 0;
  let q: string | null = null;
  let cur = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (q) {
      cur += c;
      if (c === '\\' && q === '"') cur += body[++i] ?? '';
      else if (c === q) q = null;
      continue;
    }
    if (c === '"' || c === "'") q = c;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    if (c === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  if (q || depth !== 0) throw new YamlSubsetError(`line ${n}: unbalanced flow collection`);
  if (cur.trim() !== '') parts.push(cur);
  return parts;
}

function flowSeq(s: string, n: number): Yaml[] {
  if (!s.endsWith(']')) throw new YamlSubsetError(`line ${n}: a flow sequence must end on its line`);
  return splitFlow(s.slice(1, -1), n).map((p) => scalar(p, n));
}

function flowMap(s: string, n: number): { [k: string]: Yaml } {
  if (!s.endsWith('}')) throw new YamlSubsetError(`line ${n}: a flow mapping must end on its line`);
  const out: { [k: string]: Yaml } = {};
  for (const p of splitFlow(s.slice(1, -1), n)) {
    const i = p.indexOf(':');
    if (i < 0) throw new YamlSubsetError(`line ${n}: expected key: value in a flow mapping`);
    out[String(scalar(p.slice(0, i), n))] = scalar(p.slice(i + 1), n);
  }
  return out;
}

/** Index of the `key:` separator (a colon followed by space or end, outside quotes), or -1. */
function keyColon(s: string): number {
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = null;
      continue;
    }
    if (c === '"' || c === "'") q = c;
    else if (c === ':' && (i + 1 === s.length || s[i + 1] === ' ')) return i;
    else if (c === '[' || c === '{') return -1;
  }
  return -1;
}

export function parseYamlSubset(text: string): Yaml {
  const lines: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.includes('\t')) throw new YamlSubsetError(`line ${i + 1}: tab characters are not allowed`);
    const body = stripComment(raw).trimEnd();
    if (body.trim() === '' || body.trim() === '---') return;
    lines.push({ n: i + 1, indent: body.length - body.trimStart().length, text: body.trim() });
  });
  let pos = 0;

  function block(indent: number): Yaml {
    const first = lines[pos]!;
    if (first.text.startsWith('- ') || first.text === '-') return seq(indent);
    return map(indent);
  }

  function map(indent: number): { [k: string]: Yaml } {
    const out: { [k: string]: Yaml } = {};
    while (pos < lines.length && lines[pos]!.indent === indent) {
      const l = lines[pos]!;
      if (l.text.startsWith('-')) throw new YamlSubsetError(`line ${l.n}: a sequence item where a key was expected`);
      const c = keyColon(l.text);
      if (c < 0) throw new YamlSubsetError(`line ${l.n}: expected "key: value"`);
      const key = String(scalar(l.text.slice(0, c), l.n));
      if (Object.hasOwn(out, key)) throw new YamlSubsetError(`line ${l.n}: duplicate key "${key}"`);
      const rest = l.text.slice(c + 1).trim();
      pos++;
      if (rest !== '') out[key] = scalar(rest, l.n);
      else if (pos < lines.length && lines[pos]!.indent > indent) out[key] = block(lines[pos]!.indent);
      else if (pos < lines.length && lines[pos]!.indent === indent && lines[pos]!.text.startsWith('- ')) out[key] = seq(indent);
      else out[key] = null;
    }
    if (pos < lines.length && lines[pos]!.indent > indent) throw new YamlSubsetError(`line ${lines[pos]!.n}: unexpected indentation`);
    return out;
  }

  function seq(indent: number): Yaml[] {
    const out: Yaml[] = [];
    while (pos < lines.length && lines[pos]!.indent === indent && (lines[pos]!.text.startsWith('- ') || lines[pos]!.text === '-')) {
      const l = lines[pos]!;
      const rest = l.text.slice(1).trim();
      if (rest === '') {
        pos++;
        out.push(pos < lines.length && lines[pos]!.indent > indent ? block(lines[pos]!.indent) : null);
        continue;
      }
      if (keyColon(rest) >= 0 && !rest.startsWith('"') && !rest.startsWith("'")) {
        // "- key: value" starts a mapping whose keys sit at the column after "- ".
        const col = indent + (l.text.length - rest.length);
        lines[pos] = { n: l.n, indent: col, text: rest };
        out.push(map(col));
        continue;
      }
      pos++;
      out.push(scalar(rest, l.n));
    }
    return out;
  }

  if (lines.length === 0) return null;
  const doc = block(lines[0]!.indent);
  if (pos < lines.length) throw new YamlSubsetError(`line ${lines[pos]!.n}: unexpected content`);
  return doc;
}
