/**
 * Sessions and handles: plain state, owned and mutated by the Gateway only.
 * A Handle is also the PluginSession its plugin sees.
 */
import type { Plugin, PluginSession } from './plugin.js';
import type { MediaHandle, TrickleCandidate } from './media-plane.js';
import type { JanusMessage } from './messages.js';
import type { TransportClient } from './transport.js';

export class Handle implements PluginSession, MediaHandle {
  state: unknown = undefined;
  alive = true;
  /** A JSEP crossed this handle and no hangup since: a `hangup` request must tear something down. */
  pcActive = false;
  /** Last SDPs seen, for Admin handle_info. */
  localSdp: string | null = null;
  remoteSdp: string | null = null;
  /** The client trickles (its last JSEP did not say `trickle: false`, or it sent a trickle): Admin flag. */
  trickle = false;
  /** We (the plugin) sent an offer the client has not answered yet. */
  awaitingAnswer = false;
  /** Trickles that arrived before the remote description (dropped after candidates_timeout). */
  pendingTrickles: Array<{ at: number; candidate: TrickleCandidate }> = [];

  constructor(
    readonly handleId: number,
    readonly session: Session,
    readonly plugin: Plugin,
    readonly opaqueId: string | null,
    /** Monotonic microseconds, as Admin handle_info reports it. */
    readonly created: number,
  ) {}

  get sessionId(): number {
    return this.session.id;
  }
  get token(): string | null {
    return this.session.token;
  }
  get pluginPackage(): string {
    return this.plugin.package;
  }
}

export class Session {
  readonly handles = new Map<number, Handle>();
  /** Monotonic ms of the last request touching this session. */
  lastActivity: number;
  /** Per-session timeout in seconds; -1 means "use the global session_timeout". */
  timeout = -1;
  /** Monotonic ms at which the owning transport went away (reclaim pending), else null. */
  goneAt: number | null = null;
  destroyed = false;
  /** Events produced while a request on this session is being answered; flushed after the reply. */
  held: JanusMessage[] = [];
  holds = 0;

  constructor(
    readonly id: number,
    public client: TransportClient | null,
    /** The stored token the session was created with (token_auth), if any. */
    public token: string | null,
    now: number,
  ) {
    this.lastActivity = now;
  }
}
