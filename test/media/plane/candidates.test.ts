/**
 * What the plane advertises, end to end through the Janus API (the candidates in the answer SDP):
 * server-reflexive candidates from a STUN server found by the startup probe, 1:1 NAT mapping with and
 * without keep_private_host, and every media socket inside rtp_port_range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JanusMessage } from '../../../src/core/messages.js';
import { tryParseCandidate, type IceCandidate } from '../../../src/media/ice/candidate.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, waitFor, type ClientPeer, type World } from '../peer/helpers.js';
import { startStunResponder } from './stun-responder.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string } };

async function offerAnswer(w: World, c: ClientPeer, tx: string): Promise<{ h: number; answer: string; candidates: IceCandidate[] }> {
  const [s, h] = await w.attachEcho();
  await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: tx, body: {}, jsep: { type: 'offer', sdp: clientOffer(c) } });
  const ev = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === tx && e.jsep), 8000);
  const answer = ev.jsep!.sdp;
  const candidates = parseSdp(answer).media[0]!.candidates.map((l) => tryParseCandidate(l)!).filter(Boolean);
  return { h, answer, candidates };
}

async function echoes(w: World, c: ClientPeer, h: number, answer: string): Promise<void> {
  applyAnswer(c, answer);
  await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup' && e.sender === h), 10_000);
  await waitFor('client DTLS up', () => c.up);
  c.peer.sendRtp('0', rtpPacket(111, 1, 960, 5, Buffer.from('ping')), 16);
  await waitFor('echo', () => c.rtp.find((p) => p.bytes.subarray(12).toString() === 'ping'));
}

function assertInRange(w: World, port: number): void {
  const r = w.config.media.rtp_port_range!;
  assert.ok(port >= r.min && port <= r.max, `port ${port} inside rtp_port_range ${r.min}-${r.max}`);
}

test('stun_server: the startup probe finds the mapped address, each media socket gets its srflx candidate in the answer', { timeout: 30_000 }, async () => {
  const stun = await startStunResponder({ mappedIp: '203.0.113.5', portOffset: 1000 });
  const w = await makeWorld(
    (cfg) => {
      cfg.nat.stun_server = '127.0.0.1';
      cfg.nat.stun_port = stun.port;
    },
    { discover: true },
  );
  const c = await makeClient();
  try {
    assert.equal(w.plane.candidates.stunUsable, true);
    assert.equal(w.plane.candidates.publicIp, '203.0.113.5');
    const { h, answer, candidates } = await offerAnswer(w, c, 'a');
    const server = w.plane.peerOf(h)!;
    assertInRange(w, server.port);
    const host = candidates.find((x) => x.type === 'host')!;
    const srflx = candidates.find((x) => x.type === 'srflx');
    assert.ok(host, answer);
    assert.equal(host.address, '127.0.0.1');
    assert.equal(host.port, server.port);
    assert.ok(srflx, `a srflx candidate in the answer:\n${answer}`);
    assert.equal(srflx.address, '203.0.113.5');
    assert.equal(srflx.port, server.port + 1000);
    assert.equal(srflx.relatedAddress, '127.0.0.1');
    assert.equal(srflx.relatedPort, server.port);
    assert.ok(srflx.priority < host.priority);
    // The per-socket request came from the media socket itself (so the mapping is that socket's).
    assert.ok(stun.requests.includes(server.port), `STUN requests from ${stun.requests.join(',')}`);
    // The unreachable srflx address does not get in the way.
    await echoes(w, c, h, answer);
  } finally {
    c.close();
    await w.stop();
    stun.close();
  }
});

test('a silent stun_server: startup warning, no srflx candidates, host candidates still work', { timeout: 30_000 }, async () => {
  const stun = await startStunResponder({ silent: true });
  const w = await makeWorld(
    (cfg) => {
      cfg.nat.stun_server = '127.0.0.1';
      cfg.nat.stun_port = stun.port;
    },
    { discover: true },
  );
  const c = await makeClient();
  try {
    assert.equal(w.plane.candidates.stunUsable, false);
    assert.ok(stun.requests.length >= 1, 'the probe was sent');
    const { h, answer, candidates } = await offerAnswer(w, c, 'a');
    assert.deepEqual(candidates.map((x) => x.type), ['host']);
    await echoes(w, c, h, answer);
  } finally {
    c.close();
    await w.stop();
    stun.close();
  }
});

test('nat_1_1_mapping without keep_private_host: only the public address is advertised (c=/o= too); media still connects (peer-reflexive)', { timeout: 30_000 }, async () => {
  const w = await makeWorld((cfg) => (cfg.nat.nat_1_1_mapping = ['198.51.100.7']), { discover: true });
  const c = await makeClient();
  try {
    const { h, answer, candidates } = await offerAnswer(w, c, 'a');
    const server = w.plane.peerOf(h)!;
    assertInRange(w, server.port);
    assert.deepEqual(candidates.map((x) => `${x.type} ${x.address}:${x.port}`), [`host 198.51.100.7:${server.port}`]);
    assert.ok(!answer.includes('127.0.0.1'), 'the private address never appears');
    assert.equal(parseSdp(answer).origin.address, '198.51.100.7');
    // Our full ICE agent checks the client's candidates from the private base: the client learns it as prflx.
    await echoes(w, c, h, answer);
  } finally {
    c.close();
    await w.stop();
  }
});

test('nat_1_1_mapping with keep_private_host: private and public host candidates, the public one ranked just below', { timeout: 30_000 }, async () => {
  const w = await makeWorld(
    (cfg) => {
      cfg.nat.nat_1_1_mapping = ['198.51.100.7'];
      cfg.nat.keep_private_host = true;
    },
    { discover: true },
  );
  const c = await makeClient();
  try {
    const { h, answer, candidates } = await offerAnswer(w, c, 'a');
    const server = w.plane.peerOf(h)!;
    assert.deepEqual(candidates.map((x) => `${x.type} ${x.address}:${x.port}`), [`host 127.0.0.1:${server.port}`, `host 198.51.100.7:${server.port}`]);
    assert.ok(candidates[1]!.priority < candidates[0]!.priority);
    assert.notEqual(candidates[0]!.foundation, candidates[1]!.foundation);
    await echoes(w, c, h, answer);
  } finally {
    c.close();
    await w.stop();
  }
});

test('every media socket is bound inside rtp_port_range; the range frees up on hangup', { timeout: 30_000 }, async () => {
  const w = await makeWorld((cfg) => {
    const p = cfg.media.rtp_port_range!.min;
    cfg.media.rtp_port_range = { min: p, max: p + 2 };
  });
  const clients = await Promise.all([makeClient(), makeClient(), makeClient()]);
  try {
    const ports: number[] = [];
    const handles: Array<[number, number]> = [];
    for (const [i, c] of clients.entries()) {
      const [s, h] = await w.attachEcho();
      handles.push([s, h]);
      await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: `t${i}`, body: {}, jsep: { type: 'offer', sdp: clientOffer(c) } });
      const ev = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === `t${i}` && e.jsep));
      const port = parseSdp(ev.jsep!.sdp).media[0]!.port;
      assertInRange(w, port);
      assert.equal(port, w.plane.peerOf(h)!.port);
      ports.push(port);
    }
    assert.equal(new Set(ports).size, 3, 'three distinct ports');
    assert.equal(w.plane.portsInUse, 3);
    // Full: the next PeerConnection fails cleanly; after a hangup its port is reused.
    const extra = await makeClient();
    try {
      const [s4, h4] = await w.attachEcho();
      const r = await w.req({ janus: 'message', session_id: s4, handle_id: h4, body: {}, jsep: { type: 'offer', sdp: clientOffer(extra) } });
      assert.equal(r.janus, 'error');
      const [s1, h1] = handles[0]!;
      await w.req({ janus: 'hangup', session_id: s1, handle_id: h1 });
      await waitFor('port released', () => w.plane.portsInUse === 2);
      await w.req({ janus: 'message', session_id: s4, handle_id: h4, transaction: 'again', body: {}, jsep: { type: 'offer', sdp: clientOffer(extra) } });
      const ev = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'again' && e.jsep));
      assert.equal(parseSdp(ev.jsep!.sdp).media[0]!.port, ports[0]);
    } finally {
      extra.close();
    }
  } finally {
    for (const c of clients) c.close();
    await w.stop();
  }
});
