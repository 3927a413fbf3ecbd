/**
 * A VideoRoom remote publisher's data stream, differential against Janus 1.1.2: the same datagrams go
 * to the RTP port of an `add_remote_publisher` (an audio and a data stream) in the real Janus and in
 * Portunus, and a data-channel subscriber of the data stream (our own ICE/DTLS/SCTP client) records
 * what each gateway delivers.
 *
 * What Janus 1.1.2 does (janus_videoroom.c, the remote publisher thread), and what this pins down: a
 * datagram is RTP when it has 12 bytes and a payload type outside 64-95 (RTCP), whatever its version
 * bits; on the data stream's SSRC the message is everything after the first 12 bytes, so CSRCs and a
 * header extension are delivered as message bytes (Janus's own forwarder never sends them: its
 * envelope is a bare 12-byte header); payload type 0 is text, any other binary; an envelope with no
 * message (12 bytes) delivers nothing.
 * Skipped when Janus is not installed.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { PluginHttp } from '../../helpers/plugin-http.js';
import { DataChannelClient, type ReceivedFrame } from '../../helpers/datachannel-client.js';
import { pluginJcfg, startMediaGateway, type GatewayKind, type MediaGateway } from '../../helpers/media-server.js';

const haveJanus = existsSync('/usr/bin/janus');
const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => undefined);
});

const DATA_SSRC = 1000 + 10 * 1; // the data stream is mindex 1

/** An envelope: a 12-byte RTP header (first byte, second byte as given) for the data SSRC, then `rest`. */
function envelope(b0: number, b1: number, rest: Buffer, ssrc = DATA_SSRC): Buffer {
  const h = Buffer.alloc(12);
  h[0] = b0;
  h[1] = b1;
  h.writeUInt16BE(7, 2);
  h.writeUInt32BE(1234, 4);
  h.writeUInt32BE(ssrc, 8);
  return Buffer.concat([h, rest]);
}

/** The datagrams, in order (the last one a marker that tells the run is over). */
const DATAGRAMS: { what: string; d: Buffer }[] = [
  { what: 'text (payload type 0)', d: envelope(0x80, 0, Buffer.from('hello')) },
  { what: 'binary (payload type 1)', d: envelope(0x80, 1, Buffer.from([1, 2, 3])) },
  { what: 'binary (payload type 127, marker)', d: envelope(0x80, 0xff, Buffer.from([9, 8])) },
  { what: 'text with the marker bit (payload type 0)', d: envelope(0x80, 0x80, Buffer.from('marked')) },
  { what: 'two CSRCs announced: delivered as message bytes', d: envelope(0x82, 1, Buffer.concat([Buffer.from([0, 0, 0, 0x11, 0, 0, 0, 0x22]), Buffer.from('csrc')])) },
  { what: 'a header extension: delivered as message bytes', d: envelope(0x90, 1, Buffer.concat([Buffer.from([0xbe, 0xde, 0, 1, 0x10, 0x7f, 0, 0]), Buffer.from('ext')])) },
  { what: 'padding bit: not removed', d: envelope(0xa0, 1, Buffer.from([5, 6, 7, 2])) },
  { what: 'payload type 72 (RTCP range): not RTP', d: envelope(0x80, 72, Buffer.from('rtcp-range')) },
  { what: 'payload type 95 with marker (RTCP range): not RTP', d: envelope(0x80, 0x80 | 95, Buffer.from('rtcp-range-2')) },
  { what: 'payload type 96: binary', d: envelope(0x80, 96, Buffer.from([0x60])) },
  { what: 'version 0: taken as RTP all the same', d: envelope(0x00, 1, Buffer.from([0xee])) },
  { what: 'an empty message (12 bytes): nothing', d: envelope(0x80, 1, Buffer.alloc(0)) },
  { what: 'short (11 bytes): not RTP', d: envelope(0x80, 1, Buffer.alloc(0)).subarray(0, 11) },
  { what: 'another SSRC (the audio stream): not data', d: envelope(0x80, 0, Buffer.from('audio'), 1000) },
  { what: 'marker', d: envelope(0x80, 0, Buffer.from('END')) },
];

/** What a data subscriber of a remote publisher in `kind` receives for DATAGRAMS. */
async function deliveredBy(kind: GatewayKind): Promise<{ text: string; binary: boolean }[]> {
  const gw = await startMediaGateway(kind, ['videoroom'], { videoroom: pluginJcfg('videoroom') }, { prefix: 'remote-data' });
  cleanup.push(() => gw.stop());
  const http = await PluginHttp.open(gw.httpUrl, 'janus.plugin.videoroom');
  cleanup.push(() => http.close());
  const add = await http.req(await http.attach(), {
    request: 'add_remote_publisher', room: 1234, secret: 'adminpwd', id: 7401, display: 'remote data',
    streams: [{ type: 'audio', mindex: 0, mid: '0', codec: 'opus' }, { type: 'data', mindex: 1, mid: '1' }],
  });
  assert.equal(add.videoroom, 'success', JSON.stringify(add));
  // The real Janus ignores loopback candidates: the client binds the machine's address.
  const client = await DataChannelClient.create({ address: gw.address.address, name: `${kind} data subscriber` });
  cleanup.push(() => client.close());
  const sub = await http.attach();
  const att = await http.message(sub, { request: 'join', ptype: 'subscriber', room: 1234, streams: [{ feed: 7401, mid: '1' }] });
  assert.equal(att.data.videoroom, 'attached', JSON.stringify(att.data));
  const answer = client.answer(att.jsep!.sdp);
  const started = await http.req(sub, { request: 'start', room: 1234 }, { type: 'answer', sdp: answer });
  assert.equal(started.started, 'ok', JSON.stringify(started));
  await client.waitOpen(15_000);
  const tx = createSocket('udp4');
  cleanup.push(() => {
    tx.close();
  });
  await new Promise<void>((r) => tx.bind(0, '127.0.0.1', () => r()));
  // The subscriber's channel can be open before the gateway relays to it (Janus: a moment after
  // webrtcup): probe until a message gets through, then start from a clean slate.
  const deadline = Date.now() + 15_000;
  for (let i = 0; !client.frames.some((f) => f.text.startsWith('READY')); i++) {
    assert.ok(Date.now() < deadline, `no probe message reached the ${kind} data subscriber`);
    await new Promise<void>((r) => tx.send(envelope(0x80, 0, Buffer.from(`READY${i}`)), add.port as number, '127.0.0.1', () => r()));
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  const from = client.frames.length;
  // Sent in order with a pause each: one UDP socket to another on this machine keeps them in order.
  for (const { d } of DATAGRAMS) {
    await new Promise<void>((r) => tx.send(d, add.port as number, '127.0.0.1', () => r()));
    await new Promise((r) => setTimeout(r, 20));
  }
  await client.waitFor((f: ReceivedFrame) => !f.binary && f.text === 'END', 10_000, 'the END marker');
  return client.frames.slice(from).map((f) => ({ text: f.text, binary: f.binary }));
}

/** What this test expects from both (the reading of janus_videoroom.c above, checked against the real Janus). */
const EXPECTED: { text: string; binary: boolean }[] = [
  { text: 'hello', binary: false },
  { text: '010203', binary: true },
  { text: '0908', binary: true },
  { text: 'marked', binary: false },
  { text: `${Buffer.concat([Buffer.from([0, 0, 0, 0x11, 0, 0, 0, 0x22]), Buffer.from('csrc')]).toString('hex')}`, binary: true },
  { text: `${Buffer.concat([Buffer.from([0xbe, 0xde, 0, 1, 0x10, 0x7f, 0, 0]), Buffer.from('ext')]).toString('hex')}`, binary: true },
  { text: '05060702', binary: true },
  { text: '60', binary: true },
  { text: 'ee', binary: true },
  { text: 'END', binary: false },
];

test('remote publisher data (Janus 1.1.2): what a data subscriber gets for each envelope', { timeout: 180_000, skip: !haveJanus && 'Janus not installed' }, async () => {
  const janus = await deliveredBy('janus');
  assert.deepEqual(janus, EXPECTED, 'the reading of Janus 1.1.2 holds');
});

test('remote publisher data (Portunus): the same as Janus 1.1.2', { timeout: 180_000 }, async () => {
  const ours = await deliveredBy('portunus');
  assert.deepEqual(ours, EXPECTED);
});
