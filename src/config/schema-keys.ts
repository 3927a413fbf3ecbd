/**
 * Every key Janus 1.1 reads from janus.jcfg and the HTTP/WebSocket transport files, per
 * section, with how Portunus reads it. A key with no reader is valid Janus configuration
 * that Portunus accepts without using (e.g. plugins_folder): no "unknown key" warning.
 */
import type { CfgValue } from './types.js';
import { cfgBool, cfgInt, cfgString, cfgStringList } from './values.js';

export interface KeyCtx {
  /** The key's default, for readers that fall back to it. */
  def: unknown;
  /** Refuse the configuration (becomes a ConfigError naming file, line and key). */
  fail(reason: string): never;
  warn(message: string): void;
}

export type Reader = (v: CfgValue, ctx: KeyCtx) => unknown;
export type SectionSpec = Record<string, Reader | null>;
export type FileSpec = Record<string, SectionSpec>;

const show = (v: CfgValue): string => (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? 'a list or group' : String(v));

export const bool: Reader = (v, ctx) => {
  const b = cfgBool(v, ctx.def as boolean);
  if (b !== undefined) return b;
  // Janus's janus_is_true() reads anything unrecognised as false; keep that, but say so.
  ctx.warn(`${show(v)} is not a boolean (true/false/yes/no/1/0); read as false, as Janus does`);
  return false;
};

export function int(min: number, max = Number.MAX_SAFE_INTEGER): Reader {
  return (v, ctx) => {
    const n = cfgInt(v, ctx.def as number);
    if (n === undefined) return ctx.fail(`expected an integer, got ${show(v)}`);
    if (n < min || n > max) ctx.fail(`${n} is out of range (${min}-${max === Number.MAX_SAFE_INTEGER ? '...' : max})`);
    return n;
  };
}

export const port: Reader = (v, ctx) => {
  const n = cfgInt(v, ctx.def as number);
  if (n === undefined || n < 1 || n > 65535) ctx.fail(`expected a port number (1-65535), got ${show(v)}`);
  return n;
};

export const str: Reader = (v, ctx) => {
  const s = cfgString(v);
  if (s === undefined) ctx.fail(`expected a string, got ${show(v)}`);
  return s;
};

export const list: Reader = (v, ctx) => {
  const l = cfgStringList(v);
  if (l === undefined) ctx.fail(`expected a comma-separated string or an array of strings, got ${show(v)}`);
  return l;
};

export function oneOf<T extends string>(...choices: T[]): Reader {
  return (v, ctx) => {
    const s = cfgString(v)?.trim().toLowerCase();
    if (s === undefined || !(choices as string[]).includes(s)) {
      ctx.fail(`expected one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${show(v)}`);
    }
    return s;
  };
}

export const portRange: Reader = (v, ctx) => {
  const s = cfgString(v);
  const m = s === undefined ? null : /^\s*([0-9]+)\s*-\s*([0-9]+)\s*$/.exec(s);
  if (!m) return ctx.fail(`expected "min-max" (e.g. "20000-40000"), got ${show(v)}`);
  const min = Number(m[1]);
  const max = Number(m[2]);
  if (min < 1 || max > 65535) ctx.fail(`expected "min-max" with ports in 1-65535, got ${show(v)}`);
  if (min > max) ctx.fail(`expected "min-max" with min <= max, got ${show(v)}`);
  return { min, max };
};

export const basePath: Reader = (v, ctx) => {
  const s = str(v, ctx) as string;
  if (!s.startsWith('/')) ctx.fail(`expected a path starting with "/", got ${show(v)}`);
  // "/janus/" and "/janus" serve the same routes; keep one spelling.
  return s.length > 1 ? s.replace(/\/+$/, '') : s;
};

/** Janus ignores candidates_timeout <= 0 ("considered an invalid value and ignored"). */
const positiveOrIgnored: Reader = (v, ctx) => {
  const n = int(Number.MIN_SAFE_INTEGER)(v, ctx) as number;
  if (n > 0) return n;
  ctx.warn(`${n} is not a valid value (must be > 0); using the default ${String(ctx.def)}, as Janus does`);
  return ctx.def;
};

/** Janus: 0 turns media statistics off; a negative value is invalid and gives the default (1 s). */
const statsPeriod: Reader = (v, ctx) => {
  const n = int(Number.MIN_SAFE_INTEGER)(v, ctx) as number;
  if (n >= 0) return n;
  ctx.warn(`${n} is not a valid statistics period; using the default ${String(ctx.def)} s, as Janus does`);
  return ctx.def;
};

/** The event type names Janus's handlers accept in `events` (janus_events_edit_events_mask). */
export const EVENT_MASK_NAMES = ['none', 'all', 'sessions', 'handles', 'jsep', 'webrtc', 'media', 'plugins', 'transports', 'core', 'external'];

const eventMask: Reader = (v, ctx) => {
  const names = (list(v, ctx) as string[]).map((n) => n.toLowerCase());
  const unknown = names.filter((n) => !EVENT_MASK_NAMES.includes(n));
  if (unknown.length > 0) ctx.warn(`unknown event type${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')} (ignored); valid: ${EVENT_MASK_NAMES.join(', ')}`);
  return names.filter((n) => EVENT_MASK_NAMES.includes(n));
};

function url(...schemes: string[]): Reader {
  return (v, ctx) => {
    const s = (str(v, ctx) as string).trim();
    let u: URL | null = null;
    try {
      u = new URL(s);
    } catch {
      u = null;
    }
    if (!u || !schemes.includes(u.protocol.slice(0, -1))) ctx.fail(`expected a ${schemes.join('/')} URL, got ${show(v)}`);
    return s;
  };
}

/** Janus's handlers fall back to their default on a value they cannot use, with a warning. */
function atLeast(min: number): Reader {
  return (v, ctx) => {
    const n = int(Number.MIN_SAFE_INTEGER)(v, ctx) as number;
    if (n >= min) return n;
    ctx.warn(`${n} is not valid here (must be >= ${min}); using the default ${String(ctx.def)}, as Janus does`);
    return ctx.def;
  };
}

/** A name that goes into Redis keys and channels: no spaces, colons or braces (they would split or hash-tag keys). */
const nodeName: Reader = (v, ctx) => {
  const s = (str(v, ctx) as string).trim();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(s)) ctx.fail(`expected 1-64 characters of A-Z a-z 0-9 . _ -, got ${show(v)}`);
  return s;
};

const certificates: SectionSpec = { cert_pem: str, cert_key: str, cert_pwd: str, ciphers: str };
const cors: SectionSpec = { allow_origin: str, enforce_cors: bool };
const json = oneOf('compact', 'indented', 'plain');

export const JANUS_KEYS: FileSpec = {
  general: {
    configs_folder: str,
    plugins_folder: null,
    transports_folder: null,
    events_folder: null,
    loggers_folder: null,
    log_to_stdout: bool,
    log_to_file: str,
    log_rotate_sig: null,
    debug_level: int(0, 7),
    debug_timestamps: bool,
    debug_colors: bool,
    debug_locks: null,
    log_prefix: str,
    daemonize: null,
    pid_file: null,
    check_openfiles_limit: null,
    api_secret: str,
    token_auth: bool,
    token_auth_secret: str,
    admin_secret: str,
    interface: str,
    server_name: str,
    session_timeout: int(0),
    candidates_timeout: positiveOrIgnored,
    reclaim_session_timeout: int(0),
    recordings_tmp_ext: null,
    event_loops: int(0),
    allow_loop_indication: bool,
    task_pool_size: null,
    opaqueid_in_api: bool,
    hide_dependencies: bool,
    exit_on_dl_error: null,
    no_webrtc_encryption: null,
    protected_folders: list,
  },
  certificates: {
    cert_pem: str,
    cert_key: str,
    cert_pwd: str,
    dtls_accept_selfsigned: bool,
    dtls_ciphers: str,
    rsa_private_key: null,
  },
  media: {
    ipv6: bool,
    ipv6_linklocal: bool,
    min_nack_queue: int(0),
    rtp_port_range: portRange,
    dtls_mtu: int(200, 65535),
    no_media_timer: int(0),
    slowlink_threshold: int(0),
    twcc_period: int(1),
    dtls_timeout: null,
    nack_optimizations: bool,
    dscp: int(0, 63),
    // Portunus only (Janus has no limit): see src/media/sdp/limits.ts.
    max_mlines: int(1, 65535),
    max_sdp_size: int(1024, 64 * 1024 * 1024),

    media_workers: int(0, 1024),
    worker_call_timeout: int(1, 3600),
    single_port: int(0, 65535),
    single_port_per_worker: bool,
  },
  nat: {
    stun_server: str,
    stun_port: port,
    nice_debug: bool,
    full_trickle: bool,
    ice_nomination: oneOf('regular', 'aggressive'),
    ice_consent_freshness: bool,
    ice_keepalive_conncheck: bool,
    ice_lite: bool,
    ice_tcp: bool,
    hangup_on_failed: bool,
    ignore_mdns: bool,
    nat_1_1_mapping: list,
    keep_private_host: bool,
    turn_server: str,
    turn_port: port,
    turn_type: oneOf('udp', 'tcp', 'tls'),
    turn_user: str,
    turn_pwd: str,
    turn_rest_api: null,
    turn_rest_api_key: null,
    turn_rest_api_method: null,
    turn_rest_api_timeout: null,
    allow_force_relay: bool,
    ice_enforce_list: list,
    ice_ignore_list: list,
    ignore_unreachable_ice_server: bool,
  },
  plugins: { disable: list },
  transports: { disable: list },
  loggers: { disable: list },
  events: { broadcast: bool, disable: list, stats_period: statsPeriod, combine_media_stats: bool },
  // Portunus only (src/cluster/): nodes sharing rooms through Redis. node_ttl_ms 0: 3 x heartbeat_ms + 1 s.
  cluster: {
    enabled: bool,
    redis: url('redis', 'rediss'),
    node_name: nodeName,
    public_ip: str,
    api_url: url('http', 'https', 'ws', 'wss'),
    prefix: nodeName,
    heartbeat_ms: int(100, 600_000),
    node_ttl_ms: int(0, 3_600_000),
  },
};

export const HTTP_KEYS: FileSpec = {
  general: {
    events: bool,
    json,
    base_path: basePath,
    http: bool,
    port,
    interface: str,
    ip: str,
    https: bool,
    secure_port: port,
    secure_interface: str,
    secure_ip: str,
    acl: list,
    acl_forwarded: null,
    mhd_connection_limit: int(1),
    mhd_debug: null,
    // Portunus only: a stalled upload or slowloris headers are cut after this many seconds.
    request_timeout: int(0, 3600),
  },
  admin: {
    admin_base_path: basePath,
    admin_http: bool,
    admin_port: port,
    admin_interface: str,
    admin_ip: str,
    admin_https: bool,
    admin_secure_port: port,
    admin_secure_interface: str,
    admin_secure_ip: str,
    admin_acl: list,
    admin_acl_forwarded: null,
  },
  // Portunus only: Prometheus /metrics on its own listener (Janus ignores this section).
  metrics: {
    metrics: bool,
    metrics_port: port,
    metrics_ip: str,
    metrics_interface: str,
    metrics_base_path: basePath,
    metrics_secret: bool,
  },
  cors,
  certificates,
};

export const WS_KEYS: FileSpec = {
  general: {
    events: null,
    json,
    pingpong_trigger: int(0),
    pingpong_timeout: int(0),
    ws: bool,
    ws_port: port,
    ws_interface: str,
    ws_ip: str,
    ws_unix: null,
    wss: bool,
    wss_port: port,
    wss_interface: str,
    wss_ip: str,
    wss_unix: null,
    ws_logging: str,
    ws_acl: list,
    ws_acl_forwarded: null,
  },
  admin: {
    admin_ws: bool,
    admin_ws_port: port,
    admin_ws_interface: str,
    admin_ws_ip: str,
    admin_ws_unix: null,
    admin_wss: bool,
    admin_wss_port: port,
    admin_wss_interface: str,
    admin_wss_ip: str,
    admin_wss_unix: null,
    admin_ws_acl: list,
  },
  cors,
  certificates,
};

/** janus.eventhandler.sampleevh.jcfg (Janus's sample event handler: HTTP POST). */
export const SAMPLEEVH_KEYS: FileSpec = {
  general: {
    enabled: bool,
    events: eventMask,
    grouping: bool,
    json,
    backend: url('http', 'https'),
    backend_user: str,
    backend_pwd: str,
    max_retransmissions: atLeast(0),
    retransmissions_backoff: atLeast(1),
    compress: bool,
    compression: int(1, 9),
  },
};

/** janus.eventhandler.wsevh.jcfg (Janus's WebSockets event handler). */
export const WSEVH_KEYS: FileSpec = {
  general: {
    enabled: bool,
    events: eventMask,
    grouping: bool,
    json,
    backend: url('ws', 'wss'),
    subprotocol: str,
    ws_logging: str,
  },
};
