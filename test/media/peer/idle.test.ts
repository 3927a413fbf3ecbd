/**
 * What idle PeerConnections cost the thread (issue: idle CPU ~2x Janus's): established but silent
 * PeerConnections ask for no per-second timer work (no RTCP report or statistics tick before any
 * media), and their deadlines share the thread's one peerClock timer instead of a setTimeout each.
 * Once media flows the reports start at once: a send-only side's first SR reaches the other side
 * (the first packet SENT re-arms the timer, not only the first received).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JanusMessage } from '../../../src/core/messages.js';
import { peerClock } from '../../../src/media/peer.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, sleep, waitFor, type ClientPeer } from './helpers.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string } };

test('20 idle PeerConnections (10 pairs): a handful of thread wake-ups in 2 s, not ~2 per PeerConnection per second; the first packet sent brings the first SR', { timeout: 60_000 }, async () => {
  const w = await makeWorld();
  const clients: ClientPeer[] = [];
  try {
    const handles: number[] = [];
    for (let i = 0; i < 10; i++) {
      const c = await makeClient();
      clients.push(c);
      const [s, h] = await w.attachEcho();
      handles.push(h);
      const tx = `neg${i}`;
      // Video is not echoed: the client only sends video, the server only receives it.
      await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: tx, body: { audio: true, video: false }, jsep: { type: 'offer', sdp: clientOffer(c) } });
      const ev = await waitFor('the answer', () => (w.client.events as Ev[]).find((e) => e.transaction === tx && e.jsep));
      applyAnswer(c, ev.jsep!.sdp);
    }
    await waitFor('every client up', () => clients.every((c) => c.up), 20_000);
    await waitFor('every server PeerConnection up', () => handles.every((h) => w.client.events.some((e) => e.janus === 'webrtcup' && e.sender === h)), 20_000);
    await sleep(500); // the handshakes' last retransmission timers

    const w0 = peerClock.wakeups;
    await sleep(2000);
    const idleWakeups = peerClock.wakeups - w0;
    // Before: each Peer's own timer for its report (~1/s) and statistics tick (1/s): ~80 here.
    // Now only ICE (keepalives every 15 s, the clients' consent checks every ~5 s) remains.
    assert.ok(idleWakeups <= 12, `${idleWakeups} peerClock wake-ups in 2 s for 20 idle PeerConnections`);

    // The client sends 5 video packets and receives nothing: its own SR must follow soon.
    const c = clients[0]!;
    for (let i = 0; i < 5; i++) c.peer.sendRtp('1', rtpPacket(96, 500 + i, 3000 * i, 0xabc, Buffer.from(`v${i}`)), 14);
    const server = w.plane.peerOf(handles[0]!)!;
    // Its report was due long ago: it leaves with the first packet's timer. (Without that re-arm it
    // would wait for the next unrelated wake-up, the client's consent check 4-6 s later.)
    const video = await waitFor(
      "the client's first SR at the server",
      () => server.rtpStats().inbound.find((s) => s.mid === '1' && s.remotePacketsSent >= 5),
      2000,
    );
    assert.equal(video.packets, 5);
    assert.ok(c.peer.rtpStats().inbound.every((s) => s.packets === 0), 'nothing was echoed to the client');
  } finally {
    for (const c of clients) c.close();
    await w.stop();
  }
});
