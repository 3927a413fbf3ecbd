/**
 * The `server_info` reply of `info` (Janus API, Admin API and GET /janus/info). Every key Janus
 * sends is present with the same type, so clients that inspect it keep working; the values describe
 * Portunus.
 */
import type { JanusConfig } from '../config/types.js';
import { AUTHOR, SERVER_NAME, VERSION_STRING, versionNumber } from '../version.js';
import type { Plugin } from './plugin.js';
import type { TransportInfo } from './transport.js';
import type { JanusMessage } from './messages.js';

export interface InfoState {
  config: JanusConfig;
  accepting: boolean;
  sessionTimeout: number;
  reclaimTimeout: number;
  candidatesTimeout: number;
  minNackQueue: number;
  apiSecret: boolean;
  tokenAuth: boolean;
  plugins: Iterable<Plugin>;
  transports: Iterable<TransportInfo>;
  localIp: string;
}

function describe(p: { name: string; author: string; description: string; versionString: string; version: number }) {
  return { name: p.name, author: p.author, description: p.description, version_string: p.versionString, version: p.version };
}

export function buildServerInfo(s: InfoState, transaction: string): JanusMessage {
  const { general, media, nat } = s.config;
  const info: JanusMessage = {
    janus: 'server_info',
    transaction,
    name: SERVER_NAME,
    version: versionNumber(),
    version_string: VERSION_STRING,
    author: AUTHOR,
    'commit-hash': 'not-a-git-repo',
    'compile-time': 'n/a',
    'log-to-stdout': general.log_to_stdout,
    'log-to-file': general.log_to_file !== null,
    data_channels: true,
    'accepting-new-sessions': s.accepting,
    'session-timeout': s.sessionTimeout,
    'reclaim-session-timeout': s.reclaimTimeout,
    'candidates-timeout': s.candidatesTimeout,
    'server-name': general.server_name,
    'local-ip': s.localIp,
  };
  if (nat.nat_1_1_mapping.length > 0) {
    info['public-ip'] = nat.nat_1_1_mapping[0];
    info['public-ips'] = [...nat.nat_1_1_mapping];
  }
  Object.assign(info, {
    ipv6: media.ipv6,
    'ice-lite': nat.ice_lite,
    'ice-tcp': nat.ice_tcp,
    'ice-nomination': nat.ice_nomination,
    'ice-consent-freshness': nat.ice_consent_freshness,
    'ice-keepalive-conncheck': nat.ice_keepalive_conncheck,
    'hangup-on-failed': nat.hangup_on_failed,
    'full-trickle': nat.full_trickle,
    'mdns-enabled': !nat.ignore_mdns,
    'min-nack-queue': s.minNackQueue,
    'nack-optimizations': media.nack_optimizations,
    'twcc-period': media.twcc_period,
    'dtls-mtu': media.dtls_mtu,
  });
  if (nat.stun_server) info['stun-server'] = `${nat.stun_server}:${nat.stun_port}`;
  if (nat.turn_server) info['turn-server'] = `${nat.turn_server}:${nat.turn_port} ${nat.turn_type}`;
  Object.assign(info, {
    'static-event-loops': general.event_loops,
    api_secret: s.apiSecret,
    auth_token: s.tokenAuth,
    event_handlers: false,
    opaqueid_in_api: general.opaqueid_in_api,
  });
  if (!general.hide_dependencies) {
    info.dependencies = { node: process.versions.node, openssl: process.versions.openssl ?? 'n/a', v8: process.versions.v8 };
  }
  const transports: Record<string, unknown> = {};
  for (const t of s.transports) transports[t.package] = describe(t);
  const plugins: Record<string, unknown> = {};
  for (const p of s.plugins) plugins[p.package] = describe(p);
  Object.assign(info, { transports, events: {}, loggers: {}, plugins });
  return info;
}
