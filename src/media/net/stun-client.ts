/**
 * Server-reflexive address discovery (RFC 8489 Binding over UDP), for nat.stun_server /
 * nat.stun_port.
 *
 * `StunBindingTransaction` is sans-IO: it produces the request bytes and retransmissions
 * (RTO doubling, Rc transmissions, final wait Rm*RTO per RFC 8489 6.2.1) and consumes responses.
 * `stunBinding()` drives one over a bound dgram socket; it resolves (never rejects) with a result
 * value, including for names that do not resolve.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Socket, RemoteInfo } from 'node:dgram';
import { StunBuilder, parseStun, randomTransactionId } from '../stun/message.js';
import { StunClass, StunMessageType } from '../stun/constants.js';

export type StunBindingResult =
  | { ok: true; address: string; port: number; family: 4 | 6 }
  | { ok: false; error: string };

export interface StunTransactionOptions {
  now: number;
  /** Initial RTO in ms (RFC 8489: 500). */
  rto?: number;
  /** Transmissions including the first (Rc, 7). */
  maxTransmits?: number;
  /** Final wait multiplier (Rm, 16). */
  rm?: number;
  software?: string;
  transactionId?: Buffer;
}

export class StunBindingTransaction {
  readonly request: Buffer;
  readonly transactionId: Buffer;
  private readonly rto0: number;
  private readonly maxTransmits: number;
  private readonly rm: number;
  private transmits = 0;
  private nextAt: number;
  private pending = true; // a (re)transmission is waiting in pollTransmit
  private _result: StunBindingResult | undefined;

  constructor(opts: StunTransactionOptions) {
    this.transactionId = opts.transactionId ?? randomTransactionId();
    const b = new StunBuilder(StunMessageType.BindingRequest, this.transactionId);
    if (opts.software) b.software(opts.software);
    this.request = b.build({ fingerprint: true });
    this.rto0 = opts.rto ?? 500;
    this.maxTransmits = opts.maxTransmits ?? 7;
    this.rm = opts.rm ?? 16;
    // the first transmission is due immediately
    this.transmits = 1;
    this.nextAt = opts.now + (this.maxTransmits === 1 ? this.rto0 * this.rm : this.rto0);
  }

  get result(): StunBindingResult | undefined {
    return this._result;
  }

  /** Bytes to send now (the first request, or a retransmission), else undefined. */
  pollTransmit(): Buffer | undefined {
    if (!this.pending || this._result) return undefined;
    this.pending = false;
    return this.request;
  }

  /** Absolute time of the next retransmission / timeout, or undefined when finished. */
  pollTimeout(): number | undefined {
    return this._result ? undefined : this.nextAt;
  }

  handleTimeout(now: number): void {
    if (this._result || now < this.nextAt) return;
    if (this.transmits >= this.maxTransmits) {
      this._result = { ok: false, error: `STUN binding timed out after ${this.transmits} transmissions` };
      return;
    }
    this.transmits++;
    this.pending = true;
    const wait = this.transmits === this.maxTransmits ? this.rto0 * this.rm : this.rto0 * 2 ** (this.transmits - 1);
    this.nextAt = now + wait;
  }

  /** Feed a datagram; returns true if it was the response to this transaction. */
  handleResponse(bytes: Buffer): boolean {
    if (this._result) return false;
    const m = parseStun(bytes);
    if (!m || !m.transactionId.equals(this.transactionId)) return false;
    if (m.cls === StunClass.SuccessResponse) {
      const a = m.getXorMappedAddress() ?? m.getMappedAddress();
      this._result = a ? { ok: true, address: a.address, port: a.port, family: a.family } : { ok: false, error: 'STUN response without a mapped address' };
      return true;
    }
    if (m.cls === StunClass.ErrorResponse) {
      const e = m.getErrorCode();
      this._result = { ok: false, error: `STUN error ${e?.code ?? '?'} ${e?.reason ?? ''}`.trim() };
      return true;
    }
    return false;
  }
}

export interface StunBindingOptions {
  /** Overall deadline in ms (default 3000). */
  timeoutMs?: number;
  rto?: number;
  maxTransmits?: number;
  software?: string;
}

/**
 * Send a Binding request from `socket` (already bound) to server:port and wait for the mapped
 * address. Never throws: DNS failures, timeouts and STUN errors come back as `{ ok: false }`.
 */
export async function stunBinding(socket: Socket, server: string, port: number, opts: StunBindingOptions = {}): Promise<StunBindingResult> {
  let localFamily: 4 | 6;
  try {
    localFamily = socket.address().family === 'IPv6' ? 6 : 4;
  } catch {
    return { ok: false, error: 'socket is not bound' };
  }
  let target: string;
  if (isIP(server)) target = server;
  else {
    try {
      target = (await lookup(server, { family: localFamily })).address;
    } catch (err) {
      return { ok: false, error: `cannot resolve STUN server ${server}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
    }
  }
  const start = performance.now();
  const now = (): number => performance.now() - start;
  const tx = new StunBindingTransaction({ now: 0, rto: opts.rto, maxTransmits: opts.maxTransmits, software: opts.software });
  const deadline = opts.timeoutMs ?? 3000;

  return new Promise<StunBindingResult>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: StunBindingResult): void => {
      if (timer) clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(r);
    };
    const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
      if (rinfo.port !== port) return;
      if (tx.handleResponse(msg) && tx.result) finish(tx.result);
    };
    const pump = (): void => {
      tx.handleTimeout(now());
      if (tx.result) return finish(tx.result);
      const bytes = tx.pollTransmit();
      if (bytes) {
        socket.send(bytes, port, target, (err) => {
          if (err) finish({ ok: false, error: `send to ${target}:${port} failed: ${err.message}` });
        });
      }
      const t = now();
      if (t >= deadline) return finish({ ok: false, error: `STUN binding to ${server}:${port} timed out after ${deadline} ms` });
      const next = Math.min(tx.pollTimeout() ?? deadline, deadline);
      timer = setTimeout(pump, Math.max(0, next - t));
    };
    socket.on('message', onMessage);
    pump();
  });
}
