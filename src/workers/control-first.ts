/**
 * Main's calls before queued media work on a media worker (issue 12, burst joins). A worker's event loop
 * takes main's messages once per turn; on a starved core one turn of media work (a publisher's packets
 * fanned out to hundreds of subscribers, the cross-worker ring) took a second or more, and a subscriber's
 * `join` or `start` waited for it while Janus, a thread per handle, answered at once. The media paths
 * call `serveControl()` at points where no media work is half done (a datagram before it is read, a ring
 * record before it is handled); at most once per CONTROL_SLICE_MS it takes what main has posted, in
 * order, with `receiveMessageOnPort`, and hands it to the same handler the port's 'message' event uses.
 *
 * Safe points only: a call may add or remove subscribers and PeerConnections, so never while a
 * fan-out loop walks them. Nothing is done on a thread that did not install a poll (main, tests).
 */
import { performance } from 'node:perf_hooks';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

/** How long media work may run before main's messages are looked at again. */
export const CONTROL_SLICE_MS = 5;
/** At most this many messages per look (the rest wait for the next safe point or the event loop). */
const MAX_PER_POLL = 32;

let port: MessagePort | null = null;
let handler: ((msg: unknown) => void) | null = null;
let due = Number.POSITIVE_INFINITY;
let serving = false;

/** This thread's control port and the handler its 'message' event runs (a media worker, once). */
export function installControlPoll(p: MessagePort, onMessage: (msg: unknown) => void): void {
  port = p;
  handler = onMessage;
  due = performance.now() + CONTROL_SLICE_MS;
}

/** The event loop just delivered main's messages: media work starts a new slice. */
export function controlServed(): void {
  if (port !== null) due = performance.now() + CONTROL_SLICE_MS;
}

/** Messages taken at safe points since the thread started (tests, diagnostics). */
export let controlTaken = 0;

/** At a safe point in media work: main's waiting messages now, if the slice is over. */
export function serveControl(): void {
  if (port === null || serving) return;
  const now = performance.now();
  if (now < due) return;
  due = now + CONTROL_SLICE_MS;
  serving = true;
  try {
    for (let i = 0; i < MAX_PER_POLL; i++) {
      const r = receiveMessageOnPort(port);
      if (r === undefined) break;
      controlTaken++;
      handler!(r.message);
    }
  } finally {
    serving = false;
  }
}
