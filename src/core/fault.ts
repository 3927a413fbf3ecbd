/**
 * Fault boundaries: what happens when code reached from the network or a timer throws.
 *
 * Every entry point (a socket's `message`, a PeerConnection's timer, a plugin hook, a room's timer, a
 * worker message, an event-handler callback) catches what its callee throws and hands it to `fault()`:
 * one log line with the ids of what failed and the stack, one count in `portunus_faults_total` by
 * boundary, and the owner's own close (hang up that PeerConnection, stop that room's timer, answer that
 * request with an error). The rest of the process keeps running. The process-level
 * `uncaughtException`/`unhandledRejection` handlers in main.ts are the last line and count as
 * boundary `process`: a non-zero count there is a boundary missing somewhere.
 *
 * On the packet path the caller keeps its own inline try/catch (no closure per packet) and calls
 * `fault()` only from the catch.
 */
import type { Logger } from '../log.js';

/** Where a fault was caught (the `boundary` label of portunus_faults_total). */
export type FaultBoundary =
  /** A media socket's `message` handler (STUN, DTLS, SRTP, RTP session, plugin sink). */
  | 'socket'
  /** A PeerConnection's timer (ICE checks and consent, DTLS retransmissions, RTCP, no-media timer). */
  | 'peer_timer'
  /** Sending on a media socket (socket.send throws synchronously on a bad port or address). */
  | 'send'
  /** DTLS callbacks (handshake done: SRTP keys, SCTP start). */
  | 'dtls'
  /** SCTP (data channels): callbacks and promise rejections from the association. */
  | 'sctp'
  /** A plugin's media hooks (incomingRtp, incomingRtcp, incomingData, dataReady). */
  | 'plugin_media'
  /** A plugin's signalling hooks (createSession, handleMessage, setupMedia, hangupMedia, slowLink, destroySession). */
  | 'plugin_hook'
  /** A plugin's own timers (room clocks, mixers, sweeps). */
  | 'plugin_timer'
  /** A message between the main thread and a plugin worker. */
  | 'worker'
  /** An event-handler backend (sample HTTP, WebSockets) callback. */
  | 'event_handler'
  /** A transport's request handler or event delivery. */
  | 'transport'
  /** The gateway's own timers and deferred work (session watchdog, plugin JSEP completion). */
  | 'core'
  /** The process-level last line (uncaughtException / unhandledRejection). */
  | 'process';

export const FAULT_BOUNDARIES: readonly FaultBoundary[] = [
  'socket',
  'peer_timer',
  'send',
  'dtls',
  'sctp',
  'plugin_media',
  'plugin_hook',
  'plugin_timer',
  'worker',
  'event_handler',
  'transport',
  'core',
  'process',
];

/** Ids of what failed, for the log line (whatever is known at the boundary). */
export interface FaultContext {
  session_id?: number;
  handle_id?: number;
  plugin?: string;
  room?: string | number;
  /** The hook or timer that threw (`handleMessage`, `mixer`...). */
  where?: string;
}

const counts = new Map<FaultBoundary, number>();

/** Faults caught so far by boundary (metrics, tests). */
export function faultCount(boundary: FaultBoundary): number {
  return counts.get(boundary) ?? 0;
}

/** Faults caught by worker threads, as each last reported its own counts (by worker). */
const remote = new Map<string, Partial<Record<FaultBoundary, number>>>();
export function setRemoteFaultCounts(source: string, counts: Partial<Record<FaultBoundary, number>>): void {
  remote.set(source, counts);
}

/** This process's counts plus what workers reported (the /metrics view). */
export function faultCounts(): Record<FaultBoundary, number> {
  const out = {} as Record<FaultBoundary, number>;
  for (const b of FAULT_BOUNDARIES) {
    let n = counts.get(b) ?? 0;
    for (const r of remote.values()) n += r[b] ?? 0;
    out[b] = n;
  }
  return out;
}

/** This thread's own counts only (what a worker reports to the main thread). */
export function localFaultCounts(): Record<FaultBoundary, number> {
  const out = {} as Record<FaultBoundary, number>;
  for (const b of FAULT_BOUNDARIES) out[b] = counts.get(b) ?? 0;
  return out;
}

/**
 * A fault was caught at `boundary`: count it and log it (error level, with the stack). The caller then
 * closes its owner. Never throws (a logger that throws is ignored: this runs inside catch blocks).
 */
export function fault(log: Logger, boundary: FaultBoundary, err: unknown, ctx: FaultContext = {}): void {
  counts.set(boundary, (counts.get(boundary) ?? 0) + 1);
  try {
    log.error(`fault contained (${boundary})`, { boundary, ...ctx, err: describe(err) });
  } catch {
    /* the log line is best effort */
  }
}

/** Count only (a fault of an owner whose first fault was logged and that is being closed already). */
export function countFault(boundary: FaultBoundary): void {
  counts.set(boundary, (counts.get(boundary) ?? 0) + 1);
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  try {
    return String(err);
  } catch {
    return 'unprintable error';
  }
}

// ---------------------------------------------------------------- test seam

/**
 * Fault injection for tests: when `armed` names a boundary and `target` matches the owner's id (handle
 * id, room id), `inject()` throws there. Production never sets it; the slow paths that call inject()
 * pay one property read. Packet paths have no inject() call: tests reach them by replacing a method on
 * one instance instead.
 */
export const faultInjection: { armed: string | null; target: number | string | null; hits: number } = {
  armed: null,
  target: null,
  hits: 0,
};

export class InjectedFault extends Error {
  constructor(where: string) {
    super(`injected fault at ${where}`);
    this.name = 'InjectedFault';
  }
}

/** Throws an InjectedFault when a test armed `where` for `target` (any owner when target is null). */
export function inject(where: string, target?: number | string): void {
  const f = faultInjection;
  if (f.armed !== where) return;
  if (f.target !== null && f.target !== target) return;
  f.hits++;
  throw new InjectedFault(where);
}
