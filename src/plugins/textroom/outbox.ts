/**
 * Everything the plugin sends on data channels goes through here: one serialisation per event
 * (broadcasts reuse the same string), and a failing or gone recipient never stops the others. A
 * recipient whose data channel is on another media worker gets its frames through the relay.
 */
import type { PluginSession } from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import type { Data } from './errors.js';
import { formatJson, type JsonStyle } from './json-format.js';
import type { DataChannelHost } from './media.js';
import type { RoomId } from './ids.js';
import type { MemberRelay } from './relay.js';
import type { Participant } from './room.js';

export class Outbox {
  private warnedNoHost = false;

  constructor(
    private readonly host: () => DataChannelHost | null,
    readonly style: JsonStyle,
    private readonly log: Logger,
    /** Present in a pool of several workers. */
    readonly relay: MemberRelay | null = null,
  ) {}

  format(data: Data): string {
    return formatJson(data, this.style);
  }

  sendText(session: PluginSession, text: string): void {
    if (!session.alive) return;
    const home = this.relay?.remoteHome(session) ?? null;
    if (home !== null) {
      this.relay!.frame(home, session.handleId, text);
      return;
    }
    const dc = this.host();
    if (dc === null) {
      if (!this.warnedNoHost) this.log.warn('textroom: no data-channel host: data-channel frames are dropped');
      this.warnedNoHost = true;
      return;
    }
    try {
      dc.sendData(session, text);
    } catch (err) {
      this.log.error(`textroom: sendData failed for handle ${session.handleId}: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  send(session: PluginSession, data: Data): void {
    this.sendText(session, this.format(data));
  }

  /** A member joined (or left) a room here: its worker, if another, keeps track (relay.ts). */
  membership(session: PluginSession, room: RoomId, joined: boolean): void {
    const home = this.relay?.remoteHome(session) ?? null;
    if (home !== null) this.relay!.membership(home, session.handleId, room, joined);
  }

  broadcast(to: Iterable<Participant>, text: string): void {
    for (const p of to) this.sendText(p.session, text);
  }
}
