/**
 * Startup time: from spawning the server process to its first answer on GET /janus/info, for
 * Portunus (node dist/src/main.js, the flags of `npm start`, without its tsc step) and for the real
 * Janus 1.1.2, on the same generated configs folder with all seven demo plugins (the one the browser
 * tests use). For Portunus also when each media worker said "media worker thread started" and when
 * the main thread logged "started" (from the log's own timestamps), and how many of our modules each
 * thread loaded is in bench/README.md ("Startup").
 *
 *   node dist/bench/startup.js [--rounds 5] [--only portunus|janus] [--workers N] [--node-args='--cpu-prof --cpu-prof-dir=/tmp/p']
 *
 * Rounds alternate Janus and Portunus; medians are printed with the load average. Not a test.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeMediaConfigsFolder, type DemoPlugin, type GatewayKind } from '../test/helpers/media-server.js';
import { portunusMain, SERVER_NODE_ARGS } from '../test/helpers/portunus.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    only: { type: 'string' },
    workers: { type: 'string' },
    'node-args': { type: 'string', default: '' },
  },
});
const ROUNDS = Number(values.rounds);
const KINDS: GatewayKind[] = values.only ? [values.only as GatewayKind] : ['janus', 'portunus'];
const PLUGINS: DemoPlugin[] = ['echotest', 'videoroom', 'textroom', 'audiobridge', 'videocall', 'recordplay', 'streaming'];

interface Sample {
  readyMs: number;
  /** Portunus: main thread's "started" line, and each worker's "thread started", ms after spawn. */
  startedMs?: number;
  workersMs?: number[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function once(kind: GatewayKind): Promise<Sample> {
  const conf = await makeMediaConfigsFolder(`startup-${kind}`, PLUGINS);
  try {
    if (kind === 'portunus' && values.workers !== undefined) {
      const f = join(conf.dir, 'janus.jcfg');
      writeFileSync(f, readFileSync(f, 'utf8').replace('media: {', `media: {\n  media_workers = ${values.workers}`));
    }
    const nodeArgs = values['node-args'].split(' ').filter(Boolean);
    const [cmd, args] = kind === 'janus' ? ['/usr/bin/janus', ['-F', conf.dir, '-o']] : [process.execPath, [...SERVER_NODE_ARGS, ...nodeArgs, portunusMain(), '-F', conf.dir]];
    const t0 = Date.now();
    const child = spawn(cmd, args as string[], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORTUNUS_LOG_PRETTY: '0' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let readyMs = -1;
    for (const deadline = t0 + 60_000; Date.now() < deadline; await sleep(10)) {
      const ok = await fetch(`http://127.0.0.1:${conf.ports.http}/janus/info`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false);
      if (ok) {
        readyMs = Date.now() - t0;
        break;
      }
    }
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(6000)]);
    child.kill('SIGKILL');
    if (readyMs < 0) throw new Error(`${kind} did not answer within 60 s:\n${out.slice(-3000)}`);
    const s: Sample = { readyMs };
    if (kind === 'portunus') {
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { time: number; msg: string; worker?: number });
      const started = lines.find((l) => /^Portunus .* started$/.test(l.msg));
      if (started) s.startedMs = started.time - t0;
      s.workersMs = lines.filter((l) => l.msg === 'media worker thread started').sort((a, b) => (a.worker ?? 0) - (b.worker ?? 0)).map((l) => l.time - t0);
    }
    return s;
  } finally {
    conf.remove();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const results = new Map<GatewayKind, Sample[]>(KINDS.map((k) => [k, []]));
for (let r = 1; r <= ROUNDS; r++) {
  for (const kind of KINDS) {
    const s = await once(kind);
    results.get(kind)!.push(s);
    console.log(`round ${r} ${kind}: ready ${s.readyMs} ms${s.startedMs !== undefined ? `, main "started" ${s.startedMs} ms, workers ${s.workersMs!.join(' / ')} ms` : ''} (load ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  }
}
for (const [kind, ss] of results) {
  const w = ss[0]?.workersMs?.length ?? 0;
  const workers = Array.from({ length: w }, (_, i) => median(ss.map((s) => s.workersMs![i]!)));
  console.log(`${kind}: median ready ${median(ss.map((s) => s.readyMs))} ms over ${ss.length} rounds${kind === 'portunus' ? `; workers thread started ${workers.join(' / ')} ms` : ''}`);
}
console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
