/**
 * Gateways for browser (media) tests: a generated configs folder that the real Janus and Portunus
 * both run unchanged, with what a browser on this machine needs:
 *  - nat.ice_enforce_list = the machine's first non-internal IPv4 interface (Chromium gathers no
 *    loopback candidates), no STUN server;
 *  - media.rtp_port_range: a block of 101 ports of its own (rtp-ranges.ts), so gateways of test
 *    processes running at the same time never share ports;
 *  - only the demo plugins a test asks for, each with Janus's stock demo room 1234 (numeric ids:
 *    the demo pages parseInt ?room=), and only the HTTP and WebSockets transports.
 * Reuses the colleague's server-conf.ts (transport files, ports) and janus-ref.ts / portunus.ts
 * (process start and readiness).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { JANUS_LIB, freePorts, httpJcfg, uniqueServerName, websocketsJcfg, type Ports } from './server-conf.js';
import { startJanusOnFolder } from './janus-ref.js';
import { startPortunusOnFolder } from './portunus.js';
import { withRetries, type RunningServer } from './server-process.js';
import { reserveRtpPortRange } from './rtp-ranges.js';

export type DemoPlugin = 'echotest' | 'videoroom' | 'textroom' | 'audiobridge' | 'videocall' | 'recordplay' | 'streaming';
export type GatewayKind = 'janus' | 'portunus';

export interface MachineAddress {
  iface: string;
  address: string;
}

/** The first non-internal IPv4 address of this machine (what the gateway must advertise). */
export function machineAddress(): MachineAddress {
  for (const [iface, infos] of Object.entries(networkInterfaces())) {
    for (const info of infos ?? []) {
      const fam = info.family as string | number;
      if ((fam === 'IPv4' || fam === 4) && !info.internal) return { iface, address: info.address };
    }
  }
  throw new Error('browser tests need a non-loopback IPv4 address (Chromium gathers no loopback ICE candidates); os.networkInterfaces() has none');
}

const q = (s: string): string => JSON.stringify(s);

/** Library file names in a Janus modules folder (libjanus_x.so only, not the versioned links). */
function modules(kind: 'plugins' | 'transports' | 'events' | 'loggers'): string[] {
  try {
    return readdirSync(join(JANUS_LIB, kind)).filter((f) => /^libjanus_[a-z0-9_]+\.so$/.test(f));
  } catch {
    return [];
  }
}

/** `rtpPortRange`: `min-max`, a block reserved with reserveRtpPortRange() (rtp-ranges.ts). */
export function mediaJanusJcfg(serverName: string, adminSecret: string, plugins: DemoPlugin[], enforce: string, rtpPortRange: string): string {
  const keepPlugins = new Set(plugins.map((p) => `libjanus_${p}.so`));
  const keepTransports = new Set(['libjanus_http.so', 'libjanus_websockets.so']);
  const disablePlugins = modules('plugins').filter((f) => !keepPlugins.has(f));
  const disableTransports = modules('transports').filter((f) => !keepTransports.has(f));
  return [
    'general: {',
    `  plugins_folder = ${q(`${JANUS_LIB}/plugins`)}`,
    `  transports_folder = ${q(`${JANUS_LIB}/transports`)}`,
    `  events_folder = ${q(`${JANUS_LIB}/events`)}`,
    `  loggers_folder = ${q(`${JANUS_LIB}/loggers`)}`,
    '  debug_level = 4',
    `  server_name = ${q(serverName)}`,
    `  admin_secret = ${q(adminSecret)}`,
    '}',
    '',
    'certificates: {',
    '}',
    '',
    'media: {',
    `  rtp_port_range = ${q(rtpPortRange)}`,
    '  dtls_mtu = 1200',
    '}',
    '',
    '# no STUN: the browser and the gateway are on this machine; advertise its non-loopback address',
    'nat: {',
    '  nice_debug = false',
    `  ice_enforce_list = ${q(enforce)}`,
    '}',
    '',
    'plugins: {',
    `  disable = ${q(disablePlugins.join(','))}`,
    '}',
    '',
    'transports: {',
    `  disable = ${q(disableTransports.join(','))}`,
    '}',
    '',
    'loggers: {',
    `  disable = ${q(modules('loggers').join(','))}`,
    '}',
    '',
    'events: {',
    '  broadcast = false',
    `  disable = ${q(modules('events').join(','))}`,
    '}',
    '',
  ].join('\n');
}

/**
 * Streaming: one rtp mountpoint (id 1, Opus + VP8 like Janus's sample, ports picked from the range so
 * parallel tests do not collide) and no file sources.
 */
const STREAMING_DEMO_JCFG = [
  'general: {',
  '}',
  '',
  'rtp-sample: {',
  '  type = "rtp"',
  '  id = 1',
  '  description = "Opus/VP8 live stream coming from external source"',
  '  audio = true',
  '  video = true',
  '  audioport = 0',
  '  audiopt = 111',
  '  audiocodec = "opus"',
  '  videoport = 0',
  '  videopt = 100',
  '  videocodec = "vp8"',
  '  secret = "adminpwd"',
  '}',
  '',
].join('\n');

/** Plugin config files: Janus's stock /etc/janus demo rooms (room-1234), numeric room ids. */
export function pluginJcfg(p: DemoPlugin): string {
  switch (p) {
    case 'echotest':
    case 'videocall':
      return 'general: {\n}\n';
    case 'recordplay':
      // Tests give their own folder (override); this one exists on Debian's janus package.
      return 'general: {\n  path = "/usr/share/janus/recordings"\n}\n';
    case 'videoroom':
      return [
        'general: {',
        '  string_ids = false',
        '}',
        '',
        'room-1234: {',
        '  description = "Demo Room"',
        '  secret = "adminpwd"',
        '  publishers = 6',
        '  bitrate = 256000',
        '  fir_freq = 10',
        '  audiocodec = "opus"',
        '  videocodec = "vp8"',
        '  record = false',
        '}',
        '',
      ].join('\n');
    case 'textroom':
      return [
        'general: {',
        '  json = "indented"',
        '}',
        '',
        'room-1234: {',
        '  description = "Demo Room"',
        '  secret = "adminpwd"',
        '}',
        '',
      ].join('\n');
    case 'streaming':
      return STREAMING_DEMO_JCFG;
    case 'audiobridge':
      return [
        'general: {',
        '}',
        '',
        'room-1234: {',
        '  description = "Demo Room"',
        '  secret = "adminpwd"',
        '  sampling_rate = 16000',
        '  record = false',
        '}',
        '',
      ].join('\n');
  }
}

export interface MediaConfigsFolder {
  dir: string;
  ports: Ports;
  /** media.rtp_port_range of this folder's janus.jcfg (`min-max`), held for this process until remove(). */
  rtpPortRange: string;
  rtpPorts: { min: number; max: number };
  serverName: string;
  adminSecret: string;
  address: MachineAddress;
  remove(): void;
}

/** Plugin jcfg texts that replace the stock demo ones (e.g. the seed's own janus.plugin.videoroom.jcfg). */
export type PluginConfigOverrides = Partial<Record<DemoPlugin, string>>;

export async function makeMediaConfigsFolder(prefix: string, plugins: DemoPlugin[], overrides: PluginConfigOverrides = {}): Promise<MediaConfigsFolder> {
  const address = machineAddress();
  const ports = await freePorts();
  const rtp = await reserveRtpPortRange();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-conf-`));
  const serverName = uniqueServerName(prefix);
  const adminSecret = 'browser_admin_secret';
  writeFileSync(join(dir, 'janus.jcfg'), mediaJanusJcfg(serverName, adminSecret, plugins, address.iface, rtp.text));
  writeFileSync(join(dir, 'janus.transport.http.jcfg'), httpJcfg(ports));
  writeFileSync(join(dir, 'janus.transport.websockets.jcfg'), websocketsJcfg(ports, false));
  for (const p of plugins) writeFileSync(join(dir, `janus.plugin.${p}.jcfg`), overrides[p] ?? pluginJcfg(p));
  const remove = (): void => {
    rmSync(dir, { recursive: true, force: true });
    rtp.release();
  };
  return { dir, ports, rtpPortRange: rtp.text, rtpPorts: { min: rtp.min, max: rtp.max }, serverName, adminSecret, address, remove };
}

export interface MediaGateway extends RunningServer {
  address: MachineAddress;
  /** Its media.rtp_port_range (a block of its own, see rtp-ranges.ts). */
  rtpPorts: { min: number; max: number };
}

/**
 * Start the real Janus or Portunus on a fresh media configs folder (removed on stop()). `janusJcfg`
 * edits the generated janus.jcfg text (e.g. to add `protected_folders`).
 */
export async function startMediaGateway(kind: GatewayKind, plugins: DemoPlugin[], overrides: PluginConfigOverrides = {}, opts: { prefix?: string; janusJcfg?: (text: string) => string; /** Portunus only; default 60 s: next to Chromium on a loaded 2-core machine its start (main + worker threads loading their modules) has been seen to take over 20 s. */ readyTimeoutMs?: number } = {}): Promise<MediaGateway> {
  return withRetries(4, async () => {
    const conf = await makeMediaConfigsFolder(`${kind}-${opts.prefix ?? 'browser'}`, plugins, overrides);
    try {
      if (opts.janusJcfg) {
        const jf = join(conf.dir, 'janus.jcfg');
        writeFileSync(jf, opts.janusJcfg(readFileSync(jf, 'utf8')));
      }
      const srv =
        kind === 'janus'
          ? await startJanusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret)
          : await startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret, { readyTimeoutMs: opts.readyTimeoutMs ?? 60_000 });
      const stop = srv.stop;
      srv.stop = async () => {
        await stop();
        conf.remove();
      };
      return Object.assign(srv, { address: conf.address, rtpPorts: conf.rtpPorts });
    } catch (e) {
      conf.remove();
      throw e;
    }
  });
}

/**
 * A VideoRoom gateway advertising only `hostIf` (the host side of a test's veth pair). Started up to 3
 * times: on a loaded 2-core machine Portunus has been seen taking 17-20 s to answer /janus/info (or its
 * Admin API), which startMediaGateway does not retry.
 */
export async function startVideoRoomGatewayOn(kind: GatewayKind, prefix: string, hostIf: string): Promise<MediaGateway> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startMediaGateway(kind, ['videoroom'], {}, { prefix, janusJcfg: (t) => t.replace(/ice_enforce_list = "[^"]*"/, `ice_enforce_list = "${hostIf}"`) });
    } catch (e) {
      if (attempt === 3 || !/did not answer|not ready/.test(String(e))) throw e;
      console.log(`# ${kind} start attempt ${attempt} timed out; retrying`);
    }
  }
}
