/**
 * Starts Portunus (`node <dist>/src/main.js -F <configs folder>`) with the same generated
 * configs folder content as the reference Janus (janus-ref.ts).
 * main.js is resolved relative to this compiled file, so it works from dist/ and dist-e2e/.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServerOptions, Ports } from './server-conf.js';
import { spawnServer, startOnFreshFolder, type RunningServer } from './server-process.js';

export type { RunningServer } from './server-process.js';

/** <outDir>/src/main.js, this file being <outDir>/test/helpers/portunus.js. PORTUNUS_MAIN overrides. */
export function portunusMain(): string {
  return process.env.PORTUNUS_MAIN ?? fileURLToPath(new URL('../../src/main.js', import.meta.url));
}

export interface PortunusStartOptions {
  /** Extra node flags, e.g. ['--expose-gc']. */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** Require `server-name` in info to match the config's server_name (default false: not checked). */
  requireServerName?: boolean;
  probeAdmin?: boolean;
  readyTimeoutMs?: number;
}

function checkBuilt(): string {
  const main = portunusMain();
  if (!existsSync(main)) {
    throw new Error(`Portunus is not built: ${main} does not exist (build with: npx tsc -p tsconfig.json --outDir dist-e2e --tsBuildInfoFile dist-e2e/.tsbuildinfo)`);
  }
  return main;
}

/**
 * The node flags Portunus is started with in production (package.json `start`, the Dockerfile): tests
 * and benchmarks run the server the same way. docs/operations.md ("Memory") says why.
 */
export const SERVER_NODE_ARGS = ['--max-semi-space-size=4'];

/** Start Portunus on an existing configs folder. */
export async function startPortunusOnFolder(dir: string, ports: Ports, serverName: string, adminSecret: string, opts: PortunusStartOptions = {}): Promise<RunningServer> {
  const main = checkBuilt();
  return spawnServer({
    kind: 'portunus',
    command: process.execPath,
    // PORTUNUS_EXTRA_NODE_ARGS (space-separated): e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a bench's server.
    args: [...SERVER_NODE_ARGS, ...(process.env['PORTUNUS_EXTRA_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''), ...(opts.nodeArgs ?? []), main, '-F', dir],
    env: { ...process.env, ...(opts.env ?? {}) },
    ports,
    adminSecret,
    configsDir: dir,
    serverName,
    requireServerName: opts.requireServerName ?? false,
    failurePatterns: [/EADDRINUSE/],
    readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
    probeAdmin: opts.probeAdmin ?? true,
    probeWs: true,
  });
}

/** Start Portunus with a generated configs folder (removed on stop()). */
export async function startPortunus(opts: ServerOptions = {}, start: PortunusStartOptions = {}): Promise<RunningServer> {
  checkBuilt();
  return startOnFreshFolder('portunus', opts, (conf) => startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret, start));
}
