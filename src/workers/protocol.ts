/**
 * The messages between the main thread and a plugin's media worker (worker-plugin.ts <-> plugin-worker.ts).
 *
 * Everything crosses as structured clones over the worker's MessagePort, in order. Calls that need an
 * answer carry an `id` and get exactly one `reply`; everything else is fire-and-forget. JanusErrors keep
 * their code across the boundary (the core turns them into Janus error replies).
 */
import type { FaultBoundary } from '../core/fault.js';
import type { JanusConfig } from '../config/types.js';
import type { Jsep } from '../core/jsep.js';
import type { MediaPlaneMetrics, TrickleCandidate } from '../core/media-plane.js';
import type { PluginMetrics, PluginResult, SlowLinkInfo } from '../core/plugin.js';
import type { MediaRuntimeSettings } from '../media/peer.js';
import type { CandidatesSnapshot } from '../media/candidates.js';

/** What the worker needs to build its plugin and its own media plane (workerData). */
export interface WorkerInit {
  /** URL of the module that exports the plugin class, and the export's name. */
  module: string;
  exportName: string;
  /** Constructor options for the plugin (structured-clonable). */
  pluginOptions?: Record<string, unknown>;
  config: JanusConfig;
  /** The plugin's jcfg (loaded again in the worker: the worker owns it, `permanent` rooms write it). */
  configFile: string;
  configsFolder: string;
  certPem: string;
  keyPem: string;
  candidates: CandidatesSnapshot;
  settings: MediaRuntimeSettings;
  logLevel: number;
  eventsEnabled: boolean;
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
  | { m: 'destroy' }
  | { m: 'handleMessage'; handleId: number; transaction: string; body: Record<string, unknown>; jsep: Jsep | null }
  | { m: 'handleAdminMessage'; body: Record<string, unknown> }
  | { m: 'querySession'; handleId: number }
  | { m: 'remoteJsep'; handleId: number; jsep: Jsep }
  | { m: 'localJsep'; handleId: number; jsep: Jsep }
  | { m: 'handleInfo'; handleId: number }
  | { m: 'closeMedia' };

/** One-way notices from main. */
export type MainNotice =
  | { n: 'createSession'; session: SessionInfo }
  | { n: 'destroySession'; handleId: number }
  | { n: 'setupMedia'; handleId: number }
  | { n: 'hangupMedia'; handleId: number }
  | { n: 'slowLink'; handleId: number; info: SlowLinkInfo }
  | { n: 'trickle'; handleId: number; candidates: TrickleCandidate[] }
  | { n: 'hangup'; handleId: number; reason: string }
  | { n: 'release'; handleId: number }
  /** Periodic: what the Admin API may have changed since, and whether event handlers want plugin events. */
  | { n: 'settings'; settings: MediaRuntimeSettings; logLevel: number; eventsEnabled: boolean }
  /** Tests only: arm the worker's fault injection (core/fault.ts faultInjection lives per thread). */
  | { n: 'faultInjection'; armed: string | null; target: number | string | null };

export type ToWorker = ({ t: 'call'; id: number } & MainCall) | ({ t: 'notice' } & MainNotice);

/** One-way reports from the worker. */
export type WorkerNotice =
  // plugin host
  | { n: 'pushEvent'; handleId: number; transaction: string | null; data: Record<string, unknown>; jsep?: Jsep }
  | { n: 'closePeerConnection'; handleId: number; reason?: string }
  | { n: 'endSession'; handleId: number }
  | { n: 'notifyEvent'; handleId: number | null; data: Record<string, unknown> }
  // media events
  | { n: 'webrtcUp'; handleId: number }
  | { n: 'mediaState'; handleId: number; info: { mid: string; type: 'audio' | 'video'; receiving: boolean; substream?: number; seconds?: number } }
  | { n: 'slowLinkEvent'; handleId: number; info: { mid: string; media: 'audio' | 'video'; uplink: boolean; lost: number } }
  | { n: 'iceFailed'; handleId: number }
  | { n: 'peerClosed'; handleId: number; reason: string }
  | { n: 'localCandidate'; handleId: number; candidate: TrickleCandidate }
  /** Periodic, and on request: what /metrics reads synchronously in main. */
  | { n: 'metrics'; plugin: PluginMetrics | null; media: MediaPlaneMetrics; peers: number; faults?: Partial<Record<FaultBoundary, number>> };

export type SerializedError = { name: string; message: string; code?: number };

export type FromWorker =
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; error: SerializedError }
  | ({ t: 'notice' } & WorkerNotice);

export type { PluginResult };
