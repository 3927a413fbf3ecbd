/**
 * `permanent: true` write-back of rooms to the plugin's jcfg, with the keys Janus writes.
 * A failed save is logged and answered as `permanent: false` (as Janus does), and the in-memory
 * document is rolled back so a later, unrelated save does not persist the change by surprise.
 */
import type { CfgValue } from '../../config/types.js';
import type { JcfgDocument } from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import type { RoomIds, RoomId } from './ids.js';
import type { Room } from './room.js';

function toConfig(room: Room): Record<string, CfgValue> {
  const s = room.settings;
  const items: Record<string, CfgValue> = { description: s.description };
  if (s.isPrivate) items.is_private = true;
  if (s.secret !== null) items.secret = s.secret;
  if (s.pin !== null) items.pin = s.pin;
  if (s.history > 0) items.history = s.history;
  if (s.post !== null) items.post = s.post;
  return items;
}

export class RoomStore {
  /** Saves run one after another so two permanent requests cannot interleave their rollbacks. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly doc: JcfgDocument,
    private readonly ids: RoomIds,
    private readonly log: Logger,
  ) {}

  saveRoom(room: Room): Promise<boolean> {
    const name = this.ids.categoryName(room.id);
    return this.change(name, () => this.doc.setCategory(name, toConfig(room)));
  }

  removeRoom(id: RoomId): Promise<boolean> {
    const name = this.ids.categoryName(id);
    return this.change(name, () => void this.doc.removeCategory(name));
  }

  private change(name: string, apply: () => void): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      const before = this.doc.category(name);
      try {
        apply();
        await this.doc.save();
        return true;
      } catch (err) {
        this.log.error(`textroom: could not save ${this.doc.file} (${name}): ${(err as Error)?.message ?? String(err)}`);
        try {
          if (before === undefined) this.doc.removeCategory(name);
          else this.doc.setCategory(name, before);
        } catch {
          // The category name itself was unwritable: nothing was changed.
        }
        return false;
      }
    };
    const result = this.chain.then(run, run);
    this.chain = result;
    return result;
  }
}
