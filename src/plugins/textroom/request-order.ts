/**
 * One handle's data-channel requests are answered in the order they were sent (Janus runs them one
 * after another), also when some run on other media workers (the room's) and the others here. A
 * forwarded request holds the ones after it until the room's worker says it is done (its answer went
 * out before), except further requests for the same room: they take the same ordered path, so they
 * may follow at once (a member chatting in one remote room never waits for a round trip).
 */
import type { PluginSession } from '../../core/plugin.js';
import type { TrContext } from './context.js';
import { errorPayload, TrError, TrErrorCode } from './errors.js';
import { handleOf, type TrHandle } from './session.js';

export interface Step {
  /** Sent to another worker (the room's) rather than answered here. */
  forward: boolean;
  /** Forwards with the same key may be in flight together (null: alone). */
  key: string | null;
  run: () => void;
}

/** Requests one handle may have waiting behind a forwarded one (a client flooding a stuck worker is refused past it). */
export const MAX_WAITING = 1024;

function mayStart(h: TrHandle, step: Step): boolean {
  return h.inFlight === 0 || (step.forward && step.key !== null && step.key === h.flightKey);
}

function start(h: TrHandle, step: Step): void {
  if (step.forward) {
    h.inFlight++;
    h.flightKey = step.key;
  }
  step.run();
}

export function submit(ctx: TrContext, session: PluginSession, step: Step): void {
  const h = handleOf(session);
  if (h.waiting.length === 0 && mayStart(h, step)) return start(h, step);
  if (h.waiting.length >= MAX_WAITING) {
    ctx.out.send(session, errorPayload('error', new TrError(TrErrorCode.UNKNOWN_ERROR, 'Too many requests waiting for another media worker')));
    return;
  }
  h.waiting.push(step);
}

function drain(h: TrHandle): void {
  while (h.waiting.length > 0 && mayStart(h, h.waiting[0]!)) start(h, h.waiting.shift()!);
}

/** The room's worker answered one forwarded request (or told why it could not). */
export function forwardDone(session: PluginSession): void {
  const h = handleOf(session);
  if (h.inFlight > 0) h.inFlight--;
  if (h.inFlight > 0) return;
  h.flightKey = null;
  drain(h);
}

/** A worker died: what was in flight there never comes back; the handle's later requests go on. */
export function forgetFlights(session: PluginSession): void {
  const h = handleOf(session);
  h.inFlight = 0;
  h.flightKey = null;
  drain(h);
}
