import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { IceTcpListener, type IceTcpConn } from '../../../src/media/net/ice-tcp.js';
import { Rfc4571Reader, frame } from '../../../src/media/net/rfc4571.js';
import { StunBuilder, StunMessageType } from '../../../src/media/stun/index.js';

const check = (username: string): Buffer => new StunBuilder(StunMessageType.BindingRequest).username(username).priority(1).build({ integrityKey: 'x'.repeat(22), fingerprint: true });
const framed = (b: Buffer): Buffer => frame(b, 0, b.length);

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the server closed the connection (the client sees end/close), or rejects after ms. */
function closedByServer(s: Socket, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('connection still open')), ms);
    s.on('error', () => undefined);
    s.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a connection whose first check names a registered ufrag is adopted; frames flow both ways framed', async (t) => {
  const l = await IceTcpListener.listen({ range: { min: 0, max: 0 }, address: '127.0.0.1' });
  t.after(() => l.close());
  const frames: Buffer[] = [];
  let adopted: IceTcpConn | null = null;
  let closed = 0;
  l.register('abcd', {
    adopt: (c) => {
      adopted = c;
      c.setReceiver({ onFrame: (f) => frames.push(Buffer.from(f)), onClose: () => closed++ });
      return true;
    },
  });
  assert.equal(l.isTaken('abcd'), true);
  const s = await dial(l.port);
  const got: Buffer[] = [];
  const reader = new Rfc4571Reader(4096, (f) => got.push(Buffer.from(f)));
  s.on('data', (d: Buffer) => reader.push(d));
  const first = check('abcd:zz');
  // the first check and a DTLS-looking packet in one write, then a split RTP-looking one
  s.write(Buffer.concat([framed(first), framed(Buffer.from([22, 1, 2]))]));
  const rtp = framed(Buffer.alloc(1000, 0x80));
  s.write(rtp.subarray(0, 500));
  await new Promise((r) => setTimeout(r, 50));
  s.write(rtp.subarray(500));
  await until(() => frames.length === 3);
  assert.ok(frames[0]!.equals(first), 'the first frame is delivered too');
  assert.deepEqual([...frames[1]!], [22, 1, 2]);
  assert.equal(frames[2]!.length, 1000);
  assert.ok(adopted);
  const conn = adopted as IceTcpConn;
  assert.equal(conn.remote.address, '127.0.0.1');
  assert.equal(conn.remote.port, s.localPort);
  assert.equal(conn.local.port, l.port);
  assert.equal(conn.send(Buffer.from('xyhello'), 2, 5), true);
  await until(() => got.length === 1);
  assert.equal(got[0]!.toString(), 'hello');
  assert.equal(l.stats.adopted, 1);
  const gone = closedByServer(s);
  conn.close(true);
  await gone;
  assert.equal(closed, 1);
  assert.equal(conn.send(Buffer.from('late'), 0, 4), false, 'nothing is sent on a closed connection');
  l.unregister('abcd', { adopt: () => true }); // another owner: not removed
  assert.equal(l.isTaken('abcd'), true);
});

test('garbage, unknown ufrag, huge length, slowloris and too many waiting connections: that connection is closed and counted', async (t) => {
  const l = await IceTcpListener.listen({ range: { min: 0, max: 0 }, address: '127.0.0.1', firstFrameTimeoutMs: 400, maxPending: 3, maxFrame: 1500 });
  t.after(() => l.close());
  let adoptions = 0;
  l.register('good', { adopt: (c) => (c.setReceiver({ onFrame: () => undefined, onClose: () => undefined }), ++adoptions > 0) });

  const garbage = await dial(l.port);
  let c = closedByServer(garbage);
  garbage.write(framed(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
  await c;
  assert.equal(l.stats.garbage, 1);

  const rtpFirst = await dial(l.port);
  c = closedByServer(rtpFirst);
  rtpFirst.write(framed(Buffer.alloc(100, 0x80)));
  await c;
  assert.equal(l.stats.garbage, 2, 'media before any check is refused');

  const unknown = await dial(l.port);
  c = closedByServer(unknown);
  unknown.write(framed(check('nope:zz')));
  await c;
  assert.equal(l.stats.unknownUfrag, 1);

  const huge = await dial(l.port);
  c = closedByServer(huge);
  huge.write(Buffer.from([0xff, 0xff, 0, 1, 2, 3]));
  await c;
  assert.equal(l.stats.oversize, 1);

  const slow = await dial(l.port);
  c = closedByServer(slow, 5000);
  slow.write(Buffer.from([0x00])); // half a length header, then nothing
  await c;
  assert.equal(l.stats.timeout, 1);

  // three idle connections fill the waiting room; the fourth is refused at once
  const idle = await Promise.all([dial(l.port), dial(l.port), dial(l.port)]);
  await until(() => l.connections === 3);
  const extra = await dial(l.port);
  await closedByServer(extra, 2000);
  assert.equal(l.stats.overflow, 1);
  for (const s of idle) s.destroy();
  await until(() => l.connections === 0);

  // the listener still serves a good client after all that
  const good = await dial(l.port);
  good.write(framed(check('good:zz')));
  await until(() => adoptions === 1);
  good.destroy();
  assert.equal(l.stats.adopted, 1);
  assert.equal(l.stats.accepted, 10);
});

test('an owner that refuses (full) gets the connection closed and counted', async (t) => {
  const l = await IceTcpListener.listen({ range: { min: 0, max: 0 }, address: '127.0.0.1' });
  t.after(() => l.close());
  l.register('full', { adopt: () => false });
  const s = await dial(l.port);
  const c = closedByServer(s);
  s.write(framed(check('full:zz')));
  await c;
  assert.equal(l.stats.refused, 1);
});

test('listeners of one range take different ports (one per media worker)', async (t) => {
  const base = 20000 + Math.floor(Math.random() * 20000);
  const a = await IceTcpListener.listen({ range: { min: base, max: base + 20 }, address: '127.0.0.1' });
  t.after(() => a.close());
  const b = await IceTcpListener.listen({ range: { min: base, max: base + 20 }, address: '127.0.0.1' });
  t.after(() => b.close());
  assert.notEqual(a.port, b.port);
  assert.ok(a.port >= base && a.port <= base + 20 && b.port >= base && b.port <= base + 20);
  await assert.rejects(IceTcpListener.listen({ range: { min: a.port, max: a.port }, address: '127.0.0.1' }), /no free TCP port/);
});

test('a dual-stack listener (media.ipv6) takes IPv4 and IPv6 clients; an IPv4 client is known by its plain address', async (t) => {
  let l: IceTcpListener;
  try {
    l = await IceTcpListener.listen({ range: { min: 0, max: 0 }, address: '::' });
  } catch (err) {
    t.skip(`no IPv6 on this host: ${String(err)}`);
    return;
  }
  t.after(() => l.close());
  const remotes: string[] = [];
  l.register('dual', { adopt: (c) => (remotes.push(`${c.remote.address}|${c.local.address}`), c.setReceiver({ onFrame: () => undefined, onClose: () => undefined }), true) });
  const check = new StunBuilder(StunMessageType.BindingRequest).username('dual:x').priority(1).build({ integrityKey: 'x'.repeat(22), fingerprint: true });
  const framed = Buffer.concat([Buffer.from([check.length >> 8, check.length & 255]), check]);
  for (const host of ['127.0.0.1', '::1']) {
    const s = connect(l.port, host);
    t.after(() => s.destroy());
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(framed);
  }
  const end = Date.now() + 5000;
  while (remotes.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(remotes.sort(), ['127.0.0.1|127.0.0.1', '::1|::1']);
});
