/**
 * One UDP port for the process (port-reader.ts + port-link.ts): the main thread's reader hands each
 * datagram to the link of the plane its ufrag's first character names, then by source address; sends
 * come back through the ring and leave from the one port. Both links live in this thread here (the
 * rings and their wake-ups work the same within one thread); test/workers/single-port.test.ts runs
 * the real worker threads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { ipv4ToInt, Ipv4Names, PortReader } from '../../../src/media/net/port-reader.js';
import { PortLink } from '../../../src/media/net/port-link.js';
import { UfragRouter } from '../../../src/media/net/ufrag-router.js';
import type { UdpMux, UdpMuxPort } from '../../../src/media/net/udp-mux.js';
import type { IceTcpConn } from '../../../src/media/net/ice-tcp.js';
import { StunBuilder, StunMessageType } from '../../../src/media/stun/index.js';

const check = (username: string): Buffer => new StunBuilder(StunMessageType.BindingRequest).username(username).priority(1).build({ integrityKey: 'x'.repeat(22), fingerprint: true });
const rtp = (tag: number): Buffer => Buffer.from([0x80, 111, 0, tag, 0, 0, 0, 0, 0, 0, 0, 1, tag]);

async function client(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function recording(mux: UdpMux): { port: UdpMuxPort; got: Array<{ msg: Buffer; from: number; address: string }> } {
  const port = mux.open();
  const got: Array<{ msg: Buffer; from: number; address: string }> = [];
  port.on('message', ((msg: Buffer, r: RemoteInfo) => got.push({ msg: Buffer.from(msg), from: r.port, address: r.address })) as never);
  return { port, got };
}

const send = (s: Socket, b: Buffer, port: number): Promise<void> => new Promise((r) => s.send(b, port, '127.0.0.1', () => r()));

test('ipv4ToInt / Ipv4Names round-trip, and reject what is not a dotted quad', () => {
  for (const a of ['0.0.0.0', '127.0.0.1', '10.1.2.3', '255.255.255.255', '192.168.100.200']) assert.equal(new Ipv4Names().name(ipv4ToInt(a)), a);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '::1', '1.2.3.4 ', '1234.1.1.1']) assert.ok(Number.isNaN(ipv4ToInt(bad)), bad);
});

test('one port, two links: the first check goes to the link its ufrag prefix names, then by address both ways; strangers are counted', async (t) => {
  const reader = await PortReader.bind({ port: 0, workers: 2, ringBytes: 1 << 16 });
  const links = [new PortLink(reader.link(0)), new PortLink(reader.link(1))];
  const routers = links.map((l) => new UfragRouter(l.prefix));
  const muxes = links.map((l, i) => l.attach(routers[i]!).mux4);
  const c1 = await client();
  const c2 = await client();
  t.after(() => {
    for (const l of links) l.close();
    reader.close();
    c1.close();
    c2.close();
  });
  assert.notEqual(links[0]!.prefix, links[1]!.prefix);
  const a = recording(muxes[0]!);
  const b = recording(muxes[1]!);
  const ua = routers[0]!.fresh();
  const ub = routers[1]!.fresh();
  assert.ok(ua.startsWith(links[0]!.prefix) && ub.startsWith(links[1]!.prefix), `${ua} ${ub}`);
  muxes[0]!.register(ua, a.port);
  muxes[1]!.register(ub, b.port);

  // Media from a source nobody bound yet: dropped at the reader.
  await send(c1, rtp(1), reader.port);
  await until('unknown source counted', () => reader.stats.unknownSource === 1);

  await send(c1, check(`${ua}:x`), reader.port);
  await send(c2, check(`${ub}:y`), reader.port);
  await until('both checks delivered', () => a.got.length === 1 && b.got.length === 1);
  assert.equal(a.got[0]!.from, c1.address().port);
  assert.equal(a.got[0]!.address, '127.0.0.1', 'the worker sees the source address as dgram gives it');
  assert.equal(b.got[0]!.from, c2.address().port);
  // The links reported their binds to the reader (ordered before anything they send).
  await until('reader mirrors both bindings', () => reader.addressCount === 2);
  assert.equal(reader.lookup('127.0.0.1', c1.address().port), 0);
  assert.equal(reader.lookup('127.0.0.1', c2.address().port), 1);

  // Now media by address, each to its own link.
  for (let i = 0; i < 20; i++) {
    await send(c1, rtp(10 + i), reader.port);
    await send(c2, rtp(100 + i), reader.port);
  }
  await until('media by address', () => a.got.length === 21 && b.got.length === 21);
  assert.ok(a.got.slice(1).every((g, i) => g.msg[12] === 10 + i), 'link 0 got c1 media in order');
  assert.ok(b.got.slice(1).every((g, i) => g.msg[12] === 100 + i), 'link 1 got c2 media in order');

  // Sends from the links leave from the one port, to the right client; the callback form runs later.
  const got1: Buffer[] = [];
  const got2: Array<{ msg: Buffer; from: number }> = [];
  c1.on('message', (m) => got1.push(m));
  c2.on('message', (m, r) => got2.push({ msg: m, from: r.port }));
  let cbs = 0;
  const pkt = Buffer.alloc(40, 7);
  a.port.send(pkt, 0, 30, c1.address().port, '127.0.0.1', () => cbs++);
  assert.equal(cbs, 0, 'send callback never runs inside send()');
  b.port.send(Buffer.from('hello-c2'), c2.address().port, '127.0.0.1');
  await until('sends arrive', () => got1.length === 1 && got2.length === 1 && cbs === 1);
  assert.equal(got1[0]!.length, 30);
  assert.equal(got2[0]!.msg.toString(), 'hello-c2');
  assert.equal(got2[0]!.from, reader.port, 'from the one port');

  // A check whose ufrag prefix names no plane, from an unbound address: counted, nobody sees it.
  const c3 = await client();
  t.after(() => c3.close());
  await send(c3, check('~zzz:q'), reader.port);
  await until('unknown ufrag counted', () => reader.stats.unknownUfrag === 1);
  // A check with a valid prefix but a ufrag nobody registered: the link's mux counts it, binds nothing.
  await send(c3, check(`${links[1]!.prefix}nope:q`), reader.port);
  await until('the link counts the unknown ufrag', () => muxes[1]!.stats.unknownUfrag === 1);
  assert.equal(reader.lookup('127.0.0.1', c3.address().port), -1);

  // Closing a PeerConnection's view unbinds its addresses in the reader too.
  a.port.close();
  await until('reader forgets c1', () => reader.lookup('127.0.0.1', c1.address().port) === -1);
  assert.equal(reader.lookup('127.0.0.1', c2.address().port), 1);

  // A restarted worker gets a fresh link; the old one's addresses are gone.
  reader.link(1);
  assert.equal(reader.lookup('127.0.0.1', c2.address().port), -1);
  assert.equal(reader.addressCount, 0);
  assert.equal(reader.stats.handed[0]! + reader.stats.handed[1]!, 2 + 40 + 1);
});

test('a client moving to a PeerConnection on another link (its check names that ufrag) is re-routed', async (t) => {
  const reader = await PortReader.bind({ port: 0, workers: 2, ringBytes: 1 << 16 });
  const links = [new PortLink(reader.link(0)), new PortLink(reader.link(1))];
  const routers = links.map((l) => new UfragRouter(l.prefix));
  const muxes = links.map((l, i) => l.attach(routers[i]!).mux4);
  const c = await client();
  t.after(() => {
    for (const l of links) l.close();
    reader.close();
    c.close();
  });
  const a = recording(muxes[0]!);
  const b = recording(muxes[1]!);
  const ua = routers[0]!.fresh();
  const ub = routers[1]!.fresh();
  muxes[0]!.register(ua, a.port);
  muxes[1]!.register(ub, b.port);
  await send(c, check(`${ua}:x`), reader.port);
  await until('bound to link 0', () => reader.lookup('127.0.0.1', c.address().port) === 0);
  await send(c, check(`${ub}:x`), reader.port);
  await until('moved to link 1', () => reader.lookup('127.0.0.1', c.address().port) === 1);
  await send(c, rtp(5), reader.port);
  await until('media follows', () => b.got.length === 2);
  assert.equal(a.got.length, 1);
  // Link 0 still has its stale binding; its unbind must not take link 1's route away.
  a.port.close();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(reader.lookup('127.0.0.1', c.address().port), 1);
});

test('the main thread\'s own plane shares the socket without a ring (localMuxes, last prefix)', async (t) => {
  const reader = await PortReader.bind({ port: 0, workers: 1, ringBytes: 1 << 16 });
  const router = new UfragRouter(reader.localPrefix);
  const { mux4 } = reader.localMuxes(router);
  const c = await client();
  t.after(() => {
    reader.close();
    c.close();
  });
  const a = recording(mux4);
  const u = router.fresh();
  mux4.register(u, a.port);
  await send(c, check(`${u}:x`), reader.port);
  await send(c, rtp(9), reader.port);
  await until('local plane gets both', () => a.got.length === 2);
  assert.equal(reader.lookup('127.0.0.1', c.address().port), reader.localIndex);
  const back: Buffer[] = [];
  c.on('message', (m) => back.push(m));
  a.port.send(Buffer.from('x'), c.address().port, '127.0.0.1');
  await until('reply', () => back.length === 1);
});

test('ICE-TCP on the one port: the main thread accepts, the worker named by the ufrag adopts and talks through the ring', async (t) => {
  const { connect } = await import('node:net');
  const reader = await PortReader.bind({ port: 0, workers: 2, ringBytes: 1 << 16 });
  await reader.listenTcp('127.0.0.1');
  assert.equal(reader.tcpPort, reader.port, 'TCP on the same port number');
  const links = [new PortLink(reader.link(0)), new PortLink(reader.link(1))];
  const routers = links.map((l) => new UfragRouter(l.prefix));
  links.forEach((l, i) => l.attach(routers[i]!));
  assert.equal(links[1]!.tcpPort, reader.port);
  t.after(() => {
    for (const l of links) l.close();
    reader.close();
  });
  const frames: Buffer[] = [];
  const got: { conn: IceTcpConn | null } = { conn: null };
  let closed = 0;
  const u = routers[1]!.fresh();
  routers[1]!.register(u, {
    tcp: {
      adopt: (conn) => {
        got.conn = conn;
        conn.setReceiver({ onFrame: (f) => frames.push(Buffer.from(f)), onClose: () => closed++ });
        return true;
      },
    },
  });
  const frame = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
  const sock = connect(reader.tcpPort!, '127.0.0.1');
  t.after(() => sock.destroy());
  const back: Buffer[] = [];
  sock.on('data', (d) => back.push(d));
  let ended = false;
  sock.on('close', () => (ended = true));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(Buffer.concat([frame(check(`${u}:c`)), frame(rtp(3))]));
  await until('worker 1 adopted it and got both frames', () => got.conn !== null && frames.length === 2);
  assert.equal(got.conn!.remote.address, '127.0.0.1');
  assert.equal(got.conn!.local.port, reader.port);
  assert.equal(frames[1]![12], 3);
  assert.equal(reader.tcpHandedOver, 1);
  assert.ok(got.conn!.send(Buffer.from('xyz-reply'), 0, 9));
  await until('the reply arrives framed', () => Buffer.concat(back).length === 11);
  assert.equal(Buffer.concat(back).subarray(2).toString(), 'xyz-reply');
  got.conn!.close(true);
  await until('the main thread closes the socket', () => ended && reader.tcpHandedOver === 0);
  assert.equal(closed, 1);

  // A ufrag with worker 0's prefix that nobody there registered: worker 0 refuses, the main thread closes it.
  const s2 = connect(reader.tcpPort!, '127.0.0.1');
  t.after(() => s2.destroy());
  let ended2 = false;
  s2.on('close', () => (ended2 = true));
  s2.on('error', () => undefined);
  await new Promise<void>((r) => s2.once('connect', () => r()));
  s2.write(frame(check(`${links[0]!.prefix}zzz:c`)));
  await until('refused and closed', () => ended2 && links[0]!.tcpRefused === 1);
  assert.equal(links[0]!.tcpConnections, 0);
  assert.equal(reader.tcpHandedOver, 0);
});
