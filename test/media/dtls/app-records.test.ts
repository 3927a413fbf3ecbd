/**
 * The endpoint's application-data path on our record layer: records queued in one go share datagrams
 * up to the MTU, replayed and tampered datagrams are dropped and counted, the association survives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectPair } from './pair.js';
import { CT_APPLICATION_DATA, parseRecords } from '../../../src/media/dtls/record.js';
import { PROTECTED_RECORD_OVERHEAD } from '../../../src/media/dtls/record-protection.js';

test('records queued together leave in one datagram; flush() sends it', async () => {
  const p = await connectPair();
  const before = p.client.sent.length;
  const msgs = ['one', 'two', 'three', 'four', 'five'].map((s) => Buffer.from(s));
  for (const m of msgs) assert.ok(p.client.ep.queue(m));
  assert.equal(p.client.sent.length, before, 'nothing sent before flush()');
  p.client.ep.flush();
  assert.equal(p.client.sent.length, before + 1, 'one datagram');
  const { records, ok } = parseRecords(p.client.sent.at(-1)!);
  assert.ok(ok);
  assert.equal(records.length, 5);
  assert.ok(records.every((r) => r.contentType === CT_APPLICATION_DATA && r.epoch === 1));
  const seqs = records.map((r) => r.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.equal(new Set(seqs).size, 5);
  await p.flush();
  assert.deepEqual(p.server.received.map(String), msgs.map(String));
  assert.equal(p.client.ep.appStats.coalesced, 4);
  p.client.ep.flush(); // nothing queued: no datagram
  assert.equal(p.client.sent.length, before + 1);
});

test('a queue longer than the MTU is split into datagrams that each fit', async () => {
  const mtu = 1200;
  const p = await connectPair({ client: { mtu }, server: { mtu } });
  const before = p.server.sent.length;
  const msgs: Buffer[] = [];
  for (let i = 0; i < 40; i++) msgs.push(randomBytes(1 + ((i * 97) % 500)));
  for (const m of msgs) assert.ok(p.server.ep.queue(m));
  p.server.ep.flush();
  const dgs = p.server.sent.slice(before);
  const total = msgs.reduce((n, m) => n + m.length + PROTECTED_RECORD_OVERHEAD, 0);
  assert.ok(dgs.length >= Math.ceil(total / mtu) && dgs.length < msgs.length, `${dgs.length} datagrams`);
  for (const d of dgs) assert.ok(d.length <= mtu, `datagram of ${d.length}`);
  // a record larger than the MTU still goes, alone
  const big = randomBytes(3000);
  assert.ok(p.server.ep.send(big));
  assert.equal(parseRecords(p.server.sent.at(-1)!).records.length, 1);
  await p.flush();
  assert.equal(p.client.received.length, 41);
  msgs.forEach((m, i) => assert.ok(p.client.received[i]!.equals(m), `message ${i}`));
  assert.ok(p.client.received[40]!.equals(big));
});

test('a replayed datagram is dropped and counted; so is a tampered one; the association goes on', async () => {
  const p = await connectPair();
  assert.ok(p.client.ep.send(Buffer.from('once')));
  const copy = Buffer.from(p.client.sent.at(-1)!);
  await p.flush();
  assert.deepEqual(p.server.received.map(String), ['once']);
  p.server.ep.handleDatagram(copy, p.now);
  assert.equal(p.server.ep.appStats.replayed, 1);
  // a fresh record with a bad tag
  assert.ok(p.client.ep.send(Buffer.from('twice')));
  const fresh = Buffer.from(p.client.sent.at(-1)!);
  fresh[fresh.length - 1]! ^= 0x01;
  p.server.ep.handleDatagram(fresh, p.now);
  assert.equal(p.server.ep.appStats.authFailed, 1);
  assert.deepEqual(p.server.received.map(String), ['once']);
  assert.equal(p.server.ep.state, 'connected');
  assert.ok(p.server.ep.send(Buffer.from('still here')));
  await p.flush();
  assert.equal(p.client.received.at(-1)!.toString(), 'still here');
});

test('an app-data record behind an alert in the same datagram: the fast path hands the rest on', async () => {
  const p = await connectPair();
  p.client.ep.queue(Buffer.from('before'));
  p.client.ep.flush();
  const data = Buffer.from(p.client.sent.at(-1)!);
  p.client.ep.close();
  const alert = Buffer.from(p.client.sent.at(-1)!);
  // app data, then the (protected) close_notify, in one datagram
  p.server.ep.handleDatagram(Buffer.concat([data, alert]), p.now);
  assert.deepEqual(p.server.received.map(String), ['before']);
  assert.equal(p.server.closed?.reason, 'alert');
});
