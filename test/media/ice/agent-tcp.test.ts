import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IceAgent, type IceEvent } from '../../../src/media/ice/agent.js';
import { hostCandidate, parseCandidate, serializeCandidate, tcpPassiveCandidate } from '../../../src/media/ice/candidate.js';
import { StunBuilder, StunMessageType, parseStun } from '../../../src/media/stun/index.js';
import { seeded } from './harness.js';

const SERVER_PWD = 'server-password-server-pw';
const CLIENT_PWD = 'client-password-client-pw';
const CLIENT_TCP = { address: '10.0.0.9', port: 50123 };

function serverAgent(lite = false): IceAgent {
  const a = new IceAgent({ lite, controlling: false, localUfrag: 'srv1', localPwd: SERVER_PWD, remoteUfrag: 'cli1', remotePwd: CLIENT_PWD, ...seeded(3) });
  a.addLocalCandidate(hostCandidate('10.0.0.1', 10000), 0); // UDP socket
  // a browser's signalled candidates: UDP host (unreachable here) and TCP active on the discard port
  a.addRemoteCandidate(parseCandidate('candidate:1 1 udp 2122260223 10.0.0.9 61000 typ host'));
  a.addRemoteCandidate(parseCandidate('candidate:2 1 tcp 1518280447 10.0.0.9 9 typ host tcptype active'));
  return a;
}

function clientCheck(useCandidate: boolean): Buffer {
  const b = new StunBuilder(StunMessageType.BindingRequest).username('srv1:cli1').priority(1518280447).iceControlling(99n);
  if (useCandidate) b.useCandidate();
  return b.build({ integrityKey: SERVER_PWD, fingerprint: true });
}

function drain(a: IceAgent): { transmits: { bytes: Buffer; to: { address: string; port: number }; localSocketId: number }[]; events: IceEvent[] } {
  const transmits = [];
  const events = [];
  for (let t = a.pollTransmit(); t; t = a.pollTransmit()) transmits.push(t);
  for (let e = a.pollEvent(); e; e = a.pollEvent()) events.push(e);
  return { transmits, events };
}

test('TCP passive candidates rank below every UDP candidate (RFC 6544 4.2), and serialize with tcptype passive', () => {
  const tcp = tcpPassiveCandidate('10.0.0.1', 10000);
  const udpHost = hostCandidate('10.0.0.1', 10000, { localPreference: 0 });
  assert.ok(tcp.priority < udpHost.priority, 'lowest-preference UDP host still beats TCP');
  assert.ok(tcp.priority >>> 24 === 90);
  assert.equal((tcp.priority >>> 8) & 0xffff, 4 * 0x2000 + 0x1fff, 'direction-pref passive (4) << 13 | other-pref');
  const line = serializeCandidate(tcp);
  assert.match(line, / 1 tcp \d+ 10\.0\.0\.1 10000 typ host tcptype passive$/);
  assert.deepEqual(parseCandidate(line), tcp);
});

test('signalled TCP candidates form no pairs; UDP pairs are unaffected', () => {
  const a = serverAgent();
  const pairs = a.getPairs();
  assert.equal(pairs.length, 1);
  assert.equal(pairs[0]!.local.transport, 'udp');
  assert.equal(pairs[0]!.remote.transport, 'udp');
});

for (const lite of [false, true]) {
  test(`a check on an accepted TCP connection pairs it (peer-reflexive tcp remote), answered and selected on that connection (${lite ? 'lite' : 'full'})`, () => {
    const a = serverAgent(lite);
    drain(a);
    // a TCP connection adopted as local socket 1, whose base is the passive candidate
    a.addLocalCandidate(tcpPassiveCandidate('10.0.0.1', 10000), 1);
    assert.equal(a.getPairs().length, lite ? 0 : 1, 'the TCP base pairs with nothing signalled');
    const req = clientCheck(true);
    assert.equal(a.handlePacket(req, CLIENT_TCP, 1, 10), true);
    const out = drain(a);
    const resp = out.transmits.find((t) => parseStun(t.bytes)!.type === StunMessageType.BindingSuccess)!;
    assert.ok(resp, 'success response');
    assert.equal(resp.localSocketId, 1, 'answered on the TCP connection');
    assert.deepEqual(resp.to, CLIENT_TCP);
    assert.deepEqual(parseStun(resp.bytes)!.getXorMappedAddress()!.port, CLIENT_TCP.port);
    const prflx = out.events.find((e) => e.type === 'remote-prflx');
    assert.ok(prflx && prflx.type === 'remote-prflx' && prflx.candidate.transport === 'tcp' && prflx.candidate.tcpType === 'active');
    const tcpPair = a.getPairs().find((p) => p.local.transport === 'tcp')!;
    assert.ok(tcpPair, 'pair formed from the check');
    assert.equal(tcpPair.remote.port, CLIENT_TCP.port);
    const udpPair = a.getPairs().find((p) => p.local.transport === 'udp');
    if (udpPair) assert.ok(udpPair.priority > tcpPair.priority, 'the UDP pair outranks the TCP pair');

    if (!lite) {
      // full agent: a triggered check goes back on the same connection; answer it
      a.handleTimeout(20);
      const trig = drain(a).transmits.concat(drain(a).transmits);
      a.handleTimeout(100);
      trig.push(...drain(a).transmits);
      const check = trig.find((t) => t.localSocketId === 1 && parseStun(t.bytes)!.type === StunMessageType.BindingRequest);
      assert.ok(check, 'triggered check on the TCP connection');
      assert.deepEqual(check.to, CLIENT_TCP);
      const tid = parseStun(check.bytes)!.transactionId;
      const ok = new StunBuilder(StunMessageType.BindingSuccess, tid).xorMappedAddress('10.0.0.1', 10000).build({ integrityKey: CLIENT_PWD, fingerprint: true });
      a.handlePacket(ok, CLIENT_TCP, 1, 120);
    }
    const ev = drain(a).events;
    const sel = a.getSelectedPair();
    assert.ok(sel, `selected (events: ${JSON.stringify(ev.map((e) => e.type))})`);
    assert.equal(sel.localSocketId, 1);
    assert.equal(sel.local.transport, 'tcp');
    assert.deepEqual(sel.remoteAddress, CLIENT_TCP);
    assert.ok(a.state === 'connected' || a.state === 'completed');
  });
}

test('the same address and port on UDP and on TCP are two remotes (no cross-transport pair)', () => {
  const a = serverAgent();
  drain(a);
  a.addLocalCandidate(tcpPassiveCandidate('10.0.0.1', 10000), 1);
  // check from the signalled UDP address but arriving over TCP
  a.handlePacket(clientCheck(false), { address: '10.0.0.9', port: 61000 }, 1, 5);
  const pairs = a.getPairs();
  const tcpPairs = pairs.filter((p) => p.local.transport === 'tcp');
  assert.equal(tcpPairs.length, 1);
  assert.equal(tcpPairs[0]!.remote.transport, 'tcp');
  assert.equal(pairs.filter((p) => p.local.transport === 'udp' && p.remote.transport === 'udp').length, 1);
  assert.ok(pairs.every((p) => p.local.transport === p.remote.transport));
});
