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
