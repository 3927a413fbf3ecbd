/**
 * SctpCore (our sans-IO SCTP) against itself over a simulated link in virtual time: handshake both
 * ways and with INIT collision, loss, reordering, duplicates, a receiver window that fills, partial
 * reliability (maxRetransmits=0, lifetime), stream reset, 256 KiB messages, bundling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Link, chunkTypes } from './link.js';
import { crc32c } from '../../../src/media/sctp/crc32c.js';

const PPID = 51;

test('crc32c: RFC 3720 B.4 test vectors', () => {
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
});

test('handshake: a initiates, b initiates, and both at once (INIT collision)', () => {
  for (const mode of ['a', 'b', 'both'] as const) {
    const l = new Link(10);
    if (mode === 'b') {
      l.b.core.connect(0);
      assert.ok(l.run(10_000, () => l.a.core.established && l.b.core.established), mode);
    } else {
      assert.ok(l.connect(mode === 'both'), mode);
    }
    assert.deepEqual(l.a.states.at(-1), 'established');
    assert.ok(l.a.core.send(1, PPID, Buffer.from('ping'), { ordered: true }, l.now));
    assert.ok(l.b.core.send(2, PPID, Buffer.from('pong'), { ordered: true }, l.now));
    l.run(l.now + 1000, () => l.a.got.length === 1 && l.b.got.length === 1);
    assert.equal(l.b.got[0]?.data.toString(), 'ping', mode);
    assert.equal(l.a.got[0]?.data.toString(), 'pong', mode);
  }
});

test('handshake survives lost INIT, INIT-ACK and COOKIE-ECHO (T1 retransmission)', () => {
  const l = new Link(10);
  let lost = 0;
  l.fate = (_from, p) => {
    const t = chunkTypes(p)[0];
    if ((t === 1 || t === 2 || t === 10) && lost < 3) { lost++; return 'drop'; }
    return 'deliver';
  };
  assert.ok(l.connect());
  assert.equal(lost, 3);
  assert.ok(l.now >= 1000, 'took at least one T1 timeout');
});

function sendMany(l: Link, n: number, size: (i: number) => number, opts = { ordered: true }): Buffer[] {
  const msgs: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const m = randomBytes(size(i));
    m.writeUInt32BE(i, 0);
    msgs.push(m);
    assert.ok(l.a.core.send(1, PPID, m, opts, l.now), `send ${i}`);
  }
  return msgs;
}

test('ordered delivery through 10 % loss, reordering and duplicates; every message exactly once, in order', () => {
  const l = new Link(20);
  assert.ok(l.connect());
  let n = 0;
  l.fate = () => {
    n++;
    const r = (n * 2654435761) % 100;
    if (r < 10) return 'drop';
    if (r < 15) return 'dup';
    if (r < 25) return { delay: 20 + (r % 7) * 9 };
    return 'deliver';
  };
  const msgs = sendMany(l, 400, (i) => 4 + (i % 7 === 0 ? 3000 : (i * 37) % 900));
  assert.ok(l.run(l.now + 120_000, () => l.b.got.length === msgs.length), `got ${l.b.got.length}`);
  l.run(l.now + 2000);
  assert.equal(l.b.got.length, msgs.length);
  for (let i = 0; i < msgs.length; i++) assert.ok(l.b.got[i]!.data.equals(msgs[i]!), `message ${i}`);
  assert.ok(l.a.core.stats.retransmits > 0, 'losses were repaired by retransmission');
  assert.ok(l.b.core.receiverStats.duplicates > 0, 'duplicates were seen and dropped');
  assert.equal(l.a.core.bufferedAmount, 0, 'everything acknowledged');
});

test('fast retransmit: one lost packet in a stream is repaired before the T3 timer', () => {
  const l = new Link(10);
  assert.ok(l.connect());
  let dataPackets = 0;
  l.fate = (from, p) => (from === 'a' && chunkTypes(p).includes(0) && ++dataPackets === 2 ? 'drop' : 'deliver');
  const msgs = sendMany(l, 60, () => 1000);
  assert.ok(l.run(l.now + 900, () => l.b.got.length === msgs.length), `got ${l.b.got.length} within 900 ms`);
  assert.ok(l.a.core.stats.fastRetransmits >= 1);
  assert.equal(l.a.core.stats.t3Expiries, 0);
});

test('unordered messages are delivered as they complete; all arrive', () => {
  const l = new Link(10);
  assert.ok(l.connect());
  let n = 0;
  l.fate = () => (++n % 5 === 0 ? 'drop' : 'deliver');
  const msgs = sendMany(l, 100, (i) => 8 + (i % 3) * 1500, { ordered: false });
  assert.ok(l.run(l.now + 60_000, () => l.b.got.length === msgs.length));
  const ids = l.b.got.map((g) => g.data.readUInt32BE(0)).sort((x, y) => x - y);
  assert.deepEqual(ids, msgs.map((_, i) => i));
});

test('256 KiB messages (fragmented, reassembled) both ways, with loss', () => {
  const l = new Link(15);
  assert.ok(l.connect());
  let n = 0;
  l.fate = () => (++n % 17 === 0 ? 'drop' : 'deliver');
  const big = [randomBytes(256 * 1024), randomBytes(256 * 1024 - 1), randomBytes(300 * 1024)];
  for (const m of big) assert.ok(l.a.core.send(3, PPID, m, { ordered: true }, l.now));
  assert.ok(l.b.core.send(4, PPID, big[0]!, { ordered: true }, l.now));
  assert.ok(l.run(l.now + 120_000, () => l.b.got.length === 3 && l.a.got.length === 1));
  for (let i = 0; i < 3; i++) assert.ok(l.b.got[i]!.data.equals(big[i]!), `big ${i}`);
  assert.ok(l.a.got[0]!.data.equals(big[0]!));
});

test('a message over maxReceiveMessageSize is dropped, the association carries on', () => {
  const l = new Link(5, {}, { maxReceiveMessageSize: 10_000 });
  assert.ok(l.connect());
  assert.ok(l.a.core.send(1, PPID, randomBytes(20_000), { ordered: true }, l.now));
  assert.ok(l.a.core.send(1, PPID, Buffer.from('after'), { ordered: true }, l.now));
  assert.ok(l.run(l.now + 5000, () => l.b.got.length === 1));
  assert.equal(l.b.got[0]!.data.toString(), 'after');
  assert.equal(l.b.core.receiverStats.oversized, 1);
});

test('receiver window: the sender never has more than the window outstanding, and everything gets through', () => {
  const win = 4000; // below the initial cwnd: the receiver window is what limits the sender
  const l = new Link(10, {}, { receiveWindow: win });
  assert.ok(l.connect());
  // Lose the first data packet: everything after it waits in the receiver's buffer (the window fills).
  let first = true;
  l.fate = (from, p) => {
    if (from === 'a' && first && chunkTypes(p).includes(0)) { first = false; return 'drop'; }
    return 'deliver';
  };
  const msgs = sendMany(l, 200, () => 1000);
  let maxOutstanding = 0;
  const ok = l.run(l.now + 60_000, () => {
    // bytes sent but not yet acknowledged (queued minus never sent) can not exceed the window + one chunk
    maxOutstanding = Math.max(maxOutstanding, (l.b.core as unknown as { receiver: { bufferedBytes: number } }).receiver.bufferedBytes);
    return l.b.got.length === msgs.length;
  });
  assert.ok(ok, `got ${l.b.got.length}`);
  assert.ok(maxOutstanding <= win, `receiver buffered at most the window (${maxOutstanding})`);
  assert.ok(maxOutstanding >= win / 2, `the window did fill (${maxOutstanding})`);
  for (let i = 0; i < msgs.length; i++) assert.ok(l.b.got[i]!.data.equals(msgs[i]!));
});

test('partial reliability: maxRetransmits=0 messages lost once are abandoned (FORWARD-TSN), later ones flow', () => {
  const l = new Link(10);
  assert.ok(l.connect());
  let dataPackets = 0;
  const lostIds = new Set<number>();
  l.fate = (from, p) => {
    if (from === 'a' && chunkTypes(p)[0] === 0 && ++dataPackets % 4 === 0) {
      lostIds.add(p.readUInt32BE(12 + 16));
      return 'drop';
    }
    return 'deliver';
  };
  const msgs = sendMany(l, 40, () => 1100, { ordered: true, maxRetransmits: 0 } as { ordered: boolean });
  l.run(l.now + 10_000, () => l.a.core.bufferedAmount === 0 && l.b.got.length + lostIds.size >= msgs.length);
  l.fate = () => 'deliver';
  assert.ok(lostIds.size > 0);
  const got = l.b.got.map((g) => g.data.readUInt32BE(0));
  assert.deepEqual(got, msgs.map((_, i) => i).filter((i) => !lostIds.has(i)), 'lost ones skipped, the rest in order');
  assert.equal(l.a.core.stats.retransmits, 0, 'nothing retransmitted');
  assert.ok(l.a.core.stats.abandoned >= lostIds.size);
  // The stream continues after the skipped SSNs.
  assert.ok(l.a.core.send(1, PPID, Buffer.from('next'), { ordered: true, maxRetransmits: 0 }, l.now));
  assert.ok(l.run(l.now + 2000, () => l.b.got.at(-1)?.data.toString() === 'next'));
});

test('partial reliability: maxPacketLifeTime expires messages stuck behind a dead link', () => {
  const l = new Link(10);
  assert.ok(l.connect());
  let cut = true;
  l.fate = (from, p) => (cut && from === 'a' && chunkTypes(p).includes(0) ? 'drop' : 'deliver');
  for (let i = 0; i < 5; i++) assert.ok(l.a.core.send(2, PPID, Buffer.from(`old ${i}`), { ordered: true, maxPacketLifeTime: 500 }, l.now));
  l.run(l.now + 800);
  cut = false;
  assert.ok(l.a.core.send(2, PPID, Buffer.from('fresh'), { ordered: true, maxPacketLifeTime: 500 }, l.now));
  assert.ok(l.run(l.now + 10_000, () => l.b.got.length >= 1 && l.a.core.bufferedAmount === 0));
  assert.deepEqual(l.b.got.map((g) => g.data.toString()), ['fresh']);
  assert.ok(l.a.core.stats.abandoned >= 1);
});

test('stream reset: a closes stream 5; b resets its side too; both report it; SSNs restart at 0', () => {
  const l = new Link(10);
  assert.ok(l.connect());
  for (let i = 0; i < 3; i++) {
    l.a.core.send(5, PPID, Buffer.from(`a${i}`), { ordered: true }, l.now);
    l.b.core.send(5, PPID, Buffer.from(`b${i}`), { ordered: true }, l.now);
  }
  l.a.core.resetStreams([5], l.now);
  assert.ok(l.run(l.now + 5000, () => l.a.resets.flat().includes(5) && l.b.resets.flat().includes(5) && l.a.resets.length >= 2));
  assert.deepEqual(l.b.got.map((g) => g.data.toString()), ['a0', 'a1', 'a2'], 'data sent before the reset arrives first');
  l.run(l.now + 2000);
  const aResets = l.a.resets.length;
  const bResets = l.b.resets.length;
  // The stream is reused by a new channel: SSN 0 again, delivered.
  assert.ok(l.a.core.send(5, PPID, Buffer.from('again'), { ordered: true }, l.now));
  assert.ok(l.b.core.send(5, PPID, Buffer.from('again-b'), { ordered: true }, l.now));
  assert.ok(l.run(l.now + 2000, () => l.b.got.at(-1)?.data.toString() === 'again' && l.a.got.at(-1)?.data.toString() === 'again-b'));
  l.run(l.now + 3000);
  assert.equal(l.a.resets.length, aResets, 'no reset ping-pong');
  assert.equal(l.b.resets.length, bResets);
});

test('stream reset with the request lost is retransmitted', () => {
  const l = new Link(10);
  assert.ok(l.connect());
  let dropped = 0;
  l.fate = (_f, p) => (chunkTypes(p).includes(0x82) && dropped++ === 0 ? 'drop' : 'deliver');
  l.a.core.resetStreams([7], l.now);
  assert.ok(l.run(l.now + 10_000, () => l.b.resets.flat().includes(7) && l.a.resets.flat().includes(7)));
  assert.equal(dropped >= 1, true);
});

test('bundling: 50 small messages in one tick leave in a few packets', () => {
  const l = new Link(10);
  assert.ok(l.connect());
  const before = l.a.sent.length;
  for (let i = 0; i < 50; i++) l.a.core.send(1, PPID, Buffer.from(`{"textroom":"message","n":${i}}`), { ordered: true }, l.now);
  l.flush();
  const packets = l.a.sent.slice(before);
  assert.ok(packets.length <= 3, `${packets.length} packets`);
  assert.ok(packets.every((p) => p.p.length <= 1200));
  assert.ok(l.run(l.now + 1000, () => l.b.got.length === 50));
});

test('delayed SACK: one lone message is acknowledged within the SACK delay, then heartbeats keep an idle association alive', () => {
  const l = new Link(10);
  assert.ok(l.connect());
  l.a.core.send(1, PPID, Buffer.from('x'), { ordered: true }, l.now);
  const t0 = l.now;
  assert.ok(l.run(l.now + 1000, () => l.a.core.bufferedAmount === 0));
  assert.ok(l.now - t0 >= 200 && l.now - t0 < 400, `acked after ${l.now - t0} ms`);
  l.run(l.now + 120_000);
  assert.ok(l.a.core.established && l.b.core.established);
  // Either side's heartbeat counts as the other's activity: whichever side's timer comes first does it.
  const hb = [...l.a.sent, ...l.b.sent].filter((s) => chunkTypes(s.p).includes(4)).length;
  assert.ok(hb >= 2, `${hb} heartbeats`);
});

test('ABORT closes the peer; SHUTDOWN closes both gracefully after the queued data', () => {
  const l = new Link(10);
  assert.ok(l.connect());
  l.a.core.abort();
  l.run(l.now + 100);
  assert.equal(l.b.core.state, 'closed');
  const m = new Link(10);
  assert.ok(m.connect());
  m.a.core.send(1, PPID, randomBytes(5000), { ordered: true }, m.now);
  m.a.core.shutdown();
  assert.ok(m.run(m.now + 5000, () => m.a.core.state === 'closed' && m.b.core.state === 'closed'));
  assert.equal(m.b.got.length, 1);
});

test('a dead peer: T3 gives up after maxRetransmissions and the association closes', () => {
  const l = new Link(10, { maxRetransmissions: 3, rtoMax: 2000 });
  assert.ok(l.connect());
  l.fate = () => 'drop';
  l.a.core.send(1, PPID, Buffer.from('void'), { ordered: true }, l.now);
  assert.ok(l.run(l.now + 60_000, () => l.a.core.state === 'closed'));
});

test('stream reset overtaking its data: the receiver waits for the sender\'s last TSN (in progress), then resets', () => {
  const l = new Link(10);
  assert.ok(l.connect());
  // DATA from a is slow, RE-CONFIG fast: the reset request arrives before the messages it follows.
  l.fate = (from, p) => (from === 'a' && chunkTypes(p).includes(0) ? { delay: 300 } : 'deliver');
  for (let i = 0; i < 3; i++) l.a.core.send(5, PPID, Buffer.from(`m${i}`), { ordered: true }, l.now);
  l.flush();
  l.a.core.resetStreams([5], l.now);
  let resetAt = -1;
  let gotAtReset = -1;
  assert.ok(l.run(l.now + 10_000, () => {
    if (resetAt < 0 && l.b.resets.flat().includes(5)) { resetAt = l.now; gotAtReset = l.b.got.length; }
    return resetAt >= 0 && l.a.resets.flat().includes(5);
  }));
  assert.equal(gotAtReset, 3, 'all three messages were delivered before the stream was reset');
  const responses: number[] = [];
  for (const { p } of l.b.sent) {
    for (let off = 12; off + 4 <= p.length; off += (p.readUInt16BE(off + 2) + 3) & ~3) {
      if (p[off] === 0x82 && p.readUInt16BE(off + 4) === 16) responses.push(p.readUInt32BE(off + 12));
      if (p.readUInt16BE(off + 2) < 4) break;
    }
  }
  assert.ok(responses.includes(6), `an "in progress" response first (results ${responses.join(',')})`);
});

test('a browser-shaped INIT (I-DATA offered, zero-checksum and unknown parameters) gets a plain-DATA association; the I bit gets an immediate SACK', async () => {
  const { SctpCore } = await import('../../../src/media/sctp/association-core.js');
  const { sctpChecksum } = await import('../../../src/media/sctp/crc32c.js');
  const got: string[] = [];
  const core = new SctpCore({}, { message: (_s, _p, d) => got.push(d.toString()), streamsReset: () => {}, stateChange: () => {} });
  const packet = (vtag: number, chunk: Buffer): Buffer => {
    const p = Buffer.alloc(12 + ((chunk.length + 3) & ~3));
    p.writeUInt16BE(5000, 0); p.writeUInt16BE(5000, 2); p.writeUInt32BE(vtag, 4);
    chunk.copy(p, 12);
    p.writeUInt32LE(sctpChecksum(p), 8);
    return p;
  };
  const params = Buffer.from([
    0x80, 0x08, 0x00, 0x07, 0x82, 0xc0, 0x40, 0x00, // Supported Extensions: RE-CONFIG, FORWARD-TSN, I-DATA
    0xc0, 0x00, 0x00, 0x04, // Forward-TSN supported
    0x80, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, // zero checksum acceptable (RFC 9653)
    0xbf, 0xff, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, // unknown, skip
  ]);
  const init = Buffer.alloc(20 + params.length);
  init[0] = 1; init.writeUInt16BE(init.length, 2);
  init.writeUInt32BE(0xabcdef01, 4); init.writeUInt32BE(131072, 8); init.writeUInt16BE(1024, 12); init.writeUInt16BE(1024, 14); init.writeUInt32BE(1000, 16);
  params.copy(init, 20);
  core.handle(packet(0, init), 0);
  const ack = core.poll(0);
  assert.ok(ack && ack[12] === 2, 'INIT-ACK');
  assert.equal(ack.readUInt32BE(4), 0xabcdef01, 'sent with the peer\'s tag');
  const ourTag = ack.readUInt32BE(16);
  // Our parameters: no I-DATA (0x40), no zero checksum (0x8001); the cookie.
  const body = Buffer.from(ack.subarray(12 + 20, 12 + ack.readUInt16BE(14)));
  let cookie: Buffer | undefined;
  for (let off = 0; off + 4 <= body.length; off += (body.readUInt16BE(off + 2) + 3) & ~3) {
    const t = body.readUInt16BE(off);
    assert.notEqual(t, 0x8001);
    if (t === 0x8008) assert.ok(!body.subarray(off + 4, off + body.readUInt16BE(off + 2)).includes(0x40), 'I-DATA not offered');
    if (t === 7) cookie = Buffer.from(body.subarray(off + 4, off + body.readUInt16BE(off + 2)));
  }
  assert.ok(cookie);
  assert.equal(core.poll(0), undefined);
  const echo = Buffer.alloc(4 + cookie.length);
  echo[0] = 10; echo.writeUInt16BE(echo.length, 2); cookie.copy(echo, 4);
  core.handle(packet(ourTag, echo), 1);
  assert.equal(core.state, 'established');
  assert.equal(core.poll(1)![12], 11, 'COOKIE-ACK');
  const data = Buffer.alloc(16 + 2);
  data[0] = 0; data[1] = 0x08 | 0x03; data.writeUInt16BE(18, 2); data.writeUInt32BE(1000, 4); data.writeUInt16BE(1, 8); data.writeUInt16BE(0, 10); data.writeUInt32BE(51, 12);
  data.write('hi', 16);
  core.handle(packet(ourTag, data), 2);
  assert.deepEqual(got, ['hi']);
  const sack = core.poll(2);
  assert.ok(sack && sack[12] === 3, 'SACK at once (I bit), not after the delay');
  assert.equal(sack.readUInt32BE(16), 1000, 'cumulative TSN');
  // Bad checksum, wrong tag: dropped.
  const bad = packet(ourTag, data);
  bad[20] ^= 1;
  core.handle(bad, 3);
  core.handle(packet((ourTag ^ 1) >>> 0, data), 3);
  assert.equal(core.stats.dropped, 2);
});
