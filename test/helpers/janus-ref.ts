/**
 * Starts the REAL Janus (Debian's janus 1.1.2) as the reference implementation for differential tests.
 * A temp configs folder is generated per instance (see server-conf.ts) with free ports;
 * startup is retried with new ports if another process grabbed one in the meantime.
 */
import { ensureSystemPackage } from './system.js';
import type { ServerOptions, Ports } from './server-conf.js';
import { spawnServer, startOnFreshFolder, type RunningServer } from './server-process.js';

export type { RunningServer } from './server-process.js';

export const JANUS_BINARY = '/usr/bin/janus';

/** Log lines that mean a transport could not bind its port (or the server gave up). */
export const JANUS_FAILURE_PATTERNS = [
  /Couldn't start (admin\/monitor )?webserver/,
  /Error creating vhost/,
  /could not be initialized/,
  /No Janus API transport is available/,
];

function janusBinary(): string {
  return ensureSystemPackage('janus', JANUS_BINARY);
}

/** Start Janus on an existing configs folder (ports must match the folder's transport files). */
export async function startJanusOnFolder(dir: string, ports: Ports, serverName: string, adminSecret: string, opts: { requireServerName?: boolean; probeAdmin?: boolean } = {}): Promise<RunningServer> {
  return spawnServer({
    kind: 'janus',
    command: janusBinary(),
    // -F configs folder, -o no colours in the captured log.
    args: ['-F', dir, '-o'],
    ports,
    adminSecret,
    configsDir: dir,
    serverName,
    requireServerName: opts.requireServerName ?? true,
    failurePatterns: JANUS_FAILURE_PATTERNS,
    readyTimeoutMs: 20_000,
    probeAdmin: opts.probeAdmin ?? true,
    probeWs: true,
  });
}

/** Start a fresh Janus with a generated configs folder. The folder is removed on stop(). */
export async function startJanus(opts: ServerOptions = {}): Promise<RunningServer> {
  return startOnFreshFolder('janus-ref', opts, (conf) => startJanusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret));
}
