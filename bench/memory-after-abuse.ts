/**
 * Memory after abuse (issue 11 item 8): the server's RSS before, during and after a bounded abuse load
 * (test/helpers/abuse.ts: sessions on every plugin, normal/malformed/huge offers, trickles, garbage
 * UDP at the advertised media ports, every session destroyed), then after a forced GC and idle time.
 *
 *   node dist/bench/memory-after-abuse.js [--seconds 90] [--seed 1] [--workers 4] [--idle 60]
 *     [--plugins echotest,videoroom,textroom,audiobridge] [--audiobridge-main] [--env MALLOC_ARENA_MAX=2] [--node-args=--max-semi-space-size=4]
 *
 * The start figure is read after a warm-up round and the same idle time as the end (V8 gives freed
 * pages back only once the process has been idle a while: see docs/operations.md, "Memory").
 * `decay` is RSS every 5 s of the idle time after the load (a GC through heap_usage before each).
 * Prints one JSON line: start, peak, after (load gone + GC + idle) for RSS,
 * the heap (used/total/external) from the Admin API's heap_usage, fds and sessions.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { makeMediaConfigsFolder, pluginJcfg } from '../test/helpers/media-server.js';
import { startPortunusOnFolder } from '../test/helpers/portunus.js';
import { heapUsage, processMemory, runAbuse, sessionCount } from '../test/helpers/abuse.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '90' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string', default: '4' },
    idle: { type: 'string', default: '60' },
    'audiobridge-main': { type: 'boolean', default: false },
    plugins: { type: 'string', default: 'echotest,videoroom,textroom,audiobridge' },
    env: { type: 'string', multiple: true, default: [] },
    'node-args': { type: 'string', multiple: true, default: [] },
  },
});
const env: Record<string, string> = {};
for (const kv of values.env) env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);

/**
 * Where the resident memory is, in MB: the program's files, the main malloc arena ([heap]), and
 * anonymous mappings by size (64 MB-aligned malloc arenas of other threads and V8/WebAssembly
 * reservations are large; V8 pages are 256 kB).
 */
function mapSummary(pid: number): Record<string, number> {
  const out: Record<string, number> = { file: 0, heap: 0, anonSmall: 0, anonLarge: 0, anonCount: 0 };
  let name = '';
  let sizeKb = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) name = head[1] ?? '';
    else if (line.startsWith('Size:')) sizeKb = Number(line.split(/\s+/)[1]);
    else if (line.startsWith('Rss:')) {
      const rss = Number(line.split(/\s+/)[1]) / 1024;
      if (name === '[heap]') out.heap! += rss;
      else if (name === '' || name.startsWith('[anon')) {
        out.anonCount!++;
        if (sizeKb >= 4096) out.anonLarge! += rss;
        else out.anonSmall! += rss;
      } else out.file! += rss;
    }
  }
  for (const k of Object.keys(out)) out[k] = Math.round(out[k]! * 10) / 10;
  return out;
}

// --audiobridge-main: AudioBridge on the main thread (media_worker = false) instead of its worker.
const overrides = values['audiobridge-main'] ? { audiobridge: pluginJcfg('audiobridge').replace('general: {', 'general: {\n  media_worker = false') } : {};
const conf = await makeMediaConfigsFolder('mem-abuse', ['echotest', 'videoroom', 'textroom', 'audiobridge'], overrides);
const srv = await startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret, { nodeArgs: ['--expose-gc', ...values['node-args']], env });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  const seed = Number(values.seed);
  await runAbuse(srv, { durationMs: 3000, seed: seed + 1000, workers: 2 });
  for (let t = 0; t < Number(values.idle); t += 5) {
    await heapUsage(srv);
    await sleep(5000);
  }
  const startHeap = await heapUsage(srv);
  const start = processMemory(srv.pid);
  const startMaps = mapSummary(srv.pid);
  let peakKb = start.rssKb;
  const stats = await runAbuse(srv, { durationMs: Number(values.seconds) * 1000, seed, workers: Number(values.workers), plugins: values.plugins.split(','), onSample: (m) => (peakKb = Math.max(peakKb, m.rssKb)) });
  const sessions = await sessionCount(srv);
  const decay: number[] = [];
  for (let t = 0; t < Number(values.idle); t += 5) {
    await heapUsage(srv);
    decay.push(Math.round(processMemory(srv.pid).rssKb / 102.4) / 10);
    await sleep(5000);
  }
  const afterHeap = await heapUsage(srv);
  const after = processMemory(srv.pid);
  const mb = (kb: number) => Math.round(kb / 102.4) / 10;
  const hmb = (b: number) => Math.round(b / 104857.6) / 10;
  console.log(JSON.stringify({
    env, nodeArgs: values['node-args'], stats,
    rssMb: { start: mb(start.rssKb), peak: mb(peakKb), after: mb(after.rssKb), ratio: Math.round((after.rssKb / start.rssKb) * 100) / 100, decay },
    heapMb: { start: { used: hmb(startHeap.heap_used), total: hmb(startHeap.heap_total), external: hmb(startHeap.external) }, after: { used: hmb(afterHeap.heap_used), total: hmb(afterHeap.heap_total), external: hmb(afterHeap.external) } },
    fds: { start: start.fds, after: after.fds }, sessionsAfter: sessions, mappings: { start: startMaps, after: mapSummary(srv.pid) },
  }));
} finally {
  await srv.stop();
  conf.remove();
}
