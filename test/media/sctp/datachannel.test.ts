import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectPair } from '../dtls/pair.js';
import { createSctpOverDtls, type DataChannel } from '../../../src/media/sctp/datachannel.js';

interface Msg { ch: DataChannel; data: Buffer; isBinary: boolean }
interface End {
  dc: ReturnType<typeof createSctpOverDtls>;
  opened: DataChannel[];
  msgs: Msg[];
  closedCh: DataChannel[];
}

function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const iv = setInterval(() => {
      if (cond()) { clearInterval(iv); resolve(); } else if (Date.now() - t0 > ms) { clearInterval(iv); reject(new Error('timeout')); }
    }, 5);
  });
}

/** Two DataChannelManagers over two DTLS endpoints in memory (real time: each association arms its own timer). */
async function setup(): Promise<{ c: End; s: End; stop(): void }> {
  const p = await connectPair();
  assert.equal(p.client.ep.state, 'connected');
  // live delivery from now on
  const mk = (side: typeof p.client): End => {
    const e = { opened: [], msgs: [], closedCh: [] } as unknown as End;
    e.dc = createSctpOverDtls(side.ep, {
      events: {
        channelOpen: (ch) => e.opened.push(ch),
        message: (ch, data, isBinary) => e.msgs.push({ ch, data, isBinary }),
        channelClosed: (ch) => e.closedCh.push(ch),
      },
    });
    side.onData = (d) => e.dc.onDtlsData(d);
    return e;
  };
  const c = mk(p.client);
  const s = mk(p.server);
  const pump = setInterval(() => { void p.flush(); }, 1);
  s.dc.start();
  c.dc.start();
  await waitFor(() => c.dc.sctp.state === 'connected' && s.dc.sctp.state === 'connected');
  return { c, s, stop: () => { clearInterval(pump); c.dc.sctp.close(); s.dc.sctp.close(); } };
}

test('data channels over SCTP over DTLS', { timeout: 60_000 }, async (t) => {
  const { c, s, stop } = await setup();
  t.after(stop);

  await t.test('client opens a channel, server sees label and protocol; stream id is even', async () => {
    const ch = c.dc.channels.createChannel('chat', { protocol: 'json' })!;
    assert.equal(ch.id % 2, 0);
    await waitFor(() => s.opened.length === 1 && c.opened.length === 1);
    assert.equal(s.opened[0]!.label, 'chat');
    assert.equal(s.opened[0]!.protocol, 'json');
    assert.equal(s.opened[0]!.id, ch.id);
    assert.equal(ch.state, 'open');
  });

  await t.test('text and binary round trips, empty messages, 256 KiB', async () => {
    const ch = c.opened[0]!;
    const sch = s.opened[0]!;
    const big = randomBytes(256 * 1024);
    assert.ok(c.dc.channels.send(ch, 'hello'));
    assert.ok(c.dc.channels.send(ch, ''));
    assert.ok(c.dc.channels.send(ch, new Uint8Array([1, 2, 3])));
    assert.ok(c.dc.channels.send(ch, new Uint8Array(0)));
    assert.ok(c.dc.channels.send(ch, big));
    assert.ok(c.dc.channels.send(ch, 'é'.repeat(1000)));
    await waitFor(() => s.msgs.length === 6, 30_000);
    const m = s.msgs;
    assert.deepEqual([m[0]!.data.toString(), m[0]!.isBinary], ['hello', false]);
    assert.deepEqual([m[1]!.data.length, m[1]!.isBinary], [0, false]);
    assert.deepEqual([[...m[2]!.data], m[2]!.isBinary], [[1, 2, 3], true]);
    assert.deepEqual([m[3]!.data.length, m[3]!.isBinary], [0, true]);
    assert.ok(m[4]!.isBinary && m[4]!.data.equals(big));
    assert.equal(m[5]!.data.toString(), 'é'.repeat(1000));
    for (const x of m) assert.equal(x.ch.id, ch.id);
    // and back
    assert.ok(s.dc.channels.send(sch, big));
    assert.ok(s.dc.channels.send(sch, 'pong'));
    await waitFor(() => c.msgs.length === 2, 30_000);
    assert.ok(c.msgs[0]!.data.equals(big) && c.msgs[0]!.isBinary);
    assert.equal(c.msgs[1]!.data.toString(), 'pong');
    assert.ok(s.dc.channels.send(sch, randomBytes(300 * 1024)) === false, 'over max-message-size is refused');
  });

  await t.test('many messages arrive in order', async () => {
    const ch = c.opened[0]!;
    s.msgs.length = 0;
    const N = 500;
    for (let i = 0; i < N; i++) assert.ok(c.dc.channels.send(ch, `m${i}`));
    await waitFor(() => s.msgs.length === N, 30_000);
    assert.deepEqual(s.msgs.map((x) => x.data.toString()), Array.from({ length: N }, (_, i) => `m${i}`));
  });

  await t.test('server opens a channel (odd stream id), client sees it', async () => {
    const before = c.opened.length;
    const ch = s.dc.channels.createChannel('from-server', { ordered: false, maxRetransmits: 2 })!;
    assert.equal(ch.id % 2, 1);
    await waitFor(() => c.opened.length === before + 1);
    const seen = c.opened[before]!;
    assert.equal(seen.label, 'from-server');
    assert.equal(seen.id, ch.id);
    assert.deepEqual(seen.reliability, { ordered: false, maxRetransmits: 2 });
    c.msgs.length = 0;
    assert.ok(c.dc.channels.send(seen, 'to server channel'));
    await waitFor(() => s.msgs.some((m) => m.ch.id === ch.id));
    assert.equal(s.msgs.find((m) => m.ch.id === ch.id)!.data.toString(), 'to server channel');
  });

  await t.test('closing a channel resets the stream and both sides see it closed', async () => {
    const ch = c.opened[0]!;
    c.dc.channels.close(ch);
    await waitFor(() => s.closedCh.some((x) => x.id === ch.id) && c.closedCh.some((x) => x.id === ch.id));
    assert.equal(c.dc.channels.send(ch.id, 'x'), false);
  });

  await t.test('garbage SCTP packets and unknown DCEP are dropped', async () => {
    for (let i = 0; i < 50; i++) assert.doesNotThrow(() => s.dc.onDtlsData(randomBytes(i * 7)));
    assert.doesNotThrow(() => s.dc.channels.onSctpMessage(1, 50, Buffer.from([9, 9])));
    assert.doesNotThrow(() => s.dc.channels.onSctpMessage(777, 51, Buffer.from('x')));
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(s.dc.sctp.stats.dropped > 0);
    assert.ok(s.dc.channels.stats.dropped >= 2);
    // still working
    const ch = c.dc.channels.createChannel('after-garbage')!;
    await waitFor(() => s.opened.some((x) => x.id === ch.id));
  });
});
