/** A STUN Binding responder on 127.0.0.1 (or ::1) that pretends the server sits behind a NAT (tests only). */
import { createSocket, type Socket } from 'node:dgram';
import { parseStun, StunBuilder, StunClass, StunMessageType } from '../../../src/media/stun/index.js';

export interface StunResponder {
  port: number;
  /** Source ports of the Binding requests seen. */
  requests: number[];
  close(): void;
}

/**
 * Answers every Binding request with XOR-MAPPED-ADDRESS `mappedIp`:(source port + portOffset).
 * `silent`: receive but never answer (an unusable stun_server).
 */
export async function startStunResponder(opts: { mappedIp?: string; portOffset?: number; silent?: boolean; host?: '127.0.0.1' | '::1' } = {}): Promise<StunResponder> {
  const host = opts.host ?? '127.0.0.1';
  const sock: Socket = host === '::1' ? createSocket({ type: 'udp6', ipv6Only: true }) : createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, host, () => r()));
  const requests: number[] = [];
  sock.on('message', (msg, rinfo) => {
    const m = parseStun(msg);
    if (!m || m.cls !== StunClass.Request) return;
    requests.push(rinfo.port);
    if (opts.silent) return;
    const port = (rinfo.port + (opts.portOffset ?? 0)) & 0xffff;
    const res = new StunBuilder(StunMessageType.BindingSuccess, m.transactionId).xorMappedAddress(opts.mappedIp ?? '203.0.113.5', port).build({ fingerprint: true });
    sock.send(res, rinfo.port, rinfo.address);
  });
  return { port: sock.address().port, requests, close: () => sock.close() };
}
