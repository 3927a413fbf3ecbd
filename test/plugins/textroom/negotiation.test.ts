import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, TestSession } from './harness.js';

async function settle(h: Harness): Promise<void> {
  await h.plugin.whenIdle();
}

test('setup answers ack now, then event result ok with a data-channel-only offer', async () => {
  const h = await Harness.start();
  const s = new TestSession(1);
  h.plugin.createSession(s);
  const r = await h.api({ request: 'setup' }, s);
  assert.deepEqual(r, { kind: 'wait' });
  assert.equal(h.host.events.length, 0, 'the event must come after the core has sent its ack');
  await settle(h);
  assert.equal(h.host.events.length, 1);
  const ev = h.host.events[0]!;
  assert.equal(ev.transaction, 't1');
  assert.deepEqual(ev.data, { textroom: 'event', result: 'ok' });
  assert.equal(ev.jsep?.type, 'offer');
  const sdp = ev.jsep!.sdp;
  assert.match(sdp, /^v=0\r\n/);
  assert.match(sdp, /\r\nm=application 9 UDP\/DTLS\/SCTP webrtc-datachannel\r\n/);
  assert.match(sdp, /\r\nc=IN IP4 0\.0\.0\.0\r\n/);
  assert.match(sdp, /\r\na=mid:0\r\n/);
  assert.match(sdp, /\r\na=sctp-port:5000\r\n/);
  assert.match(sdp, /\r\na=max-message-size:65536\r\n/);
  assert.doesNotMatch(sdp, /m=(audio|video)/);
  assert.ok(sdp.endsWith('\r\n'));
  assert.equal(ev.jsep!.restart, undefined);
  await h.stop();
});

test('a second setup is 416 PeerConnection already setup', async () => {
  const h = await Harness.start();
  const s = new TestSession(2);
  h.plugin.createSession(s);
  await h.api({ request: 'setup' }, s);
  await h.api({ request: 'SETUP' }, s); // request names are case-insensitive, as in Janus
  await settle(h);
  assert.equal(h.host.events.length, 2);
  assert.deepEqual(h.host.events[1]!.data, { textroom: 'error', error_code: 416, error: 'PeerConnection already setup' });
  assert.equal(h.host.events[1]!.jsep, undefined);
  await h.stop();
});

test('ack with the answer gives result ok; restart gives an ICE-restart offer with a bumped version', async () => {
  const h = await Harness.start();
  const s = new TestSession(3);
  h.plugin.createSession(s);
  await h.api({ request: 'setup' }, s);
  await h.api({ request: 'ack' }, s, { type: 'answer', sdp: 'v=0\r\n' });
  await h.api({ request: 'restart' }, s);
  await settle(h);
  const [offer, ack, restart] = h.host.events;
  assert.deepEqual(ack!.data, { textroom: 'event', result: 'ok' });
  assert.equal(ack!.jsep, undefined);
  assert.deepEqual(restart!.data, { textroom: 'event', result: 'ok' });
  assert.equal(restart!.jsep?.type, 'offer');
  assert.equal(restart!.jsep?.restart, true);
  const origin = (sdp: string) => /^o=- (\d+) (\d+) /m.exec(sdp)!.slice(1);
  const [sess1, v1] = origin(offer!.jsep!.sdp);
  const [sess2, v2] = origin(restart!.jsep!.sdp);
  assert.equal(sess1, sess2, 'same SDP session');
  assert.equal(Number(v2), Number(v1) + 1, 'version increases on renegotiation');
  await h.stop();
});

test('restart before setup is 416 PeerConnection not setup', async () => {
  const h = await Harness.start();
  const s = new TestSession(4);
  h.plugin.createSession(s);
  await h.api({ request: 'restart' }, s);
  await settle(h);
  assert.deepEqual(h.host.events[0]!.data, { textroom: 'error', error_code: 416, error: 'PeerConnection not setup' });
  await h.stop();
});

test('a refused offer, or a hangup, lets the client set up again', async () => {
  const h = await Harness.start();
  const s = new TestSession(5);
  h.plugin.createSession(s);
  h.host.refuseJsep = true;
  await h.api({ request: 'setup' }, s);
  await settle(h);
  assert.equal(h.host.events.length, 0);
  h.host.refuseJsep = false;
  await h.api({ request: 'setup' }, s);
  await settle(h);
  assert.equal(h.host.events[0]!.jsep?.type, 'offer');
  h.plugin.hangupMedia(s);
  await h.api({ request: 'setup' }, s);
  await settle(h);
  assert.equal(h.host.events[1]!.jsep?.type, 'offer');
  assert.deepEqual(h.plugin.querySession(s), { setup: true, destroyed: false, rooms: [] });
  await h.stop();
});

test('no event is pushed for a handle detached before its setup was processed', async () => {
  const h = await Harness.start();
  const s = new TestSession(6);
  h.plugin.createSession(s);
  await h.api({ request: 'setup' }, s);
  h.plugin.destroySession(s);
  await settle(h);
  assert.equal(h.host.events.length, 0);
  await h.stop();
});

test('Janus API: missing, mistyped and unknown requests', async () => {
  const h = await Harness.start();
  assert.deepEqual(await h.apiData({ foo: 1 }), { textroom: 'event', error_code: 413, error: 'Missing mandatory element (request)' });
  assert.deepEqual(await h.apiData({ request: 5 }), { textroom: 'event', error_code: 414, error: 'Invalid element type (request should be a string)' });
  assert.deepEqual(await h.apiData({ request: 'bogus' }), { textroom: 'event', error_code: 415, error: "Unknown request 'bogus'" });
  // Participation is data-channel only.
  assert.deepEqual(await h.apiData({ request: 'join', room: 1234, username: 'x' }), { textroom: 'event', error_code: 415, error: "Unknown request 'join'" });
  assert.deepEqual(await h.apiData({ request: 'message', room: 1234, text: 'x' }), { textroom: 'event', error_code: 415, error: "Unknown request 'message'" });
  await h.stop();
});

test('before init the plugin refuses messages with a plugin error', async () => {
  const { TextRoomPlugin } = await import('../../../src/plugins/textroom/plugin.js');
  const p = new TextRoomPlugin();
  const s = new TestSession(7);
  p.createSession(s);
  assert.deepEqual(await p.handleMessage(s, 'x', { request: 'list' }, null), { kind: 'error', reason: 'Plugin not initialized' });
  p.incomingData(s, 'l', '{"textroom":"list","transaction":"a"}', false); // must not throw
});
