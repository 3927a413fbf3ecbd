/**
 * The log lines of worker threads: one JSON line per record, in
 * the shape main's pino writes (`{"level":30,"time":...,<fields>,"msg":"..."}`, pino's level numbers,
 * an Error as pino's `{type,message,stack}`), or the same short human line in pretty mode. pino and its
 * dependencies cost each media worker ~5 MB of RSS for what is, in a worker, a few lines a minute
 * (issue 12, base memory). The lines go to stdout through log-output.ts (never waiting for a full pipe).
 */

function replacer(this: unknown, _key: string, v: unknown): unknown {
  if (v instanceof Error) {
    const out: Record<string, unknown> = { type: v.name, message: v.message, stack: v.stack };
    for (const [k, x] of Object.entries(v)) if (!(k in out)) out[k] = x;
    return out;
  }
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v;
}

/** The record's JSON line (never throws: a value that cannot be serialized is named instead). */
export function jsonLine(level: number, time: number, fields: Record<string, unknown> | undefined, msg: string): string {
  let body = '';
  if (fields !== undefined) {
    try {
      body = JSON.stringify(fields, replacer).slice(1, -1);
    } catch (err) {
      body = `"log_error":${JSON.stringify(String(err))}`;
    }
  }
  return `{"level":${level},"time":${time}${body === '' ? '' : ',' + body},"msg":${JSON.stringify(msg)}}\n`;
}

/** The pretty line of a record (same layout as main's pretty stream). */
export function prettyLine(levelName: string, time: number, fields: Record<string, unknown> | undefined, msg: string): string {
  const t = new Date(time).toISOString().slice(11, 23);
  let extra = '';
  if (fields !== undefined) {
    extra = Object.entries(fields)
      .map(([k, v]) => {
        if (typeof v === 'string') return `${k}=${v}`;
        try {
          return `${k}=${JSON.stringify(v, replacer)}`;
        } catch {
          return `${k}=?`;
        }
      })
      .join(' ');
  }
  return `${t} ${levelName.toUpperCase().padEnd(5)} ${msg}${extra ? ' ' + extra : ''}\n`;
}
