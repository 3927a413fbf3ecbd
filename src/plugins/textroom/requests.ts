/**
 * Routes one request to its handler and turns failures into replies, so no request can throw out
 * of the plugin. The request name is matched case-insensitively (Janus uses strcasecmp).
 */
import type { PluginSession } from '../../core/plugin.js';
import type { Origin, TrContext } from './context.js';
import { asTrError, errorPayload, TrError, TrErrorCode, type Data } from './errors.js';
import { MANAGEMENT } from './management.js';
import { PARTICIPATION } from './membership.js';
import { Params } from './params.js';

/** A reply, or null when none is due (`message` with `ack:false`). */
export type Outcome = Data | null;

function failure(ctx: TrContext, err: unknown): Data {
  if (!(err instanceof TrError)) ctx.log.error(`textroom: unexpected failure: ${(err as Error)?.stack ?? String(err)}`);
  return errorPayload('error', asTrError(err));
}

/** Run a handler; its errors become `{textroom:"error",...}` replies (sync stays sync). */
function run(ctx: TrContext, fn: () => Outcome | Promise<Outcome>): Outcome | Promise<Outcome> {
  try {
    const out = fn();
    return out instanceof Promise ? out.catch((err: unknown) => failure(ctx, err)) : out;
  } catch (err) {
    return failure(ctx, err);
  }
}

export function isManagement(name: string): boolean {
  return MANAGEMENT.has(name.toLowerCase());
}

/** A management request from the Janus API or the Admin API (the caller checked isManagement). */
export function runManagement(ctx: TrContext, origin: Origin, name: string, body: Data): Outcome | Promise<Outcome> {
  const handler = MANAGEMENT.get(name.toLowerCase())!;
  return run(ctx, () => handler(ctx, origin, new Params(body)));
}

/** A request that arrived on a data channel: management and participation both apply. */
export function runDataChannel(ctx: TrContext, session: PluginSession, name: string, body: Data): Outcome | Promise<Outcome> {
  const key = name.toLowerCase();
  const participation = PARTICIPATION.get(key);
  if (participation !== undefined) return run(ctx, () => participation(ctx, session, new Params(body)));
  const management = MANAGEMENT.get(key);
  if (management !== undefined) return run(ctx, () => management(ctx, { kind: 'datachannel', session }, new Params(body)));
  return errorPayload('error', new TrError(TrErrorCode.INVALID_REQUEST, `Unsupported request ${name}`));
}
