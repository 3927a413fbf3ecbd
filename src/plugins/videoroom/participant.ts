/**
 * A publisher-type participant: the control handle of someone in a room. It exists from `join`
 * until `leave`/kick/room destruction/detach, whether or not it ever publishes media.
 */
import type { PluginSession } from '../../core/plugin.js';
import type { VrId } from './ids.js';
import type { Room } from './room.js';

/** One published m-line; filled in by the media plane (publish), empty until then. */
export interface PublishedStream {
  type: 'audio' | 'video' | 'data';
  mindex: number;
  mid: string;
  codec?: string;
  description?: string;
  disabled?: boolean;
  /** Set by `moderate`: the moderator muted this stream. */
  moderated: boolean;
}

/** What the media plane will own for a publisher; kept apart so hangup can reset it alone. */
export class PublisherMedia {
  /** True once the PeerConnection is up and the publisher is announced to the room. */
  active = false;
  streams: PublishedStream[] = [];
  bitrate = 0;

  reset(): void {
    this.active = false;
    this.streams = [];
  }
}

export class Participant {
  display: string | null = null;
  metadata: unknown = undefined;
  readonly media = new PublisherMedia();

  constructor(
    readonly id: VrId,
    readonly privateId: number,
    readonly room: Room,
    readonly session: PluginSession,
  ) {}

  /** `{id, display?, metadata?}`: the identity block used in attendees, joining and leaving events. */
  identity(): Record<string, unknown> {
    const o: Record<string, unknown> = { id: this.id };
    if (this.display !== null) o.display = this.display;
    if (this.metadata !== undefined) o.metadata = this.metadata;
    return o;
  }

  /** Entry in a `publishers` list (only meaningful once media is active). */
  publisherEntry(): Record<string, unknown> {
    const streams = this.media.streams.map((s) => {
      const o: Record<string, unknown> = { type: s.type, mindex: s.mindex, mid: s.mid };
      if (s.disabled) o.disabled = true;
      if (s.codec !== undefined) o.codec = s.codec;
      if (s.description !== undefined) o.description = s.description;
      if (s.moderated) o.moderated = true;
      return o;
    });
    return { ...this.identity(), streams };
  }
}

/**
 * Per-handle plugin state (PluginSession.state). A handle that left, was kicked or lost its room
 * stays `gone`: like Janus, it cannot join again and must be replaced by a new handle.
 */
export type HandleState =
  | { kind: 'idle' }
  | { kind: 'publisher'; participant: Participant }
  | { kind: 'gone'; room: VrId };

export function handleState(session: PluginSession): HandleState {
  const s = session.state as HandleState | undefined;
  return s ?? { kind: 'idle' };
}
