/**
 * The cascade's decisions (src/cluster/cascade.ts), one node's view, without processes: which local
 * publishers are linked to which nodes, what is undone when a node's members leave, when a publisher's
 * streams change or it leaves, and when a node disappears; what an attach/detach from another node does.
 *
 * The Cascade class is the real one; around it, what it talks to is recorded here: this node's VideoRoom
 * (its Admin requests, answered from a room state the test sets), the other nodes (control requests),
 * and Redis (presence, events). The processes-and-media side is test/cluster/cascade.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cascade } from '../../src/cluster/cascade.js';
import type { NodeRecord } from '../../src/cluster/nodes.js';
import type { ClusterStore } from '../../src/cluster/store.js';
import type { Logger } from '../../src/log.js';

type Data = Record<string, unknown>;
const PLUGIN = 'janus.plugin.videoroom';
const ROOM = 55;
const KEY = '55';

const quiet: Logger = { fatal() {}, error() {}, warn() {}, info() {}, verb() {}, huge() {}, debug() {}, enabled: () => false, child: () => quiet };

function node(name: string, publicIp: string | null = `10.0.0.${name.charCodeAt(0) - 96}`): NodeRecord {
  return { name, instance: 'i', version: 'v', started_at: 1, public_ip: publicIp, api_url: null, control: `p:rpc:${name}`, heartbeat_ms: 1000, ttl_ms: 4000, load: { peers: 0, packets_per_sec: 0, rooms: 0, sessions: 0 } };
}

const VIDEO = [{ type: 'video', mindex: 0, mid: '0', codec: 'vp8' }];
const AV = [{ type: 'audio', mindex: 0, mid: '0', codec: 'opus' }, { type: 'video', mindex: 1, mid: '1', codec: 'vp8' }];

/** Node "a" and the world around it. */
function world() {
  const room = { exists: true, members: 1, present: [] as unknown[], publishers: [] as Data[], remotes: [] as unknown[] };
  let failState = false;
  const admin: Data[] = [];
  const calls: Array<{ node: string; op: string; args: Data }> = [];
  const written: Array<{ key: string; text: string | null }> = [];
  const others = new Map<string, Record<string, string>>();
  let nodes: NodeRecord[] = [node('a'), node('b'), node('c')];
  const store = {
    writePresence: async (_p: string, _n: string, key: string, text: string | null) => void written.push({ key, text }),
    publish: async () => undefined,
    readPresence: async (_p: string, n: string) => others.get(n) ?? {},
    clearPresence: async () => undefined,
  } as unknown as ClusterStore;
  const cascade = new Cascade({
    plugin: PLUGIN,
    me: 'a',
    store,
    log: quiet,
    admin: async (body) => {
      admin.push(body);
      switch (body.request) {
        case 'portunus_cluster_state':
          if (failState) return { error_code: 499, error: 'boom' };
          return { videoroom: 'success', room: ROOM, ...structuredClone(room) };
        case 'portunus_cluster_attach':
          return { videoroom: 'success', port: 7000, rtcp_port: 7001 };
        default:
          return { videoroom: 'success' };
      }
    },
    call: async (n, op, args) => {
      calls.push({ node: n, op, args });
      if (op === 'cascade_attach') return { videoroom: 'success', port: n === 'b' ? 5000 : 6000, rtcp_port: n === 'b' ? 5001 : 6001 };
      return { videoroom: 'success' };
    },
    nodes: () => nodes,
    roomIdOf: (key) => (key === KEY ? ROOM : undefined),
    roomKeys: () => [KEY],
    up: () => true,
  });
  const take = <T>(xs: T[]): T[] => xs.splice(0);
  return {
    room,
    cascade,
    admin,
    calls,
    written,
    take,
    setNodes: (ns: NodeRecord[]) => (nodes = ns),
    failState: (v: boolean) => (failState = v),
    presence: (n: string, p: { members: number; pubs: string[] } | null) => cascade.onPresence(n, KEY, p),
    pass: () => cascade.schedule(KEY, 0),
    links: () => [...cascade.links.values()].map((l) => `${String(l.pubId)}->${l.node}`).sort(),
    requests: () => take(admin).filter((b) => b.request !== 'portunus_cluster_state'),
  };
}

test('a local publisher is linked to each other node that has members in the room, and only those', async () => {
  const w = world();
  w.room.present = [11];
  w.room.publishers = [{ id: 11, display: 'p', streams: VIDEO }];
  await w.pass();
  assert.deepEqual(w.links(), [], 'nobody elsewhere: no link');
  assert.deepEqual(w.calls, []);
  assert.deepEqual(w.written.at(-1), { key: KEY, text: JSON.stringify({ members: 1, pubs: ['11'] }) }, "this node's presence written");

  w.presence('b', { members: 2, pubs: [] });
  w.presence('c', { members: 0, pubs: ['99'] }); // only a publisher there, nobody watching
  await w.pass();
  assert.deepEqual(w.links(), ['11->b']);
  assert.deepEqual(w.take(w.calls), [{ node: 'b', op: 'cascade_attach', args: { plugin: PLUGIN, room: ROOM, id: 11, streams: VIDEO, display: 'p' } }]);
  assert.deepEqual(w.requests(), [{ request: 'portunus_cluster_publish', room: ROOM, publisher_id: 11, remote_id: 'cluster-b', host: '10.0.0.2', port: 5000, rtcp_port: 5001 }]);

  // Another pass with nothing new changes nothing (no second link, no duplicate media).
  await w.pass();
  assert.deepEqual(w.calls, []);
  assert.deepEqual(w.requests(), []);
});

test("a node without a public address gets no link; one whose members leave loses its link", async () => {
  const w = world();
  w.setNodes([node('a'), node('b'), node('c', null)]);
  w.room.present = [11, 12];
  w.room.publishers = [{ id: 11, streams: VIDEO }, { id: 12, streams: AV }];
  w.presence('b', { members: 1, pubs: [] });
  w.presence('c', { members: 4, pubs: [] });
  await w.pass();
  assert.deepEqual(w.links(), ['11->b', '12->b'], 'c advertises no public_ip: nothing can be sent to it');
  w.take(w.calls);
  w.requests();

  w.presence('b', null);
  await w.pass();
  assert.deepEqual(w.links(), []);
  const detaches = w.take(w.calls).sort((x, y) => Number(x.args.id) - Number(y.args.id));
  assert.deepEqual(detaches, [
    { node: 'b', op: 'cascade_detach', args: { plugin: PLUGIN, room: ROOM, id: 11, leaving: false } },
    { node: 'b', op: 'cascade_detach', args: { plugin: PLUGIN, room: ROOM, id: 12, leaving: false } },
  ], 'still in the room here: `unpublished` there, not `leaving`');
  assert.deepEqual(w.requests().map((r) => [r.request, r.publisher_id, r.remote_id]).sort(), [
    ['portunus_cluster_unpublish', 11, 'cluster-b'],
    ['portunus_cluster_unpublish', 12, 'cluster-b'],
  ]);
});

test('a publisher whose streams change is linked again; one that leaves is detached with `leaving`', async () => {
  const w = world();
  w.room.present = [11];
  w.room.publishers = [{ id: 11, streams: VIDEO }];
  w.presence('b', { members: 1, pubs: [] });
  await w.pass();
  w.take(w.calls);
  w.requests();

  w.room.publishers = [{ id: 11, streams: AV }];
  await w.pass();
  assert.deepEqual(w.links(), ['11->b']);
  assert.deepEqual(w.take(w.calls).map((c) => [c.op, c.args.leaving ?? c.args.streams]), [
    ['cascade_detach', false],
    ['cascade_attach', AV],
  ]);
  assert.deepEqual(w.requests().map((r) => r.request), ['portunus_cluster_unpublish', 'portunus_cluster_publish']);

  // Unpublished but still here: `unpublished` only.
  w.room.publishers = [];
  await w.pass();
  assert.deepEqual(w.take(w.calls).map((c) => [c.op, c.args.leaving]), [['cascade_detach', false]]);
  w.room.publishers = [{ id: 11, streams: AV }];
  await w.pass();
  w.take(w.calls);
  // Gone from the room: `leaving` there too.
  w.room.present = [];
  w.room.publishers = [];
  await w.pass();
  assert.deepEqual(w.take(w.calls).map((c) => [c.node, c.op, c.args.leaving]), [['b', 'cascade_detach', true]]);
  assert.deepEqual(w.links(), []);
});

test('a failed read of the room changes nothing: the links stay until a pass can read it', async () => {
  const w = world();
  w.room.present = [11];
  w.room.publishers = [{ id: 11, streams: VIDEO }];
  w.presence('b', { members: 1, pubs: [] });
  await w.pass();
  w.take(w.calls);
  w.failState(true);
  await w.pass();
  assert.deepEqual(w.links(), ['11->b']);
  assert.deepEqual(w.calls, []);
  assert.equal(w.cascade.stats.failures, 1);
});

test("a node that disappears: its publishers leave here, the links to it go without asking it", async () => {
  const w = world();
  w.room.present = [11];
  w.room.publishers = [{ id: 11, streams: VIDEO }];
  w.presence('b', { members: 1, pubs: [] });
  w.presence('c', { members: 1, pubs: ['31'] });
  await w.pass();
  assert.deepEqual(w.links(), ['11->b', '11->c']);
  // c's publisher 31 arrives here as a remote publisher (c's link towards us).
  const att = await w.cascade.onAttach('c', { plugin: PLUGIN, room: ROOM, id: 31, streams: VIDEO });
  assert.equal(att.port, 7000);
  w.room.remotes = [31];
  // A detach of 31 by a node that did not attach it is refused (a newer attach from elsewhere stands).
  assert.deepEqual(await w.cascade.onDetach('b', { plugin: PLUGIN, room: ROOM, id: 31, leaving: true }), { videoroom: 'success', found: false });
  w.take(w.calls);
  w.requests();

  // c's record expired (SIGKILL): the registry reports it gone.
  w.setNodes([node('a'), node('b')]);
  w.cascade.onNodes({ joined: [], left: ['c'], restarted: [] });
  await w.pass();
  assert.deepEqual(w.links(), ['11->b']);
  assert.deepEqual(w.calls, [], 'nothing is asked of a node that is gone');
  const reqs = w.requests();
  assert.deepEqual(reqs.filter((r) => r.request === 'portunus_cluster_detach'), [{ request: 'portunus_cluster_detach', room: ROOM, id: 31, leaving: true }], 'its publisher: unpublished + leaving here');
  assert.deepEqual(reqs.filter((r) => r.request === 'portunus_cluster_unpublish').map((r) => r.remote_id), ['cluster-c'], 'our forwarding to it stops');
  assert.deepEqual(w.cascade.status().incoming, []);
  assert.equal(w.cascade.stats.node_drops, 1);
});

test('a node that restarts (same name, new instance) is linked afresh once it has members again', async () => {
  const w = world();
  w.room.present = [11];
  w.room.publishers = [{ id: 11, streams: VIDEO }];
  w.presence('b', { members: 1, pubs: [] });
  await w.pass();
  w.take(w.calls);
  w.cascade.onNodes({ joined: [], left: [], restarted: [{ ...node('b'), instance: 'j' }] });
  await w.pass();
  assert.deepEqual(w.links(), [], 'its presence went with the old instance');
  w.presence('b', { members: 1, pubs: [] });
  await w.pass();
  assert.deepEqual(w.links(), ['11->b']);
  assert.deepEqual(w.take(w.calls).map((c) => c.op), ['cascade_attach']);
});

test('a join here asks the nodes whose publishers are not here yet for them (cascade_want), and only those', async () => {
  const w = world();
  w.room.present = [];
  w.presence('b', { members: 1, pubs: ['21'] });
  w.presence('c', { members: 1, pubs: [] });
  await w.cascade.prepare(KEY);
  assert.deepEqual(w.take(w.calls).filter((c) => c.op === 'cascade_want'), [{ node: 'b', op: 'cascade_want', args: { plugin: PLUGIN, room: ROOM } }]);
  // Once b's publisher is here (attached by b), a later join asks nobody.
  await w.cascade.onAttach('b', { plugin: PLUGIN, room: ROOM, id: 21, streams: VIDEO });
  await w.cascade.prepare(KEY);
  assert.deepEqual(w.take(w.calls).filter((c) => c.op === 'cascade_want'), []);
});
