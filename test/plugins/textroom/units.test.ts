import { test } from 'node:test';
import assert from 'node:assert/strict';
import { janusDate } from '../../../src/plugins/textroom/date.js';
import { formatJson, parseJsonStyle } from '../../../src/plugins/textroom/json-format.js';
import { readGeneral, readRooms } from '../../../src/plugins/textroom/config.js';
import { RoomIds } from '../../../src/plugins/textroom/ids.js';
import { Room } from '../../../src/plugins/textroom/room.js';
import { captureLogger, docFromText, Harness } from './harness.js';

test('janusDate: strftime %FT%T%z in local time', () => {
  const d = new Date(2026, 3, 9, 5, 7, 3);
  const off = -d.getTimezoneOffset();
  const z = `${off >= 0 ? '+' : '-'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}${String(Math.abs(off) % 60).padStart(2, '0')}`;
  assert.equal(janusDate(d), `2026-04-09T05:07:03${z}`);
  assert.match(janusDate(), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$/);
});

test('json styles: compact, indented (3 spaces), plain (one line with spaces)', () => {
  const v = { textroom: 'success', list: [1, { a: 'b' }], e: [] };
  assert.equal(formatJson(v, 'compact'), '{"textroom":"success","list":[1,{"a":"b"}],"e":[]}');
  assert.equal(formatJson(v, 'plain'), '{"textroom": "success", "list": [1, {"a": "b"}], "e": []}');
  assert.equal(formatJson({ a: 1 }, 'indented'), '{\n   "a": 1\n}');
  assert.equal(parseJsonStyle(undefined), 'compact');
  assert.equal(parseJsonStyle('Indented'), 'indented');
  assert.equal(parseJsonStyle('fancy'), undefined);
});

test('data-channel frames follow general.json', async () => {
  const h = await Harness.start(`general: { json = "indented" }\nroom-1: {}\n`);
  const a = h.client();
  a.sendRaw(JSON.stringify({ textroom: 'exists', room: 1, transaction: 'x' }));
  assert.equal(a.raw[0], '{\n   "textroom": "success",\n   "room": 1,\n   "exists": true,\n   "transaction": "x"\n}');
  await h.stop();
});

test('config: general keys, bad values warned, rooms with defaults, invalid categories skipped', () => {
  const log = captureLogger();
  const doc = docFromText(`general: {
	admin_key = "k"
	json = "weird"
	events = "no"
	string_ids = false
}
room-1234: { description = "Demo" secret = "s" pin = 42 history = "12" post = "http://x/y" }
room-7: { is_private = "yes" history = 5000 }
room-8: { history = "lots" description = "" }
room-abc: { description = "bad id" }
room-0: {}
`);
  const g = readGeneral(doc, log);
  assert.deepEqual(g, { adminKey: 'k', json: 'compact', events: false, stringIds: false, postAllowed: [], postAllowLocal: false });
  const rooms = readRooms(doc, new RoomIds(false), log);
  assert.deepEqual(rooms.map((r) => r.id), [1234, 7, 8]);
  assert.deepEqual(rooms[0]!.settings, { description: 'Demo', secret: 's', pin: '42', isPrivate: false, history: 12, post: 'http://x/y' });
  assert.deepEqual([rooms[1]!.settings.isPrivate, rooms[1]!.settings.history, rooms[1]!.settings.description], [true, 1000, 'room-7']);
  assert.deepEqual([rooms[2]!.settings.history, rooms[2]!.settings.description], [0, 'room-8']);
  const warnings = log.lines.filter((l) => l.level !== 'info').map((l) => l.msg).join('\n');
  assert.match(warnings, /unsupported json format 'weird'/);
  assert.match(warnings, /capped at 1000/);
  assert.match(warnings, /invalid history size \(lots\)/);
  assert.match(warnings, /room-abc\]: invalid room ID/);
  assert.match(warnings, /room-0\]: invalid room ID/);
});

test('the shipped conf/janus.plugin.textroom.jcfg has the demo room', async () => {
  const { Jcfg } = await import('../../../src/config/jcfg.js');
  const { fileURLToPath } = await import('node:url');
  const path = fileURLToPath(new URL('../../../../conf/janus.plugin.textroom.jcfg', import.meta.url));
  const doc = await Jcfg.load(path);
  const log = captureLogger();
  const rooms = readRooms(doc, new RoomIds(false), log);
  assert.deepEqual(rooms, [{ id: 1234, settings: { description: 'Demo Room', secret: 'adminpwd', pin: null, isPrivate: false, history: 0, post: null } }]);
  assert.equal(readGeneral(doc, log).json, 'indented');
});

test('room history is bounded by its setting', () => {
  const r = new Room(1, { description: 'd', secret: null, pin: null, isPrivate: false, history: 2, post: null });
  for (const f of ['a', 'b', 'c']) r.remember(f);
  assert.deepEqual(r.history(), ['b', 'c']);
  const none = new Room(2, { ...r.settings, history: 0 });
  none.remember('x');
  assert.deepEqual(none.history(), []);
});
