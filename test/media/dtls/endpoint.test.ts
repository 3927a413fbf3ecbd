import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectPair, makePair, certs, tick } from './pair.js';
import { generateCertificate } from '../../../src/media/dtls/certificate.js';
import { DtlsEndpoint, SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_HMAC_SHA1_80 } from '../../../src/media/dtls/endpoint.js';
import { CT_HANDSHAKE, parseHandshakeFragments, parseRecords } from '../../../src/media/dtls/record.js';

test('client and server agree on SRTP profile and keying material', async () => {
  const p = await connectPair();
  assert.equal(p.client.ep.state, 'connected');
  assert.equal(p.server.ep.state, 'connected');
  const c = p.client.connected!.srtp!;
  const s = p.server.connected!.srtp!;
  assert.equal(c.profile, SRTP_AES128_CM_HMAC_SHA1_80);
  assert.equal(s.profile, SRTP_AES128_CM_HMAC_SHA1_80);
  assert.equal(c.keyingMaterial.length, 60);
  assert.ok(c.keyingMaterial.equals(s.keyingMaterial));
  assert.ok(c.localKey.equals(s.remoteKey) && c.localSalt.equals(s.remoteSalt));
  assert.ok(c.remoteKey.equals(s.localKey) && c.remoteSalt.equals(s.localSalt));
  assert.equal(c.localSalt.length, 14);
  assert.ok(!c.localKey.equals(c.remoteKey));
  const [cc, sc] = certs();
  assert.deepEqual(p.client.connected!.remoteFingerprint, sc.fingerprint);
  assert.deepEqual(p.server.connected!.remoteFingerprint, cc.fingerprint);
  assert.equal(p.client.ep.pollTimeout(), undefined);
});

test('AEAD_AES_128_GCM negotiated when it is the only common profile: 56 bytes', async () => {
  const p = await connectPair({ client: { srtpProfiles: [SRTP_AEAD_AES_128_GCM] } });
  const c = p.client.connected!.srtp!;
  const s = p.server.connected!.srtp!;
  assert.equal(c.profile, SRTP_AEAD_AES_128_GCM);
  assert.equal(s.profile, SRTP_AEAD_AES_128_GCM);
  assert.equal(c.keyingMaterial.length, 56);
  assert.ok(c.keyingMaterial.equals(s.keyingMaterial));
  assert.equal(c.localSalt.length, 12);
});

test('fingerprint mismatch on the server side fails the handshake', async () => {
  const other = generateCertificate();
  const p = await connectPair({ serverFingerprints: [other.fingerprint] });
  assert.equal(p.server.closed?.reason, 'fingerprint-mismatch');
  assert.ok(p.server.failed instanceof Error);
  assert.equal(p.server.connected, undefined);
  assert.equal(p.client.connected, undefined);
  // The server's fatal bad_certificate alert ends the client too.
  assert.equal(p.client.closed?.reason, 'alert');
});

test('fingerprint mismatch on the client side fails before the client sends its key exchange', async () => {
  const other = generateCertificate();
  const p = await connectPair({ clientFingerprints: [{ algorithm: 'sha-256', value: other.fingerprint.value.toLowerCase() }] });
  assert.equal(p.client.closed?.reason, 'fingerprint-mismatch');
  assert.equal(p.client.connected, undefined);
  assert.equal(p.server.connected, undefined);
  assert.equal(p.server.closed?.reason, 'alert');
});

for (const mtu of [1200, 500, 300]) {
  test(`no handshake datagram exceeds mtu ${mtu}`, async () => {
    const p = await connectPair({ client: { mtu }, server: { mtu } });
    assert.equal(p.client.ep.state, 'connected');
    assert.equal(p.server.ep.state, 'connected');
    const all = [...p.client.sent, ...p.server.sent];
    assert.ok(all.length >= 6);
    for (const d of all) assert.ok(d.length <= mtu, `datagram of ${d.length} > ${mtu}`);
    if (mtu === 300) {
      // the certificate message (~300 bytes) cannot fit: it must have been fragmented
      let fragmented = 0;
      for (const d of all) {
        for (const r of parseRecords(d).records) {
          if (r.contentType !== CT_HANDSHAKE || r.epoch !== 0) continue;
          for (const f of parseHandshakeFragments(r.body) ?? []) if (f.fragment.length < f.length) fragmented++;
        }
      }
      assert.ok(fragmented > 0);
    }
  });
}

test('garbage datagrams are dropped and counted, never thrown', async () => {
  const p = makePair();
  const junk: Buffer[] = [
    Buffer.alloc(0), Buffer.from([22]), Buffer.from([22, 0xfe, 0xfd, 0, 0]), randomBytes(13), randomBytes(200),
    // valid record header, truncated length
    Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0x10, 0x00, 1, 2, 3]),
    // valid record, garbage handshake fragment (fragment longer than message)
    Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 14, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0xaa, 0xbb]),
    // epoch 1 application data before keys exist
    Buffer.from([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]),
  ];
  for (let i = 0; i < 200; i++) {
    const b = randomBytes(1 + (i % 60));
    b[0] = 20 + (i % 4);
    if (b.length > 2) { b[1] = 0xfe; b[2] = 0xfd; }
    junk.push(b);
  }
  for (const j of junk) assert.doesNotThrow(() => p.server.ep.handleDatagram(j, 0));
  for (const j of junk) assert.doesNotThrow(() => p.client.ep.handleDatagram(j, 0));
  assert.ok(p.server.ep.stats.dropped > 0);
  // The endpoints still work afterwards.
  p.client.ep.start(0);
  await p.flush();
  assert.equal(p.client.ep.state, 'connected');
  // garbage after connect: random epoch-1 records fail authentication
  const before = p.client.ep.stats.dropped;
  for (const j of junk) assert.doesNotThrow(() => p.client.ep.handleDatagram(j, 0));
  const forged = Buffer.concat([Buffer.from([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 40]), randomBytes(40)]);
  p.client.ep.handleDatagram(forged, 0);
  assert.ok(p.client.ep.stats.dropped > before);
  assert.equal(p.client.received.length, 0);
  assert.equal(p.client.ep.state, 'connected');
  await tick();
  assert.equal(p.client.ep.state, 'connected');
});

test('truncated copies of real handshake datagrams are ignored', async () => {
  const ref = await connectPair();
  const p = makePair();
  for (const d of [...ref.client.sent, ...ref.server.sent]) {
    for (const cut of [1, 5, 13, 20, d.length - 1]) {
      if (cut >= d.length) continue;
      assert.doesNotThrow(() => p.server.ep.handleDatagram(d.subarray(0, cut), 0));
    }
  }
  await tick();
  assert.notEqual(p.server.ep.state, 'connected');
});

test('application data round trip', async () => {
  const p = await connectPair();
  assert.ok(p.client.ep.send(Buffer.from('ping')));
  await p.flush();
  assert.deepEqual(p.server.received.map(String), ['ping']);
  const big = randomBytes(1100);
  assert.ok(p.server.ep.send(big));
  assert.ok(p.server.ep.send(new Uint8Array(0)));
  await p.flush();
  assert.equal(p.client.received.length, 2);
  assert.ok(p.client.received[0]!.equals(big));
  assert.equal(p.client.received[1]!.length, 0);
  // many records: sequence numbers keep increasing (no AES-GCM nonce reuse after the Finished)
  const seqs = new Set<string>();
  for (let i = 0; i < 20; i++) p.client.ep.send(Buffer.from([i]));
  for (const d of p.client.sent) for (const r of parseRecords(d).records) {
    if (r.epoch === 1) {
      const k = `${r.epoch}:${r.seq}`;
      assert.ok(!seqs.has(k), `epoch-1 sequence number ${k} reused`);
      seqs.add(k);
    }
  }
  await p.flush();
  assert.equal(p.server.received.length, 21);
});

test('once connected, neither side keeps the handshake messages; records and alerts still work', async () => {
  const p = await connectPair();
  for (const side of [p.client, p.server]) {
    assert.equal(side.ep.state, 'connected');
    assert.equal(side.ep.handshakeStateBytes, 0, `${side.ep.role}: transcript and reassembly released`);
  }
  assert.ok(p.client.ep.send(Buffer.from('after release')));
  assert.ok(p.server.ep.send(Buffer.from('both ways')));
  await p.flush();
  assert.deepEqual(p.server.received.map(String), ['after release']);
  assert.deepEqual(p.client.received.map(String), ['both ways']);
  // A retransmitted client final flight (our Finished lost) is still answered from the last flight.
  const before = p.server.sent.length;
  for (const d of p.client.sent) p.server.ep.handleDatagram(d, p.now + 1000);
  assert.ok(p.server.sent.length > before, 'server retransmits its final flight');
  assert.equal(p.server.ep.state, 'connected');
  p.server.ep.close();
  await p.flush();
  assert.equal(p.client.closed?.reason, 'alert', 'close_notify protected with the released engine still decrypts');
});

test('a close_notify from the peer ends it with reason alert', async () => {
  const p = await connectPair();
  p.client.ep.close();
  assert.equal(p.client.closed?.reason, 'local');
  await p.flush();
  assert.equal(p.server.closed?.reason, 'alert');
  assert.equal(p.server.failed, undefined); // it had connected: closed, not failed
  assert.equal(p.server.ep.send(Buffer.from('x')), false);
  assert.doesNotThrow(() => p.server.ep.handleDatagram(p.client.sent[0]!, 0));
});

test('lost flights are retransmitted with exponential backoff', async () => {
  // Drop the server's first flight-4 datagram(s): the first transmission of everything after the HVR.
  let dropped = 0;
  const p = makePair({
    filter: (from, _d, idx) => {
      if (from === 'server' && idx === 1) { dropped++; return false; }
      return true;
    },
  });
  p.client.ep.start(0);
  await p.flush();
  assert.equal(dropped, 1);
  assert.equal(p.client.ep.state, 'connecting');
  const t1 = p.client.ep.pollTimeout();
  const t2 = p.server.ep.pollTimeout();
  assert.equal(t1, 1000);
  assert.equal(t2, 1000);
  await p.advance(1000);
  assert.equal(p.client.ep.state, 'connected');
  assert.equal(p.server.ep.state, 'connected');
  assert.ok(p.client.ep.stats.retransmits + p.server.ep.stats.retransmits >= 1);
});

test('no answer: backoff doubles, then closed with reason timeout', async () => {
  const [cc, sc] = certs();
  const sent: number[] = [];
  let closed: string | undefined;
  let failed = false;
  const ep = new DtlsEndpoint({ role: 'client', certificate: cc, remoteFingerprints: [sc.fingerprint], maxRetransmits: 3 }, {
    transmit: () => { sent.push(now); },
    closed: (r) => { closed = r; },
    failed: () => { failed = true; },
  });
  let now = 0;
  ep.start(now);
  await tick();
  const deadlines: number[] = [];
  for (let i = 0; i < 10 && ep.state !== 'closed'; i++) {
    const t = ep.pollTimeout()!;
    deadlines.push(t);
    now = t;
    ep.handleTimeout(now);
  }
  assert.deepEqual(deadlines, [1000, 3000, 7000, 15000]);
  assert.equal(sent.length, 4);
  assert.equal(closed, 'timeout');
  assert.ok(failed);
  assert.equal(ep.pollTimeout(), undefined);
});

test('a dropped final server flight is recovered when the client retransmits', async () => {
  let drop = true;
  const p = makePair({
    filter: (from, d) => {
      // drop the first datagram carrying the server's ChangeCipherSpec (its final flight)
      if (from === 'server' && drop && parseRecords(d).records.some((r) => r.contentType === 20)) { drop = false; return false; }
      return true;
    },
  });
  p.client.ep.start(0);
  await p.flush();
  assert.equal(p.server.ep.state, 'connected');
  assert.equal(p.client.ep.state, 'connecting');
  await p.advance(1000); // client resends flight 5; server answers with its last flight again
  assert.equal(p.client.ep.state, 'connected');
  assert.ok(p.client.connected!.srtp!.keyingMaterial.equals(p.server.connected!.srtp!.keyingMaterial));
});
