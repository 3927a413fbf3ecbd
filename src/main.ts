#!/usr/bin/env node
/**
 * Entry point: flags, configuration, plugins, transports, and an orderly shutdown on
 * SIGINT/SIGTERM. A configuration error prints `file:line[:col]: message` and exits 1.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyCli, CliError, HELP, parseArgs } from './cli.js';
import { Jcfg } from './config/jcfg.js';
import { ConfigError, ConfigSyntaxError, loadGatewayConfig, type GatewayConfig } from './config/schema.js';
import { Gateway } from './core/gateway.js';
import { log, setLogLevel } from './log.js';
import { WebRtcMediaPlane } from './media/plane.js';
import { builtinPlugins, isDisabled } from './plugins/index.js';
import { HttpTransport } from './transports/http.js';
import { WebSocketTransport } from './transports/websocket.js';
import { VERSION_STRING } from './version.js';

/** Upper bound for a graceful shutdown; past it the process exits anyway (code 1). */
const SHUTDOWN_BOUND_MS = 5000;

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

  // Portunus default: with no HTTP transport file at all, the Admin API is served on loopback.
  if (cfg.http.file === null) cfg.http.admin.admin_http = true;

  const disabledPlugins = cfg.janus.plugins.disable;
  const plugins = builtinPlugins().filter((p) => !isDisabled(p.package, disabledPlugins));
  // The WebRTC media plane: certificate, local candidates (STUN probe: a warning when unusable), port range.
  let gatewayRef: Gateway | null = null;
  let mediaPlane: WebRtcMediaPlane;
  try {
    mediaPlane = await WebRtcMediaPlane.create({
      config: cfg.janus,
      settings: () => {
        const s = gatewayRef?.settings;
        const m = cfg.janus.media;
        return s
          ? { noMediaTimer: s.noMediaTimer, slowlinkThreshold: s.slowlinkThreshold, minNackQueue: s.minNackQueue, nackOptimizations: s.nackOptimizations }
          : { noMediaTimer: m.no_media_timer, slowlinkThreshold: m.slowlink_threshold, minNackQueue: m.min_nack_queue, nackOptimizations: m.nack_optimizations };
      },
    });
  } catch (err) {
    log.fatal('could not start the media plane', { err: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  const gateway = new Gateway({
    config: cfg.janus,
    plugins,
    mediaPlane,
    pluginConfig: (pkg) => Jcfg.load(cfg.pluginConfigPath(pkg)),
  });
  gatewayRef = gateway;
  await gateway.start();

  const disabledTransports = cfg.janus.transports.disable.map((d) => d.trim());
  const transports: Array<{ name: string; stop(): Promise<void>; addresses(): { api: unknown; admin: unknown } }> = [];
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
    process.exit(1);
  }

  log.info(`Portunus ${VERSION_STRING} started`, {
    configs_folder: configsFolder,
    config: cfg.janus.file,
    plugins: plugins.filter((p) => gateway.plugins.has(p.package)).map((p) => p.package),
  });
  for (const t of transports) {
    const a = t.addresses();
    log.info(`transport ${t.name}`, { api: a.api, admin: a.admin });
  }
  if (transports.length === 0) log.warn('no transport enabled: nobody can reach this server');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received, shutting down`);
    const bound = setTimeout(() => {
      log.error(`shutdown took longer than ${SHUTDOWN_BOUND_MS} ms, exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_BOUND_MS);
    bound.unref();
    // Sessions first, while the transports can still deliver the `detached` events.
    void (async () => {
      try {
        await gateway.stop();
        for (const t of transports) await t.stop();
        log.info('bye');
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

main(process.argv.slice(2)).catch((err: unknown) => {
  log.fatal('startup failed', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
