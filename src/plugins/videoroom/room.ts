/**
 * A room: its settings, ACL, participants (publisher-type handles) and subscriber handles.
 * Pure state; requests and events live elsewhere.
 */
import type { VrId } from './ids.js';
import type { Participant } from './participant.js';
import type { RoomSettings } from './room-settings.js';
import type { Subscriber } from './subscriber.js';

export class Room {
  readonly participants = new Map<VrId, Participant>();
  /** Subscriber handles (anonymous: they are not participants and appear in no list). */
  readonly subscribers = new Set<Subscriber>();
  /** Whether `join` must carry a listed token. Tokens survive `disable` so `enable` restores them, as in Janus. */
  aclEnabled = false;
  private readonly aclTokens = new Set<string>();
  destroyed = false;
  /**
   * Whether rec_dir came from the jcfg (the operator): only then is a missing folder created.
   * A rec_dir from create/edit must exist already (src/security/paths.ts).
   */
  recDirConfigured = false;

  constructor(
    readonly id: VrId,
    public settings: RoomSettings,
  ) {}

  addAllowed(tokens: string[]): void {
    for (const t of tokens) this.aclTokens.add(t);
  }

  removeAllowed(tokens: string[]): void {
    for (const t of tokens) this.aclTokens.delete(t);
  }

  allowedList(): string[] {
    return [...this.aclTokens];
  }

  /** For persistence: the ACL as configured, or null when disabled. */
  aclForConfig(): string[] | null {
    return this.aclEnabled ? this.allowedList() : null;
  }

  isAllowed(token: string | undefined): boolean {
    return !this.aclEnabled || (token !== undefined && this.aclTokens.has(token));
  }

  privateIdTaken(pid: number): boolean {
    for (const p of this.participants.values()) if (p.privateId === pid) return true;
    return false;
  }

  /** Participants holding a publisher slot (negotiated or active), for the `publishers` limit. */
  publisherCount(): number {
    let n = 0;
    for (const p of this.participants.values()) if (p.media.negotiated || p.media.active) n++;
    return n;
  }

  privateIdOwner(pid: number): Participant | undefined {
    for (const p of this.participants.values()) if (p.privateId === pid) return p;
    return undefined;
  }

  /** Participants with active media (announced publishers). */
  activePublishers(): Participant[] {
    return [...this.participants.values()].filter((p) => p.media.active);
  }

  others(me: Participant): Participant[] {
    return [...this.participants.values()].filter((p) => p !== me);
  }

  /** The `list` entry, with Janus's field order and its optional fields only when they apply. */
  listEntry(): Record<string, unknown> {
    const s = this.settings;
    const o: Record<string, unknown> = {
      room: this.id,
      description: s.description,
      pin_required: s.pin !== null,
      is_private: s.is_private,
      max_publishers: s.publishers,
      bitrate: s.bitrate,
    };
    if (s.bitrate_cap) o.bitrate_cap = true;
    o.fir_freq = s.fir_freq;
    o.require_pvtid = s.require_pvtid;
    o.require_e2ee = s.require_e2ee;
    o.dummy_publisher = s.dummy_publisher;
    o.notify_joining = s.notify_joining;
    o.audiocodec = s.audiocodec.join(',');
    o.videocodec = s.videocodec.join(',');
    if (s.opus_fec) o.opus_fec = true;
    if (s.opus_dtx) o.opus_dtx = true;
    if (s.video_svc) o.video_svc = true;
    o.record = s.record;
    if (s.rec_dir !== null) o.rec_dir = s.rec_dir;
    o.lock_record = s.lock_record;
    o.num_participants = this.participants.size;
    o.audiolevel_ext = s.audiolevel_ext;
    o.audiolevel_event = s.audiolevel_event;
    if (s.audiolevel_event) {
      o.audio_active_packets = s.audio_active_packets;
      o.audio_level_average = s.audio_level_average;
    }
    o.videoorient_ext = s.videoorient_ext;
    o.playoutdelay_ext = s.playoutdelay_ext;
    o.transport_wide_cc_ext = s.transport_wide_cc_ext;
    if (s.auto_layers) o.auto_layers = true; // Portunus only: absent (as in Janus) when off
    return o;
  }
}
