/**
 * Builds a temporary Janus configs folder (the same files serve the real Janus and Portunus:
 * that is the product's promise). Content follows /etc/janus samples, reduced to what the
 * tests need: only the VideoRoom plugin and the HTTP + WebSockets transports are enabled,
 * no STUN, a small RTP range, no loggers or event handlers.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { reserveRtpPortRange } from './rtp-ranges.js';

export const JANUS_LIB = '/usr/lib/x86_64-linux-gnu/janus';

/** Plugins/transports shipped by Debian's janus that tests never need (disabled so startup is fast and binds nothing). */
const UNUSED_PLUGINS = [
  'libjanus_audiobridge.so', 'libjanus_duktape.so', 'libjanus_echotest.so', 'libjanus_lua.so', 'libjanus_nosip.so',
  'libjanus_recordplay.so', 'libjanus_sip.so', 'libjanus_streaming.so', 'libjanus_textroom.so',
  'libjanus_videocall.so', 'libjanus_voicemail.so',
];
const UNUSED_TRANSPORTS = ['libjanus_mqtt.so', 'libjanus_nanomsg.so', 'libjanus_pfunix.so', 'libjanus_rabbitmq.so'];
const UNUSED_LOGGERS = ['libjanus_jsonlog.so'];
const UNUSED_EVENTS = [
  'libjanus_gelfevh.so', 'libjanus_mqttevh.so', 'libjanus_nanomsgevh.so', 'libjanus_rabbitmqevh.so',
  'libjanus_sampleevh.so', 'libjanus_wsevh.so',
];

export interface ServerOptions {
  /** general.admin_secret (default "e2e_admin_secret"). */
  adminSecret?: string;
  /** Portunus only: media.media_workers (default: not written, i.e. one per core). */
  mediaWorkers?: number;
  /** general.api_secret (default: none). */
  apiSecret?: string;
  /** general.session_timeout (default: not set → 60). */
  sessionTimeout?: number;
  /** VideoRoom general.string_ids (default false). */
  stringIds?: boolean;
  /** VideoRoom general.admin_key (default "videoroom_key"; null = none). */
  videoroomAdminKey?: string | null;
  /** Enable the Admin API over WebSockets too (default false). */
  adminWs?: boolean;
  /** Extra lines appended to janus.jcfg's general section. */
  extraGeneral?: string;
  /**
   * Turn event handlers on (events.broadcast) with the sample handler (HTTP POST) to `backend`:
   * writes janus.eventhandler.sampleevh.jcfg and leaves libjanus_sampleevh.so enabled.
   */
  sampleEvh?: { backend: string; events?: string; grouping?: boolean };
}

export interface Ports {
  http: number;
  admin: number;
  ws: number;
  adminWs: number;
}

const handedOut = new Set<number>();

/** A TCP port that is free right now on all interfaces (and not handed out before by this process). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen(0, () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('could not find a free TCP port');
}

export async function freePorts(): Promise<Ports> {
  return { http: await freePort(), admin: await freePort(), ws: await freePort(), adminWs: await freePort() };
}

export function uniqueServerName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

const q = (s: string): string => JSON.stringify(s);

/** `rtpPortRange`: makeConfigsFolder() passes a block reserved for this process (rtp-ranges.ts). */
export function janusJcfg(opts: ServerOptions, serverName: string, rtpPortRange = '41000-41200'): string {
  const lines = [
    'general: {',
    `  plugins_folder = ${q(`${JANUS_LIB}/plugins`)}`,
    `  transports_folder = ${q(`${JANUS_LIB}/transports`)}`,
    `  events_folder = ${q(`${JANUS_LIB}/events`)}`,
    `  loggers_folder = ${q(`${JANUS_LIB}/loggers`)}`,
    '  debug_level = 4',
    `  server_name = ${q(serverName)}`,
    `  admin_secret = ${q(opts.adminSecret ?? 'e2e_admin_secret')}`,
  ];
  if (opts.apiSecret) lines.push(`  api_secret = ${q(opts.apiSecret)}`);
  if (opts.sessionTimeout !== undefined) lines.push(`  session_timeout = ${opts.sessionTimeout}`);
  if (opts.extraGeneral) lines.push(opts.extraGeneral);
  lines.push('}', '');
  lines.push('certificates: {', '}', '');
  lines.push('media: {', `  rtp_port_range = ${q(rtpPortRange)}`, '  dtls_mtu = 1200', ...(opts.mediaWorkers !== undefined ? [`  media_workers = ${opts.mediaWorkers}`] : []), '}', '');
  lines.push('nat: {', '  nice_debug = false', '  ice_ignore_list = "vmnet"', '}', '');
  lines.push(disableSections(opts.sampleEvh ? { sampleEvh: true } : {}));
  return lines.join('\n');
}

/** plugins/transports/loggers/events sections disabling everything but VideoRoom, HTTP and WebSockets. */
export function disableSections(opts: { sampleEvh?: boolean } = {}): string {
  const events = opts.sampleEvh ? UNUSED_EVENTS.filter((e) => e !== 'libjanus_sampleevh.so') : UNUSED_EVENTS;
  return [
    'plugins: {', `  disable = ${q(UNUSED_PLUGINS.join(','))}`, '}', '',
    'transports: {', `  disable = ${q(UNUSED_TRANSPORTS.join(','))}`, '}', '',
    'loggers: {', `  disable = ${q(UNUSED_LOGGERS.join(','))}`, '}', '',
    'events: {', `  broadcast = ${opts.sampleEvh ? 'true' : 'false'}`, `  disable = ${q(events.join(','))}`, '}', '',
  ].join('\n');
}

/** Transport configs only: used on their own to give the seed conf/ folder free ports. */
export function httpJcfg(ports: Ports): string {
  return [
    'general: {',
    '  json = "compact"',
    '  base_path = "/janus"',
    '  http = true',
    `  port = ${ports.http}`,
    '  https = false',
    '}',
    '',
    'admin: {',
    '  admin_base_path = "/admin"',
    '  admin_http = true',
    `  admin_port = ${ports.admin}`,
    '  admin_https = false',
    '}',
    '',
    'cors: {',
    '}',
    '',
  ].join('\n');
}

export function websocketsJcfg(ports: Ports, adminWs: boolean): string {
  return [
    'general: {',
    '  json = "compact"',
    '  ws = true',
    `  ws_port = ${ports.ws}`,
    '  wss = false',
    '}',
    '',
    'admin: {',
    `  admin_ws = ${adminWs ? 'true' : 'false'}`,
    `  admin_ws_port = ${ports.adminWs}`,
    '  admin_wss = false',
    '}',
    '',
  ].join('\n');
}

/** The seed's videoroom config (general + room-9999), string_ids/admin_key as chosen. */
export function videoroomJcfg(opts: ServerOptions): string {
  const key = opts.videoroomAdminKey === undefined ? 'videoroom_key' : opts.videoroomAdminKey;
  const lines = ['general: {', `  string_ids = ${opts.stringIds ? 'true' : 'false'}`, '  max_publishers = 6'];
  if (key !== null) lines.push(`  admin_key = ${q(key)}`);
  lines.push(
    '}',
    '',
    '# test room (a logical object in the server\'s RAM)',
    'room-9999: {',
    '  description = "Test Room"',
    '  secret = "secret"',
    '  publishers = 4',
    '  bitrate = 1024000',
    '  fir_freq = 10',
    '  audiocodec = "opus"',
    '  videocodec = "vp8"',
    '  record = false',
    '  rec_dir = "/tmp"',
    '}',
    '',
  );
  return lines.join('\n');
}

export interface ConfigsFolder {
  dir: string;
  ports: Ports;
  serverName: string;
  adminSecret: string;
  remove(): void;
}

export async function makeConfigsFolder(prefix: string, opts: ServerOptions = {}): Promise<ConfigsFolder> {
  const ports = await freePorts();
  const rtp = await reserveRtpPortRange();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-conf-`));
  const serverName = uniqueServerName(prefix);
  writeFileSync(join(dir, 'janus.jcfg'), janusJcfg(opts, serverName, rtp.text));
  writeFileSync(join(dir, 'janus.transport.http.jcfg'), httpJcfg(ports));
  writeFileSync(join(dir, 'janus.transport.websockets.jcfg'), websocketsJcfg(ports, opts.adminWs ?? false));
  writeFileSync(join(dir, 'janus.plugin.videoroom.jcfg'), videoroomJcfg(opts));
  if (opts.sampleEvh) writeFileSync(join(dir, 'janus.eventhandler.sampleevh.jcfg'), sampleEvhJcfg(opts.sampleEvh));
  return {
    dir,
    ports,
    serverName,
    adminSecret: opts.adminSecret ?? 'e2e_admin_secret',
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
      rtp.release();
    },
  };
}

/** janus.eventhandler.sampleevh.jcfg: enabled, compact JSON, towards `backend`. */
export function sampleEvhJcfg(o: { backend: string; events?: string; grouping?: boolean }): string {
  return [
    'general: {',
    '  enabled = true',
    `  events = ${q(o.events ?? 'all')}`,
    `  grouping = ${o.grouping ? 'true' : 'false'}`,
    '  json = "compact"',
    `  backend = ${q(o.backend)}`,
    '}',
    '',
  ].join('\n');
}
