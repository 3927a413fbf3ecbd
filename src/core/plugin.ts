/**
 * The contract between the gateway core and a plugin (janus.plugin.*).
 *
 * The core owns sessions, handles, transports and the media plane; a plugin owns
 * its rooms and participants and only sees `PluginSession`s (one per handle attached to it).
 * Media hooks are called synchronously from the packet path: they must not await.
 */
import type { Logger } from '../log.js';
import type { CfgValue, JanusConfig } from '../config/types.js';
import type { Jsep } from './jsep.js';

/** One handle, as the plugin sees it. `state` is the plugin's own per-handle data. */
export interface PluginSession {
  readonly handleId: number;
  readonly sessionId: number;
  readonly opaqueId: string | null;
  /** The token the session authenticated with (stored-token auth), if any. */
  readonly token: string | null;
  /** Plugin-private state; the core never reads it. */
  state: unknown;
  /** False once the handle is detached or its session destroyed: events pushed after that are dropped. */
  readonly alive: boolean;
}

/** What handleMessage answers. */
export type PluginResult =
  /** Synchronous answer: the core replies `success` with `plugindata.data`. */
  | { kind: 'ok'; data: Record<string, unknown>; jsep?: Jsep }
  /** Asynchronous: the core replies `ack` now; the plugin later calls host.pushEvent with the same transaction. */
  | { kind: 'wait'; hint?: string }
  /** Plugin failure (not a plugin-level error_code): the core replies error 462 with `reason`. */
  | { kind: 'error'; reason: string };

/**
 * A jcfg file the plugin may read and write back (`permanent` rooms).
 * Top-level groups are Janus "categories" (`general`, `room-1234`, ...).
 */
export interface JcfgDocument {
  /** Path the document was read from, or would be written to. */
  readonly file: string;
  categoryNames(): string[];
  /** The category's settings as plain values (nested groups as CfgGroupValue), or undefined. */
  category(name: string): Record<string, CfgValue> | undefined;
  /** Line where the category starts, for error messages. */
  categoryLine(name: string): number | undefined;
  /** Add or replace a category (keeps its position when replacing). */
  setCategory(name: string, items: Record<string, CfgValue>): void;
  removeCategory(name: string): boolean;
  /** Write the document back to `file` atomically (temp file + rename). */
  save(): Promise<void>;
}

export interface PluginInitContext {
  /** The plugin's own jcfg (empty document pointing at the default path when the file is missing). */
  config: JcfgDocument;
  configsFolder: string;
  gateway: JanusConfig;
  host: PluginHost;
  log: Logger;
}

/** What the core offers a plugin. */
export interface PluginHost {
  /**
   * Send an event to the handle's client: `{"janus":"event","sender":H,"transaction"?,"plugindata":{plugin,data}}`.
   * `transaction` null for unsolicited events. A JSEP is merged with the core's ICE/DTLS attributes first;
   * returns false when the handle is gone or the JSEP was refused (the reason is logged).
   */
  pushEvent(session: PluginSession, transaction: string | null, data: Record<string, unknown>, jsep?: Jsep): boolean;
  /** Tear down the handle's PeerConnection (the client gets a `hangup` event). */
  closePeerConnection(session: PluginSession, reason?: string): void;
  /** Detach the handle from the plugin (the client gets a `detached` event). */
  endSession(session: PluginSession): void;
  /** Whether the token may be used with this plugin (stored-token auth); true when token auth is off. */
  isTokenValidForPlugin(token: string | null, pluginPackage: string): boolean;
}

export interface Plugin {
  readonly package: string; // "janus.plugin.videoroom"
  readonly name: string; // "JANUS VideoRoom plugin"
  readonly author: string;
  readonly description: string;
  readonly version: number; // e.g. 10
  readonly versionString: string; // e.g. "0.0.10"

  init(ctx: PluginInitContext): void | Promise<void>;
  destroy(): void | Promise<void>;

  /** A handle attached. Throw to refuse (the core answers 461). */
  createSession(session: PluginSession): void;
  /** A message for the plugin. `jsep` already validated by the core. */
  handleMessage(
    session: PluginSession,
    transaction: string,
    body: Record<string, unknown>,
    jsep: Jsep | null,
  ): PluginResult | Promise<PluginResult>;
  /** Admin API `message_plugin`: answers `response`. */
  handleAdminMessage?(body: Record<string, unknown>): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** The handle's PeerConnection is up (ICE + DTLS done). */
  setupMedia?(session: PluginSession): void;
  /** The handle's PeerConnection went away. */
  hangupMedia?(session: PluginSession): void;
  /** The handle is being detached. After this the plugin must not use the session. */
  destroySession(session: PluginSession): void;
  /** Plugin-specific part of Admin `handle_info`. */
  querySession?(session: PluginSession): Record<string, unknown>;
}
