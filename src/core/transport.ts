/**
 * The seam between the core and its transports. A transport turns bytes into JSON requests for
 * `Gateway.handle`, and gives the core a `TransportClient` through which the events of the sessions
 * that client owns (created or claimed) are delivered.
 */
import type { JanusMessage } from './messages.js';

export type SessionOverReason = 'destroyed' | 'timeout' | 'claimed' | 'shutdown';

export interface TransportClient {
  /** Transport package, reported by Admin handle_info as `session_transport` ("janus.transport.http"). */
  readonly transport: string;
  /** An asynchronous event for a session this client owns. Must not throw. */
  sendEvent(sessionId: number, event: JanusMessage): void;
  /** The session no longer belongs to this client (destroyed, expired, or claimed elsewhere): forget it. */
  sessionOver(sessionId: number, reason: SessionOverReason): void;
}

/** What `info` reports under `transports`. */
export interface TransportInfo {
  package: string;
  name: string;
  author: string;
  description: string;
  version: number;
  versionString: string;
}
