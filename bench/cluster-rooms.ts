/**
 * What cluster mode costs on the signalling path (README "Cluster"): a real redis-server, two cluster
 * nodes A and B and one single node S (no cluster section), all real Portunus processes.
 *
 *   node dist/bench/cluster-rooms.js [--rooms 50] [--requests 200]
 *
 * Measures, over HTTP from this process:
 *   - `create` latency on A (claim in Redis + announce) against `create` on S;
 *   - propagation: from A's `created` answer until `exists` says true on B (polled every 5 ms);
 *   - `exists` latency on B for a cluster room (the room's record is read from Redis first) against
 *     `exists` on S.
 * Prints median and p95 in ms, with the load average.
 */
import { loadavg } from 'node:os';
import { startClusterNode, type ClusterNode } from '../test/helpers/cluster-node.js';
import { startRedis } from '../test/helpers/redis-server.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const ROOMS = arg('rooms', 50);
const REQUESTS = arg('requests', 200);
const KEY = 'videoroom_key';

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(2)} ms, p95 ${q(0.95).toFixed(2)} ms (n=${s.length})`;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const req = (n: ClusterNode, body: Record<string, unknown>) => n.api.req(n.handle, body);

async function main(): Promise<void> {
  const redis = await startRedis();
  const prefix = `bench${process.pid}`;
  const [a, b, s] = await Promise.all([
    startClusterNode('bench-a', { redisUrl: redis.url, prefix, heartbeatMs: 1000, ttlMs: 4000 }),
    startClusterNode('bench-b', { redisUrl: redis.url, prefix, heartbeatMs: 1000, ttlMs: 4000 }),
    startClusterNode('bench-s', { redisUrl: null }),
  ]);
  try {
    const createA: number[] = [];
    const createS: number[] = [];
    const propagation: number[] = [];
    for (let i = 0; i < ROOMS; i++) {
      const room = 700000 + i;
      createS.push(await timed(() => req(s, { request: 'create', room, admin_key: KEY })));
      let created = 0;
      createA.push(await timed(async () => {
        const r = await req(a, { request: 'create', room, admin_key: KEY });
        if (r['videoroom'] !== 'created') throw new Error(JSON.stringify(r));
        created = performance.now();
      }));
      // B's list (no room named: answered from what B holds) until the room is there.
      for (;;) {
        const l = (await req(b, { request: 'list' }))['list'] as Array<Record<string, unknown>>;
        if (l.some((r) => r['room'] === room)) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      propagation.push(performance.now() - created);
    }
    const existsB: number[] = [];
    const existsS: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const room = 700000 + (i % ROOMS);
      existsB.push(await timed(() => req(b, { request: 'exists', room })));
      existsS.push(await timed(() => req(s, { request: 'exists', room })));
    }
    const load = loadavg().map((x) => x.toFixed(2)).join(' ');
    console.log(`load average: ${load}`);
    console.log(`create on a cluster node:   ${stats(createA)}`);
    console.log(`create on a single node:    ${stats(createS)}`);
    console.log(`created on A -> listed on B: ${stats(propagation)} (includes the polling list requests)`);
    console.log(`exists on a cluster node:   ${stats(existsB)}`);
    console.log(`exists on a single node:    ${stats(existsS)}`);
  } finally {
    await Promise.all([a, b, s].map((n) => n.stop()));
    await redis.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
