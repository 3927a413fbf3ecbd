/**
 * DTLS (src/media/dtls): the record and handshake-fragment parsers keep every view inside the
 * datagram, and a live DtlsEndpoint pair whose client->server datagrams are dropped, mutated or
 * preceded by garbage never throws, never leaks an error from the handshake engine, closes at most
 * once, and still connects when nothing was tampered with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fc, check, checkAsync, boundedHeap, mutated, noStrayErrors, rawBytes, typedOnly, applyMutation, mutationArb, type Mutation } from './harness.js';
import { buildRecord, CT_HANDSHAKE, encodeHandshake, MessageAssembler, parseHandshakeFragments, parseRecords, RECORD_HEADER_LEN } from '../../src/media/dtls/record.js';
import { DtlsEndpoint, type DtlsEndpointEvents } from '../../src/media/dtls/endpoint.js';
import { certs } from '../media/dtls/pair.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Handshake records with one or more (possibly fragmented) handshake messages. */
const validRecordDatagram: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.record({ type: fc.constantFrom(1, 2, 3, 11, 12, 14, 16, 20), seq: fc.integer({ min: 0, max: 20 }), body: fc.uint8Array({ maxLength: 80 }), cut: fc.nat() }).map((m) => {
      const off = m.body.length ? m.cut % m.body.length : 0;
      return buildRecord(CT_HANDSHAKE, 0, m.seq, encodeHandshake(m.type, m.seq, m.body, off, m.body.length - off, m.body.length));
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((rs) => Buffer.concat(rs));

function readRecords(d: Buffer): void {
  const { records, ok } = parseRecords(d);
  let covered = 0;
  for (const r of records) {
    assert.ok(r.raw.byteOffset >= d.byteOffset && r.raw.byteOffset + r.raw.length <= d.byteOffset + d.length, 'record view inside the datagram');
    assert.equal(r.raw.length, RECORD_HEADER_LEN + r.body.length);
    covered += r.raw.length;
    const frags = parseHandshakeFragments(r.body);
    if (!frags) continue;
    for (const f of frags) {
      assert.ok(f.fragmentOffset + f.fragment.length <= f.length, 'fragment inside its message');
      // Reassembly of what the endpoint would accept (it caps messages at 64 KiB).
      if (f.length <= 65_536) new MessageAssembler(f.msgType, f.length).add(f);
    }
  }
  if (ok) assert.equal(covered, d.length, 'ok means the records cover the datagram');
}

test('DTLS records and handshake fragments: views stay inside the datagram', async () => {
  await boundedHeap(8 << 20, () => {
    check('dtls records', [fc.oneof(mutated(validRecordDatagram, 4), rawBytes(200))], (d) => typedOnly(() => readRecords(d), []), 3000);
  });
});

type Tamper = { kind: 'pass' } | { kind: 'drop' } | { kind: 'mutate'; m: Mutation[] } | { kind: 'garbage'; bytes: Uint8Array };

const tamperArb: fc.Arbitrary<Tamper> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'pass' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop' as const }) },
  { weight: 2, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }).map((m) => ({ kind: 'mutate' as const, m })) },
  { weight: 1, arbitrary: fc.oneof(rawBytes(60), mutated(validRecordDatagram, 2)).map((bytes) => ({ kind: 'garbage' as const, bytes: bytes.length ? ((bytes[0] = 20 + (bytes[0]! % 44)), bytes) : Uint8Array.of(22) })) },
);

async function handshake(tampers: Tamper[], serverTampers: Tamper[]): Promise<void> {
  const [cc, sc] = certs();
  const queue: Array<{ to: 'client' | 'server'; d: Buffer }> = [];
  const counters = { client: 0, server: 0 };
  const connected = { client: false, server: false };
  const closes = { client: 0, server: 0 };
  const mtu = 1200;
  const mk = (role: 'client' | 'server'): DtlsEndpoint => {
    const plan = role === 'client' ? tampers : serverTampers;
    const events: DtlsEndpointEvents = {
      transmit: (d) => {
        assert.ok(d.length <= 1500, `datagram of ${d.length} bytes`);
        const t = plan[counters[role]++] ?? { kind: 'pass' };
        const to = role === 'client' ? 'server' : 'client';
        if (t.kind === 'drop') return;
        if (t.kind === 'garbage') queue.push({ to, d: Buffer.from(t.bytes) });
        queue.push({ to, d: t.kind === 'mutate' ? Buffer.from(t.m.reduce<Uint8Array>((a, m) => applyMutation(a, m), Uint8Array.from(d))) : d });
      },
      connected: () => { connected[role] = true; },
      closed: () => { closes[role]++; },
    };
    return new DtlsEndpoint({ role, certificate: role === 'client' ? cc : sc, remoteFingerprints: [role === 'client' ? sc.fingerprint : cc.fingerprint], mtu, initialRtoMs: 100, maxRetransmits: 3 }, events);
  };
  const client = mk('client');
  const server = mk('server');
  let now = 0;
  const flush = async () => {
    for (let quiet = 0; quiet < 3;) {
      await tick();
      const q = queue.shift();
      if (!q) { quiet++; continue; }
      quiet = 0;
      (q.to === 'client' ? client : server).handleDatagram(q.d, now);
    }
  };
  client.start(now);
  await flush();
  // Retransmission timers drive recovery from drops and damaged datagrams.
  for (let i = 0; i < 6 && !(connected.client && connected.server); i++) {
    now += 1000;
    for (const ep of [client, server]) if ((ep.pollTimeout() ?? Infinity) <= now) ep.handleTimeout(now);
    await flush();
  }
  if (connected.client && connected.server) {
    client.send(Buffer.from('ping'));
    await flush();
  }
  // A malformed handshake message the engine rejects counts as an engine error and fails the
  // handshake cleanly (one close event); that is the designed outcome, not a crash.
  for (const role of ['client', 'server'] as const) assert.ok(closes[role] <= 1, `${role}: closed fires once`);
  const untouched = [...tampers, ...serverTampers].every((t) => t.kind === 'pass');
  if (untouched) assert.ok(connected.client && connected.server, 'an untampered handshake connects');
  client.close();
  server.close();
  await flush();
}

test('DTLS endpoints: a handshake with dropped, mutated and injected datagrams never throws', async () => {
  certs();
  await noStrayErrors(async () => {
    await checkAsync('dtls handshake', [fc.array(tamperArb, { maxLength: 10 }), fc.array(tamperArb, { maxLength: 6 })], handshake, 40);
  });
});

test('DTLS endpoint: raw garbage into a fresh server never throws', async () => {
  const [, sc] = certs();
  await noStrayErrors(async () => {
    await checkAsync('dtls server garbage', [fc.array(fc.oneof(mutated(validRecordDatagram, 3), rawBytes(100)), { minLength: 1, maxLength: 8 })], async (ds) => {
      const out: Buffer[] = [];
      let closes = 0;
      const ep = new DtlsEndpoint({ role: 'server', certificate: sc, remoteFingerprints: [] }, { transmit: (d) => out.push(d), closed: () => { closes++; } });
      for (const d of ds) {
        ep.handleDatagram(d, 0);
        await tick();
      }
      assert.equal(ep.stats.datagramsIn, ds.length);
      for (const d of out) assert.ok(d.length <= ep.mtu, 'replies fit the MTU');
      ep.close();
      assert.equal(closes, 1, 'closed fires exactly once');
    }, 150);
  });
});
