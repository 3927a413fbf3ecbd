/**
 * How data-channel text is serialised (`general.json`), matching jansson's three styles:
 * compact `{"a":1}`, indented (3 spaces, one key per line), plain `{"a": 1, "b": 2}` (one line).
 * Only data-channel frames use this: Janus API replies are formatted by the transport.
 */
export type JsonStyle = 'compact' | 'indented' | 'plain';

export function parseJsonStyle(value: string | undefined): JsonStyle | undefined {
  if (value === undefined) return 'compact';
  const v = value.trim().toLowerCase();
  return v === 'compact' || v === 'indented' || v === 'plain' ? v : undefined;
}

function plain(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(plain).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const parts: string[] = [];
    for (const [k, item] of Object.entries(v)) if (item !== undefined) parts.push(`${JSON.stringify(k)}: ${plain(item)}`);
    return `{${parts.join(', ')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function formatJson(value: unknown, style: JsonStyle): string {
  if (style === 'indented') return JSON.stringify(value, null, 3);
  if (style === 'plain') return plain(value);
  return JSON.stringify(value);
}
