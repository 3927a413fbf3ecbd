/** A text room: settings, participants by username, the token ACL and the bounded history. */
import type { PluginSession } from '../../core/plugin.js';
import type { RoomId } from './ids.js';

/**
 * Janus stores up to 65535 (uint16) messages per room; with 64 KiB frames that could hold 4 GiB,
 * so Portunus caps the history length here (larger requests are clamped, with a warning).
 */
export const MAX_HISTORY = 1000;

export interface RoomSettings {
  description: string;
  secret: string | null;
  pin: string | null;
  isPrivate: boolean;
  /** How many messages to keep and replay to joiners (0 = none). */
  history: number;
  /** HTTP backend every public message and announcement is POSTed to. */
  post: string | null;
}

export interface Participant {
  readonly session: PluginSession;
  readonly room: Room;
  readonly username: string;
  readonly display: string | null;
}

export class Room {
  readonly participants = new Map<string, Participant>();
  /** Tokens allowed to join, enforced only while `checkTokens` (create with `allowed`, or `allowed` enable). */
  readonly allowed = new Set<string>();
  checkTokens = false;
  /** Serialised message/announcement frames, oldest first. */
  private readonly past: string[] = [];

  constructor(
    readonly id: RoomId,
    public settings: RoomSettings,
  ) {}

  remember(frame: string): void {
    if (this.settings.history <= 0) return;
    this.past.push(frame);
    if (this.past.length > this.settings.history) this.past.splice(0, this.past.length - this.settings.history);
  }

  history(): readonly string[] {
    return this.past;
  }

  /** `{username, display?}` as join replies and listparticipants show a participant. */
  static describe(p: Participant): Record<string, unknown> {
    return p.display === null ? { username: p.username } : { username: p.username, display: p.display };
  }
}
