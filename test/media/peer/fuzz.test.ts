/**
 * Garbage at a live PeerConnection's port: random bytes, truncated STUN / DTLS / RTP / RTCP, STUN
 * with bad integrity or fingerprint, valid-looking RTP/RTCP with bad SRTP tags. Every datagram is
 * dropped and counted, nothing throws out of the receive loop, the PeerConnection keeps echoing, and
 * a second PeerConnection on the same server is untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { JanusMessage } from '../../../src/core/messages.js';
import { StunBuilder, StunMessageType } from '../../../src/media/stun/index.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, sleep, waitFor, type ClientPeer, type World } from './helpers.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string } };

async function connect(w: World, c: ClientPeer, tx: string): Promise<number> {
  const [s, h] = await w.attachEcho();
  await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: tx, body: {}, jsep: { type: 'offer', sdp: clientOffer(c) } });
  const ev = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === tx && e.jsep));
  applyAnswer(c, ev.jsep!.sdp);
  await waitFor('client DTLS up', () => c.up);
  await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup' && e.sender === h));
  return h;
}

/** xorshift32: reproducible garbage. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function garbage(seed: number, ssrcs: number[]): Buffer[] {
  const r = rng(seed);
  const bytes = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = r() & 0xff;
    return b;
  };
  const out: Buffer[] = [];
  // random datagrams of every first-byte class
  for (let i = 0; i < 300; i++) out.push(bytes(1 + (r() % 1400)));
  // truncated STUN (header claims more than there is), STUN with junk attributes
  const stun = new StunBuilder(StunMessageType.BindingRequest).username('nobody:here').priority(12345).build({ integrityKey: 'wrong-password', fingerprint: true });
  for (let n = 1; n < stun.length; n += 3) out.push(stun.subarray(0, n));
  out.push(stun); // wrong credentials: answered with 401 at most, never selected
  const badFp = Buffer.from(stun);
  badFp[badFp.length - 1]! ^= 0xff;
  out.push(badFp);
  for (let i = 0; i < 50; i++) {
    const b = bytes(20 + (r() % 200));
    b[0] = 0;
    b[1] = 1;
    b.writeUInt16BE(b.length - 20, 2);
    b.writeUInt32BE(0x2112a442, 4);
    out.push(b);
  }
  // DTLS-looking records: handshake/application data/alert content types, truncated and random
  for (const ct of [20, 21, 22, 23, 25]) {
    for (let i = 0; i < 30; i++) {
      const b = bytes(1 + (r() % 300));
      b[0] = ct;
      if (b.length > 2) {
        b[1] = 0xfe;
        b[2] = 0xfd;
      }
      out.push(b);
    }
  }
  // RTP with a known SSRC and a valid-looking header but a bad SRTP tag; truncated RTP headers
  for (let i = 0; i < 200; i++) {
    const b = bytes(12 + 10 + (r() % 1000));
    b[0] = 0x80 | (i % 2 ? 0x10 : 0);
    b[1] = i % 3 === 0 ? 96 : 111;
    b.writeUInt32BE(ssrcs[i % ssrcs.length]!, 8);
    out.push(b);
  }
  for (let n = 1; n < 12; n++) {
    const b = bytes(n);
    b[0] = 0x80;
    out.push(b);
  }
  // RTCP: SR/RR/PSFB/RTPFB headers with bad SRTCP trailers, truncated, lying length fields
  for (const pt of [200, 201, 202, 203, 205, 206]) {
    for (let i = 0; i < 20; i++) {
      const b = bytes(4 + (r() % 120));
      b[0] = 0x80 | (i & 0x1f);
      b[1] = pt;
      out.push(b);
    }
  }
  // first bytes outside every RFC 7983 range
  for (const f of [4, 19, 64, 127, 192, 255]) out.push(Buffer.concat([Buffer.from([f]), bytes(40)]));
  return out;
}

test('fuzz: garbage datagrams at a live PeerConnection are dropped and counted; it keeps working, and so does its neighbour', { timeout: 60_000 }, async () => {
  const w = await makeWorld();
  const c1 = await makeClient();
  const c2 = await makeClient();
  const attacker = createSocket('udp4');
  await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', () => r()));
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => void uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    const h1 = await connect(w, c1, 'n1');
    const h2 = await connect(w, c2, 'n2');
    const p1 = w.plane.peerOf(h1)!;
    const p2 = w.plane.peerOf(h2)!;
    c1.peer.sendRtp('1', rtpPacket(96, 1, 0, 0x10, Buffer.from('warm')), 16);
    await waitFor('warm-up echo', () => c1.rtp.length > 0);
    const clientSsrcs = [0x10, 0x11];
    const before1 = p1.stats;
    const before2 = p2.stats;
    const dtlsIn = (): number => ((p1.info().webrtc as { dtls: { portunus: { datagramsIn: number } } }).dtls.portunus.datagramsIn);
    const dtlsBefore = dtlsIn();

    const junk = garbage(0xc0ffee, clientSsrcs);
    let sent = 0;
    for (const d of junk) {
      attacker.send(d, p1.port, '127.0.0.1');
      if (++sent % 50 === 0) await sleep(5);
    }
    // The same junk also arrives from the client's own address (spoofing the selected pair's remote).
    const clientSock = (c1.socket as unknown as { real: import('node:dgram').Socket }).real;
    for (const d of junk.slice(0, 400)) clientSock.send(d, p1.port, '127.0.0.1');
    await sleep(300);

    const after1 = p1.stats;
    const drops = (s: typeof after1): number => s.dropped + s.srtpErrors + s.dtlsDropped + s.unknownSsrc + s.malformedRtp + s.rtcpErrors;
    const counted = drops(after1) - drops(before1);
    assert.ok(after1.srtpErrors - before1.srtpErrors >= 200, `RTP/RTCP with bad SRTP tags counted (${after1.srtpErrors - before1.srtpErrors})`);
    assert.ok(after1.dropped > before1.dropped, 'non-protocol datagrams and broken STUN counted');
    assert.ok(dtlsIn() - dtlsBefore >= 100, 'DTLS-looking datagrams reached the DTLS endpoint');
    assert.ok(after1.dtlsDropped > before1.dtlsDropped, 'and were dropped there');
    assert.ok(counted >= 600, `most of the ${junk.length + 400} datagrams are visible in the counters (${counted}); valid-looking STUN is answered or ignored`);
    assert.deepEqual(uncaught, []);

    // Still alive: no hangup, the association is intact, media and data still echo.
    assert.equal(w.client.events.filter((e) => e.janus === 'hangup').length, 0);
    assert.equal(w.plane.peerCount, 2);
    c1.rtp.length = 0;
    for (let i = 0; i < 5; i++) c1.peer.sendRtp('1', rtpPacket(96, 2 + i, 3000 * i, 0x10, Buffer.from(`after-${i}`)), 19);
    await waitFor('echo after the fuzzing', () => c1.rtp.filter((p) => p.bytes.subarray(12).toString().startsWith('after-')).length === 5);
    c1.peer.sendData('chat', 'still there?');
    await waitFor('data echo after the fuzzing', () => c1.data.find((d) => d.text.endsWith('still there?')), 8000);
    // The neighbour saw none of it.
    const after2 = p2.stats;
    assert.equal(drops(after2), drops(before2), 'the other PeerConnection counted nothing');
    c2.peer.sendRtp('0', rtpPacket(111, 9, 960, 0x20, Buffer.from('neighbour')), 21);
    await waitFor('neighbour echo', () => c2.rtp.find((p) => p.bytes.subarray(12).toString() === 'neighbour'));
  } finally {
    process.off('uncaughtException', onUncaught);
    attacker.close();
    c1.close();
    c2.close();
    await w.stop();
  }
});
