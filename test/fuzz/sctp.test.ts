/**
 * SCTP and DCEP (src/media/sctp): parseDcep gives a message or undefined for any bytes, and a real
 * pair of associations (our SCTP association plus DataChannelManager on each side, wired in
 * memory) survives garbage: DCEP OPENs with odd channel types and lying lengths sent as real SCTP
 * messages, messages with any PPID, and mutated or random SCTP packets injected into the server.
 * Nothing throws or leaks a rejection; the server's channel table stays bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fc, check, checkAsync, boundedHeap, mutated, noStrayErrors, rawBytes, typedOnly, applyMutation, mutationArb , REPLAYING } from './harness.js';
import { buildDataChannelAck, buildDataChannelOpen, parseDcep, PPID_BINARY, PPID_BINARY_EMPTY, PPID_BINARY_PARTIAL, PPID_DCEP, PPID_STRING, PPID_STRING_EMPTY, PPID_STRING_PARTIAL } from '../../src/media/sctp/dcep.js';
import { CoreSctpAssociation } from '../../src/media/sctp/association.js';
import { DataChannelManager } from '../../src/media/sctp/datachannel.js';
import { sctpChecksum } from '../../src/media/sctp/crc32c.js';
import { Link } from '../media/sctp/link.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

const validOpen: fc.Arbitrary<Uint8Array> = fc
  .record({ channelType: fc.constantFrom(0x00, 0x80, 0x01, 0x81, 0x02, 0x82, 0x03, 0xff), priority: fc.integer({ min: 0, max: 0xffff }), rel: fc.nat(), label: fc.string({ maxLength: 20 }), protocol: fc.string({ maxLength: 10 }) })
  .map((r) => buildDataChannelOpen({ channelType: r.channelType, priority: r.priority, reliabilityParameter: r.rel, label: r.label, protocol: r.protocol }));
const dcepAny = fc.oneof(validOpen.map((u) => Buffer.from(u)), mutated(validOpen, 3), fc.constant(buildDataChannelAck()), rawBytes(40));

test('DCEP: any bytes parse to a message or undefined; lengths add up', async () => {
  await boundedHeap(8 << 20, () => {
    check('dcep', [dcepAny], (b) => {
      const m = typedOnly(() => parseDcep(b), []);
      // Decoded strings are never longer (in UTF-16 units) than their bytes: no amplification.
      if (m?.type === 'open') assert.ok(12 + m.label.length + m.protocol.length <= b.length);
      if (m?.type === 'ack') assert.equal(b.length, 1);
    }, 3000);
  });
});

const PPIDS = [PPID_DCEP, PPID_STRING, PPID_BINARY, PPID_STRING_EMPTY, PPID_BINARY_EMPTY, PPID_STRING_PARTIAL, PPID_BINARY_PARTIAL, 0, 99, 0xffffffff];

type Step =
  | { kind: 'open'; label: string }
  | { kind: 'send'; sid: number; ppid: number; data: Uint8Array }
  | { kind: 'dcep'; sid: number; data: Uint8Array }
  | { kind: 'inject'; bytes: Uint8Array; template: number; m: import('./harness.js').Mutation[] }
  | { kind: 'close'; sid: number };

const sid = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(65534, 65535, 1023, 1024));
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('open' as const), label: fc.string({ maxLength: 12 }) }),
  fc.record({ kind: fc.constant('send' as const), sid, ppid: fc.constantFrom(...PPIDS), data: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('dcep' as const), sid, data: dcepAny }),
  fc.record({ kind: fc.constant('inject' as const), bytes: rawBytes(80), template: fc.nat(), m: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant('close' as const), sid }),
);

interface End {
  assoc: CoreSctpAssociation;
  dc: DataChannelManager;
  opened: number;
  messages: number;
}

/** Across all runs: the scenarios really reach the data channel layer (the test is not vacuous). */
const delivered = { messages: 0, opened: 0 };

async function scenario(steps: Step[]): Promise<void> {
  const queue: Array<{ to: End; p: Buffer }> = [];
  /** Packets the client really sent: templates for structure-aware mutation. */
  const seen: Buffer[] = [];
  const mk = (isClient: boolean): End => {
    const e = { opened: 0, messages: 0 } as End;
    e.assoc = new CoreSctpAssociation({ isClient, maxFragmentSize: 1200 - 77 }, {
      transmit: (p) => {
        if (isClient && seen.length < 64) seen.push(Buffer.from(p));
        queue.push({ to: isClient ? server : client, p: Buffer.from(p) });
      },
      message: (s, ppid, data) => e.dc.onSctpMessage(s, ppid, data),
      streamsReset: (ids) => e.dc.onStreamsReset(ids),
      stateChange: (s) => e.dc.onSctpState(s),
    });
    e.dc = new DataChannelManager(e.assoc, isClient ? 'client' : 'server', { channelOpen: () => { e.opened++; }, message: () => { e.messages++; } }, 64);
    return e;
  };
  const client: End = mk(true);
  const server: End = mk(false);
  const flush = async () => {
    for (let quiet = 0; quiet < 4;) {
      await tick();
      const q = queue.shift();
      if (!q) { quiet++; continue; }
      quiet = 0;
      q.to.assoc.handlePacket(q.p);
    }
  };
  try {
    server.assoc.start();
    client.assoc.start();
    await flush();
    assert.equal(client.assoc.state, 'connected', 'associations connect in memory');
    assert.equal(server.assoc.state, 'connected');
    for (const s of steps) {
      switch (s.kind) {
        case 'open':
          client.dc.createChannel(s.label);
          break;
        case 'send':
          client.assoc.send(s.sid, s.ppid, Buffer.from(s.data), { ordered: true });
          break;
        case 'dcep':
          client.assoc.send(s.sid, PPID_DCEP, Buffer.from(s.data), { ordered: true });
          break;
        case 'inject': {
          const t = seen.length ? seen[s.template % seen.length]! : Buffer.alloc(0);
          const bytes = t.length && s.template % 3 !== 0 ? s.m.reduce<Uint8Array>((a, m) => applyMutation(a, m), Uint8Array.from(t)) : s.bytes;
          server.assoc.handlePacket(Buffer.from(bytes));
          break;
        }
        case 'close':
          client.dc.close(s.sid);
          break;
      }
      await flush();
    }
    assert.ok(server.dc.channelList.length <= 64, `server channels bounded (${server.dc.channelList.length})`);
    delivered.messages += server.messages;
    delivered.opened += server.opened;
  } finally {
    client.assoc.close();
    server.assoc.close();
    await flush();
  }
}

test('SCTP associations with DataChannelManagers: garbage DCEP, odd PPIDs and injected packets never throw', async () => {
  await noStrayErrors(async () => {
    await checkAsync('sctp association', [fc.array(stepArb, { maxLength: 16 })], scenario, 150);
  });
  if (!REPLAYING) assert.ok(delivered.opened > 0 && delivered.messages > 0, `channels opened (${delivered.opened}) and messages delivered (${delivered.messages})`);
});

test('DataChannelManager: a message in 60,000 one-byte PARTIAL fragments is joined in linear time (regression)', () => {
  // Found while fuzzing: every fragment re-summed all earlier ones, so this took ~5 s of blocked
  // event loop (and the limit, 256 KiB of 1-byte fragments, ~100 s).
  const assoc = new CoreSctpAssociation({ isClient: false }, { transmit() {}, message() {}, streamsReset() {}, stateChange() {} });
  const got: Buffer[] = [];
  const dc = new DataChannelManager(assoc, 'server', { message: (_ch, d) => got.push(d) });
  dc.onSctpMessage(0, PPID_DCEP, buildDataChannelOpen({ channelType: 0, priority: 0, reliabilityParameter: 0, label: 'x', protocol: '' }));
  const t0 = performance.now();
  for (let i = 0; i < 60_000; i++) dc.onSctpMessage(0, PPID_STRING_PARTIAL, Buffer.from([0x61 + (i % 26)]));
  dc.onSctpMessage(0, PPID_STRING, Buffer.from('!'));
  const ms = performance.now() - t0;
  assert.ok(ms < 1500, `took ${ms.toFixed(0)} ms`);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.length, 60_001);
  assert.equal(got[0]!.toString('latin1', 0, 27), 'abcdefghijklmnopqrstuvwxyza');
  assert.equal(got[0]!.toString('latin1', 60_000), '!');
  // Past max-message-size the partial message is dropped, and the next one starts clean.
  const big = Buffer.alloc(100_000, 0x62);
  for (let i = 0; i < 3; i++) dc.onSctpMessage(0, PPID_BINARY_PARTIAL, big);
  assert.equal(dc.stats.dropped, 1);
  dc.onSctpMessage(0, PPID_BINARY_PARTIAL, Buffer.from('x'));
  dc.onSctpMessage(0, PPID_BINARY, Buffer.from('y'));
  assert.equal(got[1]!.toString(), 'xy');
  assoc.close();
});

/** Packets of a real exchange (handshake, data, SACK, FORWARD-TSN, RE-CONFIG, HEARTBEAT): mutation templates. */
function recordedPackets(): { toB: Buffer[]; build(): Link } {
  const l = new Link(5);
  l.connect();
  for (let i = 0; i < 20; i++) l.a.core.send(i % 3, 51, Buffer.alloc(1 + i * 150, i), { ordered: i % 2 === 0, maxRetransmits: i % 4 === 0 ? 0 : undefined }, l.now);
  l.a.core.resetStreams([1], l.now);
  l.run(l.now + 40_000);
  return { toB: l.a.sent.map((s) => s.p), build: () => { const m = new Link(5); m.connect(); return m; } };
}

/** Recomputes the CRC32c so that mutated packets reach the chunk parsers instead of failing the checksum. */
function withChecksum(b: Uint8Array): Buffer {
  const p = Buffer.from(b);
  if (p.length >= 12) p.writeUInt32LE(sctpChecksum(p), 8);
  return p;
}

test('SctpCore: random bytes and mutated real packets (checksum fixed up) never throw; the association keeps working', async () => {
  const { toB, build } = recordedPackets();
  assert.ok(toB.length > 10);
  const arb = fc.array(fc.oneof(
    fc.record({ t: fc.nat(), m: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) }).map(({ t, m }) => withChecksum(m.reduce<Uint8Array>((a, x) => applyMutation(a, x), Uint8Array.from(toB[t % toB.length]!)))),
    rawBytes(200).map(withChecksum),
  ), { minLength: 1, maxLength: 12 });
  let survived = 0;
  await boundedHeap(64 << 20, () => {
    check('sctp core', [arb], (pkts) => {
      const l = build();
      for (const p of pkts) {
        // the peer's tag, so the packet is not dropped at the door
        if (p.length >= 12 && (p[0]! & 1) === 0) p.writeUInt32BE((l.b.core as unknown as { localTag: number }).localTag, 4), p.writeUInt32LE(sctpChecksum(p), 8);
        l.b.core.handle(p, l.now);
        l.run(l.now + 50);
      }
      l.run(l.now + 30_000);
      if (l.a.core.established && l.b.core.established) {
        const before = l.b.got.length;
        l.a.core.send(9, 51, Buffer.from('alive'), { ordered: true }, l.now);
        l.run(l.now + 30_000, () => l.b.got.length > before);
        if (l.b.got.length > before) survived++;
      }
    }, 400);
  });
  if (!REPLAYING) assert.ok(survived > 0, 'some associations survive the garbage and still deliver');
});
