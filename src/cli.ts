/**
 * Command-line flags in the spirit of Janus's (same long and short names where Janus has them).
 * Flags override the configuration files.
 */
import type { JanusConfig } from './config/types.js';

export interface CliOptions {
  help: boolean;
  version: boolean;
  configsFolder?: string;
  configFile?: string;
  debugLevel?: number;
  adminSecret?: string;
  apiSecret?: string;
  tokenAuth?: boolean;
  stunServer?: { host: string; port: number };
  nat11?: string[];
  rtpPortRange?: { min: number; max: number };
  /** Portunus only: media.single_port. */
  singlePort?: number;
  interface?: string;
}

export class CliError extends Error {
  override readonly name = 'CliError';
}

interface FlagSpec {
  long: string;
  short?: string;
  value: boolean;
  apply(o: CliOptions, v: string): void;
}

function int(v: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(v)) throw new CliError(`${what}: '${v}' is not a number`);
  const n = Number(v);
  if (n < min || n > max) throw new CliError(`${what}: ${n} is out of range (${min}-${max})`);
  return n;
}

const FLAGS: FlagSpec[] = [
  { long: 'help', short: 'h', value: false, apply: (o) => void (o.help = true) },
  { long: 'version', short: 'V', value: false, apply: (o) => void (o.version = true) },
  { long: 'configs-folder', short: 'F', value: true, apply: (o, v) => void (o.configsFolder = v) },
  { long: 'config', short: 'C', value: true, apply: (o, v) => void (o.configFile = v) },
  { long: 'debug-level', short: 'd', value: true, apply: (o, v) => void (o.debugLevel = int(v, '--debug-level', 0, 7)) },
  { long: 'admin-secret', value: true, apply: (o, v) => void (o.adminSecret = v) },
  { long: 'apisecret', short: 'a', value: true, apply: (o, v) => void (o.apiSecret = v) },
  { long: 'token-auth', short: 'A', value: false, apply: (o) => void (o.tokenAuth = true) },
  {
    long: 'stun-server',
    short: 'S',
    value: true,
    apply: (o, v) => {
      const i = v.lastIndexOf(':');
      if (i <= 0) throw new CliError(`--stun-server: expected host:port, got '${v}'`);
      o.stunServer = { host: v.slice(0, i), port: int(v.slice(i + 1), '--stun-server port', 1, 65535) };
    },
  },
  {
    long: 'nat-1-1',
    short: '1',
    value: true,
    apply: (o, v) => void (o.nat11 = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0)),
  },
  {
    long: 'rtp-port-range',
    short: 'r',
    value: true,
    apply: (o, v) => {
      const m = /^(\d+)-(\d+)$/.exec(v);
      if (!m) throw new CliError(`--rtp-port-range: expected min-max, got '${v}'`);
      const min = int(m[1]!, '--rtp-port-range', 1, 65535);
      const max = int(m[2]!, '--rtp-port-range', 1, 65535);
      if (min > max) throw new CliError(`--rtp-port-range: ${min} is above ${max}`);
      o.rtpPortRange = { min, max };
    },
  },
  { long: 'single-port', value: true, apply: (o, v) => void (o.singlePort = int(v, '--single-port', 0, 65535)) },
  { long: 'interface', short: 'i', value: true, apply: (o, v) => void (o.interface = v) },
];

export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = { help: false, version: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      if (eq >= 0) inline = arg.slice(eq + 1);
      spec = FLAGS.find((f) => f.long === name);
    } else if (arg.startsWith('-') && arg.length >= 2) {
      spec = FLAGS.find((f) => f.short === arg[1]);
      if (arg.length > 2) inline = arg.slice(2);
    }
    if (!spec) throw new CliError(`unknown option '${arg}' (see --help)`);
    if (!spec.value) {
      if (inline !== undefined) throw new CliError(`option '--${spec.long}' takes no value`);
      spec.apply(o, '');
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new CliError(`option '--${spec.long}' needs a value`);
    spec.apply(o, value);
  }
  return o;
}

/** Command-line values win over the configuration files. */
export function applyCli(cfg: JanusConfig, o: CliOptions): void {
  if (o.debugLevel !== undefined) cfg.general.debug_level = o.debugLevel;
  if (o.adminSecret !== undefined) cfg.general.admin_secret = o.adminSecret;
  if (o.apiSecret !== undefined) cfg.general.api_secret = o.apiSecret;
  if (o.tokenAuth) cfg.general.token_auth = true;
  if (o.interface !== undefined) cfg.general.interface = o.interface;
  if (o.stunServer) {
    cfg.nat.stun_server = o.stunServer.host;
    cfg.nat.stun_port = o.stunServer.port;
  }
  if (o.nat11) cfg.nat.nat_1_1_mapping = o.nat11;
  if (o.rtpPortRange) cfg.media.rtp_port_range = o.rtpPortRange;
  if (o.singlePort !== undefined) cfg.media.single_port = o.singlePort;
}

export const HELP = `Usage: portunus [OPTIONS]

A Janus WebRTC Server compatible gateway.

  -h, --help                    Print help and exit
  -V, --version                 Print version and exit
  -F, --configs-folder=path     Configuration files folder (default: conf/ next to the package)
  -C, --config=filename         Main configuration file (default: <configs-folder>/janus.jcfg)
  -d, --debug-level=0-7         Debug/logging level (0=disable, 4=info, 7=everything)
      --admin-secret=string     Admin API secret (overrides general.admin_secret)
  -a, --apisecret=string        API secret all requests need to carry
  -A, --token-auth              Enable stored-token authentication
  -S, --stun-server=host:port   STUN server to use
  -1, --nat-1-1=ip[,ip...]      Public IP(s) to advertise (1:1 NAT mapping)
  -r, --rtp-port-range=min-max  Port range for the media plane
      --single-port=port        Every PeerConnection on one UDP port per media worker (Portunus only)
  -i, --interface=ip            Interface to use (will be the public IP)
`;
