/**
 * TextRoom `post` target policy (issue 11 item 4): a client may not make Portunus POST to loopback,
 * link-local or cloud-metadata addresses (in any spelling) unless the operator allows local targets
 * (`post_allow_local`) or lists the backend (`post_allowed`); create/edit are refused with 414, every
 * accepted target is logged; names are checked when sending, on the address actually connected to;
 * redirects are not followed. Real HTTP collectors on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { Harness } from './harness.js';

interface Collector {
  server: Server;
  port: number;
  bodies: Array<{ path: string; body: string }>;
}

async function collector(onRequest?: (req: IncomingMessage, res: ServerResponse) => boolean): Promise<Collector> {
  const c: Collector = { server: null as unknown as Server, port: 0, bodies: [] };
  c.server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      c.bodies.push({ path: req.url ?? '', body });
      if (onRequest?.(req, res)) return;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => c.server.listen(0, '127.0.0.1', r));
  c.port = (c.server.address() as AddressInfo).port;
  return c;
}

function close(c: Collector): Promise<void> {
  c.server.closeAllConnections();
  return new Promise((r) => c.server.close(() => r()));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

const conf = (extra = ''): string => `general: {\n  json = "compact"\n${extra}}\n`;

test('default policy: loopback, link-local, metadata, unspecified and mapped forms are refused with 414 on create and edit; public targets pass and are logged', async (t) => {
  const c = await collector();
  const h = await Harness.start(conf());
  t.after(async () => {
    await h.stop();
    await close(c);
  });
  const a = h.client();
  const refused = [
    `http://127.0.0.1:${c.port}/x`,
    `http://127.1.2.3:${c.port}/x`,
    `http://2130706433:${c.port}/x`, // 127.0.0.1 as one decimal number
    `http://0x7f000001:${c.port}/x`,
    `http://[::1]:${c.port}/x`,
    `http://[::ffff:127.0.0.1]:${c.port}/x`,
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/latest/meta-data/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://[fe80::1]/x',
    'http://0.0.0.0/x',
    'http://[::]/x',
    `http://localhost:${c.port}/x`,
    'http://api.localhost./x',
    'file:///etc/passwd',
    'gopher://example.com/',
    'not a url',
  ];
  let room = 100;
  for (const post of refused) {
    const r = a.request({ textroom: 'create', room: ++room, post });
    assert.deepEqual([r?.textroom, r?.error_code, r?.error], ['error', 414, 'Invalid element (post)'], post);
    assert.equal(h.plugin.room(room), undefined, `no room for ${post}`);
  }
  assert.ok(h.log.lines.some((l) => l.level === 'warn' && l.msg.includes('refused post http://169.254.169.254/latest/meta-data/')), 'the refusal is logged');

  const ok = a.request({ textroom: 'create', room: 7, secret: 's', post: 'http://192.0.2.10/hook' });
  assert.equal(ok?.textroom, 'success');
  assert.ok(h.log.lines.some((l) => l.level === 'info' && l.msg === 'textroom: room 7 posts to http://192.0.2.10/hook'), 'the target is logged at create');
  const e = a.request({ textroom: 'edit', room: 7, secret: 's', new_post: `http://[::1]:${c.port}/x` });
  assert.equal(e?.error_code, 414);
  assert.equal(e?.error, 'Invalid element (new_post)');
  assert.equal(h.plugin.room(7)!.settings.post, 'http://192.0.2.10/hook', 'post unchanged');
  assert.equal(a.request({ textroom: 'edit', room: 7, secret: 's', new_post: 'https://198.51.100.7/h' })?.textroom, 'success');
  assert.ok(h.log.lines.some((l) => l.level === 'info' && l.msg === 'textroom: room 7 now posts to https://198.51.100.7/h'), 'the target is logged at edit');
  // Over the Janus API too (same handlers).
  const api = await h.apiData({ request: 'create', room: 8, post: 'http://169.254.169.254/' });
  assert.deepEqual([api.error_code, api.error], [414, 'Invalid element (post)']);
  assert.equal(c.bodies.length, 0, 'nothing was ever posted');
});

test('post_allow_local = true: the operator allows loopback backends, messages arrive', async (t) => {
  const c = await collector();
  const h = await Harness.start(conf('  post_allow_local = true\n'));
  t.after(async () => {
    await h.stop();
    await close(c);
  });
  const a = h.client();
  assert.equal(a.request({ textroom: 'create', room: 9, post: `http://127.0.0.1:${c.port}/in` })?.textroom, 'success');
  a.join(9, 'a');
  a.request({ textroom: 'message', room: 9, text: 'hello' });
  await until(() => c.bodies.length === 1);
  assert.equal(JSON.parse(c.bodies[0]!.body).text, 'hello');
});

test('post_allowed: only listed backends (scheme, host, port and path prefix), local ones included', async (t) => {
  const c = await collector();
  // An allow-list with nothing usable in it allows nothing (not everything).
  const broken = await Harness.start(conf('  post_allowed = ["not a url"]\n'));
  assert.equal(broken.client().request({ textroom: 'create', room: 1, post: 'https://public.example.com/' })?.error_code, 414);
  await broken.stop();
  const h2 = await Harness.start(conf(`  post_allowed = ["http://127.0.0.1:${c.port}/hooks"]\n`));
  t.after(async () => {
    await h2.stop();
    await close(c);
  });
  const a = h2.client();
  assert.equal(a.request({ textroom: 'create', room: 1, post: `http://127.0.0.1:${c.port}/hooks/chat` })?.textroom, 'success');
  for (const post of [`http://127.0.0.1:${c.port}/hooksevil`, `http://127.0.0.1:${c.port}/other`, `https://127.0.0.1:${c.port}/hooks/x`, `http://127.0.0.1:${c.port + 1}/hooks/x`, 'https://public.example.com/hooks']) {
    assert.equal(a.request({ textroom: 'create', room: 2, post })?.error_code, 414, post);
  }
  a.join(1, 'a');
  a.request({ textroom: 'message', room: 1, text: 'listed' });
  await until(() => c.bodies.length === 1);
  assert.equal(c.bodies[0]!.path, '/hooks/chat');
});

test('send time: a name that resolves to loopback is not connected to (DNS checked on the address used)', async (t) => {
  // A host name this machine resolves to a loopback address (e.g. /etc/hosts entries), not "localhost".
  let name: string | null = null;
  for (const n of [hostname(), 'vm', 'runsc', 'ip6-localhost']) {
    if (n.endsWith('localhost') && n !== 'ip6-localhost') continue;
    try {
      const r = await lookup(n);
      if (/^127\.|^::1$/.test(r.address)) {
        name = n;
        break;
      }
    } catch {
      // not resolvable here
    }
  }
  if (name === null) {
    t.skip('no non-"localhost" name resolves to loopback on this machine');
    return;
  }
  const c = await collector();
  c.server.close();
  await new Promise<void>((r) => c.server.listen(c.port, '::', r)); // both families
  const h = await Harness.start(conf());
  t.after(async () => {
    await h.stop();
    await close(c);
  });
  const a = h.client();
  const url = `http://${name}:${c.port}/x`;
  assert.equal(a.request({ textroom: 'create', room: 3, post: url })?.textroom, 'success', 'a name passes create');
  a.join(3, 'a');
  a.request({ textroom: 'message', room: 3, text: 'secret' });
  await until(() => h.log.lines.some((l) => l.level === 'error' && l.msg.includes('only to local addresses')));
  await sleep(100);
  assert.equal(c.bodies.length, 0, 'nothing reached the loopback service');
});

test('redirects are not followed', async (t) => {
  const target = await collector();
  const redirector = await collector((_req, res) => {
    res.writeHead(302, { location: `http://127.0.0.1:${target.port}/stolen` }).end();
    return true;
  });
  const h = await Harness.start(conf('  post_allow_local = true\n'));
  t.after(async () => {
    await h.stop();
    await close(target);
    await close(redirector);
  });
  const a = h.client();
  a.request({ textroom: 'create', room: 4, post: `http://127.0.0.1:${redirector.port}/r` });
  a.join(4, 'a');
  a.request({ textroom: 'message', room: 4, text: 'x' });
  await until(() => redirector.bodies.length === 1);
  await sleep(200);
  assert.equal(target.bodies.length, 0, 'the redirect was not followed');
});
