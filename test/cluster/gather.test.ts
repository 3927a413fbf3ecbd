/** Every node's part of a room in one answer (src/cluster/gather.ts), sans-IO. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeListCounts, mergeParticipants } from '../../src/cluster/gather.js';

test('listparticipants: the other nodes\' own participants added once; relayed (remote) ones and failures left out', () => {
  const local = { videoroom: 'participants', room: 7, participants: [{ id: 1, display: 'a', publisher: true }] };
  const b = { videoroom: 'participants', room: 7, participants: [{ id: 2, display: 'b', publisher: false }, { id: 1, display: 'a', remote: true, publisher: true }] };
  const c = { videoroom: 'event', error_code: 426, error: 'No such room (7)' };
  assert.deepEqual(mergeParticipants(local, [b, c]), { videoroom: 'participants', room: 7, participants: [{ id: 1, display: 'a', publisher: true }, { id: 2, display: 'b', publisher: false }] });
  const err = { videoroom: 'event', error_code: 426, error: 'x' };
  assert.equal(mergeParticipants(err, [b]), err, 'an error here stays the answer');
});

test('list: num_participants summed for cluster rooms only (a jcfg room elsewhere is another room)', () => {
  const local = { videoroom: 'success', list: [{ room: 1, num_participants: 2 }, { room: 1234, num_participants: 1 }] };
  const other = { videoroom: 'success', list: [{ room: 1, num_participants: 3 }, { room: 1234, num_participants: 5 }, { room: 9, num_participants: 4 }] };
  const merged = mergeListCounts(local, [other, { error_code: 499 }], (k) => k === '1');
  assert.deepEqual(merged, { videoroom: 'success', list: [{ room: 1, num_participants: 5 }, { room: 1234, num_participants: 1 }] });
});
