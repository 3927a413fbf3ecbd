/**
 * The messages between the main thread and a media worker (media-worker.ts <-> plugin-worker.ts).
 *
 * A media worker hosts one WebRTC media plane and any number of plugins (every worker-capable plugin,
 * in the pool). Everything crosses as structured clones over the worker's MessagePort, in order. Calls
 * that need an answer carry an `id` and get exactly one `reply`; everything else is fire-and-forget.
 * JanusErrors keep their code across the boundary (the core turns them into Janus error replies).
 */
import type { FaultBoundary } from '../core/fault.js';
import type { CfgValue, JanusConfig } from '../config/types.js';
import type { Jsep } from '../core/jsep.js';
import type { MediaPlaneMetrics, TrickleCandidate } from '../core/media-plane.js';
import type { ForwardRoute, PluginMetrics, PluginResult, SlowLinkInfo } from '../core/plugin.js';
import type { MediaRuntimeSettings } from '../media/peer.js';
import type { CandidatesSnapshot } from '../media/candidates.js';
import type { PortLinkInit } from '../media/net/port-reader.js';
import type { MessagePort } from 'node:worker_threads';
import type { LaneCounts } from './bus.js';

/** What the worker needs to build its media plane (workerData). Plugins are loaded afterwards (loadPlugin). */
export interface WorkerInit {
  /** The worker's index in the pool (log lines, metrics labels). */
  index: number;
  config: JanusConfig;
  certPem: string;
  keyPem: string;
  candidates: CandidatesSnapshot;
  settings: MediaRuntimeSettings;
  logLevel: number;
  eventsEnabled: boolean;
  /** A pooled plugin's host follows its events in-process (cluster mode): PluginHost.observesEvents. */
  eventsObserved: boolean;
  /** One-port mode: the worker's rings to and from the main thread's single socket (port-reader.ts). */
  portLink?: PortLinkInit;
  /** How long a pushEvent's JSEP may wait for its PeerConnection before the event goes with an error (ms). */
  replyDeadlineMs?: number;
}

/** One plugin to load into a worker. */
export interface PluginLoad {
  package: string;
  /** URL of the module that exports the plugin class, and the export's name. */
  module: string;
  exportName: string;
  /** Constructor options for the plugin (structured-clonable). */
  pluginOptions?: Record<string, unknown>;
  /** The plugin's jcfg (read again in the worker). */
  configFile: string;
  configsFolder: string;
  /**
   * The room categories ("room-1234") of the jcfg this worker creates; null: all of them and the worker
   * writes the file itself (one worker per plugin). With a list, `permanent` changes are sent to main,
   * which owns the file (saveConfig), so workers never overwrite each other's rooms.
   */
  rooms: string[] | null;
  /** How many workers the plugin runs on (its WorkerBus's `workers`: 1, nothing crosses). */
  workers: number;
}

/** The PluginSession fields the worker mirrors. */
export interface SessionInfo {
  handleId: number;
  sessionId: number;
  opaqueId: string | null;
  token: string | null;
}

/** Calls from main that want an answer. */
export type MainCall =
  | { m: 'init' }
  | { m: 'loadPlugin'; load: PluginLoad }
  | { m: 'destroy' }
  /** `home`: the worker of the handle's PeerConnection, when it has one (a plugin may answer on its data channel from another worker). */
  | {
      m: 'handleMessage';
      handleId: number;
      transaction: string;
      body: Record<string, unknown>;
      jsep: Jsep | null;
      home?: number;
      /**
       * The handle's PeerConnection is bound to this worker: a JSEP its plugin pushes is merged into this
       * worker's plane at once and sent merged (pushEvent `local`), not sent back for main to ask again.
       */
      media?: true;
      /**
       * The message's JSEP, for this worker's plane first (the handle's PeerConnection is here): one call
       * where remoteJsep and handleMessage took two. `jsep` is then null; the plugin gets the merged
       * JSEP (with `update: true` for a renegotiation), and the reply is a JointReply. A refusal by the
       * plane fails the call (the plugin never sees the message).
       */
      remote?: { jsep: Jsep; update: boolean };
    }
  | { m: 'handleAdminMessage'; p: string; body: Record<string, unknown> }
  | { m: 'querySession'; handleId: number }
  | { m: 'remoteJsep'; handleId: number; jsep: Jsep }
  | { m: 'localJsep'; handleId: number; jsep: Jsep }
  | { m: 'handleInfo'; handleId: number }
  | { m: 'closeMedia' }
  /** Cross-worker set-up of a plugin (bus.ts): a plugin-defined operation, answered by its busCall. */
  | { m: 'busCall'; p: string; op: string; args: Record<string, unknown> };

/** The answer to a handleMessage call with `remote`: the plane's merged JSEP, and the plugin's answer (a throw as `error`). */
export interface JointReply {
  jsep: Jsep;
  result: PluginResult;
}

/** One-way notices from main. */
export type MainNotice =
  | { n: 'createSession'; p: string; session: SessionInfo }
  | { n: 'destroySession'; handleId: number }
  | { n: 'setupMedia'; handleId: number }
  | { n: 'hangupMedia'; handleId: number }
  | { n: 'slowLink'; handleId: number; info: SlowLinkInfo }
  | { n: 'trickle'; handleId: number; candidates: TrickleCandidate[] }
  | { n: 'hangup'; handleId: number; reason: string }
  | { n: 'release'; handleId: number }
  /** Periodic: what the Admin API may have changed since, and whether event handlers want plugin events. */
  | { n: 'settings'; settings: MediaRuntimeSettings; logLevel: number; eventsEnabled: boolean; eventsObserved: boolean }
  /** The bus's control lane (bus.ts): a message from the same plugin on worker `from`, relayed by main. */
  | { n: 'bus'; p: string; from: number; msg: unknown }
  /** The bus's packet lane from worker `from` to worker `to` for plugin `p` (this worker is one end). */
  | { n: 'busLane'; p: string; from: number; to: number; sab: SharedArrayBuffer }
  /** The direct link to worker `index` (peer-links.ts), sent with the port in the transferList. */
  | { n: 'peerPort'; index: number; port: MessagePort }
  /** Worker `index` died: plugin `p` drops what crossed to or from it (its lanes first). */
  | { n: 'busDown'; p: string; index: number }
  /** A request a handle on worker `from` sent, routed here (the handle was announced here first; WorkerBus.forward). */
  | { n: 'forwarded'; p: string; handleId: number; from: number; body: Record<string, unknown> }
  | { n: 'forwardReply'; p: string; handleId: number; tag: string | null; data: Record<string, unknown> | null; error: string | null }
  /** The answer to a worker's saveConfig. */
  | { n: 'configSaved'; id: number; error: string | null }
  /**
   * Tests only: the worker ends itself now, as a worker that died would (Worker.terminate() from outside
   * while its UDP sockets receive can abort the whole process in Node 20: UDPWrap::OnRecv on a
   * terminating isolate).
   */
  | { n: 'exitForTests'; code: number }
  /** Tests only: the thread busy-waits `ms` (a worker starved of CPU: its rings and sockets wait). */
  | { n: 'stallForTests'; ms: number }
  /** Tests only: arm the worker's fault injection (core/fault.ts faultInjection lives per thread). */
  | { n: 'faultInjection'; armed: string | null; target: number | string | null };

export type ToWorker = ({ t: 'call'; id: number } & MainCall) | ({ t: 'notice' } & MainNotice);

/** What a worker reports about its load (placement reads it; /metrics shows it per worker). */
export interface WorkerLoad {
  peers: number;
  /** RTP packets in + out per second over the last report period. */
  packetsPerSec: number;
  /** Event-loop delay over the last report period, ms (mean and max). */
  loopLagMs: number;
  loopLagMaxMs: number;
}

/** One-way reports from the worker. */
export type WorkerNotice =
  // plugin host
  /**
   * `local`/`localError`: the plugin's `jsep` already through this worker's plane (the handle's
   * PeerConnection is here, handleMessage `media`): main's localJsep takes it instead of a round trip.
   */
  | { n: 'pushEvent'; handleId: number; transaction: string | null; data: Record<string, unknown>; jsep?: Jsep; local?: Jsep; localError?: SerializedError }
  | { n: 'closePeerConnection'; handleId: number; reason?: string }
  | { n: 'endSession'; handleId: number }
  | { n: 'notifyEvent'; p: string; handleId: number | null; data: Record<string, unknown>; internal?: true }
  /** The bus's control lane (bus.ts): main relays `msg` to this plugin on worker `to`. */
  | { n: 'bus'; p: string; to: number; msg: unknown }
  /** The bus (WorkerBus.forward): a handle's request for main to route. */
  | { n: 'forward'; p: string; handleId: number; route: ForwardRoute; body: Record<string, unknown>; tag: string | null }
  /** The bus (WorkerBus.roomChanged): a room created or destroyed here outside the Janus API. */
  | { n: 'roomChanged'; p: string; room: string; here: boolean }
  /** A plugin's `permanent` change to its jcfg: main applies it to the file it owns and answers configSaved. */
  | { n: 'saveConfig'; p: string; id: number; set: Array<[string, Record<string, CfgValue>]>; remove: string[] }
  // media events
  | { n: 'webrtcUp'; handleId: number }
  | { n: 'mediaState'; handleId: number; info: { mid: string; type: 'audio' | 'video'; receiving: boolean; substream?: number; seconds?: number } }
  | { n: 'slowLinkEvent'; handleId: number; info: { mid: string; media: 'audio' | 'video'; uplink: boolean; lost: number } }
  | { n: 'iceFailed'; handleId: number }
  | { n: 'peerClosed'; handleId: number; reason: string }
  | { n: 'localCandidate'; handleId: number; candidate: TrickleCandidate }
  /** Periodic, and after calls: what /metrics and placement read synchronously in main. */
  /** `lanes`: per plugin, records lost on the bus's packet lanes into this worker (bus.ts LaneCounts). */
  | { n: 'metrics'; plugins: Record<string, PluginMetrics | null>; media: MediaPlaneMetrics; load: WorkerLoad; faults?: Partial<Record<FaultBoundary, number>>; peerPosts?: number; logDropped?: number; lanes?: Record<string, LaneCounts> };

export type SerializedError = { name: string; message: string; code?: number };

export type FromWorker =
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; error: SerializedError }
  | ({ t: 'notice' } & WorkerNotice);

export type { PluginResult };
