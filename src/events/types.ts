/**
 * Janus's event handler model: every event is one JSON object with a type bit (so a handler
 * subscribes with a mask) and the ids it concerns. Shapes follow Janus 1.x (src/events/eventhandler.h)
 * so an operator's existing collector keeps parsing them.
 */

export const EventType = {
  SESSION: 1,
  HANDLE: 2,
  EXTERNAL: 4,
  JSEP: 8,
  WEBRTC: 16,
  MEDIA: 32,
  PLUGIN: 64,
  TRANSPORT: 128,
  CORE: 256,
} as const;
export type EventTypeValue = (typeof EventType)[keyof typeof EventType];

export const ALL_EVENTS = 0x1ff;

/** Subtypes Janus uses for the WebRTC (16), media (32) and core (256) types. */
export const WebRtcSubtype = { ICE: 1, LOCAL_CANDIDATE: 2, REMOTE_CANDIDATE: 3, SELECTED_PAIR: 4, DTLS: 5, CONNECTION: 6 } as const;
export const MediaSubtype = { STATE: 1, SLOW_LINK: 2, STATS: 3 } as const;
export const CoreSubtype = { STARTUP: 1, SHUTDOWN: 2 } as const;

const MASK_BITS: Record<string, number> = {
  sessions: EventType.SESSION,
  handles: EventType.HANDLE,
  external: EventType.EXTERNAL,
  jsep: EventType.JSEP,
  webrtc: EventType.WEBRTC,
  media: EventType.MEDIA,
  plugins: EventType.PLUGIN,
  transports: EventType.TRANSPORT,
  core: EventType.CORE,
};

/** `["sessions","handles"]` -> 3. "all" and "none" win over the rest, as in Janus; unknown names are ignored. */
export function eventMask(names: readonly string[]): number {
  const lower = names.map((n) => n.trim().toLowerCase());
  if (lower.includes('none')) return 0;
  if (lower.includes('all')) return ALL_EVENTS;
  let mask = 0;
  for (const n of lower) mask |= MASK_BITS[n] ?? 0;
  return mask;
}

/** One event as handlers receive it (key order is Janus's). */
export interface JanusEvent {
  emitter: string;
  type: number;
  subtype?: number;
  /** Wall clock, microseconds since the epoch. */
  timestamp: number;
  session_id?: number;
  handle_id?: number;
  opaque_id?: string;
  event: Record<string, unknown>;
}

/** What every backend offers the bus. Implementations never throw from `enqueue`. */
export interface EventHandler {
  readonly package: string;
  readonly name: string;
  readonly author: string;
  readonly description: string;
  readonly version: number;
  readonly versionString: string;
  /** Current subscription mask (Admin `tweak` may change it). */
  readonly mask: number;
  enqueue(ev: JanusEvent): void;
  /** Admin `query_eventhandler`: the handler's `response`. */
  handleRequest?(request: Record<string, unknown>): Record<string, unknown>;
  /** Wait until everything queued has been delivered or given up on, at most `ms`. */
  flush(ms: number): Promise<void>;
  close(): Promise<void>;
  stats(): HandlerStats;
}

export interface HandlerStats {
  queued: number;
  sent: number;
  /** Events dropped because the queue was full (backend slow or down). */
  dropped: number;
  /** Events given up on after the backend failed (retries exhausted, connection lost mid-send). */
  failed: number;
}
