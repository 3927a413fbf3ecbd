/**
 * One incoming data-channel frame: size limit, JSON parsing, envelope (`textroom` +
 * `transaction`), dispatch, reply. Whatever the frame holds, the sender gets at most one reply
 * and nothing escapes to the caller (the core's SCTP receive path).
 */
import type { PluginSession } from '../../core/plugin.js';
import type { TrContext } from './context.js';
import { errorPayload, TrError, TrErrorCode, type Data } from './errors.js';
import { MAX_MESSAGE_BYTES } from './media.js';
import { Params } from './params.js';
import { runDataChannel, type Outcome } from './requests.js';

/** Past this size a frame is not even parsed to find its transaction (bounds the CPU spent on it). */
const PARSE_CEILING = 4 * MAX_MESSAGE_BYTES;

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
  if (binary) {
    ctx.log.verb(`textroom: binary data-channel message from handle ${session.handleId} dropped (text only)`);
    return;
  }
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size === 0) return;
  const text = typeof data === 'string' ? data : data.toString('utf8');
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
