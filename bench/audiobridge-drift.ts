/**
 * AudioBridge mixer clock drift (run on demand, never in tests):
 *   node dist-ab2/bench/audiobridge-drift.js [minutes=10] [workMs=2]
 * Runs the room mixer's FrameClock (real timers, setImmediate defer) for the given wall time with
 * `workMs` of synchronous work per frame (a stand-in for decode+mix+encode), plus a 100 ms busy
 * stall of the event loop every 30 s (at 15 s, 45 s, ...: never at the end). Reports frames produced
 * vs. wall time / 20 ms (drift), the lateness distribution of frames relative to their absolute due
 * times, and, for comparison, the lateness of a plain 10 ms setInterval in the same process (how late
 * the machine runs this process at all: on a loaded machine both show the same spikes).
 */
import { readFileSync } from 'node:fs';
import { FrameClock } from '../src/plugins/audiobridge/mixer.js';

const minutes = Number(process.argv[2] ?? 10);
const workMs = Number(process.argv[3] ?? 2);
const durationMs = minutes * 60_000;

const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* spin */
  }
};

const lateness: number[] = [];
let clock!: FrameClock;
clock = new FrameClock(() => {
  lateness.push(performance.now() - clock.dueTime(clock.produced));
  if (workMs > 0) busy(workMs);
});
const t0 = performance.now();
clock.start();
let stalls: NodeJS.Timeout | undefined;
setTimeout(() => {
  busy(100);
  stalls = setInterval(() => busy(100), 30_000);
}, 15_000);
const lag: number[] = [];
let expect = performance.now() + 10;
const lagTimer = setInterval(() => {
  const now = performance.now();
  lag.push(Math.max(0, now - expect));
  expect = now + 10;
}, 10);
setTimeout(() => {
  const t1 = performance.now();
  clock.stop();
  clearInterval(stalls);
  clearInterval(lagTimer);
  const elapsed = t1 - t0;
  const ideal = Math.floor(elapsed / 20);
  const sorted = [...lateness].sort((a, b) => a - b);
  const pct = (p: number): string => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(2);
  const lastDue = clock.dueTime(clock.produced) - t0;
  console.log(`wall time ${(elapsed / 1000).toFixed(1)} s, frames produced ${clock.produced}, ideal ${ideal} (difference ${clock.produced - ideal} frames), skipped ${clock.skipped}`);
  console.log(`last frame due at ${(lastDue / 1000).toFixed(3)} s: drift of the schedule vs wall clock ${(elapsed - lastDue).toFixed(2)} ms (< 20 ms = no drift)`);
  console.log(`frame lateness vs absolute due time (ms): p50 ${pct(0.5)}, p99 ${pct(0.99)}, p99.9 ${pct(0.999)}, max ${sorted[sorted.length - 1]!.toFixed(2)} (the 100 ms stalls every 30 s included)`);
  const ls = [...lag].sort((a, b) => a - b);
  const lp = (p: number): string => ls[Math.min(ls.length - 1, Math.floor(p * ls.length))]!.toFixed(2);
  console.log(`event-loop lag of a 10 ms setInterval in the same process (ms): p50 ${lp(0.5)}, p99 ${lp(0.99)}, p99.9 ${lp(0.999)}, max ${ls[ls.length - 1]!.toFixed(2)}`);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`machine load average at the end: ${load}`);
}, durationMs);
