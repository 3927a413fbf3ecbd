import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildDataChannelAck, buildDataChannelOpen, channelTypeOf, isLocalStreamId, parseDcep, reliabilityOf, streamIdParity,
} from '../../../src/media/sctp/dcep.js';

// DATA_CHANNEL_OPEN, reliable, priority 256, label "chat", protocol "json" (RFC 8832 §5.1 layout)
const OPEN_CHAT = Buffer.from('03000100000000000004000463686174' + '6a736f6e', 'hex');

test('DATA_CHANNEL_OPEN encodes to the known bytes', () => {
  const b = buildDataChannelOpen({ channelType: 0x00, priority: 256, reliabilityParameter: 0, label: 'chat', protocol: 'json' });
  assert.equal(b.toString('hex'), OPEN_CHAT.toString('hex'));
});

test('DATA_CHANNEL_OPEN decodes from known bytes, including partial reliability and UTF-8', () => {
  assert.deepEqual(parseDcep(OPEN_CHAT), { type: 'open', channelType: 0, priority: 256, reliabilityParameter: 0, label: 'chat', protocol: 'json' });
  // 0x81 = partial reliable rexmit unordered, 3 retransmits, priority 512, label "é", empty protocol
  const b = Buffer.from('038102000000000300020000c3a9', 'hex');
  assert.deepEqual(parseDcep(b), { type: 'open', channelType: 0x81, priority: 512, reliabilityParameter: 3, label: 'é', protocol: '' });
  assert.deepEqual(reliabilityOf(0x81, 3), { ordered: false, maxRetransmits: 3 });
  assert.deepEqual(reliabilityOf(0x02, 1500), { ordered: true, maxPacketLifeTime: 1500 });
  assert.deepEqual(channelTypeOf({ ordered: false, maxRetransmits: 3 }), { channelType: 0x81, reliabilityParameter: 3 });
  assert.deepEqual(channelTypeOf({ ordered: true }), { channelType: 0, reliabilityParameter: 0 });
  // round trip
  const m = { channelType: 0x82, priority: 128, reliabilityParameter: 1000, label: 'x'.repeat(300), protocol: 'p' };
  assert.deepEqual(parseDcep(buildDataChannelOpen(m)), { type: 'open', ...m });
});

test('DATA_CHANNEL_ACK is the single byte 0x02', () => {
  assert.deepEqual([...buildDataChannelAck()], [0x02]);
  assert.deepEqual(parseDcep(Buffer.from([0x02])), { type: 'ack' });
});

test('malformed DCEP messages are rejected without throwing', () => {
  const bad = [
    Buffer.alloc(0), Buffer.from([0x02, 0x00]), Buffer.from([0x03]), Buffer.from([0x04]),
    OPEN_CHAT.subarray(0, 15), Buffer.concat([OPEN_CHAT, Buffer.from([0])]),
    Buffer.from('03070100000000000004000463686174' + '6a736f6e', 'hex'), // unknown channel type
  ];
  for (const b of bad) assert.equal(parseDcep(b), undefined);
});

test('stream id parity follows the DTLS role (client even, server odd)', () => {
  assert.equal(streamIdParity('client'), 0);
  assert.equal(streamIdParity('server'), 1);
  assert.ok(isLocalStreamId(0, 'client') && isLocalStreamId(2, 'client') && !isLocalStreamId(1, 'client'));
  assert.ok(isLocalStreamId(1, 'server') && !isLocalStreamId(4, 'server'));
});
