import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { literalLookup } from '../../../src/media/net/literal-lookup.js';

function ask(host: string, family: number): { sync: boolean; done: Promise<[NodeJS.ErrnoException | null, string, number]> } {
  let sync = true;
  let answered = false;
  const done = new Promise<[NodeJS.ErrnoException | null, string, number]>((resolve) =>
    literalLookup(host, family, (err, address, fam) => {
      answered = true;
      resolve([err, address, fam]);
    }),
  );
  sync = answered;
  return { sync, done };
}

test('literalLookup answers literals at once (the remembered last one and others, v4 and v6), names through dns', async () => {
  for (const [host, fam] of [['10.1.2.3', 4], ['10.1.2.3', 4], ['192.168.0.9', 4], ['10.1.2.3', 4], ['::1', 6], ['::1', 6], ['fe80::1', 6], ['127.0.0.1', 4]] as const) {
    const r = ask(host, fam);
    assert.ok(r.sync, `${host} answered synchronously`);
    assert.deepEqual(await r.done, [null, host, fam]);
  }
  // A name is not a literal: dns.lookup answers, later (and the remembered literal is not confused with it).
  const r = ask('localhost', 4);
  assert.equal(r.sync, false);
  const [err, address, fam] = await r.done;
  assert.equal(err, null);
  assert.equal(fam, 4);
  assert.match(address, /^127\./);
});

test('a media socket with literalLookup sends without a callback and its send queue is empty right after (the Peer reuses the buffer then)', async () => {
  const a = createSocket({ type: 'udp4', lookup: literalLookup });
  const b = createSocket('udp4');
  try {
    await new Promise<void>((r) => a.bind(0, '127.0.0.1', r));
    await new Promise<void>((r) => b.bind(0, '127.0.0.1', r));
    const got: string[] = [];
    b.on('message', (m: Buffer) => got.push(m.toString()));
    const buf = Buffer.alloc(64);
    for (let i = 0; i < 20; i++) {
      const n = buf.write(`packet ${i}`);
      a.send(buf, 0, n, b.address().port, '127.0.0.1');
      assert.equal(a.getSendQueueCount(), 0, 'sent synchronously on loopback');
      buf.fill(0); // reused at once, as the Peer does: what left must be intact
    }
    const end = Date.now() + 10_000;
    while (got.length < 20 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(got, [...Array(20).keys()].map((i) => `packet ${i}`));
  } finally {
    a.close();
    b.close();
  }
});
