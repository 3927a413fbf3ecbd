/**
 * Leak test: create and destroy 10,000 sessions, each with a VideoRoom handle, over HTTP
 * (concurrently, keep-alive), then check the server's heap after GC is within 10% of the start,
 * that list_sessions is empty and that the server holds no more file descriptors than before.
 *
 * Heap is measured INSIDE the server: Portunus is started with --expose-gc and PORTUNUS_TEST_HEAP=1,
 * and the test asks the Admin API for the heap after a GC. Accepted shapes (first that answers wins):
 *   {"janus":"heap_usage","transaction":..,"admin_secret":..} -> {"janus":"success",...,"heap":{"heap_used":<bytes>,"gc":true}}
 *   {"janus":"get_status",...} -> {"janus":"success","status":{...,"heap_used":<bytes>}}   (only with PORTUNUS_TEST_HEAP=1)
 * The same churn (fewer sessions, no heap) runs against the real Janus to validate the harness.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readdirSync } from 'node:fs';
import { startJanus } from '../helpers/janus-ref.js';
import { startPortunus } from '../helpers/portunus.js';
import type { RunningServer } from '../helpers/server-process.js';
import type { JsonObject } from '../helpers/janus-client.js';

const SESSIONS = 10_000;
const CONCURRENCY = 64;
const servers: RunningServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

/** Minimal keep-alive JSON POST client (own agent, so its sockets can be closed before counting fds). */
class Client {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  post(url: string, body: unknown): Promise<JsonObject> {
    const data = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }, timeout: 15_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          try {
            resolve(JSON.parse(text) as JsonObject);
          } catch {
            reject(new Error(`POST ${url}: HTTP ${res.statusCode} non-JSON answer: ${text.slice(0, 200)}`));
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`POST ${url} timed out`)));
      req.on('error', reject);
      req.end(data);
    });
  }
  close(): void {
    this.agent.destroy();
  }
}

async function churn(srv: RunningServer, client: Client, n: number): Promise<void> {
  let next = 0;
  let failures = 0;
  let firstFailure = '';
  const worker = async () => {
    while (next < n) {
      next++;
      try {
        const c = await client.post(srv.httpUrl, { janus: 'create', transaction: 'c' });
        const s = (c.data as JsonObject | undefined)?.id;
        if (c.janus !== 'success' || typeof s !== 'number') throw new Error(`create: ${JSON.stringify(c)}`);
        const a = await client.post(`${srv.httpUrl}/${s}`, { janus: 'attach', plugin: 'janus.plugin.videoroom', transaction: 'a' });
        if (a.janus !== 'success') throw new Error(`attach: ${JSON.stringify(a)}`);
        const d = await client.post(`${srv.httpUrl}/${s}`, { janus: 'destroy', transaction: 'd' });
        if (d.janus !== 'success') throw new Error(`destroy: ${JSON.stringify(d)}`);
      } catch (e) {
        failures++;
        if (!firstFailure) firstFailure = (e as Error).message;
        if (failures > 20) throw new Error(`too many failures; first: ${firstFailure}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.equal(failures, 0, `${failures} of ${n} create/attach/destroy cycles failed; first: ${firstFailure}`);
}

async function listSessions(srv: RunningServer, client: Client): Promise<unknown[]> {
  const r = await client.post(srv.adminUrl, { janus: 'list_sessions', transaction: 'ls', admin_secret: srv.adminSecret });
  assert.equal(r.janus, 'success', `list_sessions: ${JSON.stringify(r)}`);
  assert.ok(Array.isArray(r.sessions), `list_sessions.sessions must be an array: ${JSON.stringify(r)}`);
  return r.sessions as unknown[];
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Heap used (bytes, after GC) as reported by the server, or a description of what the server answered. */
async function serverHeap(srv: RunningServer, client: Client): Promise<number | string> {
  const tries: string[] = [];
  const a = await client.post(srv.adminUrl, { janus: 'heap_usage', transaction: 'h', admin_secret: srv.adminSecret });
  const heap = a.heap as JsonObject | undefined;
  if (a.janus === 'success' && typeof heap?.heap_used === 'number') return heap.heap_used;
  tries.push(`heap_usage -> ${JSON.stringify(a).slice(0, 200)}`);
  const b = await client.post(srv.adminUrl, { janus: 'get_status', transaction: 'g', admin_secret: srv.adminSecret });
  const st = b.status as JsonObject | undefined;
  if (b.janus === 'success' && typeof st?.heap_used === 'number') return st.heap_used;
  tries.push(`get_status -> ${JSON.stringify(b).slice(0, 300)}`);
  return tries.join('; ');
}

async function settleFds(pid: number, baseline: number, slack: number): Promise<number> {
  let n = fdCount(pid);
  for (let i = 0; i < 40 && n > baseline + slack; i++) {
    await new Promise((r) => setTimeout(r, 50));
    n = fdCount(pid);
  }
  return n;
}

test('leak harness against the real Janus: 1,000 sessions with a handle, nothing left behind', async () => {
  const j = await startJanus({});
  servers.push(j);
  const client = new Client();
  try {
    const fd0 = fdCount(j.pid);
    await churn(j, client, 1000);
    assert.deepEqual(await listSessions(j, client), [], 'no session survives');
    client.close();
    const fd1 = await settleFds(j.pid, fd0, 2);
    assert.ok(fd1 <= fd0 + 2, `Janus fds: ${fd0} before, ${fd1} after`);
  } finally {
    client.close();
  }
});

test(`Portunus: ${SESSIONS} sessions with a handle created and destroyed, heap after GC within 10%`, { timeout: 120_000 }, async () => {
  const p = await startPortunus({}, { nodeArgs: ['--expose-gc'], env: { PORTUNUS_TEST_HEAP: '1' } });
  servers.push(p);
  const client = new Client();
  try {
    // Warm-up so JIT, pools and lazily created structures exist before the baseline.
    await churn(p, client, 500);
    const heap0 = await serverHeap(p, client);
    const fd0 = fdCount(p.pid);
    const t0 = Date.now();
    await churn(p, client, SESSIONS);
    const secs = (Date.now() - t0) / 1000;
    assert.ok(secs < 60, `churn took ${secs.toFixed(1)} s (budget 60 s)`);
    assert.deepEqual(await listSessions(p, client), [], 'list_sessions must be empty after destroying every session');
    const heap1 = await serverHeap(p, client);
    client.close();
    const fd1 = await settleFds(p.pid, fd0, 2);
    assert.ok(fd1 <= fd0 + 2, `open file descriptors in Portunus: ${fd0} before, ${fd1} after (leaked sockets/handles?)`);
    if (typeof heap0 !== 'number' || typeof heap1 !== 'number') {
      assert.fail(
        'Portunus does not expose its heap to the Admin API. Needed (when started with --expose-gc and PORTUNUS_TEST_HEAP=1): ' +
          'admin request {"janus":"heap_usage"} answering {"janus":"success","heap":{"heap_used":<process.memoryUsage().heapUsed after global.gc()>,"gc":true}} ' +
          `(or status.heap_used in get_status). Server answered: ${typeof heap0 === 'string' ? heap0 : heap1}`,
      );
    }
    const growth = (heap1 - heap0) / heap0;
    assert.ok(growth <= 0.1, `heap after GC grew ${(growth * 100).toFixed(1)}%: ${heap0} -> ${heap1} bytes after ${SESSIONS} sessions`);
  } finally {
    client.close();
  }
});
