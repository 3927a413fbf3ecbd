import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Harness } from './harness.js';

/** The collectors here listen on loopback: the operator allows local post targets (post_allow_local). */
const LOCAL_OK = 'general: {\n  json = "compact"\n  post_allow_local = true\n}\n';

interface Backend {
  server: Server;
  url: string;
  bodies: Array<{ body: string; type: string | undefined }>;
  hanging: ServerResponse[];
}

async function backend(answer: boolean): Promise<Backend> {
  const b: Backend = { server: null as unknown as Server, url: '', bodies: [], hanging: [] };
  b.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      b.bodies.push({ body, type: req.headers['content-type'] });
      if (answer) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else b.hanging.push(res); // never answers
    });
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  b.url = `http://127.0.0.1:${(b.server.address() as AddressInfo).port}/msg`;
  return b;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function close(b: Backend): Promise<void> {
  for (const res of b.hanging) res.destroy();
  b.server.closeAllConnections();
  return new Promise((r) => b.server.close(() => r()));
}

test('post: public messages and announcements are POSTed as JSON; whispers are not', async (t) => {
  const fast = await backend(true);
  const h = await Harness.start(LOCAL_OK, { post: { timeoutMs: 1000 } });
  t.after(async () => {
    await h.stop();
    await close(fast);
  });
  const a = h.client();
  assert.equal(a.request({ textroom: 'create', room: 10, secret: 's', post: fast.url })!.textroom, 'success');
  a.join(10, 'a');
  a.request({ textroom: 'message', room: 10, text: 'one' });
  a.request({ textroom: 'message', room: 10, text: 'private', to: 'a' });
  a.request({ textroom: 'announcement', room: 10, secret: 's', text: 'two' });
  await until(() => fast.bodies.length === 2);
  const sent = fast.bodies.map((b) => JSON.parse(b.body) as Record<string, unknown>);
  assert.deepEqual(sent.map((m) => [m.textroom, m.room, m.text]), [['message', 10, 'one'], ['announcement', 10, 'two']]);
  assert.equal(sent[0]!.from, 'a');
  assert.equal(fast.bodies[0]!.type, 'application/json');
});

test('post: a backend that never answers does not stall the room, and requests time out', async (t) => {
  const slow = await backend(false);
  const h = await Harness.start(LOCAL_OK, { post: { timeoutMs: 300, maxInFlight: 5 } });
  t.after(async () => {
    await h.stop();
    await close(slow);
  });
  const [a, b] = [h.client(), h.client()];
  a.request({ textroom: 'create', room: 11, post: slow.url });
  a.join(11, 'a');
  b.join(11, 'b');
  b.drain();
  const started = Date.now();
  for (let i = 0; i < 20; i++) a.request({ textroom: 'message', room: 11, text: `m${i}`, ack: false });
  assert.ok(Date.now() - started < 250, 'the message path never waits for the backend');
  assert.deepEqual(b.drain().map((m) => m.text), Array.from({ length: 20 }, (_, i) => `m${i}`));
  assert.ok(h.log.lines.some((l) => l.level === 'warn' && /dropping messages/.test(l.msg)), 'in-flight requests are bounded');
  await until(() => slow.bodies.length === 5);
  await until(() => h.log.lines.filter((l) => l.level === 'error' && /couldn't relay/.test(l.msg)).length === 5, 3000);
  // Once the stuck requests timed out, new messages are posted again.
  a.request({ textroom: 'message', room: 11, text: 'after', ack: false });
  await until(() => slow.bodies.length === 6);
  assert.equal(JSON.parse(slow.bodies[5]!.body).text, 'after');
});

test('post: an unreachable backend is logged, delivery continues', async (t) => {
  const h = await Harness.start(LOCAL_OK, { post: { timeoutMs: 1000 } });
  t.after(() => h.stop());
  const a = h.client();
  a.request({ textroom: 'create', room: 12, post: 'http://127.0.0.1:1/none' });
  a.join(12, 'a');
  assert.equal(a.request({ textroom: 'message', room: 12, text: 'x' })!.textroom, 'success');
  assert.equal(a.events('message').length, 1);
  await until(() => h.log.lines.some((l) => l.level === 'error' && /couldn't relay message to http:\/\/127\.0\.0\.1:1\/none/.test(l.msg)));
});
