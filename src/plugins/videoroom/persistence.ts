/**
 * `permanent: true` write-back of rooms to the plugin's jcfg. A failed save is logged and
 * reported as `permanent: false` in the reply (what Janus does), and the in-memory document is
 * rolled back so a later, unrelated save does not persist the change by surprise.
 */
import type { CfgValue } from '../../config/types.js';
import type { JcfgDocument } from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import type { IdCodec, VrId } from './ids.js';
import type { Room } from './room.js';
import { settingsToConfig } from './room-settings.js';

export class RoomStore {
  constructor(
    private readonly doc: JcfgDocument,
    private readonly ids: IdCodec,
    private readonly log: Logger,
  ) {}

  /** Add or replace the room's category and save; false when the file could not be written. */
  saveRoom(room: Room): Promise<boolean> {
    const name = this.ids.categoryName(room.id);
    return this.change(name, () => this.doc.setCategory(name, settingsToConfig(room.settings, room.aclForConfig())));
  }

  removeRoom(id: VrId): Promise<boolean> {
    const name = this.ids.categoryName(id);
    return this.change(name, () => void this.doc.removeCategory(name));
  }

  private async change(name: string, apply: () => void): Promise<boolean> {
    const before: Record<string, CfgValue> | undefined = this.doc.category(name);
    try {
      // apply() itself can throw: a string room ID may not be a valid libconfig name ("room-my room").
      apply();
      await this.doc.save();
      return true;
    } catch (err) {
      this.log.error(`videoroom: could not save ${this.doc.file} (${name}): ${(err as Error).message}`);
      if (before === undefined) this.doc.removeCategory(name);
      else this.doc.setCategory(name, before);
      return false;
    }
  }
}
