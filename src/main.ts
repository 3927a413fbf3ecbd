#!/usr/bin/env node
/**
 * Entry point: flags, configuration, plugins, transports, the Prometheus endpoint, a startup summary,
 * and an orderly shutdown on SIGINT/SIGTERM. A configuration error prints `file:line[:col]: message`
 * and exits 1.
 *
 * Environment (for containers; flags and files stay the Janus way):
 *   PORTUNUS_ADMIN_IP   bind the Admin API (HTTP and WebSocket) and /metrics to this address instead of
 *                       what the conf/ files say (the image sets 0.0.0.0: a container's loopback cannot be
 *                       published; compose then publishes those ports on the host's 127.0.0.1 only)
 *   PORTUNUS_LOG_PRETTY 1: human-readable log lines, 0: JSON lines (default: pretty on a terminal)
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyCli, CliError, HELP, parseArgs } from './cli.js';
import { Jcfg } from './config/jcfg.js';
import { ConfigError, ConfigSyntaxError, loadGatewayConfig, type GatewayConfig } from './config/schema.js';
import { Gateway } from './core/gateway.js';
import { createEventBus } from './events/index.js';
import { EventType } from './events/types.js';
import { fault } from './core/fault.js';
import { log, setLogLevel, setSessionResolver } from './log.js';
import { WebRtcMediaPlane } from './media/plane.js';
import { RoutingMediaPlane } from './media/routing-plane.js';
import { PooledPlugin } from './workers/pooled-plugin.js';
import { WorkerPool } from './workers/pool.js';
import type { MediaRuntimeSettings } from './media/peer.js';
import type { Plugin } from './core/plugin.js';
import { cfgBool, cfgString } from './config/values.js';
// Cluster (ioredis) and the Prometheus registry (prom-client) are loaded only when configured: the two
// packages were a large share of the startup time.
import type { Cluster } from './cluster/cluster.js';
import { advertisedAddresses, inContainer, reachabilityWarning } from './metrics/startup.js';
import { isDisabled, loadPlugin, PLUGIN_CATALOG, type CatalogEntry } from './plugins/catalog.js';
import { bindAddress } from './transports/bind.js';
import { HttpTransport } from './transports/http.js';
import { MetricsServer } from './transports/metrics.js';
import { WebSocketTransport } from './transports/websocket.js';
import { VERSION_STRING } from './version.js';

/** Upper bound for a graceful shutdown; past it the process exits anyway (code 1). */
const SHUTDOWN_BOUND_MS = 5000;
/** Time the event handler backends get to take what is still queued at shutdown. */
const EVENTS_FLUSH_MS = 1500;
/** After the sessions' last events are handed to the transports, time for them to leave before the sockets close. */
const EVENT_DRAIN_MS = 100;

function defaultConfigsFolder(): string {
  // dist/src/main.js -> <package>/conf
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'conf');
}

async function main(argv: string[]): Promise<void> {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`portunus: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  if (opts.version) {
    process.stdout.write(`Portunus ${VERSION_STRING} (Janus API compatible)\n`);
    return;
  }

  const configsFolder = resolve(opts.configsFolder ?? defaultConfigsFolder());
  let cfg: GatewayConfig;
  try {
    cfg = await loadGatewayConfig({ configsFolder, ...(opts.configFile ? { configFile: resolve(opts.configFile) } : {}) });
  } catch (err) {
    if (err instanceof ConfigSyntaxError || err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  applyCli(cfg.janus, opts);
  setLogLevel(cfg.janus.general.debug_level);
  for (const w of cfg.warnings) log.warn(`${w.file}${w.line !== undefined ? `:${w.line}` : ''}: ${w.key}: ${w.message}`);

  // Portunus default: with no HTTP transport file at all, the Admin API and /metrics are served on loopback.
  if (cfg.http.file === null) {
    cfg.http.admin.admin_http = true;
    cfg.http.metrics.metrics = true;
  }
  const adminIp = process.env.PORTUNUS_ADMIN_IP?.trim();
  if (adminIp) {
    cfg.http.admin.admin_ip = adminIp;
    cfg.http.admin.admin_secure_ip = adminIp;
    cfg.ws.admin.admin_ws_ip = adminIp;
    cfg.ws.admin.admin_wss_ip = adminIp;
    cfg.http.metrics.metrics_ip = adminIp;
    const loopback = adminIp === '127.0.0.1' || adminIp === '::1' || adminIp === 'localhost';
    const msg = `PORTUNUS_ADMIN_IP=${adminIp}: the Admin API and /metrics bind ${adminIp} whatever conf/ says`;
    if (!loopback && cfg.janus.general.admin_secret === null) log.warn(`${msg}, and no admin_secret is set: anyone who reaches these ports controls the server`);
    else log.info(msg);
  }

  const disabledPlugins = cfg.janus.plugins.disable;
  // Only names here: a plugin's module is loaded by the thread that runs it (below, or its workers).
  const entries = PLUGIN_CATALOG.filter((e) => !isDisabled(e.info.package, disabledPlugins));
  // The WebRTC media plane: certificate, local candidates (STUN probe: a warning when unusable), port range.
  let gatewayRef: Gateway | null = null;
  const mediaSettings = (): MediaRuntimeSettings => {
    const s = gatewayRef?.settings;
    const m = cfg.janus.media;
    return s
      ? { noMediaTimer: s.noMediaTimer, slowlinkThreshold: s.slowlinkThreshold, minNackQueue: s.minNackQueue, nackOptimizations: s.nackOptimizations }
      : { noMediaTimer: m.no_media_timer, slowlinkThreshold: m.slowlink_threshold, minNackQueue: m.min_nack_queue, nackOptimizations: m.nack_optimizations };
  };
  let mediaPlane: WebRtcMediaPlane;
  try {
    // media.single_port: with media workers the pool binds the one port and main's plane shares it
    // (port-reader.ts); with single_port_per_worker workers take single_port .. single_port+N-1 and
    // main (plugins with media_worker = false) the next one.
    const sp = cfg.janus.media.single_port;
    mediaPlane = await WebRtcMediaPlane.create({ config: cfg.janus, settings: mediaSettings, singlePort: sp > 0 ? sp + cfg.janus.media.media_workers : 0 });
  } catch (err) {
    log.fatal('could not start the media plane', { err: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  // The media worker pool (`media_workers` in janus.jcfg `media`, default one per core; 0: none): every
  // worker-capable plugin runs in it unless its jcfg says `media_worker = false`. Their handles'
  // PeerConnections live in the workers; the routing plane sends them there.
  const routedPlane = new RoutingMediaPlane(mediaPlane);
  const poolSize = cfg.janus.media.media_workers;
  const pool = poolSize > 0 ? new WorkerPool({ size: poolSize, plane: mediaPlane, config: cfg.janus, settings: mediaSettings }) : null;
  const events = createEventBus(cfg.janus, cfg.eventHandlers, log);
  // The worker threads start now and load their modules while this thread loads its own plugins and
  // builds the gateway (they used to start in the first pooled plugin's init, after all of that). The
  // pooled plugins' init awaits the same start, and reports a failure. The events test is the one the
  // plugins' host makes.
  // (Cluster mode's need for VideoRoom's events comes through that plugin's init: cluster.ts wraps its
  // host to want them, and the pool sends events when any test it was given wants them.)
  pool?.start(() => events?.wants(EventType.PLUGIN) ?? false).catch(() => undefined);
  // Each entry's place in the list: the plugin itself (main thread), or its PooledPlugin.
  const placed: (Plugin | CatalogEntry)[] = [];
  for (const e of entries) {
    const p = e.info;
    const spec = e.worker;
    if (!spec || !pool) {
      placed.push(e);
      continue;
    }
    let wanted = spec.byDefault;
    let spread = true;
    try {
      const doc = await Jcfg.load(cfg.pluginConfigPath(p.package));
      wanted = cfgBool(doc.category('general')?.['media_worker'], spec.byDefault) ?? spec.byDefault;
      spread = cfgBool(doc.category('general')?.['spread_rooms'], true) ?? true;
    } catch {
      /* the plugin reports its own config errors at init */
    }
    if (!wanted) {
      placed.push(e);
      continue;
    }
    // VideoRoom, EchoTest and TextRoom use every worker (a TextRoom room's worker relays to members on
    // the others). AudioBridge spreads its rooms like VideoRoom (a `changeroom` to another worker's room
    // moves the participant, not its PeerConnection) unless its jcfg says `spread_rooms = false` (all
    // its rooms on worker 0). Streaming keeps its mountpoints (their UDP sockets) and viewers on one
    // worker, the second when there are several: viewers of one source share its thread.
    const streamingWorker = pool.workers[Math.min(1, pool.workers.length - 1)]!;
    const workers =
      p.package === 'janus.plugin.streaming'
        ? [streamingWorker]
        : p.package === 'janus.plugin.audiobridge' && !spread
          ? [pool.workers[0]!]
          : pool.workers;
    const wp = new PooledPlugin({ describe: p, module: e.module, exportName: e.exportName, pool, workers });
    routedPlane.route(p.package, wp.media);
    placed.push(wp);
  }
  // The main thread's own plugins, their modules loaded side by side.
  const plugins: Plugin[] = await Promise.all(placed.map((x) => ('info' in x ? loadPlugin(x) : x)));

  // Cluster mode (janus.jcfg `cluster`, Portunus only): VideoRoom rooms shared through Redis.
  let cluster: Cluster | null = null;
  let gatewayForLoad: Gateway | null = null;
  if (cfg.janus.cluster.enabled) {
    const { Cluster, CLUSTERED_PLUGINS } = await import('./cluster/cluster.js');
    const adminKeys: Record<string, string | null> = {};
    for (const pkg of CLUSTERED_PLUGINS) {
      try {
        const doc = await Jcfg.load(cfg.pluginConfigPath(pkg));
        adminKeys[pkg] = cfgString(doc.category('general')?.['admin_key']) ?? null;
      } catch {
        adminKeys[pkg] = null;
      }
    }
    const clustered = plugins.filter((p) => CLUSTERED_PLUGINS.includes(p.package));
    cluster = new Cluster({
      config: cfg.janus.cluster,
      log,
      version: VERSION_STRING,
      publicIp: cfg.janus.cluster.public_ip ?? cfg.janus.nat.nat_1_1_mapping[0] ?? mediaPlane.candidates.addresses[0]?.address ?? null,
      adminKeys,
      load: () => {
        const workers = pool?.status() ?? [];
        const metrics = routedPlane.metrics?.();
        const peers = workers.length > 0 ? workers.reduce((n, w) => n + w.load.peers, 0) : Object.values(metrics?.peerConnections ?? {}).reduce((a, b) => a + b, 0);
        return {
          peers,
          packets_per_sec: Math.round(workers.reduce((n, w) => n + w.load.packetsPerSec, 0)),
          rooms: clustered.reduce((n, p) => n + (p.metrics?.().rooms ?? 0), 0),
          sessions: gatewayForLoad?.sessions.size ?? 0,
        };
      },
    });
    for (const p of clustered) cluster.wrap(p);
  }
  const gateway = new Gateway({
    config: cfg.janus,
    plugins,
    mediaPlane: routedPlane,
    pluginConfig: (pkg) => Jcfg.load(cfg.pluginConfigPath(pkg)),
    events,
  });
  gatewayRef = gateway;
  gatewayForLoad = gateway;
  gateway.cluster = cluster;
  await gateway.start();
  // After the plugins are up (a resync builds rooms through them), before the transports open.
  await cluster?.start();
  setSessionResolver((handleId) => gateway.handles.get(handleId)?.session.id);

  const disabledTransports = cfg.janus.transports.disable.map((d) => d.trim());
  type Addr = { host: string; port: number } | null;
  const transports: Array<{ name: string; stop(): Promise<void>; addresses(): { api: Addr; admin: Addr; secure_api: Addr; secure_admin: Addr } }> = [];
  try {
    if (!disabledTransports.some((d) => d === 'libjanus_http.so' || d === 'janus.transport.http')) {
      const http = new HttpTransport({ gateway, config: cfg.http });
      await http.start();
      transports.push({ name: 'janus.transport.http', stop: () => http.stop(), addresses: () => http.addresses() });
    }
    if (!disabledTransports.some((d) => d === 'libjanus_websockets.so' || d === 'janus.transport.websockets')) {
      const ws = new WebSocketTransport({ gateway, config: cfg.ws });
      await ws.start();
      transports.push({ name: 'janus.transport.websockets', stop: () => ws.stop(), addresses: () => ws.addresses() });
    }
  } catch (err) {
    log.fatal('could not start a transport', { err: err instanceof Error ? err.message : String(err) });
    for (const t of transports) await t.stop();
    await gateway.stop();
    await events?.close(0);
    process.exit(1);
  }

  // Prometheus, on its own listener (never the public API port).
  let metricsServer: MetricsServer | null = null;
  const mc = cfg.http.metrics;
  if (mc.metrics) {
    if (mc.metrics_secret && cfg.janus.general.admin_secret === null) {
      log.warn('metrics_secret = true but general.admin_secret is not set: /metrics is served without a secret');
    }
    const range = cfg.janus.media.rtp_port_range;
    // The media sockets' ports, for their kernel receive drops: single_port .. +workers (main's is the last), else the range.
    const sp = cfg.janus.media.single_port;
    const mediaPorts = sp > 0 ? { min: sp, max: sp + cfg.janus.media.media_workers } : range ? { min: range.min, max: range.max } : null;
    const { createMetrics } = await import('./metrics/registry.js');
    const metrics = createMetrics({ gateway, media: routedPlane, rtpPortsTotal: range ? range.max - range.min + 1 : 0, mediaPorts, ...(pool ? { workers: () => pool.status() } : {}), ...(cluster ? { cluster: () => cluster.status() } : {}) });
    metricsServer = new MetricsServer({
      metrics,
      port: mc.metrics_port,
      host: bindAddress(mc.metrics_ip, mc.metrics_interface, '127.0.0.1') ?? '127.0.0.1',
      path: mc.metrics_base_path,
      secret: mc.metrics_secret ? cfg.janus.general.admin_secret : null,
    });
    try {
      await metricsServer.start();
    } catch (err) {
      log.fatal('could not start the metrics listener (janus.transport.http.jcfg [metrics])', { err: err instanceof Error ? err.message : String(err) });
      for (const t of transports) await t.stop();
      await gateway.stop();
      process.exit(1);
    }
  }

  // ---------------------------------------------------------------- startup summary
  const transportInfo = transports.map((t) => ({ name: t.name, ...t.addresses() }));
  log.info(`Portunus ${VERSION_STRING} started`, {
    pid: process.pid,
    node: process.versions.node,
    configs_folder: configsFolder,
    config: cfg.janus.file,
    debug_level: cfg.janus.general.debug_level,
    plugins: plugins.filter((p) => gateway.plugins.has(p.package)).map((p) => p.package),
    transports: transports.map((t) => t.name),
  });
  for (const t of transportInfo) {
    // The secure (HTTPS/WSS) listeners only when on; certificate paths are named, never key material or cert_pwd.
    const secure = t.name === 'janus.transport.http' ? { scheme: 'https', certs: cfg.http.certificates } : { scheme: 'wss', certs: cfg.ws.certificates };
    const on = t.secure_api !== null || t.secure_admin !== null;
    log.info(`transport ${t.name}`, {
      api: t.api,
      admin: t.admin,
      ...(t.secure_api ? { [secure.scheme]: t.secure_api } : {}),
      ...(t.secure_admin ? { [`admin_${secure.scheme}`]: t.secure_admin } : {}),
      ...(on ? { cert_pem: secure.certs.cert_pem } : {}),
    });
  }
  if (metricsServer) log.info('metrics', { url: metricsServer.url(), secret: mc.metrics_secret && cfg.janus.general.admin_secret !== null });
  if (transports.length === 0) log.warn('no transport enabled: nobody can reach this server');
  if (events) log.info('event handlers', { handlers: events.handlers.map((h) => h.package), stats_period: events.statsPeriod });
  gateway.notifyStarted();
  const range = cfg.janus.media.rtp_port_range;
  const advertised = advertisedAddresses(mediaPlane.candidates, cfg.janus);
  log.info('media', {
    rtp_port_range: range ? `${range.min}-${range.max}` : 'any',
    local_addresses: [...mediaPlane.candidates.addresses, ...mediaPlane.candidates.addresses6].map((a) => a.address),
    advertised,
    nat_1_1_mapping: cfg.janus.nat.nat_1_1_mapping,
    stun: cfg.janus.nat.stun_server
      ? `${cfg.janus.nat.stun_server}:${cfg.janus.nat.stun_port} ${mediaPlane.candidates.stunUsable ? `-> ${mediaPlane.candidates.publicIp}` : 'unreachable'}${mediaPlane.candidates.addresses6.length > 0 ? ` (IPv6 ${mediaPlane.candidates.stunUsable6 ? `-> ${mediaPlane.candidates.publicIp6}` : 'unreachable'})` : ''}`
      : 'off',
    ice_lite: cfg.janus.nat.ice_lite,
  });
  const unreachable = reachabilityWarning(advertised, cfg.janus, inContainer());
  if (unreachable) log.warn(unreachable);

  installLastLine();

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn(`${signal} received again, exiting now`);
      process.exit(1);
    }
    stopping = true;
    const started = Date.now();
    log.info(`${signal} received, shutting down`, { sessions: gateway.sessions.size, handles: gateway.handles.size, bound_ms: SHUTDOWN_BOUND_MS });
    const bound = setTimeout(() => {
      log.error(`shutdown took longer than ${SHUTDOWN_BOUND_MS} ms, exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_BOUND_MS);
    bound.unref();
    // Sessions first, while the transports can still deliver the events: new sessions are refused,
    // PeerConnections hung up (`hangup`), handles detached (`detached`), sessions ended (`timeout`),
    // plugins destroyed (they flush what they write), the media plane closed; then the sockets.
    void (async () => {
      try {
        // Out of the registry first: the other nodes see this one leave now, not at its record's expiry.
        await cluster?.stop();
        await gateway.stop({ sessionEvent: 'timeout', signum: signal === 'SIGINT' ? 2 : 15 });
        // The handlers get the sessions' last events and the shutdown event before the process goes.
        await events?.close(EVENTS_FLUSH_MS);
        await new Promise((r) => setTimeout(r, EVENT_DRAIN_MS));
        for (const t of transports) await t.stop();
        await metricsServer?.stop();
        log.info('bye', { ms: Date.now() - started });
        process.exit(0);
      } catch (err) {
        log.error('shutdown failed', { err: String(err) });
        process.exit(1);
      }
    })();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/**
 * The last line behind the fault boundaries (src/core/fault.ts): Janus keeps serving everyone else when
 * one session hits a bug, so this process does too. Logged loudly and counted as boundary `process` in
 * portunus_faults_total; a count there means a boundary is missing (the tests check it stays 0).
 */
function installLastLine(): void {
  process.on('uncaughtException', (err, origin) => fault(log, 'process', err, { where: origin }));
  process.on('unhandledRejection', (reason) => fault(log, 'process', reason, { where: 'unhandledRejection' }));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  log.fatal('startup failed', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
