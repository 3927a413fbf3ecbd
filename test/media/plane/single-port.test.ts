/**
 * media.single_port through the whole media plane (Janus API, EchoTest), over real sockets: two of our
 * own clients get answers advertising the same UDP port, both connect (ICE, DTLS, SRTP) through the one
 * shared socket and each gets its own echo back; ICE-TCP listens on the same port number; a stranger's
 * datagrams are dropped and counted; a hangup unbinds that PeerConnection only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { JanusMessage } from '../../../src/core/messages.js';
import { tryParseCandidate } from '../../../src/media/ice/candidate.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { StunBuilder, StunMessageType } from '../../../src/media/stun/index.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, waitFor } from '../peer/helpers.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string } };

test('single_port: two PeerConnections on one UDP port, each echoed to its own client; strangers dropped; hangup unbinds', { timeout: 60_000 }, async () => {
  let port = 0;
  const w = await makeWorld((c) => {
    // the helper spaces ranges 20 apart and uses 10: the next 10 ports are nobody's
    port = c.media.rtp_port_range!.max + 3;
    c.media.single_port = port;
    c.nat.ice_tcp = true;
  });
  const c1 = await makeClient();
  const c2 = await makeClient();
  const stranger = createSocket('udp4');
  try {
    const handles: number[] = [];
    const sessions: number[] = [];
    for (const [i, c] of [c1, c2].entries()) {
      const [s, h] = await w.attachEcho();
      sessions.push(s);
      handles.push(h);
      await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: `o${i}`, body: {}, jsep: { type: 'offer', sdp: clientOffer(c) } });
      const a = await waitFor(`answer ${i}`, () => (w.client.events as Ev[]).find((e) => e.transaction === `o${i}` && e.jsep), 8000);
      const cands = [...new Set(a.jsep!.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')))].map((l) => tryParseCandidate(l)!);
      const udp = cands.filter((x) => x.transport === 'udp');
      assert.ok(udp.length >= 1 && udp.every((x) => x.port === port), `every UDP candidate on single_port ${port}: ${a.jsep!.sdp}`);
      const tcp = cands.filter((x) => x.transport === 'tcp');
      assert.deepEqual(tcp.map((x) => x.port), [port], 'ICE-TCP on the same port number');
      applyAnswer(c, a.jsep!.sdp);
    }
    await waitFor('both clients DTLS up', () => c1.up && c2.up, 15_000);
    const info = w.plane.singlePortInfo!;
    assert.equal(info.port, port);
    assert.equal(info.peerConnections, 2);
    assert.equal(w.plane.portsInUse, 0, 'no per-PeerConnection port taken');
    assert.equal(w.plane.peerOf(handles[0]!)!.port, port);

    for (let i = 0; i < 5; i++) {
      c1.peer.sendRtp('0', rtpPacket(111, 10 + i, 960 * i, 5, Buffer.from(`one-${i}`)), 17);
      c2.peer.sendRtp('0', rtpPacket(111, 10 + i, 960 * i, 5, Buffer.from(`two-${i}`)), 17);
    }
    await waitFor('both echoes', () => c1.rtp.length >= 5 && c2.rtp.length >= 5, 10_000);
    assert.ok(c1.rtp.every((p) => p.bytes.subarray(12).toString().startsWith('one-')), 'client 1 gets only its own echo');
    assert.ok(c2.rtp.every((p) => p.bytes.subarray(12).toString().startsWith('two-')), 'client 2 gets only its own echo');

    // a stranger's RTP and checks naming nobody: dropped and counted, the clients untouched
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
    for (const b of [rtpPacket(111, 1, 1, 5, Buffer.from('evil')), Buffer.from([0x00, 0x01, 0x00, 0x00])]) await new Promise<void>((r) => stranger.send(b, port, '127.0.0.1', () => r()));
    await waitFor('stranger counted', () => {
      const st = w.plane.singlePortInfo!.stats;
      return st.unknownSource >= 1 && st.unknownUfrag >= 1;
    });
    const errs = w.plane.metrics().errors!;
    assert.ok((errs.single_port_unknown_source ?? 0) >= 1, 'in /metrics');
    assert.equal(w.client.events.find((e) => e.janus === 'hangup'), undefined, 'no hangup');

    // hang up the first: its entries go, the second keeps echoing
    await w.req({ janus: 'hangup', session_id: sessions[0]!, handle_id: handles[0]! });
    await waitFor('first PeerConnection unbound', () => w.plane.singlePortInfo!.peerConnections === 1);
    const before = c2.rtp.length;
    c2.peer.sendRtp('0', rtpPacket(111, 99, 99_000, 5, Buffer.from('two-after')), 21);
    await waitFor('second still echoes', () => c2.rtp.length > before);
    const n1 = c1.rtp.length;
    c1.peer.sendRtp('0', rtpPacket(111, 99, 99_000, 5, Buffer.from('one-after')), 21);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c1.rtp.length, n1, 'nothing echoed to the hung-up client');
  } finally {
    stranger.close();
    c1.close();
    c2.close();
    await w.stop();
  }
  assert.equal(w.plane.singlePortInfo!.peerConnections, 0);
});

test('single_port: an ICE restart moves the PeerConnection to its new ufrag; the old one routes nowhere; media keeps flowing', { timeout: 60_000 }, async () => {
  const w = await makeWorld((c) => {
    c.media.single_port = c.media.rtp_port_range!.max + 5;
  });
  const c = await makeClient();
  const stranger = createSocket('udp4');
  try {
    const [s, h] = await w.attachEcho();
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'o1', body: {}, jsep: { type: 'offer', sdp: clientOffer(c) } });
    const a1 = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'o1' && e.jsep), 8000);
    applyAnswer(c, a1.jsep!.sdp);
    await waitFor('DTLS up', () => c.up, 10_000);
    const oldUfrag = parseSdp(a1.jsep!.sdp).media[0]!.iceUfrag!;

    c.peer.restartIce();
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'o2', body: {}, jsep: { type: 'offer', sdp: clientOffer(c) } });
    const a2 = await waitFor('restart answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'o2' && e.jsep), 8000);
    const newUfrag = parseSdp(a2.jsep!.sdp).media[0]!.iceUfrag!;
    assert.notEqual(newUfrag, oldUfrag);
    applyAnswer(c, a2.jsep!.sdp);
    const server = w.plane.peerOf(h)!;
    await waitFor('checks with the new credentials succeed (server)', () => server.iceAgent!.getPairs().some((p) => p.state === 'succeeded'), 10_000);
    c.peer.sendRtp('0', rtpPacket(111, 50, 48_000, 5, Buffer.from('after')), 17);
    await waitFor('echo after the restart', () => c.rtp.find((p) => p.bytes.subarray(12).toString() === 'after'), 8000);

    // A check naming the old ufrag, from an address nobody bound: routed nowhere, counted.
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
    const before = w.plane.singlePortInfo!.stats.unknownUfrag;
    const old = new StunBuilder(StunMessageType.BindingRequest).username(`${oldUfrag}:x`).priority(1).build({ integrityKey: 'x'.repeat(22), fingerprint: true });
    await new Promise<void>((r) => stranger.send(old, w.plane.singlePortInfo!.port, '127.0.0.1', () => r()));
    await waitFor('old ufrag counted unknown', () => w.plane.singlePortInfo!.stats.unknownUfrag === before + 1);
    assert.equal(w.client.events.filter((e) => e.janus === 'hangup').length, 0);
  } finally {
    stranger.close();
    c.close();
    await w.stop();
  }
});
