/**
 * Logging with Janus's debug levels (0 none .. 7 debug) on top of pino.
 *
 * Output is one JSON object per line, or a short human line when stdout is a TTY
 * (or PORTUNUS_LOG_PRETTY=1). Fields that identify a session or handle go in
 * `fields` so every line about them can be found by id: the canonical names are
 * `session_id` and `handle_id`. A numeric `session` / `handle` field (older call sites,
 * the media plane) is written as `session_id` / `handle_id`, and a line with a `handle_id`
 * but no `session_id` gets it from the resolver main installs (setSessionResolver), so a
 * `grep '"session_id":123'` finds every line about that session.
 *
 * Only the main thread loads pino; worker threads write the same lines through log-line.ts.
 */
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { isMainThread, threadId } from 'node:worker_threads';
import type pinoType from 'pino';
import { jsonLine, prettyLine } from './log-line.js';
import { LineOutput } from './log-output.js';

export const LogLevel = { none: 0, fatal: 1, error: 2, warn: 3, info: 4, verb: 5, huge: 6, debug: 7 } as const;
type LevelName = Exclude<keyof typeof LogLevel, 'none'>;
const levelNames: LevelName[] = ['fatal', 'error', 'warn', 'info', 'verb', 'huge', 'debug'];
const pinoValues: Record<LevelName, number> = { fatal: 60, error: 50, warn: 40, info: 30, verb: 25, huge: 22, debug: 20 };

export type Fields = Record<string, unknown>;
export interface Logger {
  fatal(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  verb(msg: string, fields?: Fields): void;
  huge(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  /** True when a message at this Janus level would be written (cheap; use before building costly fields). */
  enabled(level: number): boolean;
  child(bindings: Fields): Logger;
}

let currentLevel = 4;

function pinoLevelFor(level: number): string {
  if (level <= 0) return 'silent';
  return levelNames[Math.min(level, 7) - 1]!;
}

function prettyStream(out: { write(line: string): void }): Writable {
  const names = new Map<number, string>(levelNames.map((n) => [pinoValues[n], n.toUpperCase()]));
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        const o = JSON.parse(chunk.toString()) as Record<string, unknown>;
        const { level, time, msg, pid: _pid, hostname: _h, ...rest } = o;
        const t = new Date(time as number).toISOString().slice(11, 23);
        const extra = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        out.write(`${t} ${(names.get(level as number) ?? String(level)).padEnd(5)} ${msg as string}${extra ? ' ' + extra : ''}\n`);
      } catch {
        out.write(chunk.toString());
      }
      cb();
    },
  });
}

const pretty = process.env.PORTUNUS_LOG_PRETTY === '1' || (process.env.PORTUNUS_LOG_PRETTY !== '0' && process.stdout.isTTY === true);

/**
 * This thread's way to stdout (log-output.ts): never waits for a full pipe; what it cannot hold is
 * dropped, counted, and reported in one warning line when writing resumes.
 */
const output = new LineOutput((n) => {
  const fields = { dropped: n, thread: isMainThread ? 'main' : threadId };
  const msg = 'log lines dropped: stdout was full';
  return pretty ? prettyLine('warn', Date.now(), fields, msg) : jsonLine(pinoValues.warn, Date.now(), fields, msg);
});
process.on('exit', () => output.drain());

/** Log lines this thread dropped because stdout was full (or failed), since it started. */
export function logLinesDropped(): number {
  return output.dropped;
}

/** Where records go once the level check passed: pino on the main thread, log-line.ts elsewhere. */
interface Sink {
  write(name: LevelName, fields: Fields | undefined, msg: string): void;
  setLevel(level: number): void;
}

function pinoSink(): Sink {
  // Required (CommonJS) here rather than imported: a worker thread never loads it.
  const pino = createRequire(import.meta.url)('pino') as typeof pinoType;
  const root = pino(
    {
      customLevels: pinoValues,
      useOnlyCustomLevels: true,
      level: pinoLevelFor(currentLevel),
      base: undefined,
      messageKey: 'msg',
    },
    // Not pino.destination: its sync mode retries a full pipe forever, stalling the main thread.
    pretty ? prettyStream(output) : { write: (line: string) => output.write(line) },
  ) as unknown as pinoType.Logger<LevelName>;
  return {
    write(name, fields, msg) {
      if (fields) root[name](fields, msg);
      else root[name](msg);
    },
    setLevel(level) {
      root.level = pinoLevelFor(level);
    },
  };
}

function lineSink(): Sink {
  return {
    write(name, fields, msg) {
      const now = Date.now();
      output.write(pretty ? prettyLine(name, now, fields, msg) : jsonLine(pinoValues[name], now, fields, msg));
    },
    setLevel() {
      /* the level check is wrap's */
    },
  };
}

const sink: Sink = isMainThread ? pinoSink() : lineSink();

let sessionOf: ((handleId: number) => number | undefined) | null = null;

/**
 * Lets log lines that name only a handle carry its session too (main installs the gateway's
 * lookup; null removes it). Called only for lines that are actually written.
 */
export function setSessionResolver(fn: ((handleId: number) => number | undefined) | null): void {
  sessionOf = fn;
}

/** `session`/`handle` (numbers) -> `session_id`/`handle_id`, and the session of a lone handle. */
function normalizeIds(f: Fields): Fields {
  let out = f;
  const rename = (from: string, to: string): void => {
    const v = out[from];
    if (typeof v !== 'number' || out[to] !== undefined) return;
    if (out === f) out = { ...f };
    delete out[from];
    out[to] = v;
  };
  rename('session', 'session_id');
  rename('handle', 'handle_id');
  const h = out.handle_id;
  if (typeof h === 'number' && out.session_id === undefined && sessionOf !== null) {
    const s = sessionOf(h);
    if (s !== undefined) {
      if (out === f) out = { ...f };
      out.session_id = s;
    }
  }
  return out;
}

function wrap(bindings?: Fields): Logger {
  // Children merge their bindings per call instead of using pino children, so that a
  // level change reaches every logger at once and per-session loggers cost nothing to drop.
  const call = (name: LevelName) => {
    const level = LogLevel[name];
    return (msg: string, fields?: Fields) => {
      if (level > currentLevel) return; // cheap early out: no merge for lines nobody reads
      const merged = bindings ? (fields ? { ...bindings, ...fields } : bindings) : fields;
      sink.write(name, merged ? normalizeIds(merged) : undefined, msg);
    };
  };
  return {
    fatal: call('fatal'),
    error: call('error'),
    warn: call('warn'),
    info: call('info'),
    verb: call('verb'),
    huge: call('huge'),
    debug: call('debug'),
    enabled: (level: number) => level > 0 && level <= currentLevel,
    child(more: Fields) {
      return wrap(bindings ? { ...bindings, ...more } : more);
    },
  };
}

export const log: Logger = wrap();

/** Set the Janus debug level (0-7) for every logger. */
export function setLogLevel(level: number): void {
  currentLevel = Math.max(0, Math.min(7, Math.trunc(level)));
  sink.setLevel(currentLevel);
}

export function getLogLevel(): number {
  return currentLevel;
}
