/** Node records, the membership view and home placement (src/cluster/nodes.ts), sans-IO. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leastLoaded, NodeView, parseNodeRecord, type NodeRecord } from '../../src/cluster/nodes.js';
import { parseEvent, parseRoomRecord } from '../../src/cluster/store.js';

function node(name: string, load: Partial<NodeRecord['load']> = {}, instance = 'i1'): NodeRecord {
  return { name, instance, version: 'v', started_at: 1, public_ip: '10.0.0.1', api_url: null, control: `p:rpc:${name}`, heartbeat_ms: 1000, ttl_ms: 4000, load: { peers: 0, packets_per_sec: 0, rooms: 0, sessions: 0, ...load } };
}

test('parseNodeRecord: round trip, and garbage is refused rather than trusted', () => {
  const n = node('a', { peers: 3 });
  assert.deepEqual(parseNodeRecord(JSON.stringify(n)), n);
  assert.equal(parseNodeRecord(null), null);
  assert.equal(parseNodeRecord('{"name":'), null);
  assert.equal(parseNodeRecord('[1,2]'), null);
  assert.equal(parseNodeRecord(JSON.stringify({ name: 'a' })), null, 'no instance, no control channel');
  const odd = parseNodeRecord(JSON.stringify({ ...n, load: { peers: -5, packets_per_sec: 'x' }, public_ip: 7 }));
  assert.deepEqual(odd?.load, { peers: 0, packets_per_sec: 0, rooms: 0, sessions: 0 });
  assert.equal(odd?.public_ip, null);
});

test('NodeView: joins, leaves, restarts (same name, new instance), bye', () => {
  const v = new NodeView();
  assert.deepEqual(v.update([node('a'), node('b')]), { joined: [node('a'), node('b')], left: [], restarted: [] });
  assert.deepEqual(v.update([node('a'), node('b')]), { joined: [], left: [], restarted: [] });
  assert.deepEqual(v.update([node('a'), node('b', {}, 'i2'), node('c')]), { joined: [node('c')], left: [], restarted: [node('b', {}, 'i2')] });
  assert.deepEqual(v.update([node('b', {}, 'i2'), node('c')]), { joined: [], left: ['a'], restarted: [] });
  assert.equal(v.remove('c'), true);
  assert.equal(v.remove('c'), false);
  assert.deepEqual(v.list().map((n) => n.name), ['b']);
});

test('leastLoaded: PeerConnections first, then packets, then rooms, then the name', () => {
  assert.equal(leastLoaded([]), null);
  assert.equal(leastLoaded([node('a', { peers: 2 }), node('b', { peers: 1, packets_per_sec: 9000 })])?.name, 'b');
  assert.equal(leastLoaded([node('a', { packets_per_sec: 500 }), node('b', { packets_per_sec: 100 })])?.name, 'b');
  assert.equal(leastLoaded([node('b', { rooms: 1 }), node('a', { rooms: 2 })])?.name, 'b');
  assert.equal(leastLoaded([node('b'), node('a')])?.name, 'a', 'every node picks the same on a tie');
});

test('room records and events from Redis: only well-formed ones are used', () => {
  const rec = { room: 5, def: { params: { secret: 's' }, acl: false, allowed: [] }, version: 2, home: 'a', origin: 'b', created_at: 3 };
  assert.deepEqual(parseRoomRecord(JSON.stringify(rec)), rec);
  assert.equal(parseRoomRecord('nope'), null);
  assert.equal(parseRoomRecord(JSON.stringify({ ...rec, room: [1] })), null);
  assert.equal(parseRoomRecord(JSON.stringify({ ...rec, def: { params: 1 } })), null);
  assert.deepEqual(parseEvent('{"t":"room","plugin":"p","key":"5","from":"a"}'), { t: 'room', plugin: 'p', key: '5', from: 'a' });
  assert.deepEqual(parseEvent('{"t":"bye","node":"a"}'), { t: 'bye', node: 'a' });
  assert.equal(parseEvent('{"t":"room"}'), null);
  assert.equal(parseEvent('\u0000'), null);
});

test('NodeView with a margin: a record missing for less than the margin is a late heartbeat, not a node gone', () => {
  const v = new NodeView(1000);
  const b = { ...node('b'), heartbeat_ms: 400 };
  v.update([node('a'), b], 0);
  // b's record expired (its heartbeat is late): kept, with its last record, and reported as late.
  assert.deepEqual(v.update([node('a')], 100), { joined: [], left: [], restarted: [] });
  assert.deepEqual(v.list().map((n) => n.name), ['a', 'b']);
  assert.deepEqual([...v.late()], [['b', 100]]);
  assert.deepEqual(v.update([node('a')], 900), { joined: [], left: [], restarted: [] });
  // Back within the margin (same instance): nothing happened.
  assert.deepEqual(v.update([node('a'), b], 1000), { joined: [], left: [], restarted: [] });
  assert.equal(v.late().size, 0);
  // Missing again: the margin counts from this absence, and it ends in `left`.
  assert.deepEqual(v.update([node('a')], 2000), { joined: [], left: [], restarted: [] });
  assert.deepEqual(v.update([node('a')], 2999), { joined: [], left: [], restarted: [] });
  assert.deepEqual(v.update([node('a')], 3000), { joined: [], left: ['b'], restarted: [] });
  assert.deepEqual(v.list().map((n) => n.name), ['a']);
  assert.equal(v.late().size, 0);
  // A node with a longer heartbeat than the margin gets its own period.
  const slow = { ...node('s'), heartbeat_ms: 5000 };
  v.update([node('a'), slow], 10_000);
  assert.deepEqual(v.update([node('a')], 11_000).left, []);
  assert.deepEqual(v.update([node('a')], 14_999).left, []);
  assert.deepEqual(v.update([node('a')], 16_000).left, ['s']);
  // A restart seen after an absence within the margin is a restart.
  v.update([node('a'), b], 20_000);
  v.update([node('a')], 20_100);
  assert.deepEqual(v.update([node('a'), { ...b, instance: 'i2' }], 20_500).restarted.map((n) => n.instance), ['i2']);
  // bye: gone at once, margin or not.
  assert.equal(v.remove('b'), true);
  assert.deepEqual(v.update([node('a')], 20_600).left, []);
});
