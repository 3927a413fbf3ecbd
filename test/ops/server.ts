/**
 * The built server as a child process for the operations tests: a temporary configs folder on free
 * ports (media on 127.0.0.1, no STUN), stdout read as JSON log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/server-conf.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export type LogLine = Record<string, unknown> & { level: number; msg: string };

export interface OpsServer {
  child: ChildProcess;
  ports: { http: number; admin: number; ws: number; metrics: number };
  api: string;
  /** Every stdout line parsed as JSON (a line that is not JSON fails the test that reads it). */
  lines(): LogLine[];
  stdout(): string;
  stderr(): string;
  waitLine(pred: (l: LogLine) => boolean, ms?: number): Promise<LogLine>;
  ready(ms?: number): Promise<void>;
  /** Resolves with the exit code and how long after `kill()` the process took. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  kill(signal?: NodeJS.Signals): void;
  stop(): Promise<void>;
}

let rtpBase = 46000 + (process.pid % 20) * 50;

/** `media`: extra lines in janus.jcfg's media section; `enforce`: nat.ice_enforce_list (default "127.0.0.1"). */
export async function startServer(args: string[], opts: { extraJanus?: string; media?: string; enforce?: string; env?: Record<string, string> } = {}): Promise<OpsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'portunus-ops-'));
  const ports = { http: await freePort(), admin: await freePort(), ws: await freePort(), metrics: await freePort() };
  const rtp = rtpBase;
  rtpBase += 10;
  writeFileSync(
    join(dir, 'janus.jcfg'),
    [
      'general: {',
      '  admin_secret = "adm"',
      '  session_timeout = 60',
      opts.extraJanus ?? '',
      '}',
      'media: {',
      `  rtp_port_range = "${rtp}-${rtp + 9}"`,
      opts.media ?? '',
      '}',
      'nat: {',
      `  ice_enforce_list = "${opts.enforce ?? '127.0.0.1'}"`,
      '}',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'janus.transport.http.jcfg'),
    `general: {\n  port = ${ports.http}\n  ip = "127.0.0.1"\n}\nadmin: {\n  admin_http = true\n  admin_port = ${ports.admin}\n}\nmetrics: {\n  metrics = true\n  metrics_port = ${ports.metrics}\n}\n`,
  );
  writeFileSync(join(dir, 'janus.transport.websockets.jcfg'), `general: {\n  ws_port = ${ports.ws}\n  ws_ip = "127.0.0.1"\n}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, PORTUNUS_LOG_PRETTY: '0' };
  delete env.PORTUNUS_ADMIN_IP;
  Object.assign(env, opts.env ?? {});
  const child = spawn(process.execPath, [MAIN, '-F', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let killedAt = Date.now();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.on('exit', (code, signal) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, ms: Date.now() - killedAt });
    }),
  );
  const lines = (): LogLine[] =>
    out
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        try {
          return JSON.parse(l) as LogLine;
        } catch {
          throw new Error(`stdout line is not JSON: ${l}`);
        }
      });
  const api = `http://127.0.0.1:${ports.http}/janus`;
  const s: OpsServer = {
    child,
    ports,
    api,
    lines,
    stdout: () => out,
    stderr: () => err,
    async waitLine(pred, ms = 10_000) {
      const end = Date.now() + ms;
      for (;;) {
        const l = lines().find(pred);
        if (l) return l;
        if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${out}\n${err}`);
        if (Date.now() > end) throw new Error(`timed out waiting for a log line; stdout:\n${out}\nstderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async ready(ms = 15_000) {
      const end = Date.now() + ms;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${out}\n${err}`);
        try {
          const r = await fetch(`${api}/info`);
          if (r.ok) {
            // /metrics is started after the transports: ready means everything is up.
            const m = await fetch(`http://127.0.0.1:${ports.metrics}/metrics`).catch(() => null);
            if (m?.ok) return;
          }
        } catch {
          /* not yet */
        }
        if (Date.now() > end) throw new Error(`server not ready after ${ms} ms:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exit,
    kill(signal = 'SIGTERM') {
      killedAt = Date.now();
      child.kill(signal);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        s.kill('SIGKILL');
        await exit;
      }
    },
  };
  return s;
}

export async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  return (await r.json()) as Record<string, unknown>;
}
