/**
 * Many PeerConnections on the process's one UDP port (media.single_port, 2 media workers, the main
 * thread's port reader handing packets over): `ONEPORT_PCS` (default 60) EchoTest clients of our own
 * media stack (ICE, DTLS-SRTP) connect through the one port, each sends 50 video packets at a modest
 * rate (N x 50 packets/s in all), and every client must get every one of its own packets back: no loss,
 * nothing crossed between clients, both workers used, no ring drop. The 200-PeerConnection run with the
 * light load clients is bench/videoroom-fanout-e2e.ts --single-port (bench/README.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { tryParseCandidate } from '../../src/media/ice/candidate.js';
import { applyAnswer, clientOffer, makeClient, rtpPacket, type ClientPeer } from '../media/peer/helpers.js';
import { waitFor } from '../plugins/audiobridge/net.js';
import { ECHO, makeWorld } from './pool-world.js';

const N = Number(process.env['ONEPORT_PCS'] ?? 60);
const K = 50;

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  const p = await new Promise<number>((r) => s.bind(0, '0.0.0.0', () => r(s.address().port)));
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

test(`one port, 2 media workers: ${N} EchoTest PeerConnections each get all ${K} of their packets back`, { timeout: 120_000 }, async () => {
  const port = await freeUdpPort();
  const { dir, gw, pool, attach, message } = await makeWorld(2, '', (c) => {
    c.media.single_port = port;
  });
  const clients: ClientPeer[] = [];
  try {
    const t0 = Date.now();
    // Set up in batches (signalling and DTLS handshakes of N clients in this one test process).
    for (let b = 0; b < N; b += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, N - b) }, async () => {
          const c = await makeClient();
          clients.push(c);
          const h = await attach(ECHO);
          const res = await message(h.session, h.handle, { audio: true, video: true }, { type: 'offer', sdp: clientOffer(c) });
          assert.ok(res.jsep, JSON.stringify(res));
          const ports = new Set(res.jsep.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')).map((l) => tryParseCandidate(l)!.port));
          assert.deepEqual([...ports], [port], 'every candidate is the one port');
          applyAnswer(c, res.jsep.sdp);
        }),
      );
    }
    await waitFor(`all ${N} PeerConnections up`, () => clients.every((c) => c.up), 60_000);
    const setupMs = Date.now() - t0;
    // K rounds, every client one packet per round, a round every 20 ms (50 packets/s per client).
    for (let i = 0; i < K; i++) {
      for (const [k, c] of clients.entries()) c.peer.sendRtp('1', rtpPacket(96, 1000 + i, 3000 * i, 0x5000 + k, Buffer.from(`c${k}-${i}`)), 12 + `c${k}-${i}`.length);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor('every echo back', () => clients.every((c) => c.rtp.length >= K), 15_000).catch(() => undefined);
    const short = clients.map((c, k) => ({ k, got: c.rtp.length })).filter((x) => x.got !== K);
    assert.deepEqual(short, [], `clients that did not get exactly ${K} packets back`);
    for (const [k, c] of clients.entries()) {
      const seen = new Set(c.rtp.map((p) => p.bytes.subarray(12).toString()));
      assert.equal(seen.size, K, `client ${k}: ${K} distinct packets`);
      for (const s of seen) assert.ok(s.startsWith(`c${k}-`), `client ${k} got only its own echo (${s})`);
    }
    const r = pool.portReader!;
    assert.ok(r.stats.handed[0]! > 0 && r.stats.handed[1]! > 0, `both workers handed packets: ${JSON.stringify(r.stats.handed)}`);
    assert.equal(r.stats.ringDropped, 0);
    assert.equal(r.addressCount, N, 'one bound address per client');
    console.log(`# oneport-load: ${N} PCs up in ${setupMs} ms; ${N * K} packets echoed, 0 lost; reader handed ${JSON.stringify(r.stats.handed)}, sent ${r.stats.sent}`);
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
