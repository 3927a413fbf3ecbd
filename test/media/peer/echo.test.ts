/**
 * End to end over real UDP on 127.0.0.1: Janus API (offer in `message`, answer in the event) ->
 * ICE -> DTLS -> SRTP -> EchoTest -> back, with a client PeerConnection made of our own modules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JanusMessage } from '../../../src/core/messages.js';
import { buildOffer, EXT, extmapsFor } from '../../../src/media/sdp/negotiate.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, sleep, waitFor, type ClientPeer, type World } from './helpers.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> } };

function answerOf(w: World, tx: string): Ev | undefined {
  return (w.client.events as Ev[]).find((e) => e.transaction === tx && e.jsep);
}

async function negotiate(w: World, c: ClientPeer, opts: { stripCandidates?: boolean } = {}): Promise<{ s: number; h: number; answer: string }> {
  const [s, h] = await w.attachEcho();
  const offer = clientOffer(c, opts);
  const ack = await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'neg', body: { audio: true, video: true }, jsep: { type: 'offer', sdp: offer } });
  assert.equal(ack.janus, 'ack');
  const ev = await waitFor('the answer event', () => answerOf(w, 'neg'));
  assert.deepEqual(ev.plugindata?.data, { echotest: 'event', result: 'ok' });
  applyAnswer(c, ev.jsep!.sdp);
  return { s, h, answer: ev.jsep!.sdp };
}

function localSsrcOf(answer: string, mid: string): number {
  const m = parseSdp(answer).media.find((x) => x.mid === mid)!;
  return m.ssrcs[0]!.ssrc;
}

test('EchoTest over the Janus API: webrtcup, RTP echoed with our SSRC, media events, data channel echo, DTLS close hangs up and frees the port', { timeout: 20_000 }, async () => {
  const w = await makeWorld();
  const c = await makeClient();
  try {
    const { h, answer } = await negotiate(w, c);
    const a = parseSdp(answer);
    assert.equal(a.media[0]!.setup, 'active', 'DTLS: we answer active to actpass, like Janus');
    assert.ok(a.media[0]!.candidates.length > 0 && a.media[0]!.endOfCandidates, 'half-trickle: candidates in the SDP');
    assert.deepEqual(a.groups[0], { semantics: 'BUNDLE', mids: ['0', '1', '2'] });
    await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup' && e.sender === h));
    await waitFor('client DTLS up', () => c.up);
    assert.equal(w.plane.peerCount, 1);

    // Video: seq 100..109 out, echoed back with the server's SSRC for mid 1, same payload.
    const mySsrc = 0x1234;
    for (let i = 0; i < 10; i++) c.peer.sendRtp('1', rtpPacket(96, 100 + i, 9000 * i, mySsrc, Buffer.from(`frame-${i}`)), 12 + 7);
    c.peer.sendRtp('0', rtpPacket(111, 7, 960, 0x4321, Buffer.from('opus!')), 17);
    const echoed = await waitFor('10 echoed video packets', () => {
      const v = c.rtp.filter((p) => p.stream.mid === '1');
      return v.length >= 10 ? v : undefined;
    });
    const serverVideoSsrc = localSsrcOf(answer, '1');
    for (const p of echoed) assert.equal(p.bytes.readUInt32BE(8), serverVideoSsrc, 'SSRC rewritten to the one in our answer');
    assert.deepEqual(echoed.map((p) => p.bytes.readUInt16BE(2)), [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    assert.equal(echoed[3]!.bytes.subarray(12).toString(), 'frame-3');
    await waitFor('echoed audio', () => c.rtp.find((p) => p.stream.mid === '0' && p.bytes.subarray(12).toString() === 'opus!'));
    await waitFor('media receiving events', () => {
      const m = w.client.events.filter((e) => e.janus === 'media' && e.receiving === true);
      return m.length >= 2 ? m : undefined;
    });

    // Data channel: the client opens "chat"; text comes back prefixed, binary as is.
    c.peer.sendData('chat', 'hello');
    await waitFor('echoed text', () => c.data.find((d) => d.text === 'Janus EchoTest here! You wrote: hello' && d.label === 'chat'), 8000);
    c.peer.sendData('chat', Buffer.from([0, 1, 2, 250]));
    const bin = await waitFor('echoed binary', () => c.data.find((d) => d.binary));
    assert.deepEqual([...Buffer.from(bin.text, 'utf8')].length > 0, true);

    // Admin handle_info carries the media part with per-stream statistics.
    const info = (await w.gw.admin.handle({ janus: 'handle_info', transaction: 'i', admin_secret: 'adm', session_id: w.client.events[0]!.session_id, handle_id: h })) as JanusMessage & { info: Record<string, unknown> };
    type Medium = { mid: string; ssrc: Record<string, number>; stats: { in: { packets: number }; out: { packets: number } } };
    const webrtc = info.info.webrtc as { ice: { state: string }; dtls: Record<string, unknown>; media: Record<string, Medium> };
    assert.equal(info.info['ice-role'], 'controlled');
    assert.equal(webrtc.ice.state, 'ready');
    assert.equal(webrtc.dtls['dtls-state'], 'connected');
    const video = webrtc.media['1']!;
    assert.equal(video.mid, '1');
    const clientMedia = (c.peer.info().webrtc as { media: Record<string, Medium> }).media;
    assert.equal(video.ssrc['ssrc-peer'], clientMedia['1']!.ssrc.ssrc, "the client's SSRC (its Peer rewrote ours too)");
    assert.ok(video.stats.in.packets >= 10);
    assert.ok(video.stats.out.packets >= 10);
    assert.equal((info.info.flags as Record<string, unknown>)['data-channels'], true);

    // The client goes away (close_notify): hangup "DTLS alert", EchoTest says "done", the port is freed.
    c.close();
    const hang = await waitFor('hangup event', () => w.client.events.find((e) => e.janus === 'hangup'));
    assert.equal(hang.reason, 'DTLS alert');
    await waitFor('done event', () => (w.client.events as Ev[]).find((e) => e.plugindata?.data.result === 'done'));
    assert.equal(w.plane.peerCount, 0);
    await waitFor('port released', () => w.plane.portsInUse === 0);
  } finally {
    c.close();
    await w.stop();
  }
});

test('NACK: a packet lost on the way to the client is requested and retransmitted from the send buffer', { timeout: 20_000 }, async () => {
  const w = await makeWorld();
  const c = await makeClient();
  try {
    const { answer } = await negotiate(w, c);
    await waitFor('client DTLS up', () => c.up);
    const serverVideoSsrc = localSsrcOf(answer, '1');
    let dropped = 0;
    // Drop the first copy of seq 205 coming from the server (SRTP keeps the RTP header in clear).
    c.socket.drop = (m) => {
      if (m.length > 12 && m[0]! >> 6 === 2 && m[1]! < 192 && m.readUInt32BE(8) === serverVideoSsrc && m.readUInt16BE(2) === 205 && dropped === 0) {
        dropped++;
        return true;
      }
      return false;
    };
    for (let i = 0; i < 10; i++) {
      c.peer.sendRtp('1', rtpPacket(96, 200 + i, 3000 * i, 0x55, Buffer.from(`p${i}`)), 14);
      await sleep(5);
    }
    const got = await waitFor('seq 205 recovered', () => c.rtp.find((p) => p.bytes.readUInt16BE(2) === 205), 5000);
    assert.equal(got.bytes.subarray(12).toString(), 'p5');
    assert.equal(dropped, 1);
    assert.ok(c.peer.stats.nacksSent >= 1, 'the client asked');
    const server = w.plane.peerOf([...w.gw.handles.keys()][0]!)!;
    assert.ok(server.stats.nacksReceived >= 1 && server.stats.retransmitted >= 1, JSON.stringify(server.stats));
  } finally {
    c.close();
    await w.stop();
  }
});

test('trickle both ways: client candidates via `trickle` (queued before the offer), full_trickle sends ours as events', { timeout: 20_000 }, async () => {
  const w = await makeWorld((cfg) => (cfg.nat.full_trickle = true));
  const c = await makeClient();
  try {
    const [s, h] = await w.attachEcho();
    const offer = clientOffer(c, { stripCandidates: true });
    // Trickle before the offer: the core queues it until the remote description exists.
    const mine = offer.includes('a=candidate') ? [] : c.peer.info();
    void mine;
    const cands = (c.peer.info().webrtc as { ice: { 'local-candidates': string[] } }).ice['local-candidates'].map((x) => `candidate:${x}`);
    assert.ok(cands.length > 0);
    assert.equal((await w.req({ janus: 'trickle', session_id: s, handle_id: h, candidate: { sdpMid: '0', sdpMLineIndex: 0, candidate: cands[0] } })).janus, 'ack');
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'neg', body: {}, jsep: { type: 'offer', sdp: offer } });
    await w.req({ janus: 'trickle', session_id: s, handle_id: h, candidate: { completed: true } });
    const ev = await waitFor('answer', () => answerOf(w, 'neg'));
    assert.ok(!ev.jsep!.sdp.includes('a=candidate'), 'full_trickle: no candidates in the SDP');
    applyAnswer(c, ev.jsep!.sdp);
    const trickles = await waitFor('trickle events incl. completed', () => {
      const t = w.client.events.filter((e) => e.janus === 'trickle');
      return t.some((e) => (e.candidate as { completed?: boolean }).completed) ? t : undefined;
    });
    c.peer.addTrickle(trickles.map((e) => e.candidate as Record<string, unknown>));
    await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup'), 8000);
    await waitFor('client DTLS up', () => c.up);
  } finally {
    c.close();
    await w.stop();
  }
});

test('ICE-lite server: a=ice-lite in the answer, the client (full, controlling) connects', { timeout: 20_000 }, async () => {
  const w = await makeWorld((cfg) => (cfg.nat.ice_lite = true));
  const c = await makeClient();
  try {
    const { answer } = await negotiate(w, c);
    assert.ok(answer.includes('a=ice-lite'));
    await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup'), 8000);
    c.peer.sendRtp('0', rtpPacket(111, 1, 960, 9, Buffer.from('x')), 13);
    await waitFor('echo', () => c.rtp.length > 0);
  } finally {
    c.close();
    await w.stop();
  }
});

test('renegotiation keeps the transport; `hangup` closes the PeerConnection and frees its port', { timeout: 20_000 }, async () => {
  const w = await makeWorld();
  const c = await makeClient();
  try {
    const { s, h, answer } = await negotiate(w, c);
    await waitFor('client DTLS up', () => c.up);
    const port = parseSdp(answer).media[0]!.port;
    // Same transport, new offer (update): same port, same credentials, still echoing.
    const offer2 = clientOffer(c);
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'neg2', body: {}, jsep: { type: 'offer', sdp: offer2 } });
    const ev2 = await waitFor('second answer', () => answerOf(w, 'neg2'));
    const a2 = parseSdp(ev2.jsep!.sdp);
    assert.equal(a2.media[0]!.port, port);
    assert.equal(a2.media[0]!.iceUfrag, parseSdp(answer).media[0]!.iceUfrag);
    applyAnswer(c, ev2.jsep!.sdp);
    c.peer.sendRtp('0', rtpPacket(111, 50, 960, 9, Buffer.from('again')), 17);
    await waitFor('echo after renegotiation', () => c.rtp.find((p) => p.bytes.subarray(12).toString() === 'again'));
    assert.equal((await w.req({ janus: 'hangup', session_id: s, handle_id: h })).janus, 'success');
    const hang = await waitFor('hangup event', () => w.client.events.find((e) => e.janus === 'hangup'));
    assert.equal(hang.reason, 'Janus API');
    await waitFor('port released', () => w.plane.portsInUse === 0);
    assert.equal(w.plane.peerCount, 0);
  } finally {
    c.close();
    await w.stop();
  }
});

test('an offer without a DTLS fingerprint is refused with 465; detach frees everything', { timeout: 10_000 }, async () => {
  const w = await makeWorld();
  const c = await makeClient();
  try {
    const [s, h] = await w.attachEcho();
    const bad = clientOffer(c).split('\r\n').filter((l) => !l.startsWith('a=fingerprint')).join('\r\n');
    const r = await w.req({ janus: 'message', session_id: s, handle_id: h, body: {}, jsep: { type: 'offer', sdp: bad } });
    assert.equal(r.janus, 'error');
    assert.equal((r.error as { code: number }).code, 465);
    assert.equal(w.plane.peerCount, 0);
    // A good offer, then detach: the peer and its port go.
    const [s2, h2] = await w.attachEcho();
    await w.req({ janus: 'message', session_id: s2, handle_id: h2, transaction: 'ok', body: {}, jsep: { type: 'offer', sdp: clientOffer(c) } });
    await waitFor('answer', () => answerOf(w, 'ok'));
    assert.equal(w.plane.peerCount, 1);
    await w.req({ janus: 'detach', session_id: s2, handle_id: h2 });
    assert.equal(w.plane.peerCount, 0);
    await waitFor('port released', () => w.plane.portsInUse === 0);
  } finally {
    c.close();
    await w.stop();
  }
});

test('rtp_port_range exhausted: the JSEP request fails with a clear error, nothing leaks', { timeout: 10_000 }, async () => {
  const w = await makeWorld((cfg) => {
    const p = cfg.media.rtp_port_range!.min;
    cfg.media.rtp_port_range = { min: p, max: p };
  });
  const c1 = await makeClient();
  const c2 = await makeClient();
  try {
    const [s1, h1] = await w.attachEcho();
    await w.req({ janus: 'message', session_id: s1, handle_id: h1, transaction: 'a', body: {}, jsep: { type: 'offer', sdp: clientOffer(c1) } });
    const [s2, h2] = await w.attachEcho();
    const r = await w.req({ janus: 'message', session_id: s2, handle_id: h2, body: {}, jsep: { type: 'offer', sdp: clientOffer(c2) } });
    assert.equal(r.janus, 'error');
    assert.match((r.error as { reason: string }).reason, /no free UDP port in rtp_port_range/);
    assert.equal(w.plane.peerCount, 1);
  } finally {
    c1.close();
    c2.close();
    await w.stop();
  }
});

test('a PeerConnection without m=application has no SCTP association and keeps no DTLS handshake state once up', { timeout: 20_000 }, async () => {
  const w = await makeWorld();
  const c = await makeClient();
  try {
    const [s, h] = await w.attachEcho();
    const d = buildOffer([{ kind: 'video', mid: '0', direction: 'sendrecv', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) }]);
    const offer = c.peer.setLocalDescription(writeSdp(d), 'offer');
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'media-only', body: { video: true }, jsep: { type: 'offer', sdp: offer } });
    const ev = await waitFor('the answer event', () => answerOf(w, 'media-only'));
    applyAnswer(c, ev.jsep!.sdp);
    await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup' && e.sender === h));
    c.peer.sendRtp('0', rtpPacket(96, 1, 0, 0x1234, Buffer.from('frame')), 17);
    await waitFor('echoed video', () => c.rtp.find((p) => p.stream.mid === '0'));
    const peer = w.plane.peerOf(h)!;
    const info = peer.info() as { flags: Record<string, unknown>; webrtc: { dtls: Record<string, unknown> } };
    assert.equal(info.flags['data-channels'], false);
    assert.equal(info.webrtc.dtls['sctp-association'], false);
    assert.equal(info.webrtc.dtls['dtls-state'], 'connected');
    const dtls = (peer as unknown as { dtls: { handshakeStateBytes: number } }).dtls;
    assert.equal(dtls.handshakeStateBytes, 0);
  } finally {
    c.close();
    await w.stop();
  }
});
