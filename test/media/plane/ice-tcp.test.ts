/**
 * nat.ice_tcp through the whole media plane (Janus API, EchoTest), over real sockets: the answer
 * advertises passive TCP candidates on the plane's listener, ranked below UDP; a client that connects
 * over TCP gets its checks answered on that connection and the server selects the TCP pair; garbage on
 * the listener closes only that connection, and a UDP PeerConnection keeps echoing meanwhile.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { JanusMessage } from '../../../src/core/messages.js';
import { tryParseCandidate } from '../../../src/media/ice/candidate.js';
import { Rfc4571Reader, frame } from '../../../src/media/net/rfc4571.js';
import { StunBuilder, StunMessageType, parseStun, verifyMessageIntegrity } from '../../../src/media/stun/index.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, waitFor } from '../peer/helpers.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string } };

const attr = (sdp: string, name: string): string => sdp.split('\r\n').find((l) => l.startsWith(`a=${name}:`))!.slice(name.length + 3);

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

test('ice_tcp: passive TCP candidates in the answer; a TCP client is answered on its connection and selected; garbage closes only its connection', { timeout: 60_000 }, async () => {
  const w = await makeWorld((c) => {
    c.nat.ice_tcp = true;
  });
  const udp = await makeClient();
  const sockets: Socket[] = [];
  try {
    // 1. A UDP PeerConnection: TCP candidates advertised, UDP wins, echo works.
    const [s1, h1] = await w.attachEcho();
    await w.req({ janus: 'message', session_id: s1, handle_id: h1, transaction: 'o1', body: {}, jsep: { type: 'offer', sdp: clientOffer(udp) } });
    const a1 = await waitFor('answer 1', () => (w.client.events as Ev[]).find((e) => e.transaction === 'o1' && e.jsep), 8000);
    const cands = [...new Set(a1.jsep!.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')))].map((l) => tryParseCandidate(l)!);
    const tcp = cands.filter((c) => c.transport === 'tcp');
    const info = w.plane.iceTcpInfo;
    assert.ok(info, 'the listener is open');
    assert.equal(tcp.length, 1, a1.jsep!.sdp);
    assert.equal(tcp[0]!.tcpType, 'passive');
    assert.equal(tcp[0]!.port, info.port);
    assert.ok(info.port >= w.config.media.rtp_port_range!.min && info.port <= w.config.media.rtp_port_range!.max, 'TCP port from rtp_port_range');
    for (const u of cands.filter((c) => c.transport === 'udp')) assert.ok(u.priority > tcp[0]!.priority, 'UDP candidates rank above TCP');
    applyAnswer(udp, a1.jsep!.sdp);
    await waitFor('client 1 DTLS up', () => udp.up, 10_000);
    assert.equal(w.plane.peerOf(h1)!.selectedTransport, 'udp');

    // 2. Garbage, an unknown ufrag and a huge length on the listener: closed and counted.
    for (const bytes of [Buffer.from('\x00\x05hello'), frame(new StunBuilder(StunMessageType.BindingRequest).username('zzzz:yy').build({ fingerprint: true }), 0, 28 + 12), Buffer.from([0xff, 0xf0, 1])]) {
      const g = await dial(info.port);
      sockets.push(g);
      const closed = new Promise<void>((r) => g.once('close', () => r()));
      g.on('error', () => undefined);
      g.write(bytes);
      await closed;
    }
    const st = w.plane.iceTcpInfo!.stats;
    assert.equal(st.garbage + st.unknownUfrag + st.oversize, 3, JSON.stringify(st));
    assert.equal(st.oversize, 1);
    const errs = w.plane.metrics().errors!;
    assert.equal(errs.ice_tcp_oversize, 1, 'counted in /metrics (portunus_media_errors_total)');
    assert.equal((errs.ice_tcp_garbage ?? 0) + (errs.ice_tcp_unknown_ufrag ?? 0), 2);
    udp.peer.sendRtp('0', rtpPacket(111, 1, 960, 5, Buffer.from('ping')), 16);
    await waitFor('UDP echo still works', () => udp.rtp.find((p) => p.bytes.subarray(12).toString() === 'ping'));

    // 3. A second PeerConnection reached only over TCP (an RFC 6544 active client by hand).
    const udp2 = await makeClient();
    try {
      const [s2, h2] = await w.attachEcho();
      const offer = clientOffer(udp2, { stripCandidates: true });
      await w.req({ janus: 'message', session_id: s2, handle_id: h2, transaction: 'o2', body: {}, jsep: { type: 'offer', sdp: offer } });
      const a2 = await waitFor('answer 2', () => (w.client.events as Ev[]).find((e) => e.transaction === 'o2' && e.jsep), 8000);
      const srvUfrag = attr(a2.jsep!.sdp, 'ice-ufrag');
      const srvPwd = attr(a2.jsep!.sdp, 'ice-pwd');
      const cliUfrag = attr(offer, 'ice-ufrag');
      const cliPwd = attr(offer, 'ice-pwd');
      const t = await dial(info.port);
      sockets.push(t);
      const frames: Buffer[] = [];
      const reader = new Rfc4571Reader(4096, (f) => frames.push(Buffer.from(f)));
      t.on('data', (d: Buffer) => reader.push(d));
      const req = new StunBuilder(StunMessageType.BindingRequest).username(`${srvUfrag}:${cliUfrag}`).priority(1518280447).iceControlling(12345n).useCandidate().build({ integrityKey: srvPwd, fingerprint: true });
      t.write(frame(req, 0, req.length));
      const resp = await waitFor('success response on the TCP connection', () => frames.map((f) => parseStun(f)).find((m) => m?.type === StunMessageType.BindingSuccess));
      assert.ok(verifyMessageIntegrity(resp, srvPwd), 'authenticated with the server password');
      assert.equal(resp.getXorMappedAddress()!.port, t.localPort, 'the mapped address is our TCP source');
      // the server's triggered check comes back on the same connection: answer it
      const check = await waitFor('triggered check on the TCP connection', () => frames.map((f) => parseStun(f)).find((m) => m?.type === StunMessageType.BindingRequest));
      assert.equal(check.getUsername(), `${cliUfrag}:${srvUfrag}`);
      const ok = new StunBuilder(StunMessageType.BindingSuccess, check.transactionId).xorMappedAddress('127.0.0.1', info.port).build({ integrityKey: cliPwd, fingerprint: true });
      t.write(frame(ok, 0, ok.length));
      const peer2 = w.plane.peerOf(h2)!;
      await waitFor('the server selects the TCP pair', () => peer2.selectedTransport === 'tcp');
      assert.equal(peer2.iceAgent!.getSelectedPair()!.local.transport, 'tcp');
      // after adoption, garbage frames are dropped by the PeerConnection, not fatal
      const dropped = peer2.stats.dropped;
      t.write(Buffer.concat([frame(Buffer.from([0xff, 1, 2]), 0, 3), frame(Buffer.from([0x05]), 0, 1)]));
      await waitFor('garbage counted', () => peer2.stats.dropped >= dropped + 2);
      assert.equal(w.client.events.find((e) => e.janus === 'hangup'), undefined, 'no hangup');
      assert.equal(w.plane.iceTcpInfo!.stats.adopted, 1);
    } finally {
      udp2.close();
    }
    const infoReply = await w.req({ janus: 'info' });
    assert.equal(infoReply.janus, 'server_info');
  } finally {
    for (const s of sockets) s.destroy();
    udp.close();
    await w.stop();
  }
});
