import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IceAgent, type IceAgentOptions, type SelectedPair } from '../../../src/media/ice/agent.js';
import { hostCandidate, pairPriority } from '../../../src/media/ice/candidate.js';
import { StunBuilder, StunMessageType, parseStun, verifyMessageIntegrity, StunClass } from '../../../src/media/stun/index.js';
import { FakeNet, seeded } from './harness.js';

const A_ADDRS = [
  ['10.0.0.1', 5000, 65000],
  ['192.168.0.1', 5002, 30000],
] as const;
const B_ADDRS = [
  ['10.0.0.2', 6000, 65000],
  ['192.168.0.2', 6002, 30000],
] as const;

interface Setup {
  net: FakeNet;
  a: IceAgent;
  b: IceAgent;
}

function setup(aOpts: Partial<IceAgentOptions>, bOpts: Partial<IceAgentOptions>, opts: { bKnowsCreds?: boolean; trickleToB?: boolean; endOfCandidates?: boolean } = {}): Setup {
  const net = new FakeNet();
  const a = new IceAgent({ controlling: true, localUfrag: 'aaaa', localPwd: 'a-password-a-password', remoteUfrag: 'bbbb', remotePwd: 'b-password-b-password', tieBreaker: 1000n, ...seeded(1), ...aOpts });
  const b = new IceAgent({
    controlling: false,
    localUfrag: 'bbbb',
    localPwd: 'b-password-b-password',
    ...(opts.bKnowsCreds === false ? {} : { remoteUfrag: 'aaaa', remotePwd: 'a-password-a-password' }),
    tieBreaker: 2000n,
    ...seeded(2),
    ...bOpts,
  });
  const na = net.add('a', a);
  const nb = net.add('b', b);
  A_ADDRS.forEach(([ip, port, pref], i) => {
    net.bind(na, i + 1, ip, port);
    a.addLocalCandidate(hostCandidate(ip, port, { localPreference: pref }), i + 1);
  });
  B_ADDRS.forEach(([ip, port, pref], i) => {
    net.bind(nb, i + 1, ip, port);
    b.addLocalCandidate(hostCandidate(ip, port, { localPreference: pref }), i + 1);
  });
  for (const c of b.getLocalCandidates()) a.addRemoteCandidate(c);
  if (opts.trickleToB !== false) for (const c of a.getLocalCandidates()) b.addRemoteCandidate(c);
  if (opts.endOfCandidates !== false) {
    a.endOfCandidates();
    if (opts.trickleToB !== false) b.endOfCandidates();
  }
  return { net, a, b };
}

/** A's selected pair and B's must be mirror images. */
function assertSamePair(a: SelectedPair | undefined, b: SelectedPair | undefined): void {
  assert.ok(a && b, 'both agents selected a pair');
  assert.deepEqual([a.local.address, a.local.port], [b.remoteAddress.address, b.remoteAddress.port]);
  assert.deepEqual([b.local.address, b.local.port], [a.remoteAddress.address, a.remoteAddress.port]);
}

const connected = (s: Setup) => () => {
  const ok = (x: IceAgent) => x.state === 'connected' || x.state === 'completed';
  return ok(s.a) && ok(s.b);
};

/** Drop everything between the two 10.0.0.x addresses, so the top pair fails. */
const breakTopPair = (s: Setup): void => {
  s.net.drop = (p) => p.from.address.startsWith('10.') && p.to.address.startsWith('10.');
};

test('full <-> full, regular nomination: same selected pair, states new→checking→connected→completed', () => {
  const s = setup({}, {});
  breakTopPair(s);
  s.net.run(20000, () => s.a.state === 'completed' && s.b.state === 'completed');
  assert.equal(s.a.state, 'completed');
  assert.equal(s.b.state, 'completed');
  const pa = s.a.getSelectedPair();
  const pb = s.b.getSelectedPair();
  assertSamePair(pa, pb);
  // expected: the best pair not involving both 10.x addresses, by the controlling-side formula
  const prio = (ip: string) => hostCandidate(ip, 1, { localPreference: ip.startsWith('10.') ? 65000 : 30000 }).priority;
  const cands = [
    ['10.0.0.1', '192.168.0.2'],
    ['192.168.0.1', '10.0.0.2'],
    ['192.168.0.1', '192.168.0.2'],
  ].sort((x, y) => (pairPriority(prio(y[0]!), prio(y[1]!)) > pairPriority(prio(x[0]!), prio(x[1]!)) ? 1 : -1));
  assert.deepEqual([pa!.local.address, pa!.remoteAddress.address], cands[0]);
  assert.deepEqual(s.net.states('a'), ['checking', 'connected', 'completed']);
  assert.deepEqual(s.net.states('b'), ['checking', 'connected', 'completed']);
  assert.equal(s.net.events('a').filter((e) => e.type === 'selected-pair').length, 1);
  // regular nomination: exactly one request from A carried USE-CANDIDATE (no loss on that pair)
  const uc = s.net.sent.filter((p) => p.agent === 'a' && parseStun(p.bytes)?.cls === StunClass.Request && parseStun(p.bytes)!.hasUseCandidate());
  assert.equal(uc.length, 1);
});

test('deterministic: the same scenario twice gives identical packet timing', () => {
  const run = () => {
    const s = setup({}, {});
    s.net.run(5000, connected(s));
    return s.net.sent.map((p) => `${p.at} ${p.agent} ${p.to.address}:${p.to.port} ${p.bytes.length}`).join('\n');
  };
  assert.equal(run(), run());
});

test('checks are paced by Ta', () => {
  const s = setup({}, {}, { trickleToB: false });
  s.net.drop = () => true; // nothing arrives: only A's first transmissions matter
  s.net.run(120);
  const firsts = s.net.sent.filter((p) => p.agent === 'a');
  assert.deepEqual(
    firsts.map((p) => p.at),
    [0, 50, 100],
  );
});

test('full <-> full, aggressive nomination: connected with the same pair', () => {
  const s = setup({ nomination: 'aggressive' }, {});
  s.net.run(20000, connected(s));
  assertSamePair(s.a.getSelectedPair(), s.b.getSelectedPair());
  // without loss the top pair wins
  assert.equal(s.a.getSelectedPair()!.local.address, '10.0.0.1');
  assert.equal(s.a.getSelectedPair()!.remoteAddress.address, '10.0.0.2');
  const first = s.net.sent.find((p) => p.agent === 'a');
  assert.ok(parseStun(first!.bytes)!.hasUseCandidate(), 'aggressive: USE-CANDIDATE on every check');
});

test('full (controlling) <-> lite: lite never initiates, selects the nominated pair', () => {
  const s = setup({}, { lite: true }, { trickleToB: false });
  breakTopPair(s);
  s.net.run(20000, connected(s));
  assertSamePair(s.a.getSelectedPair(), s.b.getSelectedPair());
  // every packet B sent is a response
  const bSent = s.net.sent.filter((p) => p.agent === 'b');
  assert.ok(bSent.length > 0);
  for (const p of bSent) assert.notEqual(parseStun(p.bytes)!.cls, StunClass.Request);
  // B learnt A's addresses as peer-reflexive
  assert.ok(s.net.events('b').some((e) => e.type === 'remote-prflx'));
  // lite sends nothing on its own, even later (no consent, no keepalive)
  const before = bSent.length;
  s.net.drop = () => true;
  s.net.run(s.net.now + 60000);
  assert.equal(s.net.sent.filter((p) => p.agent === 'b').length, before);
});

test('role conflict: both controlling resolve by tie-breaker and agree on a pair', () => {
  const s = setup({ tieBreaker: 5n }, { controlling: true, tieBreaker: 9n });
  s.net.run(20000, connected(s));
  assert.equal(s.b.controlling, true, 'larger tie-breaker keeps controlling');
  assert.equal(s.a.controlling, false);
  assert.ok(s.net.events('a').some((e) => e.type === 'role' && !e.controlling));
  assertSamePair(s.a.getSelectedPair(), s.b.getSelectedPair());
  // a 487 was exchanged
  assert.ok(s.net.sent.some((p) => parseStun(p.bytes)?.getErrorCode()?.code === 487));
});

test('role conflict: both controlled resolve and agree on a pair', () => {
  const s = setup({ controlling: false, tieBreaker: 5n }, { tieBreaker: 9n });
  s.net.run(20000, connected(s));
  assert.notEqual(s.a.controlling, s.b.controlling);
  assert.equal(s.b.controlling, true);
  assertSamePair(s.a.getSelectedPair(), s.b.getSelectedPair());
});

test('checks arriving before remote credentials are queued and processed later (trickle)', () => {
  const s = setup({}, {}, { bKnowsCreds: false, trickleToB: false });
  s.net.run(400);
  assert.equal(s.b.getSelectedPair(), undefined);
  assert.ok(s.net.events('b').some((e) => e.type === 'remote-prflx') === false, 'no pairs before credentials');
  // B answered A's checks although it cannot check back yet
  assert.ok(s.net.sent.some((p) => p.agent === 'b' && parseStun(p.bytes)!.cls === StunClass.SuccessResponse));
  assert.ok(!s.net.sent.some((p) => p.agent === 'b' && parseStun(p.bytes)!.cls === StunClass.Request));
  s.b.setRemoteCredentials('aaaa', 'a-password-a-password');
  s.net.run(20000, connected(s));
  assertSamePair(s.a.getSelectedPair(), s.b.getSelectedPair());
  assert.ok(s.net.events('b').some((e) => e.type === 'remote-prflx'));
});

test('loss of all responses: retransmits with backoff, then failed after end-of-candidates', () => {
  const s = setup({}, {}, { trickleToB: false });
  s.net.drop = (p) => p.agent === 'b';
  s.net.run(120000, () => s.a.state === 'failed');
  assert.equal(s.a.state, 'failed');
  const aReqs = s.net.sent.filter((p) => p.agent === 'a');
  const byTid = new Map<string, number[]>();
  for (const p of aReqs) {
    const k = parseStun(p.bytes)!.transactionKey();
    byTid.set(k, [...(byTid.get(k) ?? []), p.at]);
  }
  assert.equal(byTid.size, 4, 'one transaction per pair');
  for (const times of byTid.values()) {
    assert.equal(times.length, 7, 'Rc = 7 transmissions');
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.deepEqual(gaps, [500, 1000, 2000, 3000, 3000, 3000]);
  }
  assert.deepEqual(s.net.states('a'), ['checking', 'failed']);
  assert.equal(s.a.pollTimeout(), undefined);
});

test('without end-of-candidates, failure comes from the checking timeout', () => {
  const s = setup({ timing: { checkingTimeout: 20000 } }, {}, { trickleToB: false, endOfCandidates: false });
  s.net.drop = (p) => p.agent === 'b';
  s.net.run(19000);
  assert.equal(s.a.state, 'checking');
  s.net.run(21000);
  assert.equal(s.a.state, 'failed');
});

test('ICE restart: new credentials, new selection, old credentials rejected', () => {
  const s = setup({}, {});
  s.net.run(20000, connected(s));
  const firstA = s.a.getSelectedPair();
  assert.ok(firstA);
  const selectedEvents = s.net.events('a').filter((e) => e.type === 'selected-pair').length;

  s.a.restart('AAAA2', 'a-password-2-a-password-2');
  s.b.restart('BBBB2', 'b-password-2-b-password-2');
  assert.equal(s.a.getSelectedPair()?.remoteAddress.port, firstA.remoteAddress.port, 'old pair kept during restart');
  s.a.setRemoteCredentials('BBBB2', 'b-password-2-b-password-2');
  s.b.setRemoteCredentials('AAAA2', 'a-password-2-a-password-2');
  s.net.drop = (p) => p.to.address === '10.0.0.2'; // the old pair breaks
  for (const c of s.b.getLocalCandidates()) s.a.addRemoteCandidate({ ...c, ufrag: 'BBBB2' });
  for (const c of s.a.getLocalCandidates()) s.b.addRemoteCandidate(c);
  const t0 = s.net.now;
  s.net.run(t0 + 20000, () => s.net.events('a').filter((e) => e.type === 'selected-pair').length > selectedEvents && connected(s)());
  assertSamePair(s.a.getSelectedPair(), s.b.getSelectedPair());
  assert.notEqual(s.a.getSelectedPair()!.remoteAddress.address, '10.0.0.2');
  assert.ok(!s.net.states('a').includes('failed'));
  // a request with the old ufrag gets 401
  s.net.drop = undefined;
  const stale = new StunBuilder(StunMessageType.BindingRequest).username('bbbb:aaaa').priority(1).iceControlled(1n).build({ integrityKey: 'b-password-b-password', fingerprint: true });
  s.b.handlePacket(stale, { address: '10.0.0.1', port: 5000 }, 1, s.net.now);
  const resp = parseStun(s.b.pollTransmit()!.bytes)!;
  assert.equal(resp.getErrorCode()?.code, 401);
});

test('consent freshness: periodic checks keep it alive; expiry → disconnected then failed (~30 s)', () => {
  const s = setup({}, {});
  s.net.run(20000, connected(s));
  const t0 = s.net.now;
  s.net.run(t0 + 60000);
  assert.ok(s.a.state === 'completed' || s.a.state === 'connected');
  const consentReqs = s.net.sent.filter((p) => p.agent === 'a' && p.at > t0 && parseStun(p.bytes)!.cls === StunClass.Request);
  assert.ok(consentReqs.length >= 10 && consentReqs.length <= 16, `consent requests every ~5 s, got ${consentReqs.length}`);

  const t1 = s.net.now;
  s.net.drop = (p) => p.agent === 'b';
  s.net.run(t1 + 60000, () => s.a.state === 'failed');
  assert.equal(s.a.state, 'failed');
  const st = s.net.states('a');
  assert.deepEqual(st.slice(-2), ['disconnected', 'failed']);
  const elapsed = s.net.now - t1;
  assert.ok(elapsed >= 25000 && elapsed <= 36000, `failed after ${elapsed} ms`);
});

test('consent: disconnected recovers to connected when responses resume', () => {
  const s = setup({}, {});
  s.net.run(20000, connected(s));
  const t1 = s.net.now;
  s.net.drop = (p) => p.agent === 'b';
  s.net.run(t1 + 60000, () => s.a.state === 'disconnected');
  assert.equal(s.a.state, 'disconnected');
  s.net.drop = undefined;
  s.net.run(s.net.now + 10000, () => s.a.state !== 'disconnected');
  const st: string = s.a.state;
  assert.ok(st === 'connected' || st === 'completed');
});

test('keepalives: indications by default when consent is off, requests with keepaliveConncheck', () => {
  for (const conncheck of [false, true]) {
    const s = setup({ consentFreshness: false, keepaliveConncheck: conncheck }, { consentFreshness: false });
    s.net.run(20000, connected(s));
    const t0 = s.net.now;
    s.net.run(t0 + 31000);
    const after = s.net.sent.filter((p) => p.agent === 'a' && p.at > t0).map((p) => parseStun(p.bytes)!.cls);
    assert.equal(after.length, 2, `two keepalives in 31 s (conncheck=${conncheck})`);
    assert.ok(after.every((c) => c === (conncheck ? StunClass.Request : StunClass.Indication)));
  }
});

test('request validation: 400 / 401 / 420 and a proper success response', () => {
  const agent = new IceAgent({ controlling: false, localUfrag: 'loc', localPwd: 'local-password-1234567', remoteUfrag: 'rem', remotePwd: 'remote-password-123456', ...seeded(3) });
  agent.addLocalCandidate(hostCandidate('10.1.1.1', 4000), 7);
  const from = { address: '10.1.1.2', port: 4001 };
  const reply = (bytes: Buffer) => {
    assert.equal(agent.handlePacket(bytes, from, 7, 0), true);
    const t = agent.pollTransmit();
    assert.ok(t);
    assert.equal(t.localSocketId, 7);
    assert.deepEqual(t.to, from);
    return parseStun(t.bytes)!;
  };
  const req = () => new StunBuilder(StunMessageType.BindingRequest).priority(12345).iceControlling(7n);
  assert.equal(reply(req().build()).getErrorCode()?.code, 400);
  assert.equal(reply(req().username('other:rem').build({ integrityKey: 'local-password-1234567' })).getErrorCode()?.code, 401);
  assert.equal(reply(req().username('loc:rem').build({ integrityKey: 'wrong' })).getErrorCode()?.code, 401);
  const u = reply(req().username('loc:rem').add(0x0042, Buffer.from([1, 2])).build({ integrityKey: 'local-password-1234567' }));
  assert.equal(u.getErrorCode()?.code, 420);
  assert.deepEqual(u.getUnknownAttributes(), [0x0042]);
  const ok = reply(req().username('loc:rem').build({ integrityKey: 'local-password-1234567', fingerprint: true }));
  assert.equal(ok.type, StunMessageType.BindingSuccess);
  assert.deepEqual(ok.getXorMappedAddress(), { family: 4, ...from });
  assert.ok(verifyMessageIntegrity(ok, 'local-password-1234567'));
  // the source was unknown: peer-reflexive candidate, and a triggered check follows
  const evs = [agent.pollEvent(), agent.pollEvent(), agent.pollEvent()];
  assert.ok(evs.some((e) => e?.type === 'state' && e.state === 'checking'));
  const prflx = evs.find((e) => e?.type === 'remote-prflx');
  assert.ok(prflx?.type === 'remote-prflx' && prflx.candidate.priority === 12345 && prflx.candidate.address === '10.1.1.2');
  assert.equal(evs[2], undefined);
  assert.equal(agent.pollTimeout(), 0);
  agent.handleTimeout(0);
  const check = agent.pollTransmit();
  assert.ok(check);
  const m = parseStun(check.bytes)!;
  assert.equal(m.getUsername(), 'rem:loc');
  assert.ok(verifyMessageIntegrity(m, 'remote-password-123456'));
  assert.ok(m.getIceControlled() !== undefined);
  // bad fingerprint is silently dropped; non-STUN is not consumed
  const bad = Buffer.from(req().username('loc:rem').build({ integrityKey: 'local-password-1234567', fingerprint: true }));
  bad[bad.length - 1] ^= 0xff;
  assert.equal(agent.handlePacket(bad, from, 7, 1), true);
  assert.equal(agent.pollTransmit(), undefined);
  assert.equal(agent.handlePacket(Buffer.from([0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), from, 7, 1), false);
});

test('remote candidates: mDNS and other-generation ufrag are ignored; prflx upgraded by signalling', () => {
  const agent = new IceAgent({ controlling: true, localUfrag: 'l', localPwd: 'p'.repeat(22), remoteUfrag: 'r', remotePwd: 'q'.repeat(22), ...seeded(4) });
  agent.addLocalCandidate(hostCandidate('10.0.0.1', 1000), 1);
  assert.equal(agent.addRemoteCandidate({ ...hostCandidate('10.0.0.9', 9), address: 'abc.local' }), false);
  assert.equal(agent.addRemoteCandidate({ ...hostCandidate('10.0.0.9', 9), ufrag: 'old' }), false);
  assert.equal(agent.addRemoteCandidate({ ...hostCandidate('10.0.0.9', 9), component: 2 }), false);
  assert.equal(agent.addRemoteCandidate(hostCandidate('10.0.0.9', 9)), true);
  assert.equal(agent.addRemoteCandidate(hostCandidate('10.0.0.9', 9)), false, 'duplicate');
  assert.equal(agent.addRemoteCandidate(hostCandidate('::1', 9)), true);
  assert.equal(agent.getPairs().length, 1, 'no cross-family pairs');
  agent.close();
  assert.equal(agent.state, 'closed');
  assert.equal(agent.pollTimeout(), undefined);
});

test('a check using remote credentials we do not know yet is answered, held, and used once they are signalled', () => {
  const agent = new IceAgent({ controlling: false, localUfrag: 'loc', localPwd: 'local-password-1234567', remoteUfrag: 'old', remotePwd: 'old-password-123456789', ...seeded(5) });
  agent.addLocalCandidate(hostCandidate('10.1.1.1', 4000), 1);
  const from = { address: '10.1.1.2', port: 4001 };
  const req = new StunBuilder(StunMessageType.BindingRequest).username('loc:new').priority(99).iceControlling(1n).useCandidate().build({ integrityKey: 'local-password-1234567', fingerprint: true });
  agent.handlePacket(req, from, 1, 0);
  assert.equal(parseStun(agent.pollTransmit()!.bytes)!.type, StunMessageType.BindingSuccess);
  assert.equal(agent.getPairs().length, 0, 'no pair for an unknown generation');
  agent.setRemoteCredentials('new', 'new-password-123456789');
  assert.equal(agent.getPairs().length, 1);
  agent.handleTimeout(0);
  const check = parseStun(agent.pollTransmit()!.bytes)!;
  assert.equal(check.getUsername(), 'new:loc');
  // answer the triggered check: the pair becomes valid and, USE-CANDIDATE having been seen, selected
  const resp = new StunBuilder(StunMessageType.BindingSuccess, check.transactionId).xorMappedAddress('10.1.1.1', 4000).build({ integrityKey: 'new-password-123456789', fingerprint: true });
  agent.handlePacket(resp, from, 1, 10);
  assert.equal(agent.getSelectedPair()?.remoteAddress.port, 4001);
  assert.equal(agent.state, 'connected');
  // a response from the wrong source fails the pair instead (symmetry check)
  const other = new IceAgent({ controlling: true, localUfrag: 'x', localPwd: 'x'.repeat(22), remoteUfrag: 'y', remotePwd: 'y'.repeat(22), ...seeded(6) });
  other.addLocalCandidate(hostCandidate('10.1.1.1', 4000), 1);
  other.addRemoteCandidate(hostCandidate('10.1.1.2', 4001));
  other.endOfCandidates();
  other.handleTimeout(0);
  const c2 = parseStun(other.pollTransmit()!.bytes)!;
  const r2 = new StunBuilder(StunMessageType.BindingSuccess, c2.transactionId).xorMappedAddress('10.1.1.1', 4000).build({ integrityKey: 'y'.repeat(22), fingerprint: true });
  other.handlePacket(r2, { address: '10.1.1.3', port: 4001 }, 1, 5);
  assert.equal(other.getPairs()[0]!.state, 'failed');
  assert.equal(other.state, 'failed');
});

test('a local candidate added twice (a base that is also advertised as it is) is listed once', () => {
  const a = new IceAgent({ controlling: false, localUfrag: 'aaaa', localPwd: 'a-password-a-password', tieBreaker: 1n, ...seeded(3) });
  const base = hostCandidate('10.0.0.1', 5000);
  a.addLocalCandidate(base, 0);
  a.addLocalCandidate({ ...base }, 0);
  a.addLocalCandidate(hostCandidate('10.0.0.1', 5002), 0);
  assert.deepEqual(a.getLocalCandidates().map((c) => `${c.address}:${c.port}`), ['10.0.0.1:5000', '10.0.0.1:5002']);
});
