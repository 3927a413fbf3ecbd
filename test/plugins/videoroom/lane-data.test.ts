/**
 * Data-channel messages on a packet lane (src/plugins/videoroom/lane-data.ts), through a real ring:
 * label (null, empty, non-ASCII) and text/binary survive, RTP records (meta = layer) are not taken for
 * data, each wanting lane gets one record, an oversized message is dropped and counted, the reader's
 * label cache follows a change of label, and data records are the ones kept when stale (busKeepStale).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataLaneReader, DataLaneWriter, isDataRecord, MAX_DATA_RECORD } from '../../../src/plugins/videoroom/lane-data.js';
import type { VrId } from '../../../src/plugins/videoroom/ids.js';
import { Participant } from '../../../src/plugins/videoroom/participant.js';
import { Room } from '../../../src/plugins/videoroom/room.js';
import { defaultSettings } from '../../../src/plugins/videoroom/room-settings.js';
import { PublishedStream } from '../../../src/plugins/videoroom/streams.js';
import { VideoRoomPlugin } from '../../../src/plugins/videoroom/plugin.js';
import { createRing, RingConsumer, RingProducer } from '../../../src/workers/ring.js';

const NO_SESSION = { handleId: 0, sessionId: 0, opaqueId: null, token: null, state: undefined, alive: false };

function dataStream(): PublishedStream {
  const room = new Room('1' as VrId, defaultSettings('lanes'));
  const ps = new PublishedStream(new Participant('1' as VrId, 1, room, NO_SESSION), 'data', 2, '2');
  ps.remoteKey = 7;
  return ps;
}

test('messages cross a ring with label and kind; one record per lane; RTP records are not data', () => {
  const ps = dataStream();
  const rings = [createRing(1 << 16), createRing(1 << 16)];
  ps.remoteOut = rings.map((r) => new RingProducer(r));
  const writer = new DataLaneWriter();
  const sent: Array<[string | null, string | Buffer]> = [
    ['chat', 'hello \u00e9\u2713'],
    ['chat', Buffer.from([0, 1, 2, 255])],
    [null, 'no label'],
    ['', 'empty label'],
    ['\u00fcber', Buffer.alloc(0)],
    ['chat', ''],
    ['chat', 'x'.repeat(9000)],
  ];
  for (const [label, m] of sent) writer.write(ps, label, typeof m === 'string' ? Buffer.from(m, 'utf8') : m, typeof m !== 'string');
  for (const r of rings) {
    const got: Array<[string | null, string | Buffer]> = [];
    const reader = new DataLaneReader((s, label, payload) => {
      assert.equal(s, ps);
      got.push([label, payload]);
    });
    let rtp = 0;
    const rx = new RingConsumer(r, (tag, meta, data, off, len) => {
      assert.equal(tag, 7);
      if (isDataRecord(meta)) reader.read(ps, meta, data, off, len);
      else rtp++;
    });
    // An RTP record of the same lane: meta is the simulcast layer.
    for (let layer = 0; layer < 3; layer++) assert.ok(!isDataRecord(layer));
    assert.equal(rx.drain(), sent.length);
    assert.equal(rtp, 0);
    assert.deepEqual(got, sent);
    assert.ok(Buffer.isBuffer(got[1]![1]) && typeof got[0]![1] === 'string');
  }
  assert.equal(writer.tooLarge, 0);
});

test('an oversized message is dropped and counted, the next goes through', () => {
  const ps = dataStream();
  const writer = new DataLaneWriter();
  const sab = createRing(1 << 20);
  const tx = new RingProducer(sab);
  ps.remoteOut = [tx];
  writer.write(ps, 'chat', Buffer.alloc(MAX_DATA_RECORD), true);
  assert.equal(writer.tooLarge, 1);
  writer.write(ps, 'c', Buffer.alloc(MAX_DATA_RECORD - 1, 0x61), true);
  writer.write(ps, 'chat', Buffer.from('after'), false);
  assert.equal(tx.written, 2);
  assert.equal(tx.dropped, 0);
  const got: Array<[string | null, number, string | Buffer]> = [];
  const reader = new DataLaneReader((_s, label, payload) => got.push([label, payload.length, payload]));
  new RingConsumer(sab, (_tag, meta, data, off, len) => reader.read(ps, meta, data, off, len)).drain();
  assert.equal(got.length, 2);
  assert.deepEqual(got[0]!.slice(0, 2), ['c', MAX_DATA_RECORD - 1]);
  assert.ok((got[0]![2] as Buffer).every((b) => b === 0x61));
  assert.deepEqual(got[1], ['chat', 5, 'after']);
});

test('a bus that skips stale lane records is told to keep data records (busKeepStale), not RTP ones', () => {
  const ps = dataStream();
  const sab = createRing(1 << 16);
  ps.remoteOut = [new RingProducer(sab)];
  new DataLaneWriter().write(ps, 'chat', Buffer.from('late but wanted'), false);
  const metas: number[] = [];
  new RingConsumer(sab, (_tag, meta) => metas.push(meta)).drain();
  const plugin = new VideoRoomPlugin();
  assert.equal(metas.length, 1);
  assert.equal(plugin.busKeepStale(0, 7, metas[0]!), true);
  for (let layer = 0; layer < 3; layer++) assert.equal(plugin.busKeepStale(0, 7, layer), false);
});
