/**
 * Janus reports times in Admin handle_info as g_get_monotonic_time(): microseconds of the system's
 * monotonic clock (CLOCK_MONOTONIC, time since boot). Node's process.hrtime reads the same clock, and
 * it is the same in every thread, so times from a media worker and from the main thread agree
 * (performance.now() has a per-thread origin and would not).
 */
import { performance } from 'node:perf_hooks';

/** hrtime µs minus performance.now() µs in this thread, measured once. */
const OFFSET_US = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;

/** A performance.now() reading (ms, this thread's origin) as Janus's monotonic µs. */
export function monotonicUs(perfNowMs: number): number {
  return Math.round(perfNowMs * 1000 + OFFSET_US);
}
