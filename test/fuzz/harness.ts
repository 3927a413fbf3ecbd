/**
 * Shared pieces of the fuzz suite (test/fuzz/*.test.ts): run settings, the "typed errors only"
 * check, byte-level mutators for structure-aware generators, and a heap-growth bound.
 *
 * `npm test` runs every property with a fixed seed and a bounded number of runs (the whole folder takes
 * about a minute on a 2-core machine); `npm run fuzz` sets FUZZ_LONG=1: a random seed and about 7x the runs.
 * A failure prints the line that replays it (and shrinks straight to the counterexample):
 * `FUZZ_PROP='<property>' FUZZ_SEED=<seed> FUZZ_PATH=<path> node test/run.mjs test/fuzz/<file>`.
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';

export { fc };

const LONG = process.env.FUZZ_LONG === '1';
const SEED_ENV = process.env.FUZZ_SEED;
const PATH_ENV = process.env.FUZZ_PATH;
/** Replay one property only (its name as printed on failure); the others are skipped. */
const PROP_ENV = process.env.FUZZ_PROP;
/** True while replaying one property: coverage assertions over a whole run do not apply. */
export const REPLAYING = PROP_ENV !== undefined;
/** Fixed seed in `npm test` so the bounded run is the same every time. */
const FIXED_SEED = 0x5eed;

/**
 * Each property names its share of runs; `npm test` runs BUDGET times that (tuned so the whole folder
 * takes about a minute on the project's 2-core machine), `npm run fuzz` FUZZ_FACTOR (default 50) times.
 */
const BUDGET = Number(process.env.FUZZ_BUDGET ?? 7);
export const LONG_FACTOR = Number(process.env.FUZZ_FACTOR ?? 50);

export function runs(share: number): number {
  return Math.max(1, Math.round(share * (LONG ? LONG_FACTOR : BUDGET)));
}

function seedFor(): number {
  if (SEED_ENV !== undefined) return Number(SEED_ENV) | 0;
  if (LONG) return (Math.random() * 0x7fffffff) | 0;
  return FIXED_SEED;
}

/**
 * fc.assert with the suite's seed/run policy. On failure the error names the seed and the shrunk path
 * and how to replay it.
 */
function params(shortRuns: number): fc.Parameters<unknown> {
  const p: fc.Parameters<unknown> = { seed: seedFor(), numRuns: runs(shortRuns), endOnFailure: false };
  if (PATH_ENV && PROP_ENV !== undefined) p.path = PATH_ENV;
  return p;
}

function report(name: string, details: fc.RunDetails<unknown>): void {
  if (!details.failed) return;
  const cex = details.counterexample ? fc.stringify(details.counterexample) : '(none)';
  const err = details.errorInstance;
  throw new Error(
    `fuzz property "${name}" failed after ${details.numRuns} runs\n` +
      `  replay: FUZZ_PROP='${name}' FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''} node test/run.mjs test/fuzz/\n` +
      `  counterexample: ${cex.length > 2000 ? `${cex.slice(0, 2000)}...` : cex}\n` +
      `  error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
}

/**
 * fc.check with the suite's seed/run policy. On failure the error names the seed and the shrunk path
 * and how to replay it.
 */
export function check<Ts extends [unknown, ...unknown[]]>(
  name: string,
  arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => void,
  shortRuns: number,
): void {
  if (PROP_ENV !== undefined && PROP_ENV !== name) return;
  const prop = fc.property(...(arbs as unknown as [fc.Arbitrary<unknown>]), predicate as (...a: unknown[]) => void);
  report(name, fc.check(prop as fc.IPropertyWithHooks<unknown>, params(shortRuns)));
}

/** Same for a property whose predicate is async (state machines that settle on microtasks/timers). */
export async function checkAsync<Ts extends [unknown, ...unknown[]]>(
  name: string,
  arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => Promise<void>,
  shortRuns: number,
): Promise<void> {
  if (PROP_ENV !== undefined && PROP_ENV !== name) return;
  const prop = fc.asyncProperty(...(arbs as unknown as [fc.Arbitrary<unknown>]), predicate as (...a: unknown[]) => Promise<void>);
  report(name, await fc.check(prop as fc.IAsyncPropertyWithHooks<unknown>, params(shortRuns)));
}

/**
 * Collects uncaught exceptions and unhandled rejections while `body` runs: a parser behind a
 * promise or callback (werift's engines) must not leak an error to the process either.
 */
export async function noStrayErrors(body: () => Promise<void>): Promise<void> {
  const stray: unknown[] = [];
  const onErr = (e: unknown) => stray.push(e);
  process.on('uncaughtException', onErr);
  process.on('unhandledRejection', onErr);
  try {
    await body();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('uncaughtException', onErr);
    process.off('unhandledRejection', onErr);
  }
  assert.deepEqual(stray.map((e) => (e instanceof Error ? (e.stack ?? e.message) : String(e))), [], 'no uncaught exception or unhandled rejection');
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs `fn`; an exception is fine only if it is one of `allowed` (the parser's documented error
 * types). Anything else (TypeError, RangeError from a Buffer read, ...) fails the property.
 */
export function typedOnly<T>(fn: () => T, allowed: readonly ErrorClass[]): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (allowed.some((c) => e instanceof c)) return undefined;
    throw new Error(`untyped exception escaped: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
}

/**
 * Fails when `fn` takes longer than `ms` (a parser that goes quadratic or loops on some input). Bounds
 * are generous (typical inputs take well under a millisecond): the machine is shared and GC pauses land
 * anywhere; what they catch is seconds of work on one input.
 */
export function withinTime<T>(ms: number, fn: () => T): T {
  const t0 = performance.now();
  const r = fn();
  const dt = performance.now() - t0;
  assert.ok(dt < ms, `took ${dt.toFixed(1)} ms (bound ${ms} ms)`);
  return r;
}

// ------------------------------------------------------------------ heap bound

let gcFn: (() => void) | undefined;
function gc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** heapUsed after a full collection. */
export function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Runs `body` (a whole property run) and asserts the heap, after a full GC, grew by less than
 * `boundBytes`: whatever a parser keeps between calls (caches, tables) must stay bounded.
 */
export async function boundedHeap(boundBytes: number, body: () => void | Promise<void>): Promise<void> {
  const before = heapUsed();
  await body();
  const after = heapUsed();
  assert.ok(after - before < boundBytes, `heap grew by ${after - before} bytes (bound ${boundBytes})`);
}

// ------------------------------------------------------------------ mutation

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'duplicate'; at: number; count: number }
  | { kind: 'u16'; at: number; value: number }
  | { kind: 'u32'; at: number; value: number };

const interesting16 = fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff);
const interesting32 = fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe);

/** Positions are fractions of the input length, so one mutation applies to any input. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(0, 0xff, 0x7f, 0x80), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 32 }) }),
  // "Length fields lied about": 16/32-bit big-endian words overwritten with boundary values.
  fc.record({ kind: fc.constant('u16' as const), at: fc.nat(), value: fc.oneof(interesting16, fc.integer({ min: 0, max: 0xffff })) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.oneof(interesting32, fc.nat()) }),
);

export function applyMutation(input: Uint8Array, m: Mutation): Uint8Array {
  const n = input.length;
  const pos = n === 0 ? 0 : m.at % (n + 1);
  const b = Buffer.from(input);
  switch (m.kind) {
    case 'flip':
      if (n > 0) b[pos % n]! ^= 1 << m.bit;
      return b;
    case 'set':
      if (n > 0) b[pos % n] = m.value;
      return b;
    case 'truncate':
      return b.subarray(0, pos);
    case 'insert':
      return Buffer.concat([b.subarray(0, pos), m.bytes, b.subarray(pos)]);
    case 'delete':
      return Buffer.concat([b.subarray(0, pos), b.subarray(pos + m.count)]);
    case 'duplicate':
      return Buffer.concat([b.subarray(0, pos + m.count), b.subarray(pos)]);
    case 'u16':
      if (n >= 2) b.writeUInt16BE(m.value, pos % (n - 1));
      return b;
    case 'u32':
      if (n >= 4) b.writeUInt32BE(m.value >>> 0, pos % (n - 3));
      return b;
  }
}

/** Valid inputs from `valid`, then 0-4 mutations applied. */
export function mutated(valid: fc.Arbitrary<Uint8Array>, maxMutations = 4): fc.Arbitrary<Buffer> {
  return fc
    .tuple(valid, fc.array(mutationArb, { maxLength: maxMutations }))
    .map(([v, ms]) => Buffer.from(ms.reduce((acc, m) => applyMutation(acc, m), v)));
}

/** Raw bytes, biased toward short datagrams. */
export function rawBytes(maxLength = 300): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ maxLength }).map((u) => Buffer.from(u));
}

/**
 * Where to cut a byte stream into socket reads: up to `maxCuts` positions, each taken modulo the
 * stream's length, so one list applies to a stream of any length (and shrinks well).
 */
export function cutPoints(maxCuts: number): fc.Arbitrary<number[]> {
  return fc.array(fc.nat(), { maxLength: maxCuts });
}

/** `b` cut at `at` (see cutPoints), each chunk a fresh Buffer as a socket read is; the chunks join back to `b`. */
export function chunked(b: Uint8Array, at: readonly number[]): Buffer[] {
  const pos = [...new Set(at.map((a) => (b.length === 0 ? 0 : a % b.length)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...pos, b.length]) {
    out.push(Buffer.from(b.subarray(prev, p)));
    prev = p;
  }
  return out;
}

/** Text mutation: bytes of the UTF-8 text mutated, decoded back (lossy where invalid, like the wire). */
export function mutatedText(valid: fc.Arbitrary<string>, maxMutations = 4): fc.Arbitrary<string> {
  return mutated(valid.map((s) => Buffer.from(s, 'utf8')), maxMutations).map((b) => b.toString('utf8'));
}

/** Line-level mutation of a text made of lines: drop, duplicate, swap, garble one line. */
export function mutatedLines(valid: fc.Arbitrary<string>, sep = '\r\n'): fc.Arbitrary<string> {
  const op = fc.record({ kind: fc.constantFrom('drop', 'dup', 'swap', 'garble', 'cut'), at: fc.nat(), other: fc.nat(), text: fc.string({ maxLength: 24 }) });
  return fc.tuple(valid, fc.array(op, { maxLength: 4 })).map(([text, ops]) => {
    const lines = text.split(sep);
    for (const o of ops) {
      if (lines.length === 0) break;
      const i = o.at % lines.length;
      const j = o.other % lines.length;
      if (o.kind === 'drop') lines.splice(i, 1);
      else if (o.kind === 'dup') lines.splice(i, 0, lines[i]!);
      else if (o.kind === 'swap') [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      else if (o.kind === 'garble') lines[i] = lines[i]!.slice(0, o.other % (lines[i]!.length + 1)) + o.text;
      else lines[i] = lines[i]!.slice(0, o.other % (lines[i]!.length + 1));
    }
    return lines.join(sep);
  });
}
