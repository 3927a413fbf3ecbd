/**
 * One incoming data-channel frame: frame type, size limit, JSON parsing, envelope (`textroom` +
 * `transaction`), dispatch, reply. Whatever the frame holds, the sender gets at most one reply
 * (an error reply for binary, oversized, unparsable or incomplete frames, carrying the transaction
 * whenever one can be read) and nothing escapes to the caller (the core's SCTP receive path).
 * Only empty frames get no answer.
 */
import type { ForwardRoute, PluginSession } from '../../core/plugin.js';
import type { TrContext } from './context.js';
import { MANAGEMENT } from './management.js';
import { PARTICIPATION } from './membership.js';
import { errorPayload, TrError, TrErrorCode, type Data } from './errors.js';
import { MAX_MESSAGE_BYTES } from './media.js';
import { Params } from './params.js';
import { runDataChannel, type Outcome } from './requests.js';
import { submit, type Step } from './request-order.js';
import { handleOf } from './session.js';

/**
 * Refused frames (too large, binary) up to this size are still parsed, only to echo their
 * transaction in the error; past it they are not parsed at all (bounds the CPU spent on them:
 * JSON.parse of 1 MiB is a few ms).
 */
export const PARSE_CEILING = 16 * MAX_MESSAGE_BYTES;

function parseObject(text: string): { value?: Data; error?: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { error: `JSON error: ${(err as Error).message}` };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { error: 'JSON error: not an object' };
  return { value: v as Data };
}

function transactionOf(body: Data | undefined): string | undefined {
  const tx = body?.transaction;
  return typeof tx === 'string' ? tx : undefined;
}

function replyTo(ctx: TrContext, session: PluginSession, transaction: string | undefined, data: Data): void {
  ctx.out.send(session, transaction === undefined ? data : { ...data, transaction });
}

export function handleFrame(ctx: TrContext, session: PluginSession, data: Buffer | string, binary: boolean): void {
  const step = stepOf(ctx, session, data, binary);
  if (step !== null) submit(ctx, session, step);
}

/** What to do with one frame: answer here (errors included) or forward to the room's worker. */
function stepOf(ctx: TrContext, session: PluginSession, data: Buffer | string, binary: boolean): Step | null {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size === 0) return null; // nothing to answer to (Janus drops these too)
  const text = size <= PARSE_CEILING ? (typeof data === 'string' ? data : data.toString('utf8')) : '';
  if (binary) {
    // Janus drops binary frames silently; the sender gets told here (with its transaction if the
    // payload happens to be a JSON request), so a client using the wrong frame type is not left waiting.
    ctx.log.verb(`textroom: binary data-channel message (${size} bytes) from handle ${session.handleId} refused (text only)`);
    const tx = size <= PARSE_CEILING ? transactionOf(parseObject(text).value) : undefined;
    return here(() => replyTo(ctx, session, tx, errorPayload('error', new TrError(TrErrorCode.INVALID_REQUEST, 'Binary messages are not supported (send text)'))));
  }
  if (size > MAX_MESSAGE_BYTES) {
    const tx = size <= PARSE_CEILING ? transactionOf(parseObject(text).value) : undefined;
    const err = new TrError(TrErrorCode.INVALID_JSON, `Message too large (${size} bytes, limit ${MAX_MESSAGE_BYTES})`);
    return here(() => replyTo(ctx, session, tx, errorPayload('error', err)));
  }
  const parsed = parseObject(text);
  if (parsed.value === undefined) {
    return here(() => replyTo(ctx, session, undefined, errorPayload('error', new TrError(TrErrorCode.INVALID_JSON, parsed.error!))));
  }
  const body = parsed.value;
  const tx = transactionOf(body);
  let name: string;
  try {
    const p = new Params(body);
    name = p.requireString('textroom');
    p.requireString('transaction');
  } catch (err) {
    return here(() => replyTo(ctx, session, tx, errorPayload('error', err as TrError)));
  }
  const route = ctx.link !== null ? routeOf(ctx, name, body) : null;
  if (route === null) return here(() => run(ctx, session, name, body, tx));
  // A room this handle is a member of on another worker (the room's worker said so, relay.ts): the
  // request goes straight there in this turn's batch, without main. Its own key: it may not overtake a
  // request for the same room still on its way through main (a join), nor be overtaken by one.
  if (route.kind === 'room') {
    const direct = directTo(ctx, session, body);
    if (direct !== null) {
      const relay = ctx.out.relay!;
      return { forward: true, key: `direct:${route.room}`, run: () => relay.request(direct, session.handleId, text) };
    }
  }
  // Runs on the room's worker, which answers (and fans out) through this one.
  const forwarded = route.kind === 'all' ? { ...body, request: name } : body;
  // Requests for one room go to one worker, in order: they may follow each other without waiting.
  const key = route.kind === 'room' ? `room:${route.room}` : null;
  const forward = (): void => {
    // Frames this worker gathered for members elsewhere go first: main relays in the order it gets
    // things, so a member of both rooms cannot get this request's fan-out before them.
    ctx.out.relay?.flush();
    ctx.link!.forward(session, route, forwarded, tx ?? null);
  };
  return { forward: true, key, run: forward };
}

/** The worker of a room named in `body` that this handle is a member of elsewhere (null: none, or no relay). */
function directTo(ctx: TrContext, session: PluginSession, body: Data): number | null {
  if (ctx.out.relay === null) return null;
  let room;
  try {
    room = ctx.ids.parse(body.room);
  } catch {
    return null;
  }
  if (room === undefined) return null;
  return handleOf(session).remote.get(room) ?? null;
}

function here(run: () => void): Step {
  return { forward: false, key: null, run };
}

function run(ctx: TrContext, session: PluginSession, name: string, body: Data, tx: string | undefined, done?: () => void): void {
  const outcome = runDataChannel(ctx, session, name, body);
  const deliver = (out: Outcome): void => {
    if (out !== null) replyTo(ctx, session, tx, out);
    done?.();
  };
  if (outcome instanceof Promise) void outcome.then(deliver);
  else deliver(outcome);
}

/**
 * Where a request must run when the plugin is spread over media workers: null here (this worker has
 * the room, or the request names none it could be about: its errors are answered here), else the
 * route main takes it on. `list` is every worker's; `create` goes where main places new rooms.
 */
function routeOf(ctx: TrContext, name: string, body: Data): ForwardRoute | null {
  const key = name.toLowerCase();
  if (key === 'list') return { kind: 'all' };
  if (!PARTICIPATION.has(key) && !MANAGEMENT.has(key)) return null;
  let room;
  try {
    room = ctx.ids.parse(body.room);
  } catch {
    return null;
  }
  if (key === 'create') {
    if (room !== undefined && !ctx.ids.isUnset(room) && ctx.rooms.has(room)) return null;
    return { kind: 'create', room: room === undefined || ctx.ids.isUnset(room) ? null : String(room) };
  }
  if (room === undefined || ctx.rooms.has(room)) return null;
  return { kind: 'room', room: String(room) };
}

/** A request a member sent on another worker (its data channel is there), for a room here: run it here, answer there. */
export function runForwarded(ctx: TrContext, session: PluginSession, body: Data, done: () => void): void {
  const name = typeof body.textroom === 'string' ? body.textroom : '';
  run(ctx, session, name, body, transactionOf(body), done);
}
