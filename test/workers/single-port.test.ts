/**
 * media.single_port with media worker threads. Default (one port for the process): the main thread
 * owns the socket and hands datagrams to the workers through rings (port-reader.ts); two EchoTest
 * PeerConnections, one per worker, advertise the same port and both echo. With
 * single_port_per_worker: worker N owns its own shared socket on single_port + N (no hand-over).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { tryParseCandidate } from '../../src/media/ice/candidate.js';
import { applyAnswer, clientOffer, makeClient, rtpPacket, type ClientPeer } from '../media/peer/helpers.js';
import { waitFor } from '../plugins/audiobridge/net.js';
import { ECHO, makeWorld } from './pool-world.js';
import { startStunResponder } from '../media/plane/stun-responder.js';

/** Two consecutive free UDP ports (bound and released: a small race with other tests, retried). */
async function twoFreePorts(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 40_000 + Math.floor(Math.random() * 20_000);
    const socks = [createSocket('udp4'), createSocket('udp4')];
    const ok = await Promise.all(
      socks.map(
        (s, k) =>
          new Promise<boolean>((r) => {
            s.once('error', () => r(false));
            s.bind(base + k, '0.0.0.0', () => r(true));
          }),
      ),
    );
    for (const s of socks) {
      try {
        s.close();
      } catch {
        /* never bound */
      }
    }
    await new Promise((r) => setTimeout(r, 20));
    if (ok.every(Boolean)) return base;
  }
  throw new Error('no two free consecutive UDP ports');
}

test('single_port with 2 media workers: one port for both, the main thread hands each PeerConnection\'s packets to its worker', { timeout: 90_000 }, async () => {
  const base = await twoFreePorts();
  const { dir, gw, pool, attach, message, workerOf } = await makeWorld(2, '', (c) => {
    c.media.single_port = base;
    c.nat.ice_tcp = true; // the main thread's one TCP listener, same port number
  });
  const clients: ClientPeer[] = [];
  try {
    const echoes: Array<{ session: number; handle: number; c: ClientPeer; ports: Set<number>; ufrag: string }> = [];
    for (let i = 0; i < 2; i++) {
      const c = await makeClient();
      clients.push(c);
      const h = await attach(ECHO);
      const res = await message(h.session, h.handle, { audio: true, video: true }, { type: 'offer', sdp: clientOffer(c) });
      assert.ok(res.jsep, JSON.stringify(res));
      const ports = new Set(res.jsep.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')).map((l) => tryParseCandidate(l)!.port));
      const tcp = res.jsep.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:') && / tcp /i.test(l));
      assert.ok(tcp.length > 0, 'ICE-TCP candidates advertised');
      const ufrag = /a=ice-ufrag:(\S+)/.exec(res.jsep.sdp)![1]!;
      applyAnswer(c, res.jsep.sdp);
      await waitFor('echo DTLS up', () => c.up, 15_000);
      echoes.push({ ...h, c, ports, ufrag });
    }
    const workers = await Promise.all(echoes.map((e) => workerOf(e.session, e.handle)));
    assert.deepEqual([...workers].sort(), [0, 1], `EchoTest handles on workers ${JSON.stringify(workers)}`);
    for (const e of echoes) assert.deepEqual([...e.ports], [base], 'every candidate is the one port');
    // The ufrag's first character names the worker (how the reader routes a new source).
    assert.notEqual(echoes[0]!.ufrag[0], echoes[1]!.ufrag[0]);
    for (const [k, e] of echoes.entries()) {
      for (let i = 0; i < 5; i++) e.c.peer.sendRtp('1', rtpPacket(96, 100 + i, 9000 * i, 0x1234, Buffer.from(`w${k}-${i}`)), 16);
    }
    await waitFor('both echoes come back', () => echoes.every((e) => e.c.rtp.length >= 5), 8000);
    for (const [k, e] of echoes.entries()) assert.ok(e.c.rtp.every((p) => p.bytes.subarray(12).toString().startsWith(`w${k}-`)), `client ${k} gets only its own echo`);
    const r = pool.portReader!;
    assert.ok(r !== null, 'one-port mode has a reader');
    assert.equal(r.port, base);
    assert.ok(r.stats.handed[0]! > 0 && r.stats.handed[1]! > 0, `both workers were handed packets: ${JSON.stringify(r.stats)}`);
    assert.ok(r.stats.sent > 0);
    assert.equal(r.stats.ringDropped, 0);
    assert.equal(r.addressCount, 2, 'one bound address per client');
    assert.equal(r.tcpPort, base, 'ICE-TCP on the same port number, one listener for the process');
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('single_port_per_worker with 2 media workers: each worker echoes through its own port single_port + index', { timeout: 90_000 }, async () => {
  const base = await twoFreePorts();
  const { dir, gw, attach, message, workerOf } = await makeWorld(2, '', (c) => {
    c.media.single_port = base;
    c.media.single_port_per_worker = true;
  });
  const clients: ClientPeer[] = [];
  try {
    const echoes: Array<{ session: number; handle: number; c: ClientPeer; port: number }> = [];
    for (let i = 0; i < 2; i++) {
      const c = await makeClient();
      clients.push(c);
      const h = await attach(ECHO);
      const res = await message(h.session, h.handle, { audio: true, video: true }, { type: 'offer', sdp: clientOffer(c) });
      assert.ok(res.jsep, JSON.stringify(res));
      const ports = new Set(res.jsep.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')).map((l) => tryParseCandidate(l)!.port));
      assert.equal(ports.size, 1, res.jsep.sdp);
      applyAnswer(c, res.jsep.sdp);
      await waitFor('echo DTLS up', () => c.up, 15_000);
      echoes.push({ ...h, c, port: [...ports][0]! });
    }
    const workers = await Promise.all(echoes.map((e) => workerOf(e.session, e.handle)));
    assert.deepEqual([...workers].sort(), [0, 1], `EchoTest handles on workers ${JSON.stringify(workers)}`);
    for (const [i, e] of echoes.entries()) assert.equal(e.port, base + workers[i]!, `worker ${workers[i]} advertises single_port + ${workers[i]}`);
    for (const [k, e] of echoes.entries()) {
      for (let i = 0; i < 5; i++) e.c.peer.sendRtp('1', rtpPacket(96, 100 + i, 9000 * i, 0x1234, Buffer.from(`w${k}-${i}`)), 16);
    }
    await waitFor('both echoes come back', () => echoes.every((e) => e.c.rtp.length > 0), 8000);
    for (const [k, e] of echoes.entries()) assert.ok(e.c.rtp.every((p) => p.bytes.subarray(12).toString().startsWith(`w${k}-`)), `client ${k} gets only its own echo`);
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one port with a STUN server: the main thread asks once, every worker advertises the one socket\'s srflx', { timeout: 60_000 }, async () => {
  const stun = await startStunResponder({ mappedIp: '203.0.113.5', portOffset: 1000 });
  const base = await twoFreePorts();
  const { dir, gw, attach, message, workerOf } = await makeWorld(2, '', (c) => {
    c.media.single_port = base;
    c.nat.stun_server = '127.0.0.1';
    c.nat.stun_port = stun.port;
  });
  const clients: ClientPeer[] = [];
  try {
    const workers: number[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await makeClient();
      clients.push(c);
      const h = await attach(ECHO);
      const res = await message(h.session, h.handle, { audio: true, video: true }, { type: 'offer', sdp: clientOffer(c) });
      assert.ok(res.jsep, JSON.stringify(res));
      const srflx = res.jsep.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')).map((l) => tryParseCandidate(l)!).find((x) => x.type === 'srflx');
      assert.ok(srflx, `a srflx candidate in the answer:\n${res.jsep.sdp}`);
      assert.equal(srflx.address, '203.0.113.5');
      assert.equal(srflx.port, base + 1000, 'the mapping of the one port');
      workers.push(await workerOf(h.session, h.handle));
    }
    assert.deepEqual([...workers].sort(), [0, 1], 'both workers advertise it');
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
    stun.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one port with IPv6 and an IPv6 STUN server: the main thread asks on its IPv6 twin once, every worker advertises that srflx', { timeout: 60_000 }, async () => {
  const stun = await startStunResponder({ host: '::1', mappedIp: '2001:db8::5', portOffset: 1000 });
  const base = await twoFreePorts();
  const { dir, gw, attach, message, workerOf } = await makeWorld(2, '', (c) => {
    c.media.single_port = base;
    c.media.ipv6 = true;
    c.nat.ice_enforce_list = ['127.0.0.1', '::1'];
    c.nat.stun_server = '::1';
    c.nat.stun_port = stun.port;
  });
  const clients: ClientPeer[] = [];
  try {
    const workers: number[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await makeClient();
      clients.push(c);
      const h = await attach(ECHO);
      const res = await message(h.session, h.handle, { audio: true, video: true }, { type: 'offer', sdp: clientOffer(c) });
      assert.ok(res.jsep, JSON.stringify(res));
      // Every m-line repeats the candidates (bundle): one m-line's worth.
      const cands = [...new Set(res.jsep.sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:')))].map((l) => tryParseCandidate(l)!);
      const srflx = cands.filter((x) => x.type === 'srflx');
      assert.equal(srflx.length, 1, `one srflx candidate (IPv6 only: the server is an IPv6 literal):\n${res.jsep.sdp}`);
      assert.equal(srflx[0]!.address, '2001:db8::5');
      assert.equal(srflx[0]!.port, base + 1000, 'the mapping of the one port\'s IPv6 twin');
      assert.equal(srflx[0]!.relatedAddress, '::1');
      assert.equal(srflx[0]!.relatedPort, base);
      workers.push(await workerOf(h.session, h.handle));
    }
    assert.deepEqual([...workers].sort(), [0, 1], 'both workers advertise it');
    assert.equal(stun.requests.filter((p) => p === base).length, 1, `the one port's IPv6 twin asked once (by the main thread), not per worker or PeerConnection: ${stun.requests.join(',')}`);
  } finally {
    for (const c of clients) c.close();
    await gw.stop();
    stun.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
