/**
 * Typed gateway configuration: janus.jcfg plus the HTTP and WebSocket transport files
 * from the configs folder, filled with Janus's defaults. Unusable values throw
 * ConfigError (the server must refuse to start); unknown or misplaced keys only warn.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { applyDocument, type OtherFile } from './apply.js';
import { defaultHttpConfig, defaultJanusConfig, defaultSampleEvhConfig, defaultWsConfig, defaultWsEvhConfig } from './defaults.js';
import { parseLibconfig, type LcDocument } from './libconfig.js';
import { HTTP_KEYS, JANUS_KEYS, SAMPLEEVH_KEYS, WS_KEYS, WSEVH_KEYS, type FileSpec } from './schema-keys.js';
import { httpTlsEnabledBy, loadTlsCredentials, wsTlsEnabledBy } from './tls.js';
import type { ConfigWarning, HttpTransportConfig, JanusConfig, SampleEvhConfig, WsEvhConfig, WsTransportConfig } from './types.js';

export { defaultJanusConfig, defaultHttpConfig, defaultWsConfig, defaultSampleEvhConfig, defaultWsEvhConfig, DEFAULT_CONFIGS_FOLDER } from './defaults.js';
export { ConfigError, ConfigSyntaxError } from './errors.js';
import { ConfigError } from './errors.js';

export interface GatewayConfig {
  janus: JanusConfig;
  http: HttpTransportConfig;
  ws: WsTransportConfig;
  /** The event handler backends' own files (read whatever events.broadcast says; main decides). */
  eventHandlers: { sampleevh: SampleEvhConfig; wsevh: WsEvhConfig };
  warnings: ConfigWarning[];
  /** `<configsFolder>/<pkg>.jcfg`, e.g. for `janus.plugin.videoroom`. */
  pluginConfigPath(pkg: string): string;
}

export const JANUS_FILE = 'janus.jcfg';
export const HTTP_FILE = 'janus.transport.http.jcfg';
export const WS_FILE = 'janus.transport.websockets.jcfg';
export const SAMPLEEVH_FILE = 'janus.eventhandler.sampleevh.jcfg';
export const WSEVH_FILE = 'janus.eventhandler.wsevh.jcfg';

const FILES: Array<{ name: string; spec: FileSpec }> = [
  { name: JANUS_FILE, spec: JANUS_KEYS },
  { name: HTTP_FILE, spec: HTTP_KEYS },
  { name: WS_FILE, spec: WS_KEYS },
];

export async function loadGatewayConfig(opts: { configsFolder: string; configFile?: string }): Promise<GatewayConfig> {
  const folder = opts.configsFolder;
  const warnings: ConfigWarning[] = [];

  const janus = defaultJanusConfig(folder);
  const janusPath = opts.configFile ?? join(folder, JANUS_FILE);
  const janusDoc = await readDoc(janusPath, warnings);
  if (janusDoc) {
    janus.file = janusPath;
    const lines = applyDocument(janusDoc, JANUS_KEYS, janus, warnings, othersThan(JANUS_FILE));
    checkCluster(janus, janusPath, lines);
    if (janus.general.configs_folder !== folder) {
      // The folder we were started with is where we actually read everything from.
      const line = janusDoc.settings.find((s) => s.name === 'general')?.line;
      warnings.push({
        file: janusPath,
        ...(line !== undefined ? { line } : {}),
        key: 'general.configs_folder',
        message: `configs_folder "${janus.general.configs_folder}" is ignored: configuration is read from "${folder}"`,
      });
      janus.general.configs_folder = folder;
    }
  }

  const http = defaultHttpConfig();
  const httpPath = join(folder, HTTP_FILE);
  const httpDoc = await readDoc(httpPath, warnings);
  if (httpDoc) {
    http.file = httpPath;
    http.keyLines = applyDocument(httpDoc, HTTP_KEYS, http, warnings, othersThan(HTTP_FILE));
  }

  const ws = defaultWsConfig();
  const wsPath = join(folder, WS_FILE);
  const wsDoc = await readDoc(wsPath, warnings);
  if (wsDoc) {
    ws.file = wsPath;
    ws.keyLines = applyDocument(wsDoc, WS_KEYS, ws, warnings, othersThan(WS_FILE));
  }

  const sampleevh = defaultSampleEvhConfig();
  const sampleDoc = await readDoc(join(folder, SAMPLEEVH_FILE), warnings);
  if (sampleDoc) {
    sampleevh.file = sampleDoc.file;
    sampleevh.keyLines = applyDocument(sampleDoc, SAMPLEEVH_KEYS, { general: sampleevh }, warnings);
  }
  const wsevh = defaultWsEvhConfig();
  const wsevhDoc = await readDoc(join(folder, WSEVH_FILE), warnings);
  if (wsevhDoc) {
    wsevh.file = wsevhDoc.file;
    wsevh.keyLines = applyDocument(wsevhDoc, WSEVH_KEYS, { general: wsevh }, warnings);
  }

  // HTTPS/WSS: the certificate must be usable now, so a wrong path or passphrase stops the start
  // with file:line of the key (Janus logs an error and runs without the secure listener).
  const disabled = janus.transports.disable.map((d) => d.trim());
  const tlsWarn = (file: string) => (key: string, line: number | undefined, message: string) =>
    warnings.push({ file, ...(line !== undefined ? { line } : {}), key, message });
  const httpTls = httpTlsEnabledBy(http);
  if (httpTls.length > 0 && !disabled.includes('libjanus_http.so') && !disabled.includes('janus.transport.http')) {
    loadTlsCredentials(http, { fileName: HTTP_FILE, enabledBy: httpTls, ciphers: 'gnutls', warn: tlsWarn(http.file ?? HTTP_FILE) });
  }
  const wsTls = wsTlsEnabledBy(ws);
  if (wsTls.length > 0 && !disabled.includes('libjanus_websockets.so') && !disabled.includes('janus.transport.websockets')) {
    loadTlsCredentials(ws, { fileName: WS_FILE, enabledBy: wsTls, ciphers: 'openssl', warn: tlsWarn(ws.file ?? WS_FILE) });
  }

  return { janus, http, ws, eventHandlers: { sampleevh, wsevh }, warnings, pluginConfigPath: (pkg) => join(folder, `${pkg}.jcfg`) };
}

/** The cluster section's keys that only make sense together (each alone was checked by its reader). */
function checkCluster(janus: JanusConfig, file: string, lines: Record<string, number>): void {
  const c = janus.cluster;
  // Not set (or 0): three heartbeats and a second, so one late heartbeat never drops a live node.
  if (lines['cluster.node_ttl_ms'] === undefined || c.node_ttl_ms === 0) c.node_ttl_ms = 3 * c.heartbeat_ms + 1000;
  if (c.enabled && c.redis === null) {
    throw new ConfigError(file, lines['cluster.enabled'], 'cluster.redis', 'cluster.enabled = true needs a Redis URL (e.g. redis = "redis://127.0.0.1:6379")');
  }
  if (c.node_ttl_ms <= c.heartbeat_ms) {
    throw new ConfigError(file, lines['cluster.node_ttl_ms'], 'cluster.node_ttl_ms', `${c.node_ttl_ms} must be longer than heartbeat_ms (${c.heartbeat_ms}): the record would expire between two heartbeats`);
  }
}

function othersThan(name: string): OtherFile[] {
  return FILES.filter((f) => f.name !== name);
}

/** Parsed file, or null when missing (defaults apply). Syntax errors propagate. */
async function readDoc(path: string, warnings: ConfigWarning[]): Promise<LcDocument | null> {
  const text = await readOptional(path);
  if (text !== null) return parseLibconfig(text, path);
  if (path.endsWith('.jcfg')) {
    const legacy = path.slice(0, -'.jcfg'.length) + '.cfg';
    if ((await readOptional(legacy)) !== null) {
      // Janus would fall back to the INI file; we do not read INI, so say so instead of silently ignoring it.
      warnings.push({
        file: legacy,
        key: basename(legacy),
        message: `legacy INI configuration is not supported; convert it to ${basename(path)} (janus-cfgconv does this). Using defaults.`,
      });
    }
  }
  return null;
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
