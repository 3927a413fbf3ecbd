import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { UdpMux, type UdpMuxPort } from '../../../src/media/net/udp-mux.js';
import { StunBuilder, StunMessageType } from '../../../src/media/stun/index.js';

const check = (username: string): Buffer => new StunBuilder(StunMessageType.BindingRequest).username(username).priority(1).build({ integrityKey: 'x'.repeat(22), fingerprint: true });
const rtp = (tag: number): Buffer => Buffer.from([0x80, 111, 0, tag, 0, 0, 0, 0, 0, 0, 0, 1, tag]);

async function client(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port whose received datagrams are recorded (copied: the socket may reuse nothing, but be safe). */
function recording(mux: UdpMux): { port: UdpMuxPort; got: Array<{ msg: Buffer; from: number }> } {
  const port = mux.open();
  const got: Array<{ msg: Buffer; from: number }> = [];
  port.on('message', ((msg: Buffer, r: RemoteInfo) => got.push({ msg: Buffer.from(msg), from: r.port })) as never);
  return { port, got };
}

const send = (s: Socket, b: Buffer, port: number): Promise<void> => new Promise((r) => s.send(b, port, '127.0.0.1', () => r()));

test('bindings: by address and port, chained per port, moved by a later bind, unbound from the middle of a chain', async (t) => {
  const mux = await UdpMux.bind(0, { address: '127.0.0.1' });
  t.after(() => mux.close());
  const a = mux.open();
  const b = mux.open();
  mux.bindTo('10.0.0.1', 5000, a);
  mux.bindTo('10.0.0.2', 5000, b);
  mux.bindTo('10.0.0.3', 5000, a);
  mux.bindTo('10.0.0.1', 5001, b);
  assert.equal(mux.lookup('10.0.0.1', 5000), a);
  assert.equal(mux.lookup('10.0.0.2', 5000), b);
  assert.equal(mux.lookup('10.0.0.3', 5000), a);
  assert.equal(mux.lookup('10.0.0.1', 5001), b);
  assert.equal(mux.lookup('10.0.0.4', 5000), undefined);
  assert.equal(mux.lookup('10.0.0.1', 5002), undefined);
  // content, not identity: a string built at run time (as Node's rinfo.address is) matches
  assert.equal(mux.lookup(['10', '0', '0', '2'].join('.'), 5000), b);
  assert.equal(mux.addressCount, 4);
  mux.bindTo('10.0.0.3', 5000, b); // moves
  assert.equal(mux.lookup('10.0.0.3', 5000), b);
  assert.equal(mux.addressCount, 4);
  a.close();
  assert.equal(mux.lookup('10.0.0.1', 5000), undefined);
  assert.equal(mux.lookup('10.0.0.2', 5000), b, 'the rest of the chain survives');
  assert.equal(mux.lookup('10.0.0.3', 5000), b);
  assert.equal(mux.addressCount, 3);
  mux.bindTo('10.0.0.9', 1, a); // a closed view binds nothing
  assert.equal(mux.addressCount, 3);
  b.close();
  assert.equal(mux.addressCount, 0);
});

test('first packet routed by the USERNAME ufrag, then by source address; two clients on one address with different ports stay apart', async (t) => {
  const mux = await UdpMux.bind(0, { address: '127.0.0.1' });
  const c1 = await client();
  const c2 = await client();
  t.after(() => {
    mux.close();
    c1.close();
    c2.close();
  });
  const a = recording(mux);
  const b = recording(mux);
  mux.register('aaaa', a.port);
  mux.register('bbbb', b.port);
  assert.ok(mux.isTaken('aaaa') && mux.isTaken('bbbb'));

  // media before any check: nobody owns the address yet
  await send(c1, rtp(1), mux.port);
  await until(() => mux.stats.unknownSource === 1);

  await send(c1, check('aaaa:c1'), mux.port);
  await send(c2, check('bbbb:c2'), mux.port);
  await until(() => a.got.length === 1 && b.got.length === 1);
  assert.equal(a.got[0]!.from, c1.address().port);
  assert.equal(b.got[0]!.from, c2.address().port);
  for (let i = 2; i < 6; i++) {
    await send(c1, rtp(i), mux.port);
    await send(c2, rtp(100 + i), mux.port);
  }
  await until(() => a.got.length === 5 && b.got.length === 5);
  assert.deepEqual(a.got.slice(1).map((g) => g.msg[12]), [2, 3, 4, 5]);
  assert.deepEqual(b.got.slice(1).map((g) => g.msg[12]), [102, 103, 104, 105]);
  assert.ok(a.got.every((g) => g.from === c1.address().port));
  assert.equal(mux.stats.unknownSource, 1, 'only the packet before the check was dropped');
  assert.equal(mux.addressCount, 2);

  // replies go out of the shared socket: the client sees the mux port as source
  const reply = new Promise<RemoteInfo>((r) => c1.once('message', (_m, ri) => r(ri)));
  a.port.send(rtp(9), 0, 13, c1.address().port, '127.0.0.1');
  assert.equal((await reply).port, mux.port);
});

test('ICE restart: the new ufrag from a new address routes to the same PeerConnection; the old ufrag is gone', async (t) => {
  const mux = await UdpMux.bind(0, { address: '127.0.0.1' });
  const before = await client();
  const after = await client();
  const stranger = await client();
  t.after(() => {
    mux.close();
    before.close();
    after.close();
    stranger.close();
  });
  const a = recording(mux);
  mux.register('old1', a.port);
  await send(before, check('old1:x'), mux.port);
  await until(() => a.got.length === 1);
  mux.unregister('old1', a.port);
  mux.register('new1', a.port);
  assert.equal(mux.isTaken('old1'), false);
  await send(after, check('new1:y'), mux.port);
  await send(after, rtp(7), mux.port);
  await until(() => a.got.length === 3);
  assert.equal(a.got[2]!.from, after.address().port, 'media from the new address reaches it');
  await send(stranger, check('old1:z'), mux.port);
  await until(() => mux.stats.unknownUfrag === 1);
  assert.equal(a.got.length, 3);
});

test('a STUN packet we send binds its destination (our own check); its answer, without USERNAME, comes back to us', async (t) => {
  const mux = await UdpMux.bind(0, { address: '127.0.0.1' });
  const c = await client();
  t.after(() => {
    mux.close();
    c.close();
  });
  const a = recording(mux);
  const ours = check('cccc:aaaa');
  a.port.send(ours, c.address().port, '127.0.0.1');
  const resp = new StunBuilder(StunMessageType.BindingSuccess, ours.subarray(8, 20)).xorMappedAddress('127.0.0.1', mux.port).build({ fingerprint: true });
  await send(c, resp, mux.port);
  await until(() => a.got.length === 1);
  assert.equal(a.got[0]!.msg.readUInt16BE(0), 0x0101, 'the success response');
  // our own STUN never takes an address bound to another PeerConnection (a client could signal another
  // client's address as its candidate to divert its packets)
  const b = recording(mux);
  b.port.send(check('dddd:bbbb'), c.address().port, '127.0.0.1');
  await send(c, rtp(5), mux.port);
  await until(() => a.got.length === 2);
  assert.equal(b.got.length, 0, 'still routed to the first');
  // media does not bind: an RTP packet we send to another address leaves its answers unrouted
  const other = await client();
  t.after(() => other.close());
  a.port.send(rtp(1), 0, 13, other.address().port, '127.0.0.1');
  await send(other, rtp(2), mux.port);
  await until(() => mux.stats.unknownSource === 1);
});

test('garbage and unknown sources are dropped and counted; a throwing PeerConnection does not stop the others; close unbinds everything', async (t) => {
  const mux = await UdpMux.bind(0, { address: '127.0.0.1' });
  const c1 = await client();
  const c2 = await client();
  t.after(() => {
    mux.close();
    c1.close();
    c2.close();
  });
  const bad = mux.open();
  bad.on('message', (() => {
    throw new Error('boom');
  }) as never);
  const good = recording(mux);
  mux.register('badd', bad);
  mux.register('good', good.port);
  mux.register('fake', {}); // not one of our ports: ignored
  assert.equal(mux.isTaken('fake'), false);

  await send(c1, Buffer.alloc(0), mux.port);
  await send(c1, Buffer.from([0xff, 1, 2]), mux.port);
  await send(c1, Buffer.from([0x00, 0x01, 0x00]), mux.port); // STUN-looking, unparseable
  await send(c1, check('nope:x'), mux.port);
  await until(() => mux.stats.received === 4);
  assert.equal(mux.stats.garbage, 1, 'empty datagram');
  assert.equal(mux.stats.unknownSource, 1);
  assert.equal(mux.stats.unknownUfrag, 2);

  await send(c1, check('badd:x'), mux.port);
  await send(c2, check('good:y'), mux.port);
  await send(c2, rtp(3), mux.port);
  await until(() => good.got.length === 2);
  assert.equal(mux.stats.ownerFaults, 1);

  assert.equal(mux.portCount, 2);
  good.port.close();
  good.port.close(); // idempotent
  assert.equal(mux.isTaken('good'), false);
  assert.equal(mux.portCount, 1);
  assert.equal(mux.addressCount, 1, "only the other PeerConnection's address is left");
  assert.throws(() => good.port.send(rtp(1), 0, 13, c2.address().port, '127.0.0.1'), /Not running/);
  await send(c2, rtp(4), mux.port);
  await until(() => mux.stats.unknownSource === 2);
  assert.equal(good.got.length, 2, 'nothing after close');
  bad.close();
  assert.equal(mux.addressCount, 0);
  assert.equal(mux.portCount, 0);
});

test('a PeerConnection keeps at most 16 addresses (forged checks cost bounded memory)', async (t) => {
  const mux = await UdpMux.bind(0, { address: '127.0.0.1' });
  t.after(() => mux.close());
  const a = mux.open();
  for (let i = 0; i < 40; i++) mux.bindTo('10.0.0.1', 1000 + i, a);
  assert.equal(mux.addressCount, 16);
  assert.equal(a.bindings.length, 16);
  assert.equal(mux.lookup('10.0.0.1', 1023), undefined, 'the oldest went first');
  assert.equal(mux.lookup('10.0.0.1', 1024), a);
});
