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

/**
 * One incoming RTP stream of a handle's PeerConnection (one remote SSRC), as the packet path hands it
 * to the plugin. The object is created once per SSRC and reused for every packet: plugins may keep it
 * as a key, but must not mutate it.
 */
export interface RtpStreamInfo {
  /** The m-line's mid. */
  readonly mid: string;
  /** The m-line's index in the SDP. */
  readonly mindex: number;
  readonly kind: 'audio' | 'video';
  /** The remote SSRC of this stream. */
  readonly ssrc: number;
  /** Simulcast layer (0 = first/lowest as signalled), 0 without simulcast. */
  readonly substream: number;
  /** The rid of this layer (rid-based simulcast), else undefined. */
  readonly rid: string | undefined;
}

/** `slowlink` details as given to the plugin (same meaning as the Janus event). */
export interface SlowLinkInfo {
  mid: string;
  media: 'audio' | 'video';
  /** true: losses on media Janus sends (reported by the peer); false: losses on media Janus receives. */
  uplink: boolean;
  lost: number;
}

/**
 * The media half of the host (the "relay" side of the plugin media contract). All methods are
 * synchronous, never throw, and are no-ops for a handle without an established PeerConnection.
 * The core copies what it needs before returning: the plugin may reuse or modify `buf` right after.
 */
export interface PluginMediaHost {
  /**
   * Send a plain RTP packet `buf[0, len)` on the m-line `mid`. The core rewrites the SSRC to the
   * m-line's local SSRC (the one in our SDP), keeps a copy for NACK retransmissions, SRTP-protects
   * and sends it. Sequence numbers and timestamps are the plugin's: keep them continuous per mid.
   */
  relayRtp(session: PluginSession, mid: string, buf: Buffer, len: number): void;
  /**
   * Send RTCP feedback (a compound of PLI / FIR / REMB packets) to the peer about the media it sends
   * on `mid` (null: its first video m-line). SSRCs are fixed by the core (sender: ours, media: the
   * peer's SSRC on that m-line); report packets (SR/RR/SDES/BYE) and NACKs are dropped, the core owns those.
   */
  relayRtcp(session: PluginSession, mid: string | null, buf: Buffer, len: number): void;
  /**
   * Send a data channel message: text for a string, binary for a Buffer. `label` null: the first open
   * channel (one named "JanusDataChannel" is opened if there is none); a label with no channel opens one.
   */
  relayData(session: PluginSession, label: string | null, data: string | Buffer): void;
  /** Ask the peer for a keyframe on `mid` (null: every video m-line). */
  sendPli(session: PluginSession, mid: string | null): void;
  /** Tell the peer how much it may send us (bits per second; 0 removes the cap). */
  sendRemb(session: PluginSession, bitrate: number): void;
  /**
   * The core's send-side bandwidth estimate towards the peer, from its transport-cc feedback (bps;
   * 0 while unknown, or when the peer did not negotiate transport-cc). `wantedBps`: what the plugin
   * would send on a free link, so bandwidth probes aim no higher. Optional: hosts without it have no estimate.
   */
  bandwidthEstimate?(session: PluginSession, wantedBps?: number): number;
  /**
   * How long the core's pacer towards the peer held a packet at most since the last call, or holds
   * the oldest one now (ms; 0 without a pacer). Portunus-only, for auto_layers: a queue that backs
   * up says the link does not carry what is sent before the estimate does. Optional.
   */
  sendQueueMs?(session: PluginSession): number;
  /** TextRoom's name for relayData(session, null, text). */
  sendData(session: PluginSession, text: string): void;
  /** AudioBridge's name for relayRtp(session, mid, packet, packet.length). */
  sendRtp(session: PluginSession, mid: string, packet: Buffer): void;
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
  /**
   * In a media worker of the pool: the plugin's instances on the other workers (src/workers/bus.ts:
   * control lane, packet lanes, routed requests); absent on the main thread.
   */
  bus?: import('../workers/bus.js').WorkerBus;
}

/**
 * What the core offers a plugin. The Gateway's host always implements PluginMediaHost too
 * (`isMediaRelayHost(host)`); the media methods are optional in the type only so that test doubles
 * written for the signalling-only contract keep compiling.
 */
export interface PluginHost extends Partial<PluginMediaHost> {
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
  /**
   * Whether a plugin event (notifyEvent) would go anywhere: check it before building an expensive
   * payload. Optional: hosts without event handlers may omit it (read as false).
   */
  eventsEnabled?(): boolean;
  /**
   * Whether something inside this process follows the plugin's events besides the event handlers
   * (cluster mode: the cascade and the participant-id claims): a plugin whose own `events` switch is off
   * still emits them then, as `internal`. Optional (read as false).
   */
  observesEvents?(): boolean;
  /**
   * Tell the event handlers something (Janus's `notify_event`): a type 64 event
   * `{"plugin":<this plugin>,"data":data}`, with the handle's session/handle/opaque ids when
   * `session` is given (null: not about a handle, e.g. a room created from the Admin API).
   * Never blocks or throws; a no-op when event handlers are off or the handle is gone.
   * `internal`: emitted only for the in-process observers (the plugin's `events` is off): never
   * passed to the event handlers.
   */
  notifyEvent?(session: PluginSession | null, data: Record<string, unknown>, internal?: boolean): void;
}

/** Where a request a handle sent on this worker must run, for the main thread to route it (WorkerBus.forward). */
export type ForwardRoute =
  /** The named room's worker (this worker's instance answers "no such room" when nobody has it). */
  | { kind: 'room'; room: string }
  /** A new room: the named room's worker if it exists (to refuse the id), else the least loaded. */
  | { kind: 'create'; room: string | null }
  /** Every worker answers `body` as a Janus API message; the `list`s are merged into one answer. */
  | { kind: 'all' };

/**
 * What a plugin reports to the Prometheus endpoint (read at scrape time, typically every 15 s:
 * it may allocate, but must be synchronous and cheap, and must not throw).
 */
export interface PluginMetrics {
  /** Rooms that exist now, private ones included. */
  rooms: number;
  /** Participants in those rooms now (VideoRoom: publishers and subscribers' owners in the room; AudioBridge/TextRoom: members). */
  participants: number;
  /** Mixing plugins (AudioBridge): how far behind schedule the mix clock is now, worst room, in seconds. */
  mixerLagSeconds?: number;
  /** Mixing plugins: mix frames skipped after stalls since the plugin started (cumulative, all rooms, destroyed ones too). */
  mixerFramesSkipped?: number;
  /** Mixing plugins: mix frames produced since the plugin started (cumulative, all rooms). */
  mixerFramesProduced?: number;
  /**
   * UDP ports the plugin's own receiving sockets are bound to outside the media port range (VideoRoom's
   * remote publishers): their kernel receive drops count in portunus_udp_receive_drops with the others.
   */
  udpPorts?: number[];
}

/** One room's place in the media worker pool (Admin `list_rooms`). */
export interface RoomPlacement {
  /** The room id as the plugin's requests name it (a number unless the plugin uses string ids). */
  room: number | string;
  /** The worker that owns the room (its state, its publishers or mixer). */
  worker: number;
  /** Every worker with members of the room, the owner first. */
  workers: number[];
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
  /**
   * Called before a message's JSEP reaches the media plane (then handleMessage): a plugin whose
   * PeerConnections may live on one of several media workers picks the handle's worker from the body
   * here (`joinandconfigure` with an offer must land on the room's worker). Must not throw.
   */
  beforeMessage?(session: PluginSession, body: Record<string, unknown>): void;
  /**
   * A message with a JSEP, the JSEP applied by the media plane and the message handled in one step: a
   * plugin whose handles' PeerConnections live in media workers sends both in one call to the worker
   * (one round trip where the JSEP and then the message took two). Resolves with the plane's merged
   * remote JSEP (what remoteJsep would have returned; `update` not added) and the plugin's result;
   * rejects only when the plane refused the JSEP (the plugin never saw the message then). `update`:
   * a renegotiation (the plugin gets the JSEP with `update: true`). Null: not possible for this
   * message; the core calls the media plane's remoteJsep and then handleMessage.
   */
  handleMessageWithJsep?(
    session: PluginSession,
    transaction: string,
    body: Record<string, unknown>,
    jsep: Jsep,
    update: boolean,
  ): Promise<{ jsep: Jsep; result: PluginResult }> | null;
  /** Admin API `message_plugin`: answers `response`. */
  handleAdminMessage?(body: Record<string, unknown>): Record<string, unknown> | Promise<Record<string, unknown>>;
  /**
   * Admin API `list_rooms` (Portunus only): where each room lives — the media worker that owns it and
   * every worker that holds some of its members (VideoRoom subscribers spread over the pool). Plugins
   * whose rooms all run on the main thread leave it out.
   */
  roomPlacement?(): RoomPlacement[];
  /** The handle's PeerConnection is up (ICE + DTLS done). */
  setupMedia?(session: PluginSession): void;
  /** The handle's PeerConnection went away. */
  hangupMedia?(session: PluginSession): void;
  /** The handle is being detached. After this the plugin must not use the session. */
  destroySession(session: PluginSession): void;
  /** Plugin-specific part of Admin `handle_info` (may be asynchronous: a plugin in a media worker). */
  querySession?(session: PluginSession): Record<string, unknown> | Promise<Record<string, unknown>>;
  /**
   * Counts for /metrics (see PluginMetrics). Optional: without it the metrics module asks the plugin's
   * Admin `list` request, which leaves private rooms out and knows nothing about mixer lag.
   */
  metrics?(): PluginMetrics;

  // ---- media hooks: called synchronously from the packet path; they must not await or throw.
  // `buf[0, len)` is the packet, already SRTP-decrypted; it is only valid during the call (copy what you keep).

  /** An RTP packet from the peer. */
  incomingRtp?(session: PluginSession, stream: RtpStreamInfo, buf: Buffer, len: number): void;
  /**
   * An RTCP compound from the peer, decrypted, after the core handled what is its own business (SR/RR
   * statistics, NACK retransmissions). `stream`: the incoming stream the feedback's media SSRC maps to
   * (our own SSRC on that m-line), null when unknown. Keyframe requests (PLI/FIR) and REMB arrive here.
   */
  incomingRtcp?(session: PluginSession, stream: RtpStreamInfo | null, buf: Buffer, len: number): void;
  /** A data channel message from the peer (text: `isBinary` false, UTF-8 bytes). */
  incomingData?(session: PluginSession, label: string, data: Buffer, isBinary: boolean): void;
  /** A data channel opened (either side) and can carry messages. */
  dataReady?(session: PluginSession, label: string): void;
  /** The core detected losses above slowlink_threshold (also sent to the client as `slowlink`). */
  slowLink?(session: PluginSession, info: SlowLinkInfo): void;
}

/** True when `host` carries the media relay methods (it does, when it comes from the Gateway). */
export function isMediaRelayHost(host: PluginHost): host is PluginHost & PluginMediaHost {
  return typeof host.relayRtp === 'function' && typeof host.relayData === 'function';
}
