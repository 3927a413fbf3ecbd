import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { PortRangeExhaustedError, UdpPortAllocator, parsePortRange } from '../../../src/media/net/port-allocator.js';

const closeAll = (sockets: Socket[]) => Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));

/** A small range of ports that were free a moment ago. */
async function freeBase(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await closeAll([s]);
  return Math.min(p, 65530);
}

test('parsePortRange', () => {
  assert.deepEqual(parsePortRange('10000-60000'), { min: 10000, max: 60000 });
  assert.deepEqual(parsePortRange(' 20000 - 10000 '), { min: 10000, max: 20000 });
  assert.deepEqual(parsePortRange('0'), { min: 0, max: 0 });
  assert.throws(() => parsePortRange('abc'), /invalid rtp_port_range/);
  assert.throws(() => parsePortRange('1-70000'), /65535/);
});

test('binds only inside the range, round-robin, then throws a clear error', async () => {
  const min = await freeBase();
  const max = min + 3;
  const alloc = new UdpPortAllocator({ range: `${min}-${max}`, address: '127.0.0.1' });
  const got: Socket[] = [];
  try {
    for (;;) {
      try {
        const a = await alloc.allocate();
        assert.ok(a.port >= min && a.port <= max, `port ${a.port} inside ${min}-${max}`);
        assert.equal(a.socket.address().port, a.port);
        got.push(a.socket);
      } catch (err) {
        assert.ok(err instanceof PortRangeExhaustedError);
        assert.equal((err as Error).message, `no free UDP port in rtp_port_range ${min}-${max}`);
        break;
      }
      assert.ok(got.length <= 4);
    }
    assert.ok(got.length >= 1, 'at least one port was free');
    const ports = got.map((s) => s.address().port);
    assert.deepEqual([...ports].sort(), [...new Set(ports)].sort(), 'distinct ports');
    assert.deepEqual(ports, [...ports].sort((a, b) => a - b), 'handed out in round-robin order');
    assert.equal(alloc.inUse, got.length);
    // releasing a port makes it available again
    const released = ports[0]!;
    await closeAll([got.shift()!]);
    assert.equal(alloc.inUse, got.length);
    const again = await alloc.allocate();
    assert.equal(again.port, released);
    got.push(again.socket);
  } finally {
    await closeAll(got);
  }
});

test('skips ports that another socket already holds', async () => {
  const min = await freeBase();
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(min, '127.0.0.1', () => r()));
  const alloc = new UdpPortAllocator({ range: { min, max: min + 1 }, address: '127.0.0.1' });
  const held: Socket[] = [blocker];
  try {
    const a = await alloc.allocate();
    held.push(a.socket);
    assert.equal(a.port, min + 1);
    await assert.rejects(alloc.allocate(), /no free UDP port in rtp_port_range/);
  } finally {
    await closeAll(held);
  }
});

test('non-busy bind errors surface as they are', async () => {
  const alloc = new UdpPortAllocator({ range: '40000-40001', address: '192.0.2.123' }); // TEST-NET, not local
  await assert.rejects(alloc.allocate(), (e: NodeJS.ErrnoException) => e.code === 'EADDRNOTAVAIL');
  assert.equal(alloc.inUse, 0);
});

