/**
 * A publisher-type participant: the control handle of someone in a room. It exists from `join`
 * until `leave`/kick/room destruction/detach, whether or not it ever publishes media.
 */
import type { PluginSession } from '../../core/plugin.js';
import type { VrId } from './ids.js';
import type { Remotization } from './publish-remotely.js';
import type { RemoteFeed } from './remote-feed.js';
import type { RtpForwarder } from './rtp-forward.js';
import type { Room } from './room.js';
import type { PublishedStream } from './streams.js';
import type { Subscriber } from './subscriber.js';

/** A publisher's media: set by `publish` (negotiated), announced once its PeerConnection is up (active). */
export class PublisherMedia {
  /** An offer of this publisher was answered: it holds a publisher slot, its PeerConnection is coming up. */
  negotiated = false;
  /** True once the PeerConnection is up and the publisher is announced to the room. */
  active = false;
  streams: PublishedStream[] = [];
  bitrate = 0;
  audioCodec: string | undefined;
  videoCodec: string | undefined;
  /** Published streams by mid (the packet path looks streams up here). */
  readonly byMid = new Map<string, PublishedStream>();
  /** audio_active_packets / audio_level_average overrides from publish/configure (0: the room's). */
  audioActivePackets = 0;
  audioLevelAverage = 0;

  reset(): void {
    this.negotiated = false;
    this.active = false;
    this.streams = [];
    this.byMid.clear();
    this.audioCodec = undefined;
    this.videoCodec = undefined;
  }
}

export class Participant {
  /** Last time (ms) this publisher's audio level said it was talking (auto_layers "speaker" priority). */
  lastTalkMs = -Infinity;
  display: string | null = null;
  metadata: unknown = undefined;
  readonly media = new PublisherMedia();
  /** Recording wanted (room `record` at publish time, configure `record`, enable_recording); survives republishing, as in Janus. */
  recordingActive = false;
  /** `filename` from configure: the recordings' name prefix until the media goes away. */
  recordingBase: string | null = null;
  /** RTP forwarders of this publisher's streams by stream_id (stop_rtp_forward, listforwarders). */
  readonly rtpForwarders = new Map<number, RtpForwarder>();
  /** A mirror of a publisher on another media worker (remote.ts): that worker's index; -1 for ours. */
  remoteFrom = -1;
  /** A remote publisher (add_remote_publisher): its plain-RTP feed; null for a handle's publisher. */
  remoteFeed: RemoteFeed | null = null;
  /** publish_remotely targets by remote_id (publish-remotely.ts). */
  readonly remotizations = new Map<string, Remotization>();

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

  /**
   * Entry in a `publishers` list (only meaningful once media is active). `withTalking`: the `joined`
   * reply's list, where Janus adds the talking flags when audio levels are negotiated.
   */
  publisherEntry(withTalking = false): Record<string, unknown> {
    const o: Record<string, unknown> = this.identity();
    if (this.media.audioCodec !== undefined) o.audio_codec = this.media.audioCodec;
    if (this.media.videoCodec !== undefined) o.video_codec = this.media.videoCodec;
    o.streams = this.media.streams.map((s) => s.entry(withTalking));
    const audio = this.media.streams.find((s) => s.type === 'audio' && s.audioLevelExt > 0);
    if (withTalking && audio !== undefined) o.talking = this.media.streams.some((s) => s.talking);
    return o;
  }
}

/**
 * Per-handle plugin state (PluginSession.state). A handle that left, was kicked or lost its room
 * stays `gone`: like Janus, it cannot join again and must be replaced by a new handle.
 */
export type HandleState =
  | { kind: 'idle' }
  | { kind: 'publisher'; participant: Participant }
  | { kind: 'subscriber'; subscriber: Subscriber }
  | { kind: 'gone'; room: VrId };

export function handleState(session: PluginSession): HandleState {
  const s = session.state as HandleState | undefined;
  return s ?? { kind: 'idle' };
}
