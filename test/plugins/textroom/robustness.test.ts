import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './harness.js';
import type { PluginSession } from '../../../src/core/plugin.js';

test('invalid JSON and non-objects get a 412 reply (no transaction to echo)', async () => {
  const h = await Harness.start();
  const a = h.client();
  a.sendRaw('{not json');
  a.sendRaw('[1,2]');
  a.sendRaw('"str"');
  a.sendRaw('null');
  const f = a.frames;
  assert.equal(f.length, 4);
  assert.equal(f[0]!.textroom, 'error');
  assert.equal(f[0]!.error_code, 412);
  assert.match(f[0]!.error as string, /^JSON error: /);
  for (const x of f.slice(1)) assert.deepEqual(x, { textroom: 'error', error_code: 412, error: 'JSON error: not an object' });
  await h.stop();
});

test('missing or mistyped textroom/transaction: 413/414, with the transaction when it is a string', async () => {
  const h = await Harness.start();
  const a = h.client();
  a.sendRaw(JSON.stringify({ transaction: 'q1' }));
  a.sendRaw(JSON.stringify({ textroom: 'list' }));
  a.sendRaw(JSON.stringify({ textroom: 3, transaction: 'q2' }));
  a.sendRaw(JSON.stringify({ textroom: 'list', transaction: 9 }));
  assert.deepEqual(a.frames, [
    { textroom: 'error', error_code: 413, error: 'Missing mandatory element (textroom)', transaction: 'q1' },
    { textroom: 'error', error_code: 413, error: 'Missing mandatory element (transaction)' },
    { textroom: 'error', error_code: 414, error: 'Invalid element type (textroom should be a string)', transaction: 'q2' },
    { textroom: 'error', error_code: 414, error: 'Invalid element type (transaction should be a string)' },
  ]);
  await h.stop();
});

test('huge messages are refused (64 KiB limit) without disturbing the room', async () => {
  const h = await Harness.start();
  const [a, b] = [h.client(), h.client()];
  a.join(1234, 'a');
  b.join(1234, 'b');
  b.drain();
  const big = 'x'.repeat(70 * 1024);
  a.sendRaw(JSON.stringify({ textroom: 'message', transaction: 'big', room: 1234, text: big }));
  const reply = a.frames.find((f) => f.transaction === 'big');
  assert.equal(reply?.textroom, 'error');
  assert.equal(reply?.error_code, 412);
  assert.match(reply?.error as string, /^Message too large \(\d+ bytes, limit 65536\)$/);
  a.sendRaw(Buffer.from(JSON.stringify({ textroom: 'message', transaction: 'bigger', room: 1234, text: 'y'.repeat(300 * 1024) })));
  const r2 = a.frames.at(-1)!;
  assert.equal(r2.error_code, 412);
  assert.equal(r2.transaction, 'bigger', 'a 300 KiB frame is still parsed for its transaction');
  a.sendRaw(Buffer.from(JSON.stringify({ textroom: 'message', transaction: 'huge', room: 1234, text: 'w'.repeat(1100 * 1024) })));
  const r3 = a.frames.at(-1)!;
  assert.equal(r3.error_code, 412);
  assert.equal(r3.transaction, undefined, 'frames past 1 MiB are not parsed at all');
  assert.deepEqual(b.drain(), [], 'nothing reached the others');
  // Just under the limit still works.
  a.request({ textroom: 'message', room: 1234, text: 'z'.repeat(60 * 1024) });
  assert.equal(b.events('message').length, 1);
  await h.stop();
});

test('binary frames get a 415 error (with the transaction when the payload is a JSON request); empty frames are dropped', async () => {
  const h = await Harness.start();
  const a = h.client();
  a.sendRaw(Buffer.from(JSON.stringify({ textroom: 'list', transaction: 'bin' })), true);
  a.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef]), true);
  a.sendRaw('');
  assert.deepEqual(a.frames, [
    { textroom: 'error', error_code: 415, error: 'Binary messages are not supported (send text)', transaction: 'bin' },
    { textroom: 'error', error_code: 415, error: 'Binary messages are not supported (send text)' },
  ]);
  assert.ok(h.log.lines.some((l) => /binary/.test(l.msg)));
  a.drain();
  // Text frames given as Buffers (the usual SCTP delivery) work.
  a.sendRaw(Buffer.from(JSON.stringify({ textroom: 'exists', transaction: 'buf', room: 1234 })));
  assert.deepEqual(a.drain(), [{ textroom: 'success', room: 1234, exists: true, transaction: 'buf' }]);
  await h.stop();
});

test('wrong field types never throw and never disturb other participants', async () => {
  const h = await Harness.start();
  const [a, b] = [h.client(), h.client()];
  a.join(1234, 'a');
  b.join(1234, 'b');
  b.drain();
  const nasty: unknown[] = [
    { textroom: 'message', room: { x: 1 }, text: 'x' },
    { textroom: 'message', room: 1234, text: ['x'] },
    { textroom: 'message', room: 1234, text: 'x', tos: 'b' },
    { textroom: 'message', room: 1.5, text: 'x' },
    { textroom: 'join', room: 1234, username: 'c', display: {} },
    { textroom: 'join', room: 1234, username: 'c', history: 1 },
    { textroom: 'create', room: 'x' },
    { textroom: 'create', description: 5 },
    { textroom: 'allowed', room: 1234, secret: 'adminpwd', action: 'add', allowed: 'tok' },
    { textroom: 'kick', room: 1234, secret: 'adminpwd', username: null },
    { textroom: 'list', admin_key: 5 },
    { textroom: 'leave', room: null },
    { textroom: '__proto__' },
    { textroom: 'constructor' },
  ];
  for (const [i, body] of nasty.entries()) {
    const r = a.request({ ...(body as object), transaction: `n${i}` });
    assert.ok(r !== undefined, `a reply for ${JSON.stringify(body)}`);
    if (r.textroom !== 'success') assert.ok([413, 414, 415].includes(r.error_code as number), JSON.stringify([body, r]));
  }
  assert.deepEqual(b.drain(), [], 'no event leaked to the other participant');
  a.request({ textroom: 'message', room: 1234, text: 'still fine' });
  assert.deepEqual(b.events('message').map((m) => m.text), ['still fine']);
  await h.stop();
});

test('a recipient whose sendData throws does not stop delivery to the others', async () => {
  const h = await Harness.start();
  const [a, b, c] = [h.client(), h.client(), h.client()];
  a.join(1234, 'a');
  b.join(1234, 'b');
  c.join(1234, 'c');
  const original = h.host.sendData.bind(h.host);
  h.host.sendData = (s: PluginSession, text: string) => {
    if (s === b.session) throw new Error('SCTP buffer full');
    original(s, text);
  };
  const r = a.request({ textroom: 'message', room: 1234, text: 'through' });
  assert.equal(r!.textroom, 'success');
  assert.deepEqual(c.events('message').map((m) => m.text), ['through']);
  assert.ok(h.log.lines.some((l) => l.level === 'error' && /SCTP buffer full/.test(l.msg)));
  await h.stop();
});

test('the data-channel host may come with the init host; without any, frames are dropped with one warning', async () => {
  const h = await Harness.start(undefined, { viaInitHost: true });
  const a = h.client();
  assert.equal(a.request({ textroom: 'exists', room: 1234 })?.exists, true);
  await h.stop();

  const { TextRoomPlugin } = await import('../../../src/plugins/textroom/plugin.js');
  const { captureLogger, docFromText, DEMO_JCFG, TestSession } = await import('./harness.js');
  const { defaultJanusConfig } = await import('../../../src/config/defaults.js');
  const log = captureLogger();
  const p = new TextRoomPlugin();
  const host = { pushEvent: () => true, closePeerConnection() {}, endSession() {}, isTokenValidForPlugin: () => true };
  p.init({ config: docFromText(DEMO_JCFG), configsFolder: '/tmp', gateway: defaultJanusConfig(), host, log });
  const s = new TestSession(77);
  p.createSession(s);
  p.incomingData(s, 'x', JSON.stringify({ textroom: 'list', transaction: 'a' }), false);
  p.incomingData(s, 'x', JSON.stringify({ textroom: 'list', transaction: 'b' }), false);
  assert.equal(log.lines.filter((l) => l.level === 'warn' && /no data-channel host/.test(l.msg)).length, 1);
  await p.destroy();
});

test('usernames that are Object.prototype names are plain strings', async () => {
  const h = await Harness.start();
  const [a, b] = [h.client(), h.client()];
  a.join(1234, '__proto__');
  b.join(1234, 'constructor');
  const r = b.request({ textroom: 'message', room: 1234, text: 'x', tos: ['__proto__', 'toString'] });
  assert.equal(JSON.stringify(r!.sent), '{"__proto__":true,"toString":false}');
  assert.deepEqual(a.events('message').map((m) => [m.from, m.whisper]), [['constructor', true]]);
  assert.deepEqual(b.request({ textroom: 'listparticipants', room: 1234 })!.participants, [{ username: '__proto__' }, { username: 'constructor' }]);
  await h.stop();
});

test('request names are case-insensitive on the data channel too', async () => {
  const h = await Harness.start();
  const a = h.client();
  assert.equal(a.request({ textroom: 'EXISTS', room: 1234 })?.exists, true);
  await h.stop();
});
