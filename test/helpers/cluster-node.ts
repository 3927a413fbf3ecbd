/**
 * One Portunus node of a test cluster (janus.jcfg `cluster` section, /metrics on), started as a real
 * process on a generated configs folder with OS-chosen ports, with a VideoRoom handle open over HTTP.
 * Shared by test/cluster/ and bench/cluster-rooms.ts.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PluginHttp } from './plugin-http.js';
import { startPortunusOnFolder, type RunningServer } from './portunus.js';
import { freePort, makeConfigsFolder, type ConfigsFolder } from './server-conf.js';

export const VIDEOROOM = 'janus.plugin.videoroom';

export interface ClusterNodeOptions {
  /** null: the cluster section is left out (a single node, for comparisons). */
  redisUrl: string | null;
  prefix?: string;
  heartbeatMs?: number;
  ttlMs?: number;
  mediaWorkers?: number;
  /** VideoRoom general.events (default: not written, i.e. true); false: the plugin's events switched off. */
  videoroomEvents?: boolean;
}

export interface ClusterNode {
  name: string;
  conf: ConfigsFolder;
  srv: RunningServer;
  metricsUrl: string;
  api: PluginHttp;
  handle: number;
  /** Stop the process and remove its folder. */
  stop(): Promise<void>;
}

/**
 * Starts one node; a node that does not come up is tried once more on fresh ports (another process on
 * the machine may take a port between freePort() and the server's bind).
 */
export async function startClusterNode(name: string, o: ClusterNodeOptions): Promise<ClusterNode> {
  try {
    return await startClusterNodeOnce(name, o);
  } catch (err) {
    console.log(`# cluster node ${name} did not start, trying once more on fresh ports: ${(err as Error)?.message ?? String(err)}`.split('\n')[0]);
    return startClusterNodeOnce(name, o);
  }
}

/**
 * Starts several nodes side by side. If one fails, the others are stopped before the error is thrown:
 * a running node a test file never got to keep would hold the file's process (and the test run) open.
 */
export async function startClusterNodes(specs: Array<[name: string, o: ClusterNodeOptions]>): Promise<ClusterNode[]> {
  const settled = await Promise.allSettled(specs.map(([name, o]) => startClusterNode(name, o)));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed === undefined) return settled.map((r) => (r as PromiseFulfilledResult<ClusterNode>).value);
  for (const r of settled) if (r.status === 'fulfilled') await r.value.stop().catch(() => undefined);
  throw failed.reason;
}

async function startClusterNodeOnce(name: string, o: ClusterNodeOptions): Promise<ClusterNode> {
  const conf = await makeConfigsFolder(`cl-${name}`, { mediaWorkers: o.mediaWorkers ?? 1 });
  const metricsPort = await freePort();
  if (o.videoroomEvents !== undefined) {
    const vr = join(conf.dir, 'janus.plugin.videoroom.jcfg');
    writeFileSync(vr, readFileSync(vr, 'utf8').replace('general: {', `general: {\n  events = ${o.videoroomEvents ? 'true' : 'false'}`));
  }
  if (o.redisUrl !== null) {
    appendFileSync(
      join(conf.dir, 'janus.jcfg'),
      [
        '',
        'cluster: {',
        '  enabled = true',
        `  redis = "${o.redisUrl}"`,
        `  node_name = "${name}"`,
        `  prefix = "${o.prefix ?? 'ptest'}"`,
        '  public_ip = "127.0.0.1"',
        `  api_url = "http://127.0.0.1:${conf.ports.http}/janus"`,
        `  heartbeat_ms = ${o.heartbeatMs ?? 400}`,
        `  node_ttl_ms = ${o.ttlMs ?? 1500}`,
        '}',
        '',
      ].join('\n'),
    );
  }
  appendFileSync(join(conf.dir, 'janus.transport.http.jcfg'), ['', 'metrics: {', '  metrics = true', `  metrics_port = ${metricsPort}`, '  metrics_ip = "127.0.0.1"', '}', ''].join('\n'));
  let srv: RunningServer;
  try {
    // BENCH_SERVER_NODE_ARGS: extra node flags for the node processes (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), as in bench/gateway-under-test.ts.
    const nodeArgs = process.env['BENCH_SERVER_NODE_ARGS'] ? process.env['BENCH_SERVER_NODE_ARGS'].split(' ') : [];
    srv = await startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret, { readyTimeoutMs: 120_000, nodeArgs });
  } catch (err) {
    conf.remove();
    throw err;
  }
  const api = await PluginHttp.open(srv.httpUrl, VIDEOROOM);
  const handle = await api.attach();
  return {
    name,
    conf,
    srv,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    api,
    handle,
    stop: async () => {
      await api.close().catch(() => undefined);
      await srv.stop();
      conf.remove();
    },
  };
}
