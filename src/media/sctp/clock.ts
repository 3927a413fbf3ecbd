/**
 * The SCTP associations' clock: one per thread (module state is per thread: each media worker has its
 * own), the shared ThreadClock (../clock.ts) with an 8 ms grain. SCTP timers are 200 ms and more
 * (delayed SACK, RTO, heartbeat): the T3s of one TextRoom broadcast, a few ms apart, are one wake-up.
 */
import { ThreadClock } from '../clock.js';
export type { ClockClient, DrainClient } from '../clock.js';

/** Timer granularity, ms: the Node timer fires on multiples of this (performance.now() time). */
export const GRAIN_MS = 8;

export class SctpClock extends ThreadClock {
  constructor() {
    super({ grainMs: GRAIN_MS });
  }
}

/** This thread's SCTP clock. */
export const sctpClock = new SctpClock();
