/**
 * Janus 1.1.x defaults for every typed setting, with no file involved. Values follow
 * janus.c / ice.c / the transports' C sources (and their sample jcfg comments), so an
 * operator who omits a key gets the behaviour they would get from Janus.
 */
import { availableParallelism } from 'node:os';
import type { HttpTransportConfig, JanusConfig, SampleEvhConfig, WsEvhConfig, WsTransportConfig } from './types.js';

/** Where the configs live when nothing says otherwise (Janus compiles in its CONFDIR; we ship ./conf). */
export const DEFAULT_CONFIGS_FOLDER = 'conf';

export function defaultJanusConfig(configsFolder: string = DEFAULT_CONFIGS_FOLDER): JanusConfig {
  return {
    file: null,
    general: {
      configs_folder: configsFolder,
      log_to_stdout: true,
      log_to_file: null,
      debug_level: 4,
      debug_timestamps: false,
      debug_colors: true,
      log_prefix: null,
      server_name: 'MyJanusInstance',
      session_timeout: 60,
      candidates_timeout: 45,
      reclaim_session_timeout: 0,
      api_secret: null,
      token_auth: false,
      token_auth_secret: null,
      admin_secret: null,
      interface: null,
      opaqueid_in_api: false,
      hide_dependencies: false,
      event_loops: 0,
      allow_loop_indication: false,
      protected_folders: [],
    },
    certificates: {
      cert_pem: null,
      cert_key: null,
      cert_pwd: null,
      dtls_accept_selfsigned: true,
      dtls_ciphers: null,
    },
    media: {
      ipv6: false,
      ipv6_linklocal: false,
      min_nack_queue: 200,
      rtp_port_range: null,
      dtls_mtu: 1200,
      no_media_timer: 1,
      slowlink_threshold: 0,
      twcc_period: 200,
      nack_optimizations: false,
      dscp: 0,
      max_mlines: 256,
      max_sdp_size: 1024 * 1024,

      // Portunus only: one media worker thread per core (src/workers/pool.ts).
      media_workers: availableParallelism(),
      worker_call_timeout: 20,
      single_port: 0,
      single_port_per_worker: false,
    },
    nat: {
      stun_server: null,
      stun_port: 3478,
      nice_debug: false,
      full_trickle: false,
      // Janus sets aggressive nomination whenever libnice lets it (>= 0.1.15, i.e. always in 1.x builds).
      ice_nomination: 'aggressive',
      ice_consent_freshness: false,
      ice_keepalive_conncheck: false,
      ice_lite: false,
      ice_tcp: false,
      hangup_on_failed: false,
      ignore_mdns: false,
      nat_1_1_mapping: [],
      keep_private_host: false,
      turn_server: null,
      turn_port: 3478,
      turn_type: 'udp',
      turn_user: null,
      turn_pwd: null,
      allow_force_relay: false,
      ice_enforce_list: [],
      ice_ignore_list: ['vmnet'],
      ignore_unreachable_ice_server: false,
    },
    plugins: { disable: [] },
    transports: { disable: [] },
    loggers: { disable: [] },
    cluster: { enabled: false, redis: null, node_name: null, public_ip: null, api_url: null, prefix: 'portunus', heartbeat_ms: 2000, node_ttl_ms: 7000 },
    events: { broadcast: false, disable: [], stats_period: 1, combine_media_stats: false },
  };
}

export function defaultHttpConfig(): HttpTransportConfig {
  return {
    file: null,
    general: {
      json: 'compact',
      base_path: '/janus',
      http: true,
      port: 8088,
      interface: null,
      ip: null,
      https: false,
      secure_port: 8089,
      secure_interface: null,
      secure_ip: null,
      acl: [],
      mhd_connection_limit: 1020,
      request_timeout: 10,
      events: true,
    },
    admin: {
      admin_base_path: '/admin',
      admin_http: false,
      admin_port: 7088,
      admin_interface: null,
      // Portunus: null means "loopback" to the transport, unlike Janus which binds every interface.
      admin_ip: null,
      admin_https: false,
      admin_secure_port: 7889,
      admin_secure_interface: null,
      // Like admin_ip: null means loopback to the transport.
      admin_secure_ip: null,
      admin_acl: [],
    },
    metrics: {
      metrics: false,
      metrics_port: 7089,
      // Like the Admin API: loopback unless configured.
      metrics_ip: null,
      metrics_interface: null,
      metrics_base_path: '/metrics',
      metrics_secret: false,
    },
    cors: { allow_origin: null, enforce_cors: false },
    certificates: { cert_pem: null, cert_key: null, cert_pwd: null, ciphers: null },
    keyLines: {},
  };
}

export function defaultWsConfig(): WsTransportConfig {
  return {
    file: null,
    general: {
      json: 'compact',
      ws: true,
      ws_port: 8188,
      ws_interface: null,
      ws_ip: null,
      wss: false,
      wss_port: 8989,
      wss_interface: null,
      wss_ip: null,
      ws_logging: null,
      ws_acl: [],
      pingpong_trigger: 0,
      pingpong_timeout: 0,
    },
    admin: {
      admin_ws: false,
      admin_ws_port: 7188,
      admin_ws_interface: null,
      admin_ws_ip: null,
      admin_wss: false,
      admin_wss_port: 7989,
      admin_wss_interface: null,
      // Like admin_ws_ip: null means loopback to the transport.
      admin_wss_ip: null,
      admin_ws_acl: [],
    },
    cors: { allow_origin: null, enforce_cors: false },
    certificates: { cert_pem: null, cert_key: null, cert_pwd: null, ciphers: null },
    keyLines: {},
  };
}

export function defaultSampleEvhConfig(): SampleEvhConfig {
  return {
    file: null,
    enabled: false,
    events: ['all'],
    grouping: true,
    json: 'indented',
    backend: null,
    backend_user: null,
    backend_pwd: null,
    max_retransmissions: 5,
    retransmissions_backoff: 100,
    compress: false,
    compression: 6,
    keyLines: {},
  };
}

export function defaultWsEvhConfig(): WsEvhConfig {
  return { file: null, enabled: false, events: ['all'], grouping: true, json: 'indented', backend: null, subprotocol: null, ws_logging: null, keyLines: {} };
}
