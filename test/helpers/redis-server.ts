/**
 * A real Redis (Debian's redis-server) for cluster tests: a free port, a temporary folder, no
 * persistence (so a restart is an empty Redis, the way a cache-only deployment loses its data), stopped
 * after. `restart()` brings it back on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './server-conf.js';
import { ensureSystemPackage } from './system.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisServer {
  port: number;
  url: string;
  /** Stop it (SIGTERM; SIGKILL after 3 s). Idempotent. */
  stop(): Promise<void>;
  /** Stop it and remove its folder (the end of a test file). */
  dispose(): Promise<void>;
  /** Start it again on the same port, empty. */
  restart(): Promise<void>;
  log(): string;
}

export async function startRedis(): Promise<RedisServer> {
  ensureSystemPackage('redis-server', REDIS_SERVER);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'portunus-redis-'));
  let child: ChildProcess | null = null;
  let logText = '';
  const launch = async (): Promise<void> => {
    const c = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`redis-server did not start on ${port}:\n${logText.slice(-2000)}`)), 10_000);
      const onData = (b: Buffer) => {
        logText += b.toString();
        if (logText.length > 64 * 1024) logText = logText.slice(-64 * 1024);
        if (/Ready to accept connections/.test(logText)) {
          clearTimeout(t);
          resolve();
        }
      };
      c.stdout!.on('data', onData);
      c.stderr!.on('data', onData);
      c.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`redis-server exited (${code}):\n${logText.slice(-2000)}`));
      });
    });
    await ready;
    logText = '';
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
  };
  process.on('exit', () => {
    try {
      (child as ChildProcess | null)?.kill('SIGKILL');
    } catch {
      /* gone */
    }
  });
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stop();
      await launch();
    },
    log: () => logText,
  };
}

