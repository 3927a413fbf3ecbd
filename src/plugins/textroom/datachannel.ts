/**
 * One incoming data-channel frame: frame type, size limit, JSON parsing, envelope (`textroom` +
 * `transaction`), dispatch, reply. Whatever the frame holds, the sender gets at most one reply
 * (an error reply for binary, oversized, unparsable or incomplete frames, carrying the transaction
 * whenever one can be read) and nothing escapes to the caller (the core's SCTP receive path).
 * Only empty frames get no answer.
 */
import type { PluginSession } from '../../core/plugin.js';
import type { TrContext } from './context.js';
import { errorPayload, TrError, TrErrorCode, type Data } from './errors.js';
import { MAX_MESSAGE_BYTES } from './media.js';
import { Params } from './params.js';
import { runDataChannel, type Outcome } from './requests.js';

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
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size === 0) return; // nothing to answer to (Janus drops these too)
  const text = size <= PARSE_CEILING ? (typeof data === 'string' ? data : data.toString('utf8')) : '';
  if (binary) {
    // Janus drops binary frames silently; the sender gets told here (with its transaction if the
    // payload happens to be a JSON request), so a client using the wrong frame type is not left waiting.
    ctx.log.verb(`textroom: binary data-channel message (${size} bytes) from handle ${session.handleId} refused (text only)`);
    const tx = size <= PARSE_CEILING ? transactionOf(parseObject(text).value) : undefined;
    replyTo(ctx, session, tx, errorPayload('error', new TrError(TrErrorCode.INVALID_REQUEST, 'Binary messages are not supported (send text)')));
    return;
  }
  if (size > MAX_MESSAGE_BYTES) {
    const tx = size <= PARSE_CEILING ? transactionOf(parseObject(text).value) : undefined;
    const err = new TrError(TrErrorCode.INVALID_JSON, `Message too large (${size} bytes, limit ${MAX_MESSAGE_BYTES})`);
    replyTo(ctx, session, tx, errorPayload('error', err));
    return;
  }
  const parsed = parseObject(text);
  if (parsed.value === undefined) {
    replyTo(ctx, session, undefined, errorPayload('error', new TrError(TrErrorCode.INVALID_JSON, parsed.error!)));
    return;
  }
  const body = parsed.value;
  const tx = transactionOf(body);
  let name: string;
  try {
    const p = new Params(body);
    name = p.requireString('textroom');
    p.requireString('transaction');
  } catch (err) {
    replyTo(ctx, session, tx, errorPayload('error', err as TrError));
    return;
  }
  const outcome = runDataChannel(ctx, session, name, body);
  const deliver = (out: Outcome): void => {
    if (out !== null) replyTo(ctx, session, tx, out);
  };
  if (outcome instanceof Promise) void outcome.then(deliver);
  else deliver(outcome);
}
