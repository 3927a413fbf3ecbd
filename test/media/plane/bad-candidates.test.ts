/**
 * Remote candidates nothing can be sent to (issue 11: a port-0 candidate made socket.send throw in the
 * ICE timer and killed the process). Unit level: the parser and the agent refuse them. End to end: an
 * EchoTest offer carrying only such candidates, then the same trickled, over real UDP: the server
 * answers, never pairs with them, connects through the client's checks (peer-reflexive) and echoes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JanusMessage } from '../../../src/core/messages.js';
import { faultCount } from '../../../src/core/fault.js';
import { IceAgent } from '../../../src/media/ice/agent.js';
import { hostCandidate, isUsableDestination, tryParseCandidate } from '../../../src/media/ice/candidate.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, sleep, waitFor } from '../peer/helpers.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string } };

const line = (addr: string, port: string | number): string => `candidate:1 1 udp 2130706431 ${addr} ${port} typ host`;

/** Unparsable: the parser refuses them. */
const UNPARSABLE = [line('127.0.0.1', 0), line('127.0.0.1', 65536), line('127.0.0.1', -1), line('127.0.0.1', 'abc'), line('foo.example.com', 5000), line('127.0.0.1', '1e3')];
/** Parse, but no pair may form with them (agent refuses, or another family than the socket's). */
const UNUSABLE = [line('0.0.0.0', 5000), line('255.255.255.255', 5000), line('224.0.0.1', 5000), line('239.255.255.250', 1900), line('::', 5000), line('ff02::1', 5000), line('::1', 5000)];
/** Accepted and ignored, as before (mDNS names are never resolved). */
const MDNS = line('8f3c2b1a-1111-2222-3333-444455556666.local', 5000);

test('the candidate parser refuses port 0, out-of-range and non-numeric ports, and non-IP addresses', () => {
  for (const l of UNPARSABLE) assert.equal(tryParseCandidate(l), undefined, l);
  assert.ok(tryParseCandidate(MDNS), 'mDNS names still parse');
  assert.ok(tryParseCandidate(line('127.0.0.1', 1)));
  assert.ok(tryParseCandidate(line('127.0.0.1', 65535)));
  // rport 0 is what browsers put on srflx candidates they hide the base of: still fine.
  assert.ok(tryParseCandidate('candidate:2 1 udp 1686052607 203.0.113.9 40000 typ srflx raddr 0.0.0.0 rport 0'));
});

test('isUsableDestination: unicast only, ports 1-65535', () => {
  for (const [a, p] of [['0.0.0.0', 5], ['0.1.2.3', 5], ['255.255.255.255', 5], ['224.0.0.1', 5], ['240.0.0.1', 5], ['::', 5], ['ff02::1', 5], ['127.0.0.1', 0], ['127.0.0.1', 65536], ['127.0.0.1', -1], ['127.0.0.1', 1.5], ['example.com', 5]] as const) {
    assert.equal(isUsableDestination(a, p), false, `${a}:${p}`);
  }
  for (const [a, p] of [['127.0.0.1', 1], ['10.0.0.1', 65535], ['223.255.255.254', 9], ['::1', 5], ['2001:db8::1', 5]] as const) {
    assert.equal(isUsableDestination(a, p), true, `${a}:${p}`);
  }
});

test('the ICE agent never pairs with an unusable remote candidate', () => {
  const agent = new IceAgent({ lite: false, controlling: false, localUfrag: 'abcd', localPwd: 'x'.repeat(22) });
  agent.addLocalCandidate(hostCandidate('127.0.0.1', 40000), 0);
  agent.setRemoteCredentials('efgh', 'y'.repeat(22));
  for (const l of UNUSABLE) {
    const c = tryParseCandidate(l);
    assert.ok(c, l);
    agent.addRemoteCandidate(c);
  }
  // Port 0 reaching the agent another way (a caller that skips the parser).
  agent.addRemoteCandidate({ ...tryParseCandidate(line('127.0.0.1', 5000))!, port: 0 });
  assert.deepEqual(agent.getPairs(), [], 'no pair with an unusable destination (nor across families)');
  for (let now = 0; now < 2000; now += 50) {
    agent.handleTimeout(now);
    for (let t = agent.pollTransmit(); t; t = agent.pollTransmit()) assert.fail(`nothing sent (sent to ${t.to.address}:${t.to.port})`);
  }
  // A good candidate still pairs (the test above can fail).
  agent.addRemoteCandidate(tryParseCandidate(line('127.0.0.1', 5000))!);
  assert.equal(agent.getPairs().length, 1);
});

test('EchoTest: an offer and trickles with only bad candidates are answered, ignored, and the PeerConnection still connects and echoes', { timeout: 40_000 }, async () => {
  const w = await makeWorld();
  const c = await makeClient();
  const before = faultCount('send');
  try {
    const [s, h] = await w.attachEcho();
    const bad = [...UNPARSABLE, ...UNUSABLE, MDNS];
    // Only bad candidates in the offer: the server's checks could only go to them.
    const sdp = clientOffer(c, { stripCandidates: true })
      .split('\r\n')
      .flatMap((l) => (l.startsWith('a=mid:') ? [l, ...bad.map((b) => `a=${b}`)] : [l]))
      .join('\r\n');
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'offer', body: {}, jsep: { type: 'offer', sdp } });
    const ev = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'offer' && e.jsep), 8000);
    // Trickled, one by one and as a list: each is acknowledged like Janus does (ack), none throws.
    for (const b of bad) {
      const r = await w.req({ janus: 'trickle', session_id: s, handle_id: h, candidate: { candidate: b, sdpMid: '0', sdpMLineIndex: 0 } });
      assert.equal(r.janus, 'ack', `${b}: ${JSON.stringify(r)}`);
    }
    const r = await w.req({ janus: 'trickle', session_id: s, handle_id: h, candidates: bad.map((b) => ({ candidate: b, sdpMid: '0', sdpMLineIndex: 0 })) });
    assert.equal(r.janus, 'ack');
    // Let the server's ICE timer run its checks for a while (the crash came from there).
    await sleep(1500);
    const server = w.plane.peerOf(h);
    assert.ok(server, 'the PeerConnection is still there');
    for (const p of server.iceAgent!.getPairs()) assert.ok(isUsableDestination(p.remote.address, p.remote.port), `pair with ${p.remote.address}:${p.remote.port}`);
    // Connectivity through the client's own checks (the server learns it peer-reflexive).
    applyAnswer(c, ev.jsep!.sdp);
    await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup' && e.sender === h), 10_000);
    await waitFor('client DTLS up', () => c.up);
    c.peer.sendRtp('0', rtpPacket(111, 1, 960, 5, Buffer.from('ping')), 16);
    await waitFor('echo', () => c.rtp.find((p) => p.bytes.subarray(12).toString() === 'ping'));
    assert.equal(w.client.events.find((e) => e.janus === 'hangup'), undefined, 'no hangup');
    assert.equal(faultCount('send'), before, 'no send ever failed');
    // The gateway still serves.
    const info = await w.req({ janus: 'info' });
    assert.equal(info.janus, 'server_info');
  } finally {
    c.close();
    await w.stop();
  }
});
