/** Starts a gateway with the echo test plugin and real HTTP/WebSocket listeners on ephemeral ports. */
import { defaultHttpConfig, defaultJanusConfig, defaultWsConfig } from '../../src/config/schema.js';
import type { HttpTransportConfig, JanusConfig, WsTransportConfig } from '../../src/config/types.js';
import { Gateway } from '../../src/core/gateway.js';
import { HttpTransport } from '../../src/transports/http.js';
import { WebSocketTransport } from '../../src/transports/websocket.js';
import { EchoPlugin } from '../core/echo-plugin.js';

export interface Server {
  gw: Gateway;
  http: HttpTransport;
  ws: WebSocketTransport;
  base: string;
  admin: string;
  wsUrl: string;
  adminWsUrl: string;
  /** HTTPS/WSS counterparts ('' when that listener is off). */
  secureBase: string;
  secureAdmin: string;
  wssUrl: string;
  adminWssUrl: string;
  stop(): Promise<void>;
}

export async function startServer(opts: {
  janus?: (c: JanusConfig) => void;
  http?: (c: HttpTransportConfig) => void;
  ws?: (c: WsTransportConfig) => void;
  longPollTimeoutMs?: number;
  maxBodyBytes?: number;
  /** WS hard cap (closes with 1009) and HTTP drain cap for refused bodies. */
  hardMaxBytes?: number;
  requestTimeoutMs?: number;
  watchdogIntervalMs?: number;
} = {}): Promise<Server> {
  const janus = defaultJanusConfig('/nonexistent');
  janus.general.admin_secret = 'adm';
  opts.janus?.(janus);
  const httpCfg = defaultHttpConfig();
  httpCfg.general.port = 0;
  httpCfg.general.ip = '127.0.0.1';
  httpCfg.admin.admin_http = true;
  httpCfg.admin.admin_port = 0;
  opts.http?.(httpCfg);
  const wsCfg = defaultWsConfig();
  wsCfg.general.ws_port = 0;
  wsCfg.general.ws_ip = '127.0.0.1';
  wsCfg.admin.admin_ws = true;
  wsCfg.admin.admin_ws_port = 0;
  opts.ws?.(wsCfg);
  const gw = new Gateway({ config: janus, plugins: [new EchoPlugin()], watchdogIntervalMs: opts.watchdogIntervalMs ?? 100 });
  await gw.start();
  const http = new HttpTransport({ gateway: gw, config: httpCfg, longPollTimeoutMs: opts.longPollTimeoutMs ?? 300, maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024, hardMaxBodyBytes: opts.hardMaxBytes, requestTimeoutMs: opts.requestTimeoutMs });
  const ws = new WebSocketTransport({ gateway: gw, config: wsCfg, maxMessageBytes: opts.maxBodyBytes ?? 64 * 1024, hardMaxMessageBytes: opts.hardMaxBytes, upgradeTimeoutMs: opts.requestTimeoutMs });
  try {
    await http.start();
    await ws.start();
  } catch (err) {
    await ws.stop();
    await http.stop();
    await gw.stop();
    throw err;
  }
  const ha = http.addresses();
  const wa = ws.addresses();
  return {
    gw,
    http,
    ws,
    base: ha.api ? `http://127.0.0.1:${ha.api.port}/janus` : '',
    admin: ha.admin ? `http://127.0.0.1:${ha.admin.port}/admin` : '',
    wsUrl: wa.api ? `ws://127.0.0.1:${wa.api.port}` : '',
    adminWsUrl: wa.admin ? `ws://127.0.0.1:${wa.admin.port}` : '',
    secureBase: ha.secure_api ? `https://127.0.0.1:${ha.secure_api.port}/janus` : '',
    secureAdmin: ha.secure_admin ? `https://127.0.0.1:${ha.secure_admin.port}/admin` : '',
    wssUrl: wa.secure_api ? `wss://127.0.0.1:${wa.secure_api.port}` : '',
    adminWssUrl: wa.secure_admin ? `wss://127.0.0.1:${wa.secure_admin.port}` : '',
    async stop() {
      await ws.stop();
      await http.stop();
      await gw.stop();
    },
  };
}

export async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  return (await r.json()) as Record<string, unknown>;
}
