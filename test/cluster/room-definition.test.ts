/**
 * The cluster's room definitions (src/cluster/room-definition.ts): merge rules, and the Admin requests
 * that bring a node's room to a definition, checked against the real VideoRoom plugin: a room edited by
 * clients on one "node" and a room built from the stored definition on another must look the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyAllowed, applyEdit, applyRequest, definitionFromCreate, equalDefinitions, parseDefinition, reconcileOps, type RoomDefinition } from '../../src/cluster/room-definition.js';
import { Harness, type Data } from '../plugins/videoroom/harness.js';

const JCFG = 'general: {\n  admin_key = "k"\n}\n';

test('definitionFromCreate: request keys out, allowed -> ACL, values kept as JSON', () => {
  const d = definitionFromCreate({ request: 'create', room: 5, admin_key: 'k', permanent: true, description: 'x', secret: 's', publishers: 3, allowed: ['a', 'b', 'a', 7], dummy_streams: [{ codec: 'opus' }] });
  assert.deepEqual(d, { params: { description: 'x', secret: 's', publishers: 3, dummy_streams: [{ codec: 'opus' }] }, acl: true, allowed: ['a', 'b'] });
  assert.deepEqual(definitionFromCreate({ request: 'create' }), { params: {}, acl: false, allowed: [] });
});

test('applyEdit: new_* keys, empty strings keep description/secret/pin, bitrate floor as the plugin applies it', () => {
  const d = definitionFromCreate({ description: 'one', secret: 's', pin: 'p', bitrate: 128000 });
  const e = applyEdit(d, { request: 'edit', room: 1, secret: 's', new_description: '', new_secret: 's2', new_pin: '', new_bitrate: 1000, new_is_private: true, new_publishers: 9, new_rec_dir: '/tmp/x' });
  assert.deepEqual(e.params, { description: 'one', secret: 's2', pin: 'p', bitrate: 64000, is_private: true, publishers: 9, rec_dir: '/tmp/x' });
  assert.deepEqual(d.params.secret, 's', 'the input is not modified');
});

test('applyAllowed and applyRequest', () => {
  let d: RoomDefinition = definitionFromCreate({});
  d = applyAllowed(d, { action: 'add', allowed: ['a', 'b'] });
  assert.deepEqual([d.acl, d.allowed], [false, ['a', 'b']]);
  d = applyAllowed(d, { action: 'enable' });
  d = applyAllowed(d, { action: 'remove', allowed: ['a'] });
  assert.deepEqual([d.acl, d.allowed], [true, ['b']]);
  d = applyRequest(d, 'enable_recording', { record: true });
  assert.equal(d.params.record, true);
  assert.equal(applyRequest(d, 'kick', { id: 1 }), d);
});

test('reconcileOps: nothing to do, create, destroy with the secret, edit with the old secret then the new one', () => {
  const a = definitionFromCreate({ description: 'one', secret: 's' });
  assert.deepEqual(reconcileOps(1, a, a, null).ops, []);
  assert.deepEqual(reconcileOps(1, null, null, null).ops, []);
  assert.deepEqual(reconcileOps(1, a, null, null).ops, [{ request: 'destroy', room: 1, secret: 's' }]);
  assert.deepEqual(reconcileOps(1, null, a, 'k').ops, [{ request: 'create', room: 1, description: 'one', secret: 's', admin_key: 'k' }]);
  const b = applyAllowed(applyRequest(applyEdit(a, { new_secret: 't', new_publishers: 2 }), 'enable_recording', { record: true }), { action: 'add', allowed: ['x'] });
  assert.deepEqual(reconcileOps(1, a, b, 'k').ops, [
    { request: 'edit', room: 1, secret: 's', new_publishers: 2, new_secret: 't' },
    { request: 'enable_recording', room: 1, secret: 't', record: true },
    { request: 'allowed', room: 1, action: 'add', allowed: ['x'], secret: 't' },
  ]);
  // What no request can change is reported, not attempted.
  const c = { ...a, params: { ...a.params, audiocodec: 'pcmu' } };
  assert.deepEqual(reconcileOps(1, a, c, null), { ops: [], unchangeable: ['audiocodec'] });
});

test('parseDefinition refuses what is not a definition', () => {
  assert.equal(parseDefinition(null), null);
  assert.equal(parseDefinition({ params: [], acl: true, allowed: [] }), null);
  assert.equal(parseDefinition({ params: {}, acl: 'yes', allowed: [] }), null);
  const ok = parseDefinition({ params: { a: 1 }, acl: false, allowed: ['x', 3] });
  assert.deepEqual(ok, { params: { a: 1 }, acl: false, allowed: ['x'] });
  assert.ok(equalDefinitions(ok!, { params: { a: 1 }, acl: false, allowed: ['x'] }));
});

/** The room's list entry and ACL as the plugin shows them (with the admin key, so private rooms too). */
async function roomView(h: Harness, room: number, secret: string): Promise<Data> {
  const s = h.attach();
  const list = (await h.sync(s, { request: 'list', admin_key: 'k' })).list as Data[];
  const entry = list.find((r) => r.room === room);
  const acl = await h.sync(s, { request: 'allowed', room, secret, action: 'add', allowed: [] });
  return { entry, acl };
}

test('against the plugin: a room changed by clients equals one built from its definition, and one brought up to it step by step', async () => {
  const create = { request: 'create', room: 42, admin_key: 'k', description: 'd', secret: 's', pin: 'p', publishers: 3, bitrate: 256000, allowed: ['t1'] };
  const changes: Array<[string, Data]> = [
    ['edit', { request: 'edit', room: 42, secret: 's', new_description: 'd2', new_publishers: 5, new_is_private: true, new_bitrate: 1000 }],
    ['allowed', { request: 'allowed', room: 42, secret: 's', action: 'add', allowed: ['t2', 't3'] }],
    ['edit', { request: 'edit', room: 42, secret: 's', new_secret: 's2', new_pin: '' }],
    ['allowed', { request: 'allowed', room: 42, secret: 's2', action: 'remove', allowed: ['t1'] }],
    ['allowed', { request: 'allowed', room: 42, secret: 's2', action: 'disable' }],
    ['enable_recording', { request: 'enable_recording', room: 42, secret: 's2', record: true }],
  ];
  // Node A: the clients' requests.
  const a = await Harness.start(JCFG);
  const sa = a.attach();
  assert.equal((await a.sync(sa, create)).videoroom, 'created');
  let def = definitionFromCreate(create);
  const defs = [def];
  for (const [req, body] of changes) {
    const r = await a.sync(sa, body);
    assert.equal(r.error_code, undefined, `${req}: ${JSON.stringify(r)}`);
    def = applyRequest(def, req, body);
    defs.push(def);
  }
  // Node B: built from the final definition at once.
  const b = await Harness.start(JCFG);
  for (const op of reconcileOps(42, null, def, 'k').ops) assert.equal((await b.plugin.handleAdminMessage(op)).error_code, undefined, JSON.stringify(op));
  // Node C: followed every intermediate definition.
  const c = await Harness.start(JCFG);
  let prev: RoomDefinition | null = null;
  for (const d of defs) {
    for (const op of reconcileOps(42, prev, d, 'k').ops) assert.equal((await c.plugin.handleAdminMessage(op)).error_code, undefined, JSON.stringify(op));
    prev = d;
  }
  const va = await roomView(a, 42, 's2');
  assert.ok(va.entry, 'room listed on A');
  assert.deepEqual(await roomView(b, 42, 's2'), va);
  assert.deepEqual(await roomView(c, 42, 's2'), va);
  // The pin and secret are enforced on the copies: the old secret no longer works.
  assert.equal((await b.sync(b.attach(), { request: 'destroy', room: 42, secret: 's' })).error_code, 433);
  // And a destroy built from the definition uses the right secret.
  for (const op of reconcileOps(42, def, null, 'k').ops) assert.equal((await c.plugin.handleAdminMessage(op)).videoroom, 'destroyed');
});
