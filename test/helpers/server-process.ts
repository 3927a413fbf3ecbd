/**
 * Process management shared by janus-ref.ts and portunus.ts: spawn, capture the log,
 * wait until the HTTP API answers (and WS/admin accept), stop (SIGTERM, then SIGKILL),
 * and kill leftovers if the test process exits abruptly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { WsClient, post, get, type JsonObject } from './janus-client.js';
import { makeConfigsFolder, type ConfigsFolder, type ServerOptions } from './server-conf.js';

export interface RunningServer {
  kind: 'janus' | 'portunus';
  pid: number;
  /** e.g. http://127.0.0.1:PORT/janus */
  httpUrl: string;
  /** e.g. http://127.0.0.1:PORT/admin */
  adminUrl: string;
  /** e.g. ws://127.0.0.1:PORT */
  wsUrl: string;
  /** Admin WS url (only listening if the config enabled it). */
  adminWsUrl: string;
  adminSecret: string;
  configsDir: string;
  /** The `server-name` the config asked for. */
  serverName: string;
  /** Captured stdout+stderr (tail). */
  log(): string;
  /** True while the process runs. */
  alive(): boolean;
  /** Stop the process (idempotent). */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

const LOG_LIMIT = 256 * 1024;

export interface SpawnSpec {
  kind: 'janus' | 'portunus';
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  ports: { http: number; admin: number; ws: number; adminWs: number };
  adminSecret: string;
  configsDir: string;
  serverName: string;
  /** Require `server-name` in /janus/info to equal serverName (proves the port is ours; no check if false). */
  requireServerName: boolean;
  /** Log patterns that mean startup failed (e.g. a port could not be bound). */
  failurePatterns: RegExp[];
  readyTimeoutMs: number;
  /** Also probe the admin HTTP API and WS transport before declaring readiness. */
  probeAdmin?: boolean;
  probeWs?: boolean;
}

export class StartupError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function spawnServer(spec: SpawnSpec): Promise<RunningServer> {
  installExitHook();
  const child = spawn(spec.command, spec.args, {
    env: spec.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let logText = '';
  const onData = (b: Buffer) => {
    logText += b.toString();
    if (logText.length > LOG_LIMIT) logText = logText.slice(logText.length - LOG_LIMIT);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      resolve();
    });
  });
  child.once('error', (err) => {
    logText += `\n[spawn error] ${err.message}\n`;
  });

  const host = '127.0.0.1';
  const server: RunningServer = {
    kind: spec.kind,
    pid: child.pid ?? -1,
    httpUrl: `http://${host}:${spec.ports.http}/janus`,
    adminUrl: `http://${host}:${spec.ports.admin}/admin`,
    wsUrl: `ws://${host}:${spec.ports.ws}`,
    adminWsUrl: `ws://${host}:${spec.ports.adminWs}`,
    adminSecret: spec.adminSecret,
    configsDir: spec.configsDir,
    serverName: spec.serverName,
    log: () => logText,
    alive: () => exited === null,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 4000);
      await exitPromise;
      clearTimeout(t);
    },
  };

  const fail = async (msg: string, retryable: boolean): Promise<never> => {
    await server.stop();
    throw new StartupError(`${spec.kind} (${spec.command} ${spec.args.join(' ')}) ${msg}\n--- log tail ---\n${logText.slice(-4000)}`, retryable);
  };

  const deadline = Date.now() + spec.readyTimeoutMs;
  let info: JsonObject | null = null;
  let lastErr = '';
  while (Date.now() < deadline) {
    if (exited) {
      const ex = exited as { code: number | null; signal: NodeJS.Signals | null };
      return fail(`exited during startup (code ${ex.code}, signal ${ex.signal})`, spec.failurePatterns.some((p) => p.test(logText)));
    }
    const bad = spec.failurePatterns.find((p) => p.test(logText));
    if (bad) return fail(`failed to start: log matches ${bad}`, true);
    try {
      const r = await get(`${server.httpUrl}/info`, 1000);
      if (r.status === 200 && r.json && typeof r.json === 'object' && !Array.isArray(r.json)) {
        info = r.json;
        break;
      }
      lastErr = `HTTP ${r.status} ${r.text.slice(0, 200)}`;
    } catch (e) {
      lastErr = (e as Error).message;
    }
    await sleep(50);
  }
  if (!info) return fail(`did not answer GET /janus/info within ${spec.readyTimeoutMs} ms (last: ${lastErr})`, false);
  const name = info['server-name'];
  if (spec.requireServerName) {
    if (name !== spec.serverName) {
      return fail(`GET /janus/info answered server-name ${JSON.stringify(name)}, expected ${JSON.stringify(spec.serverName)} (port ${spec.ports.http} belongs to another process?)`, true);
    }
  }
  if (spec.probeAdmin !== false) {
    let ok = false;
    while (Date.now() < deadline && !ok) {
      try {
        const r = await post(server.adminUrl, { janus: 'ping', transaction: 'ready-probe' }, 1000);
        ok = r.status === 200 && (r.json as JsonObject | undefined)?.janus === 'pong';
        if (!ok) lastErr = `admin ping: HTTP ${r.status} ${r.text.slice(0, 200)}`;
      } catch (e) {
        lastErr = `admin ping: ${(e as Error).message}`;
      }
      if (!ok) await sleep(50);
    }
    if (!ok) return fail(`admin API not ready (${lastErr})`, false);
  }
  if (spec.probeWs !== false) {
    let ok = false;
    while (Date.now() < deadline && !ok) {
      try {
        const c = await WsClient.connect(server.wsUrl, 'janus-protocol', 1000);
        const pong = await c.request({ janus: 'ping' }, 1000);
        await c.close();
        ok = pong.janus === 'pong';
        if (!ok) lastErr = `ws ping answered ${JSON.stringify(pong)}`;
      } catch (e) {
        lastErr = `ws: ${(e as Error).message}`;
      }
      if (!ok) await sleep(50);
    }
    if (!ok) return fail(`WebSocket transport not ready (${lastErr})`, false);
  }
  const bad = spec.failurePatterns.find((p) => p.test(logText));
  if (bad) return fail(`failed to start: log matches ${bad}`, true);
  if (exited) return fail('exited right after startup', false);
  return server;
}

/** Retry startup a few times on port collisions (other processes on this machine bind ports too). */
export async function withRetries<T>(attempts: number, fn: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      if (!(e instanceof StartupError) || !e.retryable) throw e;
    }
  }
  throw last;
}

/**
 * A server (Janus or Portunus) on a fresh generated configs folder, removed on stop() or at once when
 * the server does not start (its RTP port range released too), retried on port collisions.
 */
export async function startOnFreshFolder(prefix: string, opts: ServerOptions, start: (conf: ConfigsFolder) => Promise<RunningServer>): Promise<RunningServer> {
  return withRetries(4, async () => {
    const conf = await makeConfigsFolder(prefix, opts);
    try {
      const srv = await start(conf);
      const stop = srv.stop;
      srv.stop = async () => {
        await stop();
        conf.remove();
      };
      return srv;
    } catch (e) {
      conf.remove();
      throw e;
    }
  });
}
