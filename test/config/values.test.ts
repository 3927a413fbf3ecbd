import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cfgBool, cfgInt, cfgString, cfgStringList } from '../../src/config/values.js';
import { cfgEqual } from '../../src/config/equal.js';

test('cfgBool reads what janus_is_true reads, and flags the rest', () => {
  for (const v of [true, 'yes', 'YES', 'true', 'True', '1', 1, 1n]) assert.equal(cfgBool(v, false), true, String(v));
  for (const v of [false, 'no', 'No', 'false', 'FALSE', '0', 0]) assert.equal(cfgBool(v, true), false, String(v));
  assert.equal(cfgBool(undefined, true), true);
  assert.equal(cfgBool(undefined, false), false);
  for (const v of ['maybe', 2, '', ['yes']]) assert.equal(cfgBool(v, true), undefined, String(v));
});

test('cfgInt reads numbers and numeric strings only', () => {
  assert.equal(cfgInt(8088, 0), 8088);
  assert.equal(cfgInt(' 42 ', 0), 42);
  assert.equal(cfgInt('-3', 0), -3);
  assert.equal(cfgInt(12n, 0), 12);
  assert.equal(cfgInt(undefined, 7), 7);
  for (const v of ['abc', '12abc', '1.5', 1.5, true, 2n ** 60n, [1]]) assert.equal(cfgInt(v, 0), undefined, String(v));
});

test('cfgString flattens scalars like Janus does; containers give undefined', () => {
  assert.equal(cfgString('x'), 'x');
  assert.equal(cfgString(5), '5');
  assert.equal(cfgString(true), 'true');
  assert.equal(cfgString(5n), '5');
  assert.equal(cfgString(undefined), undefined);
  assert.equal(cfgString(['a']), undefined);
  assert.equal(cfgString({ kind: 'group', entries: [] }), undefined);
});

test('cfgStringList splits comma lists and arrays into trimmed non-empty strings', () => {
  assert.deepEqual(cfgStringList(' eth0, 192.168. ,,vmnet '), ['eth0', '192.168.', 'vmnet']);
  assert.deepEqual(cfgStringList(['/bin', ' /usr ', '']), ['/bin', '/usr']);
  assert.deepEqual(cfgStringList(undefined), []);
  assert.deepEqual(cfgStringList(''), []);
  assert.equal(cfgStringList([{ kind: 'group', entries: [] }]), undefined);
});

test('cfgEqual compares structure, not lines, and treats 5 and 5n alike', () => {
  assert.ok(cfgEqual({ kind: 'group', entries: [{ name: 'a', value: 1, line: 3 }] }, { kind: 'group', entries: [{ name: 'a', value: 1 }] }));
  assert.ok(cfgEqual(5, 5n));
  assert.ok(!cfgEqual(5, '5'));
  assert.ok(!cfgEqual([1, 2], [1]));
  assert.ok(!cfgEqual({ kind: 'group', entries: [{ name: 'a', value: 1 }] }, { kind: 'group', entries: [{ name: 'b', value: 1 }] }));
});
