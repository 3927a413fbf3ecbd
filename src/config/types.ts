/**
 * Typed configuration, as the rest of Portunus sees it. Keys keep Janus's own names
 * (snake_case, same sections) so an operator's jcfg maps one-to-one onto these objects.
 * src/config/schema.ts fills them from parsed jcfg files with Janus's defaults.
 */

/** A value as libconfig holds it. Integers beyond 2^53 stay bigint. */
export type CfgScalar = string | number | bigint | boolean;
export type CfgValue = CfgScalar | CfgValue[] | CfgGroupValue;
/** A group (Janus "category"): ordered named settings. */
export interface CfgGroupValue {
  readonly kind: 'group';
  entries: Array<{ name: string; value: CfgValue; line?: number }>;
}

export interface ConfigWarning {
  file: string;
  line?: number;
  key: string;
  message: string;
}

export interface JanusGeneral {
  configs_folder: string;
  log_to_stdout: boolean;
  log_to_file: string | null;
  debug_level: number; // 0-7, default 4
  debug_timestamps: boolean;
  debug_colors: boolean;
  log_prefix: string | null;
  server_name: string; // default "MyJanusInstance"
  session_timeout: number; // s, default 60, 0 = never
  candidates_timeout: number; // s, default 45
  reclaim_session_timeout: number; // s, default 0
  api_secret: string | null;
  token_auth: boolean;
  token_auth_secret: string | null;
  admin_secret: string | null;
  interface: string | null;
  opaqueid_in_api: boolean;
  hide_dependencies: boolean;
  event_loops: number;
  allow_loop_indication: boolean;
  protected_folders: string[];
}

export interface JanusCertificates {
  cert_pem: string | null;
  cert_key: string | null;
  cert_pwd: string | null;
  dtls_accept_selfsigned: boolean;
  dtls_ciphers: string | null;
}

export interface JanusMedia {
  ipv6: boolean;
  ipv6_linklocal: boolean;
  min_nack_queue: number; // ms, default 200
  rtp_port_range: { min: number; max: number } | null; // null = any port
  dtls_mtu: number; // default 1200
  no_media_timer: number; // s, default 1
  slowlink_threshold: number; // default 0 (off)
  twcc_period: number; // ms, default 200
  nack_optimizations: boolean;
  dscp: number;
  /** Portunus only: most m-lines in an SDP we accept or generate (default 256). */
  max_mlines: number;
  /** Portunus only: longest SDP in characters we accept or generate (default 1 MiB). */
  max_sdp_size: number;

  /**
   * Portunus only: media worker threads (default os.availableParallelism()). 0: every plugin and
   * PeerConnection on the main thread (debugging); N: a pool of N threads the rooms are spread over.
   */
  media_workers: number;
  /**
   * Portunus only: seconds a request, JSEP or query for a handle may wait for its media worker before it
   * fails with error 462 (default 20); also how long a plugin event's JSEP waits for its PeerConnection.
   */
  worker_call_timeout: number;
  /**
   * Portunus only: every PeerConnection on one UDP port (0: off, one port per PeerConnection from
   * rtp_port_range). With media workers the main thread owns that one socket and hands each datagram to
   * the worker of its PeerConnection (src/media/net/port-reader.ts; see README "Single port").
   */
  single_port: number;
  /**
   * Portunus only, with single_port and media workers: a socket per worker thread instead, worker N on
   * single_port + N (no hand-over between threads; N ports to open).
   */
  single_port_per_worker: boolean;
}

export interface JanusNat {
  stun_server: string | null;
  stun_port: number; // default 3478
  nice_debug: boolean;
  full_trickle: boolean;
  ice_nomination: 'regular' | 'aggressive';
  ice_consent_freshness: boolean;
  ice_keepalive_conncheck: boolean;
  ice_lite: boolean;
  ice_tcp: boolean;
  hangup_on_failed: boolean;
  ignore_mdns: boolean;
  nat_1_1_mapping: string[]; // comma list in the file
  keep_private_host: boolean;
  turn_server: string | null;
  turn_port: number;
  turn_type: 'udp' | 'tcp' | 'tls';
  turn_user: string | null;
  turn_pwd: string | null;
  allow_force_relay: boolean;
  ice_enforce_list: string[]; // comma list in the file
  ice_ignore_list: string[]; // comma list, default ["vmnet"]
  ignore_unreachable_ice_server: boolean;
}

/** janus.jcfg `cluster` (Portunus only; Janus ignores the section). */
export interface JanusCluster {
  enabled: boolean; // false
  /** redis://[user:password@]host:port[/db] (rediss:// for TLS); required when enabled. */
  redis: string | null;
  /** This node's name in the registry, unique in the cluster (default: hostname-pid). */
  node_name: string | null;
  /**
   * The address other nodes send this node's RTP to (remote publishers) and clients reach its media on;
   * default: nat_1_1_mapping's first entry, else the first local candidate address.
   */
  public_ip: string | null;
  /** Where clients and other nodes reach this node's Janus API (advertised in the registry), e.g. "ws://10.0.0.5:8188". */
  api_url: string | null;
  /** Key prefix in Redis: several clusters may share one Redis (default "portunus"). */
  prefix: string;
  /** How often this node refreshes its registry record (ms, default 2000). */
  heartbeat_ms: number;
  /** After how long without a heartbeat a node's record expires (ms; not set or 0: 3 x heartbeat_ms + 1000). */
  node_ttl_ms: number;
}

export interface JanusConfig {
  file: string | null; // the janus.jcfg read, null when none was found
  general: JanusGeneral;
  certificates: JanusCertificates;
  media: JanusMedia;
  nat: JanusNat;
  plugins: { disable: string[] }; // names like "libjanus_echotest.so" or "janus.plugin.echotest"
  transports: { disable: string[] };
  loggers: { disable: string[] };
  /** Portunus only: several processes sharing rooms through Redis (src/cluster/, README "Cluster"). */
  cluster: JanusCluster;
  events: { broadcast: boolean; disable: string[]; stats_period: number; combine_media_stats: boolean };
}

export type JsonFormat = 'compact' | 'indented' | 'plain';

/** What every event handler file shares (`general` section). */
export interface EventHandlerCommon {
  file: string | null;
  enabled: boolean; // false
  /** Type mask names as written ("sessions", "handles", ..., "all", "none"); default ["all"]. */
  events: string[];
  grouping: boolean; // true: one JSON array per delivery
  json: JsonFormat; // "indented"
  /** Where each key was set in `file` ("section.key" -> line). */
  keyLines: Record<string, number>;
}

/** janus.eventhandler.sampleevh.jcfg: events as HTTP POSTs. */
export interface SampleEvhConfig extends EventHandlerCommon {
  backend: string | null; // http(s) URL; required when enabled
  backend_user: string | null;
  backend_pwd: string | null;
  max_retransmissions: number; // 5
  retransmissions_backoff: number; // ms, 100 (doubles on each retry)
  compress: boolean; // gzip the body
  compression: number; // zlib level 1-9
}

/** janus.eventhandler.wsevh.jcfg: events as WebSocket messages. */
export interface WsEvhConfig extends EventHandlerCommon {
  backend: string | null; // ws(s) URL; required when enabled
  subprotocol: string | null;
  ws_logging: string | null;
}


export interface HttpTransportConfig {
  file: string | null;
  general: {
    json: 'compact' | 'indented' | 'plain';
    base_path: string; // "/janus"
    http: boolean; // true
    port: number; // 8088
    interface: string | null;
    ip: string | null;
    https: boolean; // false
    secure_port: number; // 8089
    secure_interface: string | null;
    secure_ip: string | null; // like ip/interface, for the HTTPS listener only
    acl: string[];
    mhd_connection_limit: number;
    /** Portunus only: seconds for a request's headers and body to arrive (0: no limit); long polls are not cut. */
    request_timeout: number;
    events: boolean;
  };
  admin: {
    admin_base_path: string; // "/admin"
    admin_http: boolean; // false in Janus
    admin_port: number; // 7088
    admin_interface: string | null;
    admin_ip: string | null; // Portunus: loopback unless configured
    admin_https: boolean; // false
    admin_secure_port: number; // 7889
    admin_secure_interface: string | null;
    admin_secure_ip: string | null; // Portunus: loopback unless configured
    admin_acl: string[];
  };
  /**
   * Portunus only (Janus has no such section and ignores it): the Prometheus endpoint, on its own
   * listener. Off by default; the bundled conf/ turns it on at 127.0.0.1:7089/metrics, and so does
   * Portunus when there is no janus.transport.http.jcfg at all (like the Admin API).
   */
  metrics: {
    metrics: boolean; // false
    metrics_port: number; // 7089
    metrics_ip: string | null; // null: loopback
    metrics_interface: string | null;
    metrics_base_path: string; // "/metrics"
    /** Require general.admin_secret (Authorization: Bearer, basic-auth password, or ?admin_secret=). */
    metrics_secret: boolean; // false
  };
  cors: { allow_origin: string | null; enforce_cors: boolean };
  certificates: TransportCertificates;
  /** Where each key was set in `file` ("section.key" -> line), for errors found after loading (e.g. a cert file). */
  keyLines: Record<string, number>;
}

export interface WsTransportConfig {
  file: string | null;
  general: {
    json: 'compact' | 'indented' | 'plain';
    ws: boolean; // true
    ws_port: number; // 8188
    ws_interface: string | null;
    ws_ip: string | null;
    wss: boolean; // false
    wss_port: number; // 8989
    wss_interface: string | null;
    wss_ip: string | null;
    ws_logging: string | null;
    ws_acl: string[];
    pingpong_trigger: number; // s, 0 = off
    pingpong_timeout: number; // s
  };
  admin: {
    admin_ws: boolean; // false
    admin_ws_port: number; // 7188
    admin_ws_interface: string | null;
    admin_ws_ip: string | null;
    admin_wss: boolean; // false
    admin_wss_port: number; // 7989
    admin_wss_interface: string | null;
    admin_wss_ip: string | null; // Portunus: loopback unless configured
    admin_ws_acl: string[];
  };
  cors: { allow_origin: string | null; enforce_cors: boolean };
  certificates: TransportCertificates;
  /** Where each key was set in `file` ("section.key" -> line), for errors found after loading (e.g. a cert file). */
  keyLines: Record<string, number>;
}

/**
 * The `certificates` section of a transport file: the PEM certificate (chain) and key for the
 * HTTPS/WSS listeners, the key's passphrase, and a cipher list (OpenSSL syntax; the HTTP file's
 * GnuTLS priority strings are read as far as they map, see src/config/tls.ts).
 */
export interface TransportCertificates {
  cert_pem: string | null;
  cert_key: string | null;
  cert_pwd: string | null;
  ciphers: string | null;
}
