import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { StunBindingTransaction, stunBinding } from '../../../src/media/net/stun-client.js';
import { UdpIceDriver } from '../../../src/media/net/udp-ice-driver.js';
import { PacketKind } from '../../../src/media/net/demux.js';
import { IceAgent, type IceEvent } from '../../../src/media/ice/agent.js';
import { hostCandidate } from '../../../src/media/ice/candidate.js';
import { StunBuilder, StunClass, StunMessageType, parseStun } from '../../../src/media/stun/index.js';

const bind = (): Promise<Socket> =>
  new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
const close = (...ss: Socket[]) => Promise.all(ss.map((s) => new Promise<void>((r) => s.close(() => r()))));

/** A tiny STUN server built from our codec. `dropFirst` ignores that many requests (to force retransmits). */
async function stunResponder(opts: { dropFirst?: number; error?: number } = {}): Promise<{ socket: Socket; requests: () => number }> {
  const socket = await bind();
  let n = 0;
  socket.on('message', (msg, rinfo) => {
    const m = parseStun(msg);
    if (!m || m.type !== StunMessageType.BindingRequest) return;
    if (n++ < (opts.dropFirst ?? 0)) return;
    const b = opts.error
      ? new StunBuilder(StunMessageType.BindingError, m.transactionId).errorCode(opts.error)
      : new StunBuilder(StunMessageType.BindingSuccess, m.transactionId).xorMappedAddress(rinfo.address, rinfo.port).software('test');
    socket.send(b.build({ fingerprint: true }), rinfo.port, rinfo.address);
  });
  return { socket, requests: () => n };
}

test('sans-IO STUN transaction: RFC 8489 retransmission schedule and timeout at 39.5 s', () => {
  const tx = new StunBindingTransaction({ now: 0 });
  const sends: number[] = [];
  for (let now = 0; tx.result === undefined; now = tx.pollTimeout()!) {
    tx.handleTimeout(now);
    if (tx.pollTransmit()) sends.push(now);
    assert.equal(tx.pollTransmit(), undefined, 'one transmission per due time');
  }
  assert.deepEqual(sends, [0, 500, 1500, 3500, 7500, 15500, 31500]);
  assert.equal(tx.result?.ok, false);
  assert.match((tx.result as { error: string }).error, /timed out after 7/);

  const ok = new StunBindingTransaction({ now: 0 });
  assert.ok(ok.pollTransmit());
  const other = new StunBuilder(StunMessageType.BindingSuccess).xorMappedAddress('1.2.3.4', 5).build();
  assert.equal(ok.handleResponse(other), false, 'other transaction id ignored');
  assert.ok(ok.handleResponse(new StunBuilder(StunMessageType.BindingSuccess, ok.transactionId).xorMappedAddress('198.51.100.4', 4242).build()));
  assert.deepEqual(ok.result, { ok: true, address: '198.51.100.4', port: 4242, family: 4 });
  assert.equal(ok.pollTimeout(), undefined);
});

test('STUN client against a local responder over real UDP (with a retransmission)', async () => {
  const server = await stunResponder({ dropFirst: 1 });
  const client = await bind();
  try {
    const r = await stunBinding(client, '127.0.0.1', server.socket.address().port, { rto: 50, timeoutMs: 2000 });
    assert.deepEqual(r, { ok: true, address: '127.0.0.1', port: client.address().port, family: 4 });
    assert.equal(server.requests(), 2);
    assert.equal(client.listenerCount('message'), 0, 'helper removed its listener');
  } finally {
    await close(server.socket, client);
  }
});

test('STUN client error values: error response, timeout, unresolvable name', async () => {
  const errServer = await stunResponder({ error: 400 });
  const silent = await bind();
  const client = await bind();
  try {
    const e = await stunBinding(client, '127.0.0.1', errServer.socket.address().port, { timeoutMs: 1000 });
    assert.deepEqual(e, { ok: false, error: 'STUN error 400 Bad Request' });
    const t = await stunBinding(client, '127.0.0.1', silent.address().port, { rto: 20, timeoutMs: 150 });
    assert.equal(t.ok, false);
    assert.match((t as { error: string }).error, /timed out/);
    const d = await stunBinding(client, 'no-such-stun-server.invalid', 3478);
    assert.equal(d.ok, false);
    assert.match((d as { error: string }).error, /cannot resolve STUN server no-such-stun-server\.invalid/);
  } finally {
    await close(errServer.socket, silent, client);
  }
});

test('two IceAgents connect over real UDP sockets on 127.0.0.1', async () => {
  const [a1, a2, b1] = await Promise.all([bind(), bind(), bind()]);
  const a = new IceAgent({ controlling: true, localUfrag: 'ua', localPwd: 'pwd-a-pwd-a-pwd-a-pwd-a', remoteUfrag: 'ub', remotePwd: 'pwd-b-pwd-b-pwd-b-pwd-b', timing: { nominationDelay: 100 } });
  const b = new IceAgent({ controlling: false, localUfrag: 'ub', localPwd: 'pwd-b-pwd-b-pwd-b-pwd-b', remoteUfrag: 'ua', remotePwd: 'pwd-a-pwd-a-pwd-a-pwd-a' });
  const eventsA: IceEvent[] = [];
  const eventsB: IceEvent[] = [];
  const received: { kind: PacketKind; data: string }[] = [];
  let doneResolve!: () => void;
  const done = new Promise<void>((r) => (doneResolve = r));
  const check = () => {
    const ok = (x: IceAgent) => x.state === 'completed';
    if (ok(a) && ok(b)) doneResolve();
  };
  const da = new UdpIceDriver(a, { onEvent: (e) => (eventsA.push(e), check()) });
  const db = new UdpIceDriver(b, {
    onEvent: (e) => (eventsB.push(e), check()),
    onPacket: (kind, data) => received.push({ kind, data: data.subarray(1).toString() }),
  });
  const timeout = setTimeout(() => doneResolve(), 5000);
  try {
    a.addLocalCandidate(hostCandidate('127.0.0.1', a1.address().port, { localPreference: 65000 }), 1);
    a.addLocalCandidate(hostCandidate('127.0.0.1', a2.address().port, { localPreference: 60000 }), 2);
    b.addLocalCandidate(hostCandidate('127.0.0.1', b1.address().port), 1);
    for (const c of b.getLocalCandidates()) a.addRemoteCandidate(c);
    for (const c of a.getLocalCandidates()) b.addRemoteCandidate(c);
    a.endOfCandidates();
    b.endOfCandidates();
    da.addSocket(1, a1);
    da.addSocket(2, a2);
    db.addSocket(1, b1);
    await done;
    assert.equal(a.state, 'completed');
    assert.equal(b.state, 'completed');
    const pa = a.getSelectedPair()!;
    const pb = b.getSelectedPair()!;
    assert.equal(pa.local.port, a1.address().port, 'highest local preference wins');
    assert.equal(pb.remoteAddress.port, pa.local.port);
    assert.equal(pa.remoteAddress.port, pb.local.port);
    assert.ok(eventsA.some((e) => e.type === 'selected-pair'));
    assert.ok(eventsB.some((e) => e.type === 'state' && e.state === 'connected'));

    // media-plane traffic on the selected pair is demuxed away from the agent
    assert.ok(da.sendOnSelected(Buffer.from('\x16dtls-hello', 'latin1')));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(received, [{ kind: PacketKind.Dtls, data: 'dtls-hello' }]);
  } finally {
    clearTimeout(timeout);
    da.close();
    db.close();
    a.close();
    b.close();
    await close(a1, a2, b1);
  }
  // sanity: the STUN traffic was real requests/responses
  assert.equal(parseStun(new StunBuilder(StunMessageType.BindingRequest).build())!.cls, StunClass.Request);
});
